"""The controllers' work queue: de-duplicating, delaying, rate limited.

Semantics follow client-go's workqueue, which every controller relies on:

- an item is in the queue at most once: adding one that is already waiting
  does nothing;
- an item is processed by at most one worker at a time: adding one that is
  being processed marks it dirty, and ``done(item)`` puts it back;
- ``add_after(item, seconds)`` adds it once the clock has moved that far;
- ``add_rate_limited(item)`` adds it after the rate limiter's delay: a
  per-item exponential back-off (failures double it) combined with an
  overall token bucket, the larger of the two winning; ``forget(item)``
  resets the item's back-off once a sync succeeded.

Items must be hashable (controllers use ``namespace/name`` strings). No
background task: ``get()`` itself moves due delayed items into the queue,
so the queue works with any ``Clock``, including ``FakeClock``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from kubelite.client.clock import REAL_CLOCK, Clock, sleep_until_set

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """``get()`` on a queue that is shut down and drained."""


class RateLimiter(Protocol):
    """Decides how long an item waits before it is retried."""

    def when(self, item: Hashable) -> float:
        """The delay in seconds for this retry of ``item`` (records the retry)."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item`` (its next ``when`` starts from scratch)."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many times ``when`` was asked for ``item`` since it was last forgotten."""
        ...


class ItemExponentialRateLimiter:
    """``base * 2**failures`` seconds per item, capped at ``max_delay``."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures > 62:  # 2**63 overflows any sensible delay
            return self.max_delay
        return min(self.base * (2**failures), self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketRateLimiter:
    """An overall limit of ``qps`` with bursts of ``burst``, shared by all items.

    Each ``when`` reserves a token; when none is left the delay is how long
    until one will be. Reservations are never given back (as client-go's
    bucket limiter), so a storm of retries spreads out at ``qps``.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = REAL_CLOCK) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def when(self, item: Hashable) -> float:
        now = self.clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters; requeues counted by the most pessimistic."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    clock: Clock = REAL_CLOCK,
    base: float = 0.005,
    max_delay: float = 1000.0,
    qps: float = 10.0,
    burst: int = 100,
) -> MaxOfRateLimiter:
    """Per-item 5 ms doubling to 1000 s, and 10 qps with a burst of 100 overall."""
    return MaxOfRateLimiter(
        ItemExponentialRateLimiter(base, max_delay), TokenBucketRateLimiter(qps, burst, clock)
    )


class WorkQueue(Generic[T]):
    """A rate-limited, de-duplicating, delaying queue of work items.

    ``get()`` hands an item to one worker, which must call ``done(item)``
    when it has finished with it (successfully or not). ``shutdown()`` stops
    new adds; waiting ``get()`` calls drain what is queued and then raise
    ``ShutDown``. Delayed items not yet due are dropped at shutdown.
    """

    def __init__(
        self, name: str = "", clock: Clock = REAL_CLOCK, rate_limiter: RateLimiter | None = None
    ) -> None:
        self.name = name
        self.clock = clock
        self.rate_limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiting: list[tuple[float, int, T]] = []  # (due monotonic time, seq, item)
        self._waiting_due: dict[T, float] = {}
        self._seq = itertools.count()
        self._shutting_down = False
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        """Items ready to be handed out (not counting delayed or in-process ones)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def _notify(self) -> None:
        # Wake every waiter, then arm a fresh event for the next change.
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------- adds

    def add(self, item: T) -> None:
        """Queue ``item`` unless it is already queued; if in process, requeue it after ``done``."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._notify()

    def add_after(self, item: T, seconds: float) -> None:
        """``add(item)`` once ``seconds`` have passed on the clock (at once if <= 0).

        If the item is already waiting, the earlier due time wins.
        """
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(item)
            return
        due = self.clock.monotonic() + seconds
        current = self._waiting_due.get(item)
        if current is not None and current <= due:
            return
        self._waiting_due[item] = due
        heapq.heappush(self._waiting, (due, next(self._seq), item))
        self._notify()

    def add_rate_limited(self, item: T) -> None:
        """``add_after(item, rate_limiter.when(item))``: retry with back-off."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset ``item``'s back-off (call after a successful sync). It stays queued if queued."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """Rate-limited adds of ``item`` since it was last forgotten."""
        return self.rate_limiter.num_requeues(item)

    # ---------------------------------------------------------------- workers

    def _move_due(self) -> float | None:
        """Add waiting items whose time has come; the seconds until the next one (None if none)."""
        now = self.clock.monotonic()
        while self._waiting:
            due, _, item = self._waiting[0]
            if self._waiting_due.get(item) != due:  # superseded by an earlier add_after
                heapq.heappop(self._waiting)
                continue
            if due > now:
                return due - now
            heapq.heappop(self._waiting)
            del self._waiting_due[item]
            self.add(item)
        return None

    async def get(self) -> T:
        """The next item, waiting as long as needed. Raises ``ShutDown`` once shut down and drained.

        Cancel-safe: a cancelled ``get`` takes nothing from the queue.
        """
        while True:
            wait = self._move_due()
            if self._queue:
                item = self._queue.popleft()
                self._processing.add(item)
                self._dirty.discard(item)
                return item
            if self._shutting_down:
                raise ShutDown(self.name)
            await sleep_until_set(self.clock, self._changed, wait)

    def done(self, item: T) -> None:
        """The worker has finished with ``item``; requeue it if it was added meanwhile."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._notify()

    def shutdown(self) -> None:
        """Refuse new items and wake every ``get()``; queued items are still handed out."""
        self._shutting_down = True
        self._waiting.clear()
        self._waiting_due.clear()
        self._notify()
