"""InterPodAffinity: place a pod near (affinity) or away from (anti-affinity)
pods that match its terms, per topology domain (``topologyKey``).

Filter enforces the required terms, both ways round: the incoming pod's
affinity and anti-affinity terms against the pods already placed, and the
placed pods' anti-affinity terms against the incoming pod (symmetry: a pod
may not land where an existing pod refuses it). Everything that needs a walk
over the cluster's pods happens once per pod in PreFilter, which reduces it
to counts per topology pair ``(key, value)``; Filter then only looks up the
node's labels. The PreFilter extensions keep those counts right while
preemption adds and removes pods on node clones.

Score adds the weights of preferred terms (and of existing pods' required
affinity terms, at ``hardPodAffinityWeight``) per topology pair, then
normalizes to 0..100.

Namespaces: a term applies to the pods of its ``namespaces``, plus those of
the namespaces its ``namespaceSelector`` selects (read from a Namespace
informer), or to the pod's own namespace when it names neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.client import lookup
from kubelite.scheduler.interface import (
    ASSIGNED_POD,
    NODE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    PreFilterResult,
    Status,
)
from kubelite.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo
from kubelite.scheduler.plugins.podtopologyspread import CountCaches

NAME = "InterPodAffinity"

ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"

_PRE_FILTER_KEY = "PreFilter" + NAME
# Shared, read-only answers of Filter.
_AFFINITY_NOT_MATCH = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [ERR_AFFINITY], NAME)
_ANTI_AFFINITY_NOT_MATCH = Status(Code.UNSCHEDULABLE, [ERR_ANTI_AFFINITY], NAME)
_EXISTING_ANTI_AFFINITY_NOT_MATCH = Status(Code.UNSCHEDULABLE, [ERR_EXISTING_ANTI_AFFINITY], NAME)
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


class _Term:
    """An incoming pod's term with its namespaces resolved for this cycle (None: all namespaces)."""

    __slots__ = ("namespaces", "selector", "signature", "topology_key")

    def __init__(self, term: AffinityTerm, namespaces: set[str] | None) -> None:
        self.selector = term.selector
        self.topology_key = term.topology_key
        self.namespaces = namespaces
        self.signature = (
            frozenset(namespaces) if namespaces is not None else None,
            term.selector,
            term.topology_key,
        )

    def matches(self, pod: Pod) -> bool:
        if self.namespaces is not None and pod.metadata.namespace not in self.namespaces:
            return False
        return self.selector.matches(pod.metadata.labels)


def _matches_all(terms: list[_Term], pod: Pod) -> bool:
    if not terms:
        return False
    return all(t.matches(pod) for t in terms)


def _labels_key(labels: dict[str, str] | None) -> frozenset[tuple[str, str]] | None:
    return frozenset(labels.items()) if labels is not None else None


def _bump(counts: dict[Pair, int], pair: Pair, delta: int) -> None:
    value = counts.get(pair, 0) + delta
    if value:
        counts[pair] = value
    else:
        counts.pop(pair, None)


class _PreFilterState:
    """Counts per topology pair, computed once per pod (cloned for preemption's what-ifs)."""

    __slots__ = (
        "affinity_counts",
        "affinity_terms",
        "anti_affinity_counts",
        "anti_affinity_terms",
        "existing_anti_affinity_counts",
        "existing_anti_keys",
        "namespace_labels",
        "pod",
        "shared",
    )

    def __init__(self, pod: Pod, namespace_labels: dict[str, str] | None) -> None:
        self.pod = pod
        self.namespace_labels = namespace_labels
        self.affinity_terms: list[_Term] = []
        self.anti_affinity_terms: list[_Term] = []
        # existing pods whose required anti-affinity terms match the incoming pod
        self.existing_anti_affinity_counts: dict[Pair, int] = {}
        # existing pods matching all of the incoming pod's required affinity terms
        self.affinity_counts: dict[Pair, int] = {}
        # existing pods matching each of the incoming pod's required anti-affinity terms
        self.anti_affinity_counts: dict[Pair, int] = {}
        self.existing_anti_keys: set[str] = set()
        # The counts are the count caches' own (read-only) until a pod is added or removed.
        self.shared = False

    def _own(self) -> None:
        if self.shared:
            self.existing_anti_affinity_counts = dict(self.existing_anti_affinity_counts)
            self.affinity_counts = dict(self.affinity_counts)
            self.anti_affinity_counts = dict(self.anti_affinity_counts)
            self.existing_anti_keys = set(self.existing_anti_keys)
            self.shared = False

    def clone(self) -> _PreFilterState:
        new = _PreFilterState(self.pod, self.namespace_labels)
        new.affinity_terms = self.affinity_terms
        new.anti_affinity_terms = self.anti_affinity_terms
        new.existing_anti_affinity_counts = dict(self.existing_anti_affinity_counts)
        new.affinity_counts = dict(self.affinity_counts)
        new.anti_affinity_counts = dict(self.anti_affinity_counts)
        new.existing_anti_keys = set(self.existing_anti_keys)
        return new

    def update_with_pod(self, other: PodInfo, node_labels: dict[str, str], sign: int) -> None:
        """Count (``sign`` 1) or uncount (-1) pod ``other`` placed on a node with ``node_labels``."""
        self._own()
        for term in other.required_anti_affinity_terms:
            value = node_labels.get(term.topology_key)
            if value is not None and term.matches(self.pod, self.namespace_labels):
                _bump(self.existing_anti_affinity_counts, (term.topology_key, value), sign)
                self.existing_anti_keys.add(term.topology_key)
        if self.affinity_terms and _matches_all(self.affinity_terms, other.pod):
            for t in self.affinity_terms:
                value = node_labels.get(t.topology_key)
                if value is not None:
                    _bump(self.affinity_counts, (t.topology_key, value), sign)
        for t in self.anti_affinity_terms:
            value = node_labels.get(t.topology_key)
            if value is not None and t.matches(other.pod):
                _bump(self.anti_affinity_counts, (t.topology_key, value), sign)


class _PreScoreState:
    __slots__ = ("scores",)

    def __init__(self) -> None:
        self.scores: dict[str, dict[str, int]] = {}  # topology key -> value -> score

    def add(self, key: str, value: str, amount: int) -> None:
        by_value = self.scores.setdefault(key, {})
        by_value[value] = by_value.get(value, 0) + amount


class InterPodAffinity:
    """The InterPodAffinity plugin (PreFilter, Filter, PreScore, Score)."""

    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        args = args or {}
        self.handle = handle
        self.hard_pod_affinity_weight = int(args.get("hardPodAffinityWeight", 1))
        if not 0 <= self.hard_pod_affinity_weight <= 100:
            raise ValueError("hardPodAffinityWeight must be in 0..100")
        self.ignore_preferred_terms_of_existing_pods = bool(
            args.get("ignorePreferredTermsOfExistingPods", False)
        )
        self._namespaces = None
        self._caches = CountCaches()
        factory = getattr(handle, "informer_factory", None)
        if factory is not None:
            self._namespaces = factory.informer_for(lookup("", "v1", "Namespace"))

    # ------------------------------------------------------------ namespaces

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        if self._namespaces is None:
            return None
        ns = self._namespaces.get(namespace)
        return dict(ns.metadata.labels) if ns is not None else {}

    def _resolve(self, terms: Iterable[AffinityTerm]) -> list[_Term]:
        """The terms with ``namespaceSelector`` turned into namespace names (None: every namespace)."""
        out = []
        for term in terms:
            sel = term.namespace_selector
            namespaces: set[str] | None = term.namespaces
            if sel.empty:
                namespaces = None
            elif not sel.selects_nothing and self._namespaces is not None:
                namespaces = set(term.namespaces)
                for ns in self._namespaces.list():
                    if sel.matches(ns.metadata.labels):
                        namespaces.add(ns.metadata.name)
            out.append(_Term(term, namespaces))
        return out

    # ---------------------------------------------------------------- filter

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        pi = getattr(state, "pod_info", None) or PodInfo(pod)
        snapshot = self.handle.snapshot_shared_lister()
        if (
            not pi.required_affinity_terms
            and not pi.required_anti_affinity_terms
            and not snapshot.have_pods_with_required_anti_affinity_list()
        ):
            # Nothing to count, and so nothing to filter: what the counting below ends in, at
            # once (most pods, in most clusters; the counting's set-up cost ~7 us a cycle).
            return None, Status(Code.SKIP)
        ns_labels = self._namespace_labels(pod.metadata.namespace)
        s = _PreFilterState(pod, ns_labels)
        s.affinity_terms = self._resolve(pi.required_affinity_terms)
        s.anti_affinity_terms = self._resolve(pi.required_anti_affinity_terms)

        # Symmetry: existing pods whose required anti-affinity terms match the incoming pod.
        def count_existing(ni: NodeInfo) -> dict[Any, int] | None:
            node = ni.node
            if node is None:
                return None
            labels = node.metadata.labels
            out: dict[Any, int] = {}
            for existing in ni.pods_with_required_anti_affinity:
                for term in existing.required_anti_affinity_terms:
                    value = labels.get(term.topology_key)
                    if value is not None and term.matches(pod, ns_labels):
                        pair = (term.topology_key, value)
                        out[pair] = out.get(pair, 0) + 1
            return out

        signature = (
            "existing",
            pod.metadata.namespace,
            _labels_key(pod.metadata.labels),
            _labels_key(ns_labels),
        )
        generation = getattr(snapshot, "generation", 0)
        changes = getattr(snapshot, "changed_since", None)
        cache = self._caches.get(signature, count_existing, pair_keys=True)
        counts = cache.refresh(snapshot.have_pods_with_required_anti_affinity_list, generation, changes)
        # Shared with the cache, not copied (thousands of pairs with hostname terms): the cycle
        # only reads them, and preemption's what-ifs copy them first (_PreFilterState._own).
        s.shared = True
        s.existing_anti_affinity_counts = counts
        s.existing_anti_keys = set(cache.keys)

        all_nodes = snapshot.list()
        affinity_terms, anti_terms = s.affinity_terms, s.anti_affinity_terms
        if affinity_terms:

            def count_affinity(ni: NodeInfo) -> dict[Any, int] | None:
                if not ni.pods or ni.node is None:
                    return None
                labels = ni.node.metadata.labels
                out: dict[Any, int] = {}
                for existing in ni.pods:
                    if _matches_all(affinity_terms, existing.pod):
                        for t in affinity_terms:
                            value = labels.get(t.topology_key)
                            if value is not None:
                                pair = (t.topology_key, value)
                                out[pair] = out.get(pair, 0) + 1
                return out

            aff_signature = ("affinity", tuple(t.signature for t in affinity_terms))
            s.affinity_counts = self._caches.get(aff_signature, count_affinity).refresh(
                all_nodes, generation, changes
            )
        if anti_terms:

            def count_anti(ni: NodeInfo) -> dict[Any, int] | None:
                if not ni.pods or ni.node is None:
                    return None
                labels = ni.node.metadata.labels
                out: dict[Any, int] = {}
                for existing in ni.pods:
                    for t in anti_terms:
                        value = labels.get(t.topology_key)
                        if value is not None and t.matches(existing.pod):
                            pair = (t.topology_key, value)
                            out[pair] = out.get(pair, 0) + 1
                return out

            anti_signature = ("anti", tuple(t.signature for t in anti_terms))
            s.anti_affinity_counts = self._caches.get(anti_signature, count_anti).refresh(
                all_nodes, generation, changes
            )
        if not affinity_terms and not anti_terms and not counts:
            return None, Status(Code.SKIP)
        state[_PRE_FILTER_KEY] = s
        return None, None

    def pre_filter_extensions(self) -> InterPodAffinity:
        return self

    def add_pod(
        self, state: CycleState, pod: Pod, pod_info_to_add: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None and node_info.node is not None:
            s.update_with_pod(pod_info_to_add, node_info.node.metadata.labels, 1)
        return None

    def remove_pod(
        self, state: CycleState, pod: Pod, pod_info_to_remove: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None and node_info.node is not None:
            s.update_with_pod(pod_info_to_remove, node_info.node.metadata.labels, -1)
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        s: _PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return Status.as_error(f"{NAME}: PreFilter state missing", NAME)
        node = node_info.node
        labels = node.metadata.labels if node is not None else {}
        if s.affinity_terms:
            pods_exist = True
            for t in s.affinity_terms:
                value = labels.get(t.topology_key)
                if value is None:
                    return _AFFINITY_NOT_MATCH
                if s.affinity_counts.get((t.topology_key, value), 0) <= 0:
                    pods_exist = False
            # The first pod of a group whose pods attract each other: no pod matches anywhere yet,
            # but the pod matches its own terms, so let it start the group.
            if not pods_exist and not (not s.affinity_counts and _matches_all(s.affinity_terms, pod)):
                return _AFFINITY_NOT_MATCH
        if s.anti_affinity_counts:
            for t in s.anti_affinity_terms:
                value = labels.get(t.topology_key)
                if value is not None and s.anti_affinity_counts.get((t.topology_key, value), 0) > 0:
                    return _ANTI_AFFINITY_NOT_MATCH
        if s.existing_anti_affinity_counts:
            for key in s.existing_anti_keys:
                value = labels.get(key)
                if value is not None and s.existing_anti_affinity_counts.get((key, value), 0) > 0:
                    return _EXISTING_ANTI_AFFINITY_NOT_MATCH
        return None

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        """``filter`` for many nodes; the anti-affinity checks (the common case) inline."""
        s: _PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None or s.affinity_terms:
            return [self.filter(state, pod, ni) for ni in nodes]
        anti = s.anti_affinity_counts
        anti_keys = [t.topology_key for t in s.anti_affinity_terms] if anti else []
        existing = s.existing_anti_affinity_counts
        existing_keys = list(s.existing_anti_keys) if existing else []
        out: list[Status | None] = [None] * len(nodes)
        if not anti_keys and not existing_keys:
            return out
        for i, ni in enumerate(nodes):
            node = ni.node
            if node is None:
                continue
            labels = node.metadata.labels
            for key in anti_keys:
                value = labels.get(key)
                if value is not None and anti.get((key, value), 0) > 0:
                    out[i] = _ANTI_AFFINITY_NOT_MATCH
                    break
            else:
                for key in existing_keys:
                    value = labels.get(key)
                    if value is not None and existing.get((key, value), 0) > 0:
                        out[i] = _EXISTING_ANTI_AFFINITY_NOT_MATCH
                        break
        return out

    # ----------------------------------------------------------------- score

    pre_score_reads_nodes = False  # only whether there are any: it counts from the snapshot

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return Status(Code.SKIP)
        pi = state.pod_info if state.pod_info is not None and state.pod_info.pod is pod else PodInfo(pod)
        has_constraints = bool(pi.preferred_affinity_terms or pi.preferred_anti_affinity_terms)
        if self.ignore_preferred_terms_of_existing_pods and not has_constraints:
            return Status(Code.SKIP)
        snapshot = self.handle.snapshot_shared_lister()
        if has_constraints:
            candidates = snapshot.list()
            if not candidates:
                return Status(Code.SKIP)
        elif not snapshot.num_nodes_with_pods_with_affinity():
            return Status(Code.SKIP)
        ns_labels = self._namespace_labels(pod.metadata.namespace)
        hard_weight = self.hard_pod_affinity_weight
        ignore_existing_preferred = self.ignore_preferred_terms_of_existing_pods
        s = _PreScoreState()
        if not has_constraints:
            # Only the existing pods' terms score: per node, what they add for a pod of this
            # namespace and these labels, summed per topology pair and kept across pods by node
            # generation (pods with only required anti-affinity, the common case, add nothing).
            def count_node(ni: NodeInfo) -> dict[Any, int] | None:
                node = ni.node
                if node is None or not node.metadata.labels:
                    return None
                out = _PreScoreState()
                _score_existing(
                    out,
                    ni.pods_with_affinity,
                    pod,
                    ns_labels,
                    node.metadata.labels,
                    hard_weight,
                    ignore_existing_preferred,
                )
                return {
                    (key, value): n for key, by_value in out.scores.items() for value, n in by_value.items()
                }

            signature = (
                "score",
                pod.metadata.namespace,
                _labels_key(pod.metadata.labels),
                _labels_key(ns_labels),
            )
            totals = self._caches.get(signature, count_node).refresh(
                snapshot.have_pods_with_affinity_list,
                getattr(snapshot, "generation", 0),
                getattr(snapshot, "changed_since", None),
            )
            for (key, value), n in totals.items():
                if n:
                    s.add(key, value, n)
            if not s.scores:
                return Status(Code.SKIP)  # every node would score 0: the same as no score
            state[_PRE_SCORE_KEY] = s
            return None
        preferred = [(t, w.weight) for w in pi.preferred_affinity_terms for t in self._resolve([w.term])]
        preferred_anti = [
            (t, w.weight) for w in pi.preferred_anti_affinity_terms for t in self._resolve([w.term])
        ]
        for ni in candidates:
            node = ni.node
            if node is None or not node.metadata.labels:
                continue
            labels = node.metadata.labels
            for existing in ni.pods:
                other = existing.pod
                for t, weight in preferred:
                    value = labels.get(t.topology_key)
                    if value is not None and t.matches(other):
                        s.add(t.topology_key, value, weight)
                for t, weight in preferred_anti:
                    value = labels.get(t.topology_key)
                    if value is not None and t.matches(other):
                        s.add(t.topology_key, value, -weight)
            _score_existing(s, ni.pods, pod, ns_labels, labels, hard_weight, ignore_existing_preferred)
        if not s.scores:
            return Status(Code.SKIP)
        state[_PRE_SCORE_KEY] = s
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        s: _PreScoreState | None = state.get(_PRE_SCORE_KEY)
        node = node_info.node
        if s is None or node is None:
            return 0, None
        labels = node.metadata.labels
        total = 0
        for key, by_value in s.scores.items():
            value = labels.get(key)
            if value is not None:
                total += by_value.get(value, 0)
        return total, None

    def normalize_score(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo], scores: list[int]
    ) -> Status | None:
        s: _PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None or not s.scores or not scores:
            return None
        low, high = min(scores), max(scores)
        spread = high - low
        for i, value in enumerate(scores):
            scores[i] = int(100 * (value - low) / spread) if spread > 0 else 0
        return None

    def score_extensions(self) -> InterPodAffinity:
        return self

    # ---------------------------------------------------------------- events

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.ALL)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
        ]


def _score_existing(
    s: _PreScoreState,
    pods: list[PodInfo],
    pod: Pod,
    ns_labels: dict[str, str] | None,
    node_labels: dict[str, str],
    hard_weight: int,
    ignore_preferred: bool,
) -> None:
    """Add what the terms of ``pods`` (existing pods on a node with ``node_labels``) say about ``pod``."""
    for existing in pods:
        if hard_weight > 0:
            for term in existing.required_affinity_terms:
                _score_term(s, term, hard_weight, pod, ns_labels, node_labels)
        if not ignore_preferred:
            for wt in existing.preferred_affinity_terms:
                _score_term(s, wt.term, wt.weight, pod, ns_labels, node_labels)
            for wt in existing.preferred_anti_affinity_terms:
                _score_term(s, wt.term, -wt.weight, pod, ns_labels, node_labels)


def _score_term(
    s: _PreScoreState,
    term: AffinityTerm,
    weight: int,
    pod: Pod,
    ns_labels: dict[str, str] | None,
    node_labels: dict[str, str],
) -> None:
    value = node_labels.get(term.topology_key)
    if value is not None and term.matches(pod, ns_labels):
        s.add(term.topology_key, value, weight)


def new(args: dict[str, Any] | None, handle: Any) -> InterPodAffinity:
    return InterPodAffinity(args, handle)
