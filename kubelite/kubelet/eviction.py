"""Local ephemeral storage eviction: what the kubelet's eviction manager does about pods that
write more to the node's disk than they may.

Every ``EVICTION_PERIOD`` seconds each running pod that sets a limit is measured (as the
eviction manager's localStorageEviction, in its order) and failed on the first of:

1. an emptyDir on disk holding more than its ``sizeLimit`` (a Memory one is a tmpfs of that
   size already);
2. the pod's writes (its containers' writable layers and logs, its disk emptyDirs) beyond the
   sum of its containers' ``ephemeral-storage`` limits;
3. a container's writable layer and log beyond its own ``ephemeral-storage`` limit.

An evicted pod is Failed with reason Evicted, the message below and a Warning event, and its
containers are killed without a grace period (``PodWorker.evict``; as the kubelet, no
DisruptionTarget condition: that marks evictions for node pressure, which a Job's
podFailurePolicy may forgive, not a pod breaking its own limits). Pods being deleted are
left alone. Usage is what the files occupy on disk (allocated blocks, as ``du``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kubelite.api.core_v1 import Container, Pod
from kubelite.api.quantity import Quantity, parse_quantity
from kubelite.client import REAL_CLOCK, Clock
from kubelite.kubelet import runtime as rt
from kubelite.kubelet.podworker import PodWorker
from kubelite.kubelet.runtime.diskusage import disk_usage
from kubelite.kubelet.status import is_sidecar

log = logging.getLogger(__name__)

EVICTION_PERIOD = 10.0  # seconds between two rounds (the kubelet's housekeeping period)
EMPTY_DIR_MESSAGE = 'Usage of EmptyDir volume "{volume}" exceeds the limit "{limit}". '
POD_MESSAGE = "Pod ephemeral local storage usage exceeds the total limit of containers {limit}. "
CONTAINER_MESSAGE = 'Container {name} exceeded its local ephemeral storage limit "{limit}". '
EPHEMERAL = "ephemeral-storage"


def _limit(c: Container) -> Quantity | None:
    text = (c.resources.limits or {}).get(EPHEMERAL)
    return parse_quantity(text) if text else None


def _add(a: Quantity | None, b: Quantity | None) -> Quantity | None:
    return b if a is None else a if b is None else a + b


def _max(a: Quantity | None, b: Quantity | None) -> Quantity | None:
    return b if a is None else a if b is None else max(a, b)


def pod_ephemeral_limit(pod: Pod) -> Quantity | None:
    """The pod's ephemeral-storage limit as the kubelet's PodLimits counts it: its containers'
    and sidecars' limits added up, or an init container's (with the sidecars started before
    it) if larger; None when no container sets one."""
    total: Quantity | None = None
    for c in pod.spec.containers:
        total = _add(total, _limit(c))
    sidecars: Quantity | None = None
    init_max: Quantity | None = None
    for ic in pod.spec.initContainers:
        if is_sidecar(ic):
            total = _add(total, _limit(ic))
            sidecars = _add(sidecars, _limit(ic))
            init_max = _max(init_max, sidecars)
        else:
            init_max = _max(init_max, _add(_limit(ic), sidecars))
    return _max(total, init_max)


def has_storage_limits(pod: Pod) -> bool:
    """Whether the pod sets anything ``storage_violation`` checks."""
    if any(v.emptyDir is not None and v.emptyDir.sizeLimit for v in pod.spec.volumes):
        return True
    return pod_ephemeral_limit(pod) is not None


def storage_violation(pod: Pod, volume_bytes: Mapping[str, int], container_bytes: Mapping[str, int]) -> str:
    """The eviction message for the first limit the pod's usage breaks ("" for none).

    ``volume_bytes``: usage of its disk emptyDirs by volume name; ``container_bytes``: of each
    running container's (and sidecar's) writable layer and log, by container name."""
    for vol in pod.spec.volumes:
        if vol.emptyDir is None or not vol.emptyDir.sizeLimit or vol.name not in volume_bytes:
            continue
        size = parse_quantity(vol.emptyDir.sizeLimit)
        if size.value() > 0 and volume_bytes[vol.name] > size.value():
            return EMPTY_DIR_MESSAGE.format(volume=vol.name, limit=size.canonical())
    pod_limit = pod_ephemeral_limit(pod)
    if pod_limit is not None:
        used = sum(container_bytes.values()) + sum(volume_bytes.values())
        if used > pod_limit.value():
            return POD_MESSAGE.format(limit=pod_limit.canonical())
    for c in pod.spec.containers:
        limit = _limit(c)
        if limit is not None and limit.value() > 0 and container_bytes.get(c.name, 0) > limit.value():
            return CONTAINER_MESSAGE.format(name=c.name, limit=limit.canonical())
    return ""


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
            if not worker.evictable() or not has_storage_limits(pod):
                continue
            volumes, containers = await self._usage(worker)
            message = storage_violation(pod, volumes, containers)
            if message and worker.evictable():
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
        for c in [*pod.spec.containers, *(ic for ic in pod.spec.initContainers if is_sidecar(ic))]:
            history = worker.history.get(c.name) or []
            latest = history[0] if history else None
            if latest is None or latest.state != rt.interface.ContainerState.RUNNING:
                continue
            layer = 0
            with contextlib.suppress(rt.interface.RuntimeFailure, rt.interface.NotFound):
                layer = await self.runtime.writable_layer_bytes(latest.id)
            logs = await asyncio.to_thread(disk_usage, latest.log_path) if latest.log_path else 0
            containers[c.name] = layer + logs
        return volumes, containers


__all__ = ["LocalStorageEviction", "has_storage_limits", "storage_violation"]
