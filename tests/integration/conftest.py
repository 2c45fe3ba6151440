"""An in-process API server for integration tests.

The server runs on its own event loop in a background thread, so tests can
drive it with synchronous clients (the official ``kubernetes`` client) or
with aiohttp. It serves plain HTTP on a free loopback port with a fresh
SQLite store per test module (or memory, where a test asks for it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig


@dataclass
class RunningServer:
    url: str
    server: APIServer
    loop: asyncio.AbstractEventLoop
    data_dir: Path

    def call(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        """Run a coroutine on the server's loop (e.g. to reach the store) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def start_server(data_dir: Path, store: str = "sqlite") -> tuple[RunningServer, threading.Thread]:
    config = ServerConfig(data_dir=data_dir, port=0, tls=False, store=store)
    server = APIServer(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(server.run(started))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        ready.set()
        await task

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as e:  # reported to the fixture
            failure.append(e)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="apiserver", daemon=True)
    thread.start()
    if not ready.wait(30) or failure or not server.url:
        raise RuntimeError(f"API server did not start: {failure}")
    return RunningServer(server.url, server, loop, data_dir), thread


def stop_server(running: RunningServer, thread: threading.Thread) -> None:
    running.loop.call_soon_threadsafe(running.server.stop)
    thread.join(15)


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running, thread = start_server(tmp_path_factory.mktemp("apiserver"))
    yield running
    stop_server(running, thread)


@pytest.fixture(scope="module")
def k8s(api_server: RunningServer):  # type: ignore[no-untyped-def]
    """An ``ApiClient`` of the official kubernetes client, pointed at the server."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = api_server.url
    with client.ApiClient(cfg) as api:
        yield api
