"""An API server on its own event loop in a background thread, for integration tests
(the ``api_server`` fixture, and tests that need one configured otherwise, e.g. with TLS)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

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


def start_server(config: ServerConfig) -> tuple[RunningServer, threading.Thread]:
    """Start a server of ``config`` (give port=0 for a free one); RuntimeError if it does not."""
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
    if not ready.wait(60) or failure or not server.url:
        raise RuntimeError(f"API server did not start: {failure}")
    return RunningServer(server.url, server, loop, config.data_dir), thread


def stop_server(running: RunningServer, thread: threading.Thread) -> None:
    running.loop.call_soon_threadsafe(running.server.stop)
    thread.join(15)
