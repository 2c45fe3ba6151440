"""OCI runtime specs (runc's ``config.json``) for pause processes and containers.

Pure functions of the runtime protocol's configs, so they are unit-tested
without root. The defaults follow containerd's CRI plugin, which is what a
Kubernetes pod gets on a stock node: its capability set, masked and
read-only paths, ``/dev`` mounts, and a pod-wide ``/dev/shm``. Differences:
no seccomp profile and no AppArmor/SELinux labels.
"""

from __future__ import annotations

from typing import Any

from kubelite.kubelet.runtime.interface import ContainerConfig, Mount, SandboxConfig

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# containerd's (and so Kubernetes') default capability set
DEFAULT_CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

# every capability by number (linux/capability.h); trimmed to /proc/sys/kernel/cap_last_cap
ALL_CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]

MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

NOFILE = 1048576  # what containers get on a stock containerd node (capped by our own hard limit)


def default_rlimits() -> list[dict[str, Any]]:
    """RLIMIT_NOFILE as containerd's service gives it, but never above the agent's own hard limit:
    raising it needs CAP_SYS_RESOURCE, which a confined agent may lack."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    return [{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}]


def all_capabilities(proc_status: str | None = None) -> list[str]:
    """What "all capabilities" means for a container (privileged, or ``add: [ALL]``): those
    the agent itself has (its effective set, as containerd's cap.Current), since runc cannot
    grant one the agent lacks; every capability the kernel knows if that cannot be read."""
    try:
        if proc_status is None:
            with open("/proc/self/status") as f:
                proc_status = f.read()
        line = next(ln for ln in proc_status.splitlines() if ln.startswith("CapEff:"))
        mask = int(line.split(":", 1)[1].strip(), 16)
    except (OSError, StopIteration, ValueError):
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                return ALL_CAPABILITIES[: int(f.read()) + 1]
        except (OSError, ValueError):
            return list(ALL_CAPABILITIES)
    return [name for bit, name in enumerate(ALL_CAPABILITIES) if mask >> bit & 1]


def _cap_name(name: str) -> str:
    name = name.strip().upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def capabilities(add: list[str], drop: list[str], privileged: bool, everything: list[str]) -> list[str]:
    """The container's capabilities, as containerd computes them from add/drop.

    ``ALL`` in ``add`` starts from every capability, ``ALL`` in ``drop`` from none;
    then the named ones are added and dropped, so ``drop: [ALL], add: [NET_ADMIN]``
    is just ``CAP_NET_ADMIN``.
    """
    if privileged:
        return list(everything)
    caps = list(DEFAULT_CAPABILITIES)
    if any(c.upper() == "ALL" for c in add):
        caps = list(everything)
    if any(c.upper() == "ALL" for c in drop):
        caps = []
    for c in add:
        name = _cap_name(c)
        if c.upper() != "ALL" and name not in caps:
            caps.append(name)
    dropped = {_cap_name(c) for c in drop if c.upper() != "ALL"}
    return [c for c in caps if c not in dropped]


def default_mounts(*, privileged: bool = False, shm_source: str = "") -> list[dict[str, Any]]:
    """proc, /dev, devpts, shm, mqueue, sysfs and cgroup (read-only unless privileged)."""
    ro = [] if privileged else ["ro"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
    ]
    if shm_source:
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": shm_source,
                "options": ["rbind", "rprivate", "rw"],
            }
        )
    else:
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            }
        )
    mounts += [
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", *ro],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", *ro],
        },
    ]
    return mounts


def volume_mount(mount: Mount) -> dict[str, Any]:
    """A protocol Mount as an OCI mount: binds are recursive and private, tmpfs is memory."""
    if mount.kind == "tmpfs":
        options = ["nosuid", "nodev", "mode=1777"]
        if mount.read_only:
            options.append("ro")
        return {
            "destination": mount.container_path,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": options + list(mount.options),
        }
    options = ["rbind", "rprivate", "ro" if mount.read_only else "rw"]
    return {
        "destination": mount.container_path,
        "type": "bind",
        "source": mount.host_path,
        "options": options + [o for o in mount.options if o not in options],
    }


def sandbox_namespaces(
    config: SandboxConfig, pause_pid: int, netns_path: str, ns_paths: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """The namespaces a container of this pod joins (by path) or gets new (mount, maybe pid).
    IPC and UTS are the pinned ``ns_paths`` (``ipc``, ``uts``) or, for sandboxes of older
    agents, the pause process's."""
    paths = (
        ns_paths
        if ns_paths is not None
        else {
            "ipc": f"/proc/{pause_pid}/ns/ipc",
            "uts": f"/proc/{pause_pid}/ns/uts",
        }
    )
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if not config.host_pid:
        if config.share_process_namespace and pause_pid:
            namespaces.append({"type": "pid", "path": f"/proc/{pause_pid}/ns/pid"})
        else:
            namespaces.append({"type": "pid"})
    if not config.host_ipc:
        namespaces.append({"type": "ipc", "path": paths["ipc"]})
    if not config.host_network:
        namespaces.append({"type": "uts", "path": paths["uts"]})
        if netns_path:
            namespaces.append({"type": "network", "path": netns_path})
    return namespaces


def pause_namespaces(
    config: SandboxConfig, netns_path: str, ns_paths: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """The pause process's namespaces: a new PID namespace, the pinned IPC and UTS ones."""
    paths = ns_paths or {}
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if not config.host_pid:
        namespaces.append({"type": "pid"})
    if not config.host_ipc:
        namespaces.append({"type": "ipc", **({"path": paths["ipc"]} if "ipc" in paths else {})})
    if not config.host_network:
        namespaces.append({"type": "uts", **({"path": paths["uts"]} if "uts" in paths else {})})
        if netns_path:
            namespaces.append({"type": "network", "path": netns_path})
    return namespaces


def linux_resources(config: ContainerConfig, *, swap_accounting: bool) -> dict[str, Any]:
    res = config.resources
    # deny all but runc's defaults (null, zero, tty, ...); privileged containers get every device
    resources: dict[str, Any] = {"devices": [{"allow": config.security.privileged, "access": "rwm"}]}
    cpu: dict[str, Any] = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota_us:
        cpu["quota"] = res.cpu_quota_us
        cpu["period"] = res.cpu_period_us or 100_000
    if cpu:
        resources["cpu"] = cpu
    if res.memory_limit_bytes:
        memory: dict[str, Any] = {"limit": res.memory_limit_bytes}
        if swap_accounting:  # no swap beyond the limit, as the kubelet asks containerd
            memory["swap"] = res.memory_limit_bytes
        resources["memory"] = memory
    if res.pids_limit:
        resources["pids"] = {"limit": res.pids_limit}
    return resources


def container_spec(
    config: ContainerConfig,
    *,
    sandbox: SandboxConfig,
    rootfs: str,
    cgroups_path: str,
    namespaces: list[dict[str, str]],
    shm_source: str = "",
    swap_accounting: bool = False,
    everything: list[str] | None = None,
    devices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """runc's config.json for one container of a pod.

    ``devices`` are host devices to create (privileged containers get the host's).
    """
    sec = config.security
    everything = everything if everything is not None else all_capabilities()
    caps = capabilities(sec.capabilities_add, sec.capabilities_drop, sec.privileged, everything)
    env = dict(config.env)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOSTNAME", sandbox.hostname)
    if config.tty:
        env.setdefault("TERM", "xterm")
    user: dict[str, Any] = {
        "uid": sec.run_as_user if sec.run_as_user is not None else 0,
        "gid": sec.run_as_group if sec.run_as_group is not None else 0,
    }
    if sec.supplemental_groups:
        user["additionalGids"] = list(sec.supplemental_groups)
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": user,
        "args": list(config.command),
        "env": [f"{k}={v}" for k, v in env.items()],
        "cwd": config.working_dir or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
        },
        "rlimits": default_rlimits(),
        "noNewPrivileges": sec.no_new_privileges,
    }
    mounts = default_mounts(privileged=sec.privileged, shm_source=shm_source)
    mounts += [volume_mount(m) for m in config.mounts]
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": linux_resources(config, swap_accounting=swap_accounting),
    }
    if not sec.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    if devices:
        linux["devices"] = devices
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": sec.read_only_root_filesystem},
        "mounts": mounts,
        "annotations": {
            "io.kubernetes.pod.name": sandbox.pod_name,
            "io.kubernetes.pod.namespace": sandbox.namespace,
            "io.kubernetes.pod.uid": sandbox.pod_uid,
            "io.kubernetes.container.name": config.name,
        },
        "linux": linux,
    }


PAUSE_SCRIPT = 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'


def pause_spec(
    config: SandboxConfig,
    *,
    rootfs: str,
    cgroups_path: str,
    netns_path: str,
    ns_paths: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The pod's pause process: busybox sh, init of the pod's PID namespace (shareProcessNamespace)."""
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh", "-c", PAUSE_SCRIPT],
            "env": [f"PATH={DEFAULT_PATH}"],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "mounts": [
            {
                "destination": "/proc",
                "type": "proc",
                "source": "proc",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
        ],
        "annotations": {
            "io.kubernetes.pod.name": config.pod_name,
            "io.kubernetes.pod.namespace": config.namespace,
            "io.kubernetes.pod.uid": config.pod_uid,
            "io.kubernetes.container.name": "POD",
        },
        "linux": {
            "namespaces": pause_namespaces(config, netns_path, ns_paths),
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 2}},
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if not config.host_network and not (ns_paths or {}).get("uts"):
        spec["hostname"] = config.hostname  # a UTS namespace of its own (joined ones have theirs set)
    return spec


def overlay_options(layers: list[str], upper: str, work: str) -> str:
    """Mount data for overlayfs: lower dirs top first (``layers`` come lowest first)."""
    lower = ":".join(reversed(layers))
    return f"lowerdir={lower},upperdir={upper},workdir={work}"
