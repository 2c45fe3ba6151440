"""The watch fan-out every in-process backend shares.

A backend publishes each batch of committed events to its ``WatchHub``;
every ``watch()`` holds a ``Subscription`` (a bounded buffer for one key
prefix) and runs ``follow``, which stitches the replay of the log to the
live events without a gap or a repeat. The memory store publishes from its
write path; the sqlite writer thread hands events over with
``loop.call_soon_threadsafe``, so everything here runs on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence

from .interface import WatchEvent, WatchOverflowError

log = logging.getLogger(__name__)

DEFAULT_WATCH_QUEUE = 10_000  # events buffered per watcher before it is cut off


class Subscription:
    """One live watcher's bounded buffer of events. Loop-thread only."""

    __slots__ = ("_closed", "_limit", "_overflowed", "_queue", "_wakeup", "prefix")

    def __init__(self, prefix: str, limit: int) -> None:
        self.prefix = prefix
        self._limit = limit
        self._queue: deque[WatchEvent] = deque()
        self._wakeup = asyncio.Event()
        self._overflowed = False
        self._closed = False

    def _push(self, event: WatchEvent) -> bool:
        """Buffer one event; False (and the subscription is dead) on overflow."""
        if len(self._queue) >= self._limit:
            self._overflowed = True
            self._queue.clear()
            self._wakeup.set()
            return False
        self._queue.append(event)
        self._wakeup.set()
        return True

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def get(self) -> WatchEvent | None:
        """The next event; None once the hub is closed.

        Raises WatchOverflowError if the buffer overflowed.
        """
        while True:
            if self._overflowed:
                raise WatchOverflowError(self.prefix, self._limit)
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()


class WatchHub:
    """In-process fan-out of committed events to prefix subscriptions.

    All methods run on the event loop thread. ``publish`` never blocks: a
    subscriber whose buffer is full is cut off (WatchOverflowError on its
    next ``get``) instead of slowing anyone else down.
    """

    def __init__(self, max_queue: int = DEFAULT_WATCH_QUEUE) -> None:
        self._max_queue = max_queue
        self._subs: set[Subscription] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self, prefix: str) -> Subscription:
        sub = Subscription(prefix, self._max_queue)
        if self._closed:
            sub._close()
        else:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Hand ``events`` (in revision order) to every matching subscriber."""
        if not events or not self._subs:
            return
        dead = []
        for sub in self._subs:
            prefix = sub.prefix
            for event in events:
                if event.key.startswith(prefix) and not sub._push(event):
                    dead.append(sub)
                    log.warning("watch on %r overflowed; ending it", prefix)
                    break
        for sub in dead:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every subscription quietly; later subscriptions end at once."""
        self._closed = True
        for sub in self._subs:
            sub._close()
        self._subs.clear()


async def follow(
    hub: WatchHub,
    prefix: str,
    revision: int,
    replay: Callable[[Subscription], AsyncIterator[WatchEvent]],
) -> AsyncIterator[WatchEvent]:
    """The watch algorithm shared by backends: subscribe to live events
    first, then replay the log after ``revision``, then follow the live
    events, skipping those the replay already delivered. ``replay`` checks
    the compaction point itself (so the error comes on first iteration)."""
    sub = hub.subscribe(prefix)
    try:
        last = revision
        async for event in replay(sub):
            last = event.revision
            yield event
        while True:
            live = await sub.get()
            if live is None:
                return
            if live.revision <= last:
                continue
            last = live.revision
            yield live
    finally:
        hub.unsubscribe(sub)
