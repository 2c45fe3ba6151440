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
from typing import Any

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
    "nodeipam": "nodeipam:NodeIPAMController",
    "csrsigning": "csrsigning:CSRSigningController",
    "csrapproving": "csrapproving:CSRApprovingController",
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
        log.exception("controller module %s cannot be imported; its controller is unavailable", module)
        return None
    except Exception:
        # One broken controller must not take the others down with it.
        log.exception("controller module %s cannot be imported; its controller is unavailable", module)
        return None
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


def select(spec: str | Iterable[str], names: Iterable[str], also_known: Iterable[str] = ()) -> list[str]:
    """The controllers ``spec`` (e.g. ``"*,-statefulset"``) switches on, in ``names`` order.

    ``*`` is every name in ``names`` not in ``OFF_BY_DEFAULT``; ``x`` adds
    one, ``-x`` removes one (wherever it stands). A name in neither
    ``names`` nor ``also_known`` is a ValueError; ``also_known`` names (e.g.
    built-ins not available in this build) may be named but are never on.
    """
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    known = list(names)
    valid = set(known) | set(also_known)
    on: set[str] = set()
    for item in items:
        name = item[1:] if item.startswith("-") else item
        if item != "*" and name not in valid:
            raise ValueError(f"unknown controller {name!r}; known: {', '.join(sorted(valid))}")
        if item == "*":
            on.update(n for n in known if n not in OFF_BY_DEFAULT)
        elif item.startswith("-"):
            on.discard(name)
        else:
            on.add(item)
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
        lease_name: str = LEASE_NAME,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        # Settings by name (e.g. "cluster-cidr"), optionally per controller ({"podgc": {...}}).
        self.options = dict(options or {})
        self.clock = clock
        self.leader_elect = leader_elect
        self.lease_name = lease_name
        factories = available()
        self.names = select(controllers, factories, also_known=BUILTIN)
        missing = [
            n
            for n in select(controllers, list(factories) + [n for n in BUILTIN if n not in factories])
            if n not in factories
        ]
        if missing:
            log.warning("controllers not available in this build, skipped: %s", ", ".join(missing))
        self._factories = {n: factories[n] for n in self.names}
        self.workers = workers
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.controllers: list[Controller] = []
        self.started = asyncio.Event()  # set once the controllers' caches synced (each term)

    async def run(self) -> None:
        """Run until cancelled: campaign for the lease (when electing) and lead while holding it."""
        if not self.leader_elect:
            await self._run_controllers()
            return
        elector = LeaderElector(
            self.client, self.lease_name, LEASE_NAMESPACE, self.identity, clock=self.clock
        )
        while True:
            await elector.run(self._run_controllers)
            log.warning("lost the %s lease; standing by", self.lease_name)

    async def _run_controllers(self) -> None:
        informers = SharedInformerFactory(self.client, clock=self.clock)
        recorder = EventRecorder(self.client, "kube-controller-manager", clock=self.clock)
        ctx = ControllerContext(self.client, informers, recorder, self.clock, self.workers, self.options)
        self.controllers = [self._factories[name](ctx) for name in self.names]
        log.info("starting controllers: %s", ", ".join(self.names) or "(none)")
        async with asyncio.TaskGroup() as tg:
            informers.start(tg)
            tg.create_task(recorder.run(), name="event-recorder")
            for name, controller in zip(self.names, self.controllers, strict=True):
                tg.create_task(controller.run(), name=f"controller-{name}")
            tg.create_task(self._mark_started(informers), name="controllers-started")

    async def _mark_started(self, informers: SharedInformerFactory) -> None:
        try:
            await informers.wait_for_cache_sync()
            self.started.set()
            log.info("controllers running: %s", ", ".join(self.names) or "(none)")
            await asyncio.Event().wait()
        finally:
            self.started.clear()
