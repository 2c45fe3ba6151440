"""ServerThread: an API server on a loop of its own thread, started, awaited and stopped from
another thread or loop, with its failures handed to whoever waits."""

from __future__ import annotations

import asyncio
import errno
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.serverthread import ServerThread


async def _finished(thread: ServerThread) -> None:
    await thread.finished()


def _raises_address_in_use(call: Callable[[], object]) -> bool:
    """Whether ``call`` raises the listener's OSError (alone, or in the server's task group)."""
    errors: list[int | None] = []
    try:
        call()
    except* OSError as group:
        errors += [e.errno for e in group.exceptions if isinstance(e, OSError)]
    return bool(errors) and all(code == errno.EADDRINUSE for code in errors)


def _config(tmp_path: Path, port: int = 0) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path, port=port, store="memory", tls=False, bind_address="127.0.0.1")


def test_serves_until_stopped(tmp_path: Path) -> None:
    thread = ServerThread(APIServer(_config(tmp_path)))
    assert thread.start(30)
    with urllib.request.urlopen(f"{thread.url}/healthz", timeout=10) as answer:
        assert answer.read() == b"ok"
    thread.stop()
    thread.join(15)
    assert not thread.thread.is_alive()
    assert not thread.serving
    thread.stop()  # once finished, a no-op


def test_awaited_from_another_loop(tmp_path: Path) -> None:
    async def main() -> bool:
        thread = ServerThread(APIServer(_config(tmp_path)))
        serving = await thread.started()
        asyncio.get_running_loop().call_later(0.1, thread.stop)
        await asyncio.wait_for(thread.finished(), 15)
        await thread.finished()  # after the end it returns at once
        return serving

    assert asyncio.run(main())


def test_a_failure_reaches_the_waiter(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        thread = ServerThread(APIServer(_config(tmp_path, port=taken.getsockname()[1])))
        assert not thread.start(30)
        assert _raises_address_in_use(lambda: thread.join(15))
        assert _raises_address_in_use(lambda: asyncio.run(_finished(thread)))
    finally:
        taken.close()
