"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate rule a node
out; PreferNoSchedule taints it does not tolerate lower the node's score."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from kubelite.api.core_v1 import Pod, Taint
from kubelite.api.nodematch import find_untolerated_taint, tolerations_tolerate
from kubelite.scheduler.framework import (
    NODE,
    UNSCHEDULED_POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    NodeInfo,
    QueueingHint,
    Status,
)
from kubelite.scheduler.plugins.helpers import (
    default_normalize_array,
    default_normalize_score,
    untolerated_taint_reason,
)

NAME = "TaintToleration"
_PRE_SCORE_KEY = "PreScore" + NAME
_TAINTED = attrgetter("tainted")
_PREFER_NO_SCHEDULE = attrgetter("prefer_no_schedule")


def _hard(taint: Taint) -> bool:
    return taint.effect in ("NoSchedule", "NoExecute")


class TaintToleration:
    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True
    # Raw scores depend only on the pod's spec and this NodeInfo's own state; PreScore reads no node.
    node_local_score = True

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if node is None or not node.spec.taints:
            return None
        taint = find_untolerated_taint(node.spec.taints, pod.spec.tolerations, _hard)
        if taint is None:
            return None
        return Status.unresolvable(untolerated_taint_reason(taint), plugin=NAME)

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        out: list[Status | None] = [None] * len(nodes)
        if not any(map(_TAINTED, nodes)):  # the common case, without a Python-level loop
            return out
        for i, ni in enumerate(nodes):
            if ni.tainted:
                out[i] = self.filter(state, pod, ni)
        return out

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        state[_PRE_SCORE_KEY] = [t for t in pod.spec.tolerations if t.effect in ("", "PreferNoSchedule")]
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        node = node_info.node
        if node is None or not node.spec.taints:
            return 0, None
        tolerations = state.get(_PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = [t for t in pod.spec.tolerations if t.effect in ("", "PreferNoSchedule")]
        count = 0
        for taint in node.spec.taints:
            if taint.effect == "PreferNoSchedule" and not tolerations_tolerate(tolerations, taint):
                count += 1
        return count, None

    def score_nodes(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status | None]:
        out = [0] * len(nodes)
        if not any(map(_PREFER_NO_SCHEDULE, nodes)):  # only PreferNoSchedule taints count
            return out, None
        for i, ni in enumerate(nodes):
            if ni.prefer_no_schedule:
                out[i] = self.score(state, pod, ni)[0]
        return out, None

    def normalize_score(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo], scores: list[int]
    ) -> Status | None:
        default_normalize_score(scores, reverse=True)
        return None

    def normalize_scores_array(self, state: CycleState, pod: Pod, scores: Any) -> Any:
        return default_normalize_array(scores, reverse=True)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT), self._node_change_helps
            ),
            ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATIONS)),
        ]

    @staticmethod
    def _node_change_helps(pod: Pod, old: Any, new: Any) -> QueueingHint:
        if new is None:
            return QueueingHint.QUEUE
        taint = find_untolerated_taint(new.spec.taints, pod.spec.tolerations, _hard)
        return QueueingHint.QUEUE if taint is None else QueueingHint.QUEUE_SKIP


def new(args: dict[str, Any], handle: Any) -> TaintToleration:
    return TaintToleration()
