"""Injectable time: the real clock for running components, a fake one for tests.

Everything in ``kubelite.client`` that waits (work-queue back-off, informer
resync and relist back-off, lease renewal, event aggregation windows) asks a
``Clock`` instead of calling ``time`` or ``asyncio.sleep`` directly, so tests
can drive minutes of back-off or lease expiry in microseconds with
``FakeClock``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of time.

    ``now()`` is wall-clock seconds since the epoch (for timestamps written to
    API objects); ``monotonic()`` never goes backwards (for measuring
    intervals); ``sleep(seconds)`` suspends the caller until that much
    monotonic time has passed. Cancelling a sleep cancels only that sleep.
    """

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """The system clock and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


REAL_CLOCK = RealClock()


class FakeClock:
    """A clock whose time moves only when a test moves it.

    ``sleep(seconds)`` parks the caller on a future that resolves once the
    test has advanced the clock past its deadline. Typical use::

        clock = FakeClock()
        task = asyncio.create_task(component.run())
        await clock.settle()            # let it reach its first sleep
        await clock.step(5)             # five seconds pass, sleepers wake, loop settles
        await clock.run_for(60)         # a minute passes, waking each sleeper in deadline order

    ``now()`` starts at ``start`` (wall time, default 2024-01-01T00:00:00Z)
    and ``monotonic()`` at 0; both advance together.
    """

    def __init__(self, start: float = 1_704_067_200.0) -> None:
        self._wall0 = start
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._wall0 + self._mono

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()  # dropped lazily from the heap

    # ---------------------------------------------------------------- driving

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        """The monotonic time of the earliest pending sleep, or None."""
        self._drop_done()
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed.

        Synchronous: the woken coroutines run the next time the loop gets
        control (``await clock.settle()``).
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._mono += seconds
        self._wake()

    async def settle(self, rounds: int = 50) -> None:
        """Yield to the event loop until work scheduled by wake-ups has run.

        Runs the loop for ``rounds`` iterations without letting any time pass;
        enough for chains of callbacks and task switches, not for real I/O.
        """
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def step(self, seconds: float) -> None:
        """``advance(seconds)`` then ``settle()``."""
        self.advance(seconds)
        await self.settle()

    async def run_for(self, seconds: float) -> None:
        """Let ``seconds`` pass, waking sleepers one deadline at a time.

        Unlike one big ``advance``, a task that sleeps in a loop sees each of
        its deadlines in turn, as it would in real time.
        """
        target = self._mono + seconds
        await self.settle()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self._mono = max(self._mono, deadline)
            self._wake()
            await self.settle()
        self._mono = target
        self._wake()
        await self.settle()

    async def run_until_idle(self, limit: float = 3600.0) -> None:
        """Advance from deadline to deadline until nobody sleeps (or ``limit`` seconds passed)."""
        end = self._mono + limit
        await self.settle()
        while (deadline := self.next_deadline()) is not None and deadline <= end:
            self._mono = max(self._mono, deadline)
            self._wake()
            await self.settle()

    async def wait_for_sleepers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait (in real time) until at least ``count`` sleeps are pending."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.sleepers < count:
            if loop.time() > end:
                raise TimeoutError(f"{self.sleepers} sleepers, wanted {count}")
            await asyncio.sleep(0.001)

    def _drop_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _wake(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


async def sleep_until_set(clock: Clock, event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until ``event`` is set or ``seconds`` of clock time pass (None: no limit).

    Returns True when the event was set. Works with any ``Clock``, so a
    fake-time test decides when the sleep ends.
    """
    if event.is_set():
        return True
    if seconds is None:
        await event.wait()
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, sleeper):
            if not task.done():
                task.cancel()
        await asyncio.gather(waiter, sleeper, return_exceptions=True)
    return event.is_set()
