"""The Deployment controller with the ReplicaSet controller, against the in-process API server.

A controller manager runs ``replicaset,deployment`` on a ``FakeClock``; a
small stand-in kubelet (``Kubelet``) marks pods Running and Ready through the
status subresource, as a node agent would, for the pods a test lets become
ready. Time that matters (progress deadlines) is moved by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.timestamps import rfc3339
from kubelite.client import Client, FakeClock, Informer, lookup
from kubelite.controllers import deployment_util as du
from kubelite.controllers.manager import ControllerManager

NS = lookup("", "v1", "Namespace")
PODS = lookup("", "v1", "Pod")
RS = lookup("apps", "v1", "ReplicaSet")
DEPLOY = lookup("apps", "v1", "Deployment")
EVENTS = lookup("", "v1", "Event")

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------ fixtures


class Manager:
    """A controller manager (replicaset, deployment) that a test can stop and start again."""

    def __init__(self, client: Client, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.task: asyncio.Task[None] | None = None
        self.manager: ControllerManager | None = None

    async def start(self) -> None:
        self.manager = ControllerManager(
            self.client, "replicaset,deployment", clock=self.clock, leader_elect=False, workers=4
        )
        self.task = asyncio.create_task(self.manager.run())
        await asyncio.sleep(0)
        for _ in range(200):
            if self.manager.controllers and all(
                i.has_synced for i in self.manager.controllers[0].ctx.informers.informers()
            ):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("controller manager did not sync")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None


@pytest.fixture
async def manager(client: Client, clock: FakeClock) -> AsyncIterator[Manager]:
    m = Manager(client, clock)
    await m.start()
    yield m
    await m.stop()


class Kubelet:
    """Marks the namespace's pods Running and Ready (status subresource), like a node agent.

    ``ready(pod)`` decides which pods may become ready; ``delay`` adds a random
    real-time pause before each, so that rollouts interleave with readiness.
    """

    def __init__(self, client: Client, namespace: str, clock: FakeClock) -> None:
        self.client = client
        self.pods = client.resource(PODS)
        self.namespace = namespace
        self.clock = clock
        self.ready: Callable[[Any], bool] = lambda pod: True
        self.delay = 0.0
        self.informer = Informer(self.pods, namespace)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.informer.add_handler(self._seen, lambda old, new: self._seen(new))
        self._tasks: list[asyncio.Task[Any]] = []

    def _seen(self, pod: Any) -> None:
        if pod.metadata.deletionTimestamp is None and not _is_ready(pod):
            self.queue.put_nowait(pod.metadata.name)

    def recheck(self) -> None:
        """Look at every pod again (after ``ready`` changed)."""
        for pod in self.informer.list():
            self._seen(pod)

    async def _work(self) -> None:
        while True:
            name = await self.queue.get()
            pod = self.informer.get_by(self.namespace, name)
            if pod is None or _is_ready(pod) or not self.ready(pod):
                continue
            if self.delay:
                await asyncio.sleep(random.uniform(0, self.delay))
            stamp = rfc3339(self.clock.now())
            patch = {
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": stamp},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": stamp},
                    ],
                }
            }
            with contextlib.suppress(StatusError):
                await self.pods.patch(name, patch, "strategic", self.namespace, subresource="status")

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.informer.run())]
        self._tasks += [asyncio.create_task(self._work()) for _ in range(4)]
        await self.informer.wait_synced()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
async def kubelet(client: Client, namespace: str, clock: FakeClock) -> AsyncIterator[Kubelet]:
    k = Kubelet(client, namespace, clock)
    await k.start()
    yield k
    await k.stop()


def _is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


# ------------------------------------------------------------------- helpers


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, clock: FakeClock | None = None
) -> Any:
    """Poll ``check`` until truthy; with ``clock``, fake time moves along a little with each poll."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < end, "condition not reached in time"
        if clock is not None:
            clock.advance(0.05)
        await asyncio.sleep(0.05)


def deployment(
    name: str,
    replicas: int = 2,
    version: str = "one",
    strategy: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "busybox", "env": [{"name": "VERSION", "value": version}]}
                    ]
                },
            },
            **spec,
        },
    }


async def create(client: Client, ns: str, body: dict[str, Any]) -> Any:
    return await client.resource(DEPLOY).create(body, ns)


async def get(client: Client, ns: str, name: str) -> Any:
    return await client.resource(DEPLOY).get(name, ns)


async def set_version(client: Client, ns: str, name: str, version: str) -> None:
    """What ``kubectl set env deployment/<name> VERSION=<version>`` changes."""
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "c", "env": [{"name": "VERSION", "value": version}]}]}
            }
        }
    }
    await patch_retrying(client, ns, name, patch, "strategic")


async def patch_retrying(
    client: Client, ns: str, name: str, patch: Any, patch_type: Any = "merge", subresource: str = ""
) -> None:
    """A merge patch, tried again on 409 (the server's own retry of a raced patch is what kubectl relies on)."""
    for _ in range(10):
        try:
            await client.resource(DEPLOY, raw=True).patch(name, patch, patch_type, ns, subresource)
            return
        except StatusError as e:
            if e.code != 409:
                raise
            await asyncio.sleep(0.05)
    raise AssertionError(f"could not patch {name}")


async def replica_sets(client: Client, ns: str, app: str) -> list[Any]:
    items, _ = await client.resource(RS).list_all(ns, label_selector=f"app={app}")
    return du.by_revision(items)


async def pods(client: Client, ns: str, app: str) -> list[Any]:
    items, _ = await client.resource(PODS).list_all(ns, label_selector=f"app={app}")
    return [p for p in items if p.metadata.deletionTimestamp is None]


def version_of(pod: Any) -> str:
    return str(pod.spec.containers[0].env[0].value)


def rollout_done(d: Any) -> bool:
    """What ``kubectl rollout status`` waits for."""
    n = d.spec.replicas
    cond = du.get_condition(d.status, du.PROGRESSING)
    if cond is not None and cond.reason == du.TIMED_OUT:
        raise AssertionError(f"rollout timed out: {cond.message}")
    return bool(
        d.status.observedGeneration >= d.metadata.generation
        and d.status.updatedReplicas == n
        and d.status.replicas == n
        and d.status.availableReplicas == n
    )


async def wait_rolled_out(client: Client, ns: str, name: str, clock: FakeClock | None = None) -> Any:
    async def done() -> Any:
        d = await get(client, ns, name)
        return d if rollout_done(d) else None

    return await eventually(done, clock=clock)


def condition(d: Any, type_: str) -> Any:
    return du.get_condition(d.status, type_)


class PodWatcher:
    """Follows the namespace's pods event by event and checks an invariant after each one."""

    def __init__(self, client: Client, ns: str, check: Callable[[dict[str, Any]], None]) -> None:
        self.client = client
        self.ns = ns
        self.check = check
        self.pods: dict[str, Any] = {}
        self.events = 0
        self.failure: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        items, rv = await self.client.resource(PODS).list_all(self.ns)
        self.pods = {p.metadata.name: p for p in items}
        self.task = asyncio.create_task(self._follow(rv))

    async def _follow(self, rv: str) -> None:
        async with self.client.resource(PODS).watch(self.ns, rv, timeout_seconds=600) as stream:
            async for ev in stream:
                if ev.type == "BOOKMARK":
                    continue
                if ev.type == "DELETED":
                    self.pods.pop(ev.object.metadata.name, None)
                else:
                    self.pods[ev.object.metadata.name] = ev.object
                self.events += 1
                try:
                    self.check(self.pods)
                except AssertionError as e:
                    self.failure = self.failure or e

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.failure is not None:
            raise self.failure


def rolling_bounds(replicas: int, surge: int, unavailable: int) -> Callable[[dict[str, Any]], None]:
    def check(current: dict[str, Any]) -> None:
        live = [p for p in current.values() if p.metadata.deletionTimestamp is None]
        ready = [p for p in live if _is_ready(p)]
        assert len(live) <= replicas + surge, f"{len(live)} pods > {replicas} + maxSurge {surge}"
        assert len(ready) >= replicas - unavailable, (
            f"{len(ready)} ready < {replicas} - maxUnavailable {unavailable}"
        )

    return check


# --------------------------------------------------------------------- tests


async def test_create_makes_a_hashed_replica_set_and_pods(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("web", replicas=2))
    d = await wait_rolled_out(client, namespace, "web")

    [rs] = await replica_sets(client, namespace, "web")
    pod_hash = rs.metadata.labels[du.UNIQUE_LABEL_KEY]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert pod_hash == du.compute_hash(d.spec.template, None)
    assert rs.spec.selector.matchLabels == {"app": "web", du.UNIQUE_LABEL_KEY: pod_hash}
    assert rs.spec.template.metadata.labels[du.UNIQUE_LABEL_KEY] == pod_hash
    ref = rs.metadata.ownerReferences[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller, ref.blockOwnerDeletion) == (
        "Deployment",
        "web",
        d.metadata.uid,
        True,
        True,
    )
    assert rs.metadata.annotations[du.REVISION_ANNOTATION] == "1"
    assert rs.metadata.annotations[du.DESIRED_REPLICAS_ANNOTATION] == "2"
    assert rs.metadata.annotations[du.MAX_REPLICAS_ANNOTATION] == "3"
    assert d.metadata.annotations[du.REVISION_ANNOTATION] == "1"

    running = await pods(client, namespace, "web")
    assert len(running) == 2
    assert all(p.metadata.labels[du.UNIQUE_LABEL_KEY] == pod_hash for p in running)

    s = d.status
    assert (s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas) == (
        2,
        2,
        2,
        2,
        0,
    )
    assert s.observedGeneration == d.metadata.generation
    available, progressing = condition(d, du.AVAILABLE), condition(d, du.PROGRESSING)
    assert (available.status, available.reason) == ("True", du.MIN_REPLICAS_AVAILABLE)
    assert (progressing.status, progressing.reason) == ("True", du.NEW_RS_AVAILABLE)
    assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has successfully progressed.'

    async def scaled_event() -> bool:
        items, _ = await client.resource(EVENTS).list_all(namespace)
        return any(
            e.reason == "ScalingReplicaSet"
            and e.message == f"Scaled up replica set {rs.metadata.name} from 0 to 2"
            for e in items
        )

    await eventually(scaled_event)


async def test_scale_up_and_down(client: Client, namespace: str, manager: Manager, kubelet: Kubelet) -> None:
    await create(client, namespace, deployment("web", replicas=2))
    await wait_rolled_out(client, namespace, "web")
    await patch_retrying(
        client, namespace, "web", {"spec": {"replicas": 5}}, subresource="scale"
    )  # kubectl scale
    d = await wait_rolled_out(client, namespace, "web")
    assert d.status.readyReplicas == 5
    assert len(await pods(client, namespace, "web")) == 5
    [rs] = await replica_sets(client, namespace, "web")
    assert rs.metadata.annotations[du.DESIRED_REPLICAS_ANNOTATION] == "5"

    await patch_retrying(client, namespace, "web", {"spec": {"replicas": 1}})
    await wait_rolled_out(client, namespace, "web")
    await eventually(lambda: _count(client, namespace, "web", 1))


async def _count(client: Client, ns: str, app: str, n: int) -> bool:
    return len(await pods(client, ns, app)) == n


async def test_rolling_update_stays_within_surge_and_unavailable(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "20%", "maxUnavailable": "10%"}}
    await create(client, namespace, deployment("big", replicas=20, strategy=strategy))
    await wait_rolled_out(client, namespace, "big")
    surge, unavailable = 4, 2  # 20% of 20 rounded up, 10% of 20 rounded down

    kubelet.delay = 0.05
    watcher = PodWatcher(client, namespace, rolling_bounds(20, surge, unavailable))
    await watcher.start()
    await set_version(client, namespace, "big", "two")
    d = await wait_rolled_out(client, namespace, "big")
    await eventually(lambda: _all_version(client, namespace, "big", "two", 20))
    await watcher.stop()
    assert watcher.events > 40  # 20 pods came, became ready, and 20 went

    assert d.metadata.annotations[du.REVISION_ANNOTATION] == "2"
    old, new = await replica_sets(client, namespace, "big")
    assert (old.spec.replicas, new.spec.replicas) == (0, 20)
    assert new.metadata.annotations[du.REVISION_ANNOTATION] == "2"
    assert condition(d, du.PROGRESSING).reason == du.NEW_RS_AVAILABLE


async def _all_version(client: Client, ns: str, app: str, version: str, n: int) -> bool:
    current = await pods(client, ns, app)
    return len(current) == n and all(version_of(p) == version for p in current)


async def kubectl_rollout_undo(client: Client, ns: str, name: str, to_revision: int = 0) -> None:
    """What ``kubectl rollout undo`` does: find the ReplicaSet of the revision and JSON-patch its template back."""
    d = await get(client, ns, name)
    owned = [
        rs
        for rs in await replica_sets(client, ns, name)
        if any(r.controller and r.uid == d.metadata.uid for r in rs.metadata.ownerReferences)
    ]
    if to_revision == 0:
        revisions = sorted({du.revision_of(rs) for rs in owned})
        to_revision = revisions[-2]
    [rs] = [rs for rs in owned if du.revision_of(rs) == to_revision]
    template = rs.spec.template
    template.metadata.labels = {k: v for k, v in template.metadata.labels.items() if k != du.UNIQUE_LABEL_KEY}
    annotations = {k: v for k, v in d.metadata.annotations.items() if k in du.ANNOTATIONS_TO_SKIP}
    annotations.update({k: v for k, v in rs.metadata.annotations.items() if k not in du.ANNOTATIONS_TO_SKIP})
    import msgspec

    patch = [
        {"op": "replace", "path": "/spec/template", "value": msgspec.to_builtins(template)},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    await patch_retrying(client, ns, name, patch, "json")


async def test_rollback_with_kubectls_patch_reuses_the_old_replica_set(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("web", replicas=4))
    await wait_rolled_out(client, namespace, "web")
    await set_version(client, namespace, "web", "two")
    await wait_rolled_out(client, namespace, "web")
    await eventually(lambda: _all_version(client, namespace, "web", "two", 4))
    first, second = await replica_sets(client, namespace, "web")

    await kubectl_rollout_undo(client, namespace, "web")
    d = await wait_rolled_out(client, namespace, "web")
    await eventually(lambda: _all_version(client, namespace, "web", "one", 4))

    assert d.metadata.annotations[du.REVISION_ANNOTATION] == "3"
    rss = await replica_sets(client, namespace, "web")
    assert [rs.metadata.name for rs in rss] == [second.metadata.name, first.metadata.name]
    back = rss[1]
    assert back.metadata.annotations[du.REVISION_ANNOTATION] == "3"
    assert back.metadata.annotations[du.REVISION_HISTORY_ANNOTATION] == "1"
    assert back.spec.replicas == 4 and rss[0].spec.replicas == 0
    assert {p.metadata.labels[du.UNIQUE_LABEL_KEY] for p in await pods(client, namespace, "web")} == {
        first.metadata.labels[du.UNIQUE_LABEL_KEY]
    }


async def test_rollout_restart_makes_a_new_replica_set(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("web", replicas=2))
    await wait_rolled_out(client, namespace, "web")
    restart = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}}
            }
        }
    }
    await patch_retrying(client, namespace, "web", restart, "strategic")
    d = await wait_rolled_out(client, namespace, "web")
    assert d.metadata.annotations[du.REVISION_ANNOTATION] == "2"
    assert len(await replica_sets(client, namespace, "web")) == 2


async def test_paused_deployment_makes_no_new_replica_set_but_scales(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("web", replicas=2))
    await wait_rolled_out(client, namespace, "web")
    await patch_retrying(client, namespace, "web", {"spec": {"paused": True}})

    async def paused() -> Any:
        d = await get(client, namespace, "web")
        cond = condition(d, du.PROGRESSING)
        return (
            d if cond.reason == du.PAUSED and d.status.observedGeneration == d.metadata.generation else None
        )

    d = await eventually(paused)
    assert condition(d, du.PROGRESSING).status == "Unknown"
    await set_version(client, namespace, "web", "two")
    await patch_retrying(client, namespace, "web", {"spec": {"replicas": 3}})

    async def scaled() -> bool:
        rss = await replica_sets(client, namespace, "web")
        return len(rss) == 1 and rss[0].spec.replicas == 3

    await eventually(scaled)
    await asyncio.sleep(0.3)
    assert len(await replica_sets(client, namespace, "web")) == 1
    d = await get(client, namespace, "web")
    assert d.status.observedGeneration == d.metadata.generation

    await patch_retrying(client, namespace, "web", {"spec": {"paused": False}})
    d = await wait_rolled_out(client, namespace, "web")
    assert len(await replica_sets(client, namespace, "web")) == 2
    await eventually(lambda: _all_version(client, namespace, "web", "two", 3))


async def test_progress_deadline_exceeded(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet, clock: FakeClock
) -> None:
    kubelet.ready = lambda pod: False  # nothing ever becomes ready
    await create(client, namespace, deployment("stuck", replicas=2, progressDeadlineSeconds=30))

    async def created() -> Any:
        d = await get(client, namespace, "stuck")
        cond = condition(d, du.PROGRESSING)
        return d if cond is not None and d.status.replicas == 2 else None

    d = await eventually(created)
    assert condition(d, du.PROGRESSING).reason in (du.NEW_RS_CREATED, du.RS_UPDATED)
    assert condition(d, du.AVAILABLE).reason == du.MIN_REPLICAS_UNAVAILABLE
    await clock.run_for(20)
    await asyncio.sleep(0.3)
    assert condition(await get(client, namespace, "stuck"), du.PROGRESSING).status == "True"

    await clock.run_for(15)

    async def timed_out() -> Any:
        d = await get(client, namespace, "stuck")
        cond = condition(d, du.PROGRESSING)
        return d if cond.reason == du.TIMED_OUT else None

    d = await eventually(timed_out)
    cond = condition(d, du.PROGRESSING)
    assert cond.status == "False"
    [rs] = await replica_sets(client, namespace, "stuck")
    assert cond.message == f'ReplicaSet "{rs.metadata.name}" has timed out progressing.'

    # Once pods become ready, the rollout completes and says so.
    kubelet.ready = lambda pod: True
    kubelet.recheck()

    async def complete() -> bool:
        d = await get(client, namespace, "stuck")
        return bool(
            condition(d, du.PROGRESSING).reason == du.NEW_RS_AVAILABLE and d.status.availableReplicas == 2
        )

    await eventually(complete)


async def test_recreate_stops_old_pods_before_new_ones_start(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("rec", replicas=3, strategy={"type": "Recreate"}))
    await wait_rolled_out(client, namespace, "rec")

    def never_mixed(current: dict[str, Any]) -> None:
        versions = {version_of(p) for p in current.values()}
        assert len(versions) <= 1, f"old and new pods at once: {sorted(versions)}"

    watcher = PodWatcher(client, namespace, never_mixed)
    await watcher.start()
    await set_version(client, namespace, "rec", "two")
    d = await wait_rolled_out(client, namespace, "rec")
    await eventually(lambda: _all_version(client, namespace, "rec", "two", 3))
    await watcher.stop()
    assert d.metadata.annotations[du.REVISION_ANNOTATION] == "2"


async def test_revision_history_limit_deletes_old_replica_sets(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    await create(client, namespace, deployment("hist", replicas=1, revisionHistoryLimit=1))
    await wait_rolled_out(client, namespace, "hist")
    for version in ("two", "three", "four"):
        await set_version(client, namespace, "hist", version)
        await wait_rolled_out(client, namespace, "hist")

    async def trimmed() -> list[Any] | None:
        rss = await replica_sets(client, namespace, "hist")
        return rss if len(rss) == 2 else None

    rss = await eventually(trimmed)
    assert [du.revision_of(rs) for rs in rss] == [3, 4]


async def test_proportional_scaling_during_a_rollout(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    await create(client, namespace, deployment("prop", replicas=10, strategy=strategy))
    await wait_rolled_out(client, namespace, "prop")
    kubelet.ready = lambda pod: version_of(pod) == "one"  # the new version never becomes ready
    await set_version(client, namespace, "prop", "two")

    async def stuck() -> list[Any] | None:
        rss = await replica_sets(client, namespace, "prop")
        sizes = [rs.spec.replicas for rs in rss]
        return rss if sizes == [8, 5] else None

    await eventually(stuck)
    await patch_retrying(client, namespace, "prop", {"spec": {"replicas": 30}})

    async def scaled() -> list[int] | None:
        rss = await replica_sets(client, namespace, "prop")
        sizes = [rs.spec.replicas for rs in rss]
        return sizes if sum(sizes) == 33 else None

    # 13 replicas grow to 33 (30 + maxSurge 3): 8 -> 20 and 5 -> 13, each by its share.
    assert await eventually(scaled) == [20, 13]
    for rs in await replica_sets(client, namespace, "prop"):
        assert rs.metadata.annotations[du.DESIRED_REPLICAS_ANNOTATION] == "30"
        assert rs.metadata.annotations[du.MAX_REPLICAS_ANNOTATION] == "33"


async def test_a_new_manager_finishes_a_rollout_without_extra_pods(
    client: Client, namespace: str, manager: Manager, kubelet: Kubelet
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    await create(client, namespace, deployment("ha", replicas=10, strategy=strategy))
    await wait_rolled_out(client, namespace, "ha")
    watcher = PodWatcher(client, namespace, rolling_bounds(10, 2, 1))
    await watcher.start()
    kubelet.delay = 0.1
    await set_version(client, namespace, "ha", "two")

    async def midway() -> bool:
        current = await pods(client, namespace, "ha")
        return sum(version_of(p) == "two" for p in current) >= 3

    await eventually(midway)
    await manager.stop()
    await asyncio.sleep(0.3)
    await manager.start()
    await wait_rolled_out(client, namespace, "ha")
    await eventually(lambda: _all_version(client, namespace, "ha", "two", 10))
    await asyncio.sleep(0.3)
    await watcher.stop()
    assert len(await pods(client, namespace, "ha")) == 10
    rss = await replica_sets(client, namespace, "ha")
    assert [rs.spec.replicas for rs in rss] == [0, 10]
