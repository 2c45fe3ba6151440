"""The filter and score plugins, with the cases Kubernetes' own tests cover."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kubelite.api.core_v1 import Node, Pod
from kubelite.scheduler.framework import Code, CycleState, NodeInfo, PodInfo, Snapshot
from kubelite.scheduler.nodeinfo import pod_requests
from kubelite.scheduler.plugins import (
    balancedallocation,
    imagelocality,
    nodeaffinity,
    nodename,
    nodeports,
    noderesources,
    nodeunschedulable,
    tainttoleration,
)


def make_pod(
    name: str = "p",
    requests: list[dict[str, str]] | None = None,
    init: list[dict[str, str]] | None = None,
    **spec: Any,
) -> Pod:
    containers = [
        {"name": f"c{i}", "image": "img", "resources": {"requests": r}}
        for i, r in enumerate(requests or [{}])
    ]
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns", "uid": name},
        "spec": {"containers": containers, **spec},
    }
    if init:
        body["spec"]["initContainers"] = [
            {"name": f"i{i}", "image": "img", "resources": {"requests": r}} for i, r in enumerate(init)
        ]
    return msgspec.convert(body, Pod)


def make_node(
    name: str = "n",
    cpu: str = "10",
    memory: str = "20",
    pods: str = "32",
    labels: dict | None = None,
    **extra: Any,
) -> Node:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **extra.pop("scalar", {})}
    body = {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": extra.pop("spec", {}),
        "status": {"allocatable": alloc, "capacity": alloc, **extra.pop("status", {})},
    }
    return msgspec.convert(body, Node)


def run_filter(plugin: Any, pod: Pod, ni: NodeInfo) -> Any:
    state = CycleState(PodInfo(pod))
    if hasattr(plugin, "pre_filter"):
        _, st = plugin.pre_filter(state, pod, [ni])
        if st is not None and st.code == Code.SKIP:
            return None
        if st is not None and st.code != Code.SUCCESS:
            return st
    return plugin.filter(state, pod, ni)


def reasons(st: Any) -> list[str]:
    return [] if st is None else st.reasons


# ------------------------------------------------------------ NodeResourcesFit


FIT = noderesources.new({}, None)


@pytest.mark.parametrize(
    ("pod", "existing", "want"),
    [
        (make_pod(), [make_pod("e", [{"cpu": "10", "memory": "20"}])], []),
        (
            make_pod(requests=[{"cpu": "1", "memory": "1"}]),
            [make_pod("e", [{"cpu": "5", "memory": "5"}])],
            [],
        ),
        (
            make_pod(requests=[{"cpu": "1", "memory": "1"}]),
            [make_pod("e", [{"cpu": "10", "memory": "20"}])],
            ["Insufficient cpu", "Insufficient memory"],
        ),
        (make_pod(requests=[{"cpu": "1"}]), [make_pod("e", [{"cpu": "9500m"}])], ["Insufficient cpu"]),
        (make_pod(requests=[{"memory": "2"}]), [make_pod("e", [{"memory": "19"}])], ["Insufficient memory"]),
        # init containers: the largest of them counts when it exceeds the regular containers' sum
        (
            make_pod(requests=[{"cpu": "1"}], init=[{"cpu": "3"}]),
            [make_pod("e", [{"cpu": "8"}])],
            ["Insufficient cpu"],
        ),
        (
            make_pod(requests=[{"cpu": "1"}], init=[{"cpu": "2"}, {"cpu": "1"}]),
            [make_pod("e", [{"cpu": "8"}])],
            [],
        ),
        # extended resources
        (
            make_pod(requests=[{"example.com/foo": "2"}]),
            [make_pod("e", [{"example.com/foo": "4"}])],
            ["Insufficient example.com/foo"],
        ),
        (make_pod(requests=[{"example.com/foo": "1"}]), [make_pod("e", [{"example.com/foo": "4"}])], []),
    ],
)
def test_fit(pod: Pod, existing: list[Pod], want: list[str]) -> None:
    ni = NodeInfo(make_node(scalar={"example.com/foo": "5"}), existing)
    assert reasons(run_filter(FIT, pod, ni)) == want


def test_fit_counts_pods_and_overhead() -> None:
    ni = NodeInfo(make_node(pods="1"), [make_pod("e")])
    assert reasons(run_filter(FIT, make_pod(), ni)) == ["Too many pods"]
    overhead = make_pod(requests=[{"cpu": "5"}], overhead={"cpu": "6"})
    st = run_filter(FIT, overhead, NodeInfo(make_node()))
    assert reasons(st) == ["Insufficient cpu"]
    assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE  # more than the whole node: preemption won't help


def test_fit_sidecar_and_ignored_resources() -> None:
    pod = make_pod(requests=[{"cpu": "2"}])
    pod.spec.initContainers = [
        msgspec.convert(
            {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "3"}}},
            type(pod.spec.containers[0]),
        )
    ]
    assert pod_requests(pod)["cpu"] == 5000
    ignoring = noderesources.new({"ignoredResources": ["example.com/foo"]}, None)
    ni = NodeInfo(make_node(scalar={"example.com/foo": "1"}))
    assert run_filter(ignoring, make_pod(requests=[{"example.com/foo": "3"}]), ni) is None


def _score(plugin: Any, pod: Pod, nodes: list[NodeInfo]) -> list[int]:
    state = CycleState(PodInfo(pod))
    if hasattr(plugin, "pre_score"):
        st = plugin.pre_score(state, pod, nodes)
        if st is not None and st.code == Code.SKIP:
            return [0] * len(nodes)
    scores = [plugin.score(state, pod, ni)[0] for ni in nodes]
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, pod, nodes, scores)
    return scores


def test_least_and_most_allocated() -> None:
    # Kubernetes' example: node1 4000m/10000, node2 6000m/10000; pod 3000m/5000 plus existing requests.
    n1 = NodeInfo(make_node("n1", cpu="4", memory="10000"), [make_pod("a", [{"cpu": "0", "memory": "0"}])])
    n2 = NodeInfo(make_node("n2", cpu="6", memory="10000"), [make_pod("b", [{"cpu": "0", "memory": "0"}])])
    pod = make_pod(requests=[{"cpu": "3", "memory": "5000"}])
    assert _score(FIT, pod, [n1, n2]) == [
        37,
        50,
    ]  # ((4000-3000)*100/4000 + 50) / 2, ((6000-3000)*100/6000 + 50) / 2
    most = noderesources.new({"scoringStrategy": {"type": "MostAllocated"}}, None)
    assert _score(most, pod, [n1, n2]) == [62, 50]
    rtcr = noderesources.new(
        {
            "scoringStrategy": {
                "type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {
                    "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                },
            }
        },
        None,
    )
    assert _score(rtcr, pod, [n1, n2]) == [62, 50]


def test_balanced_allocation() -> None:
    pod = make_pod(requests=[{"cpu": "1", "memory": "2"}])
    balanced = NodeInfo(make_node("a", cpu="10", memory="20"))
    skewed = NodeInfo(make_node("b", cpu="10", memory="4"))
    plugin = balancedallocation.new({}, None)
    a, b = _score(plugin, pod, [balanced, skewed])
    assert a == 100 and b < a
    assert _score(plugin, make_pod(), [balanced]) == [0]  # best effort: skipped


# ------------------------------------------------------------------- affinity


def _with_affinity(terms: list[dict], **spec: Any) -> Pod:
    return make_pod(
        affinity={
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
        },
        **spec,
    )


AFF = nodeaffinity.new({}, None)
NO_MATCH = ["node(s) didn't match Pod's node affinity/selector"]


@pytest.mark.parametrize(
    ("terms", "labels", "fits"),
    [
        (
            [{"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar", "baz"]}]}],
            {"foo": "bar"},
            True,
        ),
        (
            [{"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar"]}]}],
            {"foo": "qux"},
            False,
        ),
        (
            [{"matchExpressions": [{"key": "foo", "operator": "NotIn", "values": ["bar"]}]}],
            {"foo": "qux"},
            True,
        ),
        (
            [{"matchExpressions": [{"key": "foo", "operator": "NotIn", "values": ["bar"]}]}],
            {"foo": "bar"},
            False,
        ),
        ([{"matchExpressions": [{"key": "foo", "operator": "Exists"}]}], {"foo": "x"}, True),
        ([{"matchExpressions": [{"key": "foo", "operator": "Exists"}]}], {}, False),
        ([{"matchExpressions": [{"key": "foo", "operator": "DoesNotExist"}]}], {}, True),
        ([{"matchExpressions": [{"key": "foo", "operator": "DoesNotExist"}]}], {"foo": "x"}, False),
        ([{"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["1"]}]}], {"gpus": "2"}, True),
        ([{"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["2"]}]}], {"gpus": "2"}, False),
        ([{"matchExpressions": [{"key": "gpus", "operator": "Lt", "values": ["3"]}]}], {"gpus": "2"}, True),
        ([{"matchExpressions": [{"key": "gpus", "operator": "Lt", "values": ["3"]}]}], {"gpus": "x"}, False),
        # terms are ORed, requirements ANDed
        (
            [
                {
                    "matchExpressions": [
                        {"key": "a", "operator": "Exists"},
                        {"key": "b", "operator": "Exists"},
                    ]
                },
                {"matchExpressions": [{"key": "c", "operator": "Exists"}]},
            ],
            {"a": "1"},
            False,
        ),
        (
            [
                {
                    "matchExpressions": [
                        {"key": "a", "operator": "Exists"},
                        {"key": "b", "operator": "Exists"},
                    ]
                },
                {"matchExpressions": [{"key": "c", "operator": "Exists"}]},
            ],
            {"c": "1"},
            True,
        ),
        ([{}], {"a": "1"}, False),  # an empty term matches nothing
        ([], {"a": "1"}, False),  # no terms: nothing
        ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}], {}, True),
        ([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]}], {}, False),
    ],
)
def test_required_node_affinity(terms: list[dict], labels: dict, fits: bool) -> None:
    ni = NodeInfo(make_node(labels=labels))
    assert reasons(run_filter(AFF, _with_affinity(terms), ni)) == ([] if fits else NO_MATCH)


def test_node_selector_and_affinity_both_apply() -> None:
    pod = _with_affinity(
        [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}],
        nodeSelector={"disk": "ssd"},
    )
    assert run_filter(AFF, pod, NodeInfo(make_node(labels={"zone": "a", "disk": "ssd"}))) is None
    st = run_filter(AFF, pod, NodeInfo(make_node(labels={"zone": "a"})))
    assert reasons(st) == NO_MATCH and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_match_fields_narrow_prefilter() -> None:
    pod = _with_affinity([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}])
    result, st = AFF.pre_filter(CycleState(PodInfo(pod)), pod, [])
    assert st is None and result is not None and result.node_names == {"n2"}


def test_preferred_node_affinity_scores() -> None:
    pod = make_pod(
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 2, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
                    {"weight": 8, "preference": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}},
                ]
            }
        }
    )
    nodes = [
        NodeInfo(make_node(str(i), labels=lab))
        for i, lab in enumerate([{}, {"a": "1"}, {"b": "1"}, {"a": "1", "b": "1"}])
    ]
    assert _score(AFF, pod, nodes) == [0, 20, 80, 100]


def test_added_affinity() -> None:
    plugin = nodeaffinity.new(
        {
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["x"]}]}
                    ]
                }
            }
        },
        None,
    )
    assert reasons(run_filter(plugin, make_pod(), NodeInfo(make_node()))) == [
        "node(s) didn't match scheduler-enforced node affinity"
    ]


# --------------------------------------------------------------------- taints


TT = tainttoleration.new({}, None)


def _tainted(*taints: dict) -> NodeInfo:
    return NodeInfo(make_node(spec={"taints": list(taints)}))


@pytest.mark.parametrize(
    ("tolerations", "taint", "fits"),
    [
        ([], {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, False),
        ([], {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}, False),
        ([], {"key": "dedicated", "value": "gpu", "effect": "PreferNoSchedule"}, True),
        (
            [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            True,
        ),
        (
            [{"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}],
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            False,
        ),
        (
            [{"key": "dedicated", "operator": "Exists"}],
            {"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
            True,
        ),
        ([{"operator": "Exists"}], {"key": "anything", "value": "v", "effect": "NoSchedule"}, True),
        (
            [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}],
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            False,
        ),
    ],
)
def test_taint_filter(tolerations: list[dict], taint: dict, fits: bool) -> None:
    st = run_filter(TT, make_pod(tolerations=tolerations), _tainted(taint))
    if fits:
        assert st is None
    else:
        assert reasons(st) == [f"node(s) had untolerated taint {{{taint['key']}: {taint['value']}}}"]
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_prefer_no_schedule_scoring() -> None:
    pns = {"effect": "PreferNoSchedule", "value": "v"}
    nodes = [_tainted(), _tainted({"key": "a", **pns}), _tainted({"key": "a", **pns}, {"key": "b", **pns})]
    assert _score(TT, make_pod(), nodes) == [100, 50, 0]
    tolerant = make_pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert _score(TT, tolerant, nodes) == [100, 100, 0]


# ---------------------------------------------------------------- small ones


def test_node_unschedulable_and_node_name() -> None:
    cordoned = NodeInfo(make_node(spec={"unschedulable": True}))
    plugin = nodeunschedulable.new({}, None)
    assert reasons(run_filter(plugin, make_pod(), cordoned)) == ["node(s) were unschedulable"]
    tolerant = make_pod(
        tolerations=[
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
        ]
    )
    assert run_filter(plugin, tolerant, cordoned) is None
    named = nodename.new({}, None)
    assert reasons(run_filter(named, make_pod(nodeName="other"), NodeInfo(make_node("n")))) == [
        "node(s) didn't match the requested node name"
    ]
    assert run_filter(named, make_pod(nodeName="n"), NodeInfo(make_node("n"))) is None


def _port_pod(name: str, *ports: tuple[str, str, int]) -> Pod:
    return make_pod(
        name,
        containers=[
            {
                "name": "c",
                "image": "img",
                "ports": [
                    {"containerPort": 80, "hostIP": ip, "protocol": proto, "hostPort": port}
                    for ip, proto, port in ports
                ],
            }
        ],
    )


@pytest.mark.parametrize(
    ("existing", "wanted", "fits"),
    [
        ([], [("", "TCP", 8080)], True),
        ([("127.0.0.1", "TCP", 8080)], [("127.0.0.1", "UDP", 8080)], True),
        ([("127.0.0.1", "TCP", 8080)], [("127.0.0.1", "TCP", 8080)], False),
        ([("127.0.0.1", "TCP", 8080)], [("127.0.0.2", "TCP", 8080)], True),
        ([("0.0.0.0", "TCP", 8001)], [("127.0.0.1", "TCP", 8001)], False),
        ([("127.0.0.1", "TCP", 8001)], [("0.0.0.0", "TCP", 8001)], False),
        ([("", "", 8001)], [("10.0.0.1", "TCP", 8001)], False),
    ],
)
def test_node_ports(existing: list, wanted: list, fits: bool) -> None:
    ni = NodeInfo(make_node(), [_port_pod("e", *existing)] if existing else [])
    st = run_filter(nodeports.new({}, None), _port_pod("p", *wanted), ni)
    assert reasons(st) == ([] if fits else ["node(s) didn't have free ports for the requested pod ports"])


def test_image_locality() -> None:
    from kubelite.scheduler.cache import Cache

    cache = Cache()
    big = {"names": ["registry/app:1"], "sizeBytes": 500 * 1024 * 1024}
    cache.add_node(make_node("with", status={"images": [big]}))
    cache.add_node(make_node("without"))
    snap = Snapshot()
    cache.update_snapshot(snap)

    class Handle:
        def snapshot_shared_lister(self) -> Snapshot:
            return snap

    plugin = imagelocality.new({}, Handle())
    pod = make_pod(containers=[{"name": "c", "image": "registry/app:1"}])
    with_score, without_score = _score(plugin, pod, [snap.get("with"), snap.get("without")])
    assert with_score > 0 and without_score == 0


def test_batch_methods_agree_with_per_node_ones() -> None:
    taints: dict[str, Any] = {"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}}
    nodes = [
        NodeInfo(make_node("a", cpu="4", memory="8")),
        NodeInfo(
            make_node("b", cpu="1", memory="2", spec={"unschedulable": True}),
            [make_pod("e", [{"cpu": "500m"}])],
        ),
        NodeInfo(make_node("c", cpu="2", memory="1", **taints), [make_pod("f", [{"memory": "1"}])]),
        NodeInfo(make_node("d", cpu="8", memory="64", pods="1"), [make_pod("g")]),
    ]
    pod = make_pod(requests=[{"cpu": "1", "memory": "1"}])
    plugin: Any
    for plugin in (FIT, TT, nodeunschedulable.new({}, None), balancedallocation.new({}, None)):
        state = CycleState(PodInfo(pod))
        for method in ("pre_filter", "pre_score"):
            if hasattr(plugin, method):
                getattr(plugin, method)(state, pod, nodes)
        if hasattr(plugin, "filter_nodes"):
            assert [reasons(s) for s in plugin.filter_nodes(state, pod, nodes)] == [
                reasons(plugin.filter(state, pod, ni)) for ni in nodes
            ]
        if hasattr(plugin, "score_nodes"):
            assert plugin.score_nodes(state, pod, nodes)[0] == [
                plugin.score(state, pod, ni)[0] for ni in nodes
            ]
