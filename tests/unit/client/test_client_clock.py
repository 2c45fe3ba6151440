"""FakeClock: time moves only when the test moves it, waking sleepers in order."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client.clock import FakeClock, RealClock, sleep_until_set


async def test_sleep_wakes_only_after_advance() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    assert clock.sleepers == 1 and not task.done()
    await clock.step(4.9)
    assert not task.done()
    await clock.step(0.1)
    assert task.done()
    assert clock.monotonic() == pytest.approx(5.0)
    assert clock.now() == pytest.approx(1_704_067_205.0)


async def test_run_for_wakes_a_sleep_loop_at_each_deadline() -> None:
    clock = FakeClock()
    seen: list[float] = []

    async def ticker() -> None:
        while True:
            await clock.sleep(2)
            seen.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.run_for(7)
    task.cancel()
    assert seen == [2, 4, 6]
    assert clock.monotonic() == 7


async def test_cancelled_sleep_is_not_counted() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(10))
    await clock.settle()
    task.cancel()
    await clock.settle()
    assert clock.sleepers == 0
    assert clock.next_deadline() is None


async def test_run_until_idle_and_sleep_until_set() -> None:
    clock = FakeClock()
    event = asyncio.Event()
    result = asyncio.create_task(sleep_until_set(clock, event, 30))
    await clock.settle()
    await clock.run_until_idle()
    assert result.done() and result.result() is False
    assert clock.monotonic() == 30
    event.set()
    assert await sleep_until_set(clock, event, 30) is True


async def test_advance_is_forward_only_and_real_clock_sleeps() -> None:
    with pytest.raises(ValueError):
        FakeClock().advance(-1)
    real = RealClock()
    start = real.monotonic()
    await real.sleep(0.01)
    assert real.monotonic() >= start
