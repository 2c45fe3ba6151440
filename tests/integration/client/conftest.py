"""Fixtures for the client library's integration tests: an async ``Client``
on the test's loop, pointed at the module's in-process API server, and a
helper that makes namespaces."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from threaded_apiserver import start_server, stop_server

from kubelite.api.errors import StatusError
from kubelite.client.rest import Client, lookup

NAMESPACES = lookup("", "v1", "Namespace")


@pytest.fixture(params=[(False, 1), (True, 1), (True, 4)], ids=["aiohttp", "lean", "pipelined"])
async def client(api_server: Any, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    """A client with plain requests over aiohttp, one over the lean transport, and one that
    pipelines its lean requests (as the scheduler's writes do)."""
    lean, pipeline = request.param
    async with Client(api_server.url, component="test", lean_http=lean, lean_pipeline=pipeline) as c:
        yield c


@pytest.fixture
async def namespace(client: Client, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own, named after it."""
    name = "t-" + request.node.originalname.replace("_", "-").lower()[:50].strip("-")
    if request.node.name.endswith("[lean]"):
        name += "-lean"  # the same test with the lean-transport client
    elif request.node.name.endswith("[pipelined]"):
        name += "-pipelined"
    try:
        await client.resource(NAMESPACES).create({"metadata": {"name": name}})
    except StatusError as e:
        if e.code != 409:
            raise
    return name


@pytest.fixture(scope="module")
def tls_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An HTTPS API server with client-certificate auth, and the admin kubeconfig for it."""
    from kubelite.apiserver.auth.certs import pki_for, write_kubeconfig
    from kubelite.apiserver.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path_factory.mktemp("tls-apiserver"), port=0, tls=True)
    running, thread = start_server(config)
    yield write_kubeconfig(config.kubeconfig_path, running.url, pki_for(config))
    stop_server(running, thread)
