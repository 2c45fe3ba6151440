"""The scheduling queue: which pending pod to try next, and when to try again.

Three places, as in kube-scheduler:

- the active queue, a heap ordered by the QueueSort plugin (PrioritySort:
  higher priority first, then earlier); ``pop()`` waits on it;
- the back-off queue: pods that failed recently wait ``initial * 2^(attempts-1)``
  seconds (1 s doubling to 10 s by default) before they are active again;
- the unschedulable pods: pods no node fitted. They move back (to the
  back-off queue if still backing off, else to the active queue) when a
  cluster event happens that one of the plugins that rejected them
  registered as possibly helpful, or after ``max_in_unschedulable`` seconds
  (5 minutes) at most. Pods a PreEnqueue plugin refused (scheduling gates)
  wait here too, until an update lets them in.

It also keeps the nominated pods (preemption's "this pod will go to that
node") that Filter counts as if they were already on their node.

Time comes from the injected clock; ``run()`` flushes the back-off queue every
second and the leftover unschedulable pods every 30 seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.scheduler.interface import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
    Status,
)
from kubelite.scheduler.nodeinfo import PodInfo, QueuedPodInfo

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
DEFAULT_MAX_IN_UNSCHEDULABLE = 300.0
FLUSH_BACKOFF_INTERVAL = 1.0
FLUSH_UNSCHEDULABLE_INTERVAL = 30.0

# The event a pending pod's own update is (plugins register for it to be retried on it).
UNSCHEDULED_POD_UPDATE = ClusterEvent("UnschedulablePod", ActionType.UPDATE)
UNSCHEDULABLE_TIMEOUT = ClusterEvent("*", ActionType.ALL, "UnschedulableTimeout")
FORCE_ACTIVATE = ClusterEvent("*", ActionType.ALL, "ForceActivate")


class QueueClosed(Exception):
    """``pop()`` on a closed queue."""


def pod_key(pod: Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _scheduling_relevant(pod: Pod) -> tuple[Any, ...]:
    """What of a pod matters for scheduling (status changes, e.g. our own condition, do not)."""
    meta = pod.metadata
    return (pod.spec, meta.labels, meta.annotations, meta.deletionTimestamp)


class _Entry:
    """A heap entry ordered by the queue-sort ``less`` function."""

    __slots__ = ("less", "qpi")

    def __init__(self, qpi: QueuedPodInfo, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool]) -> None:
        self.qpi = qpi
        self.less = less

    def __lt__(self, other: _Entry) -> bool:
        return self.less(self.qpi, other.qpi)


class SchedulingQueue:
    """Active, back-off and unschedulable pods; the scheduler's source of work."""

    def __init__(
        self,
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool],
        *,
        clock: Clock = REAL_CLOCK,
        sort_key: Callable[[QueuedPodInfo], Any] | None = None,
        pre_enqueue: Callable[[Pod], Status | None] | None = None,
        events: dict[str, list[ClusterEventWithHint]] | None = None,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
    ) -> None:
        self.less = less
        self.sort_key = sort_key
        self.clock = clock
        self.pre_enqueue = pre_enqueue
        self.events = events or {}
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._heap: list[Any] = []
        self._seq = itertools.count()
        self.active: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, QueuedPodInfo]] = []
        self.backoff: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._wakeup = asyncio.Event()
        self._closed = False
        # nominator
        self._nominated: dict[str, list[PodInfo]] = {}
        self._nominated_node: dict[str, str] = {}  # uid -> node

    # ------------------------------------------------------------ heap helpers

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        self.active[qpi.key] = qpi
        if self.sort_key is not None:
            heapq.heappush(self._heap, (self.sort_key(qpi), next(self._seq), qpi))
        else:
            heapq.heappush(self._heap, _Entry(qpi, self.less))
        self._wakeup.set()

    def _pop_heap(self) -> QueuedPodInfo | None:
        heap = self._heap
        while heap:
            item = heapq.heappop(heap)
            qpi: QueuedPodInfo = item[2] if self.sort_key is not None else item.qpi
            if self.active.get(qpi.key) is qpi:
                del self.active[qpi.key]
                return qpi
        return None

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        self.backoff[qpi.key] = qpi
        heapq.heappush(self._backoff_heap, (qpi.backoff_expiration, next(self._seq), qpi))

    def backoff_duration(self, attempts: int) -> float:
        duration = self.initial_backoff
        for _ in range(1, attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return min(duration, self.max_backoff)

    def _is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return qpi.backoff_expiration > self.clock.monotonic()

    def _remove_everywhere(self, key: str) -> QueuedPodInfo | None:
        qpi = self.active.pop(key, None) or self.backoff.pop(key, None) or self.unschedulable.pop(key, None)
        # Lazy deletion: stale heap entries are skipped when popped.
        return qpi

    # ---------------------------------------------------------------- intake

    def add(self, pod: Pod) -> None:
        """A new pending pod (from the informer)."""
        key = pod_key(pod)
        if key in self.active or key in self.backoff or key in self.unschedulable or key in self.in_flight:
            self.update(None, pod)
            return
        qpi = QueuedPodInfo(PodInfo(pod), self.clock.monotonic())
        self._enqueue_new(qpi)
        if pod.status.nominatedNodeName:
            self.add_nominated_pod(qpi.pod_info, pod.status.nominatedNodeName)

    def _enqueue_new(self, qpi: QueuedPodInfo) -> None:
        st = self.pre_enqueue(qpi.pod) if self.pre_enqueue is not None else None
        if st is not None and not st.is_success():
            qpi.gated = True
            qpi.unschedulable_plugins = {st.plugin} if st.plugin else set()
            self.unschedulable[qpi.key] = qpi
            return
        qpi.gated = False
        self._push_active(qpi)

    def update(self, old: Pod | None, new: Pod) -> None:
        """A pending pod changed."""
        key = pod_key(new)
        if new.status.nominatedNodeName:
            self._update_nomination(new)
        for place in (self.active, self.backoff, self.in_flight):
            qpi = place.get(key)
            if qpi is not None:
                qpi.pod_info.update(new)
                return
        qpi = self.unschedulable.get(key)
        if qpi is None:
            self.add(new)
            return
        relevant_change = old is None or _scheduling_relevant(old) != _scheduling_relevant(new)
        qpi.pod_info.update(new)
        if not relevant_change:
            return
        if qpi.gated:
            st = self.pre_enqueue(new) if self.pre_enqueue is not None else None
            if st is None or st.is_success():
                del self.unschedulable[key]
                qpi.gated = False
                qpi.unschedulable_plugins = set()
                self._push_active(qpi)
            return
        if self._pod_matches_event(qpi, UNSCHEDULED_POD_UPDATE, old, new):
            del self.unschedulable[key]
            self._requeue(qpi)

    def delete(self, pod: Pod) -> None:
        key = pod_key(pod)
        self._remove_everywhere(key)
        self.in_flight.pop(key, None)
        self.delete_nominated_pod_if_exists(pod)

    # -------------------------------------------------------------- popping

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule (waits while the active queue is empty)."""
        while True:
            if self._closed:
                raise QueueClosed()
            qpi = self._pop_heap()
            if qpi is not None:
                self.scheduling_cycle += 1
                qpi.attempts += 1
                if qpi.initial_attempt_timestamp is None:
                    qpi.initial_attempt_timestamp = self.clock.monotonic()
                self.in_flight[qpi.key] = qpi
                return qpi
            self._wakeup.clear()
            await self._wakeup.wait()

    def pop_nowait(self) -> QueuedPodInfo | None:
        """Like ``pop()`` but None when nothing is active (simulations, tests)."""
        qpi = self._pop_heap()
        if qpi is None:
            return None
        self.scheduling_cycle += 1
        qpi.attempts += 1
        if qpi.initial_attempt_timestamp is None:
            qpi.initial_attempt_timestamp = self.clock.monotonic()
        self.in_flight[qpi.key] = qpi
        return qpi

    def done(self, key: str) -> None:
        """The scheduling attempt of ``key`` finished (bound, or requeued)."""
        self.in_flight.pop(key, None)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # ------------------------------------------------------------- failures

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_scheduling_cycle: int) -> None:
        """Put a pod that failed back: to wait for an event (unschedulable) or a back-off (error).

        A pod whose attempt overlapped a cluster event that might have helped
        goes to back-off, so the event is not missed.
        """
        key = qpi.key
        self.in_flight.pop(key, None)
        if key in self.active or key in self.backoff or key in self.unschedulable:
            return
        now = self.clock.monotonic()
        qpi.timestamp = now
        qpi.backoff_expiration = now + self.backoff_duration(qpi.attempts)
        if self.move_request_cycle >= pod_scheduling_cycle or not qpi.unschedulable_plugins:
            self._push_backoff(qpi)
        else:
            self.unschedulable[key] = qpi

    def activate(self, pods: list[Pod]) -> None:
        """Move these pods to the active queue now, wherever they wait."""
        for pod in pods:
            key = pod_key(pod)
            qpi = self.unschedulable.pop(key, None) or self.backoff.pop(key, None)
            if qpi is not None:
                self._push_active(qpi)

    def _requeue(self, qpi: QueuedPodInfo) -> None:
        if self._is_backing_off(qpi):
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    # ---------------------------------------------------------------- moves

    def _interested_plugins(self, event: ClusterEvent) -> dict[str, list[ClusterEventWithHint]]:
        out: dict[str, list[ClusterEventWithHint]] = {}
        for plugin, registered in self.events.items():
            hits = [r for r in registered if r.event.matches(event)]
            if hits:
                out[plugin] = hits
        return out

    def _pod_matches_event(
        self,
        qpi: QueuedPodInfo,
        event: ClusterEvent,
        old: Any,
        new: Any,
        interested: dict[str, list[ClusterEventWithHint]] | None = None,
    ) -> bool:
        if event.label in ("UnschedulableTimeout", "ForceActivate"):
            return True
        rejectors = qpi.unschedulable_plugins | qpi.pending_plugins
        if not rejectors:
            return True
        if interested is None:
            interested = self._interested_plugins(event)
        for plugin in rejectors:
            hits = interested.get(plugin)
            if not hits:
                continue
            for r in hits:
                if r.hint is None:
                    return True
                try:
                    if r.hint(qpi.pod, old, new) == QueueingHint.QUEUE:
                        return True
                except Exception:
                    return True
        return False

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """A cluster event: move the unschedulable pods it may help. Returns how many moved."""
        self.move_request_cycle = self.scheduling_cycle
        if not self.unschedulable:
            return 0
        interested = self._interested_plugins(event)
        if not interested and event.label not in ("UnschedulableTimeout", "ForceActivate"):
            return 0
        names = set(interested)
        moved = 0
        for key, qpi in list(self.unschedulable.items()):
            if qpi.gated:
                continue
            rejectors = qpi.unschedulable_plugins | qpi.pending_plugins
            if rejectors and not (rejectors & names) and not event.label:
                continue
            if self._pod_matches_event(qpi, event, old, new, interested):
                del self.unschedulable[key]
                self._requeue(qpi)
                moved += 1
        return moved

    def flush_backoff_completed(self) -> int:
        now = self.clock.monotonic()
        heap = self._backoff_heap
        moved = 0
        while heap and heap[0][0] <= now:
            _, _, qpi = heapq.heappop(heap)
            if self.backoff.get(qpi.key) is not qpi:
                continue
            del self.backoff[qpi.key]
            self._push_active(qpi)
            moved += 1
        return moved

    def flush_unschedulable_leftover(self) -> int:
        now = self.clock.monotonic()
        moved = 0
        for key, qpi in list(self.unschedulable.items()):
            if qpi.gated:
                continue
            if now - qpi.timestamp > self.max_in_unschedulable:
                del self.unschedulable[key]
                self._requeue(qpi)
                moved += 1
        return moved

    async def run(self) -> None:
        """Flush back-off every second and leftover unschedulable pods every 30 s, until closed."""
        ticks = 0
        every = max(1, round(FLUSH_UNSCHEDULABLE_INTERVAL / FLUSH_BACKOFF_INTERVAL))
        while not self._closed:
            await self.clock.sleep(FLUSH_BACKOFF_INTERVAL)
            self.flush_backoff_completed()
            ticks += 1
            if ticks % every == 0:
                self.flush_unschedulable_leftover()

    # ------------------------------------------------------------ nominator

    def add_nominated_pod(self, pod_info: PodInfo, node_name: str) -> None:
        self.delete_nominated_pod_if_exists(pod_info.pod)
        if not node_name:
            return
        self._nominated_node[pod_info.uid] = node_name
        self._nominated.setdefault(node_name, []).append(pod_info)

    def _update_nomination(self, pod: Pod) -> None:
        uid = pod.metadata.uid
        node = pod.status.nominatedNodeName
        if self._nominated_node.get(uid) == node:
            for pi in self._nominated.get(node, []):
                if pi.uid == uid:
                    pi.update(pod)
            return
        self.add_nominated_pod(PodInfo(pod), node)

    def delete_nominated_pod_if_exists(self, pod: Pod) -> None:
        uid = pod.metadata.uid or pod_key(pod)
        node = self._nominated_node.pop(uid, None)
        if node is None:
            return
        remaining = [pi for pi in self._nominated.get(node, []) if pi.uid != uid]
        if remaining:
            self._nominated[node] = remaining
        else:
            self._nominated.pop(node, None)

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._nominated.get(node_name, ()))

    def has_nominated_pods(self) -> bool:
        return bool(self._nominated)

    # ---------------------------------------------------------------- views

    def pending_pods(self) -> list[Pod]:
        return [q.pod for q in (*self.active.values(), *self.backoff.values(), *self.unschedulable.values())]

    def __len__(self) -> int:
        return len(self.active) + len(self.backoff) + len(self.unschedulable)
