"""Local ephemeral storage eviction: what the kubelet's eviction manager does about pods that
write more to the node's disk than they may.

Every ``EVICTION_PERIOD`` seconds each running pod that sets a limit is measured (as the
eviction manager's localStorageEviction, in its order) and failed on the first of:

1. an emptyDir on disk holding more than its ``sizeLimit`` (a Memory one is a tmpfs of that
   size already);
2. the pod's writes (its containers' writable layers and logs, its disk emptyDirs) beyond the
   sum of its containers' ``ephemeral-storage`` limits;
3. a container's writable layer and log beyond its own ``ephemeral-storage`` limit.

An evicted pod is Failed with reason Evicted, the message below, a DisruptionTarget
condition and a Warning event, and its containers are killed without a grace period
(``PodWorker.evict``). Usage is what the files occupy on disk (allocated blocks, as ``du``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kubelite.api.core_v1 import Pod
from kubelite.api.quantity import parse_quantity
from kubelite.client import REAL_CLOCK, Clock
from kubelite.kubelet import runtime as rt
from kubelite.kubelet.podworker import PodWorker
from kubelite.kubelet.runtime.diskusage import disk_usage

log = logging.getLogger(__name__)

EVICTION_PERIOD = 10.0  # seconds between two rounds (the kubelet's housekeeping period)
EMPTY_DIR_MESSAGE = 'Usage of EmptyDir volume "{volume}" exceeds the limit "{limit}". '
POD_MESSAGE = "Pod ephemeral local storage usage exceeds the total limit of containers {limit}. "
CONTAINER_MESSAGE = 'Container {name} exceeded its local ephemeral storage limit "{limit}". '
EPHEMERAL = "ephemeral-storage"


def has_storage_limits(pod: Pod) -> bool:
    """Whether the pod sets anything ``storage_violation`` checks."""
    if any(v.emptyDir is not None and v.emptyDir.sizeLimit for v in pod.spec.volumes):
        return True
    return any(EPHEMERAL in (c.resources.limits or {}) for c in pod.spec.containers)


def storage_violation(pod: Pod, volume_bytes: Mapping[str, int], container_bytes: Mapping[str, int]) -> str:
    """The eviction message for the first limit the pod's usage breaks ("" for none).

    ``volume_bytes``: usage of its disk emptyDirs by volume name; ``container_bytes``: of each
    running container's writable layer and log, by container name."""
    for vol in pod.spec.volumes:
        if vol.emptyDir is None or not vol.emptyDir.sizeLimit or vol.name not in volume_bytes:
            continue
        limit = parse_quantity(vol.emptyDir.sizeLimit).value()
        if limit > 0 and volume_bytes[vol.name] > limit:
            return EMPTY_DIR_MESSAGE.format(volume=vol.name, limit=vol.emptyDir.sizeLimit)
    limits = {c.name: (c.resources.limits or {}).get(EPHEMERAL) for c in pod.spec.containers}
    pod_limit = sum(parse_quantity(v).value() for v in limits.values() if v)
    if any(limits.values()):
        used = sum(container_bytes.values()) + sum(volume_bytes.values())
        if used > pod_limit:
            return POD_MESSAGE.format(limit=_quantity_text(pod_limit))
    for name, text in limits.items():
        if text and container_bytes.get(name, 0) > parse_quantity(text).value():
            return CONTAINER_MESSAGE.format(name=name, limit=text)
    return ""


def _quantity_text(value: int) -> str:
    """A byte count as Kubernetes prints a binary quantity (``20Mi``; bytes if not whole)."""
    for suffix, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


class LocalStorageEviction:
    """Measures the pods of ``workers()`` every ``period`` and evicts those over a limit."""

    def __init__(
        self,
        workers: Callable[[], Iterable[PodWorker]],
        runtime: rt.interface.Runtime,
        volume_dir: Callable[[str, str], Path],
        *,
        clock: Clock = REAL_CLOCK,
        period: float = EVICTION_PERIOD,
    ) -> None:
        self.workers = workers
        self.runtime = runtime
        self.volume_dir = volume_dir  # (pod uid, emptyDir name) -> its directory
        self.clock = clock
        self.period = period
        self.evicted = 0

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.period)
            try:
                await self.check()
            except Exception:
                log.exception("local storage eviction round failed")

    async def check(self) -> None:
        """One round: measure each running pod that sets a limit, evict it if it breaks one."""
        for worker in list(self.workers()):
            pod = worker.pod
            if worker.final is not None or worker.terminating or not has_storage_limits(pod):
                continue
            volumes, containers = await self._usage(worker)
            message = storage_violation(pod, volumes, containers)
            if message:
                log.info("evicting pod %s: %s", worker.key, message)
                self.evicted += 1
                worker.evict(message)

    async def _usage(self, worker: PodWorker) -> tuple[dict[str, int], dict[str, int]]:
        pod = worker.pod
        disk_dirs = {
            v.name: self.volume_dir(pod.metadata.uid, v.name)
            for v in pod.spec.volumes
            if v.emptyDir is not None and v.emptyDir.medium != "Memory"
        }
        volumes = {name: await asyncio.to_thread(disk_usage, d) for name, d in disk_dirs.items()}
        containers: dict[str, int] = {}
        for c in pod.spec.containers:
            history = worker.history.get(c.name) or []
            latest = history[0] if history else None
            if latest is None or latest.state != rt.interface.ContainerState.RUNNING:
                continue
            stats: dict[str, float] = {}
            with contextlib.suppress(rt.interface.RuntimeFailure, rt.interface.NotFound):
                stats = await self.runtime.stats(latest.id)
            logs = await asyncio.to_thread(disk_usage, latest.log_path) if latest.log_path else 0
            containers[c.name] = int(stats.get("rootfsUsedBytes", 0)) + logs
        return volumes, containers


__all__ = ["LocalStorageEviction", "has_storage_limits", "storage_violation"]
