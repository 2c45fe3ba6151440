"""DefaultPreemption: when no node fits a pod, make room by evicting pods of
lower priority (the PostFilter extension point).

The steps are Kubernetes':

1. Eligibility: a pod with ``preemptionPolicy: Never`` does not preempt, nor
   one whose nominated node still has lower-priority pods terminating (its
   earlier preemption is under way).
2. Candidates: only nodes whose Filter failure preemption could cure
   (Unschedulable, not UnschedulableAndUnresolvable). Starting at a random
   offset, a dry run on clones of the node and of the cycle state removes
   every lower-priority pod, checks the pod fits (with the pods nominated to
   the node), then reprieves as many pods as possible, most important first
   (higher priority, then older), and those whose eviction would violate a
   PodDisruptionBudget before the others. The dry run stops once it has
   ``max(minCandidateNodesAbsolute, minCandidateNodesPercentage% of the
   nodes)`` candidates, at least one of them without PDB violations.
3. Choice: fewest PDB violations, then the lowest highest-priority victim,
   the lowest sum of priorities, the fewest victims, and the latest start
   time of the highest-priority victims.
4. Eviction: each victim gets a DisruptionTarget condition and a graceful
   DELETE (its own grace period) and a Preempted event; lower-priority pods
   nominated to the same node lose their nomination; the node is returned
   for the scheduler to nominate.

Priorities: ``spec.priority`` (0 when unset) and ``spec.preemptionPolicy``
(PreemptLowerPriority when unset), as the API server's Priority admission
plugin wrote them from the pod's PriorityClass.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from typing import Any

import msgspec

from kubelite.api.core_v1 import Pod
from kubelite.api.selectors import selector_from_api
from kubelite.client import lookup
from kubelite.scheduler.framework import pod_priority
from kubelite.scheduler.interface import Code, CycleState, NodeToStatus, Status, is_success
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "DefaultPreemption"

log = logging.getLogger("kubelite.scheduler.preemption")

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_POLICY = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."

_FAR_FUTURE = "9999-12-31T23:59:59Z"


class Victims:
    """The pods to evict on one candidate node, most important first."""

    __slots__ = ("node_name", "num_pdb_violations", "pods")

    def __init__(self, node_name: str, pods: list[PodInfo], num_pdb_violations: int) -> None:
        self.node_name = node_name
        self.pods = pods
        self.num_pdb_violations = num_pdb_violations

    def __repr__(self) -> str:
        return f"Victims({self.node_name}, {[p.key for p in self.pods]}, pdb_violations={self.num_pdb_violations})"


def start_time(pod: Pod) -> str:
    """When the pod started (RFC 3339, so strings order like times); not started yet counts as latest."""
    return pod.status.startTime or _FAR_FUTURE


class _Budget:
    """A PodDisruptionBudget as preemption reads it."""

    __slots__ = ("allowed", "disrupted", "namespace", "selector")

    def __init__(self, pdb: Any) -> None:
        self.namespace = pdb.metadata.namespace
        self.allowed = pdb.status.disruptionsAllowed
        self.disrupted = set(pdb.status.disruptedPods)
        sel = pdb.spec.selector
        try:
            self.selector = selector_from_api(msgspec.to_builtins(sel)) if sel is not None else None
        except ValueError:
            self.selector = None


class DefaultPreemption:
    """The DefaultPreemption plugin (PostFilter)."""

    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Any, rng: random.Random | None = None) -> None:
        args = args or {}
        self.handle = handle
        self.min_candidate_nodes_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_candidate_nodes_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        if not 0 <= self.min_candidate_nodes_percentage <= 100:
            raise ValueError("minCandidateNodesPercentage must be in 0..100")
        if self.min_candidate_nodes_absolute < 0:
            raise ValueError("minCandidateNodesAbsolute must be >= 0")
        if self.min_candidate_nodes_percentage == 0 and self.min_candidate_nodes_absolute == 0:
            raise ValueError("minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be 0")
        self.rng = rng or random.Random()
        self._budgets: Any = None
        factory = getattr(handle, "informer_factory", None)
        if factory is not None:
            self._budgets = factory.informer_for(lookup("policy", "v1", "PodDisruptionBudget"))

    # ------------------------------------------------------------ priorities

    def priority(self, pod: Pod) -> int:
        return pod_priority(pod)

    def preemption_policy(self, pod: Pod) -> str:
        return pod.spec.preemptionPolicy or "PreemptLowerPriority"

    def more_important(self, a: Pod, b: Pod) -> bool:
        pa, pb = self.priority(a), self.priority(b)
        if pa != pb:
            return pa > pb
        return start_time(a) < start_time(b)

    # ------------------------------------------------------------ PostFilter

    async def post_filter(
        self, state: CycleState, pod: Pod, filtered_node_status_map: NodeToStatus
    ) -> tuple[str | None, Status | None]:
        node, status = self.preempt_dry_run(state, pod, filtered_node_status_map)
        if isinstance(node, Victims):
            await self.prepare_candidate(node, pod)
            return node.node_name, None
        if pod.status.nominatedNodeName and status is not None and status.code != Code.ERROR:
            # No candidate: an earlier nomination no longer holds.
            try:
                await self.handle.clear_nominated_node_name(pod)
            except Exception as e:  # the pod's retry does not depend on it
                log.warning("clearing the nominated node of %s: %s", pod.metadata.name, e)
        return None, status

    def preempt_dry_run(
        self, state: CycleState, pod: Pod, statuses: NodeToStatus
    ) -> tuple[Victims | None, Status | None]:
        """Choose the node and victims (no API writes); a failure Status says why not."""
        snapshot = self.handle.snapshot_shared_lister()
        ok, msg = self.eligible(pod, statuses, snapshot)
        if not ok:
            return None, Status.unschedulable(f"preemption: {msg}", plugin=NAME)
        all_nodes = snapshot.list()
        if not all_nodes:
            return None, Status.as_error("no nodes available", NAME)
        candidates, node_statuses = self.find_candidates(state, pod, all_nodes, statuses)
        if not candidates:
            return None, Status.unschedulable(
                "preemption: " + fit_error_message(len(all_nodes), node_statuses), plugin=NAME
            )
        best = self.select_candidate(candidates)
        return best, None

    def eligible(self, pod: Pod, statuses: NodeToStatus, snapshot: Any) -> tuple[bool, str]:
        if self.preemption_policy(pod) == "Never":
            return False, NOT_ELIGIBLE_POLICY
        nominated = pod.status.nominatedNodeName
        if nominated:
            if statuses.get(nominated).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""  # the nominated node cannot work any more: preempt elsewhere
            ni = snapshot.by_name.get(nominated)
            if ni is not None:
                prio = self.priority(pod)
                for pi in ni.pods:
                    if pi.pod.metadata.deletionTimestamp and self.priority(pi.pod) < prio:
                        return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    def candidate_count(self, num_nodes: int) -> int:
        n = num_nodes * self.min_candidate_nodes_percentage // 100
        return min(max(n, self.min_candidate_nodes_absolute), num_nodes)

    def find_candidates(
        self, state: CycleState, pod: Pod, all_nodes: list[NodeInfo], statuses: NodeToStatus
    ) -> tuple[list[Victims], dict[str, Status]]:
        node_statuses: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        not_helpful = Status.unresolvable(NOT_HELPFUL, plugin=NAME)
        for ni in all_nodes:
            if statuses.get(ni.name).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[ni.name] = not_helpful
            else:
                potential.append(ni)
        if not potential:
            return [], node_statuses
        budgets = self._budgets_by_namespace()
        wanted = self.candidate_count(len(potential))
        offset = self.rng.randrange(len(potential))
        violating: list[Victims] = []
        non_violating: list[Victims] = []
        for k in range(len(potential)):
            ni = potential[(offset + k) % len(potential)]
            victims, status = self.select_victims_on_node(state.clone(), pod, ni.clone(), budgets)
            if victims is not None:
                (violating if victims.num_pdb_violations else non_violating).append(victims)
                if non_violating and len(non_violating) + len(violating) >= wanted:
                    break
            elif status is not None:
                node_statuses[ni.name] = status
        return non_violating + violating, node_statuses

    def _budgets_by_namespace(self) -> dict[str, list[_Budget]]:
        out: dict[str, list[_Budget]] = {}
        if self._budgets is None:
            return out
        for pdb in self._budgets.list():
            out.setdefault(pdb.metadata.namespace, []).append(_Budget(pdb))
        return out

    def select_victims_on_node(
        self, state: CycleState, pod: Pod, node_info: NodeInfo, budgets: dict[str, list[_Budget]]
    ) -> tuple[Victims | None, Status | None]:
        """On clones: the fewest pods to evict so that ``pod`` fits, or why none will do."""
        handle = self.handle
        prio = self.priority(pod)
        potential = [pi for pi in node_info.pods if self.priority(pi.pod) < prio]
        if not potential:
            return None, Status.unresolvable(NO_VICTIMS, plugin=NAME)

        def remove(pi: PodInfo) -> Status | None:
            node_info.remove_pod(pi)
            return handle.run_pre_filter_extension_remove_pod(state, pod, pi, node_info)  # type: ignore[no-any-return]

        def add(pi: PodInfo) -> Status | None:
            node_info.add_pod(pi)
            return handle.run_pre_filter_extension_add_pod(state, pod, pi, node_info)  # type: ignore[no-any-return]

        for pi in potential:
            st = remove(pi)
            if not is_success(st):
                return None, st
        st = handle.run_filter_plugins_with_nominated_pods(state, pod, node_info)
        if not is_success(st):
            return None, st
        potential.sort(key=_importance_key(self))
        violating, non_violating = self.split_by_pdb(potential, budgets)
        victims: list[PodInfo] = []
        num_violations = 0

        def reprieve(pi: PodInfo) -> bool:
            st = add(pi)
            if not is_success(st):
                raise _Abort(st)
            fits = is_success(handle.run_filter_plugins_with_nominated_pods(state, pod, node_info))
            if not fits:
                st = remove(pi)
                if not is_success(st):
                    raise _Abort(st)
                victims.append(pi)
            return fits

        try:
            for pi in violating:
                if not reprieve(pi):
                    num_violations += 1
            for pi in non_violating:
                reprieve(pi)
        except _Abort as e:
            return None, e.status
        if violating and non_violating:
            victims.sort(key=_importance_key(self))
        if not victims:
            return None, Status.as_error(f"expected at least one victim pod on node {node_info.name!r}", NAME)
        return Victims(node_info.name, victims, num_violations), None

    def split_by_pdb(
        self, pods: Iterable[PodInfo], budgets: dict[str, list[_Budget]]
    ) -> tuple[list[PodInfo], list[PodInfo]]:
        """Pods whose eviction would take some budget below zero, and the others (order kept)."""
        allowed: dict[int, int] = {}
        violating: list[PodInfo] = []
        non_violating: list[PodInfo] = []
        for pi in pods:
            p = pi.pod
            violated = False
            labels = p.metadata.labels
            if labels:
                for b in budgets.get(p.metadata.namespace, ()):
                    if b.selector is None or b.selector.empty or not b.selector.matches(labels):
                        continue
                    if p.metadata.name in b.disrupted:
                        continue  # the API server already counted this disruption
                    left = allowed.get(id(b), b.allowed) - 1
                    allowed[id(b)] = left
                    if left < 0:
                        violated = True
            (violating if violated else non_violating).append(pi)
        return violating, non_violating

    def select_candidate(self, candidates: list[Victims]) -> Victims:
        """Kubernetes' order of tie-breakers over the candidates' victims."""
        prio = self.priority

        def highest(v: Victims) -> int:
            return prio(v.pods[0].pod)

        def total(v: Victims) -> int:
            return sum(prio(p.pod) + 2**31 for p in v.pods)  # shifted so that every term is positive

        def earliest_of_highest(v: Victims) -> str:
            top = highest(v)
            return min(start_time(p.pod) for p in v.pods if prio(p.pod) == top)

        rules = (
            lambda v: -v.num_pdb_violations,
            lambda v: -highest(v),
            lambda v: -total(v),
            lambda v: -len(v.pods),
        )
        remaining = candidates
        for rule in rules:
            scores = [rule(v) for v in remaining]
            best = max(scores)
            remaining = [v for v, s in zip(remaining, scores, strict=True) if s == best]
            if len(remaining) == 1:
                return remaining[0]
        latest = max(earliest_of_highest(v) for v in remaining)
        return next(v for v in remaining if earliest_of_highest(v) == latest)

    async def prepare_candidate(self, candidate: Victims, pod: Pod) -> None:
        """Evict the victims and take the nomination away from lower-priority pods on that node."""
        handle = self.handle
        results = await asyncio.gather(
            *(handle.evict_pod(v.pod, pod, candidate.node_name) for v in candidate.pods),
            return_exceptions=True,
        )
        for v, r in zip(candidate.pods, results, strict=True):
            if isinstance(r, BaseException):
                log.warning("preempting %s for %s: %s", v.key, pod.metadata.name, r)
        nominator = getattr(handle, "nominator", None)
        if nominator is None:
            return
        prio = self.priority(pod)
        lower = [
            pi.pod
            for pi in nominator.nominated_pods_for_node(candidate.node_name)
            if self.priority(pi.pod) < prio and pi.pod.metadata.uid != pod.metadata.uid
        ]
        for p in lower:
            try:
                await handle.clear_nominated_node_name(p)
            except Exception as e:
                log.warning("clearing the nomination of %s: %s", p.metadata.name, e)


class _Abort(Exception):
    def __init__(self, status: Status | None) -> None:
        super().__init__()
        self.status = status


def _importance_key(plugin: DefaultPreemption) -> Any:
    """Sort key: most important first (higher priority, then earlier start)."""
    return lambda pi: (-plugin.priority(pi.pod), start_time(pi.pod))


def fit_error_message(num_nodes: int, node_statuses: dict[str, Status]) -> str:
    """``0/N nodes are available: <count> <reason>, ....`` as Kubernetes' FitError words it."""
    counts: dict[str, int] = {}
    for st in node_statuses.values():
        for reason in st.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
    return f"0/{num_nodes} nodes are available: {', '.join(histogram)}."


def new(args: dict[str, Any] | None, handle: Any) -> DefaultPreemption:
    return DefaultPreemption(args, handle)
