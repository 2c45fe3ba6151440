"""The container runtime protocol the node agent drives.

Shaped after Kubernetes' CRI, reduced to what the pod worker needs. A pod
is a *sandbox* (the namespaces its containers share: network, IPC, UTS and
optionally PID, held by a small pause process) plus *containers* created
inside it. Implementations: ``runc`` (real isolation, root), ``process``
(plain child processes without isolation, for machines without root or
runc — said loudly at start), ``fake`` (no processes at all: simulated
nodes and unit tests).

Every call is idempotent where it can be (removing something already gone
succeeds) and safe to cancel: a cancelled call leaves either the old or
the new state, which ``list_*`` reports truthfully afterwards. Runtimes keep
their state on disk under their root directory so a restarted node agent
finds the sandboxes and containers it had and their real state (running
containers keep running across agent restarts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class RuntimeFailure(Exception):
    """A runtime call failed; the message says why (it ends up in the pod's status)."""


class NotFound(RuntimeFailure, LookupError):
    """No such sandbox or container."""


class ContainerState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


@dataclass
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False
    # "bind" for host paths and volumes; "tmpfs" for memory-backed emptyDir (host_path unused).
    kind: str = "bind"
    options: list[str] = field(default_factory=list)


@dataclass
class Resources:
    cpu_shares: int = 0  # cgroup v1 cpu.shares from requests (0: runtime default)
    cpu_quota_us: int = 0  # cpu.cfs_quota_us from limits (0: unlimited)
    cpu_period_us: int = 100_000
    memory_limit_bytes: int = 0  # 0: unlimited
    pids_limit: int = 0


@dataclass
class SecurityConfig:
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    privileged: bool = False
    capabilities_add: list[str] = field(default_factory=list)
    capabilities_drop: list[str] = field(default_factory=list)
    read_only_root_filesystem: bool = False
    no_new_privileges: bool = False


@dataclass
class SandboxConfig:
    """What a pod's shared environment needs."""

    pod_uid: str
    pod_name: str
    namespace: str
    hostname: str
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool = False
    cgroup_parent: str = ""  # e.g. kubepods/burstable/pod<uid>
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Sandbox:
    id: str
    config: SandboxConfig
    netns_path: str  # "" with hostNetwork
    pid: int = 0  # the pause process (0 for runtimes without one)
    ready: bool = True
    created_at: float = 0.0


@dataclass
class ContainerConfig:
    """One container of a pod, fully resolved by the pod worker."""

    name: str
    image: str  # the image reference, for status
    image_id: str  # the content digest, for status
    rootfs_layers: list[str]  # unpacked layer directories, lowest first (overlayfs lower dirs)
    command: list[str]  # the argv to run (entrypoint + args already resolved)
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    log_path: str = ""  # where stdout and stderr go (Kubernetes' CRI log format, one line per write)
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False  # the container's stdin closes when the first attached client closes it
    attempt: int = 0  # restart count, kept in the container's labels
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    image: str = ""
    image_id: str = ""
    pid: int = 0
    exit_code: int | None = None
    reason: str = ""  # Completed, Error, OOMKilled, ContainerCannotRun...
    message: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    log_path: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class ExecSession(Protocol):
    """A running ``exec`` with its standard streams (for kubectl exec and attach)."""

    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """(stream, data) pairs: 1 stdout, 2 stderr, until both are closed."""
        ...

    async def resize(self, width: int, height: int) -> None: ...
    async def wait(self) -> int:
        """The exit code."""
        ...

    async def kill(self) -> None: ...


@runtime_checkable
class Runtime(Protocol):
    """The contract. ``name`` is reported in the Node's containerRuntimeVersion."""

    name: str
    version: str

    async def start(self) -> None:
        """Prepare state directories and find what a previous agent left."""
        ...

    async def close(self) -> None:
        """Stop the helpers the runtime itself started (the shim zygote); containers and
        sandboxes keep running, and a later call starts what it needs again."""
        ...

    async def run_sandbox(self, config: SandboxConfig) -> Sandbox:
        """Create the pod's namespaces (and pause process). Networking is wired
        by the caller afterwards, into ``netns_path``."""
        ...

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Stop every container of the sandbox and its pause process."""
        ...

    async def remove_sandbox(self, sandbox_id: str) -> None: ...

    async def list_sandboxes(self, pod_uid: str | None = None) -> list[Sandbox]:
        """Every sandbox, or only those of the pod ``pod_uid``."""
        ...

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        """Prepare the container (rootfs, bundle); returns its id."""
        ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns once it exited."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        """Run a command in the container and wait (exec probes, preStop hooks)."""
        ...

    async def exec(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        """Start an interactive command in the container (kubectl exec)."""
        ...

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> ExecSession:
        """The container's own standard streams (kubectl attach)."""
        ...

    async def stats(self, container_id: str) -> dict[str, float]:
        """cpu usageNanoCores/usageCoreNanoSeconds, memory workingSetBytes/usageBytes..."""
        ...

    async def writable_layer_bytes(self, container_id: str) -> int:
        """What the container's writable layer holds on disk (0 for a runtime without one):
        the eviction manager's measure of its ephemeral storage."""
        ...
