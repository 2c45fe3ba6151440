"""Fixtures of the controller tests; the harness itself is in controller_harness.py.

Helpers live in a uniquely named module because every test folder has a
``conftest`` module and only one of them can be imported under that name.
"""

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from controller_harness import cluster

from kubelite.client import Client, FakeClock, lookup

__all__ = ["client", "clock", "cluster", "namespace"]


@pytest.fixture
async def client(api_server: Any) -> AsyncIterator[Client]:
    """A client of the module's in-process API server."""
    async with Client(api_server.url, component="test") as c:
        yield c


@pytest.fixture
async def namespace(client: Client, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own, named after it."""
    name = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()[5:])[:50].strip("-")
    await client.resource(lookup("", "v1", "Namespace")).create({"metadata": {"name": name}})
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
