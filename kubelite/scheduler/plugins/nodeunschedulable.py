"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods that tolerate it."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from kubelite.api.core_v1 import Pod, Taint
from kubelite.api.nodematch import tolerations_tolerate
from kubelite.scheduler.framework import (
    NODE,
    UNSCHEDULED_POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    NodeInfo,
    Status,
)

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
UNKNOWN_CONDITION = "node(s) had unknown conditions"
UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
_REJECT = Status.unresolvable(REASON, plugin=NAME)
_NO_NODE = Status.unresolvable(UNKNOWN_CONDITION, plugin=NAME)
_UNSCHEDULABLE = attrgetter("unschedulable")


class NodeUnschedulable:
    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if node is None:
            return _NO_NODE
        if not node.spec.unschedulable:
            return None
        if tolerations_tolerate(pod.spec.tolerations, UNSCHEDULABLE_TAINT):
            return None
        return _REJECT

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        out: list[Status | None] = [None] * len(nodes)
        if not any(map(_UNSCHEDULABLE, nodes)):  # the common case, without a Python-level loop
            return out
        for i, ni in enumerate(nodes):
            if ni.unschedulable:
                out[i] = self.filter(state, pod, ni)
        return out

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)),
            ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATIONS)),
        ]


def new(args: dict[str, Any], handle: Any) -> NodeUnschedulable:
    return NodeUnschedulable()
