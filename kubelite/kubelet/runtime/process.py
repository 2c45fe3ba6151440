"""The process runtime: containers as plain host processes, without any isolation.

For machines without root or runc: the pod worker, probes, logs, exec and
attach all work, but a "container" shares the host's filesystem, network,
users and PIDs, and there are no resource limits. It says so loudly when it
starts. Each container runs under the same shim as with runc (``mode:
process``): in its own session, its output in the CRI log format, its exit
status on disk, so containers outlive agent restarts here too.

Resolution: the command's first word is looked up in the image's layer
directories (top layer first) under the container's ``PATH``, then on the
host's ``PATH``. The working directory is the image's ``working_dir`` inside
the top layer if it exists there, else that path on the host if it exists,
else the container's own scratch directory. Volume mounts cannot be made
without root; they are ignored (with a log line), and each Mount's
``container_path`` -> ``host_path`` pair is given to the process in the
environment variable ``KUBELITE_MOUNTS`` (``dst=src:dst=src``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from kubelite.kubelet.runtime import shimclient
from kubelite.kubelet.runtime.base import ShimRuntime, new_id
from kubelite.kubelet.runtime.interface import (
    ContainerState,
    NotFound,
    RuntimeFailure,
    Sandbox,
    SandboxConfig,
)
from kubelite.kubelet.runtime.oci import DEFAULT_PATH

log = logging.getLogger(__name__)


def resolve_command(argv0: str, layers: list[str], path: str) -> str:
    """The executable for ``argv0``: in the layers (top first), then on the host."""
    if not argv0:
        raise RuntimeFailure("empty command")
    candidates: list[str] = []
    if "/" in argv0:
        rel = argv0.lstrip("/")
        candidates += [os.path.join(layer, rel) for layer in reversed(layers)]
        candidates.append(argv0 if os.path.isabs(argv0) else os.path.abspath(argv0))
    else:
        dirs = [d for d in path.split(":") if d]
        for layer in reversed(layers):
            candidates += [os.path.join(layer, d.lstrip("/"), argv0) for d in dirs]
        host_path = os.environ.get("PATH", DEFAULT_PATH)
        candidates += [os.path.join(d, argv0) for d in (*dirs, *host_path.split(":")) if d]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeFailure(f'exec: "{argv0}": executable file not found')


class ProcessRuntime(ShimRuntime):
    """Plain child processes, no isolation; see the module docstring."""

    name = "process"
    version = "0.1.0"

    def __init__(self, root_dir: str) -> None:
        super().__init__(root_dir)

    async def start(self) -> None:
        log.warning(
            "container runtime 'process': containers run as plain host processes WITHOUT ANY "
            "ISOLATION (no namespaces, no cgroup limits, no volume mounts, host network and files)"
        )
        await super().start()

    # --- sandboxes: records only; a pod is a group of processes ----------------------------------
    async def run_sandbox(self, config: SandboxConfig) -> Sandbox:
        from dataclasses import asdict

        sid = new_id()
        record = {
            "id": sid,
            "config": asdict(config),
            "netns_path": "",
            "pid": 0,
            "ready": True,
            "created_at": time.time(),
        }

        def write() -> None:
            os.makedirs(self._sandbox_dir(sid))
            self._save_sandbox(record)

        await asyncio.to_thread(write)
        return self._sandbox_from_record(record)

    async def stop_sandbox(self, sandbox_id: str) -> None:
        try:
            record = await asyncio.to_thread(self._load_sandbox, sandbox_id)
        except NotFound:
            return
        await asyncio.gather(*(self.stop_container(c.id, 0) for c in await self.list_containers(sandbox_id)))
        record["ready"] = False
        await asyncio.to_thread(self._save_sandbox, record)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self.stop_sandbox(sandbox_id)
        for c in await self.list_containers(sandbox_id):
            await self.remove_container(c.id)

        def remove() -> None:
            import shutil

            sdir = self._sandbox_dir(sandbox_id)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(sdir, "sandbox.json"))
            shutil.rmtree(sdir, ignore_errors=True)

        await asyncio.to_thread(remove)

    # --- containers -----------------------------------------------------------------------------
    def _environment(self, record: dict[str, Any], sandbox: dict[str, Any] | None) -> dict[str, str]:
        config = record["config"]
        env = dict(config.get("env", {}))
        env.setdefault("PATH", DEFAULT_PATH)
        if sandbox is not None:
            env.setdefault("HOSTNAME", sandbox["config"].get("hostname", ""))
        if config.get("mounts"):
            env["KUBELITE_MOUNTS"] = ":".join(
                f"{m['container_path']}={m['host_path']}" for m in config["mounts"]
            )
        return env

    def _working_dir(self, cdir: str, config: dict[str, Any]) -> str:
        wd = config.get("working_dir") or ""
        layers = config.get("rootfs_layers") or []
        if wd:
            if layers and os.path.isdir(os.path.join(layers[-1], wd.lstrip("/"))):
                return os.path.join(layers[-1], wd.lstrip("/"))
            if os.path.isabs(wd) and os.path.isdir(wd):
                return wd
        return os.path.join(cdir, "scratch")

    def _prepare_container(self, cdir: str, record: dict[str, Any], sandbox: dict[str, Any]) -> None:
        config = record["config"]
        os.makedirs(os.path.join(cdir, "scratch"))
        env = self._environment(record, sandbox)
        command = list(config.get("command") or [])
        if not command:
            raise RuntimeFailure("no command to run")
        command[0] = resolve_command(command[0], config.get("rootfs_layers") or [], env["PATH"])
        record["argv"] = command
        record["env"] = env
        record["cwd"] = self._working_dir(cdir, config)
        if config.get("mounts"):
            log.info(
                "process runtime: container %s: %d volume mount(s) not made (no isolation)",
                config["name"],
                len(config["mounts"]),
            )

    def _shim_spec(self, cdir: str, record: dict[str, Any]) -> dict[str, Any]:
        config = record["config"]
        return {
            "mode": "process",
            "id": record["id"],
            "argv": record["argv"],
            "env": record["env"],
            "cwd": record["cwd"],
            "log_path": record["log_path"],
            "tty": config.get("tty", False),
            "stdin": config.get("stdin", False),
            "stdin_once": config.get("stdin_once", False),
        }

    def _signal(self, cdir: str, record: dict[str, Any], sig: int) -> None:
        started = shimclient.read_json(os.path.join(cdir, "started.json")) or {}
        pid = started.get("pid", 0)
        if not shimclient.pid_alive(pid, started.get("pid_start", 0)):
            return
        # the container is its own session and process group: signal all of it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _exec_command(
        self, cdir: str, record: dict[str, Any], command: list[str], tty: bool, pid_file: str
    ) -> tuple[list[str], dict[str, str] | None, str | None]:
        env = dict(record["env"])
        argv = list(command)
        if not argv:
            raise RuntimeFailure("empty command")
        argv[0] = resolve_command(argv[0], record["config"].get("rootfs_layers") or [], env["PATH"])
        return argv, env, record["cwd"]

    async def stats(self, container_id: str) -> dict[str, float]:
        """From /proc of the container's main process: ``usageCoreNanoSeconds``, ``rssBytes``,
        ``workingSetBytes`` (= rss) and ``usageBytes`` (= rss)."""
        cdir, record = await asyncio.to_thread(self._load_container, container_id)
        status = shimclient.status_from_disk(cdir, record)
        stats: dict[str, float] = {"timestamp": time.time()}
        if status.state != ContainerState.RUNNING:
            return stats
        stats.update(await asyncio.to_thread(_proc_stats, status.pid))
        return stats


def _proc_stats(pid: int) -> dict[str, float]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rfind(b")") + 2 :].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
        rss = float(int(fields[21]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, IndexError, ValueError):
        return {}
    return {"usageCoreNanoSeconds": cpu * 1e9, "rssBytes": rss, "workingSetBytes": rss, "usageBytes": rss}
