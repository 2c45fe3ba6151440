"""The runc runtime: real isolation with runc (1.1.x), overlayfs and cgroup v1 (root only).

A pod sandbox is a network namespace pinned at ``/var/run/netns/kubelite-<id>``
(as ``ip netns add`` does; the CNI code gets it as ``Sandbox.netns_path``;
none with hostNetwork), IPC and UTS namespaces (hostname = the pod's) pinned
in the sandbox directory (``pinns.py``: no process holds them), and a
pod-wide ``/dev/shm`` tmpfs. Containers join them by path. Only with
shareProcessNamespace is there a pause process (busybox ``sh`` from the
``busybox-static`` package, in a read-only rootfs shared by all pods), run
by runc in the pinned namespaces and a new PID namespace, which containers
join at ``/proc/<pause pid>/ns/pid``. Sandboxes of older agents (a pause
process holding IPC and UTS, no ``ns`` in the record) are still adopted.

A container is an OCI bundle (``containers/<id>/bundle``): ``rootfs`` is an
overlayfs of the image's layer directories mounted by us, with its upper and
work directories in ``layers/<id>``; ``config.json`` comes from
``oci.container_spec``. Its cgroup is ``/<cgroup_parent or
cgroup_root/pod<uid>>/<container id>`` in every hierarchy.

What only matters while the machine is up (the sandbox and container
records, bundles, shim files, runc's state) lives in ``state/``, a tmpfs the
runtime mounts, as containerd keeps its under ``/run``: some twenty files and
directories are made and removed per pod, and on a busy ext4 each inode
allocation costs (its search skips recently deleted inodes); a restarted
agent finds the mount and its containers, and after a reboot, when the
containers are gone too, it starts empty. The containers' writable layers stay
on disk (``layers/``), as do logs and volumes (the agent's ``pods/``, ``logs/``).

Starting is one ``runc run --detach`` under the container's shim (``shim.py``,
forked by the agent's shim zygote: a child subreaper that holds the stdio,
writes the CRI log and the exit status, and ``runc delete``s the container
when it ends); runc's
state lives in ``<root>/runc``. Stopping is ``runc kill`` (SIGTERM, then
SIGKILL to all processes). Exec is ``runc exec`` (with ``--tty`` behind a
local pty for tty sessions). Not done: seccomp, AppArmor/SELinux, user
namespaces, log rotation, hugepages and blkio limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import struct
import subprocess
import time
from typing import Any

from kubelite.kubelet.runtime import cgroups, mounts, oci, pinns, shimclient
from kubelite.kubelet.runtime.base import ShimRuntime, new_id
from kubelite.kubelet.runtime.diskusage import disk_usage
from kubelite.kubelet.runtime.interface import (
    ContainerState,
    NotFound,
    RuntimeFailure,
    Sandbox,
    SandboxConfig,
)

log = logging.getLogger(__name__)

NETNS_DIR = "/var/run/netns"
NETNS_PREFIX = "kubelite-"
SHM_SIZE = "65536k"
PAUSE_TOOLS = ("sh", "sleep")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/initramfs-tools/bin/busybox")


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            endian = "<" if head[5] == 1 else ">"
            (phoff,) = struct.unpack_from(endian + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except (OSError, struct.error, IndexError):
        return False
    for i in range(phnum):
        (ptype,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if ptype == 3:  # PT_INTERP
            return False
    return True


def find_static_busybox() -> str | None:
    for path in (shutil.which("busybox") or "", *BUSYBOX_CANDIDATES):
        if path and os.path.isfile(path) and is_static_elf(path):
            return path
    return None


def runc_available(runc_binary: str = "runc") -> str | None:
    """Why the runc runtime cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which(runc_binary) is None:
        return f"{runc_binary} not found (apt-get install runc)"
    if find_static_busybox() is None:
        return "no static busybox for pause processes (apt-get install busybox-static)"
    return None


class RuncRuntime(ShimRuntime):
    """Containers with runc; see the module docstring."""

    name = "runc"

    def __init__(self, root_dir: str, runc_binary: str = "runc", cgroup_root: str = "kubepods") -> None:
        base = os.path.abspath(root_dir)
        # The records, bundles, shim files and runc's own state live on a tmpfs at
        # ``<root>/state`` (see the module docstring); the base class keeps its
        # sandboxes/ and containers/ there.
        super().__init__(os.path.join(base, "state"))
        self.state_dir = self.root_dir
        self.layers_dir = os.path.join(base, "layers")  # containers' upper/work dirs, on disk
        self.runc_binary = shutil.which(runc_binary) or runc_binary
        self.shims.sealed = (self.runc_binary,)  # containers start from a sealed copy (shim.py)
        self.cgroup_root = cgroup_root.strip("/")
        self.runc_root = os.path.join(self.state_dir, "runc")
        self.pause_rootfs = os.path.join(base, "pause-rootfs")
        self.version = ""
        self._cgroup_mounts: dict[str, str] = {}
        self._swap_accounting = False
        self._cpu = cgroups.CpuRates()

    # --- setup ----------------------------------------------------------------------------------
    def _start_blocking(self) -> None:
        self._mount_state()
        super()._start_blocking()
        os.makedirs(self.runc_root, exist_ok=True)
        os.makedirs(self.layers_dir, exist_ok=True)
        for cid in os.listdir(self.layers_dir):  # layers of containers the state lost (a reboot)
            if not os.path.isdir(self._container_dir(cid)):
                shutil.rmtree(os.path.join(self.layers_dir, cid), ignore_errors=True)
        try:
            out = subprocess.run([self.runc_binary, "--version"], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise RuntimeFailure(f"runc is not usable: {e}") from e
        first = out.stdout.splitlines()[0] if out.stdout else ""
        self.version = first.split()[-1] if first else "unknown"
        self._cgroup_mounts = cgroups.cgroup_mounts()
        memory = self._cgroup_mounts.get("memory")
        self._swap_accounting = bool(memory) and os.path.exists(
            os.path.join(memory or "", "memory.memsw.limit_in_bytes")
        )
        self._make_pause_rootfs()

    def _mount_state(self) -> None:
        """A tmpfs at ``state_dir`` unless one is there (an agent restart finds it mounted)."""
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        if not os.path.ismount(self.state_dir):
            mounts.mount("tmpfs", self.state_dir, "tmpfs", mounts.MS_NOSUID | mounts.MS_NODEV, "mode=0700")

    def release_state(self) -> None:
        """Unmount the state tmpfs (blocking), once every container and sandbox is removed:
        what ``reset`` does when the node is given up."""
        if os.path.ismount(self.state_dir):
            mounts.umount(self.state_dir)

    def _make_pause_rootfs(self) -> None:
        if os.path.exists(os.path.join(self.pause_rootfs, "bin", "sh")):
            return
        busybox = find_static_busybox()
        if busybox is None:
            raise RuntimeFailure("no static busybox for pause processes (apt-get install busybox-static)")
        tmp = self.pause_rootfs + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for d in ("bin", "proc", "dev", "sys", "etc", "tmp"):
            os.makedirs(os.path.join(tmp, d))
        shutil.copy2(busybox, os.path.join(tmp, "bin", "busybox"))
        for tool in PAUSE_TOOLS:
            os.symlink("busybox", os.path.join(tmp, "bin", tool))
        os.rename(tmp, self.pause_rootfs)

    def _runc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.runc_binary, "--root", self.runc_root, *args], capture_output=True, text=True
        )
        if check and done.returncode != 0:
            raise RuntimeFailure(f"runc {args[0]}: {done.stderr.strip() or done.returncode}")
        return done

    def _pod_cgroup(self, config: SandboxConfig) -> str:
        parent = config.cgroup_parent.strip("/") or f"{self.cgroup_root}/pod{config.pod_uid}"
        return "/" + parent

    # --- sandboxes ------------------------------------------------------------------------------
    async def run_sandbox(self, config: SandboxConfig) -> Sandbox:
        record = await asyncio.to_thread(self._run_sandbox_blocking, config)
        return self._sandbox_from_record(record)

    def _run_sandbox_blocking(self, config: SandboxConfig) -> dict[str, Any]:
        sid = new_id()
        sdir = self._sandbox_dir(sid)
        os.makedirs(sdir)
        netns_name = "" if config.host_network else NETNS_PREFIX + sid[:32]
        record: dict[str, Any] = {
            "id": sid,
            "config": _asdict_sandbox(config),
            "netns_name": netns_name,
            "netns_path": os.path.join(NETNS_DIR, netns_name) if netns_name else "",
            "pid": 0,
            "pid_start": 0,
            "ready": False,
            "created_at": time.time(),
            "cgroup": self._pod_cgroup(config),
        }
        pinned = {}
        if netns_name:
            pinned["net"] = record["netns_path"]
        if not config.host_network:
            pinned["uts"] = os.path.join(sdir, "ns-uts")
        if not config.host_ipc:
            pinned["ipc"] = os.path.join(sdir, "ns-ipc")
        record["ns"] = {k: v for k, v in pinned.items() if k != "net"}
        # A pause process only for a pod-wide PID namespace (shareProcessNamespace), as its init.
        pause = config.share_process_namespace and not config.host_pid
        record["pause"] = pause
        self._save_sandbox(record)  # first, so a failed or interrupted run can be removed
        started: dict[str, Any] = {"pid": 0, "pid_start": 0}
        try:
            if netns_name:
                pinns.shared_mount_dir(NETNS_DIR)
            pinns.pin_namespaces(pinned, config.hostname)
            if not config.host_ipc:
                shm = os.path.join(sdir, "shm")
                os.makedirs(shm)
                mounts.mount(
                    "shm",
                    shm,
                    "tmpfs",
                    mounts.MS_NOSUID | mounts.MS_NODEV | mounts.MS_NOEXEC,
                    f"mode=1777,size={SHM_SIZE}",
                )
            if pause:
                pdir = os.path.join(sdir, "pause")
                os.makedirs(pdir)
                spec = oci.pause_spec(
                    config,
                    rootfs=self.pause_rootfs,
                    cgroups_path=f"{record['cgroup']}/{sid}",
                    netns_path=record["netns_path"],
                    ns_paths=record["ns"],
                )
                shimclient.write_json(os.path.join(pdir, "config.json"), spec)
                started = shimclient.launch_shim(
                    pdir,
                    {
                        "mode": "runc",
                        "id": sid,
                        "runc": self.runc_binary,
                        "runc_root": self.runc_root,
                        "bundle": pdir,
                        "log_path": os.path.join(pdir, "pause.log"),
                    },
                    self.shims,
                )
        except BaseException as e:
            record["error"] = str(e)
            self._save_sandbox(record)
            log.warning("sandbox for pod %s/%s failed: %s", config.namespace, config.pod_name, e)
            raise
        record.update(pid=started["pid"], pid_start=started["pid_start"], ready=True)
        self._save_sandbox(record)
        return record

    def _sandbox_ready(self, record: dict[str, Any]) -> bool:
        if not record.get("ready"):
            return False
        if "ns" in record and not record.get("pause"):
            return True  # pinned namespaces live until remove_sandbox unmounts them
        return shimclient.pid_alive(record["pid"], record.get("pid_start", 0))

    async def stop_sandbox(self, sandbox_id: str) -> None:
        try:
            record = await asyncio.to_thread(self._load_sandbox, sandbox_id)
        except NotFound:
            return
        await asyncio.gather(*(self.stop_container(c.id, 0) for c in await self.list_containers(sandbox_id)))
        pdir = os.path.join(self._sandbox_dir(sandbox_id), "pause")
        await self._stop(pdir, {"id": sandbox_id, "config": {"name": "POD"}, "sandbox_id": sandbox_id}, 0)
        record["ready"] = False
        await asyncio.to_thread(self._save_sandbox, record)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        try:
            record = await asyncio.to_thread(self._load_sandbox, sandbox_id)
        except NotFound:
            return
        await self.stop_sandbox(sandbox_id)
        for c in await self.list_containers(sandbox_id):
            await self.remove_container(c.id)
        await asyncio.to_thread(self._remove_sandbox_blocking, record)

    def _remove_sandbox_blocking(self, record: dict[str, Any]) -> None:
        sdir = self._sandbox_dir(record["id"])
        if record.get("pause", "ns" not in record):
            self._runc("delete", "--force", record["id"], check=False)
        for point in mounts.mount_points(sdir):
            mounts.umount(point)
        if record.get("netns_name"):
            _delete_netns(record["netns_name"])
        cgroups.remove_cgroup(self._cgroup_mounts, f"{record['cgroup']}/{record['id']}")
        cgroups.remove_cgroup(self._cgroup_mounts, record["cgroup"])  # only if no other sandbox uses it
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(sdir, "sandbox.json"))
        shutil.rmtree(sdir, ignore_errors=True)

    # --- containers -----------------------------------------------------------------------------
    def _prepare_container(self, cdir: str, record: dict[str, Any], sandbox: dict[str, Any]) -> None:
        if not self._sandbox_ready(sandbox):
            raise RuntimeFailure(f"sandbox {sandbox['id']} is not ready")
        config = shimclient.config_from_dict(record["config"])
        sconfig = SandboxConfig(**sandbox["config"])
        bundle = os.path.join(cdir, "bundle")
        rootfs = os.path.join(bundle, "rootfs")
        layer_dir = os.path.join(self.layers_dir, record["id"])
        upper, work = os.path.join(layer_dir, "upper"), os.path.join(layer_dir, "work")
        for d in (rootfs, upper, work):
            os.makedirs(d)
        layers = list(config.rootfs_layers)
        if not layers:
            layers = [os.path.join(cdir, "empty")]
            os.makedirs(layers[0])
        for layer in layers:
            if not os.path.isdir(layer):
                raise RuntimeFailure(f"layer directory {layer} does not exist")
        mounts.mount_overlay(rootfs, layers, upper, work)
        cgroup = f"{sandbox['cgroup']}/{record['id']}"
        record["cgroup"] = cgroup
        shm = os.path.join(self._sandbox_dir(sandbox["id"]), "shm")
        spec = oci.container_spec(
            config,
            sandbox=sconfig,
            rootfs=rootfs,
            cgroups_path=cgroup,
            namespaces=oci.sandbox_namespaces(
                sconfig, sandbox["pid"], sandbox.get("netns_path", ""), sandbox.get("ns")
            ),
            shm_source="/dev/shm" if sconfig.host_ipc else shm,
            swap_accounting=self._swap_accounting,
            devices=host_devices() if config.security.privileged else None,
        )
        shimclient.write_json(os.path.join(bundle, "config.json"), spec)

    def _shim_spec(self, cdir: str, record: dict[str, Any]) -> dict[str, Any]:
        config = record["config"]
        memory = self._cgroup_mounts.get("memory")
        return {
            "mode": "runc",
            "id": record["id"],
            "runc": self.runc_binary,
            "runc_root": self.runc_root,
            "bundle": os.path.join(cdir, "bundle"),
            "log_path": record["log_path"],
            "tty": config.get("tty", False),
            "stdin": config.get("stdin", False),
            "stdin_once": config.get("stdin_once", False),
            "memory_cgroup": os.path.join(memory, record["cgroup"].strip("/")) if memory else "",
        }

    def _signal(self, cdir: str, record: dict[str, Any], sig: int) -> None:
        args = ["kill"]
        if sig == signal.SIGKILL:
            args.append("--all")
        done = self._runc(*args, record["id"], str(int(sig)), check=False)
        if done.returncode != 0:
            # not running any more, or runc's state is gone: signal the recorded pid itself
            started = shimclient.read_json(os.path.join(cdir, "started.json")) or {}
            if shimclient.pid_alive(started.get("pid", 0), started.get("pid_start", 0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(started["pid"], sig)

    def _release_container(self, cdir: str, record: dict[str, Any]) -> None:
        if os.path.exists(os.path.join(cdir, "started.json")) and not shimclient.shim_alive(cdir):
            self._runc("delete", "--force", record["id"], check=False)
        for point in mounts.mount_points(cdir):
            mounts.umount(point)
        shutil.rmtree(os.path.join(self.layers_dir, record["id"]), ignore_errors=True)
        if record.get("cgroup"):
            cgroups.remove_cgroup(self._cgroup_mounts, record["cgroup"])
        self._cpu.forget(record["id"])

    def _exec_command(
        self, cdir: str, record: dict[str, Any], command: list[str], tty: bool, pid_file: str
    ) -> tuple[list[str], dict[str, str] | None, str | None]:
        argv = [self.runc_binary, "--root", self.runc_root, "exec", "--pid-file", pid_file]
        if tty:
            argv.append("--tty")
        return [*argv, record["id"], *command], None, None

    async def stats(self, container_id: str) -> dict[str, float]:
        """cgroup counters (see ``cgroups.cgroup_stats``) plus ``usageNanoCores`` from the previous call."""
        cdir, record = await asyncio.to_thread(self._load_container, container_id)
        if shimclient.status_from_disk(cdir, record).state != ContainerState.RUNNING:
            return {"timestamp": time.time()}
        stats = await asyncio.to_thread(cgroups.cgroup_stats, self._cgroup_mounts, record["cgroup"])
        self._cpu.add(container_id, stats)
        return stats

    async def writable_layer_bytes(self, container_id: str) -> int:
        """``du`` of the container's overlay upper directory."""
        return await asyncio.to_thread(disk_usage, os.path.join(self.layers_dir, container_id, "upper"))


def _asdict_sandbox(config: SandboxConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def _delete_netns(name: str) -> None:
    path = os.path.join(NETNS_DIR, name)
    if not os.path.exists(path):
        return
    with contextlib.suppress(RuntimeFailure, OSError):
        pinns.unpin([path])
    if not os.path.exists(path):
        return
    done = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True)
    if done.returncode != 0 and os.path.exists(os.path.join(NETNS_DIR, name)):
        raise RuntimeFailure(f"ip netns delete {name}: {done.stderr.strip()}")


def host_devices() -> list[dict[str, Any]]:
    """The host's /dev character and block devices, as OCI devices (privileged containers)."""
    import stat

    devices: list[dict[str, Any]] = []
    for root, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "mqueue")]
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                if path in ("/dev/console", "/dev/ptmx") or path.startswith("/dev/tty"):
                    continue
                devices.append(
                    {
                        "path": path,
                        "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                        "major": os.major(st.st_rdev),
                        "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid,
                        "gid": st.st_gid,
                    }
                )
    return devices
