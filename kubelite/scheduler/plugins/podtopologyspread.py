"""PodTopologySpread: keep matching pods evenly spread over topology domains.

A constraint says: over the domains of ``topologyKey`` (zones, nodes, ...),
the number of pods matching ``labelSelector`` (plus the values of the pod's
own ``matchLabelKeys``) in the pod's namespace may differ by at most
``maxSkew`` between any domain and the emptiest one. ``DoNotSchedule``
constraints are Filter rules; ``ScheduleAnyway`` ones only steer Score.

- Domains are the values of the key on the nodes that count: by default
  those that pass the pod's required node affinity and nodeSelector
  (``nodeAffinityPolicy: Honor``) whatever their taints
  (``nodeTaintsPolicy: Ignore``); a node without the key is no domain, and
  a pod cannot go there under a DoNotSchedule constraint.
- ``minDomains``: while fewer domains than that exist, the global minimum
  counts as 0, so pods cannot pile into the few domains there are.
- A pod without constraints that a Service, ReplicationController,
  ReplicaSet or StatefulSet selects gets the cluster defaults (Kubernetes'
  system defaults: hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway),
  with those objects' selectors as its selector.

PreFilter counts matching pods per domain once per pod. Counting walks every
node, so per node and NodeInfo generation the counts are memoized: only
nodes that changed since the last pod are counted again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from kubelite.api.core_v1 import Node, Pod
from kubelite.api.nodematch import RequiredNodeAffinity, find_untolerated_taint
from kubelite.api.selectors import LabelSelector, Requirement, new_requirement, selector_from_api
from kubelite.client import lookup
from kubelite.client.informer import NAMESPACE_INDEX
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
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "PodTopologySpread"

ERR_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_NODE_LABEL_NOT_MATCH = ERR_CONSTRAINTS_NOT_MATCH + " (missing required label)"

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
COMPILED_LIMIT = 256  # kinds of pods whose compiled constraints are kept

# Kubernetes' system default constraints (defaultingType: System).
SYSTEM_DEFAULT_CONSTRAINTS: tuple[dict[str, Any], ...] = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)

_PRE_FILTER_KEY = "PreFilter" + NAME
_NOT_MATCH = Status(Code.UNSCHEDULABLE, [ERR_CONSTRAINTS_NOT_MATCH], NAME)  # shared: read-only
_MISSING_LABEL = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [ERR_NODE_LABEL_NOT_MATCH], NAME)
_PRE_SCORE_KEY = "PreScore" + NAME
_SCORE_CONSTRAINTS_KEY = "PreScoreConstraints" + NAME
_NO_DOMAIN = object()  # a node without the topology key (or without a Node), in _domains_of


# ---------------------------------------------------------------- constraints


class Constraint:
    """One topology spread constraint, parsed for the pod being scheduled."""

    __slots__ = (
        "max_skew",
        "min_domains",
        "node_affinity",
        "node_affinity_policy",
        "node_taints_policy",
        "selector",
        "selector_key",
        "tolerations",
        "topology_key",
    )

    def __init__(
        self,
        max_skew: int,
        topology_key: str,
        selector: LabelSelector,
        min_domains: int = 1,
        node_affinity_policy: str = HONOR,
        node_taints_policy: str = IGNORE,
    ) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.selector_key = (selector.selects_nothing, selector.requirements)
        self.min_domains = min_domains
        self.node_affinity_policy = node_affinity_policy
        self.node_taints_policy = node_taints_policy
        self.node_affinity: RequiredNodeAffinity | None = None  # set by for_pod
        self.tolerations: list[Any] = []

    def for_pod(self, pod: Pod) -> Constraint:
        """Compile the pod's node affinity and tolerations for ``includes_node``."""
        if self.node_affinity_policy == HONOR:
            affinity = RequiredNodeAffinity(pod)
            self.node_affinity = None if affinity.empty else affinity
        self.tolerations = list(pod.spec.tolerations)
        return self

    def eligibility_signature(self, pod: Pod) -> Any:
        """What ``includes_node`` depends on besides the node (None: every node is included)."""
        parts: list[Any] = []
        if self.node_affinity_policy == HONOR:
            affinity = pod.spec.affinity
            node_affinity = affinity.nodeAffinity if affinity is not None else None
            if pod.spec.nodeSelector or (
                node_affinity is not None and node_affinity.requiredDuringSchedulingIgnoredDuringExecution
            ):
                parts.append(msgspec.json.encode([pod.spec.nodeSelector, node_affinity]))
        if self.node_taints_policy == HONOR:
            parts.append(msgspec.json.encode(["taints", pod.spec.tolerations]))
        return tuple(parts) or None

    def includes_node(self, pod: Pod, node: Node) -> bool:
        """Whether ``node`` counts for this constraint under its node inclusion policies."""
        if self.node_affinity is not None and not self.node_affinity.match(node):
            return False
        if self.node_taints_policy != HONOR:
            return True
        return find_untolerated_taint(node.spec.taints, self.tolerations, _schedule_effects) is None


def _schedule_effects(taint: Any) -> bool:
    return bool(taint.effect in ("NoSchedule", "NoExecute"))


def _selector_of(
    label_selector: Any, match_label_keys: list[str], pod_labels: dict[str, str]
) -> LabelSelector:
    if label_selector is None:
        selector = LabelSelector.nothing()
    else:
        try:
            selector = selector_from_api(msgspec.to_builtins(label_selector))
        except ValueError:
            selector = LabelSelector.nothing()
    extra: list[Requirement] = []
    for key in match_label_keys:
        if key in pod_labels:
            try:
                extra.append(new_requirement(key, "in", [pod_labels[key]]))
            except ValueError:
                pass
    return selector.add(*extra) if extra else selector


def _has_all_keys(labels: dict[str, str], constraints: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


class _FilterState:
    """Matching pods per domain for each hard constraint, with a lazily kept minimum."""

    __slots__ = ("constraints", "counts", "minimums", "self_match")

    def __init__(self, constraints: list[Constraint], pod_labels: dict[str, str]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.minimums: list[int | None] = [None] * len(constraints)  # None: recompute on read
        self.self_match = [1 if c.selector.matches(pod_labels) else 0 for c in constraints]

    def clone(self) -> _FilterState:
        new = _FilterState.__new__(_FilterState)
        new.constraints = self.constraints
        new.counts = [dict(c) for c in self.counts]
        new.minimums = list(self.minimums)
        new.self_match = self.self_match
        return new

    def limits(self) -> list[int]:
        """Per constraint, the most matching pods a domain may hold for the pod to go there."""
        return [c.max_skew - self.self_match[i] + self.min_match(i) for i, c in enumerate(self.constraints)]

    def min_match(self, i: int) -> int:
        low = self.minimums[i]
        if low is None:
            counts = self.counts[i]
            low = min(counts.values()) if counts else 2**31 - 1
            self.minimums[i] = low
        c = self.constraints[i]
        if len(self.counts[i]) < c.min_domains:
            return 0  # too few domains: the emptiest possible one has no pods
        return low

    def update(self, i: int, value: str, delta: int) -> None:
        counts = self.counts[i]
        old = counts.get(value, 0)
        new = old + delta
        counts[value] = new
        low = self.minimums[i]
        if low is not None:
            if new < low:
                self.minimums[i] = new
            elif old == low and new > old:
                self.minimums[i] = None


class _ScoreState:
    __slots__ = ("constraints", "ignored", "pair_counts", "weights")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.ignored: set[str] = set()
        self.pair_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.weights: list[float] = [0.0] * len(constraints)


def count_matching(pods: list[PodInfo], selector: LabelSelector, namespace: str) -> int:
    """Pods in ``namespace`` that ``selector`` matches, not counting ones being deleted."""
    n = 0
    for pi in pods:
        meta = pi.pod.metadata
        if meta.namespace == namespace and not meta.deletionTimestamp and selector.matches(meta.labels):
            n += 1
    return n


class DomainCountCache:
    """Counts per domain summed over nodes, kept current by NodeInfo generation.

    ``count_node(ni)`` answers one node's contribution (a mapping of domain
    to count; None or empty: the node is in no domain). ``refresh(nodes)``
    recounts only the nodes whose generation changed since the last call
    (generation 0, as in hand-built snapshots, always recounts) and forgets
    nodes that are no longer listed, so a PreFilter costs a dictionary
    lookup per unchanged node instead of a walk over its pods. A domain with
    member nodes but no matching pods stays, with count 0.

    With ``pair_keys``, domains are ``(key, value)`` pairs and ``keys`` counts
    the domains of each key, so the keys in use are known without a walk
    over the domains.
    """

    __slots__ = ("count_node", "keys", "members", "nodes", "pair_keys", "seen_generation", "totals")

    def __init__(
        self, count_node: Callable[[NodeInfo], dict[Any, int] | None], pair_keys: bool = False
    ) -> None:
        self.count_node = count_node
        self.nodes: dict[str, tuple[int, dict[Any, int] | None]] = {}
        self.totals: dict[Any, int] = {}
        self.members: dict[Any, int] = {}
        self.pair_keys = pair_keys
        self.keys: dict[str, int] = {}
        self.seen_generation = 0

    def _apply(self, contribution: dict[Any, int] | None, sign: int) -> None:
        if not contribution:
            return
        totals, members = self.totals, self.members
        keys = self.keys if self.pair_keys else None
        for domain, n in contribution.items():
            before = members.get(domain, 0)
            left = before + sign
            if left > 0:
                members[domain] = left
                totals[domain] = totals.get(domain, 0) + sign * n
                if keys is not None and not before:
                    keys[domain[0]] = keys.get(domain[0], 0) + 1
            else:
                members.pop(domain, None)
                totals.pop(domain, None)
                if keys is not None and before:
                    left_of_key = keys.get(domain[0], 0) - 1
                    if left_of_key > 0:
                        keys[domain[0]] = left_of_key
                    else:
                        keys.pop(domain[0], None)

    def _count(self, changed: list[NodeInfo]) -> None:
        """Recount the NodeInfos of ``changed`` whose generation differs from the one counted."""
        nodes = self.nodes
        count_node = self.count_node
        for ni in changed:
            gen = ni.generation
            entry = nodes.get(ni.name)
            if entry is not None and gen and entry[0] == gen:
                continue
            new = count_node(ni)
            if entry is not None:
                self._apply(entry[1], -1)
            self._apply(new, 1)
            nodes[ni.name] = (gen, new)

    def refresh(
        self,
        infos: list[NodeInfo] | Callable[[], list[NodeInfo]],
        generation: int = 0,
        changes: Callable[[int], list[NodeInfo] | None] | None = None,
    ) -> dict[Any, int]:
        """The totals over ``infos``, a snapshot's NodeInfos (or a sublist) at snapshot ``generation``.

        With the generation, only NodeInfos newer than the last refresh are
        looked at (a change bumps a NodeInfo past every older snapshot):
        those ``changes`` (the snapshot's ``changed_since``) names, else those
        found by a scan of ``infos``. A sublist must be one that a node
        joins or leaves only by changing, and ``count_node`` must count
        nothing for a node not on it. ``infos`` may be a function giving the
        list, called only when the change log cannot answer (building a list
        of thousands of NodeInfos touches every one of them).
        """
        if callable(infos):
            if generation and self.seen_generation and generation >= self.seen_generation and changes:
                logged_changes = changes(self.seen_generation)
                if logged_changes is not None:
                    self._count(logged_changes)
                    self.seen_generation = generation
                    return self.totals
            infos = infos()
        nodes = self.nodes
        seen = self.seen_generation
        changed: list[NodeInfo] | None = None
        logged = False
        if generation and seen and generation >= seen:
            if changes is not None:
                changed = changes(seen)
                logged = changed is not None
            if changed is None and len(nodes) >= len(infos):
                changed = [ni for ni in infos if ni.generation > seen]
        if changed is None:
            changed = infos
        self._count(changed)
        if not logged and len(nodes) > len(infos):
            listed = {ni.name for ni in infos}
            for name in [n for n in nodes if n not in listed]:
                self._apply(nodes.pop(name)[1], -1)
        self.seen_generation = generation
        return self.totals


class CountCaches:
    """``DomainCountCache``s by signature, dropped wholesale when too many pile up."""

    __slots__ = ("caches", "limit")

    def __init__(self, limit: int = 64) -> None:
        self.caches: dict[Any, DomainCountCache] = {}
        self.limit = limit

    def get(
        self,
        signature: Any,
        count_node: Callable[[NodeInfo], dict[Any, int] | None],
        pair_keys: bool = False,
    ) -> DomainCountCache:
        cache = self.caches.get(signature)
        if cache is None:
            if len(self.caches) >= self.limit:
                self.caches.clear()
            cache = self.caches[signature] = DomainCountCache(count_node, pair_keys)
        return cache


class PodTopologySpread:
    """The PodTopologySpread plugin (PreFilter, Filter, PreScore, Score)."""

    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        args = args or {}
        self.handle = handle
        self.defaulting_type = args.get("defaultingType", "System")
        if self.defaulting_type not in ("System", "List"):
            raise ValueError(f"defaultingType must be System or List, not {self.defaulting_type!r}")
        if self.defaulting_type == "System":
            self.default_constraints: list[dict[str, Any]] = [dict(c) for c in SYSTEM_DEFAULT_CONSTRAINTS]
        else:
            self.default_constraints = [dict(c) for c in args.get("defaultConstraints") or []]
        self.system_defaulted = self.defaulting_type == "System"
        self._memo: dict[str, tuple[int, dict[tuple[Any, ...], int]]] = {}
        # topology key -> (id(Node) -> its value of the key, id(Node) -> the Node)
        self._domains: dict[str, tuple[dict[int, Any], dict[int, Any]]] = {}
        self._caches = CountCaches()
        # The pod's own constraints by what they are compiled from (see _constraints).
        self._compiled: dict[tuple[Any, ...], list[Constraint]] = {}
        self._selecting: list[Any] = []
        factory = getattr(handle, "informer_factory", None)
        if factory is not None and self.default_constraints:
            for group, version, kind in (
                ("", "v1", "Service"),
                ("", "v1", "ReplicationController"),
                ("apps", "v1", "ReplicaSet"),
                ("apps", "v1", "StatefulSet"),
            ):
                self._selecting.append((kind, factory.informer_for(lookup(group, version, kind))))

    def _changes(
        self, nodes: list[NodeInfo], generation: int
    ) -> Callable[[int], list[NodeInfo] | None] | None:
        """The snapshot's change log, when ``nodes`` are all of the snapshot at ``generation``."""
        snapshot = self.handle.snapshot_shared_lister() if self.handle is not None else None
        if (
            generation
            and getattr(snapshot, "generation", None) == generation
            and getattr(snapshot, "infos", None) is nodes
        ):
            return getattr(snapshot, "changed_since", None)
        return None

    # ------------------------------------------------------------ constraints

    def _constraints(self, pod: Pod, when: str) -> list[Constraint]:
        """The pod's constraints of kind ``when``; the defaults when it has none at all."""
        if pod.spec.topologySpreadConstraints:
            # Compiled once per kind of pod (its constraints, labels, node selection and
            # tolerations: all that Constraint and for_pod read), not twice a cycle: selector
            # parsing and node affinity made ~12 us of each PreFilter. Constraints are only read.
            spec = pod.spec
            labels = pod.metadata.labels
            key = (
                when,
                msgspec.json.encode(
                    (spec.topologySpreadConstraints, spec.nodeSelector, spec.affinity, spec.tolerations)
                ),
                frozenset(labels.items()),
            )
            compiled = self._compiled.get(key)
            if compiled is not None:
                return compiled
            out = []
            for c in pod.spec.topologySpreadConstraints:
                if c.whenUnsatisfiable != when:
                    continue
                out.append(
                    Constraint(
                        c.maxSkew,
                        c.topologyKey,
                        _selector_of(c.labelSelector, c.matchLabelKeys, labels),
                        c.minDomains if c.minDomains is not None else 1,
                        c.nodeAffinityPolicy or HONOR,
                        c.nodeTaintsPolicy or IGNORE,
                    ).for_pod(pod)
                )
            if len(self._compiled) >= COMPILED_LIMIT:
                self._compiled.clear()
            self._compiled[key] = out
            return out
        return self._default_constraints(pod, when)

    def _default_constraints(self, pod: Pod, when: str) -> list[Constraint]:
        wanted = [c for c in self.default_constraints if c.get("whenUnsatisfiable") == when]
        if not wanted:
            return []
        selector = self.default_selector(pod)
        if selector.empty or selector.selects_nothing:
            return []
        return [Constraint(int(c["maxSkew"]), c["topologyKey"], selector).for_pod(pod) for c in wanted]

    def default_selector(self, pod: Pod) -> LabelSelector:
        """The union of the selectors of the Services, RCs, ReplicaSets and StatefulSets selecting the pod."""
        labels = pod.metadata.labels
        ns = pod.metadata.namespace
        merged: dict[str, str] = {}
        requirements: list[Requirement] = []
        for kind, informer in self._selecting:
            # The pod's namespace only, from the informer's namespace index: every PreScore and
            # PreFilter of a pod without constraints asks, and a cluster has objects in many.
            for obj in informer.by_index(NAMESPACE_INDEX, ns):
                if kind in ("Service", "ReplicationController"):
                    sel_map = obj.spec.selector or {}
                    if sel_map and all(labels.get(k) == v for k, v in sel_map.items()):
                        merged.update(sel_map)
                else:
                    if obj.spec.selector is None:
                        continue
                    try:
                        sel = selector_from_api(msgspec.to_builtins(obj.spec.selector))
                    except ValueError:
                        continue
                    if not sel.empty and sel.matches(labels):
                        requirements.extend(sel.requirements)
        for k, v in merged.items():
            requirements.append(new_requirement(k, "in", [v]))
        return LabelSelector(requirements)

    # ---------------------------------------------------------------- filter

    def _count_on(self, ni: NodeInfo, c: Constraint, namespace: str) -> int:
        """``count_matching`` on one node, memoized per NodeInfo generation (hostname scores)."""
        if not ni.pods:
            return 0
        generation = ni.generation
        if not generation:
            return count_matching(ni.pods, c.selector, namespace)
        entry = self._memo.get(ni.name)
        if entry is None or entry[0] != generation:
            if len(self._memo) > 20000:
                self._memo.clear()
            entry = (generation, {})
            self._memo[ni.name] = entry
        key = (namespace, c.selector_key)
        n = entry[1].get(key)
        if n is None:
            n = entry[1][key] = count_matching(ni.pods, c.selector, namespace)
        return n

    def domain_counts(
        self, pod: Pod, c: Constraint, keys: tuple[str, ...], nodes: list[NodeInfo], generation: int = 0
    ) -> dict[str, int]:
        """Matching pods per value of ``c``'s key over the ``nodes`` that count for it (all keys present,
        inclusion policies met). Cached across pods by generation; do not modify the answer."""
        ns = pod.metadata.namespace
        key = c.topology_key
        selector = c.selector

        def count_node(ni: NodeInfo) -> dict[Any, int] | None:
            node = ni.node
            if node is None:
                return None
            labels = node.metadata.labels
            for k in keys:
                if k not in labels:
                    return None
            if not c.includes_node(pod, node):
                return None
            return {labels[key]: count_matching(ni.pods, selector, ns) if ni.pods else 0}

        signature = (ns, c.selector_key, key, keys, c.eligibility_signature(pod))
        return self._caches.get(signature, count_node).refresh(
            nodes, generation, self._changes(nodes, generation)
        )

    def _score_counts(
        self, pod: Pod, c: Constraint, keys: tuple[str, ...], nodes: list[NodeInfo], generation: int = 0
    ) -> dict[str, int]:
        """Like ``domain_counts``, but a node without the key (allowed when ``keys`` is empty,
        under system defaults) counts for the domain ""."""
        ns = pod.metadata.namespace
        key = c.topology_key
        selector = c.selector

        def count_node(ni: NodeInfo) -> dict[Any, int] | None:
            node = ni.node
            if node is None:
                return None
            labels = node.metadata.labels
            for k in keys:
                if k not in labels:
                    return None
            if not c.includes_node(pod, node):
                return None
            return {labels.get(key, ""): count_matching(ni.pods, selector, ns) if ni.pods else 0}

        signature = ("score", ns, c.selector_key, key, keys, c.eligibility_signature(pod))
        return self._caches.get(signature, count_node).refresh(
            nodes, generation, self._changes(nodes, generation)
        )

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, Status(Code.SKIP)
        s = _FilterState(constraints, pod.metadata.labels)
        keys = tuple(sorted({c.topology_key for c in constraints}))
        snapshot = self.handle.snapshot_shared_lister()
        all_nodes, generation = snapshot.list(), getattr(snapshot, "generation", 0)
        for i, c in enumerate(constraints):
            s.counts[i] = dict(self.domain_counts(pod, c, keys, all_nodes, generation))
        state[_PRE_FILTER_KEY] = s
        return None, None

    def pre_filter_extensions(self) -> PodTopologySpread:
        return self

    def _update(
        self, state: CycleState, pod: Pod, other: PodInfo, node_info: NodeInfo, delta: int
    ) -> Status | None:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        node = node_info.node
        if s is None or node is None or other.pod.metadata.namespace != pod.metadata.namespace:
            return None
        labels = node.metadata.labels
        if not _has_all_keys(labels, s.constraints):
            return None
        for i, c in enumerate(s.constraints):
            if c.selector.matches(other.pod.metadata.labels) and c.includes_node(pod, node):
                s.update(i, labels[c.topology_key], delta)
        return None

    def add_pod(
        self, state: CycleState, pod: Pod, pod_info_to_add: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        return self._update(state, pod, pod_info_to_add, node_info, 1)

    def remove_pod(
        self, state: CycleState, pod: Pod, pod_info_to_remove: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        return self._update(state, pod, pod_info_to_remove, node_info, -1)

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        return self.filter_nodes(state, pod, [node_info])[0]

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        """``filter`` for many nodes: the skew limits are worked out once."""
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return [Status.as_error(f"{NAME}: PreFilter state missing", NAME)] * len(nodes)
        checks = [
            (c.topology_key, s.counts[i], lim)
            for i, (c, lim) in enumerate(zip(s.constraints, s.limits(), strict=True))
        ]
        if len(checks) == 1:
            # One constraint (the common case): the answer depends only on the node's domain, so
            # the domains over the limit are found once, and each node's domain comes from a
            # table by Node object (its labels are three objects away from the NodeInfo).
            key, counts, limit = checks[0]
            over = {value for value, n in counts.items() if n > limit}
            values = self._domains_of(key, nodes)
            if not over:
                return [_MISSING_LABEL if v is _NO_DOMAIN else None for v in values]
            return [
                _MISSING_LABEL if v is _NO_DOMAIN else (_NOT_MATCH if v in over else None) for v in values
            ]
        out: list[Status | None] = []
        for ni in nodes:
            node = ni.node
            labels = node.metadata.labels if node is not None else {}
            result = None
            for key, counts, limit in checks:
                value = labels.get(key)
                if value is None:
                    result = _MISSING_LABEL
                    break
                if counts.get(value, 0) > limit:
                    result = _NOT_MATCH
                    break
            out.append(result)
        return out

    def filter_positions(
        self, state: CycleState, pod: Pod, snapshot: Any, positions: Any
    ) -> tuple[Any, Callable[[int], Status]] | None:
        """``filter_nodes`` for the nodes at ``positions`` of ``snapshot``, by their domain codes
        (``Snapshot.label_codes``): whether each passes, and the status of the i-th when it does
        not. One constraint only (the common case); None otherwise: then asked node by node."""
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None or len(s.constraints) != 1:
            return None
        codes, index = snapshot.label_codes(s.constraints[0].topology_key)
        limit = s.limits()[0]
        rejected = np.zeros(len(index) + 1, np.bool_)
        rejected[-1] = True  # code -1: no such label
        for value, n in s.counts[0].items():
            if n > limit:
                code = index.get(value)
                if code is not None:
                    rejected[code] = True
        domains = codes[positions]
        ok = ~rejected[domains]

        def status_at(i: int) -> Status:
            return _MISSING_LABEL if domains[i] < 0 else _NOT_MATCH

        return ok, status_at

    def _domains_of(self, key: str, nodes: list[NodeInfo]) -> list[Any]:
        """Each node's value of label ``key`` (``_NO_DOMAIN`` without it, or without a Node)."""
        table = self._domains.get(key)
        if table is None:
            if len(self._domains) >= 16:
                self._domains.clear()
            table = self._domains[key] = ({}, {})
        by_id, alive = table
        objs = [ni.node for ni in nodes]
        values = list(map(by_id.get, map(id, objs)))
        if None in values:
            if len(alive) > 4 * len(nodes) + 20000:
                by_id.clear()  # Nodes long replaced pile up: start afresh
                alive.clear()
                values = [None] * len(objs)
            for i, node in enumerate(objs):
                if values[i] is None:
                    value = node.metadata.labels.get(key, _NO_DOMAIN) if node is not None else _NO_DOMAIN
                    # Keyed by id(): the Node is kept alive with its entry, so the id is not reused.
                    by_id[id(node)] = value
                    alive[id(node)] = node
                    values[i] = value
        return values

    # ----------------------------------------------------------------- score

    def _score_constraints(self, state: CycleState, pod: Pod) -> list[Constraint]:
        """The pod's ScheduleAnyway constraints (or the defaults), worked out once per cycle."""
        constraints: list[Constraint] | None = state.get(_SCORE_CONSTRAINTS_KEY)
        if constraints is None:
            constraints = state[_SCORE_CONSTRAINTS_KEY] = self._constraints(pod, SCHEDULE_ANYWAY)
        return constraints

    def pre_score_reads_nodes(self, state: CycleState, pod: Pod) -> bool:
        """Whether PreScore will read the nodes it is given: only when there is something to score
        (see kubelite.scheduler.arrays, which then lists them)."""
        return bool(self._score_constraints(state, pod))

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return Status(Code.SKIP)
        constraints = self._score_constraints(state, pod)
        if not constraints:
            return Status(Code.SKIP)
        # System defaults spread over whatever keys a node has; the pod's own constraints need them all.
        require_all = bool(pod.spec.topologySpreadConstraints) or not self.system_defaulted
        s = _ScoreState(constraints)
        sizes = [0] * len(constraints)
        for ni in nodes:
            node = ni.node
            if node is None:
                continue
            labels = node.metadata.labels
            if require_all and not _has_all_keys(labels, constraints):
                s.ignored.add(ni.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME:
                    continue  # counted per node in Score
                value = labels.get(c.topology_key, "")
                if value not in s.pair_counts[i]:
                    s.pair_counts[i][value] = 0
                    sizes[i] += 1
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME else sizes[i]
            s.weights[i] = math.log(size + 2)
        snapshot = self.handle.snapshot_shared_lister()
        all_nodes, generation = snapshot.list(), getattr(snapshot, "generation", 0)
        keys = tuple(sorted({c.topology_key for c in constraints})) if require_all else ()
        for i, c in enumerate(constraints):
            if c.topology_key == HOSTNAME:
                continue
            pairs = s.pair_counts[i]
            totals = self._score_counts(pod, c, keys, all_nodes, generation)
            for value in pairs:
                pairs[value] = totals.get(value, 0)
        state[_PRE_SCORE_KEY] = s
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        s: _ScoreState | None = state.get(_PRE_SCORE_KEY)
        node = node_info.node
        if s is None or node is None or node_info.name in s.ignored:
            return 0, None
        labels = node.metadata.labels
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = self._count_on(node_info, c, pod.metadata.namespace)
            else:
                count = s.pair_counts[i].get(value, 0)
            total += count * s.weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5), None  # half away from zero, as Go's math.Round

    def normalize_score(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo], scores: list[int]
    ) -> Status | None:
        s: _ScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return None
        counted = [v for ni, v in zip(nodes, scores, strict=True) if ni.name not in s.ignored]
        if not counted:
            for i in range(len(scores)):
                scores[i] = 0
            return None
        low, high = min(counted), max(counted)
        for i, ni in enumerate(nodes):
            if ni.name in s.ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = 100
            else:
                scores[i] = 100 * (high + low - scores[i]) // high
        return None

    def score_extensions(self) -> PodTopologySpread:
        return self

    # ---------------------------------------------------------------- events

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.ALL)),
            ClusterEventWithHint(
                ClusterEvent(
                    NODE,
                    ActionType.ADD
                    | ActionType.DELETE
                    | ActionType.UPDATE_NODE_LABEL
                    | ActionType.UPDATE_NODE_TAINT,
                )
            ),
        ]


def new(args: dict[str, Any] | None, handle: Any) -> PodTopologySpread:
    return PodTopologySpread(args, handle)
