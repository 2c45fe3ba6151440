"""Local ephemeral storage eviction: which limit a pod's usage breaks, and what eviction does."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from podworker_fakes import Harness, advance, harness, make_pod, worker

from kubelite.kubelet.eviction import (
    LocalStorageEviction,
    has_storage_limits,
    pod_ephemeral_limit,
    storage_violation,
)
from kubelite.kubelet.runtime.diskusage import disk_usage
from kubelite.kubelet.runtime.fake import FakeBehavior

MI = 1 << 20


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def c(name: str, limit: str = "") -> dict[str, object]:
    resources = {"limits": {"ephemeral-storage": limit}} if limit else {}
    return {"name": name, "image": "busybox", "command": ["sh"], "resources": resources}


def test_the_first_limit_broken_in_the_kubelets_order() -> None:
    pod = make_pod(
        {
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "10Mi"}}],
            "containers": [c("a", "20Mi"), c("b", "20Mi")],
        }
    )
    assert storage_violation(pod, {"scratch": 5 * MI}, {"a": 10 * MI, "b": 10 * MI}) == ""
    assert (
        storage_violation(pod, {"scratch": 11 * MI}, {"a": 0, "b": 0})
        == 'Usage of EmptyDir volume "scratch" exceeds the limit "10Mi". '
    )
    assert (
        storage_violation(pod, {"scratch": 9 * MI}, {"a": 19 * MI, "b": 19 * MI})
        == "Pod ephemeral local storage usage exceeds the total limit of containers 40Mi. "
    )
    assert (
        storage_violation(pod, {"scratch": 0}, {"a": 21 * MI, "b": 0})
        == 'Container a exceeded its local ephemeral storage limit "20Mi". '
    )
    unlimited = make_pod({"containers": [c("a")]})
    assert storage_violation(unlimited, {}, {"a": 1 << 40}) == ""


def test_the_pod_limit_counts_init_containers_and_sidecars() -> None:
    # an init container's larger limit is the pod's (it ran alone, before the others)
    pod = make_pod({"initContainers": [c("fill", "2Gi")], "containers": [c("app", "100Mi")]})
    assert pod_ephemeral_limit(pod) is not None and pod_ephemeral_limit(pod).canonical() == "2Gi"  # type: ignore[union-attr]
    assert storage_violation(pod, {}, {"app": 99 * MI}) == ""
    # sidecars add to the containers' limits
    with_sidecar = make_pod(
        {
            "initContainers": [{**c("side", "1Gi"), "restartPolicy": "Always"}],
            "containers": [c("app", "100Mi")],
        }
    )
    assert storage_violation(with_sidecar, {}, {"app": 50 * MI, "side": 600 * MI}) == ""
    assert storage_violation(with_sidecar, {}, {"app": 50 * MI, "side": 1100 * MI}).startswith(
        "Pod ephemeral local storage usage exceeds the total limit of containers 1124Mi."
    )
    only_init = make_pod({"initContainers": [c("fill", "10Mi")], "containers": [c("app")]})
    assert has_storage_limits(only_init)


async def test_a_pod_being_deleted_is_not_evicted(h: Harness) -> None:
    h.runtime.behaviors["greedy"] = FakeBehavior(rootfs_bytes=30 * MI)
    pod = make_pod({"containers": [c("greedy", "10Mi")]})
    w = worker(h, pod)
    eviction = LocalStorageEviction(
        lambda: [w], h.runtime, lambda uid, name: Path("/nonexistent"), clock=h.clock
    )
    task = asyncio.create_task(w.run())
    try:
        await advance(h.clock, 2)
        w.update(make_pod({"containers": [c("greedy", "10Mi")]}, deletionTimestamp="2024-01-01T00:00:10Z"))
        await eviction.check()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert eviction.evicted == 0 and "Evicted" not in h.recorder.reasons()


def test_disk_usage_counts_allocated_blocks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "big").write_bytes(b"x" * (3 * MI))
    (tmp_path / "d" / "link").symlink_to("/usr")  # not followed
    assert 3 * MI <= disk_usage(tmp_path) < 4 * MI
    for n in range(3):  # hard links: one file, counted once (as du)
        (tmp_path / "d" / f"link{n}").hardlink_to(tmp_path / "d" / "big")
    assert 3 * MI <= disk_usage(tmp_path) < 4 * MI
    assert disk_usage(tmp_path / "missing") == 0


async def test_a_container_over_its_limit_is_evicted(h: Harness) -> None:
    h.runtime.behaviors["greedy"] = FakeBehavior(rootfs_bytes=30 * MI, term_exit_code=None)
    w = worker(h, make_pod({"terminationGracePeriodSeconds": 60, "containers": [c("greedy", "10Mi")]}))
    eviction = LocalStorageEviction(
        lambda: [w], h.runtime, lambda uid, name: Path("/nonexistent"), clock=h.clock
    )
    task = asyncio.create_task(w.run())
    try:
        await advance(h.clock, 2)
        assert h.statuses.last.phase == "Running"
        await eviction.check()
        await advance(h.clock, 5)  # killed at once, not after its 60 s grace period
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    last = h.statuses.last
    # one container: the pod's total limit is its limit, and the pod check comes first
    message = "Pod ephemeral local storage usage exceeds the total limit of containers 10Mi. "
    assert (last.phase, last.reason, last.message) == ("Failed", "Evicted", message)
    # as the kubelet's local storage eviction: no DisruptionTarget (that is for node pressure)
    assert not any(x.type == "DisruptionTarget" for x in last.conditions)
    assert ("p", "Warning", "Evicted", message) in h.recorder.events
    assert not any(ct.status.state == "running" for ct in h.runtime.containers.values())
    assert eviction.evicted == 1


async def test_an_empty_dir_over_its_size_limit_is_evicted(h: Harness) -> None:
    pod = make_pod(
        {
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}],
            "containers": [{**c("writer"), "volumeMounts": [{"name": "scratch", "mountPath": "/s"}]}],
        }
    )
    w = worker(h, pod)
    volumes = h.services.volumes
    eviction = LocalStorageEviction(
        lambda: [w], h.runtime, lambda uid, name: volumes.volume_dir(uid, "emptyDir", name), clock=h.clock
    )
    task = asyncio.create_task(w.run())
    try:
        await advance(h.clock, 2)
        await eviction.check()
        assert w.final is None  # within its limit
        (volumes.volume_dir(pod.metadata.uid, "emptyDir", "scratch") / "blob").write_bytes(b"x" * (2 * MI))
        await eviction.check()
        await advance(h.clock, 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert h.statuses.last.reason == "Evicted"
    assert h.statuses.last.message == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
