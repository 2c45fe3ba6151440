"""NodePorts: a pod's host ports must be free on the node (0.0.0.0 clashes with every address)."""

from __future__ import annotations

from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.framework import (
    ASSIGNED_POD,
    NODE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    PreFilterResult,
    Status,
)

NAME = "NodePorts"
REASON = "node(s) didn't have free ports for the requested pod ports"
_KEY = "PreFilter" + NAME
_REJECT = Status.unschedulable(REASON, plugin=NAME)
_SKIP = Status(Code.SKIP)


class NodePorts:
    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        pi = state.pod_info or PodInfo(pod)
        if not pi.host_ports:
            return None, _SKIP
        state[_KEY] = pi.host_ports
        return None, None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        ports = state.get(_KEY)
        if ports is None:
            ports = (state.pod_info or PodInfo(pod)).host_ports
        if ports and node_info.port_conflicts(ports):
            return _REJECT
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD)),
        ]


def new(args: dict[str, Any], handle: Any) -> NodePorts:
    return NodePorts()
