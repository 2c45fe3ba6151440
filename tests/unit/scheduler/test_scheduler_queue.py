"""The scheduling queue in fake time: order, back-off, moves on cluster events, gates."""

from __future__ import annotations

import msgspec

from kubelite.api.core_v1 import Pod
from kubelite.client.clock import FakeClock
from kubelite.scheduler.framework import ActionType, ClusterEvent, ClusterEventWithHint, QueueingHint
from kubelite.scheduler.plugins.queuesort import PrioritySort
from kubelite.scheduler.plugins.schedulinggates import SchedulingGates
from kubelite.scheduler.queue import SchedulingQueue


def pod(name: str, priority: int = 0, gates: list[str] | None = None, labels: dict | None = None) -> Pod:
    spec: dict = {"containers": [{"name": "c"}], "priority": priority}
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    return msgspec.convert(
        {"metadata": {"name": name, "namespace": "ns", "uid": name, "labels": labels or {}}, "spec": spec},
        Pod,
    )


EVENTS = {
    "NodeResourcesFit": [
        ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)),
        ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.DELETE)),
    ],
    "NodeAffinity": [
        ClusterEventWithHint(
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
            lambda p, old, new: QueueingHint.QUEUE if new == "matching" else QueueingHint.QUEUE_SKIP,
        )
    ],
}


def make_queue(clock: FakeClock, key: bool = True) -> SchedulingQueue:
    sort = PrioritySort()
    gates = SchedulingGates()
    return SchedulingQueue(
        sort.less,
        clock=clock,
        sort_key=sort.sort_key if key else None,
        pre_enqueue=gates.pre_enqueue,
        events=EVENTS,
    )


async def test_priority_then_fifo_order() -> None:
    clock = FakeClock()
    for use_key in (True, False):
        q = make_queue(clock, use_key)
        q.add(pod("low-1", 1))
        clock.advance(1)
        q.add(pod("high", 10))
        clock.advance(1)
        q.add(pod("low-2", 1))
        assert [(await q.pop()).pod.metadata.name for _ in range(3)] == ["high", "low-1", "low-2"]


async def test_backoff_doubles_to_max() -> None:
    q = make_queue(FakeClock())
    assert [q.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_error_goes_to_backoff_then_active() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("p"))
    qpi = await q.pop()
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)  # no rejecting plugins: an error
    assert "ns/p" in q.backoff
    clock.advance(0.5)
    assert q.flush_backoff_completed() == 0
    clock.advance(0.6)
    assert q.flush_backoff_completed() == 1
    assert (await q.pop()).attempts == 2


async def test_unschedulable_moves_only_on_relevant_events() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("fit"))
    q.add(pod("aff"))
    a = await q.pop()
    b = await q.pop()
    a.unschedulable_plugins = {"NodeResourcesFit"}
    b.unschedulable_plugins = {"NodeAffinity"}
    cycle = q.scheduling_cycle
    q.move_request_cycle = -1
    q.add_unschedulable_if_not_present(a, cycle)
    q.add_unschedulable_if_not_present(b, cycle)
    assert set(q.unschedulable) == {"ns/fit", "ns/aff"}
    # A label change helps only NodeAffinity's pod, and only when its hint says so.
    assert (
        q.move_all_to_active_or_backoff(ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL), None, "other")
        == 0
    )
    assert (
        q.move_all_to_active_or_backoff(ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL), None, "matching")
        == 1
    )
    assert "ns/aff" in q.backoff  # still backing off: waits out its back-off first
    assert q.move_all_to_active_or_backoff(ClusterEvent("AssignedPod", ActionType.DELETE)) == 1
    clock.advance(1.1)
    q.flush_backoff_completed()
    assert {(await q.pop()).key, (await q.pop()).key} == {"ns/fit", "ns/aff"}


async def test_event_during_attempt_sends_pod_to_backoff() -> None:
    q = make_queue(FakeClock())
    q.add(pod("p"))
    qpi = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(ClusterEvent("Node", ActionType.ADD))  # while it was being scheduled
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(qpi, cycle)
    assert "ns/p" in q.backoff


async def test_leftover_unschedulable_pods_retry_after_five_minutes() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("p"))
    qpi = await q.pop()
    qpi.unschedulable_plugins = {"NodeAffinity"}
    q.move_request_cycle = -1
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    clock.advance(299)
    assert q.flush_unschedulable_leftover() == 0
    clock.advance(2)
    assert q.flush_unschedulable_leftover() == 1
    assert "ns/p" in q.active


async def test_status_only_update_does_not_requeue() -> None:
    q = make_queue(FakeClock())
    q.add(pod("p"))
    qpi = await q.pop()
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.move_request_cycle = -1
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    old = qpi.pod
    new = msgspec.structs.replace(old, status=msgspec.structs.replace(old.status, message="x"))
    q.update(old, new)
    assert "ns/p" in q.unschedulable


async def test_gated_pod_waits_until_gates_removed() -> None:
    q = make_queue(FakeClock())
    gated = pod("g", gates=["wait"])
    q.add(gated)
    assert "ns/g" in q.unschedulable and not q.active
    q.move_all_to_active_or_backoff(ClusterEvent("Node", ActionType.ADD))
    assert "ns/g" in q.unschedulable
    q.update(gated, pod("g"))
    assert (await q.pop()).key == "ns/g"


async def test_delete_and_nominations() -> None:
    q = make_queue(FakeClock())
    p = pod("p")
    q.add(p)
    q.delete(p)
    assert len(q) == 0
    from kubelite.scheduler.nodeinfo import PodInfo

    q.add_nominated_pod(PodInfo(p), "n1")
    assert [pi.key for pi in q.nominated_pods_for_node("n1")] == ["ns/p"]
    q.add_nominated_pod(PodInfo(p), "n2")
    assert q.nominated_pods_for_node("n1") == []
    q.delete_nominated_pod_if_exists(p)
    assert not q.has_nominated_pods()
