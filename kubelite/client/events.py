"""Recording core/v1 Events the way Kubernetes components do.

``EventRecorder.event(obj, "Warning", "FailedCreate", "...")`` returns at
once: the event goes into a bounded queue and background writers (``run()``,
a few writes in flight at a time) write it. Identical repeats (same involved object, type, reason, message
and source) within ten minutes do not create new Events: the first Event's
``count`` and ``lastTimestamp`` are bumped by a PATCH instead, as client-go's
event correlator does, so a controller stuck in a retry loop produces one
Event with a growing count rather than thousands of objects.

Event names are ``<object name>.<nanosecond timestamp in hex>``; Events of
cluster-scoped objects go to the ``default`` namespace. Write failures are
retried a few times and then dropped with a log line: events are
best-effort and must never stall the component that records them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from kubelite.api.core_v1 import Event, EventSource, ObjectReference
from kubelite.api.errors import StatusError
from kubelite.api.meta import ObjectMeta
from kubelite.api.resources import Registry
from kubelite.api.timestamps import rfc3339
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.objects import (
    api_version_of,
    kind_of,
    name_of,
    namespace_of,
    resource_version_of,
    uid_of,
)
from kubelite.client.rest import PATCH_CONTENT_TYPES, Client

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
AGGREGATION_WINDOW = 600.0  # seconds within which identical events are counted, not re-created
CACHE_SIZE = 4096
MAX_MESSAGE = 1024
DROP_LOG_INTERVAL = 10.0  # seconds between log lines about events dropped on a full queue


def object_reference(obj: Any, registry: Registry | None = None) -> ObjectReference:
    """The ObjectReference of a typed object or dict (an ObjectReference passes through)."""
    if isinstance(obj, ObjectReference):
        return obj
    kind = kind_of(obj) or ("" if isinstance(obj, dict) else type(obj).__name__)
    api_version = api_version_of(obj)
    if not api_version and not isinstance(obj, dict):
        for res in (registry or Registry()).all():
            if res.preferred and res.storage_of is None and res.kind == kind and res.model is type(obj):
                api_version = res.api_version
                break
    return ObjectReference(
        kind=kind,
        namespace=namespace_of(obj),
        name=name_of(obj),
        uid=uid_of(obj),
        apiVersion=api_version,
        resourceVersion=resource_version_of(obj),
    )


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float  # clock.monotonic()


@dataclass(slots=True)
class Write:
    """What the correlator decided: create ``event``, or patch the existing one of that name."""

    event: Event
    patch: bool


class EventCorrelator:
    """Turns each new event into a create or a count-bumping patch.

    Pure bookkeeping (no I/O): an LRU of the last ``CACHE_SIZE`` distinct
    events keyed by (source, involved object, type, reason, message).
    """

    def __init__(self, clock: Clock = REAL_CLOCK, window: float = AGGREGATION_WINDOW) -> None:
        self.clock = clock
        self.window = window
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()

    @staticmethod
    def key(event: Event) -> tuple[str, ...]:
        ref = event.involvedObject
        return (
            event.source.component,
            event.source.host,
            ref.kind,
            ref.namespace,
            ref.name,
            ref.uid,
            ref.apiVersion,
            event.type,
            event.reason,
            event.message,
        )

    def correlate(self, event: Event) -> Write:
        """Decide for a fresh event (count 1, its own name and timestamps)."""
        key = self.key(event)
        now = self.clock.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen.last_seen <= self.window:
            seen.count += 1
            seen.last_seen = now
            self._seen.move_to_end(key)
            meta = msgspec.structs.replace(event.metadata, name=seen.name, namespace=seen.namespace)
            bumped = msgspec.structs.replace(
                event, metadata=meta, count=seen.count, firstTimestamp=seen.first_timestamp
            )
            return Write(bumped, patch=True)
        self._seen[key] = _Seen(
            event.metadata.name, event.metadata.namespace, 1, event.firstTimestamp or "", now
        )
        self._seen.move_to_end(key)
        while len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
        return Write(event, patch=False)

    def forget(self, event: Event) -> None:
        """Drop the record of ``event`` (its write failed for good: start afresh next time)."""
        self._seen.pop(self.key(event), None)


class EventRecorder:
    """Record Events about objects without ever blocking the caller.

    Run ``await recorder.run()`` in the component's task group; ``event()``
    and ``eventf()`` may be called before it starts (queued up to
    ``queue_size`` unwritten events; beyond that events are dropped, counted
    in ``dropped`` and reported in one log line per ``DROP_LOG_INTERVAL``).

    Up to ``concurrency`` writes are in flight at once, so a component that
    records events at a high rate (the scheduler's Scheduled events) is not
    held to one API round trip per event. Writes of the same Event (a create
    and the count-bumping patches after it) still go out one after the other,
    in the order they were recorded. A write does not decode the server's
    answer: the recorder only needs to know that it succeeded.
    """

    def __init__(
        self,
        client: Client,
        component: str,
        host: str = "",
        *,
        instance: str = "",
        clock: Clock = REAL_CLOCK,
        queue_size: int = 1000,
        tries: int = 3,
        retry_delay: float = 1.0,
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.registry = client.registry
        res = self.registry.by_kind("", "v1", "Event")
        assert res is not None
        self.events = client.resource(res)
        self.component = component
        self.host = host
        self.instance = instance or (f"{component}-{host}" if host else component)
        self.clock = clock
        self.queue_size = queue_size
        self.tries = tries
        self.retry_delay = retry_delay
        self.concurrency = max(1, concurrency)
        self.correlator = EventCorrelator(clock)
        self.source = EventSource(component=self.component, host=self.host)
        self._queue: deque[Event] = deque()
        self._unfinished = 0  # recorded and not yet written (or dropped)
        self._waiters: deque[asyncio.Future[None]] = deque()  # idle workers, woken one per event
        self._idle = asyncio.Event()  # set while nothing is unfinished
        self._idle.set()
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.written = 0  # successful writes (creates and patches)
        self.dropped = 0
        self._dropped_unlogged = 0
        self._drop_logged_at: float | None = None
        self._last_nanos = 0

    def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        """Record that ``reason``/``message`` happened to ``obj`` (``type`` Normal or Warning)."""
        if type not in (NORMAL, WARNING):
            log.warning(
                "event %s on %s has unsupported type %r; recording it anyway", reason, name_of(obj), type
            )
        if self._unfinished >= self.queue_size:
            self._drop(type, reason, name_of(obj))
            return
        now = self.clock.now()
        ref = object_reference(obj, self.registry)
        ts = rfc3339(now)
        # Names must be unique even when the clock stands still (a FakeClock) or repeats.
        nanos = max(int(now * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        ev = Event(
            kind="Event",
            apiVersion="v1",
            metadata=ObjectMeta(name=f"{ref.name}.{nanos:x}", namespace=ref.namespace or "default"),
            involvedObject=ref,
            reason=reason,
            message=message[:MAX_MESSAGE],
            source=self.source,
            firstTimestamp=ts,
            lastTimestamp=ts,
            count=1,
            type=type,
            reportingComponent=self.component,
            reportingInstance=self.instance,
        )
        self._queue.append(ev)
        self._unfinished += 1
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _drop(self, type: str, reason: str, name: str) -> None:
        """Count an event the full queue cannot take; log at most once per interval."""
        self.dropped += 1
        self._dropped_unlogged += 1
        now = self.clock.monotonic()
        if self._drop_logged_at is None or now - self._drop_logged_at >= DROP_LOG_INTERVAL:
            log.warning(
                "event queue full (%d unwritten): dropped %d event(s), the last %s %s on %s",
                self._unfinished,
                self._dropped_unlogged,
                type,
                reason,
                name,
            )
            self._drop_logged_at = now
            self._dropped_unlogged = 0

    def eventf(self, obj: Any, type: str, reason: str, fmt: str, *args: Any) -> None:
        """``event()`` with a %-format message."""
        self.event(obj, type, reason, fmt % args if args else fmt)

    def pending(self) -> int:
        """Events recorded and not yet written."""
        return self._unfinished

    async def flush(self) -> None:
        """Wait until every recorded event has been written or dropped (needs ``run()`` going)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Write recorded events until cancelled, ``concurrency`` at a time."""
        async with asyncio.TaskGroup() as tg:
            for i in range(self.concurrency):
                tg.create_task(self._worker(), name=f"event-writer-{i}")

    async def _worker(self) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if not waiter.done():
                        waiter.cancel()
                continue
            ev = queue.popleft()
            try:
                await self._record(ev)
            except Exception:
                log.exception("recording event %s failed", ev.metadata.name)
            finally:
                self._unfinished -= 1
                if not self._unfinished:
                    self._idle.set()

    async def _record(self, ev: Event) -> None:
        # Correlated in the order recorded (workers take events first in, first out); a write of
        # an Event whose previous write is still in flight waits for that one to finish.
        write = self.correlator.correlate(ev)
        key = (write.event.metadata.namespace or "", write.event.metadata.name or "")
        before = self._in_flight.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        try:
            if before is not None:
                await asyncio.shield(before)
            await self._record_write(write)
        finally:
            done.set_result(None)
            if self._in_flight.get(key) is done:
                del self._in_flight[key]

    async def _record_write(self, write: Write) -> None:
        for attempt in range(1, self.tries + 1):
            try:
                await self._write(write)
                self.written += 1
                return
            except StatusError as e:
                if e.code == 404 and write.patch:
                    # The Event we counted on is gone (deleted or expired): create it anew.
                    write = Write(write.event, patch=False)
                    continue
                if e.code == 409 and not write.patch:
                    return  # already exists: a retry of a create that did go through
                if e.code < 500 and e.code != 429:
                    break  # the server will not change its mind
                err: Exception = e
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                err = e
            if attempt < self.tries:
                log.info("writing event %s failed (%s); retrying", write.event.metadata.name, err)
                await self.clock.sleep(self.retry_delay * attempt)
        self.dropped += 1
        self.correlator.forget(write.event)
        log.warning(
            "dropping event %s %s on %s after %d tries",
            write.event.type,
            write.event.reason,
            write.event.involvedObject.name,
            self.tries,
        )

    async def _write(self, write: Write) -> None:
        ev = write.event
        ns = ev.metadata.namespace
        if write.patch:
            patch = {"count": ev.count, "lastTimestamp": ev.lastTimestamp, "message": ev.message}
            path = self.events.path(ns, ev.metadata.name)
            await self.client.request(
                "PATCH", path, body=patch, content_type=PATCH_CONTENT_TYPES["strategic"]
            )
        else:
            await self.client.request("POST", self.events.path(ns), body=ev)
