"""The StatefulSet controller against the in-process API server, in fake time.

Pods are marked Running and Ready by the test, as a kubelet would; nothing
else runs them. Covered: OrderedReady and Parallel creation, scale-down from
the highest ordinal with claims kept, claims per ordinal (and ordinals.start),
rolling updates with a partition, OnDelete, revisions and status, and pods
recreated under the same name after a delete or a failure.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kubelite.api.core_v1 import PodCondition
from kubelite.api.errors import StatusError
from kubelite.client import Client, EventRecorder, FakeClock, SharedInformerFactory, lookup
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.statefulset import StatefulSetController

NS = lookup("", "v1", "Namespace")
POD = lookup("", "v1", "Pod")
PVC = lookup("", "v1", "PersistentVolumeClaim")
EVENT = lookup("", "v1", "Event")
SS = lookup("apps", "v1", "StatefulSet")
REV = lookup("apps", "v1", "ControllerRevision")


class Harness:
    """The controller on a fake clock, plus what a kubelet and a user would do."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.ns = namespace
        self.clock = FakeClock()
        self.informers = SharedInformerFactory(client, clock=self.clock)
        # Real time for events: the recorder names each Event after the clock's nanoseconds, so on
        # a clock that stands still every Event of the set would get the same name.
        self.recorder = EventRecorder(client, "statefulset-controller")
        ctx = ControllerContext(client, self.informers, self.recorder, self.clock)
        self.controller = StatefulSetController(ctx)
        self.pods = client.resource(POD)
        self.sets = client.resource(SS)
        self.claims = client.resource(PVC)
        self.revisions = client.resource(REV)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self.informers.start(tg)
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    # -------------------------------------------------------------- reading

    async def pod_names(self) -> list[str]:
        pods, _ = await self.pods.list_all(self.ns)
        return sorted((p.metadata.name for p in pods), key=_ordinal)

    async def pod(self, name: str) -> Any:
        try:
            return await self.pods.get(name, self.ns)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def get_set(self, name: str = "web") -> Any:
        return await self.sets.get(name, self.ns)

    # ------------------------------------------------------- kubelet's part

    async def mark_ready(self, name: str, ready: bool = True, phase: str = "Running") -> None:
        """Write the pod status a kubelet would: phase and Ready condition, stamped with fake time."""
        for _ in range(10):
            pod = await self.pods.get(name, self.ns)
            stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            pod.status.phase = phase
            pod.status.conditions = [c for c in pod.status.conditions if c.type != "Ready"]
            pod.status.conditions.append(
                PodCondition(type="Ready", status="True" if ready else "False", lastTransitionTime=stamp)
            )
            try:
                await self.pods.update_status(pod, self.ns)
                return
            except StatusError as e:
                if e.code != 409:
                    raise

    async def ready_all(self, count: int, start: int = 0, name: str = "web") -> None:
        """OrderedReady: make each ordinal ready as it appears, lowest first."""
        for i in range(start, start + count):
            pod_name = f"{name}-{i}"
            await eventually(functools.partial(self.pod, pod_name))
            await self.mark_ready(pod_name)

    async def events(self, reason: str) -> list[str]:
        await self.recorder.flush()
        evs, _ = await self.client.resource(EVENT).list_all(self.ns)
        return [e.message for e in evs if e.reason == reason]


@pytest.fixture
async def h(client: Client, namespace: str) -> AsyncIterator[Harness]:
    harness = Harness(client, namespace)
    task = asyncio.create_task(harness.run())
    await asyncio.wait_for(harness.informers.wait_for_cache_sync(), 10)
    yield harness
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _ordinal(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.02)


async def stays(check: Callable[[], Awaitable[Any]], seconds: float = 0.4) -> None:
    """Assert ``check`` holds for a while (the controller had time to act and did not)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        assert await check()
        await asyncio.sleep(0.05)


def stateful_set(
    ns: str,
    name: str = "web",
    replicas: int = 3,
    *,
    policy: str = "OrderedReady",
    image: str = "nginx:1.25",
    claims: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "serviceName": f"{name}-svc",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }
    if claims:
        body["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    return body


async def set_image(h: Harness, image: str, name: str = "web", **strategy: Any) -> None:
    patch: dict[str, Any] = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}
    }
    if strategy:
        patch["spec"]["updateStrategy"] = strategy
    await patch_set(h, patch, "strategic", name)


async def patch_set(h: Harness, patch: dict[str, Any], kind: str = "merge", name: str = "web") -> None:
    # The API server answers a PATCH that races another write with 409 instead of retrying it
    # (Kubernetes retries internally), so the test retries.
    for _ in range(20):
        try:
            await h.sets.patch(name, patch, kind, namespace=h.ns)  # type: ignore[arg-type]
            return
        except StatusError as e:
            if e.code != 409:
                raise
            await asyncio.sleep(0.01)
    raise AssertionError("PATCH kept conflicting")


async def status_is(h: Harness, name: str = "web", **want: Any) -> bool:
    status = (await h.get_set(name)).status
    return all(getattr(status, k) == v for k, v in want.items())


class DeletionLog:
    """Pod deletions in the order the API server reported them (a watch of the namespace)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.names: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DeletionLog:
        _, rv = await self.h.pods.list_all(self.h.ns)

        async def follow() -> None:
            async for ev in self.h.pods.watch(self.h.ns, rv):
                if ev.type == "DELETED":
                    self.names.append(ev.object.metadata.name)

        self._task = asyncio.create_task(follow())
        return self

    async def wait_for(self, count: int) -> list[str]:
        async def enough() -> bool:
            return len(self.names) >= count

        await eventually(enough)
        return self.names

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# ---------------------------------------------------------------------- tests


async def test_ordered_ready_creates_in_order_waiting_for_readiness(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns), h.ns)
    await eventually(lambda: h.pod("web-0"))
    await stays(lambda: _eq(h.pod_names(), ["web-0"]))

    await h.mark_ready("web-0", ready=False)  # running but not ready: still waits
    await stays(lambda: _eq(h.pod_names(), ["web-0"]))
    await h.mark_ready("web-0")
    await eventually(lambda: h.pod("web-1"))
    await stays(lambda: _eq(h.pod_names(), ["web-0", "web-1"]))
    await h.mark_ready("web-1")
    await eventually(lambda: h.pod("web-2"))
    await h.mark_ready("web-2")

    ss = await h.get_set()
    await eventually(
        lambda: status_is(
            h, replicas=3, readyReplicas=3, availableReplicas=3, currentReplicas=3, updatedReplicas=3
        )
    )
    ss = await h.get_set()
    assert ss.status.observedGeneration == ss.metadata.generation
    assert ss.status.currentRevision == ss.status.updateRevision
    assert ss.status.currentRevision.startswith("web-")
    assert ss.status.collisionCount == 0

    pod = await h.pod("web-1")
    assert pod.spec.hostname == "web-1"
    assert pod.spec.subdomain == "web-svc"
    assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "1"
    assert pod.metadata.labels["controller-revision-hash"] == ss.status.updateRevision
    assert pod.metadata.labels["app"] == "web"
    [ref] = pod.metadata.ownerReferences
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("StatefulSet", "web", ss.metadata.uid, True)

    created = await eventually(lambda: _at_least(h.events("SuccessfulCreate"), 3))
    assert "create Pod web-0 in StatefulSet web successful" in created
    assert "create Pod web-2 in StatefulSet web successful" in created


async def test_parallel_creates_all_pods_at_once(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, replicas=4, policy="Parallel"), h.ns)
    names = await eventually(lambda: _has_len(h.pod_names(), 4))
    assert names == ["web-0", "web-1", "web-2", "web-3"]
    await eventually(lambda: status_is(h, replicas=4, readyReplicas=0))


async def test_claims_per_ordinal_and_scale_down_keeps_them(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, claims=True), h.ns)
    await h.ready_all(3)
    await eventually(lambda: status_is(h, readyReplicas=3))

    claims, _ = await h.claims.list_all(h.ns)
    assert sorted(c.metadata.name for c in claims) == ["data-web-0", "data-web-1", "data-web-2"]
    for c in claims:
        assert c.metadata.labels["app"] == "web"
        assert c.metadata.ownerReferences == []  # Retain/Retain: nobody owns the claims
        assert c.spec.accessModes == ["ReadWriteOnce"]
    pod = await h.pod("web-2")
    [volume] = [v for v in pod.spec.volumes if v.name == "data"]
    assert volume.persistentVolumeClaim.claimName == "data-web-2"
    assert any(
        "create Claim data-web-0 Pod web-0 in StatefulSet web success" in m
        for m in await h.events("SuccessfulCreate")
    )

    async with DeletionLog(h) as deletions:
        await patch_set(h, {"spec": {"replicas": 1}}, "merge")
        await eventually(lambda: _eq(h.pod_names(), ["web-0"]))
        assert await deletions.wait_for(2) == ["web-2", "web-1"]
    claims, _ = await h.claims.list_all(h.ns)
    assert len(claims) == 3
    assert "delete Pod web-2 in StatefulSet web successful" in await h.events("SuccessfulDelete")
    await eventually(lambda: status_is(h, replicas=1, readyReplicas=1))

    # Scaling up again reuses the kept claims.
    await patch_set(h, {"spec": {"replicas": 2}}, "merge")
    pod = await eventually(lambda: h.pod("web-1"))
    assert [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.name == "data"] == ["data-web-1"]


async def test_ordered_scale_down_waits_for_unhealthy_pods(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns), h.ns)
    await h.ready_all(3)
    await eventually(lambda: status_is(h, readyReplicas=3))
    await h.mark_ready("web-0", ready=False)
    await patch_set(h, {"spec": {"replicas": 1}}, "merge")
    await stays(lambda: _eq(h.pod_names(), ["web-0", "web-1", "web-2"]))
    await h.mark_ready("web-0")
    await eventually(lambda: _eq(h.pod_names(), ["web-0"]))


async def test_ordinals_start_and_claim_owners_under_delete_policy(h: Harness) -> None:
    body = stateful_set(
        h.ns,
        replicas=2,
        policy="Parallel",
        claims=True,
        ordinals={"start": 5},
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"},
    )
    ss = await h.sets.create(body, h.ns)
    assert await eventually(lambda: _has_len(h.pod_names(), 2)) == ["web-5", "web-6"]
    claims = await eventually(lambda: _has_len(_claim_names(h), 2))
    assert claims == ["data-web-5", "data-web-6"]
    claim = await h.claims.get("data-web-6", h.ns)
    [ref] = claim.metadata.ownerReferences
    assert (ref.kind, ref.uid, ref.controller) == ("StatefulSet", ss.metadata.uid, True)
    pod = await h.pod("web-6")
    assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "6"

    # Scaled down under WhenScaled=Delete: the claim of the removed ordinal passes to its pod,
    # so the garbage collector takes it along (no collector runs here).
    await h.mark_ready("web-5")
    await h.mark_ready("web-6")
    await patch_set(h, {"spec": {"replicas": 1}}, "merge")
    await eventually(lambda: _eq(h.pod_names(), ["web-5"]))

    async def owned_by_pod() -> bool:
        c = await h.claims.get("data-web-6", h.ns)
        return [(r.kind, r.name) for r in c.metadata.ownerReferences] == [("Pod", "web-6")]

    await eventually(owned_by_pod)


async def test_rolling_update_with_partition_updates_from_the_top(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns), h.ns)
    await h.ready_all(3)
    await eventually(lambda: status_is(h, readyReplicas=3, updatedReplicas=3))
    old = (await h.get_set()).status.currentRevision

    async with DeletionLog(h) as deletions:
        await set_image(h, "nginx:1.26", type="RollingUpdate", rollingUpdate={"partition": 1})
        new = await eventually(lambda: _new_revision(h, old))
        # web-2 goes first; web-1 waits until web-2 is back and ready.
        pod2 = await eventually(lambda: _pod_at(h, "web-2", new))
        assert pod2.spec.containers[0].image == "nginx:1.26"
        await stays(lambda: _pod_at(h, "web-1", old))
        await h.mark_ready("web-2")
        await eventually(lambda: _pod_at(h, "web-1", new))
        await h.mark_ready("web-1")
        await eventually(lambda: status_is(h, readyReplicas=3, updatedReplicas=2, currentReplicas=1))
        await stays(lambda: _pod_at(h, "web-0", old))
        assert await deletions.wait_for(2) == ["web-2", "web-1"]
    ss = await h.get_set()
    assert (ss.status.currentRevision, ss.status.updateRevision) == (old, new)

    # Partition 0 finishes the rollout; the update revision becomes current.
    await h.sets.patch(
        "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, "strategic", namespace=h.ns
    )
    await eventually(lambda: _pod_at(h, "web-0", new))
    await h.mark_ready("web-0")
    await eventually(
        lambda: status_is(h, currentRevision=new, updateRevision=new, currentReplicas=3, updatedReplicas=3)
    )


async def test_rolling_update_max_unavailable_replaces_several_at_once(h: Harness) -> None:
    body = stateful_set(
        h.ns,
        policy="Parallel",
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
    )
    await h.sets.create(body, h.ns)
    await eventually(lambda: _has_len(h.pod_names(), 3))
    for name in ("web-0", "web-1", "web-2"):
        await h.mark_ready(name)
    await eventually(lambda: status_is(h, readyReplicas=3))
    old = (await h.get_set()).status.currentRevision

    await set_image(h, "nginx:1.26")
    new = await eventually(lambda: _new_revision(h, old))
    # Two pods (the highest) go at once; the third waits while two are unavailable.
    await eventually(lambda: _all_at(h, ["web-1", "web-2"], new))
    await stays(lambda: _pod_at(h, "web-0", old))
    await h.mark_ready("web-2")
    await h.mark_ready("web-1")
    await eventually(lambda: _pod_at(h, "web-0", new))


async def test_on_delete_only_recreated_pods_get_the_new_revision(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, updateStrategy={"type": "OnDelete"}), h.ns)
    await h.ready_all(3)
    await eventually(lambda: status_is(h, readyReplicas=3))
    old = (await h.get_set()).status.currentRevision

    await set_image(h, "nginx:1.26")
    new = await eventually(lambda: _new_revision(h, old))
    await stays(lambda: _all_at(h, ["web-0", "web-1", "web-2"], old))

    await h.pods.delete("web-1", h.ns)
    pod = await eventually(lambda: _pod_at(h, "web-1", new))
    assert pod.spec.containers[0].image == "nginx:1.26"
    await h.mark_ready("web-1")
    await eventually(lambda: status_is(h, currentReplicas=2, updatedReplicas=1, readyReplicas=3))
    assert await _all_at(h, ["web-0", "web-2"], old)


async def test_revisions_rollback_and_history_limit(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, replicas=1, revisionHistoryLimit=1), h.ns)
    await h.ready_all(1)
    first = await eventually(lambda: _current(h))
    rev = await h.revisions.get(first, h.ns)
    assert rev.revision == 1
    assert rev.metadata.labels["controller.kubernetes.io/hash"] == first.removeprefix("web-")
    assert rev.metadata.ownerReferences[0].kind == "StatefulSet"
    assert rev.data["spec"]["template"]["$patch"] == "replace"

    for image, number in (("nginx:1.26", 2), ("nginx:1.27", 3)):
        await set_image(h, image)
        current = await eventually(functools.partial(_new_revision, h, first))
        await eventually(functools.partial(_pod_at, h, "web-0", current))
        await h.mark_ready("web-0")
        await eventually(functools.partial(status_is, h, currentRevision=current))
        assert (await h.revisions.get(current, h.ns)).revision == number
        first = current

    # Limit 1: the live revision plus one old one.
    async def revision_count() -> int:
        return len((await h.revisions.list_all(h.ns))[0])

    await eventually(lambda: _eq(revision_count(), 2))

    # Back to 1.26: its revision (still kept) is renumbered, not recreated.
    await set_image(h, "nginx:1.26")
    back = await eventually(lambda: _new_revision(h, first))
    assert (await h.revisions.get(back, h.ns)).revision == 4


async def test_deleted_pod_is_recreated_with_the_same_name(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, claims=True), h.ns)
    await h.ready_all(3)
    await eventually(lambda: status_is(h, readyReplicas=3))
    before = await h.pod("web-1")
    await h.pods.delete("web-1", h.ns)

    async def replaced() -> Any:
        pod = await h.pod("web-1")
        return pod if pod is not None and pod.metadata.uid != before.metadata.uid else None

    pod = await eventually(replaced)
    assert pod.spec.hostname == "web-1"
    assert [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.name == "data"] == ["data-web-1"]
    assert len((await h.claims.list_all(h.ns))[0]) == 3


async def test_failed_pod_is_deleted_and_recreated(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, replicas=2), h.ns)
    await h.ready_all(2)
    await eventually(lambda: status_is(h, readyReplicas=2))
    before = await h.pod("web-0")
    await h.mark_ready("web-0", ready=False, phase="Failed")

    async def replaced() -> bool:
        pod = await h.pod("web-0")
        return pod is not None and pod.metadata.uid != before.metadata.uid

    await eventually(replaced)


async def test_min_ready_seconds_counts_available_in_fake_time(h: Harness) -> None:
    await h.sets.create(stateful_set(h.ns, replicas=2, minReadySeconds=30), h.ns)
    await eventually(lambda: h.pod("web-0"))
    await h.mark_ready("web-0")
    await eventually(lambda: status_is(h, readyReplicas=1, availableReplicas=0))
    await stays(lambda: _eq(h.pod_names(), ["web-0"]))  # OrderedReady waits for availability

    await h.clock.run_for(31)
    await eventually(lambda: status_is(h, availableReplicas=1))
    await eventually(lambda: h.pod("web-1"))


async def test_adopts_orphans_and_releases_pods_it_no_longer_selects(h: Harness) -> None:
    await h.pods.create(
        {
            "metadata": {"name": "web-0", "namespace": h.ns, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]},
        },
        h.ns,
    )
    # OnDelete, so the adopted pod (it has no revision label) is not replaced by a rollout.
    ss = await h.sets.create(stateful_set(h.ns, replicas=1, updateStrategy={"type": "OnDelete"}), h.ns)

    async def adopted() -> bool:
        pod = await h.pod("web-0")
        return [r.uid for r in pod.metadata.ownerReferences] == [ss.metadata.uid]

    await eventually(adopted)
    # Under OrderedReady the identity labels are put right once the pod is running and ready.
    await h.mark_ready("web-0")

    async def identity_restored() -> bool:
        pod = await h.pod("web-0")
        return pod is not None and pod.metadata.labels.get("statefulset.kubernetes.io/pod-name") == "web-0"

    await eventually(identity_restored)
    assert "update Pod web-0 in StatefulSet web successful" in await h.events("SuccessfulUpdate")

    await h.pods.patch("web-0", {"metadata": {"labels": {"app": "other"}}}, "strategic", namespace=h.ns)

    async def released() -> bool:
        pod = await h.pod("web-0")
        return pod is not None and pod.metadata.ownerReferences == []

    await eventually(released)


# -------------------------------------------------------------------- helpers


async def _eq(value: Awaitable[Any], want: Any) -> bool:
    return bool(await value == want)


async def _has_len(value: Awaitable[list[Any]], n: int) -> list[Any] | None:
    items = await value
    return items if len(items) == n else None


async def _at_least(value: Awaitable[list[Any]], n: int) -> list[Any] | None:
    items = await value
    return items if len(items) >= n else None


async def _claim_names(h: Harness) -> list[str]:
    return sorted(c.metadata.name for c in (await h.claims.list_all(h.ns))[0])


async def _current(h: Harness) -> str | None:
    status = (await h.get_set()).status
    return status.currentRevision or None


async def _new_revision(h: Harness, old: str) -> str | None:
    revision = (await h.get_set()).status.updateRevision
    return revision if revision and revision != old else None


async def _pod_at(h: Harness, name: str, revision: str) -> Any | None:
    pod = await h.pod(name)
    if pod is None or pod.metadata.labels.get("controller-revision-hash") != revision:
        return None
    return pod


async def _all_at(h: Harness, names: list[str], revision: str) -> bool:
    return all([await _pod_at(h, n, revision) for n in names])
