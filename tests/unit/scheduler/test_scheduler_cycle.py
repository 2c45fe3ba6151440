"""The scheduling cycle without an API server: host selection, failure messages,
percentage of nodes to score, assume and bind through a profile's plugins."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kubelite.api.core_v1 import Node, Pod
from kubelite.client.clock import FakeClock
from kubelite.scheduler.config import (
    ConfigError,
    PluginRef,
    PluginSet,
    Profile,
    SchedulerConfiguration,
    default_profile,
    merge_with_defaults,
    parse_configuration,
)
from kubelite.scheduler.framework import CycleState, FitError, Framework, PodInfo, Status
from kubelite.scheduler.registry import in_tree_registry
from kubelite.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find


def node(name: str, cpu: str = "4", taints: list | None = None, labels: dict | None = None) -> Node:
    return msgspec.convert(
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
        },
        Node,
    )


def pod(name: str, cpu: str = "1", **spec: Any) -> Pod:
    return msgspec.convert(
        {
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}], **spec},
        },
        Pod,
    )


class RecordingBinder:
    name = "RecordingBinder"

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}

    async def bind(self, state: CycleState, p: Pod, node_name: str) -> Status | None:
        self.bound[p.metadata.name] = node_name
        return None


def make_scheduler(
    extra_disabled: tuple[str, ...] = ("DefaultPreemption",),
) -> tuple[Scheduler, RecordingBinder]:
    binder = RecordingBinder()
    registry = {**in_tree_registry(), "RecordingBinder": lambda args, handle: binder}
    plugins = merge_with_defaults(
        {
            "multiPoint": PluginSet(disabled=[PluginRef(n) for n in ("DefaultBinder", *extra_disabled)]),
            "bind": PluginSet(enabled=[PluginRef("RecordingBinder")]),
        }
    )
    config = SchedulerConfiguration(profiles=[Profile(plugins=plugins)])
    sched = Scheduler(None, config, FakeClock(), registry=registry, leader_elect=False)
    sched.setup()
    return sched, binder


def test_fit_error_message_is_kubernetes_wording() -> None:
    sched, _ = make_scheduler()
    sched.cache.add_node(node("small", cpu="1"))
    for name in ("gpu-1", "gpu-2"):
        sched.cache.add_node(
            node(name, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
        )
    sched.cache.update_snapshot(sched.snapshot)
    fwk = sched.frameworks["default-scheduler"]
    p = pod("p", cpu="2")
    from kubelite.scheduler.nodeinfo import PodInfo

    with pytest.raises(FitError) as e:
        sched.schedule_pod(fwk, CycleState(PodInfo(p)), p)
    assert str(e.value) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
    )
    assert e.value.diagnosis.unschedulable_plugins == {"NodeResourcesFit", "TaintToleration"}
    e.value.diagnosis.post_filter_msg = (
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    assert str(e.value) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


async def test_schedule_one_assumes_binds_and_spreads() -> None:
    sched, binder = make_scheduler()
    for i in range(3):
        sched.cache.add_node(node(f"n{i}"))
    q = sched.queue
    assert q is not None
    for i in range(6):
        q.add(pod(f"p{i}"))
    while (qpi := q.pop_nowait()) is not None:
        await sched.schedule_one(qpi)
    assert sorted(binder.bound.values()) == ["n0", "n0", "n1", "n1", "n2", "n2"]  # LeastAllocated spreads
    assert all(len(ni.pods) == 2 for ni in sched.cache.nodes.values())
    assert sched.scheduled == 6


async def test_unschedulable_pod_is_parked_with_its_plugins() -> None:
    sched, binder = make_scheduler()
    sched.cache.add_node(node("n0", cpu="1"))
    q = sched.queue
    assert q is not None
    q.add(pod("big", cpu="2"))
    q.move_request_cycle = -100
    qpi = q.pop_nowait()
    assert qpi is not None
    q.move_request_cycle = -100
    await sched.schedule_one(qpi)
    assert binder.bound == {}
    assert q.unschedulable["ns/big"].unschedulable_plugins == {"NodeResourcesFit"}


@pytest.mark.parametrize(
    ("percentage", "nodes", "want"),
    [
        (None, 50, 50),
        (None, 150, 100),
        (None, 1000, 420),
        (None, 5000, 500),
        (None, 10000, 500),
        (30, 1000, 300),
        (100, 1000, 1000),
    ],
)
def test_num_feasible_nodes_to_find(percentage: int | None, nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def test_filter_start_rotates() -> None:
    sched, _ = make_scheduler()
    for i in range(300):
        sched.cache.add_node(node(f"n{i:03}"))
    sched.cache.update_snapshot(sched.snapshot)
    fwk = sched.frameworks["default-scheduler"]
    from kubelite.scheduler.framework import Diagnosis
    from kubelite.scheduler.nodeinfo import PodInfo

    p = pod("p")
    state = CycleState(PodInfo(p))
    fwk.run_pre_filter_plugins(state, p, sched.snapshot.list())
    first = sched._find_nodes_that_pass_filters(fwk, state, p, sched.snapshot.list(), Diagnosis())
    second = sched._find_nodes_that_pass_filters(fwk, state, p, sched.snapshot.list(), Diagnosis())
    assert len(first) == len(second) == 144  # 300 nodes: (50 - 300/125)% = 48%
    assert (
        first[0].name == "n000" and second[0].name == "n144"
    )  # the next cycle starts where this one stopped


def test_default_profile_plugins_and_weights() -> None:
    fwk = Framework(default_profile(), in_tree_registry())
    names = {point: [p.name for p in plugins] for point, plugins in fwk.points.items()}
    assert names["queueSort"] == ["PrioritySort"]
    assert names["bind"] == ["DefaultBinder"]
    assert names["filter"][:6] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
    ]
    assert fwk.score_weights["TaintToleration"] == 3 and fwk.score_weights["NodeAffinity"] == 2
    assert fwk.score_weights["NodeResourcesFit"] == 1 and fwk.score_weights["ImageLocality"] == 1


def test_configuration_file() -> None:
    cfg = parse_configuration(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "percentageOfNodesToScore": 20,
            "profiles": [
                {"schedulerName": "default-scheduler"},
                {
                    "schedulerName": "packer",
                    "plugins": {
                        "score": {
                            "disabled": [{"name": "NodeResourcesBalancedAllocation"}],
                            "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                        }
                    },
                    "pluginConfig": [
                        {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
                    ],
                },
            ],
        }
    )
    assert cfg.percentage_of_nodes_to_score == 20
    fwk = Framework(cfg.profile("packer"), in_tree_registry())  # type: ignore[arg-type]
    assert "NodeResourcesBalancedAllocation" not in [p.name for p in fwk.score_plugins]
    assert fwk.score_weights["NodeResourcesFit"] == 5
    assert fwk.plugins["NodeResourcesFit"].strategy == "MostAllocated"
    with pytest.raises(ConfigError):
        parse_configuration({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]})
    with pytest.raises(ConfigError):
        Framework(
            Profile(plugins=merge_with_defaults({"filter": PluginSet(enabled=[PluginRef("NoSuchPlugin")])})),
            in_tree_registry(),
        )


def test_one_pod_informer_routes_by_node_name() -> None:
    """The handlers of the scheduler's one pod informer: a pending pod is the queue's, its
    binding (an update that sets spec.nodeName) makes it the cache's, a delete goes by the
    pod's last state."""
    sched, _ = make_scheduler()
    sched.on_node_add(node("n1"))
    pending = pod("p")
    sched.on_pod_add(pending)
    assert [p.metadata.name for p in sched._q().pending_pods()] == ["p"]
    bound = msgspec.structs.replace(pending, spec=msgspec.structs.replace(pending.spec, nodeName="n1"))
    sched.on_pod_update(pending, bound)
    assert sched._q().pending_pods() == []
    assert sched.cache.get_pod(bound) is bound and not sched.cache.is_assumed(bound)
    sched.on_pod_update(bound, bound)
    sched.on_pod_delete(bound)
    assert sched.cache.get_pod(bound) is None
    other = pod("q")
    sched.on_pod_add(other)
    sched.on_pod_delete(other)
    assert sched._q().pending_pods() == []


class NodeLocalScore:
    """A node-local Score plugin scoring each node by a table (out of range when told to)."""

    name = "TableScore"
    node_local_score = True

    def __init__(self, scores: dict[str, int]) -> None:
        self.scores = scores

    def score_nodes(self, state: CycleState, p: Pod, nodes: list[Any]) -> tuple[list[int], Status | None]:
        return [self.scores.get(ni.name, 0) for ni in nodes], None

    def score(self, state: CycleState, p: Pod, ni: Any) -> tuple[int, Status | None]:
        return self.scores.get(ni.name, 0), None


def test_node_local_scores_summed_in_one_table_decide_and_fail_as_plugin_by_plugin() -> None:
    table = NodeLocalScore({"n1": 10, "n2": 90, "n3": 50})
    registry = {**in_tree_registry(), "TableScore": lambda args, handle: table}
    plugins = merge_with_defaults(
        {"score": PluginSet(enabled=[PluginRef("TableScore", weight=3)]), "multiPoint": PluginSet()}
    )
    config = SchedulerConfiguration(profiles=[Profile(plugins=plugins)])
    sched = Scheduler(None, config, FakeClock(), registry=registry, leader_elect=False)
    sched.setup()
    for n in ("n1", "n2", "n3"):
        sched.cache.add_node(node(n))
    fwk = sched.frameworks["default-scheduler"]
    summed = [pl.name for pl in fwk.score_plugins if getattr(pl, "node_local_score", False)]
    assert {"TableScore", "NodeResourcesFit", "NodeResourcesBalancedAllocation"} <= set(summed)

    def schedule(p: Pod) -> str:
        sched.cache.update_snapshot(sched.snapshot)
        return sched.schedule_pod(fwk, CycleState(PodInfo(p)), p)

    assert schedule(pod("a")) == "n2"
    assert any(memo.sums for memo in sched._kind_memos.values())  # by the one table
    table.scores["n2"] = 0  # the plugin changed its mind: only nodes whose state changed ask again
    sched.cache.update_node(None, node("n2", cpu="4"))
    assert schedule(pod("b")) == "n3"
    table.scores["n1"] = 101
    sched.cache.update_node(None, node("n1", cpu="4"))
    with pytest.raises(RuntimeError, match="plugin 'TableScore' returns an invalid score 101"):
        schedule(pod("c"))
