"""The Store contract, run against every in-process backend (sqlite, memory).

Each test gets a ``make`` factory that opens a store of the parametrised kind
(with optional constructor options); for sqlite, calling it again after
closing reopens the same file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kubelite.storage import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    WatchEvent,
    WatchOverflowError,
    open_store,
)

Make = Callable[..., Store]


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str, tmp_path: Path) -> AsyncIterator[Make]:
    opened: list[Store] = []

    def factory(**options: Any) -> Store:
        store = open_store(kind, tmp_path, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
def store(make: Make) -> Store:
    return make()


async def collect(
    store: Store, prefix: str, revision: int, until: int, within: float = 5.0
) -> list[WatchEvent]:
    """Watch events from ``revision`` until one with revision >= ``until``."""
    events: list[WatchEvent] = []
    if revision >= until:
        return events

    async def run() -> None:
        async for event in store.watch(prefix, revision=revision):
            events.append(event)
            if event.revision >= until:
                return

    await asyncio.wait_for(run(), within)
    return events


def test_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


async def test_create_get_update_delete(store: Store) -> None:
    assert await store.current_revision() == 0
    assert await store.get("/a") is None
    r1 = await store.create("/a", b"one")
    assert r1 == 1
    assert await store.get("/a") == KeyValue("/a", b"one", r1, r1)
    r2 = await store.update("/a", b"two", expected_revision=r1)
    assert r2 > r1
    assert await store.get("/a") == KeyValue("/a", b"two", r1, r2)
    gone = await store.delete("/a", expected_revision=r2)
    assert gone.value == b"two" and gone.create_revision == r1 and gone.mod_revision > r2
    assert await store.get("/a") is None
    assert await store.current_revision() == gone.mod_revision
    # A key can be created again after deletion, with a fresh create revision.
    r4 = await store.create("/a", b"again")
    assert await store.get("/a") == KeyValue("/a", b"again", r4, r4)
    assert store.stats()["writes_total"] == 4


async def test_errors(store: Store) -> None:
    r1 = await store.create("/k", b"v1")
    with pytest.raises(KeyExistsError):
        await store.create("/k", b"other")
    with pytest.raises(KeyNotFoundError):
        await store.update("/missing", b"x", expected_revision=1)
    with pytest.raises(KeyNotFoundError):
        await store.delete("/missing")
    r2 = await store.update("/k", b"v2", expected_revision=r1)
    with pytest.raises(ConflictError) as info:
        await store.update("/k", b"v3", expected_revision=r1)
    assert info.value.current == KeyValue("/k", b"v2", r1, r2)
    with pytest.raises(ConflictError):
        await store.delete("/k", expected_revision=r1)
    # Failed writes change nothing and consume no revision.
    assert await store.current_revision() == r2
    assert await store.get("/k") == KeyValue("/k", b"v2", r1, r2)
    await store.delete("/k")
    with pytest.raises(KeyNotFoundError):
        await store.update("/k", b"x", expected_revision=r2)
    with pytest.raises(KeyNotFoundError):
        await store.delete("/k")


async def test_list_order_prefix_pagination(store: Store) -> None:
    keys = ["/p/c", "/p/a", "/p/b", "/pq/x", "/o/z", "/p/d"]
    for key in keys:
        await store.create(key, key.encode())
    await store.delete("/p/d")
    result = await store.list("/p/")
    assert [kv.key for kv in result.items] == ["/p/a", "/p/b", "/p/c"]
    assert result.revision == await store.current_revision()
    assert not result.more
    assert [kv.value for kv in result.items] == [b"/p/a", b"/p/b", b"/p/c"]
    assert [kv.key for kv in (await store.list("")).items] == ["/o/z", "/p/a", "/p/b", "/p/c", "/pq/x"]
    assert await store.count("/p/") == 3
    assert await store.count("/p") == 4
    assert await store.count("/nothing/") == 0

    page = await store.list("/p/", limit=2)
    assert [kv.key for kv in page.items] == ["/p/a", "/p/b"] and page.more
    page = await store.list("/p/", limit=2, start_after="/p/b")
    assert [kv.key for kv in page.items] == ["/p/c"] and not page.more
    page = await store.list("/p/", limit=3)
    assert len(page.items) == 3 and not page.more
    page = await store.list("/p/", start_after="/p/c")
    assert page.items == [] and not page.more


async def test_list_at_older_revision(store: Store) -> None:
    r1 = await store.create("/h/a", b"a1")
    r2 = await store.create("/h/b", b"b1")
    r3 = await store.update("/h/a", b"a2", expected_revision=r1)
    r4 = (await store.delete("/h/b")).mod_revision
    await store.create("/h/c", b"c1")

    at = await store.list("/h/", revision=r2)
    assert at.revision == r2
    assert [(kv.key, kv.value, kv.mod_revision) for kv in at.items] == [
        ("/h/a", b"a1", r1),
        ("/h/b", b"b1", r2),
    ]
    at = await store.list("/h/", revision=r3)
    assert [(kv.key, kv.value) for kv in at.items] == [("/h/a", b"a2"), ("/h/b", b"b1")]
    at = await store.list("/h/", revision=r4, limit=1)
    assert [kv.key for kv in at.items] == ["/h/a"] and not at.more
    with pytest.raises(FutureRevisionError):
        await store.list("/h/", revision=r4 + 10)


async def test_compaction(store: Store) -> None:
    r1 = await store.create("/c/a", b"a1")
    r2 = await store.update("/c/a", b"a2", expected_revision=r1)
    r3 = await store.create("/c/b", b"b1")
    r4 = (await store.delete("/c/b")).mod_revision
    r5 = await store.create("/c/keep", b"k")
    r6 = await store.update("/c/a", b"a3", expected_revision=r2)

    with pytest.raises(FutureRevisionError):
        await store.compact(r6 + 1)
    await store.compact(r4)
    assert store.compacted_revision == r4
    await store.compact(r2)  # idempotent: an older point is a no-op
    assert store.compacted_revision == r4

    for old in (r1, r3, r4):
        with pytest.raises(CompactedError):
            await store.list("/c/", revision=old)
        if old < r4:
            with pytest.raises(CompactedError):
                await collect(store, "/c/", old, r6)
    # History after the compaction point is intact.
    at = await store.list("/c/", revision=r5)
    assert [(kv.key, kv.value) for kv in at.items] == [("/c/a", b"a2"), ("/c/keep", b"k")]
    # Watching from the compaction point itself is fine, with the previous value.
    events = await collect(store, "/c/", r4, r6)
    assert [(e.type, e.key, e.revision) for e in events] == [
        ("ADDED", "/c/keep", r5),
        ("MODIFIED", "/c/a", r6),
    ]
    assert events[1].prev_value == b"a2"
    # Live values always survive, even compacting at the newest revision.
    await store.compact(r6)
    assert [(kv.key, kv.value) for kv in (await store.list("/c/")).items] == [
        ("/c/a", b"a3"),
        ("/c/keep", b"k"),
    ]
    assert await store.count("/c/") == 2
    assert store.stats()["compacted_revision"] == r6


async def test_watch_event_contents(store: Store) -> None:
    start = await store.current_revision()
    r1 = await store.create("/w/a", b"v1")
    r2 = await store.update("/w/a", b"v2", expected_revision=r1)
    r3 = (await store.delete("/w/a")).mod_revision
    expected = [
        WatchEvent("ADDED", "/w/a", b"v1", r1, r1, None),
        WatchEvent("MODIFIED", "/w/a", b"v2", r2, r1, b"v1"),
        WatchEvent("DELETED", "/w/a", b"v2", r3, r1, b"v2"),
    ]
    # The same events whether replayed from the log or delivered live.
    assert await collect(store, "/w/", start, r3) == expected
    watcher = asyncio.create_task(collect(store, "/w/", r3, r3 + 3))
    await asyncio.sleep(0.05)
    r4 = await store.create("/w/a", b"v1")
    r5 = await store.update("/w/a", b"v2", expected_revision=r4)
    r6 = (await store.delete("/w/a")).mod_revision
    live = await watcher
    assert live == [
        WatchEvent("ADDED", "/w/a", b"v1", r4, r4, None),
        WatchEvent("MODIFIED", "/w/a", b"v2", r5, r4, b"v1"),
        WatchEvent("DELETED", "/w/a", b"v2", r6, r4, b"v2"),
    ]


async def test_watch_prefix_sees_only_its_keys(store: Store) -> None:
    watcher = asyncio.create_task(collect(store, "/pods/", 0, 4))
    await asyncio.sleep(0.05)
    await store.create("/pods/a", b"1")  # 1
    await store.create("/podsx", b"2")  # 2
    await store.create("/nodes/a", b"3")  # 3
    await store.create("/pods/b", b"4")  # 4
    assert [(e.key, e.revision) for e in await watcher] == [("/pods/a", 1), ("/pods/b", 4)]


async def test_watch_replay_and_live_without_gaps(store: Store) -> None:
    """Writers run throughout; watches start at different points mid-stream
    and must each see exactly the revisions after their start, in order."""
    writers, per_writer = 8, 40
    total = writers * per_writer

    async def writer(n: int) -> None:
        for i in range(per_writer):
            key = f"/g/{n}/{i % 5}"
            current = await store.get(key)
            if current is None:
                await store.create(key, b"x" * (i + 1))
            elif i % 7 == 0:
                await store.delete(key, expected_revision=current.mod_revision)
            else:
                await store.update(key, b"y" * i, expected_revision=current.mod_revision)
            if i % 10 == 0:
                await asyncio.sleep(0)

    async def watcher(start_after_writes: int) -> tuple[int, list[WatchEvent]]:
        # Polls on purpose: the watch must start at an arbitrary point mid-stream.
        while await store.current_revision() < start_after_writes:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        start = await store.current_revision()
        return start, await collect(store, "/g/", start, total, within=15)

    watchers = [asyncio.create_task(watcher(n)) for n in (0, total // 4, total // 2)]
    await asyncio.gather(*(writer(n) for n in range(writers)))
    assert await store.current_revision() == total
    for task in watchers:
        start, events = await task
        assert [e.revision for e in events] == list(range(start + 1, total + 1))
    # The history replays identically from the log afterwards.
    assert [e.revision for e in await collect(store, "/g/", 0, total)] == list(range(1, total + 1))


async def test_concurrent_creates_one_wins(store: Store) -> None:
    results = await asyncio.gather(
        *(store.create("/race", f"{n}".encode()) for n in range(20)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1
    assert all(isinstance(r, KeyExistsError) for r in results if not isinstance(r, int))
    kv = await store.get("/race")
    assert kv is not None and kv.mod_revision == winners[0]
    assert await store.current_revision() == winners[0]


async def test_failed_write_in_a_batch_fails_alone(store: Store) -> None:
    rev = await store.create("/b/existing", b"0")
    results = await asyncio.gather(
        store.create("/b/new1", b"1"),
        store.create("/b/existing", b"dup"),
        store.update("/b/existing", b"2", expected_revision=rev + 100),
        store.delete("/b/missing"),
        store.create("/b/new2", b"3"),
        store.update("/b/existing", b"4", expected_revision=rev),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == [
        "int",
        "KeyExistsError",
        "ConflictError",
        "KeyNotFoundError",
        "int",
        "int",
    ]
    assert [kv.value for kv in (await store.list("/b/")).items] == [b"4", b"1", b"3"]
    assert await store.current_revision() == rev + 3


async def test_concurrent_updates_one_wins(store: Store) -> None:
    rev = await store.create("/cas", b"0")
    results = await asyncio.gather(
        *(store.update("/cas", f"{n}".encode(), expected_revision=rev) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 9


async def test_watch_overflow(make: Make) -> None:
    store = make(watch_queue=10)
    await store.create("/s/0", b"")
    slow = store.watch("/s/", revision=1)
    fast_events: list[WatchEvent] = []

    async def fast() -> None:
        async for event in store.watch("/s/", revision=1):
            fast_events.append(event)
            if event.revision >= 51:
                return

    fast_task = asyncio.create_task(fast())
    pending = asyncio.ensure_future(anext(slow))  # subscribes, then waits
    await asyncio.sleep(0.05)
    for i in range(1, 51):
        await store.create(f"/s/{i}", b"")
        await asyncio.sleep(0)  # the fast watcher keeps up
    await asyncio.wait_for(fast_task, 5)
    assert [e.revision for e in fast_events] == list(range(2, 52))
    # The slow watcher, which stopped reading, was cut off.
    with pytest.raises(WatchOverflowError):
        await pending
        async for _ in slow:
            pass
    assert store.stats()["watchers"] == 0


async def test_watch_ends_when_store_closes_and_releases_subscription(store: Store) -> None:
    async def consume() -> list[WatchEvent]:
        return [e async for e in store.watch("/", revision=0)]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    await store.create("/x", b"1")
    watcher = asyncio.create_task(collect(store, "/", 0, 1))
    await watcher
    assert store.stats()["watchers"] == 1
    await store.close()
    assert [e.key for e in await asyncio.wait_for(task, 5)] == ["/x"]
    assert store.stats()["watchers"] == 0


async def test_cancelled_watch_releases_subscription(store: Store) -> None:
    task = asyncio.create_task(collect(store, "/", 0, 10))
    await asyncio.sleep(0.05)
    assert store.stats()["watchers"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.stats()["watchers"] == 0


async def test_maintain_compacts_old_history(make: Make) -> None:
    store = make(compact_interval=0.02, compact_window=5)
    rev = await store.create("/m", b"0")
    for i in range(20):
        rev = await store.update("/m", str(i).encode(), expected_revision=rev)
    task = asyncio.create_task(store.maintain())
    try:
        for _ in range(200):
            if store.compacted_revision == rev - 5:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert store.compacted_revision == rev - 5
    with pytest.raises(CompactedError):
        await store.list("/", revision=rev - 5)
    assert (await store.list("/", revision=rev - 4)).items[0].value == b"15"
    assert (await store.get("/m")) == KeyValue("/m", b"19", 1, rev)


async def test_stats(store: Store) -> None:
    await store.create("/a", b"x" * 100)
    await store.create("/b", b"x")
    await store.delete("/b")
    stats = store.stats()
    for name in (
        "db_size_bytes",
        "live_keys",
        "revision",
        "compacted_revision",
        "writes_total",
        "slow_queries_total",
    ):
        assert name in stats
    assert stats["live_keys"] == 1 and stats["revision"] == 3 and stats["writes_total"] == 3
    assert stats["db_size_bytes"] > 0


async def test_reopen_restores_state(kind: str, make: Make) -> None:
    if kind != "sqlite":
        pytest.skip("only sqlite is durable")
    store = make()
    r1 = await store.create("/r/a", b"a")
    r2 = await store.create("/r/b", b"b")
    r3 = await store.update("/r/a", b"a2", expected_revision=r1)
    r4 = (await store.delete("/r/b", expected_revision=r2)).mod_revision
    await store.compact(r4)  # also drops the trailing deletion row
    await store.close()

    store = make()
    assert await store.current_revision() == r4
    assert store.compacted_revision == r4
    with pytest.raises(CompactedError):
        await store.list("/r/", revision=r3)
    assert store.stats()["live_keys"] == 1
    with pytest.raises(KeyExistsError):
        await store.create("/r/a", b"again")
    with pytest.raises(ConflictError):
        await store.update("/r/a", b"x", expected_revision=r1)
    r5 = await store.update("/r/a", b"a3", expected_revision=r3)
    assert r5 == r4 + 1  # revisions never go back, even after compaction
    r6 = await store.create("/r/b", b"b2")
    assert [kv.value for kv in (await store.list("/r/")).items] == [b"a3", b"b2"]
    assert await collect(store, "/r/", r4, r6) == [
        WatchEvent("MODIFIED", "/r/a", b"a3", r5, r1, b"a2"),
        WatchEvent("ADDED", "/r/b", b"b2", r6, r6, None),
    ]


def test_open_store_specs(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match="etcd"):
        open_store("etcd://127.0.0.1:2379", tmp_path)
    with pytest.raises(ValueError):
        open_store("bogus", tmp_path)


async def test_sqlite_file_location(tmp_path: Path) -> None:
    store = open_store("sqlite", tmp_path)
    try:
        await store.create("/a", b"1")
        assert (tmp_path / "db" / "state.db").exists()
    finally:
        await store.close()
