"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node."""

from __future__ import annotations

from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.framework import (
    NODE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    NodeInfo,
    PreFilterResult,
    Status,
)

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"
_REJECT = Status.unresolvable(REASON, plugin=NAME)
_SKIP = Status(Code.SKIP)


class NodeName:
    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        # A pod that names no node fits every node here: nothing to filter.
        return None, (None if pod.spec.nodeName else _SKIP)

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        wanted = pod.spec.nodeName
        if wanted and wanted != node_info.name:
            return _REJECT
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE))]


def new(args: dict[str, Any], handle: Any) -> NodeName:
    return NodeName()
