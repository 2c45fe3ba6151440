"""The scheduling framework: a profile's plugins, run at each extension point.

``Framework(profile, registry, ...)`` instantiates the plugins a ``Profile``
names (``multiPoint`` plugins join every extension point they implement) and
runs them: PreEnqueue, QueueSort, PreFilter, Filter, PostFilter, PreScore,
Score (+ NormalizeScore, weights), Reserve/Unreserve, Permit, PreBind, Bind,
PostBind. It is also the ``Handle`` plugins get: the cycle's snapshot, the
API client, the event recorder, the informer factory, the nominator, and
helpers for preemption.

Plugin authors: import what you need from here (``Status``, ``Code``,
``CycleState``, ``NodeInfo``, ``PodInfo``, ``Snapshot``, ``ClusterEvent``...);
write a module in ``kubelite/scheduler/plugins/`` with ``NAME`` and
``new(args: dict, handle: Handle) -> plugin``, and list it in ``registry.py``
(or publish it under the ``kubelite.scheduler.plugins`` entry-point group).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import operator
from collections.abc import Callable, Mapping
from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.scheduler.config import (
    DEFAULT_MULTI_POINT,
    EXTENSION_POINTS,
    MULTI_POINT,
    ConfigError,
    PluginRef,
    PluginSet,
    Profile,
)
from kubelite.scheduler.interface import (
    ASSIGNED_POD,
    CSI_NODE,
    NODE,
    POD,
    PV,
    PVC,
    STORAGE_CLASS,
    UNSCHEDULED_POD,
    WILDCARD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    Handle,
    NodeToStatus,
    Nominator,
    PreFilterResult,
    QueueingHint,
    QueueingHintFn,
    Status,
    WaitingPod,
    code_of,
    is_success,
    score_range_error,
)
from kubelite.scheduler.nodeinfo import (
    AffinityTerm,
    ImageStateSummary,
    NodeInfo,
    PodInfo,
    QueuedPodInfo,
    Resource,
    Snapshot,
    WeightedAffinityTerm,
    pod_requests,
)

__all__ = [
    "ASSIGNED_POD",
    "CSI_NODE",
    "NODE",
    "POD",
    "PV",
    "PVC",
    "STORAGE_CLASS",
    "UNSCHEDULED_POD",
    "WILDCARD",
    "ActionType",
    "AffinityTerm",
    "ClusterEvent",
    "ClusterEventWithHint",
    "Code",
    "CycleState",
    "Diagnosis",
    "FitError",
    "Framework",
    "Handle",
    "ImageStateSummary",
    "NodeInfo",
    "NodeToStatus",
    "Nominator",
    "PluginFactory",
    "PodInfo",
    "PreFilterResult",
    "Profile",
    "QueuedPodInfo",
    "QueueingHint",
    "QueueingHintFn",
    "Resource",
    "Snapshot",
    "Status",
    "WaitingPod",
    "WeightedAffinityTerm",
    "code_of",
    "is_success",
    "pod_priority",
    "pod_requests",
]

log = logging.getLogger("kubelite.scheduler.framework")

PluginFactory = Callable[[dict[str, Any], Any], Any]  # (args, handle) -> plugin

MAX_TOTAL_SCORE = 2**63 - 1

# The method that makes a plugin take part in each extension point.
POINT_METHODS = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "preBind": "pre_bind",
    "bind": "bind",
    "postBind": "post_bind",
}

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


def pod_priority(pod: Pod) -> int:
    p = pod.spec.priority
    return p if p is not None else 0


class Diagnosis:
    """Why a pod did not fit: per-node statuses and the plugins that rejected it."""

    __slots__ = ("node_to_status", "post_filter_msg", "pre_filter_msg", "unschedulable_plugins")

    def __init__(self) -> None:
        self.node_to_status = NodeToStatus()
        self.unschedulable_plugins: set[str] = set()
        self.pre_filter_msg = ""
        self.post_filter_msg = ""


class FitError(Exception):
    """No node fits the pod; ``str()`` is the message Kubernetes writes."""

    def __init__(self, pod: Pod, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        d = self.diagnosis
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            counts: dict[str, int] = {}
            for _, status in d.node_to_status.items():
                for reason in status.reasons:
                    counts[reason] = counts.get(reason, 0) + 1
            histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
            if histogram:
                msg += f" {', '.join(histogram)}."
        if d.post_filter_msg:
            # A PostFilter message that is itself a FitError message ends with a period already.
            msg += f" {d.post_filter_msg.removesuffix('.')}."
        return msg


class _WaitingPod:
    """A pod held at Permit until every waiting plugin allows it (or one rejects, or time runs out)."""

    def __init__(self, pod: Pod, pending: dict[str, float], loop: asyncio.AbstractEventLoop) -> None:
        self.pod = pod
        self.pending = dict(pending)  # plugin -> timeout seconds
        self.future: asyncio.Future[Status | None] = loop.create_future()

    def allow(self, plugin: str) -> None:
        self.pending.pop(plugin, None)
        if not self.pending and not self.future.done():
            self.future.set_result(None)

    def reject(self, plugin: str, message: str) -> None:
        if not self.future.done():
            self.future.set_result(Status(Code.UNSCHEDULABLE, [message], plugin))


class Framework:
    """The plugins of one profile, run per extension point; also the plugins' ``Handle``."""

    def __init__(
        self,
        profile: Profile,
        registry: Mapping[str, PluginFactory],
        *,
        client: Any = None,
        event_recorder: Any = None,
        informer_factory: Any = None,
        clock: Clock = REAL_CLOCK,
        nominator: Nominator | None = None,
        percentage_of_nodes_to_score: int | None = None,
    ) -> None:
        self.profile = profile
        self.profile_name = profile.scheduler_name
        self.client = client
        self.event_recorder = event_recorder
        self.informer_factory = informer_factory
        self.clock = clock
        self.nominator = nominator
        self.snapshot = Snapshot()
        self.percentage_of_nodes_to_score = (
            profile.percentage_of_nodes_to_score
            if profile.percentage_of_nodes_to_score is not None
            else percentage_of_nodes_to_score
        )
        self.waiting_pods: dict[str, _WaitingPod] = {}
        self.plugins: dict[str, Any] = {}
        self.points: dict[str, list[Any]] = {}
        self.score_weights: dict[str, int] = {}
        self._build(registry)
        self.pre_enqueue_plugins = self.points["preEnqueue"]
        self.queue_sort_plugin = self.points["queueSort"][0]
        self.pre_filter_plugins = self.points["preFilter"]
        self.filter_plugins = self.points["filter"]
        self.post_filter_plugins = self.points["postFilter"]
        self.pre_score_plugins = self.points["preScore"]
        self.score_plugins = self.points["score"]
        self.reserve_plugins = self.points["reserve"]
        self.permit_plugins = self.points["permit"]
        self.pre_bind_plugins = self.points["preBind"]
        self.bind_plugins = self.points["bind"]
        self.post_bind_plugins = self.points["postBind"]

    # ------------------------------------------------------------- building

    def _build(self, registry: Mapping[str, PluginFactory]) -> None:
        sets = self.profile.plugins
        multi = sets.get(MULTI_POINT, PluginSet())
        wanted: list[str] = []
        for point in (MULTI_POINT, *EXTENSION_POINTS):
            for ref in sets.get(point, PluginSet()).enabled:
                if ref.name not in wanted:
                    wanted.append(ref.name)
        optional = {name for name, _ in DEFAULT_MULTI_POINT}
        for name in wanted:
            factory = registry.get(name)
            if factory is None:
                if name in optional:
                    log.debug("default plugin %s is not available in this build; left out", name)
                    continue
                raise ConfigError(f'plugin "{name}" does not exist')
            plugin = factory(dict(self.profile.plugin_config.get(name, {})), self)
            if not getattr(plugin, "name", ""):
                plugin.name = name
            self.plugins[name] = plugin
        for point in EXTENSION_POINTS:
            method = POINT_METHODS[point]
            pset = sets.get(point, PluginSet())
            disabled = {r.name for r in pset.disabled}
            multi_refs = [
                r
                for r in multi.enabled
                if r.name in self.plugins
                and hasattr(self.plugins[r.name], method)
                and "*" not in disabled
                and r.name not in disabled
            ]
            multi_names = {r.name for r in multi_refs}
            specific = [r for r in pset.enabled if r.name in self.plugins]
            specific_names = {r.name for r in specific}
            ordered: list[PluginRef] = [r for r in specific if r.name in multi_names]
            ordered += [r for r in multi_refs if r.name not in specific_names]
            ordered += [r for r in specific if r.name not in multi_names]
            plugins: list[Any] = []
            for ref in ordered:
                plugin = self.plugins[ref.name]
                if not hasattr(plugin, method):
                    raise ConfigError(f'plugin "{ref.name}" does not extend {point} plugin')
                if plugin in plugins:
                    raise ConfigError(f'plugin "{ref.name}" already registered as "{point}"')
                plugins.append(plugin)
                if point == "score":
                    self.score_weights[ref.name] = ref.weight or 1
            self.points[point] = plugins
        if len(self.points["queueSort"]) != 1:
            raise ConfigError(
                f"one queue sort plugin required for profile with schedulerName {self.profile_name!r}"
            )
        if not self.points["bind"]:
            raise ConfigError(f"at least one bind plugin is needed for profile {self.profile_name!r}")

    def has_filter_plugins(self) -> bool:
        return bool(self.filter_plugins)

    def has_post_filter_plugins(self) -> bool:
        return bool(self.post_filter_plugins)

    def has_score_plugins(self) -> bool:
        return bool(self.score_plugins)

    def events_to_register(self) -> dict[str, list[ClusterEventWithHint]]:
        """Per plugin, the cluster events that may make pods it rejected schedulable."""
        out: dict[str, list[ClusterEventWithHint]] = {}
        for name, plugin in self.plugins.items():
            fn = getattr(plugin, "events_to_register", None)
            if fn is None:
                # Without a declaration, any event may help (Kubernetes' default for such plugins).
                out[name] = [ClusterEventWithHint(ClusterEvent(WILDCARD, ActionType.ALL))]
            else:
                out[name] = list(fn())
        return out

    # --------------------------------------------------------------- handle

    def snapshot_shared_lister(self) -> Snapshot:
        return self.snapshot

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    def iterate_over_waiting_pods(self, fn: Callable[[WaitingPod], None]) -> None:
        for wp in list(self.waiting_pods.values()):
            fn(wp)

    def reject_waiting_pod(self, uid: str) -> bool:
        wp = self.waiting_pods.get(uid)
        if wp is None:
            return False
        wp.reject("", "removed")
        return True

    async def evict_pod(self, victim: Pod, preemptor: Pod, node_name: str) -> None:
        """Preempt ``victim`` as Kubernetes does: a DisruptionTarget condition, then delete."""
        wp = self.waiting_pods.get(victim.metadata.uid)
        if wp is not None:
            wp.reject("preemption", "preempted")
            return
        if self.client is None:
            return
        from kubelite.client.rest import lookup

        pods = self.client.resource(lookup("", "v1", "Pod"))
        ns, name = victim.metadata.namespace, victim.metadata.name
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": f"{preemptor.spec.schedulerName or self.profile_name}: "
            "preempting to accommodate a higher priority pod",
        }
        try:
            await pods.patch(name, {"status": {"conditions": [condition]}}, "strategic", ns, "status")
        except Exception as e:  # the delete below is what matters
            if getattr(e, "code", 0) == 404:
                return
            log.debug("could not mark %s/%s as a disruption target: %s", ns, name, e)
        try:
            await pods.delete(name, ns)
        except Exception as e:
            if getattr(e, "code", 0) != 404:
                raise
            return
        if self.event_recorder is not None:
            self.event_recorder.event(
                victim,
                "Normal",
                "Preempted",
                f"Preempted by pod {preemptor.metadata.uid} on node {node_name}",
            )

    async def clear_nominated_node_name(self, pod: Pod) -> None:
        if self.nominator is not None:
            self.nominator.delete_nominated_pod_if_exists(pod)
        if self.client is None or not pod.status.nominatedNodeName:
            return
        from kubelite.client.rest import lookup

        pods = self.client.resource(lookup("", "v1", "Pod"))
        try:
            await pods.patch(
                pod.metadata.name,
                {"status": {"nominatedNodeName": None}},
                "merge",
                pod.metadata.namespace,
                "status",
            )
        except Exception as e:
            if getattr(e, "code", 0) != 404:
                raise

    # ------------------------------------------------------------ enqueue

    def run_pre_enqueue_plugins(self, pod: Pod) -> Status | None:
        for pl in self.pre_enqueue_plugins:
            st = pl.pre_enqueue(pod)
            if st is not None and st.code != Code.SUCCESS:
                return st.with_plugin(pl.name)
        return None

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        return bool(self.queue_sort_plugin.less(a, b))

    # ------------------------------------------------------------- filter

    def run_pre_filter_plugins(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """Run PreFilter; returns the merged narrowing, the first failure, and the plugins that failed."""
        result: PreFilterResult | None = None
        skipped: set[str] = set()
        for pl in self.pre_filter_plugins:
            try:
                r, st = pl.pre_filter(state, pod, nodes)
            except Exception as e:
                log.exception("PreFilter plugin %s failed", pl.name)
                return None, Status.as_error(e, pl.name), {pl.name}
            if st is not None and st.code != Code.SUCCESS:
                if st.code == Code.SKIP:
                    skipped.add(pl.name)
                    continue
                st = st.with_plugin(pl.name)
                return None, st, {pl.name}
            if r is not None and r.node_names is not None:
                result = r if result is None else result.merge(r)
                if not result.node_names:
                    msg = "node(s) didn't satisfy plugin(s) [" + pl.name + "] simultaneously"
                    return result, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [msg], pl.name), {pl.name}
        state.skip_filter_plugins = skipped
        return result, None, set()

    def filter_functions(self, state: CycleState) -> list[tuple[str, Callable[..., Any]]]:
        """Per Filter plugin of this cycle (skipped ones left out), a function of
        ``(state, pod, nodes)`` answering a list of statuses, for the scheduler's hot loop."""
        skip = state.skip_filter_plugins
        out: list[tuple[str, Callable[..., Any]]] = []
        for pl in self.filter_plugins:
            if pl.name in skip:
                continue
            batch = getattr(pl, "filter_nodes", None)
            if batch is None:
                fn = pl.filter

                def batch(state: CycleState, pod: Pod, nodes: list[NodeInfo], fn: Any = fn) -> list[Any]:
                    return [fn(state, pod, ni) for ni in nodes]

            out.append((pl.name, batch))
        return out

    def run_filter_plugins(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        skip = state.skip_filter_plugins
        for pl in self.filter_plugins:
            if pl.name in skip:
                continue
            st = pl.filter(state, pod, node_info)
            if st is not None and st.code != Code.SUCCESS:
                if st.code not in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
                    st = Status(Code.ERROR, st.reasons or [f"running {pl.name!r} filter plugin"], pl.name)
                return st.with_plugin(pl.name)
        return None

    def _nominated_pods_to_add(self, pod: Pod, node_name: str) -> list[PodInfo]:
        if self.nominator is None:
            return []
        prio = pod_priority(pod)
        uid = pod.metadata.uid
        return [
            pi
            for pi in self.nominator.nominated_pods_for_node(node_name)
            if pi.uid != uid and pod_priority(pi.pod) >= prio
        ]

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: Pod, node_info: NodeInfo
    ) -> Status | None:
        """Filter as if the pods nominated to this node (of equal or higher priority) were on it.

        Both with and without them must pass: a pod nominated here may not be
        scheduled after all, and inter-pod constraints may need it absent.
        """
        nominated = self._nominated_pods_to_add(pod, node_info.name) if node_info.name else []
        if not nominated:
            return self.run_filter_plugins(state, pod, node_info)
        state_with = state.clone()
        info_with = node_info.clone()
        for pi in nominated:
            info_with.add_pod(pi)
            st = self.run_pre_filter_extension_add_pod(state_with, pod, pi, info_with)
            if not is_success(st):
                return st
        st = self.run_filter_plugins(state_with, pod, info_with)
        if not is_success(st):
            return st
        return self.run_filter_plugins(state, pod, node_info)

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: Pod, pod_info_to_add: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        return self._run_pre_filter_extensions("add_pod", state, pod, pod_info_to_add, node_info)

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: Pod, pod_info_to_remove: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        return self._run_pre_filter_extensions("remove_pod", state, pod, pod_info_to_remove, node_info)

    def _run_pre_filter_extensions(
        self, method: str, state: CycleState, pod: Pod, pod_info: PodInfo, node_info: NodeInfo
    ) -> Status | None:
        """``add_pod`` or ``remove_pod`` of every PreFilter plugin's extensions; the first failure."""
        for pl in self.pre_filter_plugins:
            if pl.name in state.skip_filter_plugins:
                continue
            ext = pl.pre_filter_extensions() if hasattr(pl, "pre_filter_extensions") else None
            if ext is None:
                continue
            st = getattr(ext, method)(state, pod, pod_info, node_info)
            if not is_success(st):
                return Status(Code.ERROR, st.reasons if st else [], pl.name)
        return None

    async def run_post_filter_plugins(
        self, state: CycleState, pod: Pod, statuses: NodeToStatus
    ) -> tuple[str | None, Status]:
        """PostFilter (preemption) until one succeeds; returns the nominated node and the outcome."""
        reasons: list[str] = []
        for pl in self.post_filter_plugins:
            try:
                out = pl.post_filter(state, pod, statuses)
                if inspect.isawaitable(out):
                    out = await out
                node, st = out
            except Exception as e:
                log.exception("PostFilter plugin %s failed", pl.name)
                return None, Status.as_error(e, pl.name)
            if st is None or st.code == Code.SUCCESS:
                return node, Status(Code.SUCCESS, [], pl.name)
            if st.code not in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
                return None, st.with_plugin(pl.name)
            reasons.extend(st.reasons)
        return None, Status(Code.UNSCHEDULABLE, reasons)

    # -------------------------------------------------------------- score

    def run_pre_score_plugins(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        skipped: set[str] = set()
        for pl in self.pre_score_plugins:
            st = pl.pre_score(state, pod, nodes)
            if st is not None and st.code != Code.SUCCESS:
                if st.code == Code.SKIP:
                    skipped.add(pl.name)
                    continue
                return Status(Code.ERROR, st.reasons, pl.name)
        state.skip_score_plugins = skipped
        return None

    def run_score_plugins(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status | None]:
        """The weighted total score of each node in ``nodes`` (same order)."""
        n = len(nodes)
        totals = [0] * n
        skip = state.skip_score_plugins
        for pl in self.score_plugins:
            name = pl.name
            if name in skip:
                continue
            batch = getattr(pl, "score_nodes", None)
            if batch is not None:
                scores, st = batch(state, pod, nodes)
                if st is not None and st.code != Code.SUCCESS:
                    return totals, Status(Code.ERROR, st.reasons, name)
            else:
                score = pl.score
                scores = [0] * n
                for i in range(n):
                    s, st = score(state, pod, nodes[i])
                    if st is not None and st.code != Code.SUCCESS:
                        return totals, Status(Code.ERROR, st.reasons, name)
                    scores[i] = s
            normalize = getattr(pl, "normalize_score", None)
            if normalize is not None:
                st = normalize(state, pod, nodes, scores)
                if st is not None and st.code != Code.SUCCESS:
                    return totals, Status(Code.ERROR, st.reasons, name)
            if not scores:
                continue
            low, high = min(scores), max(scores)
            out_of_range = score_range_error(name, low, high)
            if out_of_range is not None:
                return totals, out_of_range
            if high == 0:
                continue
            weight = self.score_weights.get(name, 1)
            if len(scores) != n:
                raise ValueError(f"plugin {name!r} returned {len(scores)} scores for {n} nodes")
            if weight == 1:
                totals = list(map(operator.add, totals, scores))
            else:
                totals = list(map(operator.add, totals, map(operator.mul, scores, itertools.repeat(weight))))
        return totals, None

    # ----------------------------------------------------- reserve, permit

    def run_reserve_plugins_reserve(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        for pl in self.reserve_plugins:
            try:
                st = pl.reserve(state, pod, node_name)
            except Exception as e:
                log.exception("Reserve plugin %s failed", pl.name)
                return Status.as_error(e, pl.name)
            if st is not None and st.code != Code.SUCCESS:
                return st.with_plugin(pl.name)
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: Pod, node_name: str) -> None:
        for pl in reversed(self.reserve_plugins):
            try:
                pl.unreserve(state, pod, node_name)
            except Exception:
                log.exception("Unreserve plugin %s failed", pl.name)

    def run_permit_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        """Permit: None (allowed), a rejection, or Wait (the pod is then held in ``waiting_pods``)."""
        pending: dict[str, float] = {}
        for pl in self.permit_plugins:
            try:
                st, timeout = pl.permit(state, pod, node_name)
            except Exception as e:
                log.exception("Permit plugin %s failed", pl.name)
                return Status.as_error(e, pl.name)
            if st is None or st.code == Code.SUCCESS:
                continue
            if st.code == Code.WAIT:
                pending[pl.name] = min(timeout, 15 * 60.0)
                continue
            return st.with_plugin(pl.name)
        if pending:
            loop = asyncio.get_running_loop()
            self.waiting_pods[pod.metadata.uid] = _WaitingPod(pod, pending, loop)
            return Status(Code.WAIT, [f"one or more plugins asked to wait: {sorted(pending)}"])
        return None

    async def wait_on_permit(self, pod: Pod) -> Status | None:
        wp = self.waiting_pods.get(pod.metadata.uid)
        if wp is None:
            return None
        timeout = min(wp.pending.values()) if wp.pending else 0.0

        async def expire() -> None:
            await self.clock.sleep(timeout)
            plugin = min(wp.pending, key=lambda p: wp.pending[p]) if wp.pending else ""
            wp.reject(plugin, f"rejected due to timeout after waiting {timeout}s at plugin {plugin}")

        timer = asyncio.ensure_future(expire())
        try:
            return await wp.future
        finally:
            timer.cancel()
            self.waiting_pods.pop(pod.metadata.uid, None)

    # --------------------------------------------------------------- bind

    async def run_pre_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        for pl in self.pre_bind_plugins:
            try:
                st = await pl.pre_bind(state, pod, node_name)
            except Exception as e:
                log.exception("PreBind plugin %s failed", pl.name)
                return Status.as_error(e, pl.name)
            if st is not None and st.code != Code.SUCCESS:
                return st.with_plugin(pl.name)
        return None

    async def run_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        for pl in self.bind_plugins:
            try:
                st = await pl.bind(state, pod, node_name)
            except Exception as e:
                return Status.as_error(e, pl.name)
            if st is not None and st.code == Code.SKIP:
                continue
            if st is not None and st.code != Code.SUCCESS:
                return st.with_plugin(pl.name)
            return None
        return Status(Code.SKIP, ["no bind plugin bound the pod"])

    def run_post_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> None:
        for pl in self.post_bind_plugins:
            try:
                pl.post_bind(state, pod, node_name)
            except Exception:
                log.exception("PostBind plugin %s failed", pl.name)
