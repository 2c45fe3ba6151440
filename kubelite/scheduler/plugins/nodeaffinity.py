"""NodeAffinity: ``nodeSelector`` and required node affinity filter nodes; preferred
terms score them by the sum of the weights of the terms a node matches.

Args (NodeAffinityArgs): ``addedAffinity`` — node affinity the scheduler
enforces on every pod of the profile on top of the pod's own.
"""

from __future__ import annotations

from itertools import compress
from operator import is_not
from typing import Any

import msgspec

from kubelite.api.core_v1 import NodeAffinity as NodeAffinitySpec
from kubelite.api.core_v1 import Pod
from kubelite.api.nodematch import NodeSelectorMatcher, NodeSelectorTermMatcher, RequiredNodeAffinity
from kubelite.scheduler.framework import (
    NODE,
    UNSCHEDULED_POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    NodeInfo,
    PreFilterResult,
    QueueingHint,
    Status,
)
from kubelite.scheduler.plugins.helpers import default_normalize_array, default_normalize_score

NAME = "NodeAffinity"
REASON_POD = "node(s) didn't match Pod's node affinity/selector"
REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_REJECT_POD = Status.unresolvable(REASON_POD, plugin=NAME)
_REJECT_ENFORCED = Status.unresolvable(REASON_ENFORCED, plugin=NAME)
_SKIP = Status(Code.SKIP)
_MEMO_SIGNATURES = 64  # distinct pod node selectors whose answers per node are kept
_WINDOWS = 256  # whole answers kept (see filter_nodes)


def _preferred(terms: list[Any]) -> list[tuple[NodeSelectorTermMatcher, int]]:
    return [(NodeSelectorTermMatcher(t.preference), t.weight) for t in terms if t.weight]


def _node_names_of(pod: Pod) -> set[str] | None:
    """Node names the required affinity pins via ``matchFields metadata.name In`` (None: no pin)."""
    aff = pod.spec.affinity
    if aff is None or aff.nodeAffinity is None:
        return None
    req = aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    if req is None or not req.nodeSelectorTerms:
        return None
    names: set[str] = set()
    for term in req.nodeSelectorTerms:
        pinned: set[str] | None = None
        for r in term.matchFields:
            if r.key == "metadata.name" and r.operator == "In" and len(r.values) == 1:
                pinned = set(r.values) if pinned is None else pinned & set(r.values)
        if pinned is None:
            return None  # this term can match nodes by other means
        names |= pinned
    return names


class _Required(RequiredNodeAffinity):
    """The pod's required node affinity with ``signature``: what its answers depend on."""

    __slots__ = ("signature",)

    def __init__(self, pod: Pod) -> None:
        super().__init__(pod)
        aff = pod.spec.affinity
        node_affinity = aff.nodeAffinity if aff is not None else None
        required = node_affinity.requiredDuringSchedulingIgnoredDuringExecution if node_affinity else None
        self.signature = msgspec.json.encode([self.node_selector, required])


class NodeAffinity:
    """Filter answers depend only on the Node object and the pod's selector: ``filter_nodes``
    keeps them per selector and node, and answers again only for nodes whose Node changed."""

    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True
    # Raw scores depend only on the pod's spec and this NodeInfo's own state (its node's labels);
    # PreScore reads no node.
    node_local_score = True

    def __init__(self, args: dict[str, Any]) -> None:
        # pod selector signature -> node name -> (the Node answered for, the answer)
        self._memo: dict[bytes, dict[str, tuple[Any, Status | None]]] = {}
        # (signature, first node, number of nodes) -> (the Nodes answered for, the answers)
        self._windows: dict[Any, tuple[list[Any], list[Status | None]]] = {}
        self.added_required: NodeSelectorMatcher | None = None
        self.added_preferred: list[tuple[NodeSelectorTermMatcher, int]] = []
        added = args.get("addedAffinity")
        if added:
            spec = msgspec.convert(added, NodeAffinitySpec, strict=False)
            req = spec.requiredDuringSchedulingIgnoredDuringExecution
            if req is not None:
                self.added_required = NodeSelectorMatcher(req)
            self.added_preferred = _preferred(spec.preferredDuringSchedulingIgnoredDuringExecution)

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        required = _Required(pod)
        if required.empty and self.added_required is None:
            return None, _SKIP
        state[_PRE_FILTER_KEY] = required
        names = _node_names_of(pod)
        if names is not None:
            if not names:
                return None, Status.unresolvable(REASON_POD, plugin=NAME)
            return PreFilterResult(names), None
        return None, None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if node is None:
            return Status.unresolvable("node not found", plugin=NAME)
        if self.added_required is not None and not self.added_required.matches(node):
            return _REJECT_ENFORCED
        required = state.get(_PRE_FILTER_KEY)
        if required is None:
            required = RequiredNodeAffinity(pod)
        if not required.match(node):
            return _REJECT_POD
        return None

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        required = state.get(_PRE_FILTER_KEY)
        if not isinstance(required, _Required) or not nodes:
            return [self.filter(state, pod, ni) for ni in nodes]
        # Whole answers per selector and run of nodes, checked by the identity of each Node
        # (read from NodeInfos the earlier filters touched); else answers per node.
        objs = [ni.node for ni in nodes]
        window = (required.signature, nodes[0].name, len(nodes))
        entry = self._windows.get(window)
        if entry is not None:
            old_objs, old_out = entry
            stale = list(compress(range(len(objs)), map(is_not, objs, old_objs)))
            if not stale:
                return list(old_out)
            if len(stale) * 4 <= len(objs):
                memo = self._memo_of(required)
                out = list(old_out)
                for i in stale:
                    out[i] = self._answer(memo, state, pod, nodes[i])
                self._windows[window] = (objs, out)
                return list(out)
        memo = self._memo_of(required)
        out = [self._answer(memo, state, pod, ni) for ni in nodes]
        if len(self._windows) >= _WINDOWS:
            self._windows.clear()
        self._windows[window] = (objs, out)
        return list(out)

    def _memo_of(self, required: _Required) -> dict[str, tuple[Any, Status | None]]:
        memo = self._memo.get(required.signature)
        if memo is None:
            if len(self._memo) >= _MEMO_SIGNATURES:
                self._memo.clear()
            memo = self._memo[required.signature] = {}
        return memo

    def _answer(
        self, memo: dict[str, tuple[Any, Status | None]], state: CycleState, pod: Pod, ni: NodeInfo
    ) -> Status | None:
        entry = memo.get(ni.name)
        if entry is None or entry[0] is not ni.node:
            entry = (ni.node, self.filter(state, pod, ni))
            memo[ni.name] = entry
        return entry[1]

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        terms = list(self.added_preferred)
        aff = pod.spec.affinity
        if aff is not None and aff.nodeAffinity is not None:
            terms += _preferred(aff.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution)
        if not terms:
            return _SKIP
        state[_PRE_SCORE_KEY] = terms
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        node = node_info.node
        if node is None:
            return 0, None
        terms = state.get(_PRE_SCORE_KEY)
        if terms is None:
            aff = pod.spec.affinity
            terms = list(self.added_preferred)
            if aff is not None and aff.nodeAffinity is not None:
                terms += _preferred(aff.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution)
        total = 0
        for matcher, weight in terms:
            if matcher.matches(node):
                total += weight
        return total, None

    def normalize_score(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo], scores: list[int]
    ) -> Status | None:
        default_normalize_score(scores)
        return None

    def normalize_scores_array(self, state: CycleState, pod: Pod, scores: Any) -> Any:
        return default_normalize_array(scores)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL), self._node_change_helps
            ),
            ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE)),
        ]

    def _node_change_helps(self, pod: Pod, old: Any, new: Any) -> QueueingHint:
        if new is None:
            return QueueingHint.QUEUE
        if self.added_required is not None and not self.added_required.matches(new):
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE if RequiredNodeAffinity(pod).match(new) else QueueingHint.QUEUE_SKIP


def new(args: dict[str, Any], handle: Any) -> NodeAffinity:
    return NodeAffinity(args)
