"""The fake runtime: sandboxes and containers in memory, no processes at all.

For unit tests of the pod worker and for simulated nodes. Containers "run"
from ``start_container`` until stopped or until their scripted exit; time is
an injectable clock (``kubelite.client.clock``), and state is computed when
asked, so a ``FakeClock`` test moves containers along just by advancing time.

Scripting, per container name (or with ``behavior_for`` for anything else)::

    rt = FakeRuntime(clock)
    rt.behaviors["app"] = FakeBehavior(exit_code=3, exit_after=5)      # exits 3 after 5 s
    rt.behaviors["db"] = [FakeBehavior(fail_start="no such file"),     # attempt 0 cannot start,
                          FakeBehavior()]                             # later attempts run
    rt.behaviors["hog"] = FakeBehavior(oom=True, exit_after=1)         # OOMKilled, 137
    rt.behaviors["stubborn"] = FakeBehavior(term_exit_code=None)       # ignores SIGTERM
    rt.exec_results[("app", ("cat", "/tmp/healthy"))] = ExecResult(1, b"", b"no such file")

``calls`` records every protocol call as ``(method, id or name)`` for assertions.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from kubelite.client.clock import REAL_CLOCK, Clock
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
from kubelite.kubelet.runtime.shimio import format_log_line


@dataclass
class FakeBehavior:
    """What one fake container does."""

    exit_code: int = 0
    exit_after: float | None = None  # seconds after start; None: runs until stopped
    oom: bool = False  # the scripted exit is an OOM kill (exit code 137, reason OOMKilled)
    fail_start: str = ""  # start_container raises this (the container: exited 128, StartError)
    term_exit_code: int | None = 143  # exit code on SIGTERM; None: ignores it (SIGKILL, 137)
    logs: list[str] = field(default_factory=list)  # stdout lines written to log_path at start
    cpu_nano_cores: float = 1_000_000.0
    memory_bytes: float = 8 << 20
    rootfs_bytes: float = 0.0  # what its writable layer holds (writable_layer_bytes)


@dataclass
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    behavior: FakeBehavior
    started_mono: float = 0.0


class FakeSession:
    """An exec or attach with scripted output and exit code."""

    def __init__(self, result: ExecResult) -> None:
        self._result = result
        self.stdin = bytearray()
        self.stdin_closed = False
        self.size: tuple[int, int] | None = None

    async def write_stdin(self, data: bytes) -> None:
        self.stdin += data

    async def close_stdin(self) -> None:
        self.stdin_closed = True

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        if self._result.stdout:
            yield 1, self._result.stdout
        if self._result.stderr:
            yield 2, self._result.stderr

    async def resize(self, width: int, height: int) -> None:
        self.size = (width, height)

    async def wait(self) -> int:
        return self._result.exit_code

    async def kill(self) -> None:
        pass


class FakeRuntime:
    """In-memory runtime; see the module docstring."""

    name = "fake"
    version = "0.1.0"

    def __init__(self, clock: Clock = REAL_CLOCK) -> None:
        self.clock = clock
        self.behaviors: dict[str, FakeBehavior | list[FakeBehavior]] = {}
        self.behavior_for: Callable[[ContainerConfig], FakeBehavior | None] | None = None
        self.exec_results: dict[tuple[str, tuple[str, ...]], ExecResult] = {}
        self.on_exec: Callable[[ContainerStatus, list[str]], ExecResult] | None = None
        self.sandbox_error = ""  # run_sandbox raises this when set
        self.calls: list[tuple[str, str]] = []
        self.sandboxes: dict[str, Sandbox] = {}
        self.containers: dict[str, _Container] = {}
        self._pids = iter(range(1000, 1 << 30))

    # --- helpers --------------------------------------------------------------------------------
    def _behavior(self, config: ContainerConfig) -> FakeBehavior:
        if self.behavior_for is not None:
            found = self.behavior_for(config)
            if found is not None:
                return found
        scripted = self.behaviors.get(config.name)
        if isinstance(scripted, list):
            return scripted[min(config.attempt, len(scripted) - 1)] if scripted else FakeBehavior()
        return scripted or FakeBehavior()

    def _get(self, container_id: str) -> _Container:
        c = self.containers.get(container_id)
        if c is None:
            raise NotFound(f"container {container_id} not found")
        self._advance(c)
        return c

    def _advance(self, c: _Container) -> None:
        """Apply a scripted exit whose time has come."""
        b = c.behavior
        if c.status.state != ContainerState.RUNNING or b.exit_after is None:
            return
        if self.clock.monotonic() - c.started_mono >= b.exit_after:
            finished = c.status.started_at + b.exit_after
            if b.oom:
                self._exit(c, 137, "OOMKilled", finished)
            else:
                self._exit(c, b.exit_code, "Completed" if b.exit_code == 0 else "Error", finished)

    def _exit(self, c: _Container, code: int, reason: str, finished: float | None = None) -> None:
        c.status.state = ContainerState.EXITED
        c.status.exit_code = code
        c.status.reason = reason
        c.status.pid = 0
        c.status.finished_at = self.clock.now() if finished is None else finished

    # --- the protocol ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.calls.append(("start", ""))

    async def close(self) -> None:
        pass

    async def run_sandbox(self, config: SandboxConfig) -> Sandbox:
        self.calls.append(("run_sandbox", config.pod_name))
        if self.sandbox_error:
            raise RuntimeFailure(self.sandbox_error)
        sid = secrets.token_hex(32)
        netns = "" if config.host_network else f"/var/run/netns/fake-{sid[:12]}"
        sandbox = Sandbox(id=sid, config=config, netns_path=netns, pid=0, created_at=self.clock.now())
        self.sandboxes[sid] = sandbox
        return replace(sandbox)

    async def stop_sandbox(self, sandbox_id: str) -> None:
        self.calls.append(("stop_sandbox", sandbox_id))
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        for cid, c in list(self.containers.items()):
            if c.status.sandbox_id == sandbox_id:
                await self.stop_container(cid, 0)
        sandbox.ready = False

    async def remove_sandbox(self, sandbox_id: str) -> None:
        self.calls.append(("remove_sandbox", sandbox_id))
        if sandbox_id not in self.sandboxes:
            return
        await self.stop_sandbox(sandbox_id)
        for cid, c in list(self.containers.items()):
            if c.status.sandbox_id == sandbox_id:
                del self.containers[cid]
        del self.sandboxes[sandbox_id]

    async def list_sandboxes(self, pod_uid: str | None = None) -> list[Sandbox]:
        return [replace(s) for s in self.sandboxes.values() if pod_uid in (None, s.config.pod_uid)]

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        self.calls.append(("create_container", config.name))
        if sandbox.id not in self.sandboxes:
            raise NotFound(f"sandbox {sandbox.id} not found")
        if not self.sandboxes[sandbox.id].ready:
            raise RuntimeFailure(f"sandbox {sandbox.id} is not ready")
        cid = secrets.token_hex(32)
        status = ContainerStatus(
            id=cid,
            sandbox_id=sandbox.id,
            name=config.name,
            attempt=config.attempt,
            state=ContainerState.CREATED,
            image=config.image,
            image_id=config.image_id,
            created_at=self.clock.now(),
            log_path=config.log_path,
            labels=dict(config.labels),
        )
        self.containers[cid] = _Container(status=status, config=config, behavior=self._behavior(config))
        return cid

    async def start_container(self, container_id: str) -> None:
        self.calls.append(("start_container", container_id))
        c = self._get(container_id)
        if c.status.state == ContainerState.RUNNING:
            return
        if c.status.state != ContainerState.CREATED:
            raise RuntimeFailure(f"container {container_id} was started before; create a new one")
        if c.behavior.fail_start:
            self._exit(c, 128, "StartError")
            c.status.message = c.behavior.fail_start
            raise RuntimeFailure(c.behavior.fail_start)
        c.status.state = ContainerState.RUNNING
        c.status.pid = next(self._pids)
        c.status.started_at = self.clock.now()
        c.started_mono = self.clock.monotonic()
        if c.behavior.logs and c.config.log_path:
            await asyncio.to_thread(_write_log, c.config.log_path, c.behavior.logs)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        self.calls.append(("stop_container", container_id))
        c = self.containers.get(container_id)
        if c is None:
            return
        self._advance(c)
        if c.status.state == ContainerState.CREATED:
            self._exit(c, 0, "")
            return
        if c.status.state != ContainerState.RUNNING:
            return
        if c.behavior.term_exit_code is not None and timeout > 0:
            code = c.behavior.term_exit_code
            self._exit(c, code, "Completed" if code == 0 else "Error")
            return
        if timeout > 0:
            await self.clock.sleep(timeout)
            self._advance(c)
            if c.status.state != ContainerState.RUNNING:
                return
        self._exit(c, 137, "Error")

    async def remove_container(self, container_id: str) -> None:
        self.calls.append(("remove_container", container_id))
        if container_id in self.containers:
            await self.stop_container(container_id, 0)
            del self.containers[container_id]

    async def container_status(self, container_id: str) -> ContainerStatus:
        return replace(self._get(container_id).status)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        out = []
        for c in self.containers.values():
            self._advance(c)
            if sandbox_id is None or c.status.sandbox_id == sandbox_id:
                out.append(replace(c.status))
        return out

    def _exec_result(self, c: _Container, command: list[str]) -> ExecResult:
        if c.status.state != ContainerState.RUNNING:
            raise RuntimeFailure(f"container {c.status.id} is not running ({c.status.state})")
        scripted = self.exec_results.get((c.status.name, tuple(command)))
        if scripted is not None:
            return scripted
        if self.on_exec is not None:
            return self.on_exec(replace(c.status), list(command))
        return ExecResult(exit_code=0, stdout=b"", stderr=b"")

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        self.calls.append(("exec_sync", container_id))
        return self._exec_result(self._get(container_id), command)

    async def exec(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        self.calls.append(("exec", container_id))
        return FakeSession(self._exec_result(self._get(container_id), command))

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> ExecSession:
        self.calls.append(("attach", container_id))
        c = self._get(container_id)
        if c.status.state != ContainerState.RUNNING:
            raise RuntimeFailure(f"container {container_id} is not running ({c.status.state})")
        return FakeSession(ExecResult(exit_code=0, stdout=b"", stderr=b""))

    async def stats(self, container_id: str) -> dict[str, float]:
        c = self._get(container_id)
        now = self.clock.now()
        if c.status.state != ContainerState.RUNNING:
            return {"timestamp": now}
        elapsed = max(0.0, self.clock.monotonic() - c.started_mono)
        return {
            "timestamp": now,
            "usageNanoCores": c.behavior.cpu_nano_cores,
            "usageCoreNanoSeconds": c.behavior.cpu_nano_cores * elapsed,
            "workingSetBytes": c.behavior.memory_bytes,
            "usageBytes": c.behavior.memory_bytes,
            "rssBytes": c.behavior.memory_bytes,
        }

    async def writable_layer_bytes(self, container_id: str) -> int:
        return int(self._get(container_id).behavior.rootfs_bytes)


def _write_log(path: str, lines: list[str]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "ab") as f:
        for line in lines:
            f.write(format_log_line("stdout", line.encode(), False))
