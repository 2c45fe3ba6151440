"""The pod and QoS cgroup levels: values from requests and limits, written as cgroupfs files."""

from __future__ import annotations

from pathlib import Path

from podworker_fakes import make_pod

from kubelite.kubelet.podcgroups import PodCgroups, PodResources, pod_resources


def c(name: str, **resources: dict[str, str]) -> dict[str, object]:
    return {"name": name, "image": "busybox", "resources": resources}


def test_pod_resources_from_requests_and_limits() -> None:
    best_effort = make_pod({"containers": [c("a"), c("b")]})
    assert pod_resources(best_effort) == PodResources(cpu_shares=2)
    burstable = make_pod(
        {
            "containers": [
                c("a", requests={"cpu": "250m"}, limits={"cpu": "1"}),
                c("b", requests={"cpu": "250m"}),
            ]
        }
    )
    assert pod_resources(burstable) == PodResources(cpu_shares=512)  # b has no cpu limit: no quota
    guaranteed = make_pod(
        {
            "containers": [
                c("a", limits={"cpu": "500m", "memory": "64Mi"}),
                c("b", limits={"cpu": "1500m", "memory": "64Mi"}),
            ],
            # an init container larger than the rest decides (it runs alone, before them)
            "initContainers": [c("init", limits={"cpu": "3", "memory": "32Mi"})],
        }
    )
    assert pod_resources(guaranteed) == PodResources(
        cpu_shares=3072, cpu_quota_us=300_000, memory_limit_bytes=128 << 20
    )


def fake_hierarchies(tmp_path: Path) -> dict[str, str]:
    mounts = {"cpu": str(tmp_path / "cpu,cpuacct"), "cpuacct": str(tmp_path / "cpu,cpuacct")}
    mounts["memory"] = str(tmp_path / "memory")
    return mounts


def test_pod_and_qos_levels_are_written(tmp_path: Path) -> None:
    cg = PodCgroups(mounts=fake_hierarchies(tmp_path))
    cpu, memory = tmp_path / "cpu,cpuacct" / "kubepods", tmp_path / "memory" / "kubepods"
    cg.ensure_pod("kubepods/burstable/podA", PodResources(cpu_shares=512))
    cg.ensure_pod("kubepods/burstable/podB", PodResources(cpu_shares=256, cpu_quota_us=50_000))
    cg.ensure_pod("kubepods/besteffort/podC", PodResources())
    cg.ensure_pod(
        "kubepods/podD", PodResources(cpu_shares=1024, cpu_quota_us=100_000, memory_limit_bytes=1 << 26)
    )
    assert (cpu / "burstable" / "podB" / "cpu.cfs_quota_us").read_text() == "50000"
    # no quota, no limit: nothing written (a new cgroup has none; some kernels lack the files)
    assert not (cpu / "burstable" / "podA" / "cpu.cfs_quota_us").exists()
    assert (memory / "podD" / "memory.limit_in_bytes").read_text() == str(1 << 26)
    assert not (memory / "burstable" / "podA").exists()
    assert (cpu / "burstable" / "cpu.shares").read_text() == "768"  # what its pods asked for
    assert (cpu / "besteffort" / "cpu.shares").read_text() == "2"
    for f in (cpu / "burstable" / "podA").iterdir():
        f.unlink()  # (cgroupfs files vanish with their directory; plain files do not)
    assert cg.remove_pod("kubepods/burstable/podA")  # the pod is done
    assert not (cpu / "burstable" / "podA").exists()
    assert (cpu / "burstable" / "cpu.shares").read_text() == "256"


def test_no_v1_hierarchies_no_writes(tmp_path: Path) -> None:
    PodCgroups(mounts={"unified": str(tmp_path)}).ensure_pod("kubepods/podX", PodResources())
    assert list(tmp_path.iterdir()) == []
