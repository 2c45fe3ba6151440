"""The watch cache: the current state and recent history of every resource.

One store watch over the whole ``/registry/`` keyspace feeds a ``WatchCache``
that keeps, per storage prefix, the live objects and a bounded window of
recent events. Lists without a continue token and every watch are served
from here, so the store sees one watcher however many clients watch.

Freshness: the cache follows every write in revision order, so after
``await cache.wait_for(rev)`` it reflects every write up to ``rev``. A list
first asks the store for its current revision and waits for the cache to
reach it: a consistent read without reading the store.

Selectors: each cached object carries its labels and selectable fields,
computed once when the event arrives. A watch with a selector turns an
update that moves an object into (out of) the selection into ADDED
(DELETED), as Kubernetes does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson

from kubelite.api.fields import field_set
from kubelite.apiserver.codec import with_resource_version
from kubelite.storage.interface import CompactedError, Store, WatchEvent

log = logging.getLogger("kubelite.apiserver.watchcache")

REGISTRY_PREFIX = "/registry/"


@dataclass(slots=True)
class CachedObject:
    key: str
    namespace: str
    name: str
    revision: int
    data: bytes  # the object's JSON, resourceVersion included
    labels: dict[str, str]
    fields: dict[str, str]


@dataclass(slots=True)
class CachedEvent:
    type: str  # ADDED, MODIFIED, DELETED
    revision: int
    obj: CachedObject
    prev: CachedObject | None


Predicate = Callable[[CachedObject], bool]


class WatchClosed(Exception):
    """The cache ended this watch (it fell too far behind); the client must re-list."""


class Watcher:
    """One watch's buffer of events, drained in batches by the HTTP handler.

    A burst of writes reaches a watch as one batch (one wake-up, one write to
    the client) instead of one task and one socket write per event.
    """

    __slots__ = ("_expires", "_timer", "_waiter", "closed", "pending", "predicate", "prefix")

    def __init__(self, prefix: str, predicate: Predicate | None, backlog: list[CachedEvent]) -> None:
        self.prefix = prefix
        self.predicate = predicate
        self.pending: collections.deque[CachedEvent] = collections.deque(backlog)
        self.closed = False
        self._waiter: asyncio.Future[bool] | None = None
        self._expires = 0.0  # loop time at which the current wait ends without an event
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, event: CachedEvent) -> None:
        if self.closed:
            return
        out = _filter(event, self.predicate)
        if out is None:
            return
        if len(self.pending) >= WATCH_QUEUE:
            self.close()  # the client re-lists
            return
        self.pending.append(out)
        self._wake()

    def close(self) -> None:
        """End the watch: the events still pending are dropped, the reader gets WatchClosed."""
        self.closed = True
        self.pending.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def take(self, limit: int) -> list[CachedEvent]:
        """Up to ``limit`` events that are pending now (maybe none); WatchClosed once closed."""
        if self.closed:
            raise WatchClosed()
        pending = self.pending
        if len(pending) <= limit:
            out = list(pending)
            pending.clear()
            return out
        return [pending.popleft() for _ in range(limit)]

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event (or the end); False if none came."""
        if self.pending or self.closed:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        # One timer per watch, armed anew only when it would ring too late: a busy watch
        # waits once per event it sends, and a timer armed and cancelled for each wait
        # cost about as much as the rest of the wait. An early ring re-arms it.
        expires = self._expires = loop.time() + timeout
        timer = self._timer
        if timer is None or timer.when() > expires:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(expires, self._ring)
        try:
            return await waiter
        finally:
            self._waiter = None

    def _ring(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no wait in progress: the next one arms its own
        loop = waiter.get_loop()
        if loop.time() + _TIMER_SLACK >= self._expires:
            waiter.set_result(False)
        else:
            self._timer = loop.call_at(self._expires, self._ring)

    def stop_timer(self) -> None:
        """Drop the pending timer (the watch has ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


WATCH_QUEUE = 20000
_TIMER_SLACK = 0.001  # a wait's timer may ring this much before its end (loop clock resolution)


def _filter(event: CachedEvent, pred: Predicate | None) -> CachedEvent | None:
    """Rewrite an event as seen through a selector."""
    if pred is None:
        return event
    now = pred(event.obj)
    before = event.prev is not None and pred(event.prev)
    if event.type == "DELETED":
        return event if now else None
    if event.type == "ADDED":
        return event if now else None
    if now and before:
        return event
    if now:
        return CachedEvent("ADDED", event.revision, event.obj, event.prev)
    if before:
        return CachedEvent("DELETED", event.revision, event.obj, event.prev)
    return None


def _kind_of(data: dict) -> str:
    kind = data.get("kind")
    return kind if isinstance(kind, str) else ""


def make_cached(key: str, value: bytes, revision: int) -> CachedObject:
    """Decode once for the selectable attributes."""
    doc = orjson.loads(value)
    meta = doc.get("metadata") or {}
    return CachedObject(
        key=key,
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        revision=revision,
        data=with_resource_version(value, revision),
        labels=meta.get("labels") or {},
        fields=field_set(_kind_of(doc), doc),
    )


class _Bucket:
    """State and history of one storage prefix (one resource)."""

    def __init__(self, capacity: int) -> None:
        self.objects: dict[str, CachedObject] = {}
        self.history: collections.deque[CachedEvent] = collections.deque(maxlen=capacity)
        # The oldest revision from which this bucket can replay every event.
        self.replay_from = 0
        self.watchers: set[Watcher] = set()


class WatchCache:
    """See the module docstring. ``run()`` must be running for it to follow."""

    def __init__(self, store: Store, prefixes: list[str], *, capacity: int = 10000) -> None:
        self._store = store
        self._capacity = capacity
        self._buckets = {p: _Bucket(capacity) for p in sorted(set(prefixes), key=len, reverse=True)}
        self.revision = 0
        self._progress = asyncio.Condition()
        self._waiting = 0  # coroutines in wait_for: only they need a notify
        self._ready = asyncio.Event()
        # key -> (value, labels, fields) of a write in flight (see expect).
        self._expected: dict[str, tuple[bytes, dict[str, str], dict[str, str]]] = {}

    def _bucket_for(self, key: str) -> _Bucket | None:
        # Keys are /registry/<group>/<plural>/...: the prefix is the first four slashes.
        parts = key.split("/", 4)
        if len(parts) < 5:
            return None
        return self._buckets.get(f"/registry/{parts[2]}/{parts[3]}/")

    async def run(self) -> None:
        """Fill from a list, then follow the store's watch until cancelled."""
        while True:
            try:
                await self._fill()
                async for event in self._store.watch(REGISTRY_PREFIX, revision=self.revision):
                    await self._apply(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watch cache lost its store watch; re-listing")
                await asyncio.sleep(0.5)

    async def _fill(self) -> None:
        result = await self._store.list(REGISTRY_PREFIX)
        fresh: dict[str, dict[str, CachedObject]] = {p: {} for p in self._buckets}
        for kv in result.items:
            for prefix in self._buckets:
                if kv.key.startswith(prefix):
                    fresh[prefix][kv.key] = make_cached(kv.key, kv.value, kv.mod_revision)
                    break
        self._expected.clear()  # events of the past are not coming any more
        for prefix, bucket in self._buckets.items():
            bucket.objects = fresh[prefix]
            bucket.history.clear()
            bucket.replay_from = result.revision
            for w in list(bucket.watchers):  # their stream has a gap now
                w.close()
            bucket.watchers.clear()
        await self._advance(result.revision)
        self._ready.set()

    def expect(self, key: str, value: bytes, labels: dict[str, str], fields: dict[str, str]) -> None:
        """The API server is about to write ``value`` (this very bytes object) to ``key``:
        its labels and selectable fields are these, so its event needs no decoding.

        The event of the write takes the entry; a write that fails calls ``unexpect``.
        """
        self._expected[key] = (value, labels, fields)

    def unexpect(self, key: str, value: bytes) -> None:
        expected = self._expected.get(key)
        if expected is not None and expected[0] is value:
            del self._expected[key]

    def _cached(self, event: WatchEvent) -> CachedObject:
        expected = self._expected.get(event.key)
        if expected is not None and expected[0] is event.value and event.type != "DELETED":
            del self._expected[event.key]
            _, labels, fields = expected
            return CachedObject(
                key=event.key,
                namespace=fields["metadata.namespace"],
                name=fields["metadata.name"],
                revision=event.revision,
                data=with_resource_version(event.value, event.revision),
                labels=labels,
                fields=fields,
            )
        return make_cached(event.key, event.value, event.revision)

    async def _apply(self, event: WatchEvent) -> None:
        bucket = self._bucket_for(event.key)
        if bucket is not None:
            prev = bucket.objects.get(event.key)
            obj = self._cached(event)
            if event.type == "DELETED":
                bucket.objects.pop(event.key, None)
            else:
                bucket.objects[event.key] = obj
            ev = CachedEvent(event.type, event.revision, obj, prev)
            if len(bucket.history) == bucket.history.maxlen:
                bucket.replay_from = bucket.history[0].revision
            bucket.history.append(ev)
            for w in list(bucket.watchers):
                w.offer(ev)
                if w.closed:
                    bucket.watchers.discard(w)
        await self._advance(event.revision)

    async def _advance(self, revision: int) -> None:
        if revision > self.revision:
            self.revision = revision
        if self._waiting:
            async with self._progress:
                self._progress.notify_all()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_for(self, revision: int, timeout: float = 10.0) -> None:
        """Wait until every write up to ``revision`` is in the cache."""
        await self._ready.wait()
        if self.revision >= revision:
            return
        self._waiting += 1
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(lambda: self.revision >= revision)
        finally:
            self._waiting -= 1

    async def wait_fresh(self) -> int:
        """Catch up with the store; returns the revision the cache is now at."""
        await self.wait_for(await self._store.current_revision())
        return self.revision

    def close_watches(self) -> None:
        """End every open watch (the server is stopping): their streams end at once."""
        for bucket in self._buckets.values():
            for w in bucket.watchers:
                w.close()
            bucket.watchers.clear()

    def objects(self, prefix: str, key_prefix: str) -> list[CachedObject]:
        """Live objects of one resource whose key starts with ``key_prefix``, in key order."""
        bucket = self._buckets[prefix]
        if key_prefix == prefix:
            items = list(bucket.objects.values())
        else:
            items = [o for k, o in bucket.objects.items() if k.startswith(key_prefix)]
        items.sort(key=lambda o: o.key)
        return items

    def get(self, prefix: str, key: str) -> CachedObject | None:
        return self._buckets[prefix].objects.get(key)

    def count(self, prefix: str) -> int:
        return len(self._buckets[prefix].objects)

    def watch_count(self) -> dict[str, int]:
        return {p: len(b.watchers) for p, b in self._buckets.items()}

    @contextlib.asynccontextmanager
    async def watch(
        self, prefix: str, key_prefix: str, revision: int | None, predicate: Predicate | None
    ) -> AsyncIterator[Watcher]:
        """A stream of events of one resource after ``revision``, read with
        ``Watcher.wait`` and ``Watcher.take``.

        ``revision`` None (or 0) starts with a synthetic ADDED for every
        current object, as Kubernetes does for a watch without a
        resourceVersion. Raises CompactedError when ``revision`` is older
        than the history kept here or in the store.
        """
        await self._ready.wait()
        bucket = self._buckets[prefix]

        def pred(o: CachedObject) -> bool:
            return o.key.startswith(key_prefix) and (predicate is None or predicate(o))

        backlog: list[CachedEvent] = []
        if not revision:
            for obj in sorted(bucket.objects.values(), key=lambda o: o.key):
                if pred(obj):
                    backlog.append(CachedEvent("ADDED", obj.revision, obj, None))
        else:
            oldest = max(bucket.replay_from, self._store.compacted_revision)
            if revision < oldest:
                raise CompactedError(revision, oldest)
            for ev in bucket.history:
                if ev.revision > revision:
                    out = _filter(ev, pred)
                    if out is not None:
                        backlog.append(out)
        watcher = Watcher(prefix, pred, backlog)
        bucket.watchers.add(watcher)
        try:
            yield watcher
        finally:
            bucket.watchers.discard(watcher)
            watcher.stop_timer()
