"""The pods of this node: one ``PodWorker`` each, runtime change detection, orphan cleanup.

``PodManager.run()`` watches pods with ``spec.nodeName=<node>`` and keeps
one worker per pod uid (a pod recreated under the same name is a new pod).
Once the first list is in, it compares with what the runtime holds:
sandboxes of pods that no longer exist (deleted while the agent was down)
are stopped and removed with their directories; those of pods still
bound here are left alone — their workers re-adopt the running containers
without restarting them. A relist loop (the kubelet's PLEG) asks the
runtime for all containers every ``relist_period`` and wakes the workers
whose containers changed state.

For the kubelet's HTTPS API (logs, exec, attach, port-forward, stats)
``find_container`` resolves namespace/pod/container to a runtime container
id and its log path (``previous=True``: the instance before the current one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api.core_v1 import (
    ConfigMap,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Secret,
    Service,
    Taint,
)
from kubelite.api.errors import StatusError
from kubelite.api.nodematch import RequiredNodeAffinity, find_untolerated_taint
from kubelite.api.quantity import parse_quantity
from kubelite.client import Client, Informer, lookup
from kubelite.client.informer import NAMESPACE_INDEX
from kubelite.kubelet.eviction import LocalStorageEviction
from kubelite.kubelet.podworker import API_ERRORS, PodServices, PodWorker, containers_fingerprint, maybe_await
from kubelite.kubelet.runtime.interface import ContainerState, ContainerStatus, RuntimeFailure
from kubelite.kubelet.status import TERMINAL_PHASES

NODE_AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
TAINT_MISMATCH = "node(s) had taints that the pod didn't tolerate"


def _no_execute(taint: Taint) -> bool:
    """The kubelet only minds NoExecute taints (NoSchedule ones are the scheduler's)."""
    return taint.effect == "NoExecute"


log = logging.getLogger(__name__)


class ApiObjects:
    """Reads of ConfigMaps, Secrets, Services, PVCs and PVs through the API (None: not found).

    Services (for the service-link variables of every container start) come from an
    informer while ``run()`` runs and has synced, as the kubelet's service lister; before
    that, or without ``run()``, from a LIST per call.
    """

    def __init__(self, client: Client) -> None:
        self._cm = client.resource(lookup("", "v1", "ConfigMap", client.registry))
        self._secret = client.resource(lookup("", "v1", "Secret", client.registry))
        self._svc = client.resource(lookup("", "v1", "Service", client.registry))
        self._pvc = client.resource(lookup("", "v1", "PersistentVolumeClaim", client.registry))
        self._pv = client.resource(lookup("", "v1", "PersistentVolume", client.registry))
        self._services: Informer | None = None

    async def run(self) -> None:
        """Keep the Service cache current (until cancelled)."""
        self._services = Informer(self._svc)
        await self._services.run()

    @staticmethod
    async def _get(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await fn(*args)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def configmap(self, namespace: str, name: str) -> ConfigMap | None:
        result: ConfigMap | None = await self._get(self._cm.get, name, namespace)
        return result

    async def secret(self, namespace: str, name: str) -> Secret | None:
        result: Secret | None = await self._get(self._secret.get, name, namespace)
        return result

    async def services(self, namespace: str) -> list[Service]:
        if self._services is not None and self._services.has_synced:
            return list(self._services.by_index(NAMESPACE_INDEX, namespace))
        items, _ = await self._svc.list_all(namespace)
        return list(items)

    async def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        result: PersistentVolumeClaim | None = await self._get(self._pvc.get, name, namespace)
        return result

    async def pv(self, name: str) -> PersistentVolume | None:
        result: PersistentVolume | None = await self._get(self._pv.get, name)
        return result


@dataclass
class ContainerRef:
    """Where a container of a pod is, for logs and exec."""

    container_id: str
    log_path: str
    running: bool
    attempt: int


def pod_requests(pod: Pod) -> dict[str, int]:
    """cpu (milli) and memory (bytes) a pod asks for: the larger of its containers' sum and
    any one init container, plus overhead, as the scheduler counts."""

    def of(c: Any) -> tuple[int, int]:
        req = c.resources.requests or {}
        return (
            parse_quantity(req["cpu"]).milli_value() if "cpu" in req else 0,
            parse_quantity(req["memory"]).value() if "memory" in req else 0,
        )

    cpu = mem = 0
    for c in pod.spec.containers:
        a, b = of(c)
        cpu, mem = cpu + a, mem + b
    for ic in pod.spec.initContainers:
        a, b = of(ic)
        cpu, mem = max(cpu, a), max(mem, b)
    over = pod.spec.overhead or {}
    if "cpu" in over:
        cpu += parse_quantity(over["cpu"]).milli_value()
    if "memory" in over:
        mem += parse_quantity(over["memory"]).value()
    return {"cpu": cpu, "memory": mem}


class PodManager:
    """Keeps a worker per pod bound to the node; see the module docstring."""

    def __init__(self, services: PodServices, client: Client, node_name: str) -> None:
        self.s = services
        self.client = client
        self.node_name = node_name
        self.pods_api = services.pods_api
        self.workers: dict[str, PodWorker] = {}
        self.informer = Informer(
            self.pods_api, field_selector=f"spec.nodeName={node_name}", clock=services.clock
        )
        self.ready = asyncio.Event()  # set once orphans are cleaned and workers run
        self.orphans_removed = 0
        self._tg: asyncio.TaskGroup | None = None
        self._pending: list[Pod] = []
        self._fingerprints: dict[str, tuple[tuple[str, str], ...]] = {}
        services.admit = self.admit
        self.eviction = LocalStorageEviction(
            self.workers.values,
            services.runtime,
            lambda uid, name: services.volumes.volume_dir(uid, "emptyDir", name),
            clock=services.clock,
        )

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        self.informer.add_handler(self._on_pod, lambda _old, new: self._on_pod(new), self._on_delete)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.informer.run(), name=f"pods-informer-{self.node_name}")
                await self.informer.wait_synced()
                await self.cleanup_orphans()
                self._tg = tg
                for pod in self._pending:
                    self._on_pod(pod)
                self._pending.clear()
                self.ready.set()
                tg.create_task(self._relist_loop(), name="pleg")
                tg.create_task(self.eviction.run(), name="local-storage-eviction")
        finally:
            self._tg = None

    def _on_pod(self, pod: Pod) -> None:
        if pod.spec.nodeName != self.node_name:
            return
        if self._tg is None:
            self._pending.append(pod)
            return
        uid = pod.metadata.uid
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(self.s, pod)
        self.workers[uid] = worker
        self._tg.create_task(
            self._run_worker(worker), name=f"pod-{pod.metadata.namespace}/{pod.metadata.name}"
        )

    def _on_delete(self, pod: Any) -> None:
        uid = getattr(getattr(pod, "metadata", None), "uid", "")
        if self._tg is None:
            self._pending = [p for p in self._pending if p.metadata.uid != uid]
            return
        worker = self.workers.get(uid)
        if worker is not None:
            worker.remove()

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        finally:
            if self.workers.get(worker.uid) is worker:
                del self.workers[worker.uid]
            self._fingerprints.pop(worker.uid, None)

    # ------------------------------------------------------------------ admission

    def admit(self, pod: Pod) -> tuple[bool, str, str]:
        """Whether ``pod`` may run here (the kubelet's admission, in its order): room next to
        the pods already admitted (pod count, cpu, memory), the node matching the pod's node
        selector and required node affinity, no NoExecute taint it does not tolerate. A
        refusal carries the kubelet's reason and message."""
        fits = self._resources_fit(pod)
        if not fits[0]:
            return fits
        node = self.s.node()
        if node is not None:
            if not RequiredNodeAffinity(pod).match(node):
                return False, "NodeAffinity", f"Predicate NodeAffinity failed: {NODE_AFFINITY_MISMATCH}"
            if find_untolerated_taint(node.spec.taints, pod.spec.tolerations, _no_execute) is not None:
                return False, "TaintToleration", f"Predicate TaintToleration failed: {TAINT_MISMATCH}"
        return True, "", ""

    def _resources_fit(self, pod: Pod) -> tuple[bool, str, str]:
        allocatable = self.s.node_allocatable()
        active = [
            w.pod
            for w in self.workers.values()
            if w.uid != pod.metadata.uid
            and w.admitted
            and w.final is None
            and not w.pod.metadata.deletionTimestamp
        ]
        max_pods = int(allocatable.get("pods", "0") or 0)
        if max_pods and len(active) + 1 > max_pods:
            return (
                False,
                "OutOfpods",
                f"Node didn't have enough resource: pods, requested: 1, used: {len(active)}, capacity: {max_pods}",
            )
        want = pod_requests(pod)
        used = {"cpu": 0, "memory": 0}
        for other in active:
            for k, v in pod_requests(other).items():
                used[k] += v
        for name in ("cpu", "memory"):
            if name not in allocatable or not want[name]:
                continue
            q = parse_quantity(allocatable[name])
            capacity = q.milli_value() if name == "cpu" else q.value()
            if used[name] + want[name] > capacity:
                return (
                    False,
                    f"OutOf{name}",
                    f"Node didn't have enough resource: {name}, requested: {want[name]}, "
                    f"used: {used[name]}, capacity: {capacity}",
                )
        return True, "", ""

    # ------------------------------------------------------------------ runtime

    async def cleanup_orphans(self) -> None:
        """Stop and remove sandboxes whose pods are gone (deleted while the agent was down)."""
        known = {p.metadata.uid for p in self.informer.list()}
        runtime = self.s.runtime
        try:
            sandboxes = await runtime.list_sandboxes()
        except RuntimeFailure as e:
            log.warning("listing sandboxes failed: %s", e)
            return
        for sb in sandboxes:
            uid = sb.config.pod_uid
            if uid in known:
                continue
            log.info(
                "removing sandbox %s of pod %s/%s (uid %s): the pod is gone",
                sb.id[:12],
                sb.config.namespace,
                sb.config.pod_name,
                uid,
            )
            if self.s.network is not None and sb.netns_path and not sb.config.host_network:
                with contextlib.suppress(Exception):
                    await maybe_await(
                        self.s.network.delete(
                            sb.config.namespace, sb.config.pod_name, uid, sb.netns_path, sandbox_id=sb.id
                        )
                    )
            with contextlib.suppress(RuntimeFailure):
                await runtime.stop_sandbox(sb.id)
            with contextlib.suppress(RuntimeFailure):
                await runtime.remove_sandbox(sb.id)
            await self.s.volumes.teardown(uid)
            await asyncio.to_thread(shutil.rmtree, self.s.config.pod_dir(uid), True)
            await asyncio.to_thread(
                shutil.rmtree, self.s.config.pod_log_dir(sb.config.namespace, sb.config.pod_name, uid), True
            )
            self.orphans_removed += 1

    async def _relist_loop(self) -> None:
        while True:
            await self.s.clock.sleep(self.s.config.relist_period)
            with contextlib.suppress(RuntimeFailure):
                await self.relist()

    async def relist(self) -> None:
        """Wake the workers whose containers changed state since the last relist."""
        sandboxes = {sb.id: sb.config.pod_uid for sb in await self.s.runtime.list_sandboxes()}
        states: dict[str, list[ContainerStatus]] = {}
        for c in await self.s.runtime.list_containers():
            uid = sandboxes.get(c.sandbox_id)
            if uid is not None:
                states.setdefault(uid, []).append(c)
        for uid, worker in self.workers.items():
            fp = containers_fingerprint(states.get(uid, []))
            if self._fingerprints.get(uid) != fp:
                self._fingerprints[uid] = fp
                worker.containers_changed(fp)

    # ------------------------------------------------------------------ lookups

    def find_pod(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            if w.pod.metadata.namespace == namespace and w.pod.metadata.name == name:
                return w
        return None

    def find_container(
        self, namespace: str, pod: str, container: str = "", previous: bool = False
    ) -> ContainerRef | None:
        """The runtime container behind namespace/pod/container (the first container when
        ``container`` is empty); None when there is no such container (yet)."""
        worker = self.find_pod(namespace, pod)
        if worker is None:
            return None
        name = container or (worker.pod.spec.containers[0].name if worker.pod.spec.containers else "")
        history = worker.containers().get(name, [])
        index = 1 if previous else 0
        if len(history) <= index:
            return None
        cs = history[index]
        return ContainerRef(cs.id, cs.log_path, cs.state == ContainerState.RUNNING, cs.attempt)

    def active_pods(self) -> list[Pod]:
        return [w.pod for w in self.workers.values() if w.pod.status.phase not in TERMINAL_PHASES]


__all__ = ["API_ERRORS", "ApiObjects", "ContainerRef", "PodManager", "pod_requests"]
