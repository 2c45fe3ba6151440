"""The ReplicaSet controller against a real API server: scaling, healing,
adoption and release, the order of scale-down, status (with minReadySeconds
in fake time), failures (ReplicaFailure, slow start) and events."""

from __future__ import annotations

from typing import Any

from controller_harness import ControllerCluster, namespace_for, pod_template, start_controllers

from kubelite.api.errors import StatusError
from kubelite.client import Client

CONTROLLERS = "replicaset"


def replica_set(
    name: str, replicas: int, labels: dict[str, str] | None = None, min_ready: int = 0, **template_labels: str
) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": labels},
            "template": pod_template({**labels, **template_labels}),
        },
    }


async def scale(cluster: ControllerCluster, name: str, replicas: int) -> None:
    await cluster.patch(cluster.replicasets, name, {"spec": {"replicas": replicas}})


async def status_of(cluster: ControllerCluster, name: str) -> Any:
    rs = await cluster.replicasets.get(name, cluster.namespace)
    return rs


def owned_by(pod: Any, owner: Any) -> bool:
    return any(r.uid == owner.metadata.uid and r.controller for r in pod.metadata.ownerReferences)


async def test_scale_up_creates_exactly_the_replicas(cluster: ControllerCluster) -> None:
    rs = await cluster.replicasets.create(replica_set("web", 5), cluster.namespace)
    pods = await cluster.eventually(lambda: cluster.active_pods("app=web", count=5))

    for pod in pods:
        assert pod.metadata.generateName == "web-"
        assert pod.metadata.name.startswith("web-")
        assert pod.metadata.labels == {"app": "web"}
        [ref] = pod.metadata.ownerReferences
        assert (ref.apiVersion, ref.kind, ref.name, ref.uid) == (
            "apps/v1",
            "ReplicaSet",
            "web",
            rs.metadata.uid,
        )
        assert ref.controller is True and ref.blockOwnerDeletion is True

    async def observed() -> Any:
        cur = await status_of(cluster, "web")
        assert cur.status.replicas == 5
        assert cur.status.observedGeneration == cur.metadata.generation
        return cur

    await cluster.eventually(observed)

    # Syncs repeat (forced, and on every change of the ReplicaSet): no extra pods.
    controller = cluster.controller("replicaset")
    for _ in range(5):
        controller.enqueue(f"{cluster.namespace}/web")
        await cluster.quiesce(rounds=1)
    await cluster.patch(cluster.replicasets, "web", {"metadata": {"annotations": {"poke": "1"}}})
    await cluster.quiesce()
    assert len(await cluster.list_pods("app=web")) == 5

    created = await cluster.eventually(lambda: _events(cluster, "SuccessfulCreate", "web", 5))
    assert all(e.message.startswith("Created pod: web-") for e in created)
    assert {e.involvedObject.kind for e in created} == {"ReplicaSet"}


async def _events(cluster: ControllerCluster, reason: str, name: str, count: int) -> list[Any]:
    events = await cluster.events(reason, name)
    assert sum(e.count or 1 for e in events) == count, [(e.message, e.count) for e in events]
    return events


async def test_scale_down_and_to_zero(cluster: ControllerCluster) -> None:
    await cluster.replicasets.create(replica_set("down", 4), cluster.namespace)
    await cluster.eventually(lambda: cluster.active_pods("app=down", count=4))
    await scale(cluster, "down", 1)
    await cluster.eventually(lambda: cluster.active_pods("app=down", count=1))
    await scale(cluster, "down", 0)
    await cluster.eventually(lambda: cluster.active_pods("app=down", count=0))

    async def zero() -> None:
        cur = await status_of(cluster, "down")
        assert cur.status.replicas == 0 and cur.status.observedGeneration == cur.metadata.generation

    await cluster.eventually(zero)
    await cluster.eventually(lambda: _events(cluster, "SuccessfulDelete", "down", 4))


async def test_scale_down_deletes_the_preferred_pods(cluster: ControllerCluster) -> None:
    now = cluster.clock.now()
    labels = {"app": "pick"}
    # Made by hand in every state that the scale-down order tells apart; the ReplicaSet adopts them.
    await cluster.create_pod("ready-old", labels, node="node-1", ready_since=now - 4000)
    await cluster.create_pod("ready-old-restarted", labels, node="node-1", ready_since=now - 4000, restarts=3)
    await cluster.create_pod("ready-new", labels, node="node-1", ready_since=now - 5)
    await cluster.create_pod("running-not-ready", labels, node="node-1", ready=False)
    await cluster.create_pod("pending", labels, node="node-1", phase="Pending", ready=False)
    await cluster.create_pod("unscheduled", labels)
    rs = await cluster.replicasets.create(replica_set("pick", 6, labels), cluster.namespace)

    async def all_adopted() -> None:
        pods = await cluster.active_pods("app=pick", count=6)
        assert all(owned_by(p, rs) for p in pods)

    await cluster.eventually(all_adopted)

    expected = ["unscheduled", "pending", "running-not-ready", "ready-new", "ready-old-restarted"]
    remaining = {
        "ready-old",
        "ready-old-restarted",
        "ready-new",
        "running-not-ready",
        "pending",
        "unscheduled",
    }
    for replicas, victim in zip(range(5, 0, -1), expected, strict=True):
        await scale(cluster, "pick", replicas)
        remaining.discard(victim)

        async def only(want: set[str] = remaining, n: int = replicas) -> None:
            pods = await cluster.active_pods("app=pick", count=n)
            assert {p.metadata.name for p in pods} == want

        await cluster.eventually(only)
    assert not await cluster.events("SuccessfulCreate", "pick")


async def test_a_deleted_pod_is_replaced(cluster: ControllerCluster) -> None:
    await cluster.replicasets.create(replica_set("heal", 3), cluster.namespace)
    pods = await cluster.eventually(lambda: cluster.active_pods("app=heal", count=3))
    victim = pods[0].metadata.name
    await cluster.pods.delete(victim, cluster.namespace)

    async def healed() -> None:
        now = await cluster.active_pods("app=heal", count=3)
        assert victim not in {p.metadata.name for p in now}

    await cluster.eventually(healed)
    await cluster.quiesce()
    assert len(await cluster.active_pods("app=heal")) == 3


async def test_adopts_a_matching_orphan_and_releases_a_relabelled_pod(cluster: ControllerCluster) -> None:
    orphan = await cluster.create_pod("stray", {"app": "adopt", "extra": "x"})

    async def seen_by_the_controller() -> None:
        # Otherwise the first sync may not know the orphan yet and create two pods, then give
        # one back: correct, but not what this test counts.
        assert cluster.controller("replicaset").pods.get_by(cluster.namespace, "stray") is not None

    await cluster.eventually(seen_by_the_controller)
    rs = await cluster.replicasets.create(replica_set("adopt", 2), cluster.namespace)

    async def adopted() -> list[Any]:
        pods = await cluster.active_pods("app=adopt", count=2)
        assert all(owned_by(p, rs) for p in pods)
        assert "stray" in {p.metadata.name for p in pods}
        return pods

    await cluster.eventually(adopted)

    async def one_create_recorded() -> None:
        # the controller's events are written asynchronously: the pod may be there before its event
        assert len(await cluster.events("SuccessfulCreate", "adopt")) == 1  # only one pod was missing

    await cluster.eventually(one_create_recorded)
    stray = await cluster.pods.get("stray", cluster.namespace)
    assert stray.metadata.uid == orphan.metadata.uid

    # Relabelled out of the selector: released (no longer owned) and replaced.
    await cluster.patch(cluster.pods, "stray", {"metadata": {"labels": {"app": "elsewhere"}}})

    async def released() -> None:
        freed = await cluster.pods.get("stray", cluster.namespace)
        assert freed.metadata.ownerReferences == []
        pods = await cluster.active_pods("app=adopt", count=2)
        assert all(owned_by(p, rs) for p in pods)

    await cluster.eventually(released)


async def test_pods_of_another_controller_are_left_alone(cluster: ControllerCluster) -> None:
    first = await cluster.replicasets.create(replica_set("first", 2, {"app": "shared"}), cluster.namespace)
    await cluster.eventually(lambda: cluster.active_pods("app=shared", count=2))
    # A second ReplicaSet with an overlapping selector creates its own pods and does not steal.
    second = await cluster.replicasets.create(replica_set("second", 1, {"app": "shared"}), cluster.namespace)

    async def both() -> None:
        pods = await cluster.active_pods("app=shared", count=3)
        assert sum(owned_by(p, first) for p in pods) == 2
        assert sum(owned_by(p, second) for p in pods) == 1

    await cluster.eventually(both)


async def test_status_counts_ready_available_and_fully_labeled(cluster: ControllerCluster) -> None:
    # The template has a label the selector does not need; a hand-made pod without it is
    # adopted but is not "fully labeled".
    await cluster.create_pod("partial", {"app": "stat"})
    await cluster.replicasets.create(
        replica_set("stat", 3, {"app": "stat"}, min_ready=30, tier="web"), cluster.namespace
    )
    pods = await cluster.eventually(lambda: cluster.active_pods("app=stat", count=3))

    async def counted(ready: int, available: int) -> Any:
        cur = await status_of(cluster, "stat")
        st = cur.status
        assert (st.replicas, st.fullyLabeledReplicas) == (3, 2)
        assert (st.readyReplicas, st.availableReplicas) == (ready, available), st
        assert st.observedGeneration == cur.metadata.generation
        return cur

    await cluster.eventually(lambda: counted(0, 0))
    await cluster.run_pods(pods[:2])
    await cluster.eventually(lambda: counted(2, 0))  # ready, but not for 30 seconds yet

    await cluster.clock.run_for(20)
    await cluster.run_pods(pods[2:])  # the third becomes ready 20 seconds later
    await cluster.quiesce()
    await counted(3, 0)

    await cluster.clock.run_for(10)  # the first two have been ready for 30s
    await cluster.eventually(lambda: counted(3, 2))
    await cluster.clock.run_for(20)
    await cluster.eventually(lambda: counted(3, 3))

    # A pod that stops being ready stops counting.
    await cluster.set_pod_status(pods[0], ready=False)
    await cluster.eventually(lambda: counted(2, 2))


class FailingPodCreates(Client):
    """A client whose pod creations fail as a ResourceQuota would refuse them, until ``allow``."""

    def __init__(self, url: str) -> None:
        super().__init__(url, component="failing-test")
        self.failing = True
        self.attempts = 0

    async def request(self, method: str, path: str, **kw: Any) -> bytes:
        if method == "POST" and path.endswith("/pods"):
            self.attempts += 1
            if self.failing:
                raise StatusError(
                    403,
                    "Forbidden",
                    'pods "quota-" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=0, limited: pods=0',
                )
        return await super().request(method, path, **kw)


async def test_create_failures_set_replica_failure_and_slow_start(api_server: Any, request: Any) -> None:
    client = FailingPodCreates(api_server.url)
    async with (
        client,
        start_controllers(api_server.url, namespace_for(request), CONTROLLERS, client=client) as cluster,
    ):
        await cluster.replicasets.create(replica_set("quota", 10), cluster.namespace)

        async def failed() -> Any:
            cur = await status_of(cluster, "quota")
            assert len(cur.status.conditions) == 1, cur.status
            [cond] = cur.status.conditions
            assert (cond.type, cond.status, cond.reason) == ("ReplicaFailure", "True", "FailedCreate")
            assert "exceeded quota" in cond.message
            assert cur.status.replicas == 0
            return cur

        await cluster.eventually(failed)
        # Slow start: every sync tries a first batch of one pod; it fails, so no more are tried.
        # (The status write wakes the ReplicaSet once more; later retries wait for back-off.)
        await cluster.quiesce()
        failures = cluster.controller("replicaset").queue.num_requeues(f"{cluster.namespace}/quota")
        assert 1 <= client.attempts == failures
        before = client.attempts
        warning = await cluster.eventually(lambda: _events(cluster, "FailedCreate", "quota", before))
        assert warning[0].type == "Warning"
        assert warning[0].message.startswith('Error creating: pods "quota-" is forbidden: exceeded quota')

        # The quota is lifted; the retry (after back-off, in fake time) creates them all.
        client.failing = False
        await cluster.clock.run_for(1)
        await cluster.eventually(lambda: cluster.active_pods("app=quota", count=10))

        async def recovered() -> None:
            cur = await status_of(cluster, "quota")
            assert cur.status.conditions == []
            assert cur.status.replicas == 10

        await cluster.eventually(recovered)
        assert client.attempts == before + 10  # batches of 1, 2, 4 and the last 3


async def test_a_recreated_replica_set_does_not_take_the_old_ones_pods(cluster: ControllerCluster) -> None:
    old = await cluster.replicasets.create(replica_set("again", 2), cluster.namespace)
    await cluster.eventually(lambda: cluster.active_pods("app=again", count=2))
    # No garbage collector runs here: the pods outlive their ReplicaSet, still naming it.
    await cluster.replicasets.delete("again", cluster.namespace)
    await cluster.quiesce()
    assert len(await cluster.active_pods("app=again")) == 2

    new = await cluster.replicasets.create(replica_set("again", 2), cluster.namespace)
    assert new.metadata.uid != old.metadata.uid

    async def own_pods() -> None:
        pods = await cluster.active_pods("app=again", count=4)
        assert sum(owned_by(p, new) for p in pods) == 2
        assert sum(owned_by(p, old) for p in pods) == 2

    await cluster.eventually(own_pods)
