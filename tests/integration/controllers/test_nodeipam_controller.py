"""Node IPAM against the in-process API server: nodes get distinct podCIDRs from the cluster
CIDR, podCIDRs nodes already have are kept and never handed out again (bad ones get an event
and are left alone), a deleted node's range goes back to the pool, and a full range gives the
node a CIDRNotAvailable event until a range frees up."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from controller_harness import ControllerCluster, start_controllers

from kubelite.api.errors import StatusError
from kubelite.client import Client, EventRecorder, FakeClock, SharedInformerFactory, lookup
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.nodeipam import NodeIPAMController

CONTROLLERS = "nodeipam"

NODE = lookup("", "v1", "Node")
EVENT = lookup("", "v1", "Event")
CLUSTER_CIDR = ipaddress.IPv4Network("10.42.0.0/16")


@pytest.fixture
async def client(api_server: Any) -> AsyncIterator[Client]:
    """A client of the test's own; every node is deleted when the test ends (nodes are
    cluster-wide, and the next test's allocator would take their ranges as used)."""
    async with Client(api_server.url, component="nodeipam-test") as c:
        yield c
        nodes = c.resource(NODE, raw=True)
        for node in (await nodes.list())[0]:
            with contextlib.suppress(StatusError):
                await nodes.delete(node["metadata"]["name"])


async def make_node(client: Client, name: str, *cidrs: str, pod_cidr: str | None = None) -> Any:
    spec: dict[str, Any] = {}
    if cidrs:
        spec = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)}
    if pod_cidr is not None:
        spec = {"podCIDR": pod_cidr}
    return await client.resource(NODE).create({"metadata": {"name": name}, "spec": spec})


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    """``await check()`` until it stops raising AssertionError (real time, generous limit)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.02)


async def pod_cidr_of(client: Client, name: str) -> str:
    """The node's podCIDR once it has one (asserting podCIDRs agrees)."""

    async def check() -> str:
        node = await client.resource(NODE).get(name)
        assert node.spec.podCIDR, f"node {name} has no podCIDR yet"
        assert node.spec.podCIDRs == [node.spec.podCIDR]
        return str(node.spec.podCIDR)

    result: str = await eventually(check)
    return result


async def node_events(client: Client, name: str, reason: str = "") -> list[Any]:
    items, _, _ = await client.resource(EVENT).list("default")
    return [
        e
        for e in items
        if e.involvedObject.kind == "Node"
        and e.involvedObject.name == name
        and (not reason or e.reason == reason)
    ]


async def event_of(client: Client, name: str, reason: str) -> Any:
    async def check() -> Any:
        events = await node_events(client, name, reason)
        assert events, f"no {reason} event on node {name}"
        return events[0]

    return await eventually(check)


async def test_nodes_get_distinct_24s_of_the_cluster_cidr(cluster: ControllerCluster, client: Client) -> None:
    for name in ("n-1", "n-2", "n-3"):
        await make_node(client, name)
    cidrs = [await pod_cidr_of(client, name) for name in ("n-1", "n-2", "n-3")]
    assert len(set(cidrs)) == 3
    for cidr in cidrs:
        net = ipaddress.IPv4Network(cidr)
        assert net.prefixlen == 24 and net.subnet_of(CLUSTER_CIDR)
    assert sorted(cidrs) == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]


async def test_a_node_that_has_a_pod_cidr_keeps_it_and_its_range_is_not_reused(
    cluster: ControllerCluster, client: Client
) -> None:
    await make_node(client, "own-1", "10.42.1.0/24")
    await eventually(lambda: _assert_held(cluster, "own-1"))
    for name in ("new-1", "new-2", "new-3"):
        await make_node(client, name)
    cidrs = {await pod_cidr_of(client, name) for name in ("new-1", "new-2", "new-3")}
    assert cidrs == {"10.42.0.0/24", "10.42.2.0/24", "10.42.3.0/24"}
    own = await client.resource(NODE).get("own-1")
    assert own.spec.podCIDR == "10.42.1.0/24" and own.spec.podCIDRs == ["10.42.1.0/24"]
    assert await node_events(client, "own-1") == []


async def _assert_held(cluster: ControllerCluster, name: str) -> None:
    assert name in cluster.controller("nodeipam").held


async def test_pod_cidrs_nodes_had_before_the_start_are_taken_first(api_server: Any, client: Client) -> None:
    # Registered before any IPAM ran: one with both fields, one with only podCIDR (as an old
    # client writes it), and a younger one claiming a range an older node has.
    await make_node(client, "early-a", "10.42.0.0/24")
    await make_node(client, "early-b", pod_cidr="10.42.2.0/24")
    await make_node(client, "early-c", "10.42.0.0/24")
    await make_node(client, "early-d", "192.168.7.0/24")
    # (A malformed podCIDR never gets this far: the API server refuses it, as Kubernetes does.)
    async with start_controllers(api_server.url, "c-nodeipam-start", CONTROLLERS) as cluster:
        for name in ("late-1", "late-2"):
            await make_node(client, name)
        assert {await pod_cidr_of(client, "late-1"), await pod_cidr_of(client, "late-2")} == {
            "10.42.1.0/24",
            "10.42.3.0/24",
        }
        conflict = await event_of(client, "early-c", "PodCIDRConflict")
        assert conflict.type == "Warning"
        assert "10.42.0.0/24" in conflict.message and "early-a" in conflict.message
        out_of_range = await event_of(client, "early-d", "PodCIDROutOfRange")
        assert out_of_range.type == "Warning" and "10.42.0.0/16" in out_of_range.message
        # Left alone: what they had, they still have.
        nodes = client.resource(NODE)
        assert (await nodes.get("early-c")).spec.podCIDRs == ["10.42.0.0/24"]
        assert (await nodes.get("early-d")).spec.podCIDRs == ["192.168.7.0/24"]
        assert (await nodes.get("early-b")).spec.podCIDR == "10.42.2.0/24"
        assert await node_events(client, "early-a") == [] and await node_events(client, "early-b") == []
        # Once the older claimant is gone, the younger one's range is its own.
        assert "early-c" not in cluster.controller("nodeipam").held
        await client.resource(NODE).delete("early-a")
        await eventually(lambda: _assert_held(cluster, "early-c"))
        assert len(await node_events(client, "early-c", "PodCIDRConflict")) == 1


async def test_a_deleted_node_frees_its_range(cluster: ControllerCluster, client: Client) -> None:
    await make_node(client, "gone-1")
    await make_node(client, "stays-1")
    gone = await pod_cidr_of(client, "gone-1")
    await pod_cidr_of(client, "stays-1")
    ipam = cluster.controller("nodeipam")
    cidr_set = ipam.cidr_sets[0]
    assert cidr_set.is_used(gone) and cidr_set.used == 2
    await client.resource(NODE).delete("gone-1")

    async def freed() -> None:
        assert not cidr_set.is_used(gone) and cidr_set.used == 1
        assert "gone-1" not in ipam.held

    await eventually(freed)


# ------------------------------------------------- a small cluster CIDR of its own


@pytest.fixture
async def small_ipam(client: Client) -> AsyncIterator[NodeIPAMController]:
    """The controller alone, on a /23 cut into /24s: room for two nodes."""
    clock = FakeClock()
    informers = SharedInformerFactory(client, clock=clock)
    recorder = EventRecorder(client, "kube-controller-manager", clock=clock)
    ctx = ControllerContext(client, informers, recorder, clock)
    ctx.options["nodeipam"] = {"cluster-cidr": "10.99.0.0/23", "node-cidr-mask-size": 24}
    ipam = NodeIPAMController(ctx)

    async def run() -> None:
        async with asyncio.TaskGroup() as tg:
            informers.start(tg)
            tg.create_task(recorder.run())
            tg.create_task(ipam.run())

    task = asyncio.create_task(run())
    await asyncio.wait_for(informers.wait_for_cache_sync(), 10)
    yield ipam
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_full_range_gives_cidr_not_available_until_a_node_goes(
    small_ipam: NodeIPAMController, client: Client
) -> None:
    await make_node(client, "full-a")
    await make_node(client, "full-b")
    assert {await pod_cidr_of(client, "full-a"), await pod_cidr_of(client, "full-b")} == {
        "10.99.0.0/24",
        "10.99.1.0/24",
    }
    await make_node(client, "full-c")
    event = await event_of(client, "full-c", "CIDRNotAvailable")
    assert event.type == "Warning"
    assert event.message == "Node full-c status is now: CIDRNotAvailable"
    node = await client.resource(NODE).get("full-c")
    assert not node.spec.podCIDR and not node.spec.podCIDRs
    # NetworkUnavailable is not the allocator's to write (as in Kubernetes).
    assert not [c for c in node.status.conditions if c.type == "NetworkUnavailable"]

    freed = await pod_cidr_of(client, "full-a")
    await client.resource(NODE).delete("full-a")
    assert await pod_cidr_of(client, "full-c") == freed
