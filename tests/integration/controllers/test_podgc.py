"""Pod GC against the in-process API server (fake time): terminated pods over
a small threshold go, evicted and oldest first; pods on a node that is gone go
after the quarantine (marked Failed with DisruptionTarget first); terminating
pods on an out-of-service node and unscheduled terminating pods are forced."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubelite.client import Client, EventRecorder, FakeClock, SharedInformerFactory, lookup
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.podgc import PodGCController

NS = lookup("", "v1", "Namespace")
POD = lookup("", "v1", "Pod")
NODE = lookup("", "v1", "Node")


@pytest.fixture
async def namespace(client: Client, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = "pgc-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()[5:])[:50].strip("-")
    await client.resource(NS).create({"metadata": {"name": name}})
    yield name
    # Pods are cluster-wide input to the GC: leave none behind for the next test.
    pods = client.resource(POD, raw=True)
    for pod in (await pods.list(name))[0]:
        if pod["metadata"].get("finalizers"):
            await pods.patch(pod["metadata"]["name"], {"metadata": {"finalizers": None}}, "merge", name)
    await pods.delete_collection(name, grace_period_seconds=0)


@pytest.fixture
async def podgc(client: Client, clock: FakeClock) -> AsyncIterator[PodGCController]:
    informers = SharedInformerFactory(client, clock=clock)
    ctx = ControllerContext(client, informers, EventRecorder(client, "test"), clock)
    ctx.options["podgc"] = {"terminated-pod-gc-threshold": 3}
    gc = PodGCController(ctx)
    task = asyncio.create_task(run(informers, gc))
    await asyncio.wait_for(informers.wait_for_cache_sync(), 10)
    yield gc
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def run(informers: SharedInformerFactory, gc: PodGCController) -> None:
    async with asyncio.TaskGroup() as tg:
        informers.start(tg)
        tg.create_task(gc.run())


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check() if asyncio.iscoroutinefunction(check) else check()
        if result:
            return result
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.02)


async def gc_pass(gc: PodGCController, clock: FakeClock, seconds: float = 20.0) -> None:
    """Let ``seconds`` of fake time pass and wait (for real) for the pass that wakes."""
    done = gc.passes
    await clock.wait_for_sleepers(1)
    await clock.step(seconds)
    await eventually(lambda: gc.passes > done)


async def seen(gc: PodGCController, ns: str, names: list[str], check: Callable[[Any], bool] = bool) -> None:
    def cached() -> bool:
        return all((p := gc.pods.get_by(ns, n)) is not None and check(p) for n in names)

    await eventually(cached)


async def pod_names(client: Client, ns: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in (await client.resource(POD, raw=True).list(ns))[0])


async def make_pod(client: Client, ns: str, name: str, node: str = "", **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    pod: dict[str, Any] = await client.resource(POD, raw=True).create(
        {"metadata": {"name": name, "namespace": ns, **meta}, "spec": spec}
    )
    return pod


async def set_status(client: Client, ns: str, name: str, **status: Any) -> None:
    await client.resource(POD, raw=True).patch(name, {"status": status}, "merge", ns, subresource="status")


async def test_terminated_pods_over_the_threshold(
    client: Client, namespace: str, podgc: PodGCController, clock: FakeClock
) -> None:
    terminated = ["t-0", "t-1", "t-2", "t-3", "t-4"]
    for i, name in enumerate(terminated):
        await make_pod(client, namespace, name)
        await set_status(client, namespace, name, phase="Succeeded" if i % 2 else "Failed")
    await make_pod(client, namespace, "t-9-evicted")
    await set_status(client, namespace, "t-9-evicted", phase="Failed", reason="Evicted")
    for name in ("live-0", "live-1"):
        await make_pod(client, namespace, name)
    await seen(
        podgc, namespace, [*terminated, "t-9-evicted"], lambda p: p.status.phase in ("Succeeded", "Failed")
    )
    await seen(podgc, namespace, ["live-0", "live-1"])

    await gc_pass(podgc, clock)
    # 6 terminated, threshold 3: the evicted one goes first, then the oldest (ties by name).
    assert await pod_names(client, namespace) == ["live-0", "live-1", "t-2", "t-3", "t-4"]
    await gc_pass(podgc, clock)
    assert await pod_names(client, namespace) == ["live-0", "live-1", "t-2", "t-3", "t-4"]


async def test_pods_on_a_missing_node_after_the_quarantine(
    client: Client, namespace: str, podgc: PodGCController, clock: FakeClock
) -> None:
    nodes = client.resource(NODE, raw=True)
    await nodes.create({"metadata": {"name": "pgc-present"}})
    await nodes.create({"metadata": {"name": "pgc-leaving"}})
    await make_pod(client, namespace, "on-present", node="pgc-present")
    await make_pod(client, namespace, "on-leaving", node="pgc-leaving")
    await make_pod(client, namespace, "on-ghost", node="pgc-ghost")
    # A finalizer keeps one around after deletion, so its last status can be read.
    await make_pod(client, namespace, "on-ghost-held", node="pgc-ghost", finalizers=["example.com/hold"])
    await set_status(client, namespace, "on-ghost-held", phase="Running")
    await seen(podgc, namespace, ["on-present", "on-leaving", "on-ghost"])
    await seen(podgc, namespace, ["on-ghost-held"], lambda p: p.status.phase == "Running")

    # The pass at t=0 ran before these pods existed.
    await gc_pass(podgc, clock)  # t=20: pgc-ghost is missing; quarantined
    assert await pod_names(client, namespace) == ["on-ghost", "on-ghost-held", "on-leaving", "on-present"]
    await nodes.delete("pgc-leaving")
    await eventually(lambda: podgc.nodes.get("pgc-leaving") is None)
    await gc_pass(podgc, clock)  # t=40: pgc-ghost missing for 20s, pgc-leaving just now
    assert await pod_names(client, namespace) == ["on-ghost", "on-ghost-held", "on-leaving", "on-present"]
    await gc_pass(podgc, clock)  # t=60: pgc-ghost missing for 40s: a GET confirms it is gone
    assert await pod_names(client, namespace) == ["on-ghost-held", "on-leaving", "on-present"]
    held = await client.resource(POD, raw=True).get("on-ghost-held", namespace)
    assert held["metadata"]["deletionTimestamp"]
    assert held["status"]["phase"] == "Failed"
    cond = [c for c in held["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"], c["message"]) for c in cond] == [
        ("True", "DeletionByPodGC", "PodGC: node no longer exists")
    ]
    await gc_pass(podgc, clock)  # t=80: pgc-leaving gone for 40s
    assert await pod_names(client, namespace) == ["on-ghost-held", "on-present"]
    await nodes.delete("pgc-present")


async def test_node_back_in_time_keeps_its_pods(
    client: Client, namespace: str, podgc: PodGCController, clock: FakeClock
) -> None:
    await make_pod(client, namespace, "early", node="pgc-late")
    await seen(podgc, namespace, ["early"])
    await gc_pass(podgc, clock)
    await client.resource(NODE, raw=True).create({"metadata": {"name": "pgc-late"}})  # registers late
    await gc_pass(podgc, clock)
    await gc_pass(podgc, clock)
    assert await pod_names(client, namespace) == ["early"]
    await client.resource(NODE, raw=True).delete("pgc-late")


async def test_terminating_pods_out_of_service_and_unscheduled(
    client: Client, namespace: str, podgc: PodGCController, clock: FakeClock
) -> None:
    nodes = client.resource(NODE, raw=True)
    for name, taints in (
        ("pgc-oos", [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]),
        ("pgc-ok", []),
    ):
        await nodes.create({"metadata": {"name": name}, "spec": {"taints": taints}})
    await nodes.patch(
        "pgc-oos",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        "merge",
        subresource="status",
    )
    pods = client.resource(POD, raw=True)
    await make_pod(client, namespace, "stuck", node="pgc-oos")
    await make_pod(client, namespace, "graceful", node="pgc-ok")
    await make_pod(client, namespace, "unscheduled", finalizers=["example.com/hold"])
    for name in ("stuck", "graceful", "unscheduled"):
        await pods.delete(name, namespace)  # graceful on a node: marked, not removed
    await seen(
        podgc, namespace, ["stuck", "graceful", "unscheduled"], lambda p: bool(p.metadata.deletionTimestamp)
    )
    await eventually(lambda: podgc.nodes.get("pgc-oos") is not None and podgc.nodes.get("pgc-ok") is not None)

    await gc_pass(podgc, clock)
    assert await pod_names(client, namespace) == [
        "graceful",
        "unscheduled",
    ]  # the kubelet of pgc-ok finishes its own
    unscheduled = await pods.get("unscheduled", namespace)
    assert unscheduled["status"]["phase"] == "Failed"  # forced; its finalizer still holds it
    for name in ("pgc-oos", "pgc-ok"):
        await nodes.delete(name)


async def test_threshold_zero_switches_terminated_gc_off(
    client: Client, namespace: str, clock: FakeClock
) -> None:
    informers = SharedInformerFactory(client, clock=clock)
    ctx = ControllerContext(client, informers, EventRecorder(client, "test"), clock)
    ctx.options["terminated-pod-gc-threshold"] = 0
    gc = PodGCController(ctx)
    assert gc.threshold == 0
    task = asyncio.create_task(run(informers, gc))
    try:
        await make_pod(client, namespace, "done")
        await set_status(client, namespace, "done", phase="Succeeded")
        await asyncio.wait_for(informers.wait_for_cache_sync(), 10)
        await seen(gc, namespace, ["done"], lambda p: p.status.phase == "Succeeded")
        await gc_pass(gc, clock)
        assert await pod_names(client, namespace) == ["done"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
