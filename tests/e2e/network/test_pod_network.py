"""Pod networking against the real CNI plugins, in network namespaces these tests create.

Needs root, the CNI plugins (``apt-get install containernetworking-plugins``),
``ip`` (iproute2) and busybox (for ping); skipped with the reason otherwise.
Every test uses its own bridge, netns names and a /24 of the pod CIDR that
nothing else routes, sends traffic only to addresses inside its namespaces,
and removes every namespace, link, route and rule it added.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubelite.kubelet.network import GUARD_COMMENT, IPV4_FORWARD, PodNetwork, guard_rule

pytestmark = pytest.mark.root

CNI_BIN = "/usr/lib/cni"
CLUSTER_CIDR = "10.42.0.0/16"
SERVICE_CIDR = "10.43.0.0/16"


def missing() -> str | None:
    if os.geteuid() != 0:
        return "root"
    for plugin in ("bridge", "host-local", "loopback"):
        if not os.access(os.path.join(CNI_BIN, plugin), os.X_OK):
            return f"the CNI plugin {CNI_BIN}/{plugin} (apt-get install containernetworking-plugins)"
    if shutil.which("ip") is None:
        return "ip (apt-get install iproute2)"
    if shutil.which("busybox") is None:
        return "busybox, for ping (apt-get install busybox-static)"
    return None


@pytest.fixture(autouse=True)
def _needs_cni() -> None:
    why = missing()
    if why is not None:
        pytest.skip(f"pod network e2e tests need root, the CNI plugins, iproute2 and busybox; missing: {why}")


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def routed(cidr: str) -> bool:
    return json.loads(sh("ip", "-j", "route", "show", "exact", cidr).stdout or "[]") != []


def blackholed(cidr: str) -> bool:
    routes = json.loads(sh("ip", "-j", "route", "show", "exact", cidr).stdout or "[]")
    return any(r.get("type") == "blackhole" for r in routes)


@dataclass
class Box:
    """One test's pod network: its PodNetwork factory, namespaces and what to clean up."""

    state_dir: Path
    pod_cidr: str
    bridge: str
    suffix: str
    netns: list[str] = field(default_factory=list)
    networks: list[PodNetwork] = field(default_factory=list)

    def network(self, **kw: object) -> PodNetwork:
        net = PodNetwork(
            self.pod_cidr,
            cluster_cidr=CLUSTER_CIDR,
            service_cidr=SERVICE_CIDR,
            bridge=self.bridge,
            cni_bin_dir=CNI_BIN,
            state_dir=self.state_dir,
            **kw,  # type: ignore[arg-type]
        )
        self.networks.append(net)
        return net

    def make_netns(self, name: str) -> str:
        full = f"klt-e2e-{self.suffix}-{name}"
        sh("ip", "netns", "add", full)
        self.netns.append(full)
        return f"/var/run/netns/{full}"

    def ipam_files(self) -> list[str]:
        directory = self.state_dir / "ipam" / "kubelite"
        if not directory.exists():
            return []
        return sorted(n for n in os.listdir(directory) if n[0].isdigit())


def leftovers(b: Box) -> list[str]:
    found = []
    if os.path.exists(f"/sys/class/net/{b.bridge}"):
        found.append(f"bridge {b.bridge}")
    found += [f"netns {n}" for n in os.listdir("/var/run/netns") if n.startswith(f"klt-e2e-{b.suffix}")]
    if routed(b.pod_cidr):
        found.append(f"route {b.pod_cidr}")
    if b.bridge in sh("iptables", "-w", "-S", "FORWARD").stdout:
        found.append(f"iptables FORWARD rule for {b.bridge}")
    return found


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Box]:
    suffix = secrets.token_hex(3)
    candidates = [f"10.42.{n}.0/24" for n in range(200, 255)]
    random.shuffle(candidates)
    pod_cidr = next(c for c in candidates if not routed(c))
    b = Box(state_dir=tmp_path / "cni", pod_cidr=pod_cidr, bridge=f"kltb{suffix}", suffix=suffix)
    try:
        yield b
    finally:
        for name in b.netns:
            sh("ip", "netns", "delete", name, check=False)
        for net in reversed(b.networks):
            await net.teardown_node()
        assert leftovers(b) == []


def ping(target: str, netns: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", os.path.basename(netns)] if netns else []
    return sh(*prefix, "busybox", "ping", "-c1", "-W3", target, check=False)


async def test_two_pods_talk_over_the_bridge_and_nothing_leaks(box: Box) -> None:
    had_blackholes = {c: blackholed(c) for c in (CLUSTER_CIDR, SERVICE_CIDR)}
    net = box.network()
    await net.setup_node()
    await net.setup_node()  # idempotent
    assert blackholed(CLUSTER_CIDR) and blackholed(SERVICE_CIDR)
    assert sh("iptables", "-w", "-C", "FORWARD", *guard_rule(box.bridge), check=False).returncode == 0
    service = sh("ip", "route", "get", "10.43.1.1", check=False)
    assert service.returncode != 0 or "blackhole" in service.stdout or "unreachable" in service.stdout
    elsewhere = sh("ip", "route", "get", "10.42.199.9", check=False)  # another node's pod range
    assert elsewhere.returncode != 0 or "blackhole" in elsewhere.stdout

    ns_a, ns_b = box.make_netns("a"), box.make_netns("b")
    a = await net.add("e2e", "pod-a", "uid-a", ns_a, sandbox_id=f"sb-a-{box.suffix}")
    b = await net.add("e2e", "pod-b", "uid-b", ns_b, sandbox_id=f"sb-b-{box.suffix}")
    pod_net = box.pod_cidr.rsplit(".", 1)[0] + "."
    assert a.ip.startswith(pod_net) and b.ip.startswith(pod_net) and a.ip != b.ip
    assert a.gateway == b.gateway == pod_net + "1" and a.interface == "eth0"
    assert box.ipam_files() == sorted([a.ip, b.ip])
    assert f"default via {a.gateway}" in sh("ip", "-n", os.path.basename(ns_a), "route").stdout
    # Only the bridge's connected route makes the node's own range reachable; no NAT anywhere.
    assert box.bridge in sh("ip", "route", "get", a.ip).stdout
    assert box.pod_cidr not in sh("iptables", "-t", "nat", "-S").stdout

    assert ping(b.ip, ns_a).returncode == 0, ping(b.ip, ns_a).stdout
    assert ping(a.ip, ns_b).returncode == 0
    assert ping(a.ip).returncode == 0, "the node reaches its pods through the bridge"
    assert ping("127.0.0.1", ns_a).returncode == 0, "loopback is up in the pod"

    assert (await net.check("e2e", "pod-a", "uid-a", ns_a, sandbox_id=f"sb-a-{box.suffix}")).ip == a.ip
    again = await net.add("e2e", "pod-a", "uid-a", ns_a, sandbox_id=f"sb-a-{box.suffix}")
    assert again.ip == a.ip

    await net.delete("e2e", "pod-a", "uid-a", ns_a, sandbox_id=f"sb-a-{box.suffix}")
    assert box.ipam_files() == [b.ip]
    assert "eth0" not in sh("ip", "-n", os.path.basename(ns_a), "link").stdout
    await net.delete("e2e", "pod-a", "uid-a", ns_a, sandbox_id=f"sb-a-{box.suffix}")  # idempotent

    # A restarted agent (a new PodNetwork on the same state) deletes what the old one added.
    restarted = box.network()
    assert restarted.attached() == [f"sb-b-{box.suffix}"]
    await restarted.delete("e2e", "pod-b", "uid-b", sandbox_id=f"sb-b-{box.suffix}")
    assert box.ipam_files() == [] and restarted.attached() == []
    assert ping(b.ip, ns_a).returncode != 0

    await net.teardown_node()
    for cidr, had in had_blackholes.items():
        assert blackholed(cidr) == had, "teardown removes exactly the routes setup added"


async def test_delete_after_the_netns_is_gone_releases_the_address(box: Box) -> None:
    net = box.network()
    await net.setup_node()
    ns = box.make_netns("gone")
    status = await net.add("e2e", "pod-gone", "uid-gone", ns, sandbox_id=f"sb-g-{box.suffix}")
    assert box.ipam_files() == [status.ip]
    sh("ip", "netns", "delete", os.path.basename(ns))
    await net.delete("e2e", "pod-gone", "uid-gone", ns, sandbox_id=f"sb-g-{box.suffix}")
    assert box.ipam_files() == [] and net.attached() == []
    # Never added at all: DEL still succeeds.
    await net.delete("e2e", "pod-never", "uid-never", "/var/run/netns/none", sandbox_id=f"sb-n-{box.suffix}")


async def test_stale_attachments_and_pod_uid_keyed_ones_are_released(box: Box) -> None:
    net = box.network()
    await net.setup_node()
    # An older agent ADDed under the pod UID; the pod worker deletes by sandbox id.
    ns_old = box.make_netns("old")
    old = await net.add("e2e", "pod-old", f"uid-old-{box.suffix}", ns_old)
    await net.delete("e2e", "pod-old", f"uid-old-{box.suffix}", ns_old, sandbox_id=f"sb-o-{box.suffix}")
    assert old.ip not in box.ipam_files() and net.attached() == []
    # A sandbox removed without a DEL (agent killed) leaks its address until release_stale.
    ns_live, ns_gone = box.make_netns("live"), box.make_netns("lost")
    live = await net.add("e2e", "pod-live", "uid-live", ns_live, sandbox_id=f"sb-l-{box.suffix}")
    await net.add("e2e", "pod-lost", "uid-lost", ns_gone, sandbox_id=f"sb-x-{box.suffix}")
    sh("ip", "netns", "delete", os.path.basename(ns_gone))
    assert await net.release_stale() == 1
    assert box.ipam_files() == [live.ip] and net.attached() == [f"sb-l-{box.suffix}"]
    await net.delete("e2e", "pod-live", "uid-live", ns_live, sandbox_id=f"sb-l-{box.suffix}")


async def test_forwarding_comes_with_the_guard_and_both_are_undone(box: Box) -> None:
    """The bridge plugin turns forwarding on as a gateway; the guard keeps pod packets off the uplink."""

    def forward() -> str:
        return Path(IPV4_FORWARD).read_text().strip()

    def guarded() -> bool:
        return sh("iptables", "-w", "-C", "FORWARD", *guard_rule(box.bridge), check=False).returncode == 0

    before = forward()
    net = box.network()
    await net.setup_node()
    try:
        assert forward() == "1" and guarded()
        assert GUARD_COMMENT in sh("iptables", "-w", "-S", "FORWARD").stdout
        await net.setup_node()  # idempotent: still one rule
        rules = sh("iptables", "-w", "-S", "FORWARD").stdout
        assert sum(box.bridge in line for line in rules.splitlines()) == 1
        # Attaching a pod (the plugin enables forwarding again) leaves the guard in place.
        ns = box.make_netns("out")
        await net.add("e2e", "pod-out", "uid-out", ns, sandbox_id=f"sb-o-{box.suffix}")
        assert forward() == "1" and guarded()
        await net.delete("e2e", "pod-out", "uid-out", ns, sandbox_id=f"sb-o-{box.suffix}")
    finally:
        await net.teardown_node()
    assert not guarded()
    assert forward() == before
