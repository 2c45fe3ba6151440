"""InterPodAffinity: Kubernetes' filter and score cases (required affinity and
anti-affinity, the symmetry of existing pods' anti-affinity, topology keys,
namespaces and namespaceSelector, the first pod of a self-affine group,
preferred terms and the hard-affinity weight of existing pods)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec

from kubelite.api.core_v1 import Namespace, Node, Pod
from kubelite.scheduler.interface import Code, CycleState
from kubelite.scheduler.nodeinfo import PodInfo, Snapshot
from kubelite.scheduler.plugins import interpodaffinity as ipa


def node(name: str, **labels: str) -> Node:
    return msgspec.convert({"metadata": {"name": name, "labels": labels}}, Node)


def term(
    key: str = "security",
    values: tuple[str, ...] = ("S1",),
    topology: str = "region",
    op: str = "In",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "labelSelector": {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]},
        "topologyKey": topology,
        **extra,
    }


def pod(
    name: str,
    node_name: str = "",
    labels: dict[str, str] | None = None,
    ns: str = "default",
    affinity: list[dict[str, Any]] | None = None,
    anti: list[dict[str, Any]] | None = None,
    pref: list[tuple[int, dict[str, Any]]] | None = None,
    pref_anti: list[tuple[int, dict[str, Any]]] | None = None,
) -> Pod:
    aff: dict[str, Any] = {}
    if affinity or pref:
        aff["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": affinity or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in pref or []
            ],
        }
    if anti or pref_anti:
        aff["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": anti or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in pref_anti or []
            ],
        }
    return msgspec.convert(
        {
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "labels": labels or {}},
            "spec": {
                "nodeName": node_name,
                "containers": [{"name": "c"}],
                **({"affinity": aff} if aff else {}),
            },
        },
        Pod,
    )


class FakeInformer:
    def __init__(self, objs: list[Any]) -> None:
        self.objs = {o.metadata.name: o for o in objs}

    def get(self, key: str) -> Any:
        return self.objs.get(key)

    def list(self) -> list[Any]:
        return list(self.objs.values())


class FakeFactory:
    def __init__(self, namespaces: list[Namespace]) -> None:
        self.ns = FakeInformer(namespaces)

    def informer_for(self, res: Any, *args: Any, **kw: Any) -> FakeInformer:
        assert res.kind == "Namespace"
        return self.ns


def setup(
    pods: list[Pod], nodes: list[Node], namespaces: list[Namespace] | None = None, **args: Any
) -> tuple[ipa.InterPodAffinity, Snapshot]:
    snap = Snapshot.from_objects(pods, nodes)
    handle = SimpleNamespace(
        snapshot_shared_lister=lambda: snap,
        informer_factory=FakeFactory(namespaces) if namespaces is not None else None,
    )
    return ipa.new(args, handle), snap


def filter_all(incoming: Pod, pods: list[Pod], nodes: list[Node], **kw: Any) -> dict[str, Any]:
    plugin, snap = setup(pods, nodes, **kw)
    state = CycleState()
    _, status = plugin.pre_filter(state, incoming, snap.list())
    if status is not None and status.code == Code.SKIP:
        return {ni.name: None for ni in snap.list()}
    assert status is None
    out: dict[str, Any] = {}
    for ni in snap.list():
        st = plugin.filter(state, incoming, ni)
        out[ni.name] = None if st is None else (st.code, st.reasons[0])
    return out


UNRESOLVABLE_AFFINITY = (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ipa.ERR_AFFINITY)
ANTI = (Code.UNSCHEDULABLE, ipa.ERR_ANTI_AFFINITY)
EXISTING_ANTI = (Code.UNSCHEDULABLE, ipa.ERR_EXISTING_ANTI_AFFINITY)

NODES = [
    node("n1", region="r1", zone="z11", hostname="n1"),
    node("n2", region="r1", zone="z12", hostname="n2"),
    node("n3", region="r2", zone="z21", hostname="n3"),
]


def test_no_affinity_anywhere_skips() -> None:
    assert filter_all(pod("p"), [pod("e", "n1", {"security": "S1"})], NODES) == {
        "n1": None,
        "n2": None,
        "n3": None,
    }


def test_required_affinity_by_region() -> None:
    incoming = pod("p", affinity=[term()])
    existing = [pod("e", "n1", {"security": "S1"})]
    assert filter_all(incoming, existing, NODES) == {"n1": None, "n2": None, "n3": UNRESOLVABLE_AFFINITY}


def test_required_affinity_not_in_and_exists_operators() -> None:
    existing = [pod("e", "n3", {"security": "S2"})]
    incoming = pod("p", affinity=[term(op="NotIn", values=("S1",))])
    assert filter_all(incoming, existing, NODES) == {
        "n1": UNRESOLVABLE_AFFINITY,
        "n2": UNRESOLVABLE_AFFINITY,
        "n3": None,
    }
    incoming = pod("p", affinity=[term(op="Exists", values=())])
    assert filter_all(incoming, existing, NODES)["n3"] is None


def test_all_affinity_terms_must_match_the_same_pod() -> None:
    existing = [pod("a", "n1", {"security": "S1"}), pod("b", "n1", {"team": "x"})]
    incoming = pod("p", affinity=[term(), term(key="team", values=("x",))])
    # No single pod matches both terms, and the incoming pod does not match them itself.
    assert filter_all(incoming, existing, NODES)["n1"] == UNRESOLVABLE_AFFINITY
    existing.append(pod("c", "n2", {"security": "S1", "team": "x"}))
    assert filter_all(incoming, existing, NODES) == {"n1": None, "n2": None, "n3": UNRESOLVABLE_AFFINITY}


def test_first_pod_of_a_self_affine_group_may_start_it() -> None:
    incoming = pod("p", labels={"security": "S1"}, affinity=[term()])
    assert filter_all(incoming, [], NODES) == {"n1": None, "n2": None, "n3": None}
    # ... but not when it does not match its own terms,
    lonely = pod("p", labels={"security": "S2"}, affinity=[term()])
    assert set(filter_all(lonely, [], NODES).values()) == {UNRESOLVABLE_AFFINITY}
    # ... nor on a node without the topology key.
    bare = [*NODES, node("n4", zone="z")]
    assert filter_all(incoming, [], bare)["n4"] == UNRESOLVABLE_AFFINITY


def test_affinity_needs_the_topology_label_on_the_node() -> None:
    incoming = pod("p", affinity=[term()])
    nodes = [*NODES, node("n4", zone="z11")]
    assert filter_all(incoming, [pod("e", "n1", {"security": "S1"})], nodes)["n4"] == UNRESOLVABLE_AFFINITY


def test_required_anti_affinity_by_zone() -> None:
    incoming = pod("p", anti=[term(topology="zone")])
    existing = [pod("e", "n1", {"security": "S1"})]
    assert filter_all(incoming, existing, NODES) == {"n1": ANTI, "n2": None, "n3": None}
    # A node without the topology key is not in any domain: anti-affinity cannot be violated there.
    assert filter_all(incoming, existing, [*NODES, node("n4")])["n4"] is None


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    existing = [pod("e", "n1", {"app": "db"}, anti=[term(topology="region")])]
    incoming = pod("p", labels={"security": "S1"})
    assert filter_all(incoming, existing, NODES) == {"n1": EXISTING_ANTI, "n2": EXISTING_ANTI, "n3": None}
    # The incoming pod does not match the existing pod's term: nothing to respect.
    assert filter_all(pod("q", labels={"security": "S2"}), existing, NODES) == {
        "n1": None,
        "n2": None,
        "n3": None,
    }


def test_affinity_checked_before_anti_affinity() -> None:
    existing = [pod("e", "n1", {"security": "S1"}, anti=[term(key="x", values=("y",), topology="hostname")])]
    incoming = pod(
        "p",
        labels={"x": "y"},
        affinity=[term(topology="hostname")],
        anti=[term(key="security", topology="zone")],
    )
    result = filter_all(incoming, existing, NODES)
    assert result["n1"] == ANTI  # affinity holds on n1, its own anti-affinity does not
    assert result["n2"] == UNRESOLVABLE_AFFINITY


def test_namespaces_of_terms() -> None:
    existing = [pod("e", "n1", {"security": "S1"}, ns="other")]
    # By default a term covers only the pod's own namespace.
    assert filter_all(pod("p", anti=[term()]), existing, NODES)["n1"] is None
    assert filter_all(pod("p", anti=[term(namespaces=["other"])]), existing, NODES)["n1"] == ANTI
    # An empty namespaceSelector selects every namespace.
    assert filter_all(pod("p", anti=[term(namespaceSelector={})]), existing, NODES)["n1"] == ANTI


def test_namespace_selector_uses_namespace_labels() -> None:
    namespaces = [
        msgspec.convert({"metadata": {"name": "other", "labels": {"team": "a"}}}, Namespace),
        msgspec.convert({"metadata": {"name": "default", "labels": {"team": "b"}}}, Namespace),
    ]
    existing = [pod("e", "n1", {"security": "S1"}, ns="other")]
    sel_a = term(namespaceSelector={"matchLabels": {"team": "a"}})
    sel_b = term(namespaceSelector={"matchLabels": {"team": "b"}})
    assert filter_all(pod("p", anti=[sel_a]), existing, NODES, namespaces=namespaces)["n1"] == ANTI
    assert filter_all(pod("p", anti=[sel_b]), existing, NODES, namespaces=namespaces)["n1"] is None
    # Symmetry with a selector: the existing pod's term selects the incoming pod's namespace by label.
    existing = [pod("e", "n1", ns="other", anti=[term(namespaceSelector={"matchLabels": {"team": "b"}})])]
    incoming = pod("p", labels={"security": "S1"})
    assert filter_all(incoming, existing, NODES, namespaces=namespaces)["n2"] == EXISTING_ANTI


def test_pre_filter_extensions_track_added_and_removed_pods() -> None:
    victim = pod("e", "n1", {"security": "S1"})
    plugin, snap = setup([victim], NODES)
    incoming = pod("p", anti=[term(topology="hostname")])
    state = CycleState()
    plugin.pre_filter(state, incoming, snap.list())
    n1 = snap.get("n1")
    assert plugin.filter(state, incoming, n1) is not None
    clone = state.clone()
    plugin.remove_pod(clone, incoming, PodInfo(victim), n1)
    assert plugin.filter(clone, incoming, n1) is None
    assert plugin.filter(state, incoming, n1) is not None  # the original state is untouched
    plugin.add_pod(clone, incoming, PodInfo(victim), n1)
    assert plugin.filter(clone, incoming, n1) is not None
    # An added pod with anti-affinity against the incoming pod blocks its domain too.
    blocker = pod("b", "n3", anti=[term(key="app", values=("web",), topology="region")])
    web = pod("w", labels={"app": "web"})
    state = CycleState()
    plugin.pre_filter(state, web, snap.list())
    plugin.add_pod(state, web, PodInfo(blocker), snap.get("n3"))
    assert plugin.filter(state, web, snap.get("n3")) is not None


def scores(incoming: Pod, pods: list[Pod], nodes: list[Node], **args: Any) -> dict[str, int] | None:
    plugin, snap = setup(pods, nodes, **args)
    state = CycleState()
    status = plugin.pre_score(state, incoming, snap.list())
    if status is not None and status.code == Code.SKIP:
        return None
    raw = [plugin.score(state, incoming, ni)[0] for ni in snap.list()]
    plugin.normalize_score(state, incoming, snap.list(), raw)
    return {ni.name: s for ni, s in zip(snap.list(), raw, strict=True)}


def test_preferred_affinity_and_anti_affinity_scores() -> None:
    existing = [pod("e", "n1", {"security": "S1"}), pod("f", "n3", {"disk": "ssd"})]
    incoming = pod("p", pref=[(5, term())])
    assert scores(incoming, existing, NODES) == {"n1": 100, "n2": 100, "n3": 0}
    incoming = pod("p", pref_anti=[(5, term(topology="zone"))])
    assert scores(incoming, existing, NODES) == {"n1": 0, "n2": 100, "n3": 100}
    incoming = pod("p", pref=[(8, term())], pref_anti=[(2, term(key="disk", values=("ssd",)))])
    assert scores(incoming, existing, NODES) == {"n1": 100, "n2": 100, "n3": 0}


def test_no_preferences_anywhere_skips_scoring() -> None:
    assert scores(pod("p"), [pod("e", "n1", {"security": "S1"})], NODES) is None


def test_existing_pods_required_affinity_counts_with_hard_weight() -> None:
    existing = [pod("e", "n3", {"app": "db"}, affinity=[term(key="app", values=("web",), topology="region")])]
    incoming = pod("p", labels={"app": "web"})
    assert scores(incoming, existing, NODES) == {"n1": 0, "n2": 0, "n3": 100}
    assert scores(incoming, existing, NODES, hardPodAffinityWeight=0) is None


def test_existing_pods_preferred_terms_and_the_ignore_option() -> None:
    existing = [pod("e", "n1", pref_anti=[(10, term(key="app", values=("web",), topology="hostname"))])]
    incoming = pod("p", labels={"app": "web"})
    assert scores(incoming, existing, NODES) == {"n1": 0, "n2": 100, "n3": 100}
    assert scores(incoming, existing, NODES, ignorePreferredTermsOfExistingPods=True) is None


def test_counts_follow_node_generations() -> None:
    plugin, snap = setup([pod("e", "n1", {"security": "S1"})], NODES)
    for i, ni in enumerate(snap.list(), start=1):
        ni.generation = i
    incoming = pod("p", anti=[term(topology="zone")])

    def verdicts() -> list[Any]:
        state = CycleState()
        plugin.pre_filter(state, incoming, snap.list())
        return [plugin.filter(state, incoming, ni) is None for ni in snap.list()]

    assert verdicts() == [False, True, True]
    n3 = snap.get("n3")
    n3.add_pod(PodInfo(pod("f", "n3", {"security": "S1"})))
    n3.generation = 10
    assert verdicts() == [False, True, False]
    n1 = snap.get("n1")
    n1.remove_pod(n1.pods[0])
    n1.generation = 11
    assert verdicts() == [True, True, False]
