"""DefaultPreemption: Kubernetes' cases for eligibility, victim selection on a
node (fewest, lowest priority, PDB-protected pods reprieved first) and the
choice between candidate nodes (PDB violations, highest victim priority, sum
of priorities, number of victims, start time), the priority and policy it reads
and what post_filter writes."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import msgspec

from kubelite.api.core_v1 import Node, Pod
from kubelite.api.policy_v1 import PodDisruptionBudget
from kubelite.scheduler.interface import Code, CycleState, NodeToStatus, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubelite.scheduler.plugins import defaultpreemption as dp
from kubelite.scheduler.plugins import interpodaffinity as ipa

INSUFFICIENT_CPU = Status.unschedulable("Insufficient cpu")


def node(name: str, cpu: str = "2") -> Node:
    return msgspec.convert(
        {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
        },
        Node,
    )


def pod(
    name: str,
    node_name: str = "",
    cpu: str = "1",
    priority: int | None = 0,
    start: str = "2024-01-01T00:00:00Z",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Pod:
    return msgspec.convert(
        {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels or {}},
            "spec": {
                "nodeName": node_name,
                "priority": priority,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
                **spec,
            },
            "status": {"startTime": start},
        },
        Pod,
    )


def pdb(
    name: str, labels: dict[str, str], allowed: int, disrupted: tuple[str, ...] = ()
) -> PodDisruptionBudget:
    return msgspec.convert(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels}},
            "status": {
                "disruptionsAllowed": allowed,
                "disruptedPods": {p: "2024-01-01T00:00:00Z" for p in disrupted},
            },
        },
        PodDisruptionBudget,
    )


class FakeInformer:
    def __init__(self, objs: list[Any]) -> None:
        self.objs = objs

    def list(self) -> list[Any]:
        return self.objs

    def get(self, key: str) -> Any:
        return next((o for o in self.objs if o.metadata.name == key), None)


class FakeNominator:
    def __init__(self) -> None:
        self.nominated: dict[str, list[PodInfo]] = {}

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return self.nominated.get(node_name, [])


class FakeHandle:
    """The framework as preemption sees it: a CPU-fit filter, optionally InterPodAffinity."""

    def __init__(
        self,
        pods: list[Pod],
        nodes: list[Node],
        pdbs: list[PodDisruptionBudget] = (),  # type: ignore[assignment]
        affinity: bool = False,
    ) -> None:
        self.snapshot = Snapshot.from_objects(pods, nodes)
        kinds: dict[str, list[Any]] = {
            "PodDisruptionBudget": list(pdbs),
            "Namespace": [],
        }
        self.informer_factory = SimpleNamespace(
            informer_for=lambda res, *a, **k: FakeInformer(kinds[res.kind])
        )
        self.nominator = FakeNominator()
        self.evicted: list[tuple[str, str, str]] = []
        self.cleared: list[str] = []
        self.affinity = (
            ipa.new({}, SimpleNamespace(snapshot_shared_lister=lambda: self.snapshot)) if affinity else None
        )

    def snapshot_shared_lister(self) -> Snapshot:
        return self.snapshot

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: Pod, ni: NodeInfo
    ) -> Status | None:
        if self.affinity is not None:
            st = self.affinity.filter(state, pod, ni)
            if st is not None:
                return st
        want = PodInfo(pod).requests.milli_cpu
        if ni.requested.milli_cpu + want > ni.allocatable.milli_cpu:
            return INSUFFICIENT_CPU
        return None

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: Pod, pi: PodInfo, ni: NodeInfo
    ) -> Status | None:
        return self.affinity.add_pod(state, pod, pi, ni) if self.affinity is not None else None

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: Pod, pi: PodInfo, ni: NodeInfo
    ) -> Status | None:
        return self.affinity.remove_pod(state, pod, pi, ni) if self.affinity is not None else None

    async def evict_pod(self, victim: Pod, preemptor: Pod, node_name: str) -> None:
        self.evicted.append((victim.metadata.name, preemptor.metadata.name, node_name))

    async def clear_nominated_node_name(self, p: Pod) -> None:
        self.cleared.append(p.metadata.name)


def plugin_for(handle: FakeHandle, **args: Any) -> dp.DefaultPreemption:
    return dp.DefaultPreemption(args, handle, rng=random.Random(0))


def all_unschedulable(handle: FakeHandle) -> NodeToStatus:
    return NodeToStatus({ni.name: INSUFFICIENT_CPU for ni in handle.snapshot.list()})


def dry_run(handle: FakeHandle, incoming: Pod, statuses: NodeToStatus | None = None) -> tuple[Any, Any]:
    plugin = plugin_for(handle)
    state = CycleState()
    if handle.affinity is not None:
        handle.affinity.pre_filter(state, incoming, handle.snapshot.list())
    return plugin.preempt_dry_run(state, incoming, statuses or all_unschedulable(handle))


def victims_of(result: Any) -> tuple[str, list[str]]:
    victims, status = result
    assert status is None, status
    return victims.node_name, [p.pod.metadata.name for p in victims.pods]


def test_preemption_policy_never() -> None:
    handle = FakeHandle([pod("low", "n1", priority=0)], [node("n1", "1")])
    incoming = pod("p", priority=100, preemptionPolicy="Never")
    victims, status = dry_run(handle, incoming)
    assert victims is None
    assert status.code == Code.UNSCHEDULABLE
    assert status.reasons == ["preemption: not eligible due to preemptionPolicy=Never."]


def test_terminating_victim_on_the_nominated_node_blocks_a_second_preemption() -> None:
    terminating = pod("low", "n1", priority=0)
    terminating.metadata.deletionTimestamp = "2024-01-01T00:00:01Z"
    handle = FakeHandle([terminating], [node("n1", "1")])
    incoming = pod("p", priority=100)
    incoming.status.nominatedNodeName = "n1"
    _, status = dry_run(handle, incoming)
    assert status.reasons == ["preemption: not eligible due to a terminating pod on the nominated node."]


def test_messages_when_nothing_can_be_preempted() -> None:
    handle = FakeHandle(
        [pod("high", "n1", priority=500), pod("x", "n2", priority=0)],
        [node("n1", "1"), node("n2", "1"), node("n3", "1")],
    )
    statuses = NodeToStatus(
        {
            "n1": INSUFFICIENT_CPU,
            "n2": INSUFFICIENT_CPU,
            "n3": Status.unresolvable("node(s) didn't match Pod's node affinity/selector"),
        }
    )
    # n1 holds only a more important pod; on n2 removing the victim does not make room for 2 cpus.
    _, status = dry_run(handle, pod("p", cpu="2", priority=100), statuses)
    assert status.reasons == [
        "preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    ]


def test_only_needed_victims_lowest_priority_first() -> None:
    existing = [pod("a", "n1", priority=1), pod("b", "n1", priority=2)]
    handle = FakeHandle(existing, [node("n1", "2")])
    assert victims_of(dry_run(handle, pod("p", priority=10))) == ("n1", ["a"])
    # Needing two cpus takes both, most important first.
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=10))) == ("n1", ["b", "a"])


def test_equal_or_higher_priority_pods_are_never_victims() -> None:
    existing = [pod("a", "n1", priority=10), pod("b", "n1", priority=5)]
    handle = FakeHandle(existing, [node("n1", "2")])
    assert victims_of(dry_run(handle, pod("p", priority=10))) == ("n1", ["b"])
    _, status = dry_run(handle, pod("p", cpu="2", priority=10))
    assert status.reasons == ["preemption: 0/1 nodes are available: 1 Insufficient cpu."]


def test_node_with_lowest_highest_victim_priority() -> None:
    existing = [
        pod("a", "n1", priority=10),
        pod("b", "n1", priority=1),
        pod("c", "n2", priority=5),
        pod("d", "n2", priority=5),
    ]
    handle = FakeHandle(existing, [node("n1"), node("n2")])
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=100))) == ("n2", ["c", "d"])


def test_node_with_lowest_sum_of_priorities() -> None:
    existing = [
        pod("a", "n1", cpu="1", priority=5),
        pod("b", "n1", cpu="1", priority=5),
        pod("c", "n2", cpu="1", priority=5),
        pod("d", "n2", cpu="1", priority=1),
    ]
    handle = FakeHandle(existing, [node("n1"), node("n2")])
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=100))) == ("n2", ["c", "d"])


def test_node_with_fewest_victims() -> None:
    existing = [
        pod("a", "n1", cpu="500m", priority=5),
        pod("b", "n1", cpu="500m", priority=5),
        pod("c", "n2", cpu="1", priority=5),
    ]
    handle = FakeHandle(existing, [node("n1", "1"), node("n2", "1")])
    # Same highest victim priority; n1 needs two pods gone, n2 one (the shifted sum already prefers it).
    assert victims_of(dry_run(handle, pod("p", cpu="1", priority=100))) == ("n2", ["c"])


def test_node_whose_highest_priority_victims_started_latest() -> None:
    existing = [
        pod("old", "n1", priority=5, cpu="2", start="2024-01-01T00:00:00Z"),
        pod("new", "n2", priority=5, cpu="2", start="2024-06-01T00:00:00Z"),
    ]
    handle = FakeHandle(existing, [node("n1"), node("n2")])
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=100))) == ("n2", ["new"])


def test_fewest_pdb_violations_come_first() -> None:
    existing = [
        pod("guarded", "n1", priority=1, cpu="2", labels={"app": "db"}),
        pod("free", "n2", priority=50, cpu="2", labels={"app": "web"}),
    ]
    handle = FakeHandle(existing, [node("n1"), node("n2")], pdbs=[pdb("db", {"app": "db"}, 0)])
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=100))) == ("n2", ["free"])
    # When every node violates, the violation is counted and still allowed.
    handle = FakeHandle(existing[:1], [node("n1")], pdbs=[pdb("db", {"app": "db"}, 0)])
    victims, status = dry_run(handle, pod("p", cpu="2", priority=100))
    assert status is None and victims.num_pdb_violations == 1


def test_pdb_protected_pods_are_reprieved_first() -> None:
    existing = [
        pod("guarded", "n1", priority=1, labels={"app": "db"}),
        pod("other", "n1", priority=5, labels={"app": "web"}),
    ]
    handle = FakeHandle(existing, [node("n1")], pdbs=[pdb("db", {"app": "db"}, 0)])
    # Without the PDB "guarded" (lower priority) would go; with it "other" is evicted instead.
    assert victims_of(dry_run(handle, pod("p", priority=100))) == ("n1", ["other"])
    allowing = FakeHandle(existing, [node("n1")], pdbs=[pdb("db", {"app": "db"}, 1)])
    assert victims_of(dry_run(allowing, pod("p", priority=100))) == ("n1", ["guarded"])
    # A pod the API server already counts as disrupted does not spend the budget again.
    counted = FakeHandle(existing, [node("n1")], pdbs=[pdb("db", {"app": "db"}, 0, disrupted=("guarded",))])
    assert victims_of(dry_run(counted, pod("p", priority=100))) == ("n1", ["guarded"])


def test_pdb_split_counts_the_budget_down() -> None:
    handle = FakeHandle([], [node("n1")])
    plugin = plugin_for(handle)
    pods = [PodInfo(pod(n, "n1", labels={"app": "db"})) for n in ("a", "b", "c")]
    budgets = {"default": [dp._Budget(pdb("db", {"app": "db"}, 1))]}
    violating, ok = plugin.split_by_pdb(pods, budgets)
    assert [p.pod.metadata.name for p in ok] == ["a"]
    assert [p.pod.metadata.name for p in violating] == ["b", "c"]
    # An empty selector matches nothing in preemption's reading of PDBs.
    empty = {
        "default": [
            dp._Budget(
                msgspec.convert(
                    {"metadata": {"name": "e", "namespace": "default"}, "spec": {"selector": {}}},
                    PodDisruptionBudget,
                )
            )
        ]
    }
    assert plugin.split_by_pdb(pods, empty)[0] == []


def test_priority_and_policy_are_what_admission_wrote() -> None:
    # The Priority admission plugin resolves the class into spec.priority and
    # spec.preemptionPolicy; the scheduler reads those alone (unset: 0, PreemptLowerPriority).
    handle = FakeHandle([pod("low", "n1", priority=None, cpu="2")], [node("n1")])
    plugin = plugin_for(handle)
    assert plugin.priority(pod("x", priority=None, priorityClassName="high")) == 0
    assert plugin.priority(pod("x", priority=3, priorityClassName="high")) == 3
    assert victims_of(dry_run(handle, pod("p", cpu="2", priority=1000))) == ("n1", ["low"])
    assert dry_run(handle, pod("p", cpu="2", priority=None))[1].reasons != []  # 0 preempts nothing
    polite = pod("p", cpu="2", priority=1000, preemptionPolicy="Never")
    assert dry_run(handle, polite)[1].reasons == ["preemption: not eligible due to preemptionPolicy=Never."]


def test_victims_of_inter_pod_affinity() -> None:
    # The incoming pod's anti-affinity is against a low-priority pod: evicting it makes room.
    enemy = pod("enemy", "n1", priority=0, cpu="100m", labels={"app": "enemy"})
    incoming = pod(
        "p",
        priority=100,
        cpu="100m",
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"app": "enemy"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        },
    )
    handle = FakeHandle([enemy, pod("bystander", "n1", priority=0, cpu="100m")], [node("n1")], affinity=True)
    assert victims_of(dry_run(handle, incoming)) == ("n1", ["enemy"])


def test_candidate_count() -> None:
    plugin = plugin_for(FakeHandle([], []))
    assert plugin.candidate_count(50) == 50
    assert plugin.candidate_count(5000) == 500
    assert (
        plugin_for(
            FakeHandle([], []), minCandidateNodesAbsolute=10, minCandidateNodesPercentage=0
        ).candidate_count(500)
        == 10
    )


async def test_post_filter_evicts_and_clears_lower_nominations() -> None:
    existing = [pod("a", "n1", priority=1, cpu="2"), pod("b", "n2", priority=50, cpu="2")]
    handle = FakeHandle(existing, [node("n1"), node("n2")])
    handle.nominator.nominated["n1"] = [
        PodInfo(pod("waiting-low", priority=2)),
        PodInfo(pod("waiting-high", priority=500)),
    ]
    plugin = plugin_for(handle)
    incoming = pod("p", cpu="2", priority=100)
    nominated, status = await plugin.post_filter(CycleState(), incoming, all_unschedulable(handle))
    assert (nominated, status) == ("n1", None)
    assert handle.evicted == [("a", "p", "n1")]
    assert handle.cleared == ["waiting-low"]


async def test_post_filter_failure_clears_the_pods_own_nomination() -> None:
    handle = FakeHandle([pod("a", "n1", priority=500, cpu="2")], [node("n1")])
    incoming = pod("p", cpu="2", priority=100)
    incoming.status.nominatedNodeName = "n1"
    nominated, status = await plugin_for(handle).post_filter(
        CycleState(), incoming, all_unschedulable(handle)
    )
    assert nominated is None and status is not None and status.code == Code.UNSCHEDULABLE
    assert handle.cleared == ["p"] and handle.evicted == []
