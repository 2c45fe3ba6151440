"""The kubelet's image garbage collection: unused images go when the image filesystem fills up.

Every ``IMAGE_GC_PERIOD`` (5 minutes, as the kubelet's), and at once when the node reports
DiskPressure, the usage of the filesystem holding the image store is compared with the
high threshold (85 %); above it, images no container of the node uses (running or exited:
their containers may restart), pulled more than ``MIN_AGE`` ago and not imported, go least
recently used first until usage is down to the low threshold (80 %). Freeing less than that
is reported as the kubelet does, with a FreeDiskSpaceFailed warning on the node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from kubelite.client import REAL_CLOCK, Clock
from kubelite.kubelet import runtime as rt

log = logging.getLogger(__name__)

IMAGE_GC_PERIOD = 300.0  # seconds
HIGH_THRESHOLD_PERCENT = 85
LOW_THRESHOLD_PERCENT = 80
MIN_AGE = 120.0  # seconds an image is kept at least after it arrived


class ImageStoreLike(Protocol):
    async def fs_stats(self) -> Any: ...
    async def gc(self, target_free_bytes: int, in_use: set[str], min_age: float = 0.0) -> Any: ...


class ImageGC:
    """Frees the image filesystem; ``node_event(type, reason, message)`` reports on the node."""

    def __init__(
        self,
        images: ImageStoreLike,
        runtime: rt.interface.Runtime,
        node_event: Callable[[str, str, str], None],
        *,
        clock: Clock = REAL_CLOCK,
        period: float = IMAGE_GC_PERIOD,
        disk_pressure: Callable[[], bool] = lambda: False,
    ) -> None:
        self.images = images
        self.runtime = runtime
        self.node_event = node_event
        self.clock = clock
        self.period = period
        self.disk_pressure = disk_pressure
        self.runs = 0
        self._reported_at: float | None = None  # when FreeDiskSpaceFailed was last reported

    async def run(self) -> None:
        """Collect every ``period``, and every 10 s while the node has DiskPressure."""
        waited = 0.0
        while True:
            await self.clock.sleep(10.0)
            waited += 10.0
            if waited < self.period and not self.disk_pressure():
                continue
            waited = 0.0
            try:
                await self.collect()
            except Exception as e:
                log.warning("image garbage collection failed: %s", e)
                self.node_event("Warning", "ImageGCFailed", str(e))

    async def collect(self) -> int:
        """One round; the bytes freed (0 when usage was below the high threshold)."""
        self.runs += 1
        fs = await self.images.fs_stats()
        capacity, available = int(fs.capacity_bytes), int(fs.available_bytes)
        if capacity <= 0:
            return 0
        usage_percent = 100 - available * 100 // capacity
        if usage_percent < HIGH_THRESHOLD_PERCENT:
            return 0
        to_free = capacity * (100 - LOW_THRESHOLD_PERCENT) // 100 - available
        if to_free <= 0:
            return 0
        in_use: set[str] = set()
        for c in await self.runtime.list_containers():
            in_use.update(x for x in (c.image, c.image_id) if x)
        result = await self.images.gc(to_free, in_use, MIN_AGE)
        freed = int(result.freed_bytes)
        log.info(
            "image filesystem %d%% used: freed %d bytes (%d images) of %d wanted",
            usage_percent,
            freed,
            len(result.removed),
            to_free,
        )
        now = self.clock.monotonic()
        if freed < to_free and (self._reported_at is None or now - self._reported_at >= self.period):
            self._reported_at = now  # once a period, not at every round under DiskPressure
            self.node_event(
                "Warning",
                "FreeDiskSpaceFailed",
                f"Failed to garbage collect required amount of images. Attempted to free {to_free} bytes, "
                f"but only found {freed} bytes eligible to free.",
            )
        return freed


__all__ = ["ImageGC"]
