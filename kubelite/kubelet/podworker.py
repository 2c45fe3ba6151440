"""One pod, driven from what its spec asks to what runs: the kubelet's pod worker and syncPod.

A ``PodWorker`` owns one pod (by uid) on this node. Its ``run()`` loop
syncs whenever something happened (the pod changed in the API, a
container changed state in the runtime, a probe result flipped, a back-off
or deadline expired) and at least every ``resync_period``. A sync:

1. admits the pod once (resources fit what the node has left, minimal);
2. on deletion (``deletionTimestamp``) or removal from the API, terminates
   gracefully (preStop, SIGTERM, grace period, SIGKILL), tears the
   sandbox, network and volumes down and confirms the deletion with
   ``DELETE ... gracePeriodSeconds=0``, then the worker ends;
3. enforces ``activeDeadlineSeconds`` (Failed, DeadlineExceeded);
4. makes sure there is a ready sandbox with networking (re-adopting the
   one a previous agent made, re-creating it if it died), and the volumes;
5. runs init containers in order, each to completion (restarted per the
   restart policy on failure), then the containers, restarting exited ones
   per ``restartPolicy`` with the kubelet's crash-loop back-off (10 s
   doubling to 5 min, reset after 10 min of running) and killing those a
   liveness or startup probe failed;
6. computes the status (container states with reasons, restart counts,
   phase, conditions) and hands it to the status manager.

Everything the worker knows about containers comes from the runtime
(containers carry the pod uid, container name and attempt), so a
restarted agent re-adopts running containers without restarting them.
Events are the kubelet's: Pulling, Pulled, Created, Started, Killing,
BackOff, Failed, FailedMount, FailedPostStartHook, Unhealthy (from probes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import msgspec

from kubelite.api.core_v1 import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    HostIP,
    Node,
    ObjectReference,
    Pod,
    PodIP,
    PodStatus,
    VolumeMountStatus,
)
from kubelite.api.errors import StatusError
from kubelite.api.quantity import parse_quantity
from kubelite.client import REAL_CLOCK, Clock, EventRecorder, ResourceClient
from kubelite.client.clock import sleep_until_set
from kubelite.kubelet import podfiles
from kubelite.kubelet import runtime as rt
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.envvars import EnvError, ObjectSource, as_mapping, image_env, resolve_argv, resolve_env
from kubelite.kubelet.podcgroups import PodCgroups, milli_cpu_to_quota, milli_cpu_to_shares, pod_resources
from kubelite.kubelet.probes import Kind as ProbeKind
from kubelite.kubelet.probes import PodProbes, Prober, format_pod
from kubelite.kubelet.status import (
    TERMINAL_PHASES,
    StatusManager,
    encode_status,
    is_sidecar,
    pod_conditions,
    pod_phase,
    rfc3339,
)
from kubelite.kubelet.volumes import PodVolume, VolumeError, VolumeManager, container_mounts

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
MIN_GRACE = 2  # the kubelet never kills with less than this after preStop
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_CONTAINER_HASH = "io.kubernetes.container.hash"
API_ERRORS = (StatusError, aiohttp.ClientError, OSError, TimeoutError)
MOUNT_RETRY_MAX = 122.0  # seconds: the longest wait between two volume set-up attempts (2m2s)


class ImageServiceLike(Protocol):
    """``kubelite.kubelet.images.ImageService`` as the worker uses it (``status`` is optional)."""

    async def ensure(self, ref: str, pull_policy: Any) -> Any: ...


class NetworkLike(Protocol):
    """``kubelite.kubelet.network.PodNetwork`` as the worker uses it."""

    async def add(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str, *, sandbox_id: str = ""
    ) -> Any: ...
    async def delete(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str = "", *, sandbox_id: str = ""
    ) -> Any: ...


PodFiles = Callable[[Pod, Path, str], Awaitable[list[rt.interface.Mount]]]
Admit = Callable[[Pod], tuple[bool, str, str]]


@dataclass
class PodServices:
    """What every pod worker shares: the agent's runtime, APIs and managers."""

    config: AgentConfig
    runtime: rt.interface.Runtime
    images: ImageServiceLike
    volumes: VolumeManager
    objects: ObjectSource
    status: StatusManager
    recorder: EventRecorder
    prober: Prober
    pods_api: ResourceClient
    network: NetworkLike | None = None
    clock: Clock = REAL_CLOCK
    node_ip: Callable[[], str] = lambda: "127.0.0.1"
    node_allocatable: Callable[[], dict[str, str]] = dict
    node: Callable[[], Node | None] = lambda: None  # the Node as last read or written
    pod_files: PodFiles | None = None  # overrides the hosts/resolv.conf/hostname files of podfiles.py
    host_files: tuple[str, str, str] | None = None  # the node's resolv.conf, hosts, hostname (read once)
    admit: Admit | None = None
    pod_cgroups: PodCgroups | None = None  # the pod and QoS cgroup levels (runc only)
    # Blocking filesystem work goes through this (asyncio.to_thread; unit tests run it inline).
    offload: Callable[..., Awaitable[Any]] = asyncio.to_thread


@dataclass
class Backoff:
    delay: float
    last_update: float


@dataclass
class _SandboxRecord:
    id: str
    ip: str = ""
    ips: list[str] = field(default_factory=list)


async def maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def go_duration(seconds: float) -> str:
    """A duration as Go prints it: ``10s``, ``1m20s``, ``5m0s``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


def container_hash(c: Container) -> str:
    """The kubelet's container hash (since 1.31): of the name and image only, the fields of a
    pod's container that may change (resources aside), so that a running container whose image
    changed (``kubectl set image``) is restarted, and nothing else a newer version might add or
    default in the stored spec restarts containers."""
    return hashlib.sha256(msgspec.json.encode([c.name, c.image])).hexdigest()[:16]


def should_restart(policy: str, exit_code: int | None) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


def _attempt_order(c: rt.interface.ContainerStatus) -> tuple[int, float]:
    return (c.attempt, c.created_at)


class PodWorker:
    """Drives one pod; see the module docstring."""

    def __init__(self, services: PodServices, pod: Pod) -> None:
        self.s = services
        self.pod = pod
        self.uid = pod.metadata.uid
        self.clock = services.clock
        self.removed = False  # the pod is gone from the API
        self.finished = asyncio.Event()
        self.synced = asyncio.Event()  # one sync has run (its containers are known)
        self._wake = asyncio.Event()
        self._woken = False  # wake() since the current sync began
        self._relist_saw: tuple[tuple[str, str], ...] | None = None  # what a relist woke it for
        # What the last sync left settled (see ``sync``): a relist finding just this has nothing
        # new for the worker. None: nothing is (the sync did not act on all it saw).
        self._settled: tuple[tuple[str, str], ...] | None = None
        self._wake_at: list[float] = []
        self.sandbox: rt.interface.Sandbox | None = None
        self.sandbox_ids: list[str] = []
        self.pod_ip = ""
        self.pod_ips: list[str] = []
        self.volumes: dict[str, PodVolume] | None = None
        self._volumes_refreshed = 0.0
        self._mount_delay = 0.0  # the back-off of failed volume set-ups (0: none failed)
        self._mount_retry_at = 0.0
        self.history: dict[str, list[rt.interface.ContainerStatus]] = {}
        self.waiting: dict[str, tuple[str, str]] = {}
        self.backoff: dict[str, Backoff] = {}
        self.image_backoff: dict[str, tuple[Backoff, float]] = {}
        self._backoff_reported: set[tuple[str, float]] = set()
        self._messages: dict[str, str] = {}  # container id -> termination message
        self._files_for = ""
        self._file_mounts: list[rt.interface.Mount] = []
        self.admitted = False
        self.rejected = False  # admission refused the pod: it never ran here
        self._final_from_api = False
        self.final: tuple[str, str, str] | None = None  # (phase, reason, message) set by the agent
        self.terminating = False  # deleted: stopped containers stay stopped, whatever the policy
        self.evicted: str | None = None  # the eviction manager's message, once it failed the pod
        self._cgroup_removed = False  # a terminal pod's cgroup, once (not at each resync)
        self.start_time = ""
        self.sandbox_ready = False
        self.syncs = 0
        self.probes = PodProbes(services.prober, self.clock, self.wake, self._record_container)
        self._started_mono = self.clock.monotonic()

    # ------------------------------------------------------------------ outside world

    @property
    def key(self) -> str:
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}"

    def update(self, pod: Pod) -> None:
        # The watch echoing the status this worker just wrote changes nothing: already its copy
        # (same resourceVersion), or, when the echo comes before the write's own response, the
        # same pod with the status last written.
        echo = bool(pod.metadata.resourceVersion) and pod.metadata.resourceVersion == _rv_text(self.pod)
        if not echo and 0 < _rv(pod) < _rv(self.pod) and pod.metadata.uid == self.uid:
            return  # older than the copy this worker's own status write returned: nothing new
        if not echo and _rv(pod) > _rv(self.pod):
            echo = self._own_write(pod)
        self.pod = pod
        if not echo:
            self._trace(f"pod changed (resourceVersion {pod.metadata.resourceVersion})")
            self.wake()

    def _own_write(self, pod: Pod) -> bool:
        last = self.s.status.last_written(self.uid)
        if last is None or pod.metadata.uid != self.uid:
            return False
        mine, theirs = self.pod.metadata, pod.metadata
        return (
            pod.spec == self.pod.spec
            and theirs.deletionTimestamp == mine.deletionTimestamp
            and theirs.deletionGracePeriodSeconds == mine.deletionGracePeriodSeconds
            and theirs.labels == mine.labels
            and theirs.annotations == mine.annotations
            and encode_status(pod.status) == last
        )

    def evictable(self) -> bool:
        """Whether the eviction manager may evict the pod: it runs, and nothing ends it yet."""
        return (
            self.final is None
            and self.evicted is None
            and not self.terminating
            and not self.removed
            and not self.pod.metadata.deletionTimestamp
        )

    def evict(self, message: str) -> None:
        """Failed by the eviction manager: phase Failed, reason Evicted, a Warning event, and
        its containers killed without their grace period. Taken up by the next sync (one in
        progress may not go on as if nothing happened, nor report Failed while it starts
        containers)."""
        if not self.evictable():
            return
        self.evicted = message
        self.s.recorder.event(self.pod, "Warning", "Evicted", message)
        self.wake()

    def remove(self) -> None:
        """The pod was deleted from the API (or never should have been here): stop it."""
        self.removed = True
        self.wake()

    def wake(self) -> None:
        self._woken = True
        self._wake.set()

    def containers_changed(self, seen: tuple[tuple[str, str], ...]) -> None:
        """The PLEG's relist found the pod's containers as ``seen`` (see ``seen_containers``):
        a sync, unless that is what the worker's last sync settled."""
        if seen == self._settled:
            return
        self._trace("containers changed (relist)")
        self._relist_saw = seen
        self._wake.set()

    def _trace(self, what: str) -> None:
        """A debug line per startup phase, timed from the worker's creation (see bench/pod_startup.py)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pod %s: %s at +%.3f s", self.key, what, self.clock.monotonic() - self._started_mono)

    def wake_at(self, monotonic: float) -> None:
        self._wake_at.append(monotonic)

    def seen_containers(self) -> tuple[tuple[str, str], ...]:
        """(id, state) of the containers as the last refresh saw them, sorted (the PLEG's
        fingerprint: a relist finding just this has nothing new for the worker)."""
        return containers_fingerprint(c for cs in self.history.values() for c in cs)

    def containers(self) -> dict[str, list[rt.interface.ContainerStatus]]:
        """Container name -> its runtime containers, newest first (for logs and exec)."""
        return {k: list(v) for k, v in self.history.items()}

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Sync until the pod is gone and cleaned up."""
        try:
            while True:
                try:
                    if await self.sync():
                        return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("pod %s: sync failed; retrying", self.key)
                    self.wake_at(self.clock.monotonic() + 1.0)
                self.synced.set()
                if (
                    self._wake.is_set()
                    and not self._woken
                    and self._relist_saw is not None
                    and self._relist_saw == self._settled
                ):
                    self._wake.clear()  # only a relist woke it, for what this sync saw and did
                await sleep_until_set(self.clock, self._wake, self._next_wait())
                self._wake.clear()
                self._woken = False
                self._relist_saw = None
        finally:
            await self.probes.stop()
            self.synced.set()
            self.finished.set()

    def _next_wait(self) -> float:
        now = self.clock.monotonic()
        wait = self.s.config.resync_period
        self._wake_at = [t for t in self._wake_at if t > now]
        if self._wake_at:
            wait = min(wait, max(0.0, min(self._wake_at) - now))
        return wait

    async def sync(self) -> bool:
        """One pass; True once the pod is terminated, cleaned up and confirmed deleted."""
        self.syncs += 1
        self._trace(f"sync {self.syncs}")
        self._settled = None
        pod = self.pod
        if self.removed or pod.metadata.deletionTimestamp:
            await self.terminate()
            return True
        if self.final is None and self.evicted is not None:
            self.final = ("Failed", "Evicted", self.evicted)
        if self.final is None and pod.status.phase in TERMINAL_PHASES:
            # terminal in the API (written before a restart of the agent, or by another client):
            # the kubelet obeys it and stops the pod's containers
            self.final = (pod.status.phase, pod.status.reason, pod.status.message)
            self._final_from_api = True
        if not self.admitted and self.final is None and not await self._admit(pod):
            return False
        if not self.start_time:
            self.start_time = pod.status.startTime or rfc3339(self.clock.now())
        if self.final is not None:
            await self._refresh_containers()
            await self._stop_everything(reason="")
            if not self._final_from_api or self.history:
                await self._write_status()
            return False
        if await self._check_deadline(pod):
            return False
        if not await self._ensure_sandbox(pod):
            await self._write_status()
            return False
        if not await self._ensure_volumes(pod):
            await self._write_status()
            return False
        await self._refresh_containers()
        acted_on = set(self.seen_containers())
        await self._sync_containers(pod)
        await self._refresh_containers()
        after = self.seen_containers()
        # Settled: every container either as this sync found it (and acted on), or started by
        # it and still running. One that exited since (a crash right after its start) is not:
        # the relist that finds it must wake the worker for its restart or back-off, as the
        # kubelet's PLEG reports every container death.
        if all(c in acted_on or c[1] == rt.interface.ContainerState.RUNNING for c in after):
            self._settled = after
        self._sync_probes(pod)
        await self._write_status()
        return False

    # ------------------------------------------------------------------ admission, deadline

    async def _admit(self, pod: Pod) -> bool:
        self.admitted = True
        if self.s.admit is None or pod.status.startTime:
            return True
        ok, reason, message = self.s.admit(pod)
        if ok:
            return True
        self.final = ("Failed", reason, f"Pod was rejected: {message}")
        self.rejected = True
        self.s.recorder.event(pod, "Warning", reason, message)
        await self._write_status()
        return False

    async def _check_deadline(self, pod: Pod) -> bool:
        ads = pod.spec.activeDeadlineSeconds
        if ads is None or not self.start_time:
            return False
        started = _parse_time(pod.status.startTime or self.start_time)
        if started is None or self.clock.now() - started < ads:
            if started is not None:
                self.wake_at(self.clock.monotonic() + (started + ads - self.clock.now()))
            return False
        message = "Pod was active on the node longer than the specified deadline"
        self.s.recorder.event(pod, "Warning", "DeadlineExceeded", message)
        self.final = ("Failed", "DeadlineExceeded", message)
        await self._refresh_containers()
        await self._kill_all(pod, self._grace(pod), reason="DeadlineExceeded")
        await self._refresh_containers()
        await self._write_status()
        return True

    # ------------------------------------------------------------------ sandbox

    def _pod_dir(self) -> Path:
        return self.s.config.pod_dir(self.uid)

    async def _find_sandboxes(self) -> list[rt.interface.Sandbox]:
        mine = await self.s.runtime.list_sandboxes(self.uid)
        mine.sort(key=lambda sb: sb.created_at)
        self.sandbox_ids = [sb.id for sb in mine]
        return mine

    async def _ensure_sandbox(self, pod: Pod) -> bool:
        if self.sandbox is None:
            found = await self._find_sandboxes()
            if found and found[-1].ready:
                self.sandbox = found[-1]
                record = await self.s.offload(self._read_record)
                if record is not None and record.id == self.sandbox.id:
                    self.pod_ip, self.pod_ips = record.ip, record.ips
                elif pod.status.podIP:
                    self.pod_ip, self.pod_ips = pod.status.podIP, [p.ip for p in pod.status.podIPs]
                if not self.pod_ip:
                    self.pod_ip = self.s.node_ip()
                    self.pod_ips = [self.pod_ip]
                self.sandbox_ready = True
                self.start_time = pod.status.startTime or rfc3339(self.clock.now())
                log.info("pod %s: adopted sandbox %s (%s)", self.key, self.sandbox.id[:12], self.pod_ip)
                return True
        else:
            current = [sb for sb in await self.s.runtime.list_sandboxes(self.uid) if sb.id == self.sandbox.id]
            if current and current[0].ready:
                return True
            self.s.recorder.event(
                pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created."
            )
            await self._refresh_containers()
            await self._kill_all(pod, self._grace(pod), reason="")
            await self._teardown_network(self.sandbox)
            self.sandbox = None
            self.sandbox_ready = False
        if pod.spec.restartPolicy == "Never" and self.sandbox_ids:  # had a sandbox before
            await self._refresh_containers()
            if self.history:
                # Nothing of a Never pod runs again once its sandbox is gone (the kubelet's
                # computePodActions creates none for it): its phase follows from what did run.
                return False
        if not self.start_time:
            self.start_time = pod.status.startTime or rfc3339(self.clock.now())
        return await self._create_sandbox(pod)

    async def _create_sandbox(self, pod: Pod) -> bool:
        md, spec = pod.metadata, pod.spec
        cgroup = _pod_cgroup(pod)
        config = rt.interface.SandboxConfig(
            pod_uid=md.uid,
            pod_name=md.name,
            namespace=md.namespace,
            hostname=(spec.hostname or md.name)[:63],
            host_network=spec.hostNetwork,
            host_pid=spec.hostPID,
            host_ipc=spec.hostIPC,
            share_process_namespace=bool(spec.shareProcessNamespace),
            cgroup_parent=cgroup,
            labels={LABEL_POD_UID: md.uid, LABEL_POD_NAME: md.name, LABEL_POD_NAMESPACE: md.namespace},
        )
        if self.s.pod_cgroups is not None:
            try:
                await self.s.offload(self.s.pod_cgroups.ensure_pod, cgroup, pod_resources(pod))
            except OSError as e:
                self._sandbox_failed(
                    pod,
                    f"failed to ensure that the pod: {md.uid} cgroups exist and are correctly applied: {e}",
                )
                return False
        self._trace("creating sandbox")
        try:
            sandbox = await self.s.runtime.run_sandbox(config)
        except rt.interface.RuntimeFailure as e:
            self._sandbox_failed(pod, str(e))
            return False
        self.sandbox_ids.append(sandbox.id)
        self._trace("sandbox runs")
        ip, ips = self.s.node_ip(), []
        if not spec.hostNetwork and sandbox.netns_path and self.s.network is not None:
            try:
                result = await maybe_await(
                    self.s.network.add(
                        md.namespace, md.name, md.uid, sandbox.netns_path, sandbox_id=sandbox.id
                    )
                )
            except Exception as e:
                log.warning("pod %s: network setup failed: %s", self.key, e)
                with contextlib.suppress(rt.interface.RuntimeFailure):
                    await self.s.runtime.stop_sandbox(sandbox.id)
                self._sandbox_failed(pod, f"failed to set up sandbox container network: {e}")
                return False
            ip = str(getattr(result, "ip", "") or ip)
            ips = [str(x) for x in (getattr(result, "ips", None) or [])]
        self._trace("network set up")
        self.pod_ip, self.pod_ips = ip, ips or [ip]
        self.sandbox = sandbox
        self.sandbox_ready = True
        await self.s.offload(self._write_record, _SandboxRecord(sandbox.id, self.pod_ip, self.pod_ips))
        return True

    def _sandbox_failed(self, pod: Pod, message: str) -> None:
        self.s.recorder.event(
            pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {message}"
        )
        self.wake_at(self.clock.monotonic() + 5.0)

    def _read_record(self) -> _SandboxRecord | None:
        try:
            data = json.loads((self._pod_dir() / "sandbox.json").read_text())
            return _SandboxRecord(data["id"], data.get("ip", ""), list(data.get("ips", [])))
        except (OSError, ValueError, KeyError):
            return None

    def _write_record(self, record: _SandboxRecord) -> None:
        d = self._pod_dir()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "sandbox.json.tmp"
        tmp.write_text(json.dumps({"id": record.id, "ip": record.ip, "ips": record.ips}))
        os.replace(tmp, d / "sandbox.json")

    async def _teardown_network(self, sandbox: rt.interface.Sandbox | None) -> None:
        if sandbox is None or self.s.network is None or not sandbox.netns_path or self.pod.spec.hostNetwork:
            return
        md = self.pod.metadata
        try:
            await self.s.network.delete(
                md.namespace, md.name, md.uid, sandbox.netns_path, sandbox_id=sandbox.id
            )
        except Exception as e:
            log.warning("pod %s: network teardown failed: %s", self.key, e)

    # ------------------------------------------------------------------ volumes

    async def _ensure_volumes(self, pod: Pod) -> bool:
        now = self.clock.monotonic()
        if self.volumes is not None:
            if now - self._volumes_refreshed >= self.s.config.volume_refresh_period:
                self._volumes_refreshed = now
                await self.s.volumes.refresh(pod)
            if any(v.refreshable for v in self.volumes.values()):
                self.wake_at(self._volumes_refreshed + self.s.config.volume_refresh_period)
            return True
        if now < self._mount_retry_at:
            return False
        try:
            self.volumes = await self.s.volumes.setup(pod)
        except VolumeError as e:
            self.s.recorder.event(
                pod,
                "Warning",
                "FailedMount",
                f'MountVolume.SetUp failed for volume "{e.volume}" : {e.message}',
            )
            # retried with the volume manager's back-off: 0.5 s doubling to 2m2s
            self._mount_delay = min(self._mount_delay * 2, MOUNT_RETRY_MAX) if self._mount_delay else 0.5
            self._mount_retry_at = now + self._mount_delay
            self.wake_at(self._mount_retry_at)
            return False
        self._mount_delay = 0.0
        self._volumes_refreshed = now
        return True

    # ------------------------------------------------------------------ containers

    async def _refresh_containers(self) -> None:
        if not self.sandbox_ids:
            await self._find_sandboxes()
        history: dict[str, list[rt.interface.ContainerStatus]] = {}
        for sid in self.sandbox_ids:
            try:
                found = await self.s.runtime.list_containers(sid)
            except rt.interface.NotFound:
                continue
            for c in found:
                history.setdefault(c.name, []).append(c)
        for cs in history.values():
            cs.sort(key=_attempt_order, reverse=True)
        self.history = history

    def _latest(self, name: str, *, in_sandbox: str = "") -> rt.interface.ContainerStatus | None:
        """The newest container of this name (in sandbox ``in_sandbox`` only, if given)."""
        for cs in self.history.get(name, ()):
            if not in_sandbox or cs.sandbox_id == in_sandbox:
                return cs
        return None

    def _all_containers(self, pod: Pod) -> list[tuple[Container, bool]]:
        return [(c, True) for c in pod.spec.initContainers] + [(c, False) for c in pod.spec.containers]

    async def _sync_containers(self, pod: Pod) -> None:
        assert self.sandbox is not None
        policy = pod.spec.restartPolicy or "Always"
        # Running containers a liveness or startup probe failed, or whose spec changed (a new
        # image), are killed first, then started again: per policy after a probe failure,
        # whatever the policy after a change (the kubelet's computePodActions).
        killed = False
        changed: set[str] = set()
        for c in [*(ic for ic in pod.spec.initContainers if is_sidecar(ic)), *pod.spec.containers]:
            latest = self._latest(c.name)
            if latest is None or latest.state != rt.interface.ContainerState.RUNNING:
                continue
            kind = self.probes.failed(c, latest.id)
            grace = self._grace(pod)
            spec_hash = container_hash(c)  # a container from before hashes counts as unchanged
            if latest.labels.get(LABEL_CONTAINER_HASH, spec_hash) != spec_hash:
                changed.add(c.name)
                message = f"Container {c.name} definition changed, will be restarted"
            elif kind is not None:
                message = f"Container {c.name} failed {kind.value} probe, will be restarted"
                grace = self._probe_grace(pod, c, kind)
            else:
                continue
            self._record_container(c, "Normal", "Killing", message)
            await self._kill(pod, c, latest, grace, run_pre_stop=True)
            killed = True
        if killed:
            await self._refresh_containers()

        if not await self._sync_init_containers(pod, policy, changed):
            return
        active = False  # a regular container runs, or will (again)
        for c in pod.spec.containers:
            latest = self._latest(c.name)
            if latest is None:
                await self._start(pod, c, 0, init=False)
            elif latest.state == rt.interface.ContainerState.CREATED:
                await self._replace_created(pod, c, latest, init=False)
            elif latest.state == rt.interface.ContainerState.RUNNING:
                pass
            elif c.name in changed:
                await self._start(pod, c, latest.attempt + 1, init=False)
            elif should_restart(policy, latest.exit_code):
                await self._restart(pod, c, latest, init=False)
            else:
                continue
            active = True
        if not active:
            # the regular containers are done for good: sidecars do not keep the pod alive
            await self._kill_all(pod, self._grace(pod), reason="", announce=True)

    async def _sync_init_containers(self, pod: Pod, policy: str, changed: set[str]) -> bool:
        """Init containers one after the other; True once the regular containers may run.

        Init containers count in the current sandbox only: a re-created sandbox runs them all
        again. Once a regular container runs (the pod initialized), only sidecars
        are looked after, restarted when they exit without holding the regular containers up.
        """
        assert self.sandbox is not None
        initialized = any(
            latest is not None
            and latest.state in (rt.interface.ContainerState.RUNNING, rt.interface.ContainerState.CREATED)
            for latest in (self._latest(c.name) for c in pod.spec.containers)
        )
        for ic in pod.spec.initContainers:
            overall = self._latest(ic.name)
            latest = self._latest(ic.name, in_sandbox=self.sandbox.id)
            attempt = overall.attempt + 1 if overall is not None else 0
            if is_sidecar(ic):
                if latest is None:
                    await self._start(pod, ic, attempt, init=True)
                elif latest.state == rt.interface.ContainerState.CREATED:
                    await self._replace_created(pod, ic, latest, init=True)
                elif latest.state == rt.interface.ContainerState.RUNNING:
                    if initialized or self.probes.started(ic.name, latest.id, ic.startupProbe is not None):
                        continue
                elif ic.name in changed:
                    await self._start(pod, ic, latest.attempt + 1, init=True)
                else:
                    await self._restart(pod, ic, latest, init=True)
                if initialized:
                    continue
                return False
            if initialized:
                continue
            if latest is None:
                await self._start(pod, ic, attempt, init=True)
                return False
            if latest.state == rt.interface.ContainerState.CREATED:
                await self._replace_created(pod, ic, latest, init=True)
                return False
            if latest.state == rt.interface.ContainerState.RUNNING:
                return False
            if latest.exit_code == 0:
                continue
            if policy != "Never":
                await self._restart(pod, ic, latest, init=True)
            return False
        return True

    async def _replace_created(
        self, pod: Pod, c: Container, latest: rt.interface.ContainerStatus, *, init: bool
    ) -> None:
        """A container created but never started (an agent stopped in between): make it again."""
        with contextlib.suppress(rt.interface.RuntimeFailure):
            await self.s.runtime.remove_container(latest.id)
        await self._start(pod, c, latest.attempt, init=init)

    async def _restart(
        self, pod: Pod, c: Container, latest: rt.interface.ContainerStatus, *, init: bool
    ) -> None:
        now = self.clock.now()
        finished = latest.finished_at or now
        key = f"{c.name}/{container_hash(c)}"  # a changed spec starts without back-off
        entry = self.backoff.get(key)
        if entry is not None and finished - entry.last_update > 2 * BACKOFF_MAX:
            entry = None  # it ran long enough (10 min): the back-off starts over
        if entry is not None and now - finished < entry.delay:
            message = f"back-off {go_duration(entry.delay)} restarting failed container={c.name} pod={format_pod(pod)}"
            self.waiting[c.name] = ("CrashLoopBackOff", message)
            if (c.name, finished) not in self._backoff_reported:
                self._backoff_reported.add((c.name, finished))
                self._record_container(
                    c,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c.name} in pod {format_pod(pod)}",
                )
            self.wake_at(self.clock.monotonic() + (finished + entry.delay - now))
            return
        if entry is None or finished - entry.last_update > 2 * BACKOFF_MAX:
            self.backoff[key] = Backoff(BACKOFF_INITIAL, now)
        else:
            entry.delay = min(entry.delay * 2, BACKOFF_MAX)
            entry.last_update = now
        await self._start(pod, c, latest.attempt + 1, init=init)

    def _event_ref(self, c: Container) -> ObjectReference:
        md = self.pod.metadata
        init = any(ic.name == c.name for ic in self.pod.spec.initContainers)
        path = f"spec.initContainers{{{c.name}}}" if init else f"spec.containers{{{c.name}}}"
        return ObjectReference(
            kind="Pod",
            namespace=md.namespace,
            name=md.name,
            uid=md.uid,
            apiVersion="v1",
            resourceVersion=md.resourceVersion,
            fieldPath=path,
        )

    def _record_container(self, c: Container, type_: str, reason: str, message: str) -> None:
        self.s.recorder.event(self._event_ref(c), type_, reason, message)

    async def _pull(self, pod: Pod, c: Container) -> Any | None:
        policy = c.imagePullPolicy or "IfNotPresent"
        pending = self.image_backoff.get(c.name)
        now = self.clock.now()
        if pending is not None:
            entry, failed_at = pending
            if now - failed_at < entry.delay:
                message = f'Back-off pulling image "{c.image}"'
                self.waiting[c.name] = ("ImagePullBackOff", message)
                self._record_container(c, "Normal", "BackOff", message)
                self._record_container(c, "Warning", "Failed", "Error: ImagePullBackOff")
                self.wake_at(self.clock.monotonic() + (failed_at + entry.delay - now))
                return None
        present_fn = getattr(self.s.images, "present", None)
        if policy != "Always" and present_fn is not None:
            with contextlib.suppress(Exception):
                local = await maybe_await(present_fn(c.image))
                if local is not None:
                    self.image_backoff.pop(c.name, None)
                    self._record_container(
                        c, "Normal", "Pulled", f'Container image "{c.image}" already present on machine'
                    )
                    return local
        present = False
        status_fn = getattr(self.s.images, "status", None)
        if policy != "Always" and status_fn is not None:
            with contextlib.suppress(Exception):
                present = await maybe_await(status_fn(c.image)) is not None
        if not present and policy != "Never":
            self._record_container(c, "Normal", "Pulling", f'Pulling image "{c.image}"')
        started = time.monotonic()
        try:
            try:
                info = await self.s.images.ensure(c.image, policy)
            except Exception as pull_error:
                # Kubernetes fails a pull under Always even with a local copy; kubelite makes one
                # exception, images imported into the node (the built-in busybox, `kubelite image
                # import`), so that offline nodes and CI run them. Pulled images get no such pass.
                imported = getattr(self.s.images, "imported_image", None)
                if policy != "Always" or imported is None:
                    raise
                try:
                    info = await imported(c.image)
                except Exception:
                    info = None
                if info is None:
                    raise pull_error from None
                self._record_container(
                    c,
                    "Warning",
                    "Failed",
                    f'Failed to pull image "{c.image}": {pull_error}; using the image imported into the node',
                )
                present = True
        except Exception as e:
            reason = "ErrImageNeverPull" if policy == "Never" else "ErrImagePull"
            if policy == "Never":
                message = f'Container image "{c.image}" is not present with pull policy of Never'
            else:
                message = f'Failed to pull image "{c.image}": {e}'
            self._record_container(c, "Warning", "Failed", message)
            self._record_container(c, "Warning", "Failed", f"Error: {reason}")
            self.waiting[c.name] = (reason, message)
            if pending is None:
                entry = Backoff(BACKOFF_INITIAL, now)
            else:
                entry = pending[0]
                entry.delay = min(entry.delay * 2, BACKOFF_MAX)
            self.image_backoff[c.name] = (entry, now)
            self.wake_at(self.clock.monotonic() + entry.delay)
            return None
        self.image_backoff.pop(c.name, None)
        if present or policy == "Never":
            self._record_container(
                c, "Normal", "Pulled", f'Container image "{c.image}" already present on machine'
            )
        else:
            took = time.monotonic() - started
            size = getattr(info, "size", 0) or 0
            self._record_container(
                c,
                "Normal",
                "Pulled",
                f'Successfully pulled image "{c.image}" in {took:.3f}s ({took:.3f}s including waiting). Image size: {size} bytes.',
            )
        return info

    def _log_path(self, pod: Pod, name: str, attempt: int) -> str:
        md = pod.metadata
        return str(self.s.config.pod_log_dir(md.namespace, md.name, md.uid) / name / f"{attempt}.log")

    def _termination_file(self, name: str, attempt: int) -> Path:
        return self._pod_dir() / "containers" / name / str(attempt)

    async def _start(self, pod: Pod, c: Container, attempt: int, *, init: bool) -> None:
        """Pull, create and start one container (attempt ``attempt``); problems become waiting reasons."""
        assert self.sandbox is not None
        self._trace(f"pulling image of {c.name}")
        info = await self._pull(pod, c)
        if info is None:
            return
        self._trace(f"image of {c.name} ready")
        config_any = as_mapping(getattr(info, "config", None))
        warnings: list[str] = []
        try:
            env = await resolve_env(
                self._with_addresses(pod),
                c,
                self.s.objects,
                node_allocatable=self.s.node_allocatable(),
                warnings=warnings,
            )
        except EnvError as e:
            self._config_error(c, "CreateContainerConfigError", str(e))
            return
        for w in warnings:
            self.s.recorder.event(pod, "Warning", "InvalidEnvironmentVariableNames", w)
        full_env = {**image_env(config_any.get("Env")), **env}
        argv = resolve_argv(
            c, env, list(config_any.get("Entrypoint") or []), list(config_any.get("Cmd") or [])
        )
        if not argv:
            self._config_error(c, "CreateContainerError", "no command specified")
            return
        refused = non_root_violation(pod, c, str(config_any.get("User") or ""))
        if refused:
            self._config_error(c, "CreateContainerConfigError", refused)
            return
        try:
            mounts = container_mounts(c, self.volumes or {}, env)
        except VolumeError as e:
            self._config_error(c, "CreateContainerConfigError", e.message)
            return
        term_file = self._termination_file(c.name, attempt)
        log_path = self._log_path(pod, c.name, attempt)
        # one trip to a worker thread for the files of this container (and of the pod, once)
        files = self._pod_files_to_write(pod)
        term_mounts, pod_paths = await self.s.offload(
            self._container_files, c, term_file, os.path.dirname(log_path), files
        )
        mounts += term_mounts
        mounts += await self._pod_file_mounts(pod, pod_paths)
        md = pod.metadata
        config = rt.interface.ContainerConfig(
            name=c.name,
            image=str(getattr(info, "ref", "") or c.image),  # normalised: docker.io/library/busybox:latest
            image_id=_image_id(info, c.image),
            rootfs_layers=[str(x) for x in (getattr(info, "layers", None) or [])],
            command=argv,
            env=full_env,
            working_dir=c.workingDir or str(config_any.get("WorkingDir") or ""),
            mounts=mounts,
            resources=_resources(c),
            security=_security(pod, c, str(config_any.get("User") or "")),
            log_path=log_path,
            tty=c.tty,
            stdin=c.stdin,
            stdin_once=c.stdinOnce,
            attempt=attempt,
            labels={
                LABEL_POD_UID: md.uid,
                LABEL_POD_NAME: md.name,
                LABEL_POD_NAMESPACE: md.namespace,
                LABEL_CONTAINER_NAME: c.name,
                LABEL_CONTAINER_HASH: container_hash(c),
                "io.kubernetes.container.restartCount": str(attempt),
            },
        )
        self._trace(f"creating container {c.name}")
        try:
            cid = await self.s.runtime.create_container(self.sandbox, config)
        except rt.interface.RuntimeFailure as e:
            self._config_error(c, "CreateContainerError", str(e))
            return
        self.waiting.pop(c.name, None)
        self._record_container(c, "Normal", "Created", f"Created container: {c.name}")
        try:
            await self.s.runtime.start_container(cid)
        except rt.interface.RuntimeFailure as e:
            self._record_container(c, "Warning", "Failed", f"Error: {e}")
            self._failed_start(pod, c, "RunContainerError", str(e))
            await self._gc_containers(c.name)
            return
        self._trace(f"container {c.name} started")
        self._record_container(c, "Normal", "Started", f"Started container {c.name}")
        await self._gc_containers(c.name)
        hook = c.lifecycle.postStart if c.lifecycle is not None else None
        if hook is not None:
            error = await self.s.prober.handler(hook, pod, c, cid, self.pod_ip, float(self._grace(pod)))
            if error is not None:
                self._record_container(c, "Warning", "FailedPostStartHook", error)
                status = await self._status_of(cid)
                if status is not None:
                    self._record_container(c, "Normal", "Killing", "FailedPostStartHook")
                    await self._kill(pod, c, status, self._grace(pod), run_pre_stop=False)
                self._failed_start(pod, c, "PostStartHookError", error)

    def _failed_start(self, pod: Pod, c: Container, reason: str, message: str) -> None:
        """A start that failed shows as waiting with ``reason`` until the restart (the
        kubelet's reason cache), if there is to be one: always after a failure but under Never."""
        if is_sidecar(c) or pod.spec.restartPolicy != "Never":
            self.waiting[c.name] = (reason, message)

    def _pod_files_to_write(self, pod: Pod) -> podfiles.PodFiles | None:
        """The pod's /etc/hosts, resolv.conf and hostname to write with its next container's
        files (None: already written for this sandbox, or written by ``pod_files``)."""
        assert self.sandbox is not None
        if self._files_for == self.sandbox.id or self.s.pod_files is not None or self.s.host_files is None:
            return None
        try:
            return self._render_pod_files(pod, self.s.host_files)
        except Exception as e:  # hosts/resolv.conf are nice to have, not a reason to fail the pod
            log.warning("pod %s: pod files: %s", self.key, e)
            return None

    def _render_pod_files(self, pod: Pod, host_files: tuple[str, str, str]) -> podfiles.PodFiles:
        """The pod's files from the node's (resolv.conf, hosts, hostname); DNS warnings as events."""
        resolv, hosts, hostname = host_files
        files = podfiles.render_pod_files(
            pod,
            self.pod_ips or ([self.pod_ip] if self.pod_ip else []),
            cluster_dns=self.s.config.cluster_dns,
            cluster_domain=self.s.config.cluster_domain,
            host_resolv_conf=resolv,
            node_hosts=hosts,
            node_hostname=hostname,
        )
        for w in files.warnings:
            self.s.recorder.event(pod, "Warning", "DNSConfigForming", w)
        return files

    def _container_files(
        self, c: Container, term_file: Path, log_dir: str, files: podfiles.PodFiles | None
    ) -> tuple[list[rt.interface.Mount], podfiles.PodFilePaths | None]:
        """Blocking: the termination message file, the log directory, the pod's files."""
        mounts = self._termination_mount(c, term_file)
        os.makedirs(log_dir, 0o755, exist_ok=True)
        paths = None
        if files is not None:
            try:
                paths = podfiles.write_pod_files_sync(self._pod_dir() / "etc", files)
            except Exception as e:
                log.warning("pod %s: pod files: %s", self.key, e)
        return mounts, paths

    def _with_addresses(self, pod: Pod) -> Pod:
        """The pod with the addresses the downward API gives (status.podIP(s), hostIP(s)): the
        sandbox's and the node's, known here before any status with them reached the API."""
        host_ip = self.s.node_ip()
        status = msgspec.structs.replace(
            pod.status,
            podIP=self.pod_ip,
            podIPs=[PodIP(ip=ip) for ip in self.pod_ips],
            hostIP=host_ip,
            hostIPs=[HostIP(ip=host_ip)],
        )
        return msgspec.structs.replace(pod, status=status)

    async def _pod_file_mounts(
        self, pod: Pod, written: podfiles.PodFilePaths | None = None
    ) -> list[rt.interface.Mount]:
        """/etc/hosts, /etc/resolv.conf and /etc/hostname of the pod (written once per sandbox;
        ``written``: the paths ``_container_files`` just wrote them to)."""
        assert self.sandbox is not None
        if self._files_for == self.sandbox.id:
            return list(self._file_mounts)
        try:
            if written is not None:
                mounts = podfiles.pod_file_mounts(written)
            elif self.s.pod_files is not None:
                mounts = await self.s.pod_files(pod, self._pod_dir(), self.pod_ip)
            else:
                if self.s.host_files is None:
                    self.s.host_files = await self.s.offload(podfiles.read_host_files)
                files = self._render_pod_files(pod, self.s.host_files)
                paths = await self.s.offload(podfiles.write_pod_files_sync, self._pod_dir() / "etc", files)
                mounts = podfiles.pod_file_mounts(paths)
        except Exception as e:  # hosts/resolv.conf are nice to have, not a reason to fail the pod
            log.warning("pod %s: pod files: %s", self.key, e)
            return []
        self._files_for, self._file_mounts = self.sandbox.id, list(mounts)
        return mounts

    def _config_error(self, c: Container, reason: str, message: str) -> None:
        self.waiting[c.name] = (reason, message)
        self._record_container(c, "Warning", "Failed", f"Error: {message}")
        self.wake_at(self.clock.monotonic() + 5.0)

    def _termination_mount(self, c: Container, host_file: Path) -> list[rt.interface.Mount]:
        path = c.terminationMessagePath or "/dev/termination-log"
        host_file.parent.mkdir(parents=True, exist_ok=True)
        host_file.touch(mode=0o666)
        with contextlib.suppress(OSError):
            os.chmod(host_file, 0o666)
        return [rt.interface.Mount(str(host_file), path)]

    async def _status_of(self, cid: str) -> rt.interface.ContainerStatus | None:
        try:
            return await self.s.runtime.container_status(cid)
        except rt.interface.NotFound:
            return None

    async def _gc_containers(self, name: str) -> None:
        """Keep the newest two containers of ``name`` (the current and the previous one)."""
        if len(self.history.get(name, [])) < 2:
            # this sync's history had at most one: with the one just made there are at most two
            return
        await self._refresh_containers()
        for old in self.history.get(name, [])[2:]:
            if old.state == rt.interface.ContainerState.RUNNING:
                continue
            with contextlib.suppress(rt.interface.RuntimeFailure):
                await self.s.runtime.remove_container(old.id)
            self._messages.pop(old.id, None)
            if old.log_path:
                with contextlib.suppress(OSError):
                    await self.s.offload(os.unlink, old.log_path)

    # ------------------------------------------------------------------ killing

    def _grace(self, pod: Pod) -> int:
        if pod.metadata.deletionGracePeriodSeconds is not None and pod.metadata.deletionTimestamp:
            return int(pod.metadata.deletionGracePeriodSeconds)
        g = pod.spec.terminationGracePeriodSeconds
        return 30 if g is None else int(g)

    def _probe_grace(self, pod: Pod, c: Container, kind: ProbeKind) -> int:
        """The grace period of a kill for a failed liveness or startup probe: the probe's own
        terminationGracePeriodSeconds when it sets one (unless the pod is being deleted)."""
        probe = c.startupProbe if kind == ProbeKind.STARTUP else c.livenessProbe
        own = probe.terminationGracePeriodSeconds if probe is not None else None
        if own is None or pod.metadata.deletionTimestamp:
            return self._grace(pod)
        return int(own)

    async def _kill(
        self,
        pod: Pod,
        c: Container | None,
        status: rt.interface.ContainerStatus,
        grace: float,
        *,
        run_pre_stop: bool,
    ) -> None:
        """preStop (within the grace period), then SIGTERM and SIGKILL after what is left of it."""
        start = self.clock.monotonic()
        hook = c.lifecycle.preStop if c is not None and c.lifecycle is not None else None
        if run_pre_stop and hook is not None and grace > 0 and c is not None:
            done, error = await within(
                self.clock, self.s.prober.handler(hook, pod, c, status.id, self.pod_ip, float(grace)), grace
            )
            if not done:
                error = f"PreStopHook for container {status.name} did not finish within {grace:g}s"
            if error is not None:
                self._record_container(c, "Warning", "FailedPreStopHook", error)
        left = grace - (self.clock.monotonic() - start)
        if grace > 0:
            left = max(left, float(MIN_GRACE))
        try:
            await self.s.runtime.stop_container(status.id, max(0.0, left))
        except rt.interface.NotFound:
            pass

    async def _kill_all(self, pod: Pod, grace: float, *, reason: str, announce: bool = False) -> None:
        """Stop every running container of the pod in parallel: containers first, then sidecars."""
        specs = {c.name: c for c, _ in self._all_containers(pod)}
        running = [
            cs
            for cs in (self._latest(n) for n in self.history)
            if cs is not None and cs.state == rt.interface.ContainerState.RUNNING
        ]
        sidecars = {c.name for c in pod.spec.initContainers if is_sidecar(c)}
        for group in (
            [cs for cs in running if cs.name not in sidecars],
            [cs for cs in running if cs.name in sidecars],
        ):
            if not group:
                continue
            for cs in group:
                spec = specs.get(cs.name)
                if announce and spec is not None:
                    self._record_container(spec, "Normal", "Killing", f"Stopping container {cs.name}")
            await asyncio.gather(
                *(self._kill(pod, specs.get(cs.name), cs, grace, run_pre_stop=True) for cs in group),
                return_exceptions=True,
            )

    async def _stop_everything(self, reason: str) -> None:
        """A terminal pod keeps its containers (for logs) but nothing runs and its IP is freed."""
        pod = self.pod
        if any(
            cs.state == rt.interface.ContainerState.RUNNING
            for cs in (self._latest(n) for n in self.history)
            if cs
        ):
            grace = self._grace(pod) if self.evicted is None else MIN_GRACE  # evicted: at once
            await self._kill_all(pod, grace, reason=reason)
            await self._refresh_containers()
        await self.probes.stop()
        if self.sandbox is not None or self.sandbox_ids:
            for sid in self.sandbox_ids:
                with contextlib.suppress(rt.interface.RuntimeFailure):
                    sandboxes = [sb for sb in await self.s.runtime.list_sandboxes(self.uid) if sb.id == sid]
                    if sandboxes and sandboxes[0].ready:
                        await self._teardown_network(sandboxes[0])
                        await self.s.runtime.stop_sandbox(sid)
            self.sandbox_ready = False
        if self.s.pod_cgroups is not None and not self._cgroup_removed:
            with contextlib.suppress(OSError):
                self._cgroup_removed = await self.s.offload(self.s.pod_cgroups.remove_pod, _pod_cgroup(pod))

    async def terminate(self) -> None:
        """Graceful termination on deletion, cleanup, and the final DELETE with grace 0."""
        pod = self.pod
        self.terminating = True
        grace = float(self._grace(pod)) if not self.removed else float(min(self._grace(pod), MIN_GRACE))
        await self._refresh_containers()
        await self._kill_all(pod, grace, reason="", announce=True)
        await self.probes.stop()
        await self._refresh_containers()
        for sid in list(self.sandbox_ids):
            sandboxes = [sb for sb in await self.s.runtime.list_sandboxes(self.uid) if sb.id == sid]
            if sandboxes:
                await self._teardown_network(sandboxes[0])
            with contextlib.suppress(rt.interface.RuntimeFailure):
                await self.s.runtime.stop_sandbox(sid)
        self.sandbox_ready = False
        if not self.removed:
            with contextlib.suppress(*API_ERRORS):
                await self._write_status()
        for sid in list(self.sandbox_ids):
            with contextlib.suppress(rt.interface.RuntimeFailure):
                await self.s.runtime.remove_sandbox(sid)
        self.sandbox_ids = []
        self.history = {}
        if self.s.pod_cgroups is not None:  # the pod's cgroup is gone: its QoS class weighs less
            with contextlib.suppress(OSError):
                await self.s.offload(self.s.pod_cgroups.update_qos)
        await self.s.volumes.teardown(self.uid)
        md = pod.metadata
        await self.s.offload(shutil.rmtree, self._pod_dir(), True)
        await self.s.offload(shutil.rmtree, self.s.config.pod_log_dir(md.namespace, md.name, md.uid), True)
        self.s.status.forget(self.uid)
        if not self.removed:
            await self._confirm_deletion(pod)

    async def _confirm_deletion(self, pod: Pod) -> None:
        for attempt in range(5):
            try:
                await self.s.pods_api.delete(
                    pod.metadata.name,
                    pod.metadata.namespace,
                    grace_period_seconds=0,
                    preconditions_uid=self.uid,
                )
                return
            except StatusError as e:
                if e.code in (404, 409):
                    return
                log.warning("pod %s: final delete failed: %s", self.key, e)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                log.warning("pod %s: final delete failed: %s", self.key, e)
            await self.clock.sleep(0.5 * 2**attempt)

    # ------------------------------------------------------------------ probes and status

    def _sync_probes(self, pod: Pod) -> None:
        running: dict[str, tuple[str, float]] = {}
        probed = list(pod.spec.containers) + [c for c in pod.spec.initContainers if is_sidecar(c)]
        for c in probed:
            latest = self._latest(c.name)
            if latest is not None and latest.state == rt.interface.ContainerState.RUNNING:
                running[c.name] = (latest.id, latest.started_at)
        self.probes.sync(probed, running, self.pod_ip)

    async def _termination_message(self, c: Container, cs: rt.interface.ContainerStatus) -> str:
        if cs.id in self._messages:
            return self._messages[cs.id]
        message = await self.s.offload(self._read_termination_message, c, cs)
        self._messages[cs.id] = message
        return message

    def _read_termination_message(self, c: Container, cs: rt.interface.ContainerStatus) -> str:
        text = ""
        with contextlib.suppress(OSError):
            with open(self._termination_file(c.name, cs.attempt), "rb") as f:
                text = f.read(MAX_TERMINATION_MESSAGE).decode("utf-8", "replace")
        if (
            not text
            and c.terminationMessagePolicy == "FallbackToLogsOnError"
            and cs.exit_code not in (0, None)
        ):
            text = _tail_log(cs.log_path)
        # the runtime's own message first, as the kubelet joins them
        return f"{cs.message}: {text}" if cs.message and text else text or cs.message

    async def _container_status(self, pod: Pod, c: Container, *, init: bool) -> ContainerStatus:
        history = self.history.get(c.name, [])
        latest = history[0] if history else None
        prev = history[1] if len(history) > 1 else None
        out = ContainerStatus(
            name=c.name, image=c.image, imageID="", restartCount=0, ready=False, started=False
        )
        waiting = self.waiting.get(c.name)
        if latest is None:
            default = "PodInitializing" if pod.spec.initContainers else "ContainerCreating"
            reason, message = waiting or (default, "")
            out.state = ContainerState(waiting=ContainerStateWaiting(reason=reason, message=message))
            return out
        out.restartCount = latest.attempt
        out.image = latest.image or c.image  # what runs (a changed spec shows once restarted)
        # as the kubelet reports them (RecursiveReadOnlyMounts, on since 1.31); read-only mounts
        # here are not recursively read-only (runc 1.1 has no rro), so they say Disabled
        out.volumeMounts = [
            VolumeMountStatus(
                name=vm.name,
                mountPath=vm.mountPath,
                readOnly=vm.readOnly,
                recursiveReadOnly="Disabled" if vm.readOnly else None,
            )
            for vm in c.volumeMounts
        ]
        out.imageID = latest.image_id
        out.containerID = f"{self.s.runtime.name}://{latest.id}"
        last = await self._terminated(c, prev) if prev is not None else None
        if latest.state == rt.interface.ContainerState.RUNNING:
            out.state = ContainerState(running=ContainerStateRunning(startedAt=rfc3339(latest.started_at)))
            started = self.probes.started(c.name, latest.id, c.startupProbe is not None)
            out.started = started
            if not init or is_sidecar(c):
                out.ready = started and self.probes.ready(c, latest.id)
        elif latest.state == rt.interface.ContainerState.CREATED:
            reason, message = waiting or ("", "")  # created, to be started: no reason
            out.state = ContainerState(waiting=ContainerStateWaiting(reason=reason, message=message))
        else:
            term = await self._terminated(c, latest)
            if waiting is not None and self.final is None and not self.terminating:
                out.state = ContainerState(
                    waiting=ContainerStateWaiting(reason=waiting[0], message=waiting[1])
                )
                last = term
            else:
                out.state = ContainerState(terminated=term.terminated)
            if init and not is_sidecar(c) and latest.exit_code == 0:
                out.ready = True
        if last is not None:
            out.lastState = last
        return out

    async def _terminated(self, c: Container, cs: rt.interface.ContainerStatus) -> ContainerState:
        code = cs.exit_code if cs.exit_code is not None else 0
        reason = cs.reason or ("Completed" if code == 0 else "Error")
        if cs.state == rt.interface.ContainerState.UNKNOWN and not cs.reason:
            reason = "ContainerStatusUnknown"
        message = await self._termination_message(c, cs)
        return ContainerState(
            terminated=ContainerStateTerminated(
                exitCode=code,
                reason=reason,
                message=message,
                startedAt=rfc3339(cs.started_at) if cs.started_at else None,
                finishedAt=rfc3339(cs.finished_at) if cs.finished_at else None,
                containerID=f"{self.s.runtime.name}://{cs.id}",
            )
        )

    async def build_status(self) -> PodStatus:
        pod = self.pod
        init_statuses = [await self._container_status(pod, ic, init=True) for ic in pod.spec.initContainers]
        statuses = [await self._container_status(pod, c, init=False) for c in pod.spec.containers]
        statuses.sort(key=lambda st: st.name)  # the kubelet orders them by name (init ones by spec)
        if self.final is not None:
            phase, reason, message = self.final
        else:
            phase = pod_phase(pod.spec, init_statuses, statuses, terminal=self.terminating)
            reason = message = ""
            if phase in TERMINAL_PHASES and not self.terminating:
                # Done: the next sync stops what is left (sidecars, the sandbox). Until nothing
                # runs, the phase written stays what it was, as the kubelet's status manager
                # never reports a terminal phase for a pod that may still have running containers.
                self.final = (phase, reason, message)
                self.wake()
                if self._anything_running():
                    phase = pod.status.phase or "Pending"
        host_ip = self.s.node_ip()
        status = PodStatus(
            phase=phase,
            reason=reason,
            message=message,
            hostIP=host_ip,
            hostIPs=[HostIP(ip=host_ip)],
            podIP=self.pod_ip if self.sandbox_ready or self.pod_ip else "",
            podIPs=[PodIP(ip=ip) for ip in (self.pod_ips if self.pod_ip else [])],
            startTime=self.start_time or None,
            initContainerStatuses=init_statuses,
            containerStatuses=statuses,
            qosClass=pod.status.qosClass,
            observedGeneration=pod.metadata.generation or 0,
        )
        if self.rejected:
            # rejected by admission: nothing ran, so the status says only why (the kubelet's rejectPod)
            status.podIP, status.podIPs = "", []
            status.initContainerStatuses, status.containerStatuses = [], []
        status.conditions = pod_conditions(pod, phase, init_statuses, statuses, self.sandbox_ready)
        return status

    def _anything_running(self) -> bool:
        return any(
            cs[0].state in (rt.interface.ContainerState.RUNNING, rt.interface.ContainerState.CREATED)
            for cs in self.history.values()
            if cs
        )

    async def _write_status(self) -> PodStatus | None:
        status = await self.build_status()
        self._trace(f"writing status ({status.phase})")
        try:
            stored = await self.s.status.update(self.pod, status)
        except API_ERRORS as e:
            log.warning("pod %s: status write failed: %s", self.key, e)
            self.wake_at(self.clock.monotonic() + 1.0)
            return status
        if stored is not None and stored is not self.pod and stored.metadata.uid == self.uid:
            if _rv(stored) >= _rv(self.pod):
                self.pod = stored
            self._trace(f"status written ({status.phase})")
        return status


async def within(clock: Clock, coro: Awaitable[Any], seconds: float) -> tuple[bool, Any]:
    """Run ``coro`` for at most ``seconds`` of clock time: (finished, its result)."""
    task = asyncio.ensure_future(coro)
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, sleeper, return_exceptions=True)
    if task.cancelled():
        return False, None
    return True, task.result()


def containers_fingerprint(containers: Iterable[rt.interface.ContainerStatus]) -> tuple[tuple[str, str], ...]:
    """(id, state) of ``containers``, sorted, leaving out those merely created: only the pod
    worker creates containers, and it starts them right away, so a relist finding one just
    created has caught the worker between two steps, not found anything new for it."""
    return tuple(
        sorted((c.id, str(c.state)) for c in containers if c.state != rt.interface.ContainerState.CREATED)
    )


def _rv_text(pod: Pod) -> str:
    return pod.metadata.resourceVersion or ""


def _rv(pod: Pod) -> int:
    try:
        return int(pod.metadata.resourceVersion or 0)
    except ValueError:
        return 0


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _pod_cgroup(pod: Pod) -> str:
    """The pod's cgroup: ``kubepods/pod<uid>`` when Guaranteed, else under its QoS class."""
    qos = (pod.status.qosClass or "BestEffort").lower()
    uid = pod.metadata.uid
    return f"kubepods/pod{uid}" if qos == "guaranteed" else f"kubepods/{qos}/pod{uid}"


def _image_id(info: Any, ref: str) -> str:
    digest = str(getattr(info, "digest", "") or "")
    if "@" in digest:  # a repo digest ("docker.io/library/busybox@sha256:..."), Kubernetes' imageID
        return digest
    if digest:
        base = str(getattr(info, "ref", "") or ref).split("@")[0]
        last = base.rsplit("/", 1)[-1]
        if ":" in last:
            base = base[: base.rfind(":")]
        return f"{base}@{digest}"
    return str(getattr(info, "id", "") or "")


def _resources(c: Container) -> rt.interface.Resources:
    res = rt.interface.Resources()
    requests = c.resources.requests or {}
    limits = c.resources.limits or {}
    cpu_req = requests.get("cpu") or limits.get("cpu")
    # no request: the fewest shares (2), so that under contention a container that asked for
    # no CPU yields to those that did
    res.cpu_shares = milli_cpu_to_shares(parse_quantity(cpu_req).milli_value() if cpu_req else 0)
    if limits.get("cpu"):
        res.cpu_quota_us = milli_cpu_to_quota(parse_quantity(limits["cpu"]).milli_value())
    if limits.get("memory"):
        res.memory_limit_bytes = parse_quantity(limits["memory"]).value()
    return res


def _security(pod: Pod, c: Container, image_user: str) -> rt.interface.SecurityConfig:
    psc = pod.spec.securityContext
    sc = c.securityContext
    sec = rt.interface.SecurityConfig()
    user, _, group = image_user.partition(":")
    if user.isdigit():
        sec.run_as_user = int(user)
    if group.isdigit():
        sec.run_as_group = int(group)
    if psc is not None:
        if psc.runAsUser is not None:
            sec.run_as_user = psc.runAsUser
        if psc.runAsGroup is not None:
            sec.run_as_group = psc.runAsGroup
        sec.supplemental_groups = list(psc.supplementalGroups)
        if psc.fsGroup is not None:
            sec.supplemental_groups.append(psc.fsGroup)
    if sc is not None:
        if sc.runAsUser is not None:
            sec.run_as_user = sc.runAsUser
        if sc.runAsGroup is not None:
            sec.run_as_group = sc.runAsGroup
        sec.privileged = bool(sc.privileged)
        if sc.capabilities is not None:
            sec.capabilities_add = list(sc.capabilities.add or [])
            sec.capabilities_drop = list(sc.capabilities.drop or [])
        sec.read_only_root_filesystem = bool(sc.readOnlyRootFilesystem)
        sec.no_new_privileges = sc.allowPrivilegeEscalation is False
    return sec


def non_root_violation(pod: Pod, c: Container, image_user: str) -> str:
    """Why ``runAsNonRoot`` forbids starting the container ("" when it does not): the
    kubelet's verifyRunAsNonRoot, with the image's user when no runAsUser is set (no user in
    the image is root; a user name cannot be verified)."""
    psc, sc = pod.spec.securityContext, c.securityContext
    non_root = sc.runAsNonRoot if sc is not None and sc.runAsNonRoot is not None else None
    if non_root is None and psc is not None:
        non_root = psc.runAsNonRoot
    if not non_root:
        return ""
    where = f'(pod: "{format_pod(pod)}", container: {c.name})'
    uid = sc.runAsUser if sc is not None and sc.runAsUser is not None else None
    if uid is None and psc is not None:
        uid = psc.runAsUser
    if uid is not None:
        return f"container's runAsUser breaks non-root policy {where}" if uid == 0 else ""
    user = image_user.partition(":")[0]
    if not user or user == "0":
        return f"container has runAsNonRoot and image will run as root {where}"
    if not user.isdigit():
        return f"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root {where}"
    return ""


def _tail_log(path: str) -> str:
    """The last lines of a CRI log file, as FallbackToLogsOnError reads them."""
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    lines = []
    for raw in data.splitlines()[-FALLBACK_LOG_LINES:]:
        parts = raw.split(b" ", 3)
        if len(parts) == 4:
            lines.append(parts[3] + (b"\n" if parts[2] == b"F" else b""))
        else:
            lines.append(raw + b"\n")
    return b"".join(lines)[-FALLBACK_LOG_BYTES:].decode("utf-8", "replace")
