"""cgroup (v1, and the v2 ``unified`` mount of hybrid hosts) paths, statistics and clean-up.

runc creates a container's cgroup in every hierarchy from its absolute
``cgroupsPath`` and removes it on ``runc delete``; the pod level above it is
ours to remove when the pod goes.
"""

from __future__ import annotations

import contextlib
import os
import time


def cgroup_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, str]:
    """Hierarchy name -> mount point: each v1 controller (``cpu``, ``memory``, ``name=systemd``...)
    and ``unified`` for cgroup2. Hierarchies mounted from a non-root cgroup are left out."""
    mounts: dict[str, str] = {}
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return mounts
    for line in lines:
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype, root, point = fields[sep + 1], fields[3], fields[4]
        if root != "/":
            continue
        if fstype == "cgroup2":
            mounts.setdefault("unified", point)
        elif fstype == "cgroup":
            for opt in fields[sep + 3].split(","):
                if opt in ("rw", "ro") or ("=" in opt and not opt.startswith("name=")):
                    continue
                mounts.setdefault(opt, point)
    return mounts


def hierarchy_dirs(mounts: dict[str, str], path: str) -> list[str]:
    """Every distinct directory of the cgroup ``path`` (absolute) across hierarchies."""
    rel = path.strip("/")
    return sorted({os.path.join(point, rel) for point in mounts.values()})


def remove_cgroup(mounts: dict[str, str], path: str) -> list[str]:
    """rmdir the cgroup ``path`` (children first) in every hierarchy; returns what is still there."""
    left = []
    for d in hierarchy_dirs(mounts, path):
        if not os.path.isdir(d):
            continue
        for root, dirs, _files in os.walk(d, topdown=False):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, name))
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(d)
    return left


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _read_kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                with contextlib.suppress(ValueError):
                    out[key] = int(value)
    except OSError:
        pass
    return out


def cgroup_stats(mounts: dict[str, str], path: str) -> dict[str, float]:
    """Raw counters of a v1 cgroup in the kubelet summary API's names (no rates).

    ``usageCoreNanoSeconds`` (cpuacct.usage), ``usageBytes`` (memory.usage_in_bytes),
    ``workingSetBytes`` (usage minus total_inactive_file, as cAdvisor), ``rssBytes``,
    ``pageFaults``, ``majorPageFaults``, ``memoryLimitBytes`` and ``timestamp``.
    """
    rel = path.strip("/")
    stats: dict[str, float] = {"timestamp": time.time()}
    if "cpuacct" in mounts:
        usage = _read_int(os.path.join(mounts["cpuacct"], rel, "cpuacct.usage"))
        if usage is not None:
            stats["usageCoreNanoSeconds"] = float(usage)
    if "memory" in mounts:
        mdir = os.path.join(mounts["memory"], rel)
        usage = _read_int(os.path.join(mdir, "memory.usage_in_bytes"))
        if usage is not None:
            mstat = _read_kv(os.path.join(mdir, "memory.stat"))
            inactive = mstat.get("total_inactive_file", 0)
            stats["usageBytes"] = float(usage)
            stats["workingSetBytes"] = float(max(0, usage - inactive))
            stats["rssBytes"] = float(mstat.get("total_rss", 0))
            stats["pageFaults"] = float(mstat.get("total_pgfault", 0))
            stats["majorPageFaults"] = float(mstat.get("total_pgmajfault", 0))
            limit = _read_int(os.path.join(mdir, "memory.limit_in_bytes"))
            if limit is not None and limit < (1 << 62):
                stats["memoryLimitBytes"] = float(limit)
    return stats


class CpuRates:
    """usageNanoCores from two samples of usageCoreNanoSeconds, per container."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def add(self, key: str, stats: dict[str, float]) -> None:
        usage = stats.get("usageCoreNanoSeconds")
        if usage is None:
            return
        now = stats["timestamp"]
        last = self._last.get(key)
        self._last[key] = (now, usage)
        if last is not None and now > last[0] and usage >= last[1]:
            stats["usageNanoCores"] = (usage - last[1]) / (now - last[0])

    def forget(self, key: str) -> None:
        self._last.pop(key, None)
