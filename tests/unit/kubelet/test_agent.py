"""The node agent's view of its host: capacity, allocatable, pressure conditions, node status."""

from __future__ import annotations

from pathlib import Path

from kubelite.client import Client, FakeClock
from kubelite.kubelet.agent import HostInfo, NodeAgent
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.runtime.fake import FakeRuntime


class PinnedHost(HostInfo):
    def __init__(self) -> None:
        super().__init__("/")
        self.available = 4 << 30
        self.free = 50 << 30

    def cpus(self) -> int:
        return 4

    def meminfo(self) -> dict[str, int]:
        return {"MemTotal": 8 << 30, "MemAvailable": self.available}

    def filesystem(self) -> tuple[int, int]:
        return 100 << 30, self.free

    def pids(self) -> tuple[int, int]:
        return 4_194_304, 300

    def node_ip(self) -> str:
        return "192.0.2.7"

    def system(self) -> dict[str, str]:
        return {
            "kernelVersion": "6.1.0",
            "osImage": "Test OS",
            "architecture": "amd64",
            "machineID": "m",
            "bootID": "b",
        }


def agent(tmp_path: Path) -> tuple[NodeAgent, PinnedHost]:
    host = PinnedHost()
    config = AgentConfig(node_name="n1", data_dir=tmp_path, runtime="fake", node_roles=["control-plane"])
    a = NodeAgent(Client("http://127.0.0.1:1"), config, runtime=FakeRuntime(), clock=FakeClock(), host=host)
    a._node_ip = host.node_ip()
    return a, host


def test_capacity_and_allocatable(tmp_path: Path) -> None:
    a, _ = agent(tmp_path)
    assert a.capacity() == {
        "cpu": "4",
        "memory": "8388608Ki",
        "ephemeral-storage": "104857600Ki",
        "pods": "110",
        "hugepages-2Mi": "0",
    }
    alloc = a.allocatable()
    assert alloc["memory"] == f"{(8 << 30) - (100 << 20) >> 10}Ki"
    assert alloc["ephemeral-storage"] == str(int((100 << 30) * 0.9))
    labels = a.labels()
    assert labels["kubernetes.io/hostname"] == "n1" and labels["node-role.kubernetes.io/control-plane"] == ""
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"


def test_conditions_follow_measurements(tmp_path: Path) -> None:
    a, host = agent(tmp_path)
    status = a.node_status()
    conds = {c.type: c for c in status.conditions}
    assert conds["Ready"].status == "True" and conds["Ready"].reason == "KubeletReady"
    assert conds["Ready"].message == "kubelet is posting ready status"
    assert {conds[t].status for t in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {"False"}
    assert status.nodeInfo.kubeletVersion == "v1.32.0+kubelite"
    assert status.nodeInfo.containerRuntimeVersion == "fake://0.1.0"
    assert (status.addresses[0].type, status.addresses[0].address) == ("InternalIP", "192.0.2.7")
    host.available = 50 << 20
    host.free = 5 << 30
    conds = {c.type: c for c in a.node_status().conditions}
    assert (
        conds["MemoryPressure"].status == "True"
        and conds["MemoryPressure"].reason == "KubeletHasInsufficientMemory"
    )
    assert conds["DiskPressure"].status == "True" and conds["DiskPressure"].reason == "KubeletHasDiskPressure"


def test_lease_object(tmp_path: Path) -> None:
    a, _ = agent(tmp_path)
    lease = a.lease_object()
    assert lease.metadata.namespace == "kube-node-lease" and lease.metadata.name == "n1"
    assert lease.spec.holderIdentity == "n1" and lease.spec.leaseDurationSeconds == 40
    assert lease.spec.renewTime and lease.spec.renewTime.endswith("Z")


def test_events_come_from_the_kubelet_on_this_node(tmp_path: Path) -> None:
    a, _ = agent(tmp_path)
    assert (a.recorder.component, a.recorder.host, a.recorder.instance) == ("kubelet", "n1", "n1")


def test_condition_changes_are_node_events(tmp_path: Path) -> None:
    a, host = agent(tmp_path)
    recorded: list[tuple[str, str, str, str]] = []
    a.recorder.event = lambda obj, type_, reason, message: recorded.append(  # type: ignore[method-assign]
        (f"{obj.kind}/{obj.name}/{obj.uid}", type_, reason, message)
    )
    a.node_status()
    assert [r[2] for r in recorded] == [
        "NodeHasSufficientMemory",
        "NodeHasNoDiskPressure",
        "NodeHasSufficientPID",
        "NodeReady",
    ]
    assert recorded[-1] == ("Node/n1/n1", "Normal", "NodeReady", "Node n1 status is now: NodeReady")
    recorded.clear()
    a.node_status()
    assert recorded == []  # no change, no event
    host.available = 50 << 20
    a.node_status()
    assert [r[2] for r in recorded] == ["NodeHasInsufficientMemory"]


async def test_node_status_lists_the_images_largest_first(tmp_path: Path) -> None:
    from types import SimpleNamespace

    a, _ = agent(tmp_path)

    class Images:
        async def list(self) -> list[SimpleNamespace]:
            small = SimpleNamespace(repo_digests=["docker.io/library/busybox@sha256:1"], size=2 << 20)
            small.names = ["docker.io/library/busybox:latest"]
            big = SimpleNamespace(repo_digests=[], names=["registry.local/app:v1"], size=80 << 20)
            return [small, big]

    a.images = Images()  # type: ignore[assignment]
    images = await a._node_images()
    assert [(im.names, im.sizeBytes) for im in images] == [
        (["registry.local/app:v1"], 80 << 20),
        (["docker.io/library/busybox@sha256:1", "docker.io/library/busybox:latest"], 2 << 20),
    ]
