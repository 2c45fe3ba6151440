"""WorkQueue semantics (client-go's): de-duplication, requeue after done,
delays and rate limiting, all in fake time."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client.clock import FakeClock
from kubelite.client.workqueue import (
    ItemExponentialRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    TokenBucketRateLimiter,
    WorkQueue,
    default_controller_rate_limiter,
)


async def test_an_item_is_queued_once() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_adding_while_processing_requeues_after_done() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q.add("a")
    item = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while the first has it
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_two_workers_never_hold_the_same_item() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    holding: set[str] = set()
    overlaps = 0
    processed = 0

    async def worker() -> None:
        nonlocal overlaps, processed
        while True:
            try:
                item = await q.get()
            except ShutDown:
                return
            if item in holding:
                overlaps += 1
            holding.add(item)
            await asyncio.sleep(0)
            if processed < 5:
                q.add(item)  # re-dirty it while in process
            await asyncio.sleep(0)
            holding.discard(item)
            processed += 1
            q.done(item)

    workers = [asyncio.create_task(worker()) for _ in range(3)]
    q.add("x")
    for _ in range(50):
        await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*workers)
    assert overlaps == 0
    assert processed == 6


async def test_get_waits_for_an_add() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("late")
    assert await getter == "late"


async def test_shutdown_drains_then_raises() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    waiting = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await waiting
    q2: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q2.add("left")
    q2.shutdown()
    q2.add("ignored")
    assert await q2.get() == "left"
    with pytest.raises(ShutDown):
        await q2.get()


async def test_cancelled_get_takes_nothing() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    q.add("a")
    assert await q.get() == "a"


async def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("a", 10)
    q.add_after("a", 3)  # the earlier time wins
    q.add_after("b", 5)
    getter = asyncio.create_task(q.get())
    await clock.step(2.9)
    assert not getter.done()
    await clock.step(0.1)
    assert getter.done() and getter.result() == "a"
    q.done("a")
    await clock.step(2)
    assert await asyncio.wait_for(q.get(), 1) == "b"
    q.done("b")
    await clock.run_until_idle()
    assert len(q) == 0  # the superseded 10 s entry did not add "a" again... unless it is due:
    q.add_after("c", 0)
    assert len(q) == 1


async def test_add_after_an_item_already_queued_is_not_duplicated() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("a", 1)
    await clock.step(1)
    assert len(q) == 1
    assert await q.get() == "a"


def test_item_exponential_backoff_doubles_to_the_cap() -> None:
    limiter = ItemExponentialRateLimiter(0.005, 1000)
    delays = [limiter.when("k") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000
    assert max(delays) == 1000
    assert limiter.num_requeues("k") == 20
    assert limiter.when("other") == 0.005
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0
    assert limiter.when("k") == 0.005
    for _ in range(100):
        limiter.when("big")
    assert limiter.when("big") == 1000


def test_token_bucket_allows_a_burst_then_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(qps=10, burst=100, clock=clock)
    assert all(bucket.when(i) == 0 for i in range(100))
    assert bucket.when("next") == pytest.approx(0.1)
    assert bucket.when("next2") == pytest.approx(0.2)
    clock.advance(10)  # refill (capped at burst)
    assert bucket.when("later") == 0


def test_default_limiter_is_the_max_of_both() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert isinstance(limiter, MaxOfRateLimiter)
    assert limiter.when("a") == 0.005
    for i in range(200):
        limiter.when(f"spread-{i}")
    # the bucket is exhausted: an item's first retry now waits for a token
    assert limiter.when("b") > 0.005


async def test_add_rate_limited_backs_off_and_forget_resets() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    got: list[float] = []

    async def worker() -> None:
        while True:
            item = await q.get()
            got.append(clock.monotonic())
            if len(got) < 4:
                q.add_rate_limited(item)  # failed: retry with back-off
            else:
                q.forget(item)
            q.done(item)

    task = asyncio.create_task(worker())
    q.add("k")
    await clock.run_for(1)
    task.cancel()
    assert got == pytest.approx([0, 0.005, 0.015, 0.035])
    assert q.num_requeues("k") == 0
