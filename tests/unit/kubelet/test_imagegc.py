"""Image GC: when the image filesystem is over the high threshold, down to the low one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kubelite.kubelet.imagegc import MIN_AGE, ImageGC
from kubelite.kubelet.runtime.fake import FakeRuntime
from kubelite.kubelet.runtime.interface import ContainerConfig, SandboxConfig


class Images:
    def __init__(self, capacity: int, available: int, frees: int) -> None:
        self.fs = SimpleNamespace(capacity_bytes=capacity, available_bytes=available)
        self.frees = frees
        self.calls: list[tuple[int, set[str], float]] = []

    async def fs_stats(self) -> Any:
        return self.fs

    async def gc(self, target_free_bytes: int, in_use: set[str], min_age: float = 0.0) -> Any:
        self.calls.append((target_free_bytes, in_use, min_age))
        return SimpleNamespace(freed_bytes=self.frees, removed=["sha256:old"])


async def runtime_with_a_container() -> FakeRuntime:
    rt = FakeRuntime()
    sb = await rt.run_sandbox(SandboxConfig(pod_uid="u", pod_name="p", namespace="default", hostname="p"))
    config = ContainerConfig(
        name="c", image="docker.io/library/app:1", image_id="sha256:app", rootfs_layers=[], command=["sh"]
    )
    await rt.create_container(sb, config)  # created, not even started: its image is in use
    return rt


async def test_over_the_high_threshold_frees_down_to_the_low_one() -> None:
    events: list[tuple[str, str, str]] = []
    images = Images(capacity=1000, available=100, frees=200)  # 90 % used
    gc = ImageGC(images, await runtime_with_a_container(), lambda *e: events.append(e))
    assert await gc.collect() == 200
    [(target, in_use, min_age)] = images.calls
    assert target == 100  # 80 % of 1000 used means 200 available: 100 more
    assert in_use == {"docker.io/library/app:1", "sha256:app"} and min_age == MIN_AGE
    assert events == []


async def test_below_the_high_threshold_nothing_goes() -> None:
    images = Images(capacity=1000, available=200, frees=0)  # 80 % used
    gc = ImageGC(images, FakeRuntime(), lambda *e: None)
    assert await gc.collect() == 0 and images.calls == []


async def test_not_enough_to_free_is_reported_on_the_node() -> None:
    events: list[tuple[str, str, str]] = []
    gc = ImageGC(Images(capacity=1000, available=50, frees=30), FakeRuntime(), lambda *e: events.append(e))
    await gc.collect()
    await gc.collect()  # again (every 10 s under DiskPressure): reported once a period, not each time
    assert events == [
        (
            "Warning",
            "FreeDiskSpaceFailed",
            "Failed to garbage collect required amount of images. Attempted to free 150 bytes, "
            "but only found 30 bytes eligible to free.",
        )
    ]


async def test_runs_every_period_and_at_once_under_disk_pressure() -> None:
    import asyncio
    import contextlib

    from kubelite.client import FakeClock

    clock = FakeClock()
    pressure = {"disk": False}
    gc = ImageGC(
        Images(1000, 900, 0),
        FakeRuntime(),
        lambda *e: None,
        clock=clock,
        disk_pressure=lambda: pressure["disk"],
    )
    task = asyncio.create_task(gc.run())
    try:
        await clock.run_for(290)
        assert gc.runs == 0
        await clock.run_for(20)
        assert gc.runs == 1  # the 5 minute round
        pressure["disk"] = True
        await clock.run_for(20)
        assert gc.runs == 3  # every 10 s while the node has DiskPressure
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
