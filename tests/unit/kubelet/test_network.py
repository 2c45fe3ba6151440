"""Pod networking without root: the CNI config list, CNI_ARGS, result and error parsing, and the
ADD/DEL/CHECK protocol against stand-in plugins (small scripts that record how they were called)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet.network import PodNetwork, blackhole_commands, bridge_conflist, guard_rule
from kubelite.kubelet.network_cni import (
    Attachment,
    CniExec,
    NetworkError,
    parse_error,
    parse_result,
    pick_version,
    plugin_stdin,
    pod_cni_args,
)

RESULT_1_0 = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "kubelite0", "mac": "02:00:00:00:00:01"},
        {"name": "veth1234", "mac": "02:00:00:00:00:02"},
        {"name": "eth0", "mac": "0a:58:0a:2a:00:05", "sandbox": "/var/run/netns/kubelite-abc"},
    ],
    "ips": [{"address": "10.42.0.5/24", "gateway": "10.42.0.1", "interface": 2}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


# -- pure parts ---------------------------------------------------------------------------------


def test_bridge_conflist() -> None:
    conf = bridge_conflist("10.42.3.0/24", bridge="kubelite0", ipam_dir="/state/ipam", cni_version="1.0.0")
    assert conf["cniVersion"] == "1.0.0" and conf["name"] == "kubelite"
    bridge, loopback = conf["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == "kubelite0"
    assert bridge["isGateway"] is True and bridge["ipMasq"] is False and bridge["hairpinMode"] is True
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "10.42.3.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "/state/ipam",
    }
    assert loopback == {"type": "loopback"}
    # The runc runtime brings lo up in the netns it pins: the bridge alone.
    alone = bridge_conflist(
        "10.42.3.0/24", bridge="kubelite0", ipam_dir="/state/ipam", cni_version="1.0.0", loopback=False
    )
    assert alone["plugins"] == [bridge]


def test_blackhole_commands_and_guard() -> None:
    assert blackhole_commands(["10.42.0.0/16", "10.43.0.0/16", "fd00:42::/56"]) == [
        ["ip", "route", "replace", "blackhole", "10.42.0.0/16"],
        ["ip", "route", "replace", "blackhole", "10.43.0.0/16"],
        ["ip", "-6", "route", "replace", "blackhole", "fd00:42::/56"],
    ]
    rule = guard_rule("kubelite0")
    assert rule[:4] == ["-i", "kubelite0", "!", "-o"] and rule[-2:] == ["-j", "DROP"]


def test_pod_cni_args() -> None:
    args = pod_cni_args("shop", "web-0", "sandbox1", "uid-1")
    attachment = Attachment("sandbox1", "/var/run/netns/x", "eth0", args)
    assert attachment.cni_args() == (
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1"
    )
    with pytest.raises(NetworkError):
        pod_cni_args("shop", "a;b", "sandbox1")


def test_plugin_stdin_injects_name_version_and_prev_result() -> None:
    conf = bridge_conflist("10.42.0.0/24", bridge="br", ipam_dir="/d", cni_version="0.4.0")
    first = plugin_stdin(conf, 0)
    assert first["name"] == "kubelite" and first["cniVersion"] == "0.4.0" and "prevResult" not in first
    second = plugin_stdin(conf, 1, RESULT_1_0)
    assert second == {"type": "loopback", "cniVersion": "0.4.0", "name": "kubelite", "prevResult": RESULT_1_0}
    assert "prevResult" not in conf["plugins"][1]  # the list itself is untouched


def test_pick_version() -> None:
    assert pick_version([["0.3.1", "0.4.0", "1.0.0"], ["0.4.0", "1.0.0"]]) == "1.0.0"
    assert pick_version([["0.3.1", "0.4.0", "1.0.0"], ["0.3.0", "0.4.0"]]) == "0.4.0"
    with pytest.raises(NetworkError, match="no common version"):
        pick_version([["0.2.0", "0.3.1"]])


def test_parse_result_1_0_0() -> None:
    status = parse_result(RESULT_1_0)
    assert (status.ip, status.ips, status.gateway, status.interface) == (
        "10.42.0.5",
        ["10.42.0.5"],
        "10.42.0.1",
        "eth0",
    )
    assert status.mac == "0a:58:0a:2a:00:05" and status.prefix_length == 24


def test_parse_result_0_4_0_dual_stack_ipv4_first() -> None:
    result = {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "cni0"}, {"name": "eth0", "sandbox": "/proc/1/ns/net"}],
        "ips": [
            {"version": "6", "address": "fd00::5/64", "gateway": "fd00::1", "interface": 1},
            {"version": "4", "address": "10.42.0.5/24", "gateway": "10.42.0.1", "interface": 1},
            {"version": "4", "address": "10.99.0.1/24", "interface": 0},  # the host side: not the pod's
        ],
    }
    status = parse_result(result)
    assert (
        status.ip == "10.42.0.5" and status.ips == ["10.42.0.5", "fd00::5"] and status.gateway == "10.42.0.1"
    )


def test_parse_result_ipam_only_and_malformed() -> None:
    assert parse_result({"ips": [{"address": "10.42.0.9/24"}]}).ip == "10.42.0.9"
    with pytest.raises(NetworkError, match="no address"):
        parse_result({"interfaces": [], "ips": []})
    with pytest.raises(NetworkError, match="names interface 3"):
        parse_result({"interfaces": [], "ips": [{"address": "10.42.0.9/24", "interface": 3}]})
    with pytest.raises(NetworkError, match="bad address"):
        parse_result({"ips": [{"address": "nonsense"}]})


def test_parse_error() -> None:
    err = parse_error(
        b'{"cniVersion":"1.0.0","code":7,"msg":"invalid network config","details":"no subnet"}',
        b"",
        "plugin bridge ADD",
    )
    assert str(err) == "plugin bridge ADD: invalid network config; no subnet" and err.code == 7
    assert str(parse_error(b"", b"panic: oops\n", "plugin x DEL")) == "plugin x DEL: panic: oops"


# -- the protocol, against stand-in plugins -----------------------------------------------------

FAKE_PLUGIN = """#!{python} -S
import json, os, sys
here = os.path.dirname(os.path.abspath(sys.argv[0]))
name = os.path.basename(sys.argv[0])
cmd = os.environ.get("CNI_COMMAND", "")
raw = sys.stdin.read()
conf = json.loads(raw) if raw.strip() else None
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
    f.write(json.dumps({{"plugin": name, "cmd": cmd, "env": env, "stdin": conf}}) + "\\n")
try:
    with open(os.path.join(here, "control.json")) as f:
        control = json.load(f)
except FileNotFoundError:
    control = {{}}
failure = control.get(name + ":" + cmd)
if failure:
    print(json.dumps({{"cniVersion": "1.0.0", "code": 11, "msg": failure, "details": "from " + name}}))
    sys.exit(1)
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": "1.0.0", "supportedVersions": control.get(name + ":versions", ["0.4.0", "1.0.0"])}}))
elif cmd == "ADD" and name == "bridge":
    print(json.dumps({{
        "cniVersion": conf["cniVersion"],
        "interfaces": [{{"name": conf["bridge"]}}, {{"name": os.environ["CNI_IFNAME"], "mac": "0a:00:00:00:00:05",
                        "sandbox": os.environ["CNI_NETNS"]}}],
        "ips": [{{"address": control.get("address", "10.42.0.5/24"), "gateway": "10.42.0.1", "interface": 1}}],
    }}))
elif cmd == "ADD":
    print(json.dumps(conf.get("prevResult") or {{"cniVersion": conf["cniVersion"]}}))
"""


class FakePlugins:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("bridge", "host-local", "loopback"):
            path = directory / name
            path.write_text(FAKE_PLUGIN.format(python=sys.executable))
            path.chmod(0o755)

    def control(self, **entries: Any) -> None:
        (self.dir / "control.json").write_text(
            json.dumps({k.replace("_", ":", 1): v for k, v in entries.items()})
        )

    def calls(self, *, clear: bool = True) -> list[dict[str, Any]]:
        path = self.dir / "calls.jsonl"
        if not path.exists():
            return []
        calls = [json.loads(line) for line in path.read_text().splitlines()]
        if clear:
            path.unlink()
        return [c for c in calls if c["cmd"] != "VERSION"]


@pytest.fixture
def plugins(tmp_path: Path) -> FakePlugins:
    return FakePlugins(tmp_path / "bin")


@pytest.fixture
def netns(tmp_path: Path) -> str:
    path = tmp_path / "netns-a"  # a stand-in: the plugins only need the path to exist
    path.write_text("")
    return str(path)


def network(tmp_path: Path, plugins: FakePlugins) -> PodNetwork:
    return PodNetwork("10.42.0.0/24", cni_bin_dir=str(plugins.dir), state_dir=tmp_path / "state")


async def test_add_runs_the_chain_per_the_spec(tmp_path: Path, plugins: FakePlugins, netns: str) -> None:
    net = network(tmp_path, plugins)
    status = await net.add("shop", "web-0", "uid-1", netns, sandbox_id="sb1")
    assert (status.ip, status.gateway, status.interface) == ("10.42.0.5", "10.42.0.1", "eth0")
    bridge, loopback = plugins.calls()
    assert [bridge["plugin"], loopback["plugin"]] == ["bridge", "loopback"]
    env = bridge["env"]
    assert env["CNI_COMMAND"] == "ADD" and env["CNI_CONTAINERID"] == "sb1" and env["CNI_NETNS"] == netns
    assert env["CNI_IFNAME"] == "eth0" and env["CNI_PATH"] == str(plugins.dir)
    assert "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=sb1" in env["CNI_ARGS"]
    assert bridge["stdin"]["cniVersion"] == "1.0.0" and bridge["stdin"]["name"] == "kubelite"
    assert "prevResult" not in bridge["stdin"]
    assert loopback["stdin"]["prevResult"]["ips"][0]["address"] == "10.42.0.5/24"
    assert net.attached() == ["sb1"]
    # The same sandbox again: the cached result, no plugin runs.
    assert await net.add("shop", "web-0", "uid-1", netns, sandbox_id="sb1") == status
    assert plugins.calls() == []


async def test_negotiates_0_4_0_when_a_plugin_lacks_1_0_0(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    plugins.control(**{"host-local_versions": ["0.3.1", "0.4.0"]})
    await network(tmp_path, plugins).add("shop", "web-0", "uid-1", netns)
    assert {c["stdin"]["cniVersion"] for c in plugins.calls()} == {"0.4.0"}


async def test_delete_reverse_order_with_cached_result_and_idempotent(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    net = network(tmp_path, plugins)
    await net.add("shop", "web-0", "uid-1", netns)
    plugins.calls()
    await net.delete("shop", "web-0", "uid-1")
    loopback, bridge = plugins.calls()
    assert [loopback["plugin"], bridge["plugin"]] == ["loopback", "bridge"]
    assert bridge["env"]["CNI_COMMAND"] == "DEL" and bridge["env"]["CNI_NETNS"] == netns
    assert bridge["stdin"]["prevResult"]["ips"][0]["address"] == "10.42.0.5/24"
    assert net.attached() == []
    # Again, with nothing cached: DEL still runs (releasing anything IPAM kept), without prevResult.
    await net.delete("shop", "web-0", "uid-1")
    calls = plugins.calls()
    assert [c["plugin"] for c in calls] == ["loopback", "bridge"]
    assert all("prevResult" not in c["stdin"] for c in calls)


async def test_delete_after_the_netns_is_gone_passes_an_empty_netns(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    net = network(tmp_path, plugins)
    await net.add("shop", "web-0", "uid-1", netns)
    plugins.calls()
    os.unlink(netns)
    await net.delete("shop", "web-0", "uid-1", netns)
    assert {c["env"]["CNI_NETNS"] for c in plugins.calls()} == {""}


async def test_a_restarted_network_deletes_with_the_config_it_added_with(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    await network(tmp_path, plugins).add("shop", "web-0", "uid-1", netns)
    plugins.calls()
    restarted = PodNetwork(
        "10.42.9.0/24", bridge="other0", cni_bin_dir=str(plugins.dir), state_dir=tmp_path / "state"
    )
    assert (await restarted.status("uid-1")) is not None
    await restarted.delete("shop", "web-0", "uid-1")
    bridge = plugins.calls()[1]
    assert bridge["stdin"]["bridge"] == "kubelite0"
    assert bridge["stdin"]["ipam"]["ranges"] == [[{"subnet": "10.42.0.0/24"}]]
    assert await restarted.status("uid-1") is None


async def test_check_runs_in_order_with_the_cached_result(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    net = network(tmp_path, plugins)
    with pytest.raises(NetworkError, match="not attached"):
        await net.check("shop", "web-0", "uid-1")
    await net.add("shop", "web-0", "uid-1", netns)
    plugins.calls()
    status = await net.check("shop", "web-0", "uid-1", netns)
    assert status.ip == "10.42.0.5"
    calls = plugins.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("bridge", "CHECK"), ("loopback", "CHECK")]
    assert all(c["stdin"]["prevResult"]["ips"] for c in calls)
    plugins.control(bridge_CHECK="eth0 has lost its address")
    with pytest.raises(NetworkError, match=r"shop/web-0: .*bridge.*eth0 has lost its address; from bridge"):
        await net.check("shop", "web-0", "uid-1")


async def test_failed_add_is_rolled_back_and_reports_the_plugins_message(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    net = network(tmp_path, plugins)
    plugins.control(loopback_ADD="failed to set lo up")
    with pytest.raises(NetworkError, match="failed to set lo up") as err:
        await net.add("shop", "web-0", "uid-1", netns)
    assert err.value.code == 11
    assert [(c["plugin"], c["cmd"]) for c in plugins.calls()] == [
        ("bridge", "ADD"),
        ("loopback", "ADD"),
        ("loopback", "DEL"),
        ("bridge", "DEL"),
    ]
    assert net.attached() == []


async def test_add_in_another_netns_replaces_the_old_attachment(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    net = network(tmp_path, plugins)
    await net.add("shop", "web-0", "uid-1", netns)
    other = tmp_path / "netns-b"
    other.write_text("")
    plugins.calls()
    await net.add("shop", "web-0", "uid-1", str(other))
    calls = plugins.calls()
    assert [(c["cmd"], c["env"]["CNI_NETNS"]) for c in calls] == [
        ("DEL", netns),
        ("DEL", netns),
        ("ADD", str(other)),
        ("ADD", str(other)),
    ]


async def test_an_interrupted_add_can_still_be_deleted(
    tmp_path: Path, plugins: FakePlugins, netns: str
) -> None:
    """The cache entry is written before the plugins run, so a crash mid-ADD leaves something to DEL."""
    net = network(tmp_path, plugins)
    plugins.control(bridge_ADD="boom", bridge_DEL="also boom")
    with pytest.raises(NetworkError, match="boom"):
        await net.add("shop", "web-0", "uid-1", netns)
    assert net.attached() == ["uid-1"] and await net.status("uid-1") is None
    plugins.control()
    await network(tmp_path, plugins).delete("shop", "web-0", "uid-1")
    assert net.attached() == []


async def test_missing_plugin_and_bad_ids(tmp_path: Path, netns: str) -> None:
    net = PodNetwork("10.42.0.0/24", cni_bin_dir=str(tmp_path / "nothing"), state_dir=tmp_path / "state")
    with pytest.raises(NetworkError, match='failed to find plugin "bridge"'):
        await net.add("shop", "web-0", "uid-1", netns)
    with pytest.raises(NetworkError, match="invalid CNI container id"):
        await net.add("shop", "web-0", "../etc", netns)
    with pytest.raises(NetworkError, match="no network namespace"):
        await net.add("shop", "web-0", "uid-1", "")


async def test_a_cancelled_plugin_call_leaves_no_process(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    slow.write_text(f"#!{sys.executable} -S\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    cni = CniExec([str(tmp_path)], timeout=0.5)
    with pytest.raises(NetworkError, match="timed out"):
        await cni.invoke("ADD", "slow", {}, Attachment("c", "/x"))
    task = asyncio.create_task(CniExec([str(tmp_path)]).invoke("ADD", "slow", {}, Attachment("c", "/x")))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
