"""The scheduler against the in-process API server: pods land where their
constraints allow, an unschedulable pod says why and is scheduled once a
node that fits appears."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.rest import Client, lookup
from kubelite.scheduler.scheduler import Scheduler

PODS = lookup("", "v1", "Pod")
NODES = lookup("", "v1", "Node")
EVENTS = lookup("", "v1", "Event")


def node(
    name: str, cpu: str = "4", memory: str = "8Gi", labels: dict | None = None, taints: list | None = None
) -> dict:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
        },
    }


def pod(name: str, cpu: str = "100m", **spec: Any) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}],
            **spec,
        },
    }


@pytest.fixture
async def scheduler(client: Client) -> AsyncIterator[Scheduler]:
    sched = Scheduler(client, leader_elect=False)
    task = asyncio.create_task(sched.run())
    await asyncio.wait_for(sched.started.wait(), 10)
    yield sched
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _create_node(client: Client, body: dict) -> None:
    nodes = client.resource(NODES)
    created = await nodes.create(body)
    # The status of a created Node is kept, but write it through the status subresource too.
    created.status = (await nodes.get(body["metadata"]["name"])).status
    if not created.status.allocatable:
        fresh = await nodes.get(body["metadata"]["name"])
        await client.request(
            "PATCH",
            nodes.path(None, body["metadata"]["name"], "status"),
            body={"status": body["status"]},
            content_type="application/merge-patch+json",
        )
        del fresh


async def _wait_for(fn: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _node_of(client: Client, ns: str, name: str) -> str:
    return (await client.resource(PODS).get(name, ns)).spec.nodeName


async def test_pods_land_where_constraints_allow(
    client: Client, namespace: str, scheduler: Scheduler
) -> None:
    await _create_node(client, node("e2e-a", labels={"disk": "ssd"}))
    await _create_node(
        client, node("e2e-b", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    )
    await _create_node(client, node("e2e-c", cpu="1"))
    pods = client.resource(PODS)
    await pods.create(pod("wants-ssd", nodeSelector={"disk": "ssd"}), namespace)
    await pods.create(
        pod(
            "tolerates-gpu",
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["e2e-b"]}]}
                        ]
                    }
                }
            },
        ),
        namespace,
    )
    await pods.create(pod("big", cpu="3"), namespace)
    for name in ("plain-1", "plain-2", "plain-3"):
        await pods.create(pod(name), namespace)
    assert await _wait_for(lambda: _node_of(client, namespace, "wants-ssd")) == "e2e-a"
    assert await _wait_for(lambda: _node_of(client, namespace, "tolerates-gpu")) == "e2e-b"
    assert await _wait_for(lambda: _node_of(client, namespace, "big")) == "e2e-a"
    for name in ("plain-1", "plain-2", "plain-3"):
        assert await _wait_for(lambda n=name: _node_of(client, namespace, n)) in ("e2e-a", "e2e-c")
    got = await pods.get("wants-ssd", namespace)
    assert [c.status for c in got.status.conditions if c.type == "PodScheduled"] == ["True"]
    # The scheduler's informer drops managedFields (nothing in it reads them); the API keeps them.
    assert got.metadata.managedFields
    cached = scheduler._pod_informer.get_by(namespace, "wants-ssd")
    assert cached is not None and cached.spec.nodeName == "e2e-a" and not cached.metadata.managedFields

    async def scheduled_event() -> Any:
        evs = (await client.resource(EVENTS).list(namespace=namespace))[0]
        return [e for e in evs if e.reason == "Scheduled" and e.involvedObject.name == "wants-ssd"]

    (ev,) = await _wait_for(scheduled_event)
    assert ev.message == f"Successfully assigned {namespace}/wants-ssd to e2e-a"


async def test_unschedulable_pod_reports_and_recovers(
    client: Client, namespace: str, scheduler: Scheduler
) -> None:
    pods = client.resource(PODS)
    await pods.create(pod("needs-zone", nodeSelector={"zone": "z9"}), namespace)

    async def condition() -> Any:
        p = await pods.get("needs-zone", namespace)
        return [c for c in p.status.conditions if c.type == "PodScheduled" and c.status == "False"]

    (cond,) = await _wait_for(condition)
    assert cond.reason == "Unschedulable"
    n = scheduler.cache.node_count()
    assert cond.message.startswith(f"0/{n} nodes are available: ")
    assert "node(s) didn't match Pod's node affinity/selector" in cond.message

    async def failed_event() -> Any:
        evs = (await client.resource(EVENTS).list(namespace=namespace))[0]
        return [e for e in evs if e.reason == "FailedScheduling"]

    (ev,) = await _wait_for(failed_event)
    assert ev.type == "Warning" and ev.message == cond.message
    await _create_node(client, node("e2e-z9", labels={"zone": "z9"}))
    assert await _wait_for(lambda: _node_of(client, namespace, "needs-zone"), timeout=15) == "e2e-z9"
