"""The pod subresources served by the node: ``log``, ``exec``, ``attach``, ``portforward``.

The API server does not run containers; it finds the kubelet of the pod's
node and forwards the request there (``kubelite.kubelet.server`` serves it):

- the kubelet's address is the Node's ``InternalIP`` (else its first
  address) and ``status.daemonEndpoints.kubeletEndpoint.Port`` (default 10250);
- ``log`` is a plain GET whose body is streamed back as it comes (``follow``);
- ``exec``, ``attach`` and ``portforward`` are upgrades (WebSocket or
  SPDY/3.1). The same upgrade request goes to the kubelet; if it answers 101
  the client gets that 101 and from then on bytes are copied both ways
  unchanged, so the protocol is whatever the client and the kubelet agreed
  on. Any other answer is handed back as it is (kubectl falls back from
  WebSocket to SPDY on a non-101).

With a PKI (``use_pki``) the API server speaks HTTPS to kubelets: it presents
the client certificate ``kube-apiserver-kubelet-client`` (group
``system:masters``), written next to the cluster CA, and verifies the
kubelet's serving certificate against the cluster CA (its names must cover
the node address). Without one (plain-HTTP test servers) it uses HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any, cast
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.api.resources import Registry, Resource
from kubelite.apiserver.auth.certs import PKI
from kubelite.apiserver.rest import REST

log = logging.getLogger("kubelite.apiserver.podproxy")

KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUPS = ("system:masters",)
DEFAULT_KUBELET_PORT = 10250
CONNECT_TIMEOUT = 10.0
SUBRESOURCES = ("log", "exec", "attach", "portforward")
# request headers that carry an upgrade's negotiation to the kubelet
UPGRADE_REQUEST_HEADERS = (
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "X-Stream-Protocol-Version",
)
UPGRADE_RESPONSE_HEADERS = (
    "Upgrade",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "X-Stream-Protocol-Version",
)


def kubelet_client_ssl_context(pki: PKI) -> ssl.SSLContext:
    """Issue (or reuse) the API server's kubelet client certificate and build its TLS context."""
    cert_path = pki.dir / "apiserver-kubelet-client.crt"
    key_path = pki.dir / "apiserver-kubelet-client.key"
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    try:
        ctx.load_cert_chain(cert_path, key_path)
        if _signed_by_ca(cert_path.read_bytes(), pki.ca_cert.read_bytes()):
            return ctx
    except (OSError, ssl.SSLError, ValueError):
        pass
    cert_pem, key_pem = pki.issue_client_cert(KUBELET_CLIENT_USER, list(KUBELET_CLIENT_GROUPS))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key_pem)
    cert_path.write_bytes(cert_pem)
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _signed_by_ca(cert_pem: bytes, ca_pem: bytes) -> bool:
    import datetime as dt

    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=30)


class PodProxy:
    """Serves the node-backed pod subresources (see the module docstring)."""

    def __init__(self, rest: REST, registry: Registry) -> None:
        self.rest = rest
        self.registry = registry
        self.ssl_context: ssl.SSLContext | None = None

    def use_pki(self, pki: PKI) -> None:
        self.ssl_context = kubelet_client_ssl_context(pki)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    async def handle(
        self, request: web.Request, res: Resource, ns: str | None, name: str, sub: str
    ) -> web.StreamResponse:
        method = request.method
        allowed = ("GET",) if sub == "log" else ("GET", "POST")
        if method not in allowed:
            raise errors.method_not_allowed(
                f"the server does not allow this method on the requested resource ({sub})"
            )
        namespace = ns or ""
        pod = orjson.loads(await self.rest.get(res, ns, name))
        query = [(k, v) for k, v in request.query.items() if k != "container"]
        if sub == "portforward":
            path = f"/portForward/{quote(namespace)}/{quote(name)}"
        else:
            container = self._container(pod, request.query.get("container", ""))
            base = "containerLogs" if sub == "log" else sub
            path = f"/{base}/{quote(namespace)}/{quote(name)}/{quote(container)}"
        host, port = await self._kubelet(pod)
        target = path + ("?" + urlencode(query) if query else "")
        if sub == "log":
            return await self._stream_get(request, host, port, target)
        if not request.headers.get("Upgrade"):
            raise errors.bad_request("Upgrade request required")
        return await self._upgrade(request, host, port, target)

    # --- where ----------------------------------------------------------------------------------
    def _container(self, pod: dict[str, Any], name: str) -> str:
        spec = pod.get("spec") or {}
        meta = pod.get("metadata") or {}
        names = [c.get("name", "") for c in spec.get("containers") or []]
        others = [
            c.get("name", "")
            for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])
        ]
        if not name:
            if len(names) == 1:
                return names[0]
            raise errors.bad_request(
                f"a container name must be specified for pod {meta.get('name', '')}, "
                f"choose one of: [{' '.join(names)}]"
                + (f" or one of the init containers: [{' '.join(others)}]" if others else "")
            )
        if name not in names and name not in others:
            raise errors.bad_request(f"container {name} is not valid for pod {meta.get('name', '')}")
        return name

    async def _kubelet(self, pod: dict[str, Any]) -> tuple[str, int]:
        node_name = (pod.get("spec") or {}).get("nodeName", "")
        if not node_name:
            raise errors.bad_request(f"pod {pod['metadata'].get('name', '')} does not have a host assigned")
        nodes = self.registry.get("", "v1", "nodes")
        assert nodes is not None
        try:
            node = orjson.loads(await self.rest.get(nodes, None, node_name))
        except errors.StatusError as e:
            if e.code == 404:
                raise errors.bad_request(f'node "{node_name}" of the pod was not found') from None
            raise
        status = node.get("status") or {}
        addresses = status.get("addresses") or []
        host = ""
        for kind in ("InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"):
            host = next(
                (a.get("address", "") for a in addresses if a.get("type") == kind and a.get("address")), ""
            )
            if host:
                break
        if not host:
            raise errors.bad_request(f'node "{node_name}" has no address')
        endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        return host, int(endpoint or DEFAULT_KUBELET_PORT)

    def _url(self, host: str, port: int, target: str) -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{shown}:{port}{target}"

    # --- logs -----------------------------------------------------------------------------------
    async def _stream_get(
        self, request: web.Request, host: str, port: int, target: str
    ) -> web.StreamResponse:
        url = self._url(host, port, target)
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
        try:
            session = aiohttp.ClientSession(timeout=timeout)
        except Exception as e:  # pragma: no cover - aiohttp refuses only without a loop
            raise errors.internal_error(str(e)) from None
        async with session:
            try:
                upstream = await session.get(
                    url, ssl=self.ssl_context if self.ssl_context is not None else False
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise errors.internal_error(f'Get "{url}": {e}') from None
            async with upstream:
                if upstream.status != 200:
                    text = (await upstream.read()).decode("utf-8", "replace").strip()
                    raise _kubelet_error(upstream.status, text)
                response = web.StreamResponse(status=200)
                response.content_type = upstream.headers.get("Content-Type", "text/plain").split(";")[0]
                response.enable_chunked_encoding()
                await response.prepare(request)
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                return response

    # --- upgrades -------------------------------------------------------------------------------
    async def _upgrade(self, request: web.Request, host: str, port: int, target: str) -> web.StreamResponse:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, port, ssl=self.ssl_context, server_hostname=host if self.ssl_context else None
                ),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError, ssl.SSLError) as e:
            raise errors.internal_error(f"error dialing backend: {e}") from None
        try:
            lines = [
                f"{request.method} {target} HTTP/1.1",
                f"Host: {host}:{port}",
                "Connection: Upgrade",
                f"Upgrade: {request.headers['Upgrade']}",
            ]
            for name in UPGRADE_REQUEST_HEADERS:
                lines += [f"{name}: {value}" for value in request.headers.getall(name, [])]
            if request.method == "POST":
                lines.append("Content-Length: 0")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            status, headers = await _read_head(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            writer.close()
            raise errors.internal_error(f"error upgrading connection to the kubelet: {e}") from None
        if status != 101:
            try:
                body = await _read_body(reader, headers)
            finally:
                writer.close()
            content_type = headers.get("content-type", "text/plain").split(";")[0]
            return web.Response(status=status, body=body, content_type=content_type)
        reply = {name: headers[name.lower()] for name in UPGRADE_RESPONSE_HEADERS if name.lower() in headers}
        client = await _RawClient.accept(request, reply)
        await _pipe(client, reader, writer)
        return client.response


def _kubelet_error(status: int, text: str) -> errors.StatusError:
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
    if status in reasons:
        return errors.StatusError(status, reasons[status], text or reasons[status])
    return errors.internal_error(text or f"the kubelet answered {status}")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *rest = head.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"malformed status line {status_line!r}")
    headers: dict[str, str] = {}
    for line in rest:
        if ":" in line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if "chunked" in headers.get("transfer-encoding", ""):
            body = bytearray()
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await reader.readexactly(size)
                await reader.readexactly(2)
            return bytes(body)
        return await reader.read(1 << 20)
    return b""


async def _pipe(client: _RawClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways until either side is done, then close both."""

    async def to_kubelet() -> None:
        while data := await client.read():
            writer.write(data)
            await writer.drain()

    async def to_client() -> None:
        while data := await reader.read(65536):
            await client.write(data)

    tasks = [asyncio.ensure_future(to_kubelet()), asyncio.ensure_future(to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        client.close()


class _RawClient:
    """The client's connection after we answered 101: aiohttp hands us every later byte
    through its payload-parser hook (what its own WebSocket support uses), and the
    101 response's writer sends bytes unframed."""

    HIGH_WATER = 1 << 20

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        self._buffer = bytearray()
        self._eof = False
        self._wake = asyncio.Event()
        self._paused = False

    @classmethod
    async def accept(cls, request: web.Request, headers: dict[str, str]) -> _RawClient:
        response = web.StreamResponse(status=101, headers={"Connection": "Upgrade", **headers})
        response.force_close()
        await response.prepare(request)
        conn = cls(request, response)
        request.protocol.keep_alive(False)
        request.protocol.set_parser(cast(Any, conn))
        return conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buffer += data
        self._wake.set()
        transport = self.request.transport
        if not self._paused and transport is not None and len(self._buffer) > self.HIGH_WATER:
            self._paused = True
            transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wake.set()

    async def read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._wake.clear()
            await self._wake.wait()
        data = bytes(self._buffer)
        self._buffer.clear()
        transport = self.request.transport
        if self._paused and transport is not None:
            self._paused = False
            with contextlib.suppress(Exception):
                transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        await self.response.write(data)

    def close(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()
