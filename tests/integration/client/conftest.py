"""Fixtures for the client library's integration tests: an async ``Client``
on the test's loop, pointed at the module's in-process API server, and a
helper that makes namespaces."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.rest import Client, lookup

NAMESPACES = lookup("", "v1", "Namespace")


@pytest.fixture(params=[False, True], ids=["aiohttp", "lean"])
async def client(api_server: Any, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    """A client with plain requests over aiohttp, and one over the lean transport."""
    async with Client(api_server.url, component="test", lean_http=request.param) as c:
        yield c


@pytest.fixture
async def namespace(client: Client, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own, named after it."""
    name = "t-" + request.node.originalname.replace("_", "-").lower()[:50].strip("-")
    if request.node.name.endswith("[lean]"):
        name += "-lean"  # the same test with the lean-transport client
    try:
        await client.resource(NAMESPACES).create({"metadata": {"name": name}})
    except StatusError as e:
        if e.code != 409:
            raise
    return name


@pytest.fixture(scope="module")
def tls_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An HTTPS API server with client-certificate auth, and the admin kubeconfig for it."""
    from kubelite.apiserver.app import APIServer
    from kubelite.apiserver.auth.certs import pki_for, write_kubeconfig
    from kubelite.apiserver.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path_factory.mktemp("tls-apiserver"), port=0, tls=True)
    server = APIServer(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

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
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=target, name="tls-apiserver", daemon=True)
    thread.start()
    assert ready.wait(60) and server.url, "TLS API server did not start"
    path = write_kubeconfig(config.kubeconfig_path, server.url, pki_for(config))
    yield path
    loop.call_soon_threadsafe(server.stop)
    thread.join(15)
