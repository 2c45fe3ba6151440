"""Fixtures for the scheduler's integration tests: an async ``Client`` on the
test's loop pointed at the module's in-process API server, and a namespace
of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.rest import Client, lookup

NAMESPACES = lookup("", "v1", "Namespace")


@pytest.fixture
async def client(api_server: Any) -> AsyncIterator[Client]:
    async with Client(api_server.url, component="test") as c:
        yield c


@pytest.fixture
async def namespace(client: Client, request: pytest.FixtureRequest) -> str:
    name = "s-" + request.node.name.replace("_", "-").lower()[:50].strip("-")
    try:
        await client.resource(NAMESPACES).create({"metadata": {"name": name}})
    except StatusError as e:
        if e.code != 409:
            raise
    return name
