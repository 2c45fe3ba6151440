"""SQLite Store: the embedded default, a kine-style append-only log.

One table, ``log``, holds every create, update and delete of every key; its
``INTEGER PRIMARY KEY AUTOINCREMENT`` id is the revision. The live value of a
key is its newest row unless that row is a deletion (deletion rows carry the
last value, so DELETED events need no lookup). A small ``meta`` table keeps
the compaction point so that a restart still answers 410 for old revisions.

Threads, and why:

* One writer thread owns the only write connection. Writes queue up; the
  writer takes everything waiting, checks each write's precondition against
  an in-memory index of live keys (key -> create and mod revision), and
  applies the whole batch in one transaction with one fsync (group commit):
  one SELECT of the values it replaces and one multi-row INSERT, since each
  SQLite call hands the GIL back and forth with the event loop.
  A write whose precondition fails fails alone; an I/O error fails the batch.
  After the commit the writer hands results and watch events to the event
  loop with ``call_soon_threadsafe`` (events first, in revision order).
* Reads run on a small pool of reader threads, each with its own connection;
  WAL lets them read while the writer writes.

Nothing here blocks the event loop except the constructor, which opens the
file and loads the live index (call it at startup, or through
``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from kubelite.threadname import name_os_thread

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
from .watch import DEFAULT_WATCH_QUEUE, Subscription, WatchHub, follow

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)

COMPACT_STEP = 10_000  # revisions per compaction transaction, so writers interleave
REPLAY_PAGE = 1000
SLOW_QUERY_SECONDS = 0.5

_ROW = (
    "SELECT l.id, l.name, l.created, l.deleted, l.create_revision, l.prev_revision, l.value, p.value "
    "FROM log AS l LEFT JOIN log AS p ON p.id = l.prev_revision AND l.created = 0 AND l.deleted = 0 "
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _fetch(sql: str, args: tuple[Any, ...], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(sql, args).fetchall()


def _range(prefix: str, start_after: str | None) -> tuple[str, list[Any]]:
    """SQL condition (and parameters) for names under ``prefix`` after ``start_after``."""
    if start_after is not None and start_after >= prefix:
        cond, args = "name > ?", [start_after]
    else:
        cond, args = "name >= ?", [prefix]
    end = prefix_end(prefix)
    if end is not None:
        cond += " AND name < ?"
        args.append(end)
    return cond, args


@dataclass(eq=False)
class _Write:
    kind: Literal["create", "update", "delete"]
    key: str
    value: bytes
    expected: int | None
    future: asyncio.Future[Any]
    cancelled: bool = False


@dataclass(eq=False)
class _Task:
    """Anything else the writer connection must do (compaction, checkpoint)."""

    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    label: str
    cancelled: bool = False


_STOP = object()


@dataclass
class _Batch:
    """Per-batch bookkeeping so a failed commit can undo the live index."""

    last: int  # the newest revision assigned so far (committed only if the batch commits)
    undo: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    results: list[tuple[asyncio.Future[Any], Any, bool]] = field(default_factory=list)
    events: list[WatchEvent] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # to insert, in revision order
    values: dict[int, bytes] = field(default_factory=dict)  # revision -> value, of the rows replaced


class SqliteStore:
    """A Store in one SQLite file (see module docstring).

    ``compact_interval`` seconds between ``maintain()`` rounds, each of which
    compacts all but the newest ``compact_window`` revisions and checkpoints
    the WAL; ``watch_queue`` bounds each watcher's buffer; ``max_batch``
    bounds how many writes share one commit; ``readers`` is the number of
    reader threads.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        compact_interval: float = DEFAULT_COMPACT_INTERVAL,
        compact_window: int = DEFAULT_COMPACT_WINDOW,
        watch_queue: int = DEFAULT_WATCH_QUEUE,
        max_batch: int = 1000,
        readers: int = 4,
        slow_query_seconds: float = SLOW_QUERY_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._compact_interval = compact_interval
        self._compact_window = compact_window
        self._max_batch = max_batch
        self._slow = slow_query_seconds
        self._hub = WatchHub(watch_queue)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._compact_lock = asyncio.Lock()

        self._wconn = _connect(self.path)
        self._wconn.executescript(SCHEMA)
        row = self._wconn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
        self._revision = int(row[0]) if row else 0  # newest committed revision
        row = self._wconn.execute("SELECT value FROM meta WHERE key = 'compacted_revision'").fetchone()
        self._compacted = int(row[0]) if row else 0
        # key -> (create_revision, mod_revision); owned by the writer thread.
        self._live: dict[str, tuple[int, int]] = {
            name: (create, mod)
            for name, create, mod in self._wconn.execute(
                "SELECT l.name, l.create_revision, l.id FROM log AS l "
                "JOIN (SELECT MAX(id) AS mid FROM log GROUP BY name) AS m ON l.id = m.mid "
                "WHERE l.deleted = 0"
            )
        }

        self._writes_total = 0
        self._batches_total = 0
        self._batched_writes = 0
        self._slow_total = 0

        # Host parameters one statement may bind (a compile-time limit of SQLite).
        self._max_vars = min(self._wconn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766)
        self._insert_sqls: dict[int, str] = {}

        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._writer_main, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-reader")

    # -- plumbing --------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("SqliteStore used from two event loops")
        return loop

    def _note_time(self, label: str, started: float) -> None:
        elapsed = time.monotonic() - started
        if elapsed > self._slow:
            self._slow_total += 1
            log.warning("slow sqlite query (%.3f s): %s", elapsed, label)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=1")
            self._reader_local.conn = conn
            self._reader_conns.append(conn)
        return conn

    async def _read(self, label: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = self._bind_loop()

        def run() -> T:
            started = time.monotonic()
            try:
                return fn(self._reader())
            finally:
                self._note_time(label, started)

        return await loop.run_in_executor(self._readers, run)

    async def _submit(self, op: _Write | _Task) -> Any:
        self._queue.put(op)
        try:
            return await op.future
        except asyncio.CancelledError:
            # Withdraws the op if the writer has not taken it yet; otherwise
            # it completes and its result is dropped.
            op.cancelled = True
            raise

    # -- the writer thread -------------------------------------------------------

    def _writer_main(self) -> None:
        name_os_thread("sqlite-writer")
        conn = self._wconn
        while True:
            ops = [self._queue.get()]
            while len(ops) < self._max_batch:
                try:
                    ops.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            writes: list[_Write] = []
            stop = False
            for op in ops:
                if op is _STOP:
                    stop = True
                elif isinstance(op, _Write):
                    if not op.cancelled:
                        writes.append(op)
                else:
                    self._commit(conn, writes)
                    writes = []
                    self._run_task(conn, op)
            self._commit(conn, writes)
            if stop:
                conn.close()
                return

    def _run_task(self, conn: sqlite3.Connection, task: _Task) -> None:
        if task.cancelled:
            return
        started = time.monotonic()
        try:
            result, ok = task.fn(conn), True
        except BaseException as exc:
            if conn.in_transaction:
                conn.rollback()
            result, ok = exc, False
        self._note_time(task.label, started)
        self._hand_over([], [(task.future, result, ok)])

    def _commit(self, conn: sqlite3.Connection, writes: list[_Write]) -> None:
        """Apply one batch of writes with one fsync, in as few SQLite calls as possible.

        Every SQLite call releases the GIL and must take it back, which costs
        up to a switch interval while the event loop is busy; so the writer
        reads the values the batch replaces with one SELECT and inserts all
        its rows with one multi-row INSERT (its own transaction) instead of a
        statement per write.
        """
        if not writes:
            return
        started = time.monotonic()
        batch = _Batch(last=self._revision)
        try:
            batch.values = self._replaced_values(conn, writes)
            for op in writes:
                try:
                    result, event = self._apply(op, batch)
                except StoreError as exc:
                    batch.results.append((op.future, exc, False))
                    continue
                batch.results.append((op.future, result, True))
                batch.events.append(event)
            self._insert(conn, batch.rows)
            # Only now may readers and watchers see the new revisions.
            self._revision = batch.last
        except BaseException as exc:
            log.exception("sqlite write batch of %d failed", len(writes))
            if conn.in_transaction:
                conn.rollback()
            for key, entry in batch.undo.items():
                if entry is None:
                    self._live.pop(key, None)
                else:
                    self._live[key] = entry
            batch.results = [(op.future, exc, False) for op in writes]
            batch.events = []
        self._note_time(f"write batch of {len(writes)}", started)
        self._writes_total += len(batch.events)
        self._batches_total += 1
        self._batched_writes += len(writes)
        self._hand_over(batch.events, batch.results)

    def _replaced_values(self, conn: sqlite3.Connection, writes: list[_Write]) -> dict[int, bytes]:
        """The stored values (by revision) that the batch's updates and deletes may replace."""
        ids = {entry[1] for op in writes if op.kind != "create" and (entry := self._live.get(op.key))}
        values: dict[int, bytes] = {}
        wanted = sorted(ids)
        step = self._max_vars
        for at in range(0, len(wanted), step):
            chunk = wanted[at : at + step]
            sql = f"SELECT id, value FROM log WHERE id IN ({','.join('?' * len(chunk))})"
            values.update(conn.execute(sql, chunk).fetchall())
        return values

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert the batch's rows: one statement (a transaction by itself) if they fit in one."""
        if not rows:
            return
        step = max(1, self._max_vars // 7)
        if len(rows) <= step:
            conn.execute(self._insert_sql(len(rows)), [v for row in rows for v in row])
            return
        conn.execute("BEGIN IMMEDIATE")
        for at in range(0, len(rows), step):
            chunk = rows[at : at + step]
            conn.execute(self._insert_sql(len(chunk)), [v for row in chunk for v in row])
        conn.execute("COMMIT")

    def _insert_sql(self, n: int) -> str:
        sql = self._insert_sqls.get(n)
        if sql is None:
            sql = self._insert_sqls[n] = "INSERT INTO log VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * n)
        return sql

    def _apply(self, op: _Write, batch: _Batch) -> tuple[Any, WatchEvent]:
        """Check one write's precondition and queue its row (writer thread)."""
        key = op.key
        entry = self._live.get(key)
        rev = batch.last + 1
        if op.kind == "create":
            if entry is not None:
                raise KeyExistsError(key)
            row: tuple[Any, ...] = (rev, key, 1, 0, rev, 0, op.value)
            event = WatchEvent("ADDED", key, op.value, rev, rev, None)
            result: Any = rev
            new: tuple[int, int] | None = (rev, rev)
            value = op.value
        else:
            if entry is None:
                raise KeyNotFoundError(key)
            create, mod = entry
            old = batch.values[mod]
            if op.expected is not None and op.expected != mod:
                raise ConflictError(key, KeyValue(key, old, create, mod))
            if op.kind == "update":
                row = (rev, key, 0, 0, create, mod, op.value)
                event = WatchEvent("MODIFIED", key, op.value, rev, create, old)
                result, new, value = rev, (create, rev), op.value
            else:
                row = (rev, key, 0, 1, create, mod, old)
                event = WatchEvent("DELETED", key, old, rev, create, old)
                result, new, value = KeyValue(key, old, create, rev), None, old
        if key not in batch.undo:
            batch.undo[key] = entry
        if new is None:
            del self._live[key]
        else:
            self._live[key] = new
        batch.values[rev] = value  # a later write of this batch to the same key replaces it
        batch.rows.append(row)
        batch.last = rev
        return result, event

    def _hand_over(
        self, events: list[WatchEvent], results: list[tuple[asyncio.Future[Any], Any, bool]]
    ) -> None:
        if not results:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._deliver, events, results)
        except RuntimeError:  # loop closed meanwhile; nobody is waiting
            pass

    def _deliver(
        self, events: list[WatchEvent], results: list[tuple[asyncio.Future[Any], Any, bool]]
    ) -> None:
        """On the loop: publish events first, then wake the writers."""
        self._hub.publish(events)
        for future, result, ok in results:
            if future.done():
                continue
            if ok:
                future.set_result(result)
            else:
                future.set_exception(result)

    # -- writes ----------------------------------------------------------------

    async def _write(
        self, kind: Literal["create", "update", "delete"], key: str, value: bytes, expected: int | None
    ) -> Any:
        loop = self._bind_loop()
        return await self._submit(_Write(kind, key, bytes(value), expected, loop.create_future()))

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; return its revision. KeyExistsError if live.

        Durable (fsynced) when it returns. Cancelling before the writer picks
        the write up withdraws it; after that it is applied regardless.
        """
        result: int = await self._write("create", key, value, None)
        return result

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace a live key whose mod revision is ``expected_revision``.

        KeyNotFoundError / ConflictError (with the current value). Durable on
        return; cancellation as for create().
        """
        result: int = await self._write("update", key, value, expected_revision)
        return result

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete a live key; return its last value at the delete's revision.

        Not idempotent: a second delete raises KeyNotFoundError.
        """
        result: KeyValue = await self._write("delete", key, b"", expected_revision)
        return result

    # -- reads -----------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        """The live value of ``key``, or None."""

        def run(conn: sqlite3.Connection) -> KeyValue | None:
            row = conn.execute(
                "SELECT value, create_revision, id, deleted FROM log WHERE name = ? ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is None or row[3]:
                return None
            return KeyValue(key, row[0], row[1], row[2])

        return await self._read(f"get {key}", run)

    def _read_revision(self, revision: int) -> int:
        if revision < 0:
            raise ValueError("revision must be >= 0")
        if revision == 0:
            return self._revision
        if revision <= self._compacted:
            raise CompactedError(revision, self._compacted)
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        return revision

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start_after: str | None = None,
        limit: int = 0,
    ) -> ListResult:
        """Live keys under ``prefix`` in key order, read at one revision.

        Revision 0 reads the newest committed state (and reports its
        revision); see Store.list for the rest.
        """
        cond, args = _range(prefix, start_after)
        sql = (
            "SELECT l.name, l.value, l.create_revision, l.id FROM log AS l "
            f"JOIN (SELECT MAX(id) AS mid FROM log WHERE {cond} AND id <= ? GROUP BY name) AS m "
            "ON l.id = m.mid WHERE l.deleted = 0 ORDER BY l.name"
        )
        if limit:
            sql += f" LIMIT {int(limit) + 1}"
        at = self._read_revision(revision)
        params = (*args, at)
        rows = await self._read(f"list {prefix!r} at {at}", lambda c: c.execute(sql, params).fetchall())
        # Compaction at C leaves the state after any revision >= C intact, so
        # only an explicit old revision can have been overtaken meanwhile.
        if revision and self._compacted >= revision:
            raise CompactedError(revision, self._compacted)
        more = bool(limit) and len(rows) > limit
        if more:
            rows = rows[:limit]
        return ListResult([KeyValue(*r) for r in rows], at, more)

    async def count(self, prefix: str) -> int:
        """How many live keys are under ``prefix``."""
        cond, args = _range(prefix, None)
        sql = (
            "SELECT COUNT(*) FROM log AS l "
            f"JOIN (SELECT MAX(id) AS mid FROM log WHERE {cond} GROUP BY name) AS m "
            "ON l.id = m.mid WHERE l.deleted = 0"
        )
        result: int = await self._read(f"count {prefix!r}", lambda c: c.execute(sql, args).fetchone()[0])
        return result

    async def current_revision(self) -> int:
        """The revision of the newest committed write (0 for an empty store)."""
        return self._revision

    @property
    def compacted_revision(self) -> int:
        """The newest revision compacted away (0 if none); survives restarts."""
        return self._compacted

    # -- watch -----------------------------------------------------------------

    def watch(self, prefix: str, *, revision: int) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` after ``revision``: the log first, then
        live events, with no gap and no duplicate (see Store.watch)."""
        return follow(self._hub, prefix, revision, lambda sub: self._replay(sub, prefix, revision))

    async def _replay(self, sub: Subscription, prefix: str, revision: int) -> AsyncIterator[WatchEvent]:
        self._bind_loop()
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        # ``sub`` is registered, so everything committed after this point
        # reaches it; the log only has to be read up to here.
        until = self._revision
        end = prefix_end(prefix)
        sql = _ROW + "WHERE l.id > ? AND l.id <= ? AND +l.name >= ?"
        if end is not None:
            sql += " AND +l.name < ?"
        sql += f" ORDER BY l.id LIMIT {REPLAY_PAGE}"
        last = revision
        while last < until:
            args = (last, until, prefix) if end is None else (last, until, prefix, end)
            rows = await self._read(
                f"watch replay {prefix!r} after {last}", functools.partial(_fetch, sql, args)
            )
            if self._compacted > last:
                raise CompactedError(revision, self._compacted)
            for rid, name, created, deleted, create, _prev, value, prev_value in rows:
                if deleted:
                    yield WatchEvent("DELETED", name, value, rid, create, value)
                elif created:
                    yield WatchEvent("ADDED", name, value, rid, create, None)
                else:
                    yield WatchEvent("MODIFIED", name, value, rid, create, prev_value)
            if len(rows) < REPLAY_PAGE:
                break
            last = rows[-1][0]

    # -- maintenance -------------------------------------------------------------

    async def _writer_task(self, label: str, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        loop = self._bind_loop()
        return await self._submit(_Task(fn, loop.create_future(), label))

    async def compact(self, revision: int) -> None:
        """Forget superseded history at and before ``revision``.

        Idempotent; runs in steps of COMPACT_STEP revisions, each its own
        transaction, so writes keep flowing. Cancelling stops after the
        current step (the compaction point then reflects the steps done).
        """
        self._bind_loop()
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        async with self._compact_lock:
            while self._compacted < revision:
                lo = self._compacted
                hi = min(revision, lo + COMPACT_STEP)
                step = functools.partial(self._compact_step, lo=lo, hi=hi)
                await self._writer_task(f"compact ({lo}, {hi}]", step)

    def _compact_step(self, conn: sqlite3.Connection, lo: int, hi: int) -> None:
        # kine's rule: every row superseded by a row in (lo, hi], and every
        # deletion in (lo, hi]. Rows superseded only after ``hi`` stay, so
        # state after any revision > hi is still complete.
        self._compacted = hi  # before the delete: readers re-check it afterwards
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM log WHERE id IN ("
                "SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision != 0 "
                "UNION SELECT id FROM log WHERE id > ? AND id <= ? AND deleted = 1)",
                (lo, hi, lo, hi),
            )
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted_revision', ?)", (hi,))
            conn.execute("COMMIT")
        except BaseException:
            self._compacted = lo
            raise

    async def checkpoint(self) -> None:
        """Checkpoint the WAL into the database file and truncate it."""
        await self._writer_task(
            "wal_checkpoint(TRUNCATE)", lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        )

    async def maintain(self) -> None:
        """Every ``compact_interval`` seconds: compact all but the newest
        ``compact_window`` revisions, then checkpoint the WAL. Runs until
        cancelled; a failed round is logged and retried next time."""
        while True:
            await asyncio.sleep(self._compact_interval)
            try:
                target = self._revision - self._compact_window
                if target > self._compacted:
                    await self.compact(target)
                await self.checkpoint()
            except StoreError:
                raise
            except Exception:
                log.exception("sqlite maintenance failed")

    def stats(self) -> dict[str, float]:
        """Numbers for /metrics."""
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                pass
        batches = self._batches_total
        return {
            "db_size_bytes": float(size),
            "live_keys": float(len(self._live)),
            "revision": float(self._revision),
            "compacted_revision": float(self._compacted),
            "writes_total": float(self._writes_total),
            "slow_queries_total": float(self._slow_total),
            "write_batches_total": float(batches),
            "write_batch_size_mean": self._batched_writes / batches if batches else 0.0,
            "watchers": float(len(self._hub)),
        }

    async def close(self) -> None:
        """Finish queued writes, end watches, close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._writer.join)
        self._hub.close()
        await asyncio.to_thread(self._readers.shutdown, True)
        for conn in self._reader_conns:
            conn.close()
