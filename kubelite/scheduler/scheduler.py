"""The scheduler: watches pending pods and nodes, and binds each pod to a node.

``Scheduler(client, config, clock)``; ``await run()``. One *scheduling cycle*
at a time picks a node for the next pod of the queue — snapshot, PreFilter,
Filter over (a percentage of) the nodes, PostFilter (preemption) when none
fits, PreScore/Score/NormalizeScore with the profile's weights, a random
pick among the best, Reserve, Permit — and assumes the pod onto that node in
the cache. The *binding cycle* (WaitOnPermit, PreBind, Bind, PostBind) then
runs as its own task while the next pod is scheduled; if it fails the pod is
unreserved, forgotten and retried.

A pod no node fits gets ``PodScheduled=False`` (reason Unschedulable) with
the message Kubernetes writes, e.g. "0/3 nodes are available: 1 Insufficient
cpu, 2 node(s) had untolerated taint {dedicated: gpu}.", and a
FailedScheduling event; a bound pod gets a Scheduled event.

With leader election on, the scheduler only works while it holds the
``kube-scheduler`` Lease in ``kube-system``.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import operator
import random
import socket
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from kubelite.api.core_v1 import Node, Pod
from kubelite.api.model import read_only_variant
from kubelite.client import REAL_CLOCK, Client, Clock, EventRecorder, LeaderElector, SharedInformerFactory
from kubelite.client.rest import lookup
from kubelite.scheduler.arrays import (
    KindMemo,
    Positions,
    find_feasible,
    pre_score_nodes,
    total_scores,
)
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.config import SchedulerConfiguration, default_configuration
from kubelite.scheduler.framework import (
    ASSIGNED_POD,
    NODE,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    NodeInfo,
    PluginFactory,
    Status,
)
from kubelite.scheduler.nodeinfo import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PodInfo,
    QueuedPodInfo,
    Snapshot,
    pod_requests,
)
from kubelite.scheduler.queue import QueueClosed, SchedulingQueue
from kubelite.scheduler.registry import new_registry

log = logging.getLogger("kubelite.scheduler")

PODS = lookup("", "v1", "Pod")
NODES = lookup("", "v1", "Node")
_NOT_READ = frozenset({"ObjectMeta.managedFields"})
READ_ONLY_POD = read_only_variant(Pod, _NOT_READ)
READ_ONLY_NODE = read_only_variant(Node, _NOT_READ)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
MIN_FILTER_CHUNK = 16
GC_YOUNG_THRESHOLD = 50_000  # see raise_gc_threshold
WRITE_PIPELINE = 8  # requests of the scheduler's writes in flight on one connection, at most
KIND_MEMOS = 64  # kinds of pods (profile and spec) whose node-local answers are kept (arrays.KindMemo)
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
COMPONENT = "default-scheduler"
POD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring (Kubernetes' adaptive percentage)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or (percentage is not None and percentage >= 100):
        return num_all_nodes
    adaptive = percentage or 0
    if adaptive <= 0:
        adaptive = 50 - num_all_nodes // 125
        if adaptive < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            adaptive = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    n = num_all_nodes * adaptive // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


def node_update_action(old: Node, new: Node) -> ActionType:
    """What of a node changed, as the event types plugins register for."""
    action = ActionType(0)
    if old.status.allocatable != new.status.allocatable:
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if old.metadata.labels != new.metadata.labels:
        action |= ActionType.UPDATE_NODE_LABEL
    if old.spec.taints != new.spec.taints or old.spec.unschedulable != new.spec.unschedulable:
        action |= ActionType.UPDATE_NODE_TAINT
    if [(c.type, c.status) for c in old.status.conditions] != [
        (c.type, c.status) for c in new.status.conditions
    ]:
        action |= ActionType.UPDATE_NODE_CONDITION
    if old.metadata.annotations != new.metadata.annotations:
        action |= ActionType.UPDATE_NODE_ANNOTATION
    if old.status.images != new.status.images:
        action |= ActionType.UPDATE_OTHER
    return action


def pod_update_action(old: Pod, new: Pod) -> ActionType:
    action = ActionType(0)
    if old.metadata.labels != new.metadata.labels:
        action |= ActionType.UPDATE_POD_LABEL
    if old.spec != new.spec:
        old_r, new_r = pod_requests(old), pod_requests(new)
        if any(new_r.get(name, 0) < old_r.get(name, 0) for name in (CPU, MEMORY, EPHEMERAL_STORAGE)):
            action |= ActionType.UPDATE_POD_SCALE_DOWN
        else:
            action |= ActionType.UPDATE_OTHER
    return action


def raise_gc_threshold(young: int) -> None:
    """Let the cyclic garbage collector's youngest generation grow to ``young`` objects.

    The collector runs whenever allocations outnumber deallocations by the
    first threshold (700 by default), and every tenth of those runs sweeps the
    middle generation. The scheduler allocates thousands of short-lived
    objects per cycle (decoded pods, statuses, lists), so at the default it
    collected hundreds of times a second, each collection walking the young
    objects and ever so often the older ones: a fifth of the scheduler's CPU
    at 1000 nodes, attributed to whatever line happened to allocate. The
    setting is the process's, as any ``gc`` setting is; it is only ever raised.
    """
    threshold = gc.get_threshold()
    if threshold[0] < young:
        gc.set_threshold(young, *threshold[1:])
        log.info("garbage collector: youngest generation threshold %d -> %d", threshold[0], young)


def freeze_heap() -> None:
    """Leave the objects that exist now out of every later garbage collection (``gc.freeze``).

    Once the caches are synced the process holds what it will keep for long
    (every Node and bound Pod, the API server's caches when in-process): at
    5000 nodes, millions of objects, which each full collection walked again
    (a third of a second each, in SchedulingBasic). They are API objects
    held by caches and freed by reference counting when replaced; none is
    part of a reference cycle the collector would have to find, so leaving
    them out costs nothing. Later objects are collected as before.
    """
    gc.freeze()
    log.info("garbage collector: %d objects left out of later collections", gc.get_freeze_count())


def _is_terminal(pod: Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


class Scheduler:
    """Schedules the pods whose ``schedulerName`` names one of its profiles."""

    def __init__(
        self,
        client: Client | None,
        config: SchedulerConfiguration | None = None,
        clock: Clock = REAL_CLOCK,
        *,
        registry: Mapping[str, PluginFactory] | None = None,
        leader_elect: bool | None = None,
        identity: str = "",
        rng: random.Random | None = None,
        tune_gc: bool = True,
    ) -> None:
        self.client = client
        self.tune_gc = tune_gc
        self._writer: Client | None = None
        self.config = config or default_configuration()
        self.clock = clock
        self.registry = registry if registry is not None else new_registry()
        self.leader_elect = self.config.leader_election.leader_elect if leader_elect is None else leader_elect
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.rng = rng or random.Random()
        self.started = asyncio.Event()  # set while scheduling (caches synced, leading)
        self.frameworks: dict[str, Framework] = {}
        self.cache = Cache(clock)
        self.snapshot = Snapshot()
        self.queue: SchedulingQueue | None = None
        self.informers: SharedInformerFactory | None = None
        self.recorder: EventRecorder | None = None
        self.next_start_node_index = 0
        self._kind_memos: dict[Any, KindMemo] = {}  # see _kind_memo
        self._order: tuple[int, Positions] = (0, np.zeros(0, np.int64))  # (layout, all positions)
        self._tg: asyncio.TaskGroup | None = None
        self._pod_informer: Any = None
        self.scheduled = 0  # pods bound, for tests and benchmarks
        self.attempts = 0

    # ---------------------------------------------------------------- set-up

    def setup(
        self,
        informers: SharedInformerFactory | None = None,
        recorder: EventRecorder | None = None,
        writer: Client | None = None,
    ) -> None:
        """Build cache, queue and one framework per profile (also usable without informers).

        ``writer``: the client for the API writes of the cycle (bindings, preemption, status);
        the scheduler's own client when None."""
        self.informers = informers
        self.recorder = recorder
        self._writer = writer
        self.cache = Cache(self.clock)
        self.snapshot = Snapshot()
        self.frameworks = {}
        self._kind_memos = {}
        queue_holder: list[SchedulingQueue] = []

        class _LazyNominator:
            def add_nominated_pod(self, pod_info: PodInfo, node_name: str) -> None:
                queue_holder[0].add_nominated_pod(pod_info, node_name)

            def delete_nominated_pod_if_exists(self, pod: Pod) -> None:
                queue_holder[0].delete_nominated_pod_if_exists(pod)

            def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
                return queue_holder[0].nominated_pods_for_node(node_name)

        nominator = _LazyNominator()
        for profile in self.config.profiles:
            fwk = Framework(
                profile,
                self.registry,
                client=writer if writer is not None else self.client,
                event_recorder=recorder,
                informer_factory=informers,
                clock=self.clock,
                nominator=nominator,
                percentage_of_nodes_to_score=self.config.percentage_of_nodes_to_score,
            )
            fwk.snapshot = self.snapshot
            self.frameworks[profile.scheduler_name] = fwk
        first = next(iter(self.frameworks.values()))
        events: dict[str, list[Any]] = {}
        for fwk in self.frameworks.values():
            for plugin, evs in fwk.events_to_register().items():
                events.setdefault(plugin, []).extend(evs)
        sort_key = getattr(first.queue_sort_plugin, "sort_key", None)

        def pre_enqueue(pod: Pod) -> Status | None:
            fwk = self.frameworks.get(pod.spec.schedulerName or COMPONENT)
            return fwk.run_pre_enqueue_plugins(pod) if fwk is not None else None

        self.queue = SchedulingQueue(
            first.less,
            clock=self.clock,
            sort_key=sort_key,
            pre_enqueue=pre_enqueue,
            events=events,
            initial_backoff=self.config.pod_initial_backoff_seconds,
            max_backoff=self.config.pod_max_backoff_seconds,
            max_in_unschedulable=self.config.pod_max_in_unschedulable_pods_duration,
        )
        queue_holder.append(self.queue)

    def responsible_for(self, pod: Pod) -> bool:
        return (pod.spec.schedulerName or COMPONENT) in self.frameworks

    # ------------------------------------------------------------ event intake

    def _register_handlers(self, informers: SharedInformerFactory) -> None:
        # One informer of all non-terminal pods, as kube-scheduler has: its handlers route each
        # pod by whether it is assigned, and a pod's binding is one update (leaving the queue's
        # side for the cache's) instead of a delete on one watch and an add on another.
        # Decoded into read-only variants of the models: absent lists are a shared empty tuple
        # instead of ~40 new lists per Pod, which the cycle collector tracked, and managedFields
        # (which nothing here reads; kube-scheduler's informers drop it too) is not decoded.
        # The cached objects are only read, and copies are made with msgspec.structs.replace.
        pods = informers.informer_for(PODS, field_selector=POD_SELECTOR, model=READ_ONLY_POD)
        nodes = informers.informer_for(NODES, model=READ_ONLY_NODE)
        self._pod_informer = pods
        nodes.add_handler(self.on_node_add, self.on_node_update, self.on_node_delete)
        pods.add_handler(self.on_pod_add, self.on_pod_update, self.on_pod_delete)

    def on_pod_add(self, pod: Pod) -> None:
        if pod.spec.nodeName:
            self.on_assigned_pod_add(pod)
        else:
            self.on_pending_pod_add(pod)

    def on_pod_update(self, old: Pod, new: Pod) -> None:
        if new.spec.nodeName:
            if old.spec.nodeName:
                self.on_assigned_pod_update(old, new)
            else:  # bound: the cache's now (first, so that an assumed pod is confirmed), no longer the queue's
                self.on_assigned_pod_add(new)
                self.on_pending_pod_delete(old)
        elif old.spec.nodeName:  # cannot happen (nodeName is immutable once set); handled as k8s does
            self.on_assigned_pod_delete(old)
            self.on_pending_pod_add(new)
        else:
            self.on_pending_pod_update(old, new)

    def on_pod_delete(self, pod: Pod) -> None:
        if pod.spec.nodeName:
            self.on_assigned_pod_delete(pod)
        else:
            self.on_pending_pod_delete(pod)

    def _q(self) -> SchedulingQueue:
        assert self.queue is not None, "setup() first"
        return self.queue

    def on_node_add(self, node: Node) -> None:
        self.cache.add_node(node)
        self._q().move_all_to_active_or_backoff(ClusterEvent(NODE, ActionType.ADD), None, node)

    def on_node_update(self, old: Node, new: Node) -> None:
        self.cache.update_node(old, new)
        action = node_update_action(old, new)
        if action:
            self._q().move_all_to_active_or_backoff(ClusterEvent(NODE, action), old, new)

    def on_node_delete(self, node: Node) -> None:
        self.cache.remove_node(node)

    def on_assigned_pod_add(self, pod: Pod) -> None:
        if _is_terminal(pod):
            return
        self.cache.add_pod(pod)
        self._q().move_all_to_active_or_backoff(ClusterEvent(ASSIGNED_POD, ActionType.ADD), None, pod)

    def on_assigned_pod_update(self, old: Pod, new: Pod) -> None:
        if _is_terminal(new):
            self.on_assigned_pod_delete(new)
            return
        self.cache.update_pod(old, new)
        action = pod_update_action(old, new)
        if action:
            self._q().move_all_to_active_or_backoff(ClusterEvent(ASSIGNED_POD, action), old, new)

    def on_assigned_pod_delete(self, pod: Pod) -> None:
        self.cache.remove_pod(pod)
        self._q().move_all_to_active_or_backoff(ClusterEvent(ASSIGNED_POD, ActionType.DELETE), pod, None)

    def on_pending_pod_add(self, pod: Pod) -> None:
        if self.responsible_for(pod) and not _is_terminal(pod) and not pod.spec.nodeName:
            self._q().add(pod)

    def on_pending_pod_update(self, old: Pod, new: Pod) -> None:
        if not self.responsible_for(new):
            self._q().delete(new)
            return
        if _is_terminal(new) or new.spec.nodeName:
            self._q().delete(new)
            return
        if self.cache.is_assumed(new):
            return  # being bound; the assigned informer confirms it
        self._q().update(old, new)

    def on_pending_pod_delete(self, pod: Pod) -> None:
        self._q().delete(pod)
        for fwk in self.frameworks.values():
            fwk.reject_waiting_pod(pod.metadata.uid)

    # ---------------------------------------------------------------- running

    async def run(self) -> None:
        """Run until cancelled: campaign for the lease (when electing) and schedule while leading."""
        if self.client is None:
            raise RuntimeError("the scheduler needs an API client to run")
        if not self.leader_elect:
            await self._run_term()
            return
        le = self.config.leader_election
        elector = LeaderElector(
            self.client,
            le.resource_name,
            le.resource_namespace,
            self.identity,
            lease_duration=le.lease_duration,
            renew_deadline=le.renew_deadline,
            retry_period=le.retry_period,
            clock=self.clock,
        )
        while True:
            await elector.run(self._run_term)
            log.warning("lost the %s lease; standing by", le.resource_name)

    async def _run_term(self) -> None:
        assert self.client is not None
        client = self.client
        # Bindings, events and status patches (hundreds a second) go over the lean transport.
        # Bindings and status patches pipelined: each is independent of the others, and those of
        # one turn of the loop then go out in one system call (a TCP send over loopback costs
        # ~25 us, and wakes the server once for them all). Events on connections of their own,
        # as before: behind bindings in the same pipelines they were written far slower, and
        # under load the recorder's full queue dropped most of them (97% against 25-45% in
        # SchedulingBasic). Lists and watches stay on the client as given.
        lean = getattr(client, "with_lean_http", None)
        writer, events_writer = client, client
        if lean is not None and not getattr(client, "lean_http", True):
            writer, events_writer = lean(pipeline=WRITE_PIPELINE), lean()
        informers = SharedInformerFactory(client, clock=self.clock)
        recorder = EventRecorder(events_writer, COMPONENT, clock=self.clock, concurrency=16)
        self.setup(informers, recorder, writer)
        self._register_handlers(informers)
        queue = self._q()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                informers.start(tg)
                tg.create_task(recorder.run(), name="scheduler-events")
                tg.create_task(queue.run(), name="scheduler-queue-flush")
                tg.create_task(self._cleanup_assumed_loop(), name="scheduler-cache-cleanup")
                await informers.wait_for_cache_sync()
                if self.tune_gc:
                    raise_gc_threshold(GC_YOUNG_THRESHOLD)
                    freeze_heap()
                self.started.set()
                log.info("scheduler running with profiles: %s", ", ".join(self.frameworks))
                tg.create_task(self._schedule_loop(), name="scheduler-loop")
        finally:
            self.started.clear()
            queue.close()
            self._tg = None
            self._writer = None
            if writer is not client:
                await writer.close()
            if events_writer is not client:
                await events_writer.close()

    async def _cleanup_assumed_loop(self) -> None:
        while True:
            await self.clock.sleep(1.0)
            for pod in self.cache.cleanup_expired_assumed_pods():
                self._q().move_all_to_active_or_backoff(
                    ClusterEvent(ASSIGNED_POD, ActionType.DELETE), pod, None
                )

    async def _schedule_loop(self) -> None:
        queue = self._q()
        while True:
            try:
                qpi = await queue.pop()
            except QueueClosed:
                return
            try:
                await self.schedule_one(qpi)
            except Exception:
                log.exception("scheduling %s failed unexpectedly", qpi.key)
                queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle)
            await asyncio.sleep(0)  # let informers and binding tasks in between pods

    # -------------------------------------------------------- scheduling cycle

    async def schedule_one(self, qpi: QueuedPodInfo) -> None:
        """One scheduling cycle for ``qpi``; starts its binding cycle on success."""
        queue = self._q()
        pod = qpi.pod
        fwk = self.frameworks.get(pod.spec.schedulerName or COMPONENT)
        if fwk is None or pod.metadata.deletionTimestamp or self.cache.is_assumed(pod):
            queue.done(qpi.key)
            return
        self.attempts += 1
        cycle = queue.scheduling_cycle
        state = CycleState(qpi.pod_info)
        self.cache.update_snapshot(self.snapshot)
        try:
            host = self.schedule_pod(fwk, state, pod)
        except FitError as fe:
            nominated: str | None = None
            if fwk.post_filter_plugins:
                nominated, st = await fwk.run_post_filter_plugins(state, pod, fe.diagnosis.node_to_status)
                if st.code == Code.ERROR:
                    log.warning("PostFilter for %s failed: %s", qpi.key, st.message())
                elif st.code != Code.SUCCESS and st.reasons:
                    fe.diagnosis.post_filter_msg = st.message()
            qpi.unschedulable_plugins = set(fe.diagnosis.unschedulable_plugins)
            self.handle_failure(fwk, qpi, "Unschedulable", str(fe), cycle, nominated)
            return
        except Exception as e:
            log.debug("scheduling %s: %s", qpi.key, e)
            qpi.unschedulable_plugins = set()
            self.handle_failure(fwk, qpi, "SchedulerError", str(e), cycle, None)
            return
        # Assume: the cache counts the pod on ``host`` from now on.
        assumed = msgspec.structs.replace(pod, spec=msgspec.structs.replace(pod.spec, nodeName=host))
        pod_info = qpi.pod_info.with_pod(assumed)
        self.cache.assume_pod(assumed, pod_info)
        rst = fwk.run_reserve_plugins_reserve(state, assumed, host)
        if rst is not None and not rst.is_success():
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self._failed_after_assume(fwk, qpi, rst, cycle)
            return
        pst = fwk.run_permit_plugins(state, assumed, host)
        if pst is not None and pst.code not in (Code.SUCCESS, Code.WAIT):
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self._failed_after_assume(fwk, qpi, pst, cycle)
            return
        queue.delete_nominated_pod_if_exists(pod)
        coro = self._binding_cycle(fwk, state, qpi, assumed, host, cycle)
        if self._tg is not None:
            self._tg.create_task(coro, name=f"bind-{qpi.key}")
        else:
            await coro

    def _failed_after_assume(self, fwk: Framework, qpi: QueuedPodInfo, st: Status, cycle: int) -> None:
        rejected = st.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        qpi.unschedulable_plugins = {st.plugin} if rejected and st.plugin else set()
        self._q().move_all_to_active_or_backoff(ClusterEvent(ASSIGNED_POD, ActionType.DELETE))
        self.handle_failure(
            fwk, qpi, "Unschedulable" if rejected else "SchedulerError", st.message(), cycle, None
        )

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: Pod) -> str:
        """The node for ``pod`` (FitError when none fits). Synchronous: no awaits in the hot loop."""
        snapshot = self.snapshot
        all_nodes = snapshot.infos
        n_all = len(all_nodes)
        if n_all == 0:
            raise RuntimeError(NO_NODES_AVAILABLE)
        diagnosis = Diagnosis()
        result, st, failed = fwk.run_pre_filter_plugins(state, pod, all_nodes)
        if st is not None:
            if st.code not in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
                raise RuntimeError(st.message() or f"PreFilter plugin {st.plugin} failed")
            diagnosis.pre_filter_msg = st.message()
            diagnosis.node_to_status.absent = st
            diagnosis.unschedulable_plugins = failed
            raise FitError(pod, n_all, diagnosis)
        nodes = all_nodes
        narrowed: list[str] | None = None
        if result is not None and result.node_names is not None:
            narrowed = [n for n in sorted(result.node_names) if n in snapshot.by_name]
            nodes = [snapshot.by_name[n] for n in narrowed]
            diagnosis.node_to_status.absent = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        if not nodes:
            raise FitError(pod, n_all, diagnosis)
        nominated = self._nominated_node_fits(fwk, state, pod)
        if nominated is not None:
            return nominated
        filters = fwk.filter_functions(state)
        local, rest = self._node_local_prefix(fwk, filters)
        if local and not self._q().has_nominated_pods() and len(snapshot.tokens) == n_all:
            return self._schedule_by_positions(fwk, state, pod, local, rest, narrowed, diagnosis)
        feasible = self._find_nodes_that_pass_filters(fwk, state, pod, nodes, diagnosis)
        if not feasible:
            raise FitError(pod, n_all, diagnosis)
        if len(feasible) == 1:
            return feasible[0].name
        return self._select_host(fwk, state, pod, feasible)

    def _nominated_node_fits(self, fwk: Framework, state: CycleState, pod: Pod) -> str | None:
        """The node an earlier preemption nominated, when the pod now fits there (it is tried first)."""
        nominated = pod.status.nominatedNodeName
        if nominated and nominated in self.snapshot.by_name:
            ni = self.snapshot.by_name[nominated]
            nst = fwk.run_filter_plugins_with_nominated_pods(state, pod, ni)
            if nst is None or nst.code == Code.SUCCESS:
                return ni.name
        return None

    def _schedule_by_positions(
        self,
        fwk: Framework,
        state: CycleState,
        pod: Pod,
        local: list[tuple[str, Any]],
        rest: list[tuple[str, Any]],
        narrowed: list[str] | None,
        diagnosis: Diagnosis,
    ) -> str:
        """Filter and Score over snapshot positions (``kubelite.scheduler.arrays``): the decisions of
        ``_find_nodes_that_pass_filters`` and ``_select_host``, without a Python loop over nodes."""
        snapshot = self.snapshot
        memo = self._kind_memo(fwk, pod, local)
        if narrowed is None:
            order = self._order[1]
            if self._order[0] != snapshot.layout:
                order = np.arange(len(snapshot.infos), dtype=np.int64)
                self._order = (snapshot.layout, order)
        else:
            positions = snapshot.positions
            order = np.array([positions[name] for name in narrowed], np.int64)
        n = len(order)
        to_find = num_feasible_nodes_to_find(fwk.percentage_of_nodes_to_score, n)
        start = self.next_start_node_index % n
        by_positions = [
            (name, fn, getattr(fwk.plugins.get(name), "filter_positions", None)) for name, fn in rest
        ]
        found = find_feasible(
            memo,
            local,
            by_positions,
            state,
            pod,
            snapshot,
            order,
            start,
            to_find,
        )
        self.next_start_node_index = (start + found.processed) % n
        feasible = found.positions
        if not feasible.size:
            found.rejections.write(
                snapshot, diagnosis.node_to_status.statuses, diagnosis.unschedulable_plugins
            )
            raise FitError(pod, len(snapshot.infos), diagnosis)
        infos = snapshot.infos
        if feasible.size == 1:
            return infos[int(feasible[0])].name
        st = fwk.run_pre_score_plugins(state, pod, pre_score_nodes(fwk, state, pod, snapshot, feasible))
        if st is not None:
            raise RuntimeError(st.message())
        totals, st = total_scores(fwk, memo, state, pod, snapshot, feasible)
        if st is not None:
            raise RuntimeError(st.message())
        top = np.flatnonzero(totals == totals.max())
        if top.size == 1:
            return infos[int(feasible[top[0]])].name
        return infos[int(feasible[self.rng.choice(top.tolist())])].name  # ties: each equally likely

    def _kind_memo(self, fwk: Framework, pod: Pod, local: list[tuple[str, Any]]) -> KindMemo:
        """The node-local answers kept for pods like ``pod`` (same profile, same spec, same filters)."""
        signature = (fwk.profile_name, tuple(name for name, _ in local), msgspec.json.encode(pod.spec))
        memos = self._kind_memos
        memo = memos.get(signature)
        layout = self.snapshot.layout
        if memo is None or memo.layout != layout:
            if memo is None and len(memos) >= KIND_MEMOS:
                memos.clear()
            memo = memos[signature] = KindMemo(layout, len(self.snapshot.infos))
        return memo

    def _find_nodes_that_pass_filters(
        self, fwk: Framework, state: CycleState, pod: Pod, nodes: list[NodeInfo], diagnosis: Diagnosis
    ) -> list[NodeInfo]:
        """Filter node by node (plugins without node-local answers, or with nominated pods about)."""
        n = len(nodes)
        if n == 0:
            return []
        queue = self._q()
        to_find = num_feasible_nodes_to_find(fwk.percentage_of_nodes_to_score, n)
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status.statuses
        failed_plugins = diagnosis.unschedulable_plugins
        start = self.next_start_node_index % n
        processed = 0
        if queue.has_nominated_pods():
            order = nodes[start:] + nodes[:start] if start else nodes
            for ni in order:
                processed += 1
                st = fwk.run_filter_plugins_with_nominated_pods(state, pod, ni)
                if st is None or st.code == Code.SUCCESS:
                    feasible.append(ni)
                    if len(feasible) >= to_find:
                        break
                    continue
                if st.code == Code.ERROR:
                    raise RuntimeError(st.message())
                statuses[ni.name] = st
                failed_plugins.add(st.plugin)
        else:
            # Plugin by plugin over chunks of nodes: one tight loop per plugin, and a chunk is
            # only as large as the number of feasible nodes still wanted.
            filters = fwk.filter_functions(state)
            while processed < n and len(feasible) < to_find:
                # The next nodes from ``start`` round the list, sliced out directly: a rotated copy
                # of the whole list would touch (reference-count) every NodeInfo of the cluster.
                count = min(max(to_find - len(feasible), MIN_FILTER_CHUNK), n - processed)
                first = start + processed
                if first >= n:
                    first -= n
                if first + count <= n:
                    chunk = nodes[first : first + count]
                else:
                    chunk = nodes[first:] + nodes[: first + count - n]
                processed += count
                candidates = chunk
                for name, fn in filters:
                    results = fn(state, pod, candidates)
                    if not any(results):  # all None (a Status is truthy; count(None) would call __eq__)
                        continue
                    kept = []
                    for ni, r in zip(candidates, results, strict=True):
                        if r is None or r.code == Code.SUCCESS:
                            kept.append(ni)
                            continue
                        if r.code == Code.ERROR:
                            raise RuntimeError(r.message() or f"filter plugin {name} failed")
                        if not r.plugin:
                            r = r.with_plugin(name)
                        statuses[ni.name] = r
                        failed_plugins.add(r.plugin)
                    candidates = kept
                    if not candidates:
                        break
                feasible.extend(candidates)
            if len(feasible) > to_find:
                # The last chunk found more than needed: give the extra nodes back to the next cycle.
                processed -= len(feasible) - to_find
                for ni in feasible[to_find:]:
                    statuses.pop(ni.name, None)
                feasible = feasible[:to_find]
        self.next_start_node_index = (start + processed) % n
        return feasible

    # Node-local filters (the plugins marked ``node_local_filter``: their answer for a node depends
    # only on the pod and on that NodeInfo's own state) are answered from a KindMemo by position,
    # valid while the position's NodeInfo.memo_token is the same: a run of pods alike re-runs them
    # only on the nodes that changed since. Only the filters before the first other one are, so
    # that the first failing plugin of a node (its status) stays the one the profile's order gives.

    @staticmethod
    def _node_local_prefix(
        fwk: Framework, filters: list[tuple[str, Any]]
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        local = 0
        for name, _ in filters:
            if not getattr(fwk.plugins.get(name), "node_local_filter", False):
                break
            local += 1
        return filters[:local], filters[local:]

    def _select_host(self, fwk: Framework, state: CycleState, pod: Pod, feasible: list[NodeInfo]) -> str:
        st = fwk.run_pre_score_plugins(state, pod, feasible)
        if st is not None:
            raise RuntimeError(st.message())
        totals, st = fwk.run_score_plugins(state, pod, feasible)
        if st is not None:
            raise RuntimeError(st.message())
        best = max(totals)
        if totals.count(best) == 1:
            return feasible[totals.index(best)].name
        top = list(itertools.compress(range(len(totals)), map(operator.eq, totals, itertools.repeat(best))))
        return feasible[self.rng.choice(top)].name  # ties: each equally likely

    # ---------------------------------------------------------- binding cycle

    async def _binding_cycle(
        self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: Pod, host: str, cycle: int
    ) -> None:
        st = await fwk.wait_on_permit(assumed)
        if st is None or st.is_success():
            st = await fwk.run_pre_bind_plugins(state, assumed, host)
        if st is None or st.is_success():
            st = await fwk.run_bind_plugins(state, assumed, host)
        if st is not None and not st.is_success():
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            log.info("binding %s to %s failed: %s", qpi.key, host, st.message())
            self._failed_after_assume(fwk, qpi, st, cycle)
            return
        self.cache.finish_binding(assumed)
        self._q().done(qpi.key)
        self.scheduled += 1
        if self.recorder is not None:
            meta = assumed.metadata
            self.recorder.event(
                assumed,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta.namespace}/{meta.name} to {host}",
            )
        fwk.run_post_bind_plugins(state, assumed, host)

    # ----------------------------------------------------------------- failure

    def handle_failure(
        self, fwk: Framework, qpi: QueuedPodInfo, reason: str, message: str, cycle: int, nominated: str | None
    ) -> None:
        """Requeue the pod (unless it is gone or bound), record the event and the PodScheduled condition."""
        queue = self._q()
        pod = qpi.pod
        current = pod
        if self._pod_informer is not None:
            current = self._pod_informer.get_by(pod.metadata.namespace, pod.metadata.name)
        if current is None or current.spec.nodeName or current.metadata.uid != pod.metadata.uid:
            queue.done(qpi.key)
            return
        if current is not pod:
            qpi.pod_info.update(current)
        queue.add_unschedulable_if_not_present(qpi, cycle)
        if nominated:
            queue.add_nominated_pod(qpi.pod_info, nominated)
        if message == NO_NODES_AVAILABLE:
            reason = "Unschedulable"
        if self.recorder is not None:
            self.recorder.event(current, "Warning", "FailedScheduling", message)
        if self.client is not None and self._tg is not None:
            self._tg.create_task(self._write_condition(current, reason, message, nominated))

    async def _write_condition(self, pod: Pod, reason: str, message: str, nominated: str | None) -> None:
        for cond in pod.status.conditions:
            if (
                cond.type == "PodScheduled"
                and cond.status == "False"
                and cond.reason == reason
                and cond.message == message
                and (nominated is None or pod.status.nominatedNodeName == nominated)
            ):
                return  # nothing new to say
        status: dict[str, Any] = {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": _rfc3339(self.clock.now()),
                }
            ]
        }
        if nominated:
            status["nominatedNodeName"] = nominated
        client = self._writer or self.client
        assert client is not None
        try:
            await client.resource(PODS).patch(
                pod.metadata.name, {"status": status}, "strategic", pod.metadata.namespace, "status"
            )
        except Exception as e:
            if getattr(e, "code", 0) != 404:
                log.warning(
                    "could not update the status of %s/%s: %s", pod.metadata.namespace, pod.metadata.name, e
                )


def _rfc3339(t: float) -> str:
    import time

    g = time.gmtime(t)
    return f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}T{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}Z"
