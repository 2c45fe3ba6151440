"""ServerTask: an API server as a task of the caller's loop, started, awaited and stopped there,
with its failure raised to whoever waits."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import aiohttp
import pytest

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.servertask import ServerTask


def _config(tmp_path: Path, port: int = 0) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path, port=port, store="memory", tls=False, bind_address="127.0.0.1")


def test_serves_on_the_callers_loop_until_stopped(tmp_path: Path) -> None:
    async def main() -> None:
        server = ServerTask(APIServer(_config(tmp_path)))
        assert await server.started()
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/healthz") as answer:
            assert await answer.read() == b"ok"
        server.stop()
        await asyncio.wait_for(server.finished(), 15)
        await server.finished()  # after the end it returns at once
        server.stop()  # once finished, a no-op

    asyncio.run(main())


def test_a_failure_reaches_the_waiter(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()

    async def main() -> None:
        server = ServerTask(APIServer(_config(tmp_path, port=taken.getsockname()[1])))
        assert not await server.started()
        await server.finished()

    try:
        with pytest.raises((OSError, ExceptionGroup)) as caught:
            asyncio.run(main())
    finally:
        taken.close()
    found = caught.value.exceptions if isinstance(caught.value, ExceptionGroup) else [caught.value]
    assert found and all(isinstance(e, OSError) and e.errno == errno.EADDRINUSE for e in found)


def test_a_cancelled_waiter_leaves_the_server_running(tmp_path: Path) -> None:
    async def main() -> None:
        server = ServerTask(APIServer(_config(tmp_path)))
        assert await server.started()
        waiter = asyncio.create_task(server.finished())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert server.url
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/healthz") as answer:
            assert answer.status == 200
        server.stop()
        await asyncio.wait_for(server.finished(), 15)

    asyncio.run(main())
