"""The node agent against a real API server: registration, heartbeats, deletion, restarts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from kubelet_harness import CONFIGMAPS, LEASES, NODES, Node, make_agent

from kubelite.api.errors import StatusError


async def _running(node: Node, name: str) -> Any:
    pod = await node.pod(name)
    return pod if pod.status.phase == "Running" else None


async def test_registration_lease_and_ready(node: Node) -> None:
    nodes = node.client.resource(NODES)
    n = await nodes.get(node.config.node_name)
    assert n.metadata.labels["kubernetes.io/hostname"] == node.config.node_name
    assert n.spec.podCIDR == "10.42.0.0/24"
    assert {"cpu", "memory", "ephemeral-storage", "pods"} <= set(n.status.capacity)
    ready = next(c for c in n.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    )
    assert n.status.nodeInfo.kubeletVersion == "v1.32.0+kubelite"
    leases = node.client.resource(LEASES)
    first = await leases.get(node.config.node_name, "kube-node-lease")
    assert first.spec.holderIdentity == node.config.node_name and first.spec.leaseDurationSeconds == 40
    assert first.metadata.ownerReferences[0].kind == "Node"
    renewals = node.agent.lease_renewals

    async def renewed() -> Any:
        lease = await leases.get(node.config.node_name, "kube-node-lease")
        return (
            lease
            if lease.spec.renewTime != first.spec.renewTime and node.agent.lease_renewals >= renewals + 3
            else None
        )

    await node.eventually(renewed, step=2.0)
    writes = node.agent.status_writes
    await node.advance(60)  # nothing changed: no status writes until the 5 minute report
    assert node.agent.status_writes <= writes + 1  # (a pressure flip on a busy test host may write once)
    await node.eventually(lambda: _async(node.agent.status_writes > writes), step=10.0, timeout=30)


async def _async(value: Any) -> Any:
    return value


async def test_graceful_deletion_through_the_api(node: Node) -> None:
    await node.create_pod(
        {
            "terminationGracePeriodSeconds": 3,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep"]}],
        },
        "victim",
    )
    await node.eventually(lambda: _running(node, "victim"))
    await node.pods.delete("victim", node.namespace)

    async def gone() -> bool:
        try:
            await node.pod("victim")
        except StatusError as e:
            return e.code == 404
        return False

    await node.eventually(gone)
    assert not node.runtime.sandboxes
    assert "Killing" in await node.event_reasons("victim")


async def test_configmap_volume_follows_updates(node: Node) -> None:
    cms = node.client.resource(CONFIGMAPS)
    await cms.create({"metadata": {"name": "cfg"}, "data": {"greeting": "hi"}}, node.namespace)
    await node.create_pod(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "command": ["sleep"],
                    "volumeMounts": [{"name": "config", "mountPath": "/config"}],
                }
            ],
            "volumes": [{"name": "config", "configMap": {"name": "cfg"}}],
        },
        "reader",
    )
    pod = await node.eventually(lambda: _running(node, "reader"))
    host = node.config.pod_dir(pod.metadata.uid) / "volumes" / "kubernetes.io~configmap" / "config"
    assert _read(host / "greeting") == "hi"
    await cms.patch("cfg", {"data": {"greeting": "hello"}}, "merge", node.namespace)
    await node.eventually(lambda: _async(_read(host / "greeting") == "hello"), step=2.0)
    assert os.readlink(host / "greeting") == "..data/greeting"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


async def test_restart_adopts_running_pods_and_removes_orphans(node: Node, tmp_path: Path) -> None:
    spec = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep"]}]}
    await node.create_pod(spec, "keeper")
    await node.create_pod(spec, "goner")
    keeper = await node.eventually(lambda: _running(node, "keeper"))
    await node.eventually(lambda: _running(node, "goner"))
    keeper_id = keeper.status.containerStatuses[0].containerID
    await node.stop()
    await node.pods.delete("goner", node.namespace, grace_period_seconds=0)  # while the agent is down
    calls = len(node.runtime.calls)
    node.agent = make_agent(
        node.client, node.clock, node.runtime, node.network, node.config.data_dir, node.config.node_name
    )
    await node.start()
    assert node.agent.pod_manager is not None and node.agent.pod_manager.orphans_removed == 1
    await node.advance(3)
    keeper = await node.pod("keeper")
    cs = keeper.status.containerStatuses[0]
    assert cs.containerID == keeper_id and cs.restartCount == 0 and cs.state.running is not None
    assert [n for call, n in node.runtime.calls[calls:] if call in ("create_container", "run_sandbox")] == []
    assert {sb.config.pod_name for sb in node.runtime.sandboxes.values()} == {"keeper"}


async def test_admission_sees_the_nodes_current_labels(node: Node) -> None:
    nodes = node.client.resource(NODES)
    n = await nodes.get(node.config.node_name)
    n.metadata.labels = {**n.metadata.labels, "disk": "ssd"}
    await nodes.update(n)

    # the agent's watch of its Node sees it at once (fake time stands still: no status write)
    for _ in range(250):
        if node.agent.node is not None and node.agent.node.metadata.labels.get("disk") == "ssd":
            break
        await asyncio.sleep(0.02)
    assert node.agent.node is not None and node.agent.node.metadata.labels.get("disk") == "ssd"
    spec = {
        "nodeSelector": {"disk": "ssd"},
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep"]}],
    }
    await node.create_pod(spec, "on-ssd")
    await node.eventually(lambda: _running(node, "on-ssd"))
    await node.create_pod({**spec, "nodeSelector": {"disk": "hdd"}}, "on-hdd")

    async def rejected() -> Any:
        pod = await node.pod("on-hdd")
        return pod if pod.status.phase == "Failed" else None

    pod = await node.eventually(rejected)
    assert pod.status.reason == "NodeAffinity"
    assert pod.status.message == (
        "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
    )
