"""What the runc and process runtimes share: on-disk records, the shim, status, attach, exec.

Layout under the runtime's root directory::

    sandboxes/<id>/sandbox.json     the SandboxConfig, netns path, pause pid
    containers/<id>/container.json  the ContainerConfig, sandbox id, created_at, log path
    containers/<id>/...             the shim's files (see shimclient.py) and, for runc,
                                    bundle/ (config.json, rootfs/)

(runc keeps this root on a tmpfs and the containers' upper/ and work/ on disk).

Records are written before anything they describe exists and removed after
it is gone, so an interrupted call leaves a record that ``list_*`` reports
(not ready / exited) and ``remove_*`` cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from typing import Any

from kubelite.kubelet.runtime import shimclient
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecResult,
    ExecSession,
    NotFound,
    RuntimeFailure,
    Sandbox,
    SandboxConfig,
)

STOP_POLL = 0.02
KILL_WAIT = 10.0  # after SIGKILL, how long to wait for the exit status before giving up


def new_id() -> str:
    """64 hex digits, as container IDs look in Kubernetes."""
    return secrets.token_hex(32)


class _Members:
    """Which ids each owner holds (a pod uid its sandboxes, a sandbox its containers), so that
    one pod's or one sandbox's records are found without reading every record. Thread-safe:
    records are read and written on the executor's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, set[str]] = {}
        self._owner: dict[str, str] = {}

    def add(self, owner: str, member: str) -> None:
        with self._lock:
            self._ids.setdefault(owner, set()).add(member)
            self._owner[member] = owner

    def discard(self, member: str) -> None:
        with self._lock:
            owner = self._owner.pop(member, None)
            ids = self._ids.get(owner, set()) if owner is not None else set()
            ids.discard(member)
            if owner is not None and not ids:
                self._ids.pop(owner, None)

    def of(self, owner: str) -> list[str]:
        with self._lock:
            return sorted(self._ids.get(owner, ()))


class ShimRuntime:
    """The shared half of ``RuncRuntime`` and ``ProcessRuntime``; see the module docstring."""

    name = ""
    version = ""

    def __init__(self, root_dir: str) -> None:
        self.root_dir = os.path.abspath(root_dir)
        self.sandboxes_dir = os.path.join(self.root_dir, "sandboxes")
        self.containers_dir = os.path.join(self.root_dir, "containers")
        # Parsed records, so that listing N containers is not N JSON reads each time (every pod
        # worker lists its containers several times per sync). container.json never changes
        # once written; sandbox.json is re-read when its file was replaced (inode, mtime, size).
        self._container_records: dict[str, dict[str, Any]] = {}
        self._sandbox_records: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        # Kept with the records: every record parsed or written is indexed, every one found gone
        # is dropped, and ``start`` reads them all (a restarted agent adopts what is there).
        self._sandboxes_of_pod = _Members()
        self._containers_of_sandbox = _Members()
        self.shims = shimclient.ShimLauncher(sys.executable)  # forks the containers' shims

    # --- hooks ----------------------------------------------------------------------------------
    def _prepare_container(self, cdir: str, record: dict[str, Any], sandbox: dict[str, Any]) -> None:
        """Blocking: make what the container needs before its record exists (rootfs, bundle)."""

    def _shim_spec(self, cdir: str, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _signal(self, cdir: str, record: dict[str, Any], sig: int) -> None:
        """Blocking: send ``sig`` to the container (all of its processes for SIGKILL)."""
        raise NotImplementedError

    def _release_container(self, cdir: str, record: dict[str, Any]) -> None:
        """Blocking: undo ``_prepare_container`` (the container has exited)."""

    def _exec_command(
        self, cdir: str, record: dict[str, Any], command: list[str], tty: bool, pid_file: str
    ) -> tuple[list[str], dict[str, str] | None, str | None]:
        """argv, env, cwd of a process running ``command`` in the container; it writes
        the command's host pid to ``pid_file`` when it can (for kills on timeout)."""
        raise NotImplementedError

    def _sandbox_ready(self, record: dict[str, Any]) -> bool:
        return bool(record.get("ready"))

    # --- records --------------------------------------------------------------------------------
    def _sandbox_dir(self, sandbox_id: str) -> str:
        return os.path.join(self.sandboxes_dir, sandbox_id)

    def _container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def _load_sandbox(self, sandbox_id: str) -> dict[str, Any]:
        record = self._sandbox_record(sandbox_id)
        if record is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        return dict(record)

    def _sandbox_record(self, sandbox_id: str) -> dict[str, Any] | None:
        """The sandbox's record, parsed again only when the file was replaced (read-only)."""
        path = os.path.join(self._sandbox_dir(sandbox_id), "sandbox.json")
        try:
            st = os.stat(path)
        except OSError:
            self._forget_sandbox(sandbox_id)
            return None
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._sandbox_records.get(sandbox_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        record = shimclient.read_json(path)
        if record is not None:
            self._sandbox_records[sandbox_id] = (version, record)
            self._sandboxes_of_pod.add(record["config"]["pod_uid"], sandbox_id)
        return record

    def _forget_sandbox(self, sandbox_id: str) -> None:
        self._sandbox_records.pop(sandbox_id, None)
        self._sandboxes_of_pod.discard(sandbox_id)

    def _container_record(self, container_id: str) -> dict[str, Any] | None:
        """The container's record (read-only; cached while its directory exists)."""
        cdir = self._container_dir(container_id)
        record = self._container_records.get(container_id)
        if record is not None:
            return record
        record = shimclient.read_json(os.path.join(cdir, "container.json"))
        if record is not None:
            self._container_records[container_id] = record
            self._containers_of_sandbox.add(record["sandbox_id"], container_id)
        return record

    def _forget_container(self, container_id: str) -> None:
        self._container_records.pop(container_id, None)
        self._containers_of_sandbox.discard(container_id)

    def _save_sandbox(self, record: dict[str, Any]) -> None:
        shimclient.write_json(os.path.join(self._sandbox_dir(record["id"]), "sandbox.json"), record)
        self._sandboxes_of_pod.add(record["config"]["pod_uid"], record["id"])

    def _load_container(self, container_id: str) -> tuple[str, dict[str, Any]]:
        cdir = self._container_dir(container_id)
        if container_id in self._container_records and not os.path.exists(
            os.path.join(cdir, "container.json")
        ):
            self._forget_container(container_id)  # removed by another runtime instance
        record = self._container_record(container_id)
        if record is None:
            raise NotFound(f"container {container_id} not found")
        return cdir, dict(record)

    def _sandbox_from_record(self, record: dict[str, Any]) -> Sandbox:
        return Sandbox(
            id=record["id"],
            config=SandboxConfig(**record["config"]),
            netns_path=record.get("netns_path", ""),
            pid=record.get("pid", 0),
            ready=self._sandbox_ready(record),
            created_at=record.get("created_at", 0.0),
        )

    def _container_ids(self) -> list[str]:
        try:
            return sorted(os.listdir(self.containers_dir))
        except FileNotFoundError:
            return []

    def _sandbox_ids(self) -> list[str]:
        try:
            return sorted(os.listdir(self.sandboxes_dir))
        except FileNotFoundError:
            return []

    # --- the protocol ---------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._start_blocking)

    def _start_blocking(self) -> None:
        os.makedirs(self.sandboxes_dir, exist_ok=True)
        os.makedirs(self.containers_dir, exist_ok=True)
        self.shims.prestart()  # the shim zygote, before the first container needs it
        # a create interrupted before its record was written leaves a directory without one
        for cid in self._container_ids():
            cdir = self._container_dir(cid)
            if not os.path.exists(os.path.join(cdir, "container.json")):
                self._release_container(cdir, {"id": cid})
                shutil.rmtree(cdir, ignore_errors=True)
            else:
                self._container_record(cid)  # indexed by sandbox
        for sid in self._sandbox_ids():  # indexed by pod
            self._sandbox_record(sid)

    async def close(self) -> None:
        # The zygote would end by itself once this process ends, but as nobody's child then:
        # stopped here it is reaped, and an agent stopped in-process (tests) leaves none behind.
        await asyncio.to_thread(self.shims.close)

    async def list_sandboxes(self, pod_uid: str | None = None) -> list[Sandbox]:
        def scan() -> list[Sandbox]:
            out = []
            # What was known before the directory was read: a record made while it is read
            # (by a pod worker, on another thread) is not one that went away.
            known = set(self._sandbox_records)
            ids = self._sandbox_ids() if pod_uid is None else self._sandboxes_of_pod.of(pod_uid)
            for sid in ids:
                record = self._sandbox_record(sid)
                if record is not None:
                    out.append(self._sandbox_from_record(record))
            if pod_uid is None:
                for gone in known - set(ids):
                    self._forget_sandbox(gone)
            return out

        return await asyncio.to_thread(scan)

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        cid = new_id()
        cdir = self._container_dir(cid)
        record: dict[str, Any] = {
            "id": cid,
            "sandbox_id": sandbox.id,
            "config": shimclient.config_to_dict(config),
            "created_at": time.time(),
            "log_path": config.log_path or os.path.join(cdir, "container.log"),
        }

        def create() -> None:  # one trip to a worker thread per create
            sandbox_record = self._load_sandbox(sandbox.id)
            os.makedirs(cdir)
            try:
                self._prepare_container(cdir, record, sandbox_record)
                shimclient.write_json(os.path.join(cdir, "container.json"), record)
                self._containers_of_sandbox.add(sandbox.id, cid)
            except BaseException:
                self._release_container(cdir, record)
                shutil.rmtree(cdir, ignore_errors=True)
                raise

        await asyncio.to_thread(create)
        return cid

    async def start_container(self, container_id: str) -> None:
        def spawn() -> int:  # one trip to a worker thread per start
            cdir, record = self._load_container(container_id)
            if os.path.exists(os.path.join(cdir, "shim.spec")):
                return -1  # started before
            return shimclient.spawn_shim(cdir, self._shim_spec(cdir, record), self.shims)

        ready_r = await asyncio.to_thread(spawn)
        if ready_r < 0:
            status = await self.container_status(container_id)
            if status.state == ContainerState.RUNNING:
                return
            raise RuntimeFailure(f"container {container_id} was started before; create a new one")
        await shimclient.wait_shim_ready(ready_r)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        try:
            cdir, record = await asyncio.to_thread(self._load_container, container_id)
        except NotFound:
            return
        await self._stop(cdir, record, timeout)

    async def _stop(self, cdir: str, record: dict[str, Any], timeout: float) -> None:
        if not await asyncio.to_thread(os.path.exists, os.path.join(cdir, "started.json")):
            return
        if await self._wait_exited(cdir, record, 0):
            return
        if timeout > 0:
            await asyncio.to_thread(self._signal, cdir, record, signal.SIGTERM)
            if await self._wait_exited(cdir, record, timeout):
                return
        await asyncio.to_thread(self._signal, cdir, record, signal.SIGKILL)
        if not await self._wait_exited(cdir, record, KILL_WAIT):
            raise RuntimeFailure(f"container {record['id']} did not exit after SIGKILL")

    async def _wait_exited(self, cdir: str, record: dict[str, Any], timeout: float) -> bool:
        """Until the shim has recorded the exit (or is gone); True if it has."""
        deadline = time.monotonic() + timeout
        while True:
            if await asyncio.to_thread(_exited, cdir, record):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(STOP_POLL)

    async def remove_container(self, container_id: str) -> None:
        try:
            cdir, record = await asyncio.to_thread(self._load_container, container_id)
        except NotFound:
            return
        await self._stop(cdir, record, 0)

        def remove() -> None:
            self._release_container(cdir, record)
            # the record goes first so that a half-removed container is not listed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(cdir, "container.json"))
            self._forget_container(container_id)
            shutil.rmtree(cdir, ignore_errors=True)

        await asyncio.to_thread(remove)

    async def writable_layer_bytes(self, container_id: str) -> int:
        """No writable layer of its own (the process runtime); runc overrides this."""
        return 0

    async def container_status(self, container_id: str) -> ContainerStatus:
        def read() -> ContainerStatus:
            cdir, record = self._load_container(container_id)
            return shimclient.status_from_disk(cdir, record)

        return await asyncio.to_thread(read)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        def scan() -> list[ContainerStatus]:
            out = []
            known = set(self._container_records)  # as in list_sandboxes
            ids = self._container_ids() if sandbox_id is None else self._containers_of_sandbox.of(sandbox_id)
            for cid in ids:
                if sandbox_id is not None and not os.path.exists(
                    os.path.join(self._container_dir(cid), "container.json")
                ):
                    self._forget_container(cid)  # removed by another runtime instance
                    continue
                record = self._container_record(cid)
                if record is not None:
                    out.append(shimclient.status_from_disk(self._container_dir(cid), record))
            if sandbox_id is None:
                for gone in known - set(ids):
                    self._forget_container(gone)
            return out

        return await asyncio.to_thread(scan)

    async def _running(self, container_id: str) -> tuple[str, dict[str, Any]]:
        cdir, record = await asyncio.to_thread(self._load_container, container_id)
        status = shimclient.status_from_disk(cdir, record)
        if status.state != ContainerState.RUNNING:
            raise RuntimeFailure(f"container {container_id} is not running ({status.state})")
        return cdir, record

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        """Raises ``TimeoutError`` when ``timeout`` (> 0) passes; the command is killed then."""
        cdir, record = await self._running(container_id)
        pid_file = os.path.join(cdir, f"exec-{secrets.token_hex(6)}.pid")
        argv, env, cwd = self._exec_command(cdir, record, command, False, pid_file)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout if timeout > 0 else None)
        except BaseException:
            _kill_exec(pid_file)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(proc.wait(), 5)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pid_file)
        code = proc.returncode if proc.returncode is not None else 255
        return ExecResult(exit_code=128 - code if code < 0 else code, stdout=out, stderr=err)

    async def exec(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        cdir, record = await self._running(container_id)
        pid_file = os.path.join(cdir, f"exec-{secrets.token_hex(6)}.pid")
        argv, env, cwd = self._exec_command(cdir, record, command, tty, pid_file)
        session = await shimclient.SubprocessSession.start(
            argv, stdin=stdin, tty=tty, env=env, cwd=cwd, kill=lambda: _kill_exec(pid_file)
        )
        return session

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> ExecSession:
        """The container's own streams, from now on (earlier output is in the log).
        ``stdin`` only reaches containers created with ``stdin: true``."""
        cdir, _record = await self._running(container_id)
        return await shimclient.AttachSession.connect(cdir)


def _exited(cdir: str, record: dict[str, Any]) -> bool:
    """The exit is recorded and the shim is done (the runc container deleted)."""
    status = shimclient.status_from_disk(cdir, record)
    return status.state == ContainerState.EXITED and not shimclient.shim_alive(cdir)


def _kill_exec(pid_file: str) -> None:
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
