"""config.json generation: namespaces, cgroups, capabilities, mounts, users, rootfs."""

from __future__ import annotations

from typing import Any

from kubelite.kubelet.runtime import oci
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    Mount,
    Resources,
    SandboxConfig,
    SecurityConfig,
)

EVERYTHING = oci.ALL_CAPABILITIES[:41]


def sandbox(**kw: Any) -> SandboxConfig:
    return SandboxConfig(pod_uid="u1", pod_name="web", namespace="default", hostname="web-0", **kw)


def spec(config: ContainerConfig, sb: SandboxConfig | None = None, **kw: Any) -> dict:
    sb = sb or sandbox()
    return oci.container_spec(
        config,
        sandbox=sb,
        rootfs="/r/rootfs",
        cgroups_path="/kubepods/podu1/c1",
        namespaces=oci.sandbox_namespaces(sb, 42, "/var/run/netns/kubelite-x"),
        everything=EVERYTHING,
        **kw,
    )


def cfg(**kw: Any) -> ContainerConfig:
    return ContainerConfig(
        name="app", image="img", image_id="sha", rootfs_layers=["/l/0"], command=["/app", "-v"], **kw
    )


def test_namespaces_join_the_pause_process_by_path() -> None:
    ns = oci.sandbox_namespaces(sandbox(), 42, "/var/run/netns/n")
    assert {"type": "ipc", "path": "/proc/42/ns/ipc"} in ns
    assert {"type": "uts", "path": "/proc/42/ns/uts"} in ns
    assert {"type": "network", "path": "/var/run/netns/n"} in ns
    assert {"type": "pid"} in ns  # a pid namespace of its own
    assert {"type": "mount"} in ns


def test_share_process_namespace_joins_the_pause_pid_namespace() -> None:
    ns = oci.sandbox_namespaces(sandbox(share_process_namespace=True), 42, "/n")
    assert {"type": "pid", "path": "/proc/42/ns/pid"} in ns


def test_host_namespaces_are_not_listed() -> None:
    ns = oci.sandbox_namespaces(sandbox(host_network=True, host_pid=True, host_ipc=True), 42, "")
    assert [n["type"] for n in ns] == ["mount"]
    pause = oci.pause_namespaces(sandbox(host_network=True), "")
    assert "uts" not in [n["type"] for n in pause] and "network" not in [n["type"] for n in pause]


def test_pause_spec_hostname_and_netns() -> None:
    p = oci.pause_spec(
        sandbox(), rootfs="/pause", cgroups_path="/kubepods/podu1/s1", netns_path="/var/run/netns/x"
    )
    assert p["hostname"] == "web-0"
    assert {"type": "network", "path": "/var/run/netns/x"} in p["linux"]["namespaces"]
    assert {"type": "uts"} in p["linux"]["namespaces"]
    assert p["root"] == {"path": "/pause", "readonly": True}
    assert p["process"]["args"][:2] == ["/bin/sh", "-c"]


def test_process_user_env_and_cwd() -> None:
    s = spec(
        cfg(
            env={"A": "1"},
            working_dir="/srv",
            security=SecurityConfig(run_as_user=1000, run_as_group=3000, supplemental_groups=[4000]),
        )
    )
    proc = s["process"]
    assert proc["args"] == ["/app", "-v"]
    assert proc["user"] == {"uid": 1000, "gid": 3000, "additionalGids": [4000]}
    assert "A=1" in proc["env"]
    assert any(e.startswith("PATH=") for e in proc["env"])
    assert "HOSTNAME=web-0" in proc["env"]
    assert proc["cwd"] == "/srv"
    assert proc["terminal"] is False
    assert proc["noNewPrivileges"] is False
    assert proc["rlimits"][0]["type"] == "RLIMIT_NOFILE"
    assert "hostname" not in s  # the UTS namespace is the pause's


def test_default_capabilities_are_containerds() -> None:
    caps = spec(cfg())["process"]["capabilities"]
    assert caps["bounding"] == oci.DEFAULT_CAPABILITIES
    assert caps["effective"] == caps["permitted"] == caps["bounding"]
    assert "CAP_SYS_ADMIN" not in caps["bounding"]


def test_capabilities_add_and_drop() -> None:
    sec = SecurityConfig(
        capabilities_add=["NET_ADMIN", "cap_sys_time"], capabilities_drop=["NET_RAW", "KILL"]
    )
    caps = spec(cfg(security=sec))["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_TIME" in caps
    assert "CAP_NET_RAW" not in caps and "CAP_KILL" not in caps
    only = oci.capabilities(["NET_BIND_SERVICE"], ["ALL"], False, EVERYTHING)
    assert only == ["CAP_NET_BIND_SERVICE"]
    all_but = oci.capabilities(["ALL"], ["CHOWN"], False, EVERYTHING)
    assert "CAP_CHOWN" not in all_but and "CAP_SYS_ADMIN" in all_but


def test_privileged_gets_everything() -> None:
    s = spec(cfg(security=SecurityConfig(privileged=True)), devices=[{"path": "/dev/loop0"}])
    assert s["process"]["capabilities"]["bounding"] == EVERYTHING
    assert "maskedPaths" not in s["linux"] and "readonlyPaths" not in s["linux"]
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert s["linux"]["devices"] == [{"path": "/dev/loop0"}]
    sysfs = next(m for m in s["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sysfs["options"]


def test_masked_and_readonly_paths_and_readonly_rootfs() -> None:
    s = spec(cfg(security=SecurityConfig(read_only_root_filesystem=True, no_new_privileges=True)))
    assert "/proc/kcore" in s["linux"]["maskedPaths"]
    assert "/proc/sys" in s["linux"]["readonlyPaths"]
    assert s["root"] == {"path": "/r/rootfs", "readonly": True}
    assert s["process"]["noNewPrivileges"] is True
    assert s["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_cgroups_path_and_resources() -> None:
    res = Resources(
        cpu_shares=256, cpu_quota_us=50_000, cpu_period_us=100_000, memory_limit_bytes=16 << 20, pids_limit=64
    )
    s = spec(cfg(resources=res), swap_accounting=True)
    linux = s["linux"]
    assert linux["cgroupsPath"] == "/kubepods/podu1/c1"
    assert linux["resources"]["cpu"] == {"shares": 256, "quota": 50_000, "period": 100_000}
    assert linux["resources"]["memory"] == {"limit": 16 << 20, "swap": 16 << 20}
    assert linux["resources"]["pids"] == {"limit": 64}
    plain = spec(cfg())["linux"]["resources"]
    assert "cpu" not in plain and "memory" not in plain


def test_default_mounts_then_volumes() -> None:
    mounts = [
        Mount(host_path="/var/lib/vol", container_path="/data"),
        Mount(host_path="/var/lib/cfg", container_path="/etc/config", read_only=True),
        Mount(host_path="", container_path="/cache", kind="tmpfs", options=["size=1m"]),
        Mount(host_path="/pod/etc-hosts", container_path="/etc/hosts"),
    ]
    s = spec(cfg(mounts=mounts), shm_source="/sb/shm")
    by_dest = {m["destination"]: m for m in s["mounts"]}
    dests = [m["destination"] for m in s["mounts"]]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert by_dest["/proc"]["type"] == "proc"
    assert "ro" in by_dest["/sys"]["options"] and "ro" in by_dest["/sys/fs/cgroup"]["options"]
    assert by_dest["/dev/shm"] == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": "/sb/shm",
        "options": ["rbind", "rprivate", "rw"],
    }
    assert by_dest["/data"]["type"] == "bind" and by_dest["/data"]["source"] == "/var/lib/vol"
    assert by_dest["/data"]["options"][:2] == ["rbind", "rprivate"] and "rw" in by_dest["/data"]["options"]
    assert "ro" in by_dest["/etc/config"]["options"]
    assert by_dest["/cache"]["type"] == "tmpfs" and "size=1m" in by_dest["/cache"]["options"]
    assert by_dest["/etc/hosts"]["source"] == "/pod/etc-hosts"


def test_overlay_options_put_the_top_layer_first() -> None:
    opts = oci.overlay_options(["/l/base", "/l/mid", "/l/top"], "/c/upper", "/c/work")
    assert opts == "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"


def test_tty_sets_terminal_and_term() -> None:
    proc = spec(cfg(tty=True))["process"]
    assert proc["terminal"] is True
    assert "TERM=xterm" in proc["env"]


def test_all_capabilities_are_the_agents_own() -> None:
    # an agent without CAP_SYS_RESOURCE (bit 24) cannot hand it to a privileged container
    status = "Name:\tkubelite\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n"
    caps = oci.all_capabilities(status)
    assert "CAP_SYS_RESOURCE" not in caps
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHECKPOINT_RESTORE" in caps
    assert len(caps) == len(oci.ALL_CAPABILITIES) - 1
