"""The pod and QoS levels of the cgroup tree (cgroup v1), which the kubelet sets itself.

The runtime makes each container's cgroup below its pod's
(``kubepods[/burstable|/besteffort]/pod<uid>/<container>``); what the levels
above hold is the kubelet's, as Kubernetes' pod and QoS container managers do it:

- a pod's cgroup gets ``cpu.shares`` from the sum of its CPU requests (2, the
  fewest, without any), a CFS quota from the sum of its CPU limits when every
  container has one, and a memory limit from the sum of the memory limits
  when every container has one (``pod_resources``: the larger of the regular
  containers' sum and any one init container, as the scheduler counts);
- ``besteffort`` gets 2 shares, so under contention those pods yield to all
  others; ``burstable`` gets the sum of its pods' shares, so the class weighs
  what its pods asked for next to the Guaranteed pods beside it.

Only the ``cpu`` and ``memory`` v1 hierarchies are written; a host without them
(pure cgroup v2) leaves the levels at their defaults. Blocking: call from a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass

from kubelite.api.core_v1 import Container, Pod
from kubelite.api.quantity import parse_quantity
from kubelite.kubelet.runtime import cgroups

log = logging.getLogger(__name__)

MIN_SHARES = 2
CFS_PERIOD_US = 100_000
MIN_QUOTA_US = 1_000


def milli_cpu_to_shares(milli: int) -> int:
    """The kubelet's milliCPUToShares: 1024 shares per CPU, never fewer than 2."""
    return max(MIN_SHARES, milli * 1024 // 1000)


def milli_cpu_to_quota(milli: int) -> int:
    """The kubelet's milliCPUToQuota: the CFS quota (µs per 100 ms period) of a CPU limit."""
    return max(MIN_QUOTA_US, milli * CFS_PERIOD_US // 1000)


@dataclass(frozen=True)
class PodResources:
    cpu_shares: int = MIN_SHARES
    cpu_quota_us: int = 0  # 0: no CFS quota (-1 in the file)
    memory_limit_bytes: int = 0  # 0: no limit


def _amounts(c: Container) -> tuple[int, int | None, int | None]:
    """(cpu request in milli, cpu limit in milli or None, memory limit in bytes or None)."""
    requests, limits = c.resources.requests or {}, c.resources.limits or {}
    cpu = requests.get("cpu") or limits.get("cpu")
    return (
        parse_quantity(cpu).milli_value() if cpu else 0,
        parse_quantity(limits["cpu"]).milli_value() if "cpu" in limits else None,
        parse_quantity(limits["memory"]).value() if "memory" in limits else None,
    )


def pod_resources(pod: Pod) -> PodResources:
    """What a pod's cgroup gets (see the module docstring)."""
    containers = [
        *pod.spec.containers,
        *(ic for ic in pod.spec.initContainers if ic.restartPolicy == "Always"),
    ]
    amounts = [_amounts(c) for c in containers]
    request = sum(a[0] for a in amounts)
    cpu_limits = [a[1] for a in amounts]
    memory_limits = [a[2] for a in amounts]
    cpu_limit = sum(x for x in cpu_limits if x is not None) if None not in cpu_limits else None
    memory_limit = sum(x for x in memory_limits if x is not None) if None not in memory_limits else None
    for ic in pod.spec.initContainers:  # one at a time, before the others: the larger counts
        if ic.restartPolicy == "Always":
            continue
        req, cpu, mem = _amounts(ic)
        request = max(request, req)
        if cpu_limit is not None:
            cpu_limit = max(cpu_limit, cpu) if cpu is not None else None
        if memory_limit is not None:
            memory_limit = max(memory_limit, mem) if mem is not None else None
    return PodResources(
        cpu_shares=milli_cpu_to_shares(request),
        cpu_quota_us=milli_cpu_to_quota(cpu_limit) if cpu_limit else 0,
        memory_limit_bytes=memory_limit or 0,
    )


def _write(path: str, value: int) -> None:
    with open(path, "w") as f:
        f.write(str(value))


class PodCgroups:
    """Sets the pod and QoS levels under ``root`` (``kubepods``) in the v1 hierarchies."""

    def __init__(self, root: str = "kubepods", mounts: dict[str, str] | None = None) -> None:
        self.root = root.strip("/")
        self.mounts = cgroups.cgroup_mounts() if mounts is None else mounts
        self._lock = threading.Lock()  # pods start on several threads; the QoS sums are read-modify-write

    def _dir(self, controller: str, path: str) -> str | None:
        point = self.mounts.get(controller)
        return os.path.join(point, path.strip("/")) if point else None

    def ensure_pod(self, path: str, res: PodResources) -> None:
        """Make the pod's cgroup ``path`` (``kubepods/burstable/pod<uid>``) with ``res``, then
        update the QoS level above it. A new cgroup has no quota and no limit: only what
        ``res`` sets is written (a kernel without CFS bandwidth control has no quota files)."""
        cpu = self._dir("cpu", path)
        if cpu is not None:
            os.makedirs(cpu, exist_ok=True)
            _write(os.path.join(cpu, "cpu.shares"), res.cpu_shares)
            if res.cpu_quota_us:
                _write(os.path.join(cpu, "cpu.cfs_period_us"), CFS_PERIOD_US)
                _write(os.path.join(cpu, "cpu.cfs_quota_us"), res.cpu_quota_us)
        memory = self._dir("memory", path)
        if memory is not None and res.memory_limit_bytes:
            os.makedirs(memory, exist_ok=True)
            _write(os.path.join(memory, "memory.limit_in_bytes"), res.memory_limit_bytes)
        self.update_qos()

    def remove_pod(self, path: str) -> bool:
        """Remove the pod's cgroup (in every hierarchy; what still has processes stays) once
        nothing of it runs: a finished pod no longer weighs in its QoS class. True if gone."""
        left = cgroups.remove_cgroup(self.mounts, path)
        self.update_qos()
        return not left

    def update_qos(self) -> None:
        """besteffort: 2 shares; burstable: the sum of its pods' shares (2 when it has none)."""
        with self._lock:
            self._update_qos()

    def _update_qos(self) -> None:
        for qos in ("besteffort", "burstable"):
            d = self._dir("cpu", f"{self.root}/{qos}")
            if d is None:
                continue
            shares = MIN_SHARES
            if qos == "burstable":
                with contextlib.suppress(FileNotFoundError):
                    shares = max(MIN_SHARES, sum(self._shares(os.path.join(d, n)) for n in os.listdir(d)))
            os.makedirs(d, exist_ok=True)
            _write(os.path.join(d, "cpu.shares"), shares)

    @staticmethod
    def _shares(pod_dir: str) -> int:
        if not os.path.basename(pod_dir).startswith("pod"):
            return 0
        try:
            with open(os.path.join(pod_dir, "cpu.shares")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0


__all__ = ["PodCgroups", "PodResources", "milli_cpu_to_quota", "milli_cpu_to_shares", "pod_resources"]
