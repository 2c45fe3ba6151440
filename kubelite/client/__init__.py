"""The client library every component uses to talk to the API server.

- ``rest``: ``Client`` and ``ResourceClient`` (typed REST verbs)
- ``watch``: ``WatchStream``/``WatchEvent``; ``errors``: ``ResourceExpired`` (410)
- ``kubeconfig``: reading kubeconfig files; ``objects``: metadata accessors and keys
- ``informer``: ``Informer``, ``Indexer``, ``SharedInformerFactory``
- ``workqueue``: ``WorkQueue`` with client-go's de-duplication and rate limiting
- ``leaderelection``: ``LeaderElector`` on coordination.k8s.io Leases
- ``events``: ``EventRecorder`` writing aggregated core/v1 Events
- ``clock``: ``Clock``, ``RealClock``, ``FakeClock`` (time is injected everywhere)
"""

from kubelite.client.clock import REAL_CLOCK, Clock, FakeClock, RealClock
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Indexer, Informer, SharedInformerFactory
from kubelite.client.leaderelection import LeaderElector
from kubelite.client.objects import meta_namespace_key, split_key
from kubelite.client.rest import Client, ResourceClient, ResourceExpired, WatchEvent, lookup
from kubelite.client.workqueue import ShutDown, WorkQueue

__all__ = [
    "REAL_CLOCK",
    "Client",
    "Clock",
    "EventRecorder",
    "FakeClock",
    "Indexer",
    "Informer",
    "LeaderElector",
    "RealClock",
    "ResourceClient",
    "ResourceExpired",
    "SharedInformerFactory",
    "ShutDown",
    "WatchEvent",
    "WorkQueue",
    "lookup",
    "meta_namespace_key",
    "split_key",
]
