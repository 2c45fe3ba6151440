"""An in-process API server for integration tests.

The server runs on its own event loop in a background thread, so tests can
drive it with synchronous clients (the official ``kubernetes`` client) or
with aiohttp. It serves plain HTTP on a free loopback port with a fresh
SQLite store per test module (or memory, where a test asks for it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threaded_apiserver import RunningServer, start_server, stop_server

from kubelite.apiserver.config import ServerConfig


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("apiserver"), port=0, tls=False)
    running, thread = start_server(config)
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
