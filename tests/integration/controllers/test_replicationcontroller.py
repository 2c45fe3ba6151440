"""ReplicationControllers behave as ReplicaSets (the same controller behind an
adapter): scaling, healing, adoption and release, status and events, all
written to and naming the ReplicationController."""

from __future__ import annotations

from typing import Any

from controller_harness import ControllerCluster, pod_template

CONTROLLERS = "replicationcontroller"


def replication_controller(name: str, replicas: int, min_ready: int = 0, **extra: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": labels,
            "template": pod_template({**labels, **extra}),
        },
    }


def owned_by(pod: Any, owner: Any) -> bool:
    return any(r.uid == owner.metadata.uid and r.controller for r in pod.metadata.ownerReferences)


async def test_scale_up_down_and_heal(cluster: ControllerCluster) -> None:
    rc = await cluster.rcs.create(replication_controller("rc-web", 3), cluster.namespace)
    pods = await cluster.eventually(lambda: cluster.active_pods("app=rc-web", count=3))
    for pod in pods:
        [ref] = pod.metadata.ownerReferences
        assert (ref.apiVersion, ref.kind, ref.name, ref.uid) == (
            "v1",
            "ReplicationController",
            "rc-web",
            rc.metadata.uid,
        )
        assert ref.controller and ref.blockOwnerDeletion
        assert pod.metadata.generateName == "rc-web-"

    await cluster.pods.delete(pods[0].metadata.name, cluster.namespace)

    async def healed() -> None:
        now = await cluster.active_pods("app=rc-web", count=3)
        assert pods[0].metadata.name not in {p.metadata.name for p in now}

    await cluster.eventually(healed)

    await cluster.patch(cluster.rcs, "rc-web", {"spec": {"replicas": 1}})
    await cluster.eventually(lambda: cluster.active_pods("app=rc-web", count=1))
    await cluster.quiesce()
    assert len(await cluster.active_pods("app=rc-web")) == 1

    events = await cluster.events(name="rc-web")
    reasons = {e.reason for e in events}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons
    assert {e.involvedObject.kind for e in events} == {"ReplicationController"}


async def test_adoption_and_release(cluster: ControllerCluster) -> None:
    await cluster.create_pod("rc-stray", {"app": "rc-adopt"})
    rc = await cluster.rcs.create(replication_controller("rc-adopt", 1), cluster.namespace)

    async def adopted() -> None:
        [pod] = await cluster.active_pods("app=rc-adopt", count=1)
        assert pod.metadata.name == "rc-stray" and owned_by(pod, rc)

    await cluster.eventually(adopted)
    await cluster.patch(cluster.pods, "rc-stray", {"metadata": {"labels": {"app": "moved"}}})

    async def released() -> None:
        stray = await cluster.pods.get("rc-stray", cluster.namespace)
        assert stray.metadata.ownerReferences == []
        [pod] = await cluster.active_pods("app=rc-adopt", count=1)
        assert owned_by(pod, rc)

    await cluster.eventually(released)


async def test_status_with_min_ready_seconds(cluster: ControllerCluster) -> None:
    await cluster.create_pod("rc-partial", {"app": "rc-stat"})
    await cluster.rcs.create(
        replication_controller("rc-stat", 2, min_ready=15, tier="web"), cluster.namespace
    )
    pods = await cluster.eventually(lambda: cluster.active_pods("app=rc-stat", count=2))

    async def counted(ready: int, available: int) -> None:
        cur = await cluster.rcs.get("rc-stat", cluster.namespace)
        st = cur.status
        assert (st.replicas, st.fullyLabeledReplicas, st.readyReplicas, st.availableReplicas) == (
            2,
            1,
            ready,
            available,
        ), st
        assert st.observedGeneration == cur.metadata.generation

    await cluster.eventually(lambda: counted(0, 0))
    await cluster.run_pods(pods)
    await cluster.eventually(lambda: counted(2, 0))
    await cluster.clock.run_for(15)
    await cluster.eventually(lambda: counted(2, 2))
