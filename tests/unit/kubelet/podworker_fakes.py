"""Stand-ins for what a PodWorker talks to, for unit tests without an API server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from kubelite.api.core_v1 import (
    ConfigMap,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    PodStatus,
    Secret,
    Service,
)
from kubelite.client import FakeClock
from kubelite.kubelet.agent import FakeImages
from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.podworker import PodServices, PodWorker
from kubelite.kubelet.probes import Prober
from kubelite.kubelet.runtime.fake import FakeRuntime
from kubelite.kubelet.volumes import VolumeManager


@dataclass
class Objects:
    configmaps: dict[str, ConfigMap] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    service_list: list[Service] = field(default_factory=list)
    claims: dict[str, PersistentVolumeClaim] = field(default_factory=dict)
    volumes: dict[str, PersistentVolume] = field(default_factory=dict)

    async def configmap(self, namespace: str, name: str) -> ConfigMap | None:
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> Secret | None:
        return self.secrets.get(name)

    async def services(self, namespace: str) -> list[Service]:
        return [s for s in self.service_list if s.metadata.namespace == namespace]

    async def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        return self.claims.get(name)

    async def pv(self, name: str) -> PersistentVolume | None:
        return self.volumes.get(name)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []  # (fieldPath or name, type, reason, message)

    def event(self, obj: Any, type_: str, reason: str, message: str) -> None:
        where = getattr(obj, "fieldPath", "") or getattr(getattr(obj, "metadata", None), "name", "")
        self.events.append((where, type_, reason, message))

    def reasons(self) -> list[str]:
        return [e[2] for e in self.events]


class Statuses:
    """The status manager: remembers every computed status."""

    def __init__(self) -> None:
        self.history: list[PodStatus] = []
        self.written: dict[str, bytes] = {}  # what last_written answers (tests set it)

    async def update(self, pod: Pod, status: PodStatus) -> Pod:
        self.history.append(status)
        return pod

    def forget(self, uid: str) -> None:
        pass

    def last_written(self, uid: str) -> bytes | None:
        return self.written.get(uid)

    @property
    def last(self) -> PodStatus:
        return self.history[-1]


class PodsApi:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, str, int | None, str | None]] = []

    async def delete(
        self,
        name: str,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions_uid: str | None = None,
        **_: Any,
    ) -> Any:
        self.deleted.append((name, namespace or "", grace_period_seconds, preconditions_uid))
        return {}


@dataclass
class Harness:
    clock: FakeClock
    runtime: FakeRuntime
    services: PodServices
    statuses: Statuses
    recorder: Recorder
    pods_api: PodsApi
    objects: Objects


def harness(tmp_path: Path) -> Harness:
    clock = FakeClock()
    runtime = FakeRuntime(clock)
    config = AgentConfig(node_name="n1", data_dir=tmp_path, runtime="fake", resync_period=1.0)
    objects = Objects()
    statuses, recorder, pods_api = Statuses(), Recorder(), PodsApi()
    services = PodServices(
        config=config,
        runtime=runtime,
        images=FakeImages(),
        volumes=VolumeManager(
            config.pods_dir, objects, node_allocatable={"cpu": "4", "memory": "8Gi"}, offload=inline
        ),
        objects=objects,
        status=statuses,  # type: ignore[arg-type]
        recorder=recorder,  # type: ignore[arg-type]
        prober=Prober(runtime, clock),
        pods_api=pods_api,  # type: ignore[arg-type]
        clock=clock,
        node_ip=lambda: "192.0.2.10",
        node_allocatable=lambda: {"cpu": "4", "memory": "8Gi", "pods": "110"},
        host_files=("nameserver 192.0.2.53\n", "127.0.0.1 localhost\n", "n1"),
        offload=inline,
    )
    return Harness(clock, runtime, services, statuses, recorder, pods_api, objects)


def make_pod(spec: dict[str, Any], name: str = "p", **meta: Any) -> Pod:
    data = {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            **meta,
        },
        "spec": {"nodeName": "n1", **spec},
    }
    pod = msgspec.convert(data, Pod)
    for c in [*pod.spec.containers, *pod.spec.initContainers]:
        c.imagePullPolicy = c.imagePullPolicy or "IfNotPresent"
    return pod


def worker(h: Harness, pod: Pod) -> PodWorker:
    return PodWorker(h.services, pod)


async def inline(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run blocking work on the loop: unit tests advance fake time without waiting for threads."""
    return fn(*args, **kwargs)


async def advance(clock: FakeClock, seconds: float, rounds: int = 400) -> None:
    """``clock.run_for`` with a longer settle: a pod worker's sync takes many loop turns."""
    target = clock.monotonic() + seconds
    await clock.settle(rounds)
    while (deadline := clock.next_deadline()) is not None and deadline <= target:
        clock.advance(max(0.0, deadline - clock.monotonic()))
        await clock.settle(rounds)
    clock.advance(max(0.0, target - clock.monotonic()))
    await clock.settle(rounds)
