"""SchedulingGates: a pod with ``spec.schedulingGates`` waits outside the active queue."""

from __future__ import annotations

from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.framework import (
    UNSCHEDULED_POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    Status,
)

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: Pod) -> Status | None:
        gates = pod.spec.schedulingGates
        if not gates:
            return None
        names = " ".join(g.name for g in gates)
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [f"waiting for scheduling gates: [{names}]"], NAME)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
            )
        ]


def new(args: dict[str, Any], handle: Any) -> SchedulingGates:
    return SchedulingGates()
