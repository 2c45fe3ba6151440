"""PodTopologySpread: Kubernetes' filter and score cases (skew per zone and
host, self-match, missing topology labels, minDomains, node inclusion
policies, matchLabelKeys, terminating and foreign pods, the preemption
extensions, soft constraints and the system default constraints)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec

from kubelite.api.core_v1 import Node, Pod, Service
from kubelite.scheduler.interface import Code, CycleState
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubelite.scheduler.plugins import podtopologyspread as pts

ZONE = "zone"


def node(name: str, taints: list[dict[str, str]] | None = None, **labels: str) -> Node:
    return msgspec.convert(
        {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "spec": {"taints": taints or []},
        },
        Node,
    )


def constraint(
    key: str = ZONE,
    skew: int = 1,
    when: str = "DoNotSchedule",
    selector: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": selector if selector is not None else {"matchLabels": {"foo": ""}},
        **extra,
    }


def pod(
    name: str,
    node_name: str = "",
    labels: dict[str, str] | None = None,
    ns: str = "default",
    constraints: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> Pod:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return msgspec.convert(
        {
            "metadata": meta,
            "spec": {
                "nodeName": node_name,
                "containers": [{"name": "c"}],
                "topologySpreadConstraints": constraints or [],
                **spec,
            },
        },
        Pod,
    )


FOO = {"foo": ""}

NODES = [
    node("node-a", zone="zone1"),
    node("node-b", zone="zone1"),
    node("node-x", zone="zone2"),
    node("node-y", zone="zone2"),
]


class FakeInformer:
    def __init__(self, objs: list[Any]) -> None:
        self.objs = objs

    def list(self) -> list[Any]:
        return self.objs

    def by_index(self, name: str, value: str) -> list[Any]:
        assert name == "namespace"
        return [o for o in self.objs if o.metadata.namespace == value]


class FakeFactory:
    def __init__(self, services: list[Service]) -> None:
        self.services = services

    def informer_for(self, res: Any, *args: Any, **kw: Any) -> FakeInformer:
        return FakeInformer(self.services if res.kind == "Service" else [])


def setup(pods: list[Pod], nodes: list[Node], services: list[Service] | None = None, **args: Any) -> Any:
    snap = Snapshot.from_objects(pods, nodes)
    handle = SimpleNamespace(
        snapshot_shared_lister=lambda: snap,
        informer_factory=FakeFactory(services) if services is not None else None,
    )
    return pts.new(args, handle), snap


def filter_all(incoming: Pod, pods: list[Pod], nodes: list[Node] = NODES) -> dict[str, Any]:
    plugin, snap = setup(pods, nodes)
    state = CycleState()
    _, status = plugin.pre_filter(state, incoming, snap.list())
    if status is not None and status.code == Code.SKIP:
        return {ni.name: "skip" for ni in snap.list()}
    out = {}
    for ni in snap.list():
        st = plugin.filter(state, incoming, ni)
        out[ni.name] = None if st is None else (st.code, st.reasons[0])
    return out


FAIL = (Code.UNSCHEDULABLE, pts.ERR_CONSTRAINTS_NOT_MATCH)
MISSING = (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, pts.ERR_NODE_LABEL_NOT_MATCH)


def test_no_hard_constraints_skips_filter() -> None:
    assert set(filter_all(pod("p", labels=FOO), [])) == {"node-a", "node-b", "node-x", "node-y"}
    assert set(filter_all(pod("p", labels=FOO), []).values()) == {"skip"}
    soft = pod("p", labels=FOO, constraints=[constraint(when="ScheduleAnyway")])
    assert set(filter_all(soft, []).values()) == {"skip"}


def test_skew_per_zone() -> None:
    existing = [pod("a1", "node-a", FOO), pod("b1", "node-b", FOO), pod("x1", "node-x", FOO)]
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    # zone1 has 2, zone2 has 1: another in zone1 makes the skew 2.
    assert filter_all(incoming, existing) == {"node-a": FAIL, "node-b": FAIL, "node-x": None, "node-y": None}


def test_incoming_pod_not_matching_its_own_selector() -> None:
    existing = [pod("a1", "node-a", FOO), pod("b1", "node-b", FOO), pod("x1", "node-x", FOO)]
    incoming = pod("p", labels={"bar": ""}, constraints=[constraint()])
    # Without self-match the skew stays 2 - 1 = 1.
    assert set(filter_all(incoming, existing).values()) == {None}
    existing.append(pod("a2", "node-a", FOO))
    assert filter_all(incoming, existing)["node-a"] == FAIL


def test_node_without_the_topology_key_is_unresolvable() -> None:
    nodes = [*NODES, node("node-z")]
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    assert filter_all(incoming, [], nodes)["node-z"] == MISSING


def test_spread_over_hosts_and_zones_together() -> None:
    existing = [
        pod("a1", "node-a", FOO),
        pod("a2", "node-a", FOO),
        pod("x1", "node-x", FOO),
        pod("y1", "node-y", FOO),
    ]
    incoming = pod("p", labels=FOO, constraints=[constraint(), constraint(key="kubernetes.io/hostname")])
    # zones: 2 vs 2, any zone will do; hosts: node-b has none, so only node-b keeps the host skew at 1.
    assert filter_all(incoming, existing) == {"node-a": FAIL, "node-b": None, "node-x": FAIL, "node-y": FAIL}
    existing.append(pod("b1", "node-b", FOO))
    # zone1 now has 3 against zone2's 2: zone1 is out by zone skew, zone2 hosts have 1 each like node-b.
    assert filter_all(incoming, existing) == {"node-a": FAIL, "node-b": FAIL, "node-x": None, "node-y": None}


def test_terminating_and_other_namespace_pods_do_not_count() -> None:
    existing = [
        pod("a1", "node-a", FOO, deleting=True),
        pod("b1", "node-b", FOO, ns="other"),
        pod("b2", "node-b", FOO, ns="other"),
    ]
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    assert set(filter_all(incoming, existing).values()) == {None}


def test_min_domains_counts_missing_domains_as_empty() -> None:
    existing = [pod("a1", "node-a", FOO), pod("x1", "node-x", FOO)]
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    assert set(filter_all(incoming, existing).values()) == {None}
    incoming = pod("p", labels=FOO, constraints=[constraint(minDomains=3)])
    # Only 2 of the 3 wanted zones exist: the global minimum counts as 0, and 1 + 1 - 0 > 1.
    assert set(filter_all(incoming, existing).values()) == {FAIL}
    incoming = pod("p", labels=FOO, constraints=[constraint(minDomains=2)])
    assert set(filter_all(incoming, existing).values()) == {None}


def test_node_affinity_policy() -> None:
    nodes = [*NODES, node("node-c", zone="zone3", pool="other")]
    existing = [pod("a1", "node-a", FOO), pod("x1", "node-x", FOO)]
    selector: dict[str, Any] = {"nodeSelector": {"zone": "zone1"}}
    # Honor (default): zone2 and zone3 fail the pod's nodeSelector, so only zone1 is a domain.
    incoming = pod("p", labels=FOO, constraints=[constraint()], **selector)
    assert filter_all(incoming, existing, nodes)["node-a"] is None
    # Ignore: zone3 counts with 0 pods, so zone1 (1 pod) is at skew 2.
    incoming = pod("p", labels=FOO, constraints=[constraint(nodeAffinityPolicy="Ignore")], **selector)
    assert filter_all(incoming, existing, nodes)["node-a"] == FAIL


def test_node_taints_policy() -> None:
    taint = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    nodes = [*NODES, node("node-c", taints=taint, zone="zone3")]
    existing = [pod("a1", "node-a", FOO), pod("x1", "node-x", FOO)]
    # Ignore (default): the tainted zone3 counts as an empty domain.
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    assert filter_all(incoming, existing, nodes)["node-a"] == FAIL
    incoming = pod("p", labels=FOO, constraints=[constraint(nodeTaintsPolicy="Honor")])
    assert filter_all(incoming, existing, nodes)["node-a"] is None
    tolerating = pod(
        "p",
        labels=FOO,
        constraints=[constraint(nodeTaintsPolicy="Honor")],
        tolerations=[{"key": "dedicated", "operator": "Exists"}],
    )
    assert filter_all(tolerating, existing, nodes)["node-a"] == FAIL


def test_match_label_keys() -> None:
    existing = [pod("a1", "node-a", {"foo": "", "rev": "1"}), pod("a2", "node-a", {"foo": "", "rev": "2"})]
    c = constraint(matchLabelKeys=["rev"])
    # Only pods of the same revision count: zone1 has 1, zone2 has 0.
    assert filter_all(pod("p", labels={"foo": "", "rev": "2"}, constraints=[c]), existing)["node-a"] == FAIL
    assert filter_all(pod("p", labels={"foo": "", "rev": "3"}, constraints=[c]), existing)["node-a"] is None


def test_pre_filter_extensions() -> None:
    victim = pod("a2", "node-a", FOO)
    plugin, snap = setup([pod("a1", "node-a", FOO), victim, pod("x1", "node-x", FOO)], NODES)
    incoming = pod("p", labels=FOO, constraints=[constraint()])
    state = CycleState()
    plugin.pre_filter(state, incoming, snap.list())
    node_a, node_x = snap.get("node-a"), snap.get("node-x")
    assert plugin.filter(state, incoming, node_x) is None
    clone = state.clone()
    plugin.remove_pod(clone, incoming, PodInfo(pod("x1", "node-x", FOO)), node_x)
    assert plugin.filter(clone, incoming, node_x) is None  # zone2 now empty: still the minimum
    assert plugin.filter(clone, incoming, node_a) == FAIL_STATUS
    plugin.remove_pod(clone, incoming, PodInfo(victim), node_a)
    plugin.add_pod(clone, incoming, PodInfo(pod("x1", "node-x", FOO)), node_x)
    assert plugin.filter(clone, incoming, node_a) is None
    assert plugin.filter(state, incoming, node_a) == FAIL_STATUS


FAIL_STATUS = pts.Status.unschedulable(pts.ERR_CONSTRAINTS_NOT_MATCH)


def score_all(incoming: Pod, pods: list[Pod], nodes: list[Node] = NODES, **kw: Any) -> dict[str, int] | None:
    plugin, snap = setup(pods, nodes, **kw)
    state = CycleState()
    st = plugin.pre_score(state, incoming, snap.list())
    if st is not None and st.code == Code.SKIP:
        return None
    raw = [plugin.score(state, incoming, ni)[0] for ni in snap.list()]
    plugin.normalize_score(state, incoming, snap.list(), raw)
    return {ni.name: s for ni, s in zip(snap.list(), raw, strict=True)}


def test_soft_constraint_prefers_emptier_zones() -> None:
    existing = [pod("a1", "node-a", FOO), pod("a2", "node-b", FOO), pod("x1", "node-x", FOO)]
    incoming = pod("p", labels=FOO, constraints=[constraint(when="ScheduleAnyway")])
    got = score_all(incoming, existing)
    assert got is not None
    assert got["node-x"] == got["node-y"] == 100
    assert got["node-a"] == got["node-b"] < 100


def test_soft_constraint_ignores_nodes_without_the_key() -> None:
    nodes = [*NODES, node("node-z")]
    incoming = pod("p", labels=FOO, constraints=[constraint(when="ScheduleAnyway")])
    got = score_all(incoming, [pod("a1", "node-a", FOO)], nodes)
    assert got is not None and got["node-z"] == 0 and got["node-x"] == 100


def test_soft_hostname_constraint() -> None:
    existing = [pod("a1", "node-a", FOO), pod("a2", "node-a", FOO), pod("b1", "node-b", FOO)]
    incoming = pod(
        "p", labels=FOO, constraints=[constraint(key="kubernetes.io/hostname", when="ScheduleAnyway")]
    )
    got = score_all(incoming, existing)
    assert got is not None
    assert got["node-x"] == got["node-y"] == 100 and got["node-a"] < got["node-b"] < 100


def zone_label(zone: str) -> dict[str, str]:
    return {"topology.kubernetes.io/zone": zone}


def test_default_constraints_need_a_selecting_service() -> None:
    web = {"app": "web"}
    existing = [pod("a1", "node-a", web), pod("a2", "node-a", web)]
    nodes = [node(n.metadata.name, None, **zone_label(n.metadata.labels["zone"])) for n in NODES]
    # No Service selects the pod: no default constraints.
    assert score_all(pod("p", labels=web), existing, nodes, services=[]) is None
    svc = msgspec.convert(
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": web}}, Service
    )
    got = score_all(pod("p", labels=web), existing, nodes, services=[svc])
    assert got is not None
    assert got["node-a"] < got["node-b"] < got["node-x"] == got["node-y"] == 100
    # A Service in another namespace does not count.
    other = msgspec.convert(
        {"metadata": {"name": "web", "namespace": "x"}, "spec": {"selector": web}}, Service
    )
    assert score_all(pod("p", labels=web), existing, nodes, services=[other]) is None
    # Pods with constraints of their own never get the defaults.
    own = pod("p", labels=web, constraints=[constraint(when="DoNotSchedule")])
    assert score_all(own, existing, nodes, services=[svc]) is None


def test_list_defaulting_with_no_constraints() -> None:
    svc = msgspec.convert(
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": FOO}}, Service
    )
    assert score_all(pod("p", labels=FOO), [], services=[svc], defaultingType="List") is None


def test_domain_counts_follow_node_generations() -> None:
    pods = [pod("a1", "node-a", FOO), pod("x1", "node-x", FOO)]
    plugin, snap = setup(pods, NODES)
    for i, ni in enumerate(snap.list(), start=1):
        ni.generation = i
    incoming = pod("p", labels=FOO, constraints=[constraint()])

    def counts() -> dict[str, int]:
        state = CycleState()
        plugin.pre_filter(state, incoming, snap.list())
        return dict(state["PreFilterPodTopologySpread"].counts[0])

    assert counts() == {"zone1": 1, "zone2": 1}
    # A pod added to node-b without a new generation is not seen (the cache trusts generations) ...
    node_b = snap.get("node-b")
    node_b.add_pod(PodInfo(pod("b1", "node-b", FOO)))
    assert counts() == {"zone1": 1, "zone2": 1}
    # ... and is once the generation moves, as the scheduler cache does on every change.
    node_b.generation = 10
    assert counts() == {"zone1": 2, "zone2": 1}
    # A node that leaves the snapshot takes its pods and, when it was the last, its domain along.
    snap.infos = [ni for ni in snap.infos if ni.name not in ("node-x", "node-y")]
    snap.rebuild_indexes()
    assert counts() == {"zone1": 2}


def test_domain_count_cache_keeps_empty_domains_while_they_have_nodes() -> None:
    cache = pts.DomainCountCache(
        lambda ni: {ni.node.metadata.labels["zone"]: len(ni.pods)} if ni.node else None
    )
    a, x = NodeInfo(NODES[0]), NodeInfo(NODES[2])
    a.generation, x.generation = 1, 2
    assert cache.refresh([a, x]) == {"zone1": 0, "zone2": 0}
    x.add_pod(PodInfo(pod("x1", "node-x", FOO)))
    x.generation = 3
    assert cache.refresh([a, x]) == {"zone1": 0, "zone2": 1}
    assert cache.refresh([x]) == {"zone2": 1}


def test_domain_count_cache_recounts_only_nodes_newer_than_the_last_snapshot() -> None:
    calls: list[str] = []

    def count(ni: NodeInfo) -> dict[Any, int] | None:
        calls.append(ni.name)
        return {ni.node.metadata.labels["zone"]: len(ni.pods)} if ni.node else None

    cache = pts.DomainCountCache(count)
    infos = [NodeInfo(n) for n in NODES]
    for i, ni in enumerate(infos, start=1):
        ni.generation = i
    assert cache.refresh(infos, 4) == {"zone1": 0, "zone2": 0}
    assert len(calls) == 4
    calls.clear()
    infos[2].add_pod(PodInfo(pod("x1", "node-x", FOO)))
    infos[2].generation = 5
    assert cache.refresh(infos, 5) == {"zone1": 0, "zone2": 1}
    assert calls == ["node-x"]
    calls.clear()
    assert cache.refresh(infos[:2], 5) == {"zone1": 0}  # nodes gone from the list are forgotten
    assert calls == []
