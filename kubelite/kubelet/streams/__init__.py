"""The kubelet's streaming protocols: what ``kubectl exec``, ``attach`` and ``port-forward`` speak.

- ``websocket``: the WebSocket channel protocols (``v4``/``v5.channel.k8s.io``)
  and SPDY tunnelled through WebSocket binary messages (kubectl 1.31+ port-forward);
- ``spdy``: SPDY/3.1 framing and a server-side session (kubectl's fallback, and
  every port-forward);
- ``remotecommand``: exec/attach over either transport, driving a runtime
  ``ExecSession`` and reporting its exit code as a ``Status``;
- ``portforward``: port-forward streams to a TCP port inside the pod's network
  namespace;
- ``upgrade``: taking over an aiohttp connection after a ``101 Switching Protocols``.
"""
