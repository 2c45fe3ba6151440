"""The ``node`` fixture: a node agent with the fake runtime in fake time (see kubelet_harness.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_harness import EVENTS, NAMESPACES, PODS, FakeNetwork, Node, TickingClock, make_agent

from kubelite.client import Client
from kubelite.kubelet.runtime.fake import FakeRuntime


@pytest.fixture
async def node(api_server: Any, tmp_path: Path) -> AsyncIterator[Node]:
    client = Client(api_server.url, component="kubelet-test")
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    await client.resource(NAMESPACES).create({"metadata": {"name": namespace}})
    clock = TickingClock()
    runtime = FakeRuntime(clock)
    network = FakeNetwork()
    node_name = f"node-{uuid.uuid4().hex[:6]}"
    agent = make_agent(client, clock, runtime, network, tmp_path / "data", node_name)
    n = Node(
        client,
        clock,
        runtime,
        network,
        agent,
        agent.config,
        namespace,
        client.resource(PODS),
        client.resource(EVENTS),
    )
    await n.start()
    try:
        yield n
    finally:
        await n.stop()
        await client.close()
