"""The controller manager: picks controllers by name and runs them together.

Built-ins are listed in ``BUILTIN``; third parties register more through
the entry-point group ``kubelite.controllers`` (name -> factory). The
``--controllers`` flag works as kube-controller-manager's: ``*`` means all
that are on by default, ``name`` adds one, ``-name`` removes one.

With leader election on, the controllers only run while this manager holds
the ``kube-controller-manager`` Lease in ``kube-system``, so two managers
never act at once; losing the lease stops every controller.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import socket
import uuid
from collections.abc import Iterable
from importlib.metadata import entry_points

from kubelite.client import REAL_CLOCK, Client, Clock, EventRecorder, LeaderElector, SharedInformerFactory
from kubelite.controllers.base import Controller, ControllerContext, ControllerFactory

log = logging.getLogger("kubelite.controllers.manager")

# name -> "module:Class" under kubelite.controllers, imported on first use.
BUILTIN: dict[str, str] = {
    "replicaset": "replicaset:ReplicaSetController",
    "replicationcontroller": "replicaset:ReplicationControllerController",
    "deployment": "deployment:DeploymentController",
    "statefulset": "statefulset:StatefulSetController",
    "garbagecollector": "garbagecollector:GarbageCollector",
    "namespace": "namespace:NamespaceController",
    "podgc": "podgc:PodGCController",
}
# Controllers a bare "*" does not switch on.
OFF_BY_DEFAULT: frozenset[str] = frozenset()
ENTRY_POINT_GROUP = "kubelite.controllers"
LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"


def _builtin_factory(path: str) -> ControllerFactory | None:
    module, _, cls = path.partition(":")
    try:
        mod = importlib.import_module(f"kubelite.controllers.{module}")
    except ModuleNotFoundError as e:
        if e.name == f"kubelite.controllers.{module}":
            return None  # not written yet
        raise
    factory: ControllerFactory = getattr(mod, cls)
    return factory


def available() -> dict[str, ControllerFactory]:
    """Every controller that can run here, built-in or from an entry point."""
    found: dict[str, ControllerFactory] = {}
    for name, path in BUILTIN.items():
        factory = _builtin_factory(path)
        if factory is not None:
            found[name] = factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def select(spec: str | Iterable[str], names: Iterable[str]) -> list[str]:
    """The controllers ``spec`` (e.g. ``"*,-statefulset"``) switches on, in ``names`` order."""
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    known = list(names)
    on: set[str] = set()
    for item in items:
        if item == "*":
            on.update(n for n in known if n not in OFF_BY_DEFAULT)
        elif item.startswith("-"):
            on.discard(item[1:])
        elif item in known:
            on.add(item)
        else:
            raise ValueError(f"unknown controller {item!r}; known: {', '.join(known)}")
    for item in items:  # a later "-x" wins over an earlier "*"
        if item.startswith("-"):
            on.discard(item[1:])
    return [n for n in known if n in on]


class ControllerManager:
    """Runs the selected controllers until cancelled."""

    def __init__(
        self,
        client: Client,
        controllers: str | Iterable[str] = "*",
        *,
        clock: Clock = REAL_CLOCK,
        leader_elect: bool = True,
        workers: int = 2,
        identity: str = "",
    ) -> None:
        self.client = client
        self.clock = clock
        self.leader_elect = leader_elect
        factories = available()
        self.names = select(controllers, factories)
        self._factories = {n: factories[n] for n in self.names}
        self.workers = workers
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.controllers: list[Controller] = []

    async def run(self) -> None:
        if not self.leader_elect:
            await self._run_controllers()
            return
        elector = LeaderElector(self.client, LEASE_NAME, LEASE_NAMESPACE, self.identity, clock=self.clock)
        while True:
            await elector.run(self._run_controllers)
            log.warning("lost the %s lease; standing by", LEASE_NAME)

    async def _run_controllers(self) -> None:
        informers = SharedInformerFactory(self.client, clock=self.clock)
        recorder = EventRecorder(self.client, "kube-controller-manager", clock=self.clock)
        ctx = ControllerContext(self.client, informers, recorder, self.clock, self.workers)
        self.controllers = [self._factories[name](ctx) for name in self.names]
        log.info("starting controllers: %s", ", ".join(self.names) or "(none)")
        async with asyncio.TaskGroup() as tg:
            informers.start(tg)
            tg.create_task(recorder.run(), name="event-recorder")
            for name, controller in zip(self.names, self.controllers, strict=True):
                tg.create_task(controller.run(), name=f"controller-{name}")
