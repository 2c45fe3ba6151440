"""What every controller shares: context, the worker loop, expectations.

A controller is level-triggered (DESIGN.md section 4): informers feed a
de-duplicating, rate-limited work queue of ``namespace/name`` keys, and
workers call ``sync(key)``, which reads the informer caches, compares
desired with actual state and writes the difference. ``sync`` is
idempotent; a failure re-queues the key with back-off.

``Expectations`` keeps a controller from acting twice on its own writes
that its caches have not seen yet (client-go's ControllerExpectations):
after creating N pods for a ReplicaSet, the controller expects N adds and
does not sync that ReplicaSet again until the informer delivered them (or
a timeout passed, in case a watch event was lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubelite.api.meta import OwnerReference
from kubelite.client import (
    REAL_CLOCK,
    Client,
    Clock,
    EventRecorder,
    Informer,
    SharedInformerFactory,
    ShutDown,
    WorkQueue,
    meta_namespace_key,
)

log = logging.getLogger("kubelite.controllers")

EXPECTATIONS_TIMEOUT = 300.0  # seconds after which unmet expectations are given up (as client-go)


@dataclass
class ControllerContext:
    """What the manager hands every controller it starts."""

    client: Client
    informers: SharedInformerFactory
    recorder: EventRecorder
    clock: Clock = REAL_CLOCK
    workers: int = 2  # concurrent syncs per controller
    options: dict[str, Any] = field(default_factory=dict)  # per-controller settings by name

    def option(self, controller: str, key: str, default: Any) -> Any:
        """A setting of ``controller``: ``options[controller][key]``, else ``options[key]``.

        The top-level fallback lets one flag (``cluster-cidr``, say) reach every
        controller that reads it, while a controller's own section still wins.
        """
        own = self.options.get(controller)
        if isinstance(own, dict) and key in own:
            return own[key]
        return self.options.get(key, default)


class Controller:
    """Base class: a work queue of keys drained by ``workers`` calling ``sync``.

    Subclasses set ``NAME``, register informer handlers in ``__init__`` that
    call ``enqueue``, and implement ``sync(key)``. ``run()`` waits for the
    informers to sync, then works until cancelled.
    """

    NAME: ClassVar[str] = ""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder
        self.queue: WorkQueue[str] = WorkQueue(self.NAME, clock=ctx.clock)
        self.log = logging.getLogger(f"kubelite.controllers.{self.NAME}")

    # ------------------------------------------------------------- queueing

    def enqueue(self, obj: Any) -> None:
        """Queue the key of ``obj`` (an object or a ``namespace/name`` string)."""
        self.queue.add(obj if isinstance(obj, str) else meta_namespace_key(obj))

    def enqueue_after(self, obj: Any, seconds: float) -> None:
        self.queue.add_after(obj if isinstance(obj, str) else meta_namespace_key(obj), seconds)

    # -------------------------------------------------------------- running

    async def wait_synced(self) -> None:
        """Wait for the informers this controller reads."""
        await self.ctx.informers.wait_for_cache_sync()

    async def run(self) -> None:
        await self.wait_synced()
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(max(1, self.ctx.workers)):
                    tg.create_task(self._worker(), name=f"{self.NAME}-worker-{i}")
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.warning("sync %s failed (retry %d): %s", key, self.queue.num_requeues(key), e)
                self.log.debug("sync %s failed", key, exc_info=True)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync(self, key: str) -> None:
        """Drive the object named ``key`` from actual to desired state. Idempotent."""
        raise NotImplementedError


@dataclass
class _Expectation:
    adds: int
    dels: int
    since: float
    # Keys of the objects whose deletion is awaited, when the controller named them
    # (client-go's UIDTrackingControllerExpectations): a pod seen terminating and
    # then gone counts once, and a deletion somebody else caused counts not at all.
    deleting: set[str] | None = None


class Expectations:
    """Creations and deletions a controller is waiting to observe, per controller key.

    The protocol (as client-go's ControllerExpectations):

    1. before writing, ``expect_creations(key, n)`` / ``expect_deletions(key, pod_keys)``;
    2. for every write that failed (so no watch event will come), ``creation_observed``
       / ``deletion_observed`` at once, to give the expectation back;
    3. informer handlers call ``creation_observed(key)`` on an add and
       ``deletion_observed(key, pod_key)`` when an owned object is deleted (or
       starts terminating);
    4. ``satisfied(key)`` gates the next act: true once everything was seen, when
       nothing was ever expected, or when the expectation is older than the
       timeout (a lost watch event must not wedge the controller forever).

    Syncs still run while unsatisfied (status is always recomputed); they only
    skip creating or deleting. ``forget(key)`` when the owner is gone.
    """

    def __init__(self, clock: Clock = REAL_CLOCK, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._clock = clock
        self._timeout = timeout
        self._items: dict[str, _Expectation] = {}

    def expect(self, key: str, adds: int = 0, dels: int = 0) -> None:
        """Replace the expectations of ``key`` (deletions counted, not named)."""
        self._items[key] = _Expectation(adds, dels, self._clock.monotonic())

    def expect_creations(self, key: str, adds: int) -> None:
        """Replace the expectations of ``key`` with ``adds`` creations."""
        self.expect(key, adds=adds)

    def expect_deletions(self, key: str, deleting: Iterable[str]) -> None:
        """Replace the expectations of ``key`` with the deletion of exactly these object keys."""
        names = set(deleting)
        self._items[key] = _Expectation(0, len(names), self._clock.monotonic(), names)

    def raise_by(self, key: str, adds: int = 0, dels: int = 0) -> None:
        exp = self._items.get(key)
        if exp is None:
            self.expect(key, adds, dels)
        else:
            exp.adds += adds
            exp.dels += dels

    def observed_add(self, key: str) -> None:
        exp = self._items.get(key)
        if exp is not None and exp.adds > 0:
            exp.adds -= 1

    def observed_delete(self, key: str, item: str | None = None) -> None:
        """One deletion seen; with named deletions, only ``item`` among them counts (once)."""
        exp = self._items.get(key)
        if exp is None or exp.dels <= 0:
            return
        if exp.deleting is not None:
            if item is None or item not in exp.deleting:
                return
            exp.deleting.discard(item)
        exp.dels -= 1

    # client-go's spelling, for readers coming from there
    creation_observed = observed_add
    deletion_observed = observed_delete

    def pending(self, key: str) -> tuple[int, int]:
        """``(adds, deletions)`` still awaited for ``key``."""
        exp = self._items.get(key)
        return (0, 0) if exp is None else (max(exp.adds, 0), max(exp.dels, 0))

    def satisfied(self, key: str) -> bool:
        """Whether a sync of ``key`` may act: nothing pending, or pending for too long."""
        exp = self._items.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and exp.dels <= 0:
            return True
        return self._clock.monotonic() - exp.since > self._timeout

    def forget(self, key: str) -> None:
        self._items.pop(key, None)


def owner_key(obj: Any, kind: str) -> str | None:
    """``namespace/name`` of the controller of ``obj`` when it is of ``kind``."""
    for ref in obj.metadata.ownerReferences:
        if ref.controller and ref.kind == kind:
            return f"{obj.metadata.namespace}/{ref.name}" if obj.metadata.namespace else ref.name
    return None


def controller_ref(obj: Any) -> Any | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in obj.metadata.ownerReferences:
        if ref.controller:
            return ref
    return None


def new_controller_ref(owner: Any, api_version: str, kind: str) -> OwnerReference:
    """The ownerReference a controller puts on what it creates (metav1.NewControllerRef):
    ``controller: true`` and ``blockOwnerDeletion: true``, so foreground deletion of the
    owner waits for its dependents."""
    return OwnerReference(
        apiVersion=api_version,
        kind=kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        blockOwnerDeletion=True,
    )


def resolve_controller_ref(informer: Informer, namespace: str, ref: Any, kind: str) -> Any | None:
    """The cached owner ``ref`` points at, if it is of ``kind`` and still the same object (uid).

    A controllerRef naming a deleted-and-recreated owner (same name, new uid) resolves
    to None, so the new owner does not treat the old one's objects as its own.
    """
    if ref is None or ref.kind != kind:
        return None
    owner = informer.get_by(namespace, ref.name)
    if owner is None or owner.metadata.uid != ref.uid:
        return None
    return owner


ControllerFactory = Callable[[ControllerContext], Controller]
