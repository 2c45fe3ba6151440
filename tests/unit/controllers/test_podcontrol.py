"""Pod plumbing without a server: templates, availability, slow start, scale-down order,
and the ReplicaSet status calculation."""

from __future__ import annotations

from typing import Any

import msgspec

from kubelite.api import apps_v1
from kubelite.api.core_v1 import ContainerStatus, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec
from kubelite.api.meta import LabelSelector, ObjectMeta
from kubelite.api.timestamps import rfc3339
from kubelite.controllers.base import new_controller_ref
from kubelite.controllers.podcontrol import (
    available_in,
    is_pod_active,
    pod_from_template,
    pods_to_delete,
    rank_pods_for_deletion,
    slow_start_batch,
)
from kubelite.controllers.replicaset import calculate_status

NOW = 1_704_067_200.0 + 100_000


def make_pod(
    name: str,
    node: str = "node-1",
    phase: str = "Running",
    ready_since: float | None = None,
    restarts: int = 0,
    created: float = NOW - 10_000,
    labels: dict[str, str] | None = None,
    cost: int | None = None,
    deleting: bool = False,
) -> Pod:
    conditions = []
    if ready_since is not None:
        conditions.append(PodCondition(type="Ready", status="True", lastTransitionTime=rfc3339(ready_since)))
    annotations = {"controller.kubernetes.io/pod-deletion-cost": str(cost)} if cost is not None else {}
    return Pod(
        metadata=ObjectMeta(
            name=name,
            namespace="ns",
            uid=f"uid-{name}",
            labels=labels or {"app": "x"},
            annotations=annotations,
            creationTimestamp=rfc3339(created),
            deletionTimestamp=rfc3339(NOW) if deleting else None,
        ),
        spec=PodSpec(nodeName=node),
        status=PodStatus(
            phase=phase,
            conditions=conditions,
            containerStatuses=[ContainerStatus(name="c", restartCount=restarts)],
        ),
    )


def test_pod_from_template() -> None:
    owner = apps_v1.ReplicaSet(metadata=ObjectMeta(name="web", namespace="ns", uid="u1"))
    template = PodTemplateSpec(
        metadata=ObjectMeta(name="ignored", labels={"app": "web"}, annotations={"a": "1"}, finalizers=["f"]),
        spec=PodSpec(restartPolicy="Always"),
    )
    ref = new_controller_ref(owner, "apps/v1", "ReplicaSet")
    pod = pod_from_template(template, owner, ref)
    assert (pod.metadata.name, pod.metadata.generateName, pod.metadata.namespace) == ("", "web-", "ns")
    assert pod.metadata.labels == {"app": "web"} and pod.metadata.annotations == {"a": "1"}
    assert pod.metadata.finalizers == ["f"] and pod.metadata.ownerReferences == [ref]
    assert pod.spec.restartPolicy == "Always"
    pod.metadata.labels["x"] = "y"
    assert template.metadata.labels == {"app": "web"}  # copied, not shared
    named = pod_from_template(template, owner, ref, name="web-0")
    assert (named.metadata.name, named.metadata.generateName) == ("web-0", "")
    long_owner = apps_v1.ReplicaSet(metadata=ObjectMeta(name="x" * 80, namespace="ns"))
    assert len(pod_from_template(template, long_owner, None).metadata.generateName) == 58


def test_activity_and_availability() -> None:
    assert is_pod_active(make_pod("a"))
    assert not is_pod_active(make_pod("a", phase="Succeeded"))
    assert not is_pod_active(make_pod("a", phase="Failed"))
    assert not is_pod_active(make_pod("a", deleting=True))
    assert available_in(make_pod("a"), 0, NOW) is None  # not ready
    assert available_in(make_pod("a", ready_since=NOW), 0, NOW) == 0.0
    assert available_in(make_pod("a", ready_since=NOW - 4), 10, NOW) == 6.0
    assert available_in(make_pod("a", ready_since=NOW - 10), 10, NOW) == 0.0


async def test_slow_start_batches_grow_and_stop_at_the_first_failure() -> None:
    calls = 0

    async def ok() -> None:
        nonlocal calls
        calls += 1

    assert await slow_start_batch(10, ok) == (10, None)
    assert calls == 10

    calls = 0
    boom = RuntimeError("quota")

    async def fail_from_fourth() -> None:
        nonlocal calls
        calls += 1
        if calls >= 4:
            raise boom

    successes, err = await slow_start_batch(10, fail_from_fourth)
    # batches 1 and 2 succeed (3 calls); the batch of 4 has failures; nothing after it
    assert calls == 7 and successes == 3 and err is boom
    assert await slow_start_batch(0, ok) == (0, None)


def test_scale_down_order() -> None:
    pods = [
        make_pod("ready-old", ready_since=NOW - 4000),
        make_pod("ready-old-restarted", ready_since=NOW - 4000, restarts=2),
        make_pod("ready-new", ready_since=NOW - 5),
        make_pod("running", ready_since=None),
        make_pod("unknown", phase="Unknown"),
        make_pod("pending", phase="Pending"),
        make_pod("unscheduled", node="", phase="Pending"),
    ]
    order = [p.metadata.name for p in rank_pods_for_deletion(pods, pods, NOW)]
    assert order == [
        "unscheduled",
        "pending",
        "unknown",
        "running",
        "ready-new",
        "ready-old-restarted",
        "ready-old",
    ]
    assert [p.metadata.name for p in pods_to_delete(pods, 2, None, NOW)] == ["unscheduled", "pending"]
    assert len(pods_to_delete(pods, 10, None, NOW)) == 7


def test_scale_down_order_cost_doubling_up_and_age() -> None:
    cheap = make_pod("cheap", ready_since=NOW - 4000, cost=-5)
    dear = make_pod("dear", ready_since=NOW - 5, cost=10)
    assert [p.metadata.name for p in rank_pods_for_deletion([dear, cheap], [dear, cheap], NOW)] == [
        "cheap",
        "dear",
    ]

    alone = make_pod("alone", node="node-2", ready_since=NOW - 4000)
    crowded = make_pod("crowded", node="node-1", ready_since=NOW - 4000)
    sibling = make_pod("sibling", node="node-1", ready_since=NOW - 4000)
    order = rank_pods_for_deletion([alone, crowded], [alone, crowded, sibling], NOW)
    assert [p.metadata.name for p in order] == ["crowded", "alone"]

    young = make_pod("young", created=NOW - 10)
    old = make_pod("old", created=NOW - 100_000)
    assert [p.metadata.name for p in rank_pods_for_deletion([old, young], [old, young], NOW)] == [
        "young",
        "old",
    ]


def _rs(replicas: int, min_ready: int = 0, **status: Any) -> apps_v1.ReplicaSet:
    return apps_v1.ReplicaSet(
        metadata=ObjectMeta(name="rs", namespace="ns", generation=2),
        spec=apps_v1.ReplicaSetSpec(
            replicas=replicas,
            minReadySeconds=min_ready,
            selector=LabelSelector(matchLabels={"app": "x"}),
            template=PodTemplateSpec(metadata=ObjectMeta(labels={"app": "x", "tier": "web"})),
        ),
        status=apps_v1.ReplicaSetStatus(**status),
    )


def test_calculate_status() -> None:
    pods = [
        make_pod("a", ready_since=NOW - 100, labels={"app": "x", "tier": "web"}),
        make_pod("b", ready_since=NOW - 5, labels={"app": "x", "tier": "web"}),
        make_pod("c", labels={"app": "x"}),
    ]
    st = calculate_status(_rs(3, min_ready=10, observedGeneration=1), pods, None, NOW)
    assert (st.replicas, st.fullyLabeledReplicas, st.readyReplicas, st.availableReplicas) == (3, 2, 2, 1)
    assert st.observedGeneration == 1 and st.conditions == []

    failed = calculate_status(_rs(5), pods, RuntimeError("exceeded quota"), NOW)
    [cond] = failed.conditions
    assert (cond.type, cond.status, cond.reason, cond.message) == (
        "ReplicaFailure",
        "True",
        "FailedCreate",
        "exceeded quota",
    )
    assert calculate_status(_rs(1), pods, RuntimeError("x"), NOW).conditions[0].reason == "FailedDelete"
    # the condition stays while failing (its transition time kept), goes once a sync succeeds
    again = calculate_status(_rs(5, conditions=failed.conditions), pods, RuntimeError("y"), NOW + 60)
    assert msgspec.to_builtins(again.conditions) == msgspec.to_builtins(failed.conditions)
    assert calculate_status(_rs(5, conditions=failed.conditions), pods, None, NOW).conditions == []
