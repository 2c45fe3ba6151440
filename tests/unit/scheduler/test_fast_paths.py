"""The scheduler's fast paths decide as the plain ones do.

Filter and Score plugins answer batches through ``filter_nodes`` and
``score_nodes``, which skip work using facts kept on the NodeInfo (free
resources, taint and cordon flags, memoized scores). Here a random cluster
is scheduled twice, once with the plugins as they are and once with their
batch methods hidden (so the framework calls ``filter`` and ``score`` node
by node), and every placement, failure message and batch answer must agree.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
import numpy as np
import pytest

from kubelite.api.core_v1 import Node, Pod
from kubelite.client.clock import FakeClock
from kubelite.scheduler.framework import CycleState, FitError, Framework, NodeInfo, PodInfo, Status
from kubelite.scheduler.registry import in_tree_registry
from kubelite.scheduler.scheduler import Scheduler

ZONE = "topology.kubernetes.io/zone"
IMAGES = ["registry.k8s.io/pause:3.10", "nginx:1.27", "redis:7"]
DISKS = ["ssd", "hdd", "nvme"]


class PerNode:
    """A plugin without its batch methods: the framework then calls filter/score per node (and
    the scheduler does not keep its Filter answers by node state)."""

    def __init__(self, plugin: Any) -> None:
        self._plugin = plugin
        self.name = plugin.name

    def __getattr__(self, attr: str) -> Any:
        if attr in (
            "filter_nodes",
            "score_nodes",
            "node_local_filter",
            "node_local_score",
            "score_positions",
            "filter_positions",
            "normalize_scores_array",
            "pre_score_reads_nodes",
        ):
            raise AttributeError(attr)
        return getattr(self._plugin, attr)


def per_node_registry() -> dict[str, Any]:
    return {
        name: (lambda args, handle, factory=factory: PerNode(factory(args, handle)))
        for name, factory in in_tree_registry().items()
    }


def random_node(rng: random.Random, i: int) -> Node:
    taints = []
    if rng.random() < 0.15:
        taints.append({"key": "dedicated", "value": rng.choice(["gpu", "db"]), "effect": "NoSchedule"})
    if rng.random() < 0.2:
        taints.append({"key": "spot", "value": "true", "effect": "PreferNoSchedule"})
    if rng.random() < 0.05:
        taints.append({"key": "flaky", "value": "", "effect": "NoExecute"})
    allocatable = {
        "cpu": rng.choice(["0", "500m", "1", "2", "4"]),
        "memory": rng.choice(["0", "512Mi", "1Gi", "4Gi"]),
        "pods": str(rng.choice([0, 2, 5, 110])),
    }
    if rng.random() < 0.3:
        allocatable["ephemeral-storage"] = rng.choice(["1Gi", "10Gi"])
    if rng.random() < 0.1:
        allocatable["example.com/gpu"] = str(rng.choice([1, 2]))
    images = []
    if rng.random() < 0.3:
        images = [
            {"names": [img], "sizeBytes": rng.choice([10, 300, 800]) << 20} for img in rng.sample(IMAGES, 2)
        ]
    return msgspec.convert(
        {
            "metadata": {
                "name": f"n{i}",
                "labels": {
                    "kubernetes.io/hostname": f"n{i}",
                    ZONE: f"z{i % 3}",
                    **({"disk": rng.choice(DISKS)} if rng.random() < 0.85 else {}),
                },
            },
            "spec": {"taints": taints, "unschedulable": rng.random() < 0.1},
            "status": {"allocatable": allocatable, "images": images},
        },
        Node,
    )


def random_pod(rng: random.Random, i: int) -> Pod:
    requests: dict[str, str] = {}
    if rng.random() < 0.8:
        requests["cpu"] = rng.choice(["50m", "100m", "300m", "1"])
    if rng.random() < 0.7:
        requests["memory"] = rng.choice(["64Mi", "256Mi", "1Gi"])
    if rng.random() < 0.1:
        requests["ephemeral-storage"] = "2Gi"
    if rng.random() < 0.05:
        requests["example.com/gpu"] = "1"
    tolerations = []
    if rng.random() < 0.3:
        tolerations.append({"key": "dedicated", "operator": "Exists"})
    if rng.random() < 0.3:
        tolerations.append(
            {"key": "spot", "operator": "Equal", "value": "true", "effect": "PreferNoSchedule"}
        )
    if rng.random() < 0.1:
        tolerations.append({"key": "node.kubernetes.io/unschedulable", "operator": "Exists"})
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "image": rng.choice(IMAGES), "resources": {"requests": requests}}],
        "tolerations": tolerations,
    }
    labels = {"app": rng.choice(["web", "db"])}
    affinity: dict[str, Any] = {}
    if rng.random() < 0.2:  # keep away from pods of the same app, per node or per zone
        key = rng.choice(["kubernetes.io/hostname", ZONE])
        term = {"labelSelector": {"matchLabels": {"app": labels["app"]}}, "topologyKey": key}
        affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    r = rng.random()
    if r < 0.1:  # near pods of the other app, in its zone (scored for the pods placed after it)
        other = "db" if labels["app"] == "web" else "web"
        term = {"labelSelector": {"matchLabels": {"app": other}}, "topologyKey": ZONE}
        affinity["podAffinity"] = {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "podAffinityTerm": term}]
        }
    elif r < 0.15:
        term = {"labelSelector": {"matchLabels": {"app": labels["app"]}}, "topologyKey": ZONE}
        affinity["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    if rng.random() < 0.25:  # required node affinity on a label that node updates change
        disks = rng.sample(DISKS, rng.choice([1, 2]))
        expr = {"key": "disk", "operator": rng.choice(["In", "NotIn"]), "values": disks}
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expr]}]
            }
        }
    elif rng.random() < 0.1:
        spec["nodeSelector"] = {"disk": rng.choice(DISKS)}
    elif rng.random() < 0.1:  # pinned to some nodes by name: PreFilter narrows the nodes to filter
        names = [f"n{rng.randrange(110)}" for _ in range(rng.choice([1, 3, 20]))]
        terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]} for n in names]
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    if affinity:
        spec["affinity"] = affinity
    if rng.random() < 0.2:  # spread the app over disk kinds (a label node updates change) or zones
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": rng.choice([1, 2]),
                "topologyKey": rng.choice(["disk", ZONE]),
                "whenUnsatisfiable": rng.choice(["DoNotSchedule", "ScheduleAnyway"]),
                "labelSelector": {"matchLabels": {"app": labels["app"]}},
            }
        ]
    return msgspec.convert(
        {"metadata": {"name": f"p{i}", "namespace": "ns", "uid": f"uid-{i}", "labels": labels}, "spec": spec},
        Pod,
    )


def same(a: Status | None, b: Status | None) -> bool:
    if a is None or b is None:
        return (a is None or a.is_success()) and (b is None or b.is_success())
    return a.code == b.code and a.reasons == b.reasons


def check_batches(sched: Scheduler, pod: Pod, nodes: list[NodeInfo]) -> None:
    """Each plugin's batch answers equal its per-node answers, over every node of the snapshot."""
    fwk = sched.frameworks["default-scheduler"]
    state = CycleState(PodInfo(pod))
    fwk.run_pre_filter_plugins(state, pod, nodes)
    for pl in fwk.filter_plugins:
        if pl.name in state.skip_filter_plugins or not hasattr(pl, "filter_nodes"):
            continue
        batch = pl.filter_nodes(state, pod, nodes)
        single = [pl.filter(state, pod, ni) for ni in nodes]
        assert all(same(a, b) for a, b in zip(batch, single, strict=True)), pl.name
    fwk.run_pre_score_plugins(state, pod, nodes)
    for pl in fwk.score_plugins:
        if pl.name in state.skip_score_plugins or not hasattr(pl, "score_nodes"):
            continue
        for _ in range(2):  # the second time from the memo
            batch, st = pl.score_nodes(state, pod, nodes)
            assert st is None
            assert batch == [pl.score(state, pod, ni)[0] for ni in nodes], pl.name
    check_against_fresh_plugins(fwk, pod, nodes)
    check_spread_filter(fwk, pod, nodes)


def check_spread_filter(fwk: Framework, pod: Pod, nodes: list[NodeInfo]) -> None:
    """PodTopologySpread's Filter equals the skew rule worked out node by node."""
    from kubelite.scheduler.plugins import podtopologyspread as pts

    plugin = fwk.plugins["PodTopologySpread"]
    state = CycleState(PodInfo(pod))
    _, st = plugin.pre_filter(state, pod, nodes)
    if st is not None:
        return
    s: Any = state.get(pts._PRE_FILTER_KEY)
    limits = s.limits()
    want = []
    for ni in nodes:
        labels = ni.node.metadata.labels if ni.node is not None else {}
        answer = None
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                answer = pts._MISSING_LABEL
                break
            if s.counts[i].get(value, 0) > limits[i]:
                answer = pts._NOT_MATCH
                break
        want.append(answer)
    for _ in range(2):  # the second time with the nodes' domains known
        assert plugin.filter_nodes(state, pod, nodes) == want
    # By snapshot position (the nodes are the whole snapshot, in its order).
    assert nodes == fwk.snapshot.infos
    answer = plugin.filter_positions(state, pod, fwk.snapshot, np.arange(len(nodes)))
    if answer is not None:
        ok, status_at = answer
        got = [None if passed else status_at(i) for i, passed in enumerate(ok.tolist())]
        assert got == want
    else:
        assert len(s.constraints) > 1


def check_against_fresh_plugins(fwk: Framework, pod: Pod, nodes: list[NodeInfo]) -> None:
    """The plugins' counts and answers kept across cycles (per node generation, per node, per
    selector) equal those of new plugins that count everything afresh."""
    fresh = Framework(fwk.profile, in_tree_registry(), clock=fwk.clock)
    fresh.snapshot = fwk.snapshot
    answers = []
    for f in (fwk, fresh):
        state = CycleState(PodInfo(pod))
        _, st, _ = f.run_pre_filter_plugins(state, pod, nodes)
        filtered = [f.run_filter_plugins(state, pod, ni) for ni in nodes] if st is None else st
        batches = [fn(state, pod, nodes) for _, fn in f.filter_functions(state)] if st is None else []
        assert f.run_pre_score_plugins(state, pod, nodes) is None
        totals, st = f.run_score_plugins(state, pod, nodes)
        assert st is None
        answers.append((filtered, batches, totals))
    (filtered, batches, totals), (fresh_filtered, fresh_batches, fresh_totals) = answers
    assert totals == fresh_totals
    check_inter_pod_affinity_state(fwk, pod, nodes)
    if isinstance(filtered, list):
        assert all(same(a, b) for a, b in zip(filtered, fresh_filtered, strict=True))
        for mine, theirs in zip(batches, fresh_batches, strict=True):
            assert all(same(a, b) for a, b in zip(mine, theirs, strict=True))
    else:
        assert same(filtered, fresh_filtered)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_paths_place_pods_as_the_per_node_paths(seed: int) -> None:
    rng = random.Random(seed)
    fast = Scheduler(None, clock=FakeClock(), leader_elect=False, rng=random.Random(seed))
    slow = Scheduler(
        None, clock=FakeClock(), registry=per_node_registry(), leader_elect=False, rng=random.Random(seed)
    )
    nodes = [random_node(rng, i) for i in range(100)]
    for s in (fast, slow):
        s.setup()
        for n in nodes:
            s.cache.add_node(n)
    placed: list[Pod] = []
    outcomes = {"placed": 0, "failed": 0}
    for i in range(400):
        pod = random_pod(rng, i)
        hosts = []
        for s in (fast, slow):
            s.cache.update_snapshot(s.snapshot)
            fwk = s.frameworks["default-scheduler"]
            state = CycleState(PodInfo(pod))
            try:
                hosts.append(s.schedule_pod(fwk, state, pod))
            except FitError as e:
                hosts.append(f"FitError: {e}")
        assert hosts[0] == hosts[1], f"pod {i}"
        if i % 20 == 0:
            check_batches(fast, pod, fast.snapshot.list())
        if hosts[0].startswith("FitError"):
            outcomes["failed"] += 1
        else:
            outcomes["placed"] += 1
            bound = msgspec.structs.replace(pod, spec=msgspec.structs.replace(pod.spec, nodeName=hosts[0]))
            for s in (fast, slow):
                s.cache.assume_pod(bound)
            placed.append(bound)
        # Churn, so that memoized scores and kept facts must follow changes.
        r = rng.random()
        if r < 0.08 and placed:
            gone = placed.pop(rng.randrange(len(placed)))
            for s in (fast, slow):
                s.cache.remove_pod(gone)
        elif r < 0.16:
            j = rng.randrange(len(nodes))
            old = nodes[j]
            nodes[j] = random_node(rng, int(old.metadata.name.removeprefix("n")))
            for s in (fast, slow):
                s.cache.update_node(old, nodes[j])
        elif r < 0.18:  # a node comes or goes: the snapshot's positions change (a new layout)
            if len(nodes) > 90 and rng.random() < 0.5:
                gone_node = nodes.pop(rng.randrange(len(nodes)))
                for s in (fast, slow):
                    s.cache.remove_node(gone_node)
            else:
                nodes.append(random_node(rng, 100 + i))
                for s in (fast, slow):
                    s.cache.add_node(nodes[-1])
    # The cluster is neither empty nor trivially full: both outcomes happen often.
    assert outcomes["placed"] > 50 and outcomes["failed"] > 20, outcomes


def test_memoized_scores_follow_changes_of_the_node_info() -> None:
    from kubelite.scheduler.plugins.balancedallocation import BalancedAllocation
    from kubelite.scheduler.plugins.noderesources import NodeResourcesFit

    rng = random.Random(7)
    ni = NodeInfo(random_node(rng, 0))
    while not (ni.allocatable.milli_cpu and ni.allocatable.memory):
        ni = NodeInfo(random_node(rng, 0))
    pod = msgspec.convert(
        {
            "metadata": {"name": "p", "namespace": "ns", "uid": "p"},
            "spec": {
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]
            },
        },
        Pod,
    )
    plugins = [NodeResourcesFit({}), BalancedAllocation({})]
    state = CycleState(PodInfo(pod))
    for pl in plugins:
        pl.pre_score(state, pod, [ni])
    for i in range(3):
        for pl in plugins:
            assert pl.score_nodes(state, pod, [ni])[0] == [pl.score(state, pod, ni)[0]]
        ni.add_pod(PodInfo(random_pod(rng, i)))
    ni.set_node(random_node(rng, 0))
    for pl in plugins:
        assert pl.score_nodes(state, pod, [ni])[0] == [pl.score(state, pod, ni)[0]]


def test_remembered_answers_follow_changes_of_some_nodes() -> None:
    """Whole answers kept per run of nodes are right after one, a few or many of the nodes
    changed in place, and for clones (which share the state, and so the memo token)."""
    from kubelite.scheduler.plugins.balancedallocation import BalancedAllocation
    from kubelite.scheduler.plugins.noderesources import NodeResourcesFit

    rng = random.Random(11)
    nodes = []
    while len(nodes) < 12:
        ni = NodeInfo(random_node(rng, len(nodes)))
        if ni.allocatable.milli_cpu and ni.allocatable.memory:
            nodes.append(ni)
    pod = random_pod(rng, 0)
    plugins = [NodeResourcesFit({}), BalancedAllocation({})]
    state = CycleState(PodInfo(pod))
    for pl in plugins:
        pl.pre_score(state, pod, nodes)
    for changed in (0, 1, 2, 6, 12, 0):
        for ni in rng.sample(nodes, changed):
            ni.add_pod(PodInfo(random_pod(rng, changed)))
        for batch in (nodes, [ni.clone() for ni in nodes], nodes[3:]):
            for pl in plugins:
                assert pl.score_nodes(state, pod, batch)[0] == [pl.score(state, pod, ni)[0] for ni in batch]


def check_inter_pod_affinity_state(fwk: Framework, pod: Pod, nodes: list[NodeInfo]) -> None:
    """InterPodAffinity's counts kept across cycles equal a plain walk over every node's pods."""
    from kubelite.scheduler.plugins import interpodaffinity as ipa

    plugin = fwk.plugins["InterPodAffinity"]
    state = CycleState(PodInfo(pod))
    plugin.pre_filter(state, pod, nodes)
    pre: Any = state.get(ipa._PRE_FILTER_KEY)
    if pre is not None:
        assert pre.existing_anti_keys == {key for key, _ in pre.existing_anti_affinity_counts}
        expected: dict[tuple[str, str], int] = {}
        for ni in nodes:
            labels = ni.node.metadata.labels if ni.node is not None else {}
            for existing in ni.pods:
                for term in existing.required_anti_affinity_terms:
                    value = labels.get(term.topology_key)
                    if value is not None and term.matches(pod, None):
                        pair = (term.topology_key, value)
                        expected[pair] = expected.get(pair, 0) + 1
        assert pre.existing_anti_affinity_counts == expected
    pi = PodInfo(pod)
    if pi.preferred_affinity_terms or pi.preferred_anti_affinity_terms:
        return  # scored by a walk over every pod each time: nothing kept
    st = plugin.pre_score(state, pod, nodes)
    walked = ipa._PreScoreState()
    for ni in nodes:
        if ni.node is not None and ni.node.metadata.labels:
            ipa._score_existing(walked, ni.pods, pod, None, ni.node.metadata.labels, 1, False)
    want = {(k, v): n for k, by_value in walked.scores.items() for v, n in by_value.items() if n}
    got_state: Any = state.get(ipa._PRE_SCORE_KEY)
    got = (
        {}
        if got_state is None
        else {(k, v): n for k, by_value in got_state.scores.items() for v, n in by_value.items() if n}
    )
    assert got == want
    assert (st is not None) == (not want)
