"""In-memory Store: the same kine-style log as sqlite.py, without durability.

Used by tests and by ``kubelite up --store memory``. It keeps the whole log in
Python lists and has exactly the semantics of the sqlite backend (revisions,
history reads, compaction, watch replay), so the parametrised store suite
runs unchanged against both.

Its writes publish to the shared watch fan-out (watch.py) directly.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from .interface import (
    DEFAULT_COMPACT_INTERVAL,
    DEFAULT_COMPACT_WINDOW,
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StoreError,
    WatchEvent,
    prefix_end,
)
from .watch import DEFAULT_WATCH_QUEUE, WatchHub, follow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Row:
    """One log entry: a create, update or delete of one key.

    A deletion row carries the key's last value, so DELETED events and
    history reads need no second lookup. ``prev_revision`` is the mod
    revision of the value this row replaced (0 for a create).
    """

    id: int
    name: str
    created: bool
    deleted: bool
    create_revision: int
    prev_revision: int
    value: bytes


def row_event(row: Row, prev_value: bytes | None) -> WatchEvent:
    """The watch event a log row stands for."""
    if row.deleted:
        return WatchEvent("DELETED", row.name, row.value, row.id, row.create_revision, row.value)
    if row.created:
        return WatchEvent("ADDED", row.name, row.value, row.id, row.create_revision, None)
    return WatchEvent("MODIFIED", row.name, row.value, row.id, row.create_revision, prev_value)


class MemoryStore:
    """A Store kept entirely in memory (see module docstring).

    ``compact_interval`` (seconds) and ``compact_window`` (revisions kept)
    drive ``maintain()``; ``watch_queue`` bounds each watcher's buffer.
    """

    def __init__(
        self,
        *,
        compact_interval: float = DEFAULT_COMPACT_INTERVAL,
        compact_window: int = DEFAULT_COMPACT_WINDOW,
        watch_queue: int = DEFAULT_WATCH_QUEUE,
    ) -> None:
        self._compact_interval = compact_interval
        self._compact_window = compact_window
        self._hub = WatchHub(watch_queue)
        self._log: list[Row] = []  # every row, in revision order
        self._log_ids: list[int] = []  # parallel to _log, for bisect
        self._history: dict[str, list[Row]] = {}  # key -> its rows, oldest first
        self._names: list[str] = []  # sorted keys that have any history
        self._by_id: dict[int, Row] = {}
        self._revision = 0
        self._compacted = 0
        self._writes = 0
        self._closed = False

    # -- reads ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("store is closed")

    def _live(self, key: str) -> Row | None:
        rows = self._history.get(key)
        if not rows or rows[-1].deleted:
            return None
        return rows[-1]

    @staticmethod
    def _kv(row: Row) -> KeyValue:
        return KeyValue(row.name, row.value, row.create_revision, row.id)

    async def get(self, key: str) -> KeyValue | None:
        """The live value of ``key``, or None."""
        self._check_open()
        row = self._live(key)
        return self._kv(row) if row else None

    def _rows_at(self, prefix: str, revision: int, start_after: str | None) -> Iterable[Row]:
        """For each key under ``prefix`` (after ``start_after``) in key order,
        its newest row with id <= ``revision``, if that row is not a deletion."""
        lo = prefix if start_after is None or start_after < prefix else start_after
        hi = prefix_end(prefix)
        i = bisect.bisect_right(self._names, lo) if lo == start_after else bisect.bisect_left(self._names, lo)
        for name in self._names[i:]:
            if hi is not None and name >= hi:
                return
            rows = self._history[name]
            if rows[-1].id <= revision:
                row = rows[-1]
            else:
                j = bisect.bisect_right([r.id for r in rows], revision)
                if j == 0:
                    continue
                row = rows[j - 1]
            if not row.deleted:
                yield row

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start_after: str | None = None,
        limit: int = 0,
    ) -> ListResult:
        """Live keys under ``prefix`` in key order (see Store.list)."""
        self._check_open()
        at = self._check_read_revision(revision)
        items: list[KeyValue] = []
        more = False
        for row in self._rows_at(prefix, at, start_after):
            if limit and len(items) == limit:
                more = True
                break
            items.append(self._kv(row))
        return ListResult(items, at, more)

    def _check_read_revision(self, revision: int) -> int:
        if revision < 0:
            raise ValueError("revision must be >= 0")
        if revision == 0:
            return self._revision
        if revision <= self._compacted:
            raise CompactedError(revision, self._compacted)
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        return revision

    async def count(self, prefix: str) -> int:
        """How many live keys are under ``prefix``."""
        self._check_open()
        return sum(1 for _ in self._rows_at(prefix, self._revision, None))

    async def current_revision(self) -> int:
        """The revision of the newest write (0 for an empty store)."""
        return self._revision

    @property
    def compacted_revision(self) -> int:
        """The newest revision compacted away (0 if none)."""
        return self._compacted

    # -- writes --------------------------------------------------------------

    def _append(self, row: Row, prev_value: bytes | None) -> None:
        self._revision = row.id
        self._log.append(row)
        self._log_ids.append(row.id)
        self._by_id[row.id] = row
        rows = self._history.get(row.name)
        if rows is None:
            self._history[row.name] = [row]
            bisect.insort(self._names, row.name)
        else:
            rows.append(row)
        self._writes += 1
        self._hub.publish([row_event(row, prev_value)])

    def _check_expected(self, key: str, expected: int | None) -> Row:
        live = self._live(key)
        if live is None:
            raise KeyNotFoundError(key)
        if expected is not None and live.id != expected:
            raise ConflictError(key, self._kv(live))
        return live

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; return its revision. KeyExistsError if live.

        Atomic with respect to other coroutines; nothing to cancel."""
        self._check_open()
        if self._live(key) is not None:
            raise KeyExistsError(key)
        rev = self._revision + 1
        self._append(Row(rev, key, True, False, rev, 0, bytes(value)), None)
        return rev

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace a live key whose mod revision is ``expected_revision``."""
        self._check_open()
        live = self._check_expected(key, expected_revision)
        rev = self._revision + 1
        self._append(Row(rev, key, False, False, live.create_revision, live.id, bytes(value)), live.value)
        return rev

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete a live key; return its last value at the delete's revision."""
        self._check_open()
        live = self._check_expected(key, expected_revision)
        rev = self._revision + 1
        self._append(Row(rev, key, False, True, live.create_revision, live.id, live.value), live.value)
        return KeyValue(key, live.value, live.create_revision, rev)

    # -- watch ---------------------------------------------------------------

    def watch(self, prefix: str, *, revision: int) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` after ``revision`` (see Store.watch)."""
        return follow(self._hub, prefix, revision, lambda _sub: self._replay(prefix, revision))

    async def _replay(self, prefix: str, revision: int) -> AsyncIterator[WatchEvent]:
        self._check_open()
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        # A snapshot: the live subscription already holds anything newer.
        start = bisect.bisect_right(self._log_ids, revision)
        rows = [r for r in self._log[start:] if r.name.startswith(prefix)]
        for row in rows:
            prev = self._by_id.get(row.prev_revision) if row.prev_revision else None
            yield row_event(row, prev.value if prev else None)

    # -- maintenance ---------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Forget superseded history at and before ``revision`` (see Store.compact)."""
        self._check_open()
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision <= self._compacted:
            return
        # kine's rule: drop every row superseded by a row at or below
        # ``revision`` and every deletion at or below it.
        lo = bisect.bisect_right(self._log_ids, self._compacted)
        hi = bisect.bisect_right(self._log_ids, revision)
        doomed: set[int] = set()
        for row in self._log[lo:hi]:
            if row.prev_revision:
                doomed.add(row.prev_revision)
            if row.deleted:
                doomed.add(row.id)
        self._compacted = revision
        if not doomed:
            return
        self._log = [r for r in self._log if r.id not in doomed]
        self._log_ids = [r.id for r in self._log]
        for rid in doomed:
            row = self._by_id.pop(rid)
            rows = self._history[row.name]
            rows.remove(row)
            if not rows:
                del self._history[row.name]
                i = bisect.bisect_left(self._names, row.name)
                del self._names[i]

    async def maintain(self) -> None:
        """Compact all but the newest ``compact_window`` revisions every
        ``compact_interval`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self._compact_interval)
            target = self._revision - self._compact_window
            if target > self._compacted:
                await self.compact(target)

    def stats(self) -> dict[str, float]:
        """Numbers for /metrics."""
        return {
            "db_size_bytes": float(sum(len(r.value) + len(r.name) + 48 for r in self._log)),
            "live_keys": float(sum(1 for rows in self._history.values() if not rows[-1].deleted)),
            "revision": float(self._revision),
            "compacted_revision": float(self._compacted),
            "writes_total": float(self._writes),
            "slow_queries_total": 0.0,
            "watchers": float(len(self._hub)),
        }

    async def close(self) -> None:
        """End all watches and drop the data. Idempotent."""
        self._closed = True
        self._hub.close()
