"""NodeResourcesFit: the pod's requests must fit the node's allocatable minus what
its pods request (cpu, memory, ephemeral storage, extended resources, and the
pod count); scoring by a strategy: LeastAllocated (default), MostAllocated or
RequestedToCapacityRatio.

Requests count init containers as Kubernetes does (the largest init
container, or the sum of the regular ones and sidecars, whichever is more)
plus the pod overhead. Scoring counts 100m cpu / 200Mi memory for containers
that request none, so that best-effort pods still spread.

Args (NodeResourcesFitArgs): ``ignoredResources``, ``ignoredResourceGroups``,
``scoringStrategy: {type, resources: [{name, weight}],
requestedToCapacityRatio: {shape: [{utilization, score}]}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress, repeat
from operator import is_
from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.framework import (
    ASSIGNED_POD,
    NODE,
    UNSCHEDULED_POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    PreFilterResult,
    Resource,
    Status,
)
from kubelite.scheduler.interface import MAX_NODE_SCORE
from kubelite.scheduler.nodeinfo import CPU, EPHEMERAL_STORAGE, MEMORY

NAME = "NodeResourcesFit"
_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME
MAX_CUSTOM_PRIORITY_SCORE = 10

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
DEFAULT_RESOURCES = [(CPU, 1), (MEMORY, 1)]

_TOO_MANY_PODS = "Too many pods"
MEMO_LIMIT = 16  # scores kept per NodeInfo (per plugin and pod requests)
TOKEN_MEMO_LIMIT = 20_000  # scores kept per plugin and key (memoized_scores): a table that stays in cache


def _insufficient(name: str) -> str:
    return f"Insufficient {name}"


# Statuses for the common single-reason failures, shared (no allocation per node).
_SINGLE = {
    name: Status(Code.UNSCHEDULABLE, [_insufficient(name)], NAME) for name in (CPU, MEMORY, EPHEMERAL_STORAGE)
}
_SINGLE_UNRESOLVABLE = {
    name: Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [_insufficient(name)], NAME)
    for name in (CPU, MEMORY, EPHEMERAL_STORAGE)
}


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    if requested > capacity:
        requested = capacity  # pods without requests count defaults that may overflow
    return requested * MAX_NODE_SCORE // capacity


def memoized_scores(
    nodes: list[NodeInfo],
    key: str,
    score: Callable[[list[NodeInfo]], list[int]],
    store: dict[str, dict[int, int]] | None = None,
) -> list[int]:
    """The nodes' scores, remembered under ``key``; ``score`` scores a batch.

    A NodeInfo empties its memo when it changes, and the snapshot keeps the
    NodeInfos of nodes that did not change, so for a run of pods with the
    same requests only the nodes changed since the last cycle are scored.
    ``key`` must name everything besides the NodeInfo the score depends on
    (a string: its hash is computed once).

    With ``store`` (a dict the caller keeps), the scores are remembered there,
    by ``key`` and each NodeInfo's ``memo_token`` (which names one state of a
    NodeInfo), instead of in each NodeInfo's memo: one compact table that
    the lookups of a cycle find in the processor's cache, instead of a dict
    per node spread over the heap, which at 5000 nodes made the lookups the
    costliest line of the cycle.
    """
    if store is None:
        return _scores_from_node_memos(nodes, key, score)
    memo = store.get(key)
    if memo is None:
        if len(store) >= MEMO_LIMIT:
            store.clear()
        memo = store[key] = {}
    tokens = [ni.memo_token for ni in nodes]
    scores = list(map(memo.get, tokens))  # a score is an int: None is a miss
    if None not in scores:
        return scores  # type: ignore[return-value]
    where = list(compress(range(len(scores)), map(is_, scores, repeat(None))))
    if len(memo) + len(where) > TOKEN_MEMO_LIMIT:
        memo.clear()  # tokens of NodeInfos long replaced pile up: start afresh
    for i, s in zip(where, score([nodes[i] for i in where]), strict=True):
        memo[tokens[i]] = s
        scores[i] = s
    return scores  # type: ignore[return-value]


def _scores_from_node_memos(
    nodes: list[NodeInfo], key: str, score: Callable[[list[NodeInfo]], list[int]]
) -> list[int]:
    scores = [ni.score_memo.get(key) for ni in nodes]  # a score is an int: None is a miss
    if None not in scores:
        return scores  # type: ignore[return-value]
    where = list(compress(range(len(scores)), map(is_, scores, repeat(None))))
    missing = [nodes[i] for i in where]
    for i, ni, s in zip(where, missing, score(missing), strict=True):
        memo = ni.score_memo
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = s
        scores[i] = s
    return scores  # type: ignore[return-value]


def _least_allocated_cpu_memory(nodes: list[NodeInfo], pod_cpu: int, pod_mem: int) -> list[int]:
    """LeastAllocated over cpu and memory with weight 1 each (the default), inline."""
    out: list[int] = []
    append = out.append
    for ni in nodes:
        alloc = ni.allocatable
        nz = ni.non_zero_requested
        cap_cpu, cap_mem = alloc.milli_cpu, alloc.memory
        req_cpu, req_mem = nz.milli_cpu + pod_cpu, nz.memory + pod_mem
        cpu = (cap_cpu - req_cpu) * 100 // cap_cpu if cap_cpu and req_cpu <= cap_cpu else 0
        mem = (cap_mem - req_mem) * 100 // cap_mem if cap_mem and req_mem <= cap_mem else 0
        if cap_cpu and cap_mem:
            append((cpu + mem) // 2)
        elif cap_cpu or cap_mem:
            append(cpu + mem)
        else:
            append(0)
    return out


def broken_linear(shape: list[tuple[int, int]]) -> Any:
    """The piecewise linear function through ``shape`` points (utilization -> score)."""

    def fn(p: int) -> int:
        for i, (x, y) in enumerate(shape):
            if p <= x:
                if i == 0:
                    return shape[0][1]
                x0, y0 = shape[i - 1]
                return y0 + (y - y0) * (p - x0) // (x - x0)
        return shape[-1][1]

    return fn


class _PodRequests:
    """The pod's requests, flattened for the filter loop."""

    __slots__ = ("cpu", "ephemeral", "memory", "scalar", "zero")

    def __init__(self, r: Resource, ignored: set[str], ignored_groups: set[str]) -> None:
        self.cpu = r.milli_cpu
        self.memory = r.memory
        self.ephemeral = r.ephemeral_storage
        self.scalar = [
            (name, v)
            for name, v in r.scalar.items()
            if v and name not in ignored and name.split("/", 1)[0] not in ignored_groups
        ]
        self.zero = not (self.cpu or self.memory or self.ephemeral or self.scalar)


class NodeResourcesFit:
    name = NAME
    # Filter answers depend only on the pod and this NodeInfo's own state (see NodeInfo.memo_token).
    node_local_filter = True
    # Raw scores depend only on the pod's spec and this NodeInfo's own state; PreScore reads no node.
    node_local_score = True

    def __init__(self, args: dict[str, Any]) -> None:
        self.ignored = set(args.get("ignoredResources") or [])
        self.ignored_groups = set(args.get("ignoredResourceGroups") or [])
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST_ALLOCATED
        if self.strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO):
            raise ValueError(f"scoringStrategy.type: Unsupported value: {self.strategy!r}")
        resources = strategy.get("resources")
        self.resources: list[tuple[str, int]] = (
            [(r["name"], int(r.get("weight") or 1)) for r in resources] if resources else DEFAULT_RESOURCES
        )
        self.shape_fn = None
        points: list[tuple[int, int]] = []
        if self.strategy == REQUESTED_TO_CAPACITY_RATIO:
            shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or [
                {"utilization": 0, "score": 10},
                {"utilization": 100, "score": 0},
            ]
            points = sorted(
                (int(p["utilization"]), int(p["score"]) * MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)
                for p in shape
            )
            self.shape_fn = broken_linear(points)
        self._scores: dict[str, dict[int, int]] = {}  # for memoized_scores
        # What the scores depend on besides node and pod, for NodeInfo.score_memo.
        self._memo_prefix = f"{NAME}/{self.strategy}/{self.resources}/{points if self.shape_fn else ''}/"

    # ------------------------------------------------------------- filter

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        pi = state.pod_info or PodInfo(pod)
        state[_KEY] = _PodRequests(pi.requests, self.ignored, self.ignored_groups)
        return None, None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        req: _PodRequests | None = state.get(_KEY)
        if req is None:
            req = _PodRequests((state.pod_info or PodInfo(pod)).requests, self.ignored, self.ignored_groups)
        alloc = node_info.allocatable
        used = node_info.requested
        too_many = len(node_info.pods) + 1 > alloc.allowed_pod_number
        if req.zero and not too_many:
            return None
        cpu_short = req.cpu > 0 and req.cpu > alloc.milli_cpu - used.milli_cpu
        mem_short = req.memory > 0 and req.memory > alloc.memory - used.memory
        eph_short = req.ephemeral > 0 and req.ephemeral > alloc.ephemeral_storage - used.ephemeral_storage
        scalar_short = False
        if req.scalar:
            for name, v in req.scalar:
                if v > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
                    scalar_short = True
                    break
        if not (too_many or cpu_short or mem_short or eph_short or scalar_short):
            return None
        return self._failure(req, node_info, too_many)

    def filter_nodes(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[Status | None]:
        req: _PodRequests | None = state.get(_KEY)
        if req is None or req.scalar:
            return [self.filter(state, pod, ni) for ni in nodes]
        cpu, memory, ephemeral = req.cpu, req.memory, req.ephemeral
        out: list[Status | None] = [None] * len(nodes)
        # The NodeInfo's free amounts answer the common case; a node that looks short (or is
        # over-committed, with a request of 0) gets the exact check and its reasons.
        for i, ni in enumerate(nodes):
            if (
                ni.free_pods <= 0
                or ni.free_milli_cpu < cpu
                or ni.free_memory < memory
                or ni.free_ephemeral_storage < ephemeral
            ):
                out[i] = self.filter(state, pod, ni)
        return out

    def _failure(self, req: _PodRequests, node_info: NodeInfo, too_many: bool) -> Status:
        alloc = node_info.allocatable
        used = node_info.requested
        reasons: list[str] = []
        unresolvable = False
        if too_many:
            reasons.append(_TOO_MANY_PODS)
        checks = [
            (CPU, req.cpu, alloc.milli_cpu, used.milli_cpu),
            (MEMORY, req.memory, alloc.memory, used.memory),
        ]
        checks.append((EPHEMERAL_STORAGE, req.ephemeral, alloc.ephemeral_storage, used.ephemeral_storage))
        checks += [(n, v, alloc.scalar.get(n, 0), used.scalar.get(n, 0)) for n, v in req.scalar]
        short_names = []
        for name, want, have, taken in checks:
            if want > 0 and want > have - taken:
                reasons.append(_insufficient(name))
                short_names.append(name)
                if want > have:
                    unresolvable = True
        if len(reasons) == 1 and short_names and short_names[0] in _SINGLE:
            return (_SINGLE_UNRESOLVABLE if unresolvable else _SINGLE)[short_names[0]]
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return Status(code, reasons, NAME)

    # -------------------------------------------------------------- score

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        pi = state.pod_info or PodInfo(pod)
        state[_SCORE_KEY] = self._pod_request_list(pi)
        return None

    def _pod_request_list(self, pi: PodInfo) -> list[int]:
        out = []
        for name, _ in self.resources:
            if name == CPU:
                out.append(pi.non_zero_cpu)
            elif name == MEMORY:
                out.append(pi.non_zero_memory)
            else:
                out.append(pi.requests.get(name))
        return out

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        pod_reqs = state.get(_SCORE_KEY)
        if pod_reqs is None:
            pod_reqs = self._pod_request_list(state.pod_info or PodInfo(pod))
        alloc = node_info.allocatable
        nz = node_info.non_zero_requested
        total = 0
        weight_sum = 0
        strategy = self.strategy
        for i, (name, weight) in enumerate(self.resources):
            if name == CPU:
                capacity, requested = alloc.milli_cpu, nz.milli_cpu
            elif name == MEMORY:
                capacity, requested = alloc.memory, nz.memory
            else:
                capacity, requested = alloc.get(name), node_info.requested.get(name)
            if capacity == 0:
                continue
            requested += pod_reqs[i]
            if strategy == LEAST_ALLOCATED:
                s = least_requested_score(requested, capacity)
            elif strategy == MOST_ALLOCATED:
                s = most_requested_score(requested, capacity)
            else:
                assert self.shape_fn is not None
                s = self.shape_fn(min(requested * MAX_NODE_SCORE // capacity, MAX_NODE_SCORE))
            total += s * weight
            weight_sum += weight
        if weight_sum == 0:
            return 0, None
        if strategy == REQUESTED_TO_CAPACITY_RATIO:
            return round(total / weight_sum), None
        return total // weight_sum, None

    def score_nodes(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status | None]:
        pod_reqs = state.get(_SCORE_KEY)
        if pod_reqs is None:
            pod_reqs = self._pod_request_list(state.pod_info or PodInfo(pod))
        key = self._memo_prefix + ",".join(map(str, pod_reqs))

        def score(batch: list[NodeInfo]) -> list[int]:
            if self.strategy != LEAST_ALLOCATED or self.resources != DEFAULT_RESOURCES:
                return [self.score(state, pod, ni)[0] for ni in batch]
            return _least_allocated_cpu_memory(batch, pod_reqs[0], pod_reqs[1])

        return memoized_scores(nodes, key, score, self._scores), None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(ASSIGNED_POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN)
            ),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)),
            ClusterEventWithHint(ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE_POD_SCALE_DOWN)),
        ]


def new(args: dict[str, Any], handle: Any) -> NodeResourcesFit:
    return NodeResourcesFit(args)
