"""Simulated nodes against a real (in-process) API server: they register as
Ready nodes, keep their Leases fresh, bring pods bound to them to Running
and finish graceful deletions as a kubelet would."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client import Client, lookup
from kubelite.scheduler.simulate import LEASE_NAMESPACE, SimulatedNodes, parse_labels, parse_taints

NODES = lookup("", "v1", "Node")
PODS = lookup("", "v1", "Pod")
LEASES = lookup("coordination.k8s.io", "v1", "Lease")
NAMESPACES = lookup("", "v1", "Namespace")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{check.__name__} did not become true in {timeout}s")


def pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            **spec,
        },
    }


def test_parse_flags() -> None:
    assert parse_labels("a=1, b=") == {"a": "1", "b": ""}
    taints = parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule")
    assert [(t.key, t.value, t.effect) for t in taints] == [
        ("dedicated", "gpu", "NoSchedule"),
        ("spot", "", "PreferNoSchedule"),
    ]
    with pytest.raises(ValueError):
        parse_taints("x=y:Sometimes")
    with pytest.raises(ValueError):
        parse_labels("novalue")


async def test_nodes_register_keep_leases_and_run_pods(client: Client) -> None:
    sim = SimulatedNodes(
        client,
        5,
        cpu="8",
        memory="16Gi",
        labels={"topology.kubernetes.io/zone": "z1"},
        taints=parse_taints("sim=yes:PreferNoSchedule"),
        name_prefix="simtest-",
        renew_interval=1.0,
    )
    task = asyncio.create_task(sim.run())
    try:
        await asyncio.wait_for(sim.ready.wait(), 20)
        nodes_api = client.resource(NODES)
        node = await nodes_api.get("simtest-3")
        assert node.metadata.labels["kubernetes.io/hostname"] == "simtest-3"
        assert node.metadata.labels["topology.kubernetes.io/zone"] == "z1"
        assert node.status.allocatable["cpu"] == "8"
        assert node.status.capacity["pods"] == "110"
        conditions = {c.type: c.status for c in node.status.conditions}
        assert conditions == {
            "Ready": "True",
            "MemoryPressure": "False",
            "DiskPressure": "False",
            "PIDPressure": "False",
        }
        assert node.status.nodeInfo.kubeletVersion
        assert [t.key for t in node.spec.taints] == ["sim"]
        assert node.spec.podCIDR

        # Leases exist and their renewTime moves.
        leases = client.resource(LEASES)

        async def lease_renewed() -> bool:
            items, _, _ = await leases.list(LEASE_NAMESPACE)
            mine = {x.metadata.name: x for x in items if x.metadata.name.startswith("simtest-")}
            return len(mine) == 5 and all(x.spec.holderIdentity == n for n, x in mine.items())

        await eventually(lease_renewed)
        before = (await leases.get("simtest-4", LEASE_NAMESPACE)).spec.renewTime

        async def renewed_again() -> bool:
            try:
                return (await leases.get("simtest-4", LEASE_NAMESPACE)).spec.renewTime != before
            except StatusError:
                return False

        await eventually(renewed_again, 10)

        # A pod bound to a simulated node becomes Running with a kubelet's status.
        pods = client.resource(PODS)
        await pods.create(pod("sim-pod-a", "simtest-1"))
        await pods.create(pod("sim-pod-b", "simtest-1", terminationGracePeriodSeconds=30))
        await pods.create(pod("other-node-pod", "not-simulated"))

        async def running() -> bool:
            got = [await pods.get(n, "default") for n in ("sim-pod-a", "sim-pod-b")]
            return all(p.status.phase == "Running" for p in got)

        await eventually(running)
        a = await pods.get("sim-pod-a", "default")
        b = await pods.get("sim-pod-b", "default")
        assert {c.type for c in a.status.conditions if c.status == "True"} >= {
            "PodReadyToStartContainers",
            "Initialized",
            "ContainersReady",
            "Ready",
        }
        assert a.status.containerStatuses[0].ready
        assert a.status.containerStatuses[0].state.running is not None
        assert a.status.initContainerStatuses[0].state.terminated is not None
        assert a.status.startTime
        assert a.status.hostIP == sim.node_ip("simtest-1")
        assert a.status.podIP and a.status.podIP != b.status.podIP
        node1 = await nodes_api.get("simtest-1")
        assert ipaddress.ip_address(a.status.podIP) in ipaddress.ip_network(node1.spec.podCIDR)
        other = await pods.get("other-node-pod", "default")
        assert other.status.phase == "Pending"

        # A graceful delete is finished by the simulated kubelet.
        answer = await pods.delete("sim-pod-b", "default")
        assert answer.metadata.deletionTimestamp

        async def gone() -> bool:
            try:
                await pods.get("sim-pod-b", "default")
            except StatusError as e:
                return e.code == 404
            return False

        await eventually(gone)
        assert sim.pods_finished >= 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.resource(PODS).delete_collection("default")


async def test_register_is_idempotent_and_lease_rate_is_capped(client: Client) -> None:
    sim = SimulatedNodes(client, 3, name_prefix="simidem-", run_pods=False, run_leases=False)
    await sim.register()
    again = SimulatedNodes(client, 3, cpu="4", name_prefix="simidem-", run_pods=False, run_leases=False)
    await again.register()
    node = await client.resource(NODES).get("simidem-2")
    assert node.status.allocatable["cpu"] == "4"

    big = SimulatedNodes(client, 5000, name_prefix="unused-", lease_qps=200, renew_interval=10)
    assert big.renew_period == 25  # 5000 leases at 200 writes/s
    assert big.lease_duration >= 4 * big.renew_period
