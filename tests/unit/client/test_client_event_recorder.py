"""The EventRecorder's writers without an API server: several writes in flight,
the writes of one Event in the order recorded, a full queue counted."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from kubelite.client.events import EventRecorder
from kubelite.client.rest import Client


class SlowServer:
    """Stands in for ``Client.request``: each write takes ``delay`` seconds."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, path: str, *, body: Any = None, **kw: Any) -> bytes:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        data = body if isinstance(body, dict) else orjson.loads(orjson.dumps(body, default=_struct))
        self.writes.append((method, path, data))
        return b"{}"


def _struct(obj: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(obj)


def pod(name: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "ns", "uid": name}}


async def run_recorder(recorder: EventRecorder, record: Any) -> None:
    runner = asyncio.create_task(recorder.run())
    try:
        record()
        await asyncio.wait_for(recorder.flush(), 10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_writes_overlap_and_each_event_is_written_once() -> None:
    client = Client("http://127.0.0.1:1")
    server = SlowServer()
    client.request = server.request  # type: ignore[method-assign]
    recorder = EventRecorder(client, "default-scheduler", concurrency=8)

    def record() -> None:
        for i in range(40):
            recorder.event(pod(f"p{i}"), "Normal", "Scheduled", f"Successfully assigned ns/p{i} to n{i}")

    await run_recorder(recorder, record)
    assert recorder.written == 40 and recorder.dropped == 0 and recorder.pending() == 0
    assert server.most_in_flight > 1
    creates = [w for w in server.writes if w[0] == "POST"]
    assert len(creates) == 40
    assert sorted(w[2]["involvedObject"]["name"] for w in creates) == sorted(f"p{i}" for i in range(40))
    assert all(w[1] == "/api/v1/namespaces/ns/events" for w in creates)


async def test_repeats_of_one_event_are_written_in_order() -> None:
    client = Client("http://127.0.0.1:1")
    server = SlowServer()
    client.request = server.request  # type: ignore[method-assign]
    recorder = EventRecorder(client, "test", concurrency=4)

    def record() -> None:
        for _ in range(4):
            recorder.event(pod("same"), "Warning", "FailedSync", "could not sync")
        recorder.event(pod("other"), "Normal", "Synced", "synced")

    await run_recorder(recorder, record)
    writes = [(m, d["count"]) for m, p, d in server.writes if "same" in p or d.get("reason") == "FailedSync"]
    assert writes == [("POST", 1), ("PATCH", 2), ("PATCH", 3), ("PATCH", 4)]
    assert recorder.written == 5


async def test_a_full_queue_drops_and_counts() -> None:
    client = Client("http://127.0.0.1:1")
    server = SlowServer()
    client.request = server.request  # type: ignore[method-assign]
    recorder = EventRecorder(client, "test", queue_size=5)
    for i in range(8):
        recorder.event(pod(f"p{i}"), "Normal", "Scheduled", "x")
    assert recorder.pending() == 5 and recorder.dropped == 3
    await run_recorder(recorder, lambda: None)
    assert recorder.written == 5 and recorder.pending() == 0
