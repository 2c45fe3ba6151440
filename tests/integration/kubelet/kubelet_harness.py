"""A node agent on the test's loop against the module's in-process API server.

The agent runs with the fake runtime, a fake pod network and images that are
always present, in fake time: ``await node.advance(10)`` lets ten seconds pass
for the agent (back-offs, probes, heartbeats) while the API server keeps real
time. Waiting for what the agent writes is ``await node.eventually(check)``,
which polls in real time and moves fake time a little on each round, so the
agent's periodic work (relists, resyncs) keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kubelite.api.errors import StatusError
from kubelite.client import Client, FakeClock, ResourceClient, lookup
from kubelite.kubelet.agent import FakeImages, NodeAgent
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.runtime.fake import FakeRuntime

T = TypeVar("T")

PODS = lookup("", "v1", "Pod")
NODES = lookup("", "v1", "Node")
EVENTS = lookup("", "v1", "Event")
LEASES = lookup("coordination.k8s.io", "v1", "Lease")
NAMESPACES = lookup("", "v1", "Namespace")
CONFIGMAPS = lookup("", "v1", "ConfigMap")
SECRETS = lookup("", "v1", "Secret")


class TickingClock(FakeClock):
    """Fake time whose wall clock moves a microsecond per reading (unique event names)."""

    def __init__(self) -> None:
        super().__init__()
        self._ticks = 0

    def now(self) -> float:
        self._ticks += 1
        return super().now() + self._ticks * 1e-6


@dataclass
class FakeNetwork:
    """Hands out 10.42.0.x addresses and records calls."""

    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _next: int = 2

    async def add(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str, *, sandbox_id: str = ""
    ) -> Any:
        self.added.append(pod_name)
        ip = f"10.42.0.{self._next}"
        self._next += 1

        class Status:
            pass

        st = Status()
        st.ip = ip  # type: ignore[attr-defined]
        st.ips = [ip]  # type: ignore[attr-defined]
        return st

    async def delete(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str = "", *, sandbox_id: str = ""
    ) -> None:
        self.deleted.append(pod_name)


@dataclass
class Node:
    client: Client
    clock: TickingClock
    runtime: FakeRuntime
    network: FakeNetwork
    agent: NodeAgent
    config: AgentConfig
    namespace: str
    pods: ResourceClient
    events: ResourceClient
    task: asyncio.Task[None] | None = None

    async def advance(self, seconds: float) -> None:
        await self.clock.run_for(seconds)
        await asyncio.sleep(0.01)

    async def eventually(
        self, check: Callable[[], Awaitable[T | None]], timeout: float = 15.0, step: float = 0.5
    ) -> T:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        last: Any = None
        while True:
            try:
                last = await check()
                if last:
                    return last
            except (AssertionError, StatusError, KeyError, IndexError, AttributeError, TypeError) as e:
                last = e
            if loop.time() > end:
                raise AssertionError(f"condition not met in {timeout}s; last: {last!r}")
            await self.clock.run_for(step)
            await asyncio.sleep(0.02)

    async def create_pod(self, spec: dict[str, Any], name: str, **meta: Any) -> Any:
        body = {"metadata": {"name": name, **meta}, "spec": {"nodeName": self.config.node_name, **spec}}
        return await self.pods.create(body, self.namespace)

    async def pod(self, name: str) -> Any:
        return await self.pods.get(name, self.namespace)

    async def event_reasons(self, name: str) -> list[str]:
        items, _ = await self.events.list_all(self.namespace, field_selector=f"involvedObject.name={name}")
        return [e.reason for e in items]

    async def events_of(self, name: str) -> list[Any]:
        items, _ = await self.events.list_all(self.namespace, field_selector=f"involvedObject.name={name}")
        return items

    async def start(self) -> None:
        self.task = asyncio.create_task(self.agent.run())
        await self.eventually(self._ready)

    async def _ready(self) -> bool:
        if self.task is not None and self.task.done():
            self.task.result()
        return self.agent.ready.is_set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


def make_agent(
    client: Client,
    clock: TickingClock,
    runtime: FakeRuntime,
    network: FakeNetwork,
    data_dir: Path,
    node_name: str,
) -> NodeAgent:
    config = AgentConfig(node_name=node_name, data_dir=data_dir, runtime="fake", relist_period=1.0)
    return NodeAgent(
        client, config, runtime=runtime, images=FakeImages(), network=network, clock=clock, ipam_wait=0
    )
