"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used
in similar proportions once the pod is placed (score = (1 - std. deviation) * 100).

Args: ``resources: [{name, weight}]`` (default cpu and memory).
"""

from __future__ import annotations

import math
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
    Status,
)
from kubelite.scheduler.nodeinfo import CPU, MEMORY
from kubelite.scheduler.plugins.noderesources import memoized_scores

NAME = "NodeResourcesBalancedAllocation"
_KEY = "PreScore" + NAME
_SKIP = Status(Code.SKIP)


class BalancedAllocation:
    name = NAME
    # Scores depend only on the pod's spec and this NodeInfo's own state; PreScore reads no node.
    node_local_score = True

    def __init__(self, args: dict[str, Any]) -> None:
        resources = args.get("resources")
        self.resources = [r["name"] for r in resources] if resources else [CPU, MEMORY]
        self._memo_prefix = f"{NAME}/{self.resources}/"  # for NodeInfo.score_memo
        self._scores: dict[str, dict[int, int]] = {}  # for memoized_scores

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        pi = state.pod_info or PodInfo(pod)
        reqs = [pi.requests.get(name) for name in self.resources]
        if not any(reqs):
            return _SKIP  # a best-effort pod does not change the balance
        state[_KEY] = reqs
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        reqs = state.get(_KEY)
        if reqs is None:
            pi = state.pod_info or PodInfo(pod)
            reqs = [pi.requests.get(name) for name in self.resources]
        alloc = node_info.allocatable
        used = node_info.requested
        fractions = []
        for i, name in enumerate(self.resources):
            capacity = alloc.get(name)
            if capacity == 0:
                continue
            f = (used.get(name) + reqs[i]) / capacity
            fractions.append(1.0 if f > 1 else f)
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        else:
            std = 0.0
        return int((1 - std) * 100), None

    def score_nodes(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status | None]:
        reqs = state.get(_KEY)
        if reqs is None:
            pi = state.pod_info or PodInfo(pod)
            reqs = [pi.requests.get(name) for name in self.resources]
        key = self._memo_prefix + ",".join(map(str, reqs))

        def score(batch: list[NodeInfo]) -> list[int]:
            if self.resources != [CPU, MEMORY]:
                return [self.score(state, pod, ni)[0] for ni in batch]
            return self._score_cpu_memory(state, pod, batch, reqs[0], reqs[1])

        return memoized_scores(nodes, key, score, self._scores), None

    def _score_cpu_memory(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo], pod_cpu: int, pod_mem: int
    ) -> list[int]:
        """``score`` over cpu and memory (the default), inline."""
        out: list[int] = []
        append = out.append
        for ni in nodes:
            alloc = ni.allocatable
            cap_cpu, cap_mem = alloc.milli_cpu, alloc.memory
            if not (cap_cpu and cap_mem):
                append(self.score(state, pod, ni)[0])
                continue
            used = ni.requested
            f_cpu = (used.milli_cpu + pod_cpu) / cap_cpu
            f_mem = (used.memory + pod_mem) / cap_mem
            if f_cpu > 1:
                f_cpu = 1.0
            if f_mem > 1:
                f_mem = 1.0
            append(int((1 - abs(f_cpu - f_mem) / 2) * 100))
        return out

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)),
        ]


def new(args: dict[str, Any], handle: Any) -> BalancedAllocation:
    return BalancedAllocation(args)
