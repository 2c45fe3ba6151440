"""Fixtures for controller tests: the module's in-process API server, a
``ControllerManager`` running chosen controllers on the test's loop in fake
time, and helpers that act as a kubelet would (there is no node agent here).

A test module picks its controllers with a module-level ``CONTROLLERS``
string (``--controllers`` syntax; default ``"*"``) and takes the ``cluster``
fixture::

    CONTROLLERS = "replicaset"

    async def test_scale(cluster):
        await cluster.replicasets.create(rs, cluster.namespace)
        pods = await cluster.eventually(lambda: cluster.active_pods(count=3))

Waiting is done by polling the API (``eventually``) in real time with a
generous limit; time the controllers see moves only with ``cluster.clock``
(``await cluster.clock.run_for(10)``), so minReadySeconds or back-off take no
real time. ``start_controllers`` is the same as an async context manager,
for tests that need their own client (e.g. one that injects failures).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import pytest

from kubelite.api.errors import StatusError
from kubelite.api.timestamps import rfc3339
from kubelite.client import Client, FakeClock, ResourceClient, lookup
from kubelite.controllers.manager import ControllerManager

T = TypeVar("T")

NAMESPACES = lookup("", "v1", "Namespace")
PODS = lookup("", "v1", "Pod")
EVENTS = lookup("", "v1", "Event")
REPLICASETS = lookup("apps", "v1", "ReplicaSet")
REPLICATION_CONTROLLERS = lookup("", "v1", "ReplicationController")

CONTAINERS = [{"name": "app", "image": "registry.example/app:1"}]


def pod_template(labels: dict[str, str]) -> dict[str, Any]:
    """A minimal valid pod template with ``labels``."""
    return {"metadata": {"labels": dict(labels)}, "spec": {"containers": CONTAINERS}}


class TickingClock(FakeClock):
    """A FakeClock whose wall time also moves by a microsecond per reading.

    The event recorder names Events ``<object>.<now in nanoseconds>``; on a
    frozen clock every event of one object would get the same name. The tick
    is far below the second precision of API timestamps, so it changes
    nothing a test asserts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ticks = 0

    def now(self) -> float:
        self._ticks += 1
        return super().now() + self._ticks * 1e-6


@dataclass
class ControllerCluster:
    """What a controller test works with (see the module docstring)."""

    client: Client
    clock: FakeClock
    manager: ControllerManager
    namespace: str

    @property
    def pods(self) -> ResourceClient:
        return self.client.resource(PODS)

    @property
    def replicasets(self) -> ResourceClient:
        return self.client.resource(REPLICASETS)

    @property
    def rcs(self) -> ResourceClient:
        return self.client.resource(REPLICATION_CONTROLLERS)

    def controller(self, name: str) -> Any:
        """The running controller called ``name``."""
        for c in self.manager.controllers:
            if c.NAME == name:
                return c
        raise KeyError(name)

    # ---------------------------------------------------------------- waiting

    async def eventually(
        self, check: Callable[[], Awaitable[T]], timeout: float = 20.0, interval: float = 0.02
    ) -> T:
        """``await check()`` until it stops raising AssertionError; its result.

        Real-time polling with a generous limit: the limit only bounds a
        failing test, it is never what a test measures.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                return await check()
            except AssertionError:
                if loop.time() > deadline:
                    raise
            await asyncio.sleep(interval)

    async def quiesce(self, rounds: int = 3, interval: float = 0.1) -> None:
        """Give the controllers a little real time to act on what just happened (for
        asserting that nothing more happens)."""
        for _ in range(rounds):
            await self.clock.settle()
            await asyncio.sleep(interval)

    async def patch(self, resource: ResourceClient, name: str, patch: dict[str, Any]) -> Any:
        """A merge patch, retried on 409: the controllers write the same objects concurrently
        (status), and a server may answer a patch's lost race with Conflict."""
        for attempt in range(20):
            try:
                return await resource.patch(name, patch, "merge", self.namespace)
            except StatusError as e:
                if e.code != 409 or attempt == 19:
                    raise
                await asyncio.sleep(0.01)

    # ----------------------------------------------------------------- reading

    async def list_pods(self, label_selector: str = "") -> list[Any]:
        items, _, _ = await self.pods.list(self.namespace, label_selector)
        return sorted(items, key=lambda p: p.metadata.name)

    async def active_pods(self, label_selector: str = "", count: int | None = None) -> list[Any]:
        """Pods not being deleted and not finished; asserts there are ``count`` when given."""
        pods = [
            p
            for p in await self.list_pods(label_selector)
            if p.metadata.deletionTimestamp is None and p.status.phase not in ("Succeeded", "Failed")
        ]
        if count is not None:
            assert len(pods) == count, (
                f"{len(pods)} active pods, wanted {count}: {[p.metadata.name for p in pods]}"
            )
        return pods

    async def events(self, reason: str = "", name: str = "") -> list[Any]:
        """Events in the namespace, optionally of one reason and involved object name."""
        items, _, _ = await self.client.resource(EVENTS).list(self.namespace)
        return [
            e
            for e in items
            if (not reason or e.reason == reason) and (not name or e.involvedObject.name == name)
        ]

    # ---------------------------------------------------- acting as a kubelet

    async def bind(self, pod: Any, node: str = "node-1") -> None:
        """Schedule ``pod`` onto ``node`` (the pods/binding subresource, as a scheduler does)."""
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.metadata.name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        await self.client.request(
            "POST", self.pods.path(self.namespace, pod.metadata.name, "binding"), body=body
        )

    async def set_pod_status(
        self,
        pod: Any,
        phase: str = "Running",
        ready: bool = True,
        ready_since: float | None = None,
        restarts: int = 0,
    ) -> Any:
        """Write the status a kubelet would: phase, the Ready condition (True since
        ``ready_since``, default now on the fake clock) and container statuses."""
        fresh = await self.pods.get(pod.metadata.name, self.namespace)
        now = self.clock.now()
        since = rfc3339(now if ready_since is None else ready_since)
        status = {
            "phase": phase,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(now)},
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": since},
                {
                    "type": "ContainersReady",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": since,
                },
            ],
            "containerStatuses": [
                {
                    "name": c.name,
                    "image": c.image,
                    "imageID": "",
                    "ready": ready,
                    "restartCount": restarts,
                    "started": phase == "Running",
                    "state": {"running": {"startedAt": since}} if phase == "Running" else {"waiting": {}},
                }
                for c in fresh.spec.containers
            ],
            "startTime": rfc3339(now),
        }
        body = msgspec.to_builtins(fresh)
        body["status"] = {**(body.get("status") or {}), **status}  # keeps qosClass and the like
        return await self.pods.update(body, "status", self.namespace)

    async def run_pods(self, pods: list[Any], ready: bool = True, node: str = "node-1") -> None:
        """Bind each pod to ``node`` (if unbound) and mark it Running (and Ready)."""
        for pod in pods:
            if not pod.spec.nodeName:
                await self.bind(pod, node)
            await self.set_pod_status(pod, "Running", ready)

    async def create_pod(self, name: str, labels: dict[str, str], node: str = "", **status: Any) -> Any:
        """An orphan pod made by hand (optionally on ``node``, with a kubelet status)."""
        body: dict[str, Any] = {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": CONTAINERS, **({"nodeName": node} if node else {})},
        }
        pod = await self.pods.create(body, self.namespace)
        if status:
            pod = await self.set_pod_status(pod, **status)
        return pod


async def _make_namespace(client: Client, name: str) -> None:
    try:
        await client.resource(NAMESPACES).create({"metadata": {"name": name}})
    except StatusError as e:
        if e.code != 409:
            raise


async def _clean_namespace(client: Client, namespace: str) -> None:
    """Remove what a test left, so later managers on the same server have nothing to act on."""
    for res in (REPLICASETS, REPLICATION_CONTROLLERS, PODS):
        with contextlib.suppress(StatusError):
            await client.resource(res).delete_collection(namespace, grace_period_seconds=0)


@contextlib.asynccontextmanager
async def start_controllers(
    url: str,
    namespace: str,
    controllers: str = "*",
    *,
    client: Client | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[ControllerCluster]:
    """Run a ControllerManager (no leader election, fake time) on this loop until the block ends."""
    own_client = client is None
    client = client or Client(url, component="controller-test")
    clock = clock or TickingClock()
    await _make_namespace(client, namespace)
    manager = ControllerManager(client, controllers, clock=clock, leader_elect=False, workers=2)
    task = asyncio.create_task(manager.run(), name="controller-manager")
    try:
        waiter = asyncio.ensure_future(manager.started.wait())
        await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what stopped it
        assert manager.started.is_set(), "controllers did not start within 30s"
        yield ControllerCluster(client, clock, manager, namespace)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await _clean_namespace(client, namespace)
        if own_client:
            await client.close()


def namespace_for(request: pytest.FixtureRequest) -> str:
    return "c-" + request.node.name.replace("_", "-").replace("[", "-").replace("]", "").lower()[:50].strip(
        "-"
    )


@pytest.fixture
async def cluster(api_server: Any, request: pytest.FixtureRequest) -> AsyncIterator[ControllerCluster]:
    """The controllers of the module's ``CONTROLLERS`` running against the module's API server,
    with a namespace of the test's own."""
    controllers = getattr(request.module, "CONTROLLERS", "*")
    async with start_controllers(api_server.url, namespace_for(request), controllers) as c:
        yield c
