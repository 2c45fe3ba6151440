"""Informer timing in fake time: list failures back off, resync re-delivers."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.clock import FakeClock
from kubelite.client.informer import Informer
from kubelite.client.rest import lookup


class _QuietStream:
    """A watch that never delivers anything until closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    def __aiter__(self) -> _QuietStream:
        return self

    async def __anext__(self) -> Any:
        await self.closed.wait()
        raise StopAsyncIteration

    def close(self) -> None:
        self.closed.set()

    async def aclose(self) -> None:
        self.closed.set()


class FakeResource:
    res = lookup("", "v1", "ConfigMap")

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.lists = 0

    async def list_all(self, *args: Any, **kw: Any) -> Any:
        self.lists += 1
        if self.lists <= self.failures:
            raise StatusError(500, "InternalError", "store unavailable")
        return [{"metadata": {"name": "a", "namespace": "ns", "resourceVersion": "1"}}], "1"

    def watch(self, *args: Any, **kw: Any) -> Any:
        return _QuietStream()


async def test_list_failures_back_off_in_fake_time() -> None:
    clock = FakeClock()
    fake = FakeResource(failures=2)
    informer = Informer(fake, clock=clock, backoff_initial=1.0)  # type: ignore[arg-type]
    task = asyncio.create_task(informer.run())
    try:
        await clock.settle()
        assert fake.lists == 1 and not informer.has_synced
        await clock.step(0.5)
        assert fake.lists == 1  # still backing off
        await clock.run_for(1.5)  # first back-off is 1-1.2 s
        assert fake.lists == 2
        await clock.run_for(2.5)  # the second doubles
        assert fake.lists == 3 and informer.has_synced
        assert [o["metadata"]["name"] for o in informer.list()] == ["a"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_resync_redelivers_cached_objects() -> None:
    clock = FakeClock()
    informer = Informer(FakeResource(failures=0), resync_period=30, clock=clock)  # type: ignore[arg-type]
    updates: list[str] = []
    informer.add_handler(on_update=lambda old, new: updates.append(new["metadata"]["name"]))
    task = asyncio.create_task(informer.run())
    try:
        await clock.settle()
        assert informer.has_synced and updates == []
        await clock.run_for(29)
        assert updates == []
        await clock.run_for(1)
        assert updates == ["a"]
        await clock.run_for(60)
        assert updates == ["a", "a", "a"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
