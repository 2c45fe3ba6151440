"""Simulated nodes: many fake kubelets in one process, as kwok does.

``SimulatedNodes`` registers ``count`` Nodes that look like real ones to the
scheduler and controllers (capacity, allocatable, conditions, addresses,
nodeInfo, the usual well-known labels), keeps one Lease per node in
``kube-node-lease`` fresh, and plays the kubelet for pods bound to them:
a pod with ``spec.nodeName`` on one of its nodes becomes Running (with the
conditions, container statuses, pod IP and startTime a kubelet writes, via
the status subresource), and a pod deleted gracefully is finished off with
a DELETE of grace period 0, which is the kubelet's confirmation.

It is built to carry thousands of nodes cheaply:

- one pod informer for all simulated nodes (``spec.nodeName!=``), not one
  per node, and a small pool of workers writing statuses;
- lease renewals are staggered evenly over the renew period and sent in
  small batches each tick, with a cap on writes per second: beyond
  ``lease_qps * renew_interval`` nodes the period stretches (and the
  Leases' ``leaseDurationSeconds`` with it) rather than the load growing.

The scheduler's benchmark uses it with ``run_pods=False`` to create nodes
only; ``kubelite simulate`` runs it against any cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kubelite.api import meta
from kubelite.api.coordination_v1 import Lease, LeaseSpec
from kubelite.api.core_v1 import (
    DaemonEndpoint,
    Node,
    NodeAddress,
    NodeCondition,
    NodeDaemonEndpoints,
    NodeSpec,
    NodeStatus,
    NodeSystemInfo,
    Pod,
    Taint,
)
from kubelite.api.errors import StatusError
from kubelite.client import REAL_CLOCK, Client, Clock, Informer, WorkQueue, lookup
from kubelite.client.workqueue import ShutDown

log = logging.getLogger(__name__)

SIMULATED_LABEL = "node.kubelite.io/simulated"
LEASE_NAMESPACE = "kube-node-lease"
KUBELET_VERSION = "v1.33.0-kubelite"
_ERRORS = (StatusError, aiohttp.ClientError, OSError, TimeoutError)


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` -> a dict (ValueError on a term without ``=``)."""
    labels: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = term.partition("=")
        if not sep or not key:
            raise ValueError(f"label {term!r}: expected key=value")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[Taint]:
    """``k=v:Effect,k2:Effect`` -> Taints (ValueError on a bad term or effect)."""
    taints: list[Taint] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        head, sep, effect = term.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"taint {term!r}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = head.partition("=")
        if not key:
            raise ValueError(f"taint {term!r}: empty key")
        taints.append(Taint(key=key, value=value, effect=effect))
    return taints


class _NodeState:
    """What the simulator remembers about one of its nodes."""

    __slots__ = ("free_ips", "index", "ips", "lease", "name", "network")

    def __init__(self, name: str, index: int, network: ipaddress.IPv4Network) -> None:
        self.name = name
        self.index = index
        self.network = network
        self.lease: Lease | None = None
        self.ips: dict[str, str] = {}  # pod uid -> IP
        self.free_ips: list[int] = []  # host offsets released by deleted pods

    def allocate_ip(self, uid: str) -> str:
        ip = self.ips.get(uid)
        if ip is None:
            if self.free_ips:
                offset = self.free_ips.pop()
            else:
                offset = len(self.ips) + 2  # .1 is the node's gateway
                if offset >= self.network.num_addresses - 1:
                    offset = 2 + len(self.ips) % (self.network.num_addresses - 3)
            ip = str(self.network.network_address + offset)
            self.ips[uid] = ip
        return ip

    def release_ip(self, uid: str) -> None:
        ip = self.ips.pop(uid, None)
        if ip is not None:
            self.free_ips.append(int(ipaddress.IPv4Address(ip)) - int(self.network.network_address))


class SimulatedNodes:
    """``count`` fake nodes named ``<name_prefix><i>``, with their kubelet duties.

    ``run()`` registers the nodes (idempotently: an existing node gets its
    status rewritten), then renews leases and drives pods until cancelled.
    ``register()`` alone only creates the nodes (benchmarks). ``node_names``
    lists the nodes; ``ready`` is set once all are registered.
    """

    def __init__(
        self,
        client: Client,
        count: int,
        *,
        cpu: str = "32",
        memory: str = "256Gi",
        pods: str = "110",
        labels: Mapping[str, str] | None = None,
        taints: Iterable[Taint] = (),
        name_prefix: str = "sim-",
        pod_cidr: str = "10.64.0.0/10",
        node_cidr_prefix: int = 24,
        run_pods: bool = True,
        run_leases: bool = True,
        renew_interval: float = 10.0,
        lease_qps: float = 200.0,
        workers: int = 16,
        concurrency: int = 32,
        clock: Clock = REAL_CLOCK,
        label_fn: Any = None,
    ) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        self.client = client
        self.count = count
        self.capacity = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
        self.labels = dict(labels or {})
        self.taints = list(taints)
        self.name_prefix = name_prefix
        self.run_pods = run_pods
        self.run_leases = run_leases
        self.workers = workers
        self.concurrency = concurrency
        self.clock = clock
        self.label_fn = label_fn  # optional (index) -> extra labels, e.g. zones for benchmarks
        subnets = ipaddress.IPv4Network(pod_cidr).subnets(new_prefix=node_cidr_prefix)
        self._nodes: dict[str, _NodeState] = {}
        for i, net in zip(range(count), subnets, strict=False):
            name = f"{name_prefix}{i}"
            self._nodes[name] = _NodeState(name, i, net)
        if len(self._nodes) < count:
            raise ValueError(f"pod CIDR {pod_cidr} has room for only {len(self._nodes)} /{node_cidr_prefix}s")
        # Stretch the renew period when the lease write rate would pass lease_qps.
        self.renew_period = max(renew_interval, count / lease_qps if lease_qps > 0 else renew_interval)
        self.lease_duration = max(40, math.ceil(4 * self.renew_period))
        self.nodes_res = lookup("", "v1", "Node", client.registry)
        self.pods_res = lookup("", "v1", "Pod", client.registry)
        self.leases_res = lookup("coordination.k8s.io", "v1", "Lease", client.registry)
        self._nodes_api = client.resource(self.nodes_res)
        self._pods_api = client.resource(self.pods_res)
        self._leases_api = client.resource(self.leases_res)
        self._queue: WorkQueue[str] = WorkQueue("simulated-pods", clock)
        self.informer: Informer | None = None
        self.ready = asyncio.Event()
        self.lease_renewals = 0  # writes that succeeded (tests, metrics)
        self.pods_started = 0
        self.pods_finished = 0

    @property
    def node_names(self) -> list[str]:
        return list(self._nodes)

    # --------------------------------------------------------------- objects

    def node_object(self, name: str) -> Node:
        """The Node this simulator registers as ``name``."""
        state = self._nodes[name]
        now = rfc3339(self.clock.now())
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            SIMULATED_LABEL: "true",
            **self.labels,
        }
        if self.label_fn is not None:
            labels.update(self.label_fn(state.index))
        ip = self.node_ip(name)

        def cond(type_: str, status: str, reason: str, message: str) -> NodeCondition:
            return NodeCondition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                lastHeartbeatTime=now,
                lastTransitionTime=now,
            )

        return Node(
            metadata=meta.ObjectMeta(
                name=name, labels=labels, annotations={"node.alpha.kubernetes.io/ttl": "0"}
            ),
            spec=NodeSpec(
                podCIDR=str(state.network),
                podCIDRs=[str(state.network)],
                providerID=f"kubelite-sim://{name}",
                taints=list(self.taints),
            ),
            status=NodeStatus(
                capacity=dict(self.capacity),
                allocatable=dict(self.capacity),
                phase="Running",
                conditions=[
                    cond(
                        "MemoryPressure",
                        "False",
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                    ),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    cond(
                        "PIDPressure",
                        "False",
                        "KubeletHasSufficientPID",
                        "kubelet has sufficient PID available",
                    ),
                    cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                addresses=[
                    NodeAddress(type="InternalIP", address=ip),
                    NodeAddress(type="Hostname", address=name),
                ],
                daemonEndpoints=NodeDaemonEndpoints(kubeletEndpoint=DaemonEndpoint(Port=10250)),
                nodeInfo=NodeSystemInfo(
                    machineID=f"sim{state.index:029x}",
                    systemUUID=f"00000000-0000-0000-0000-{state.index:012x}",
                    bootID=f"00000000-0000-0000-0001-{state.index:012x}",
                    kernelVersion="6.1.0-kubelite-sim",
                    osImage="kubelite simulated node",
                    containerRuntimeVersion="fake://0.1.0",
                    kubeletVersion=KUBELET_VERSION,
                    kubeProxyVersion=KUBELET_VERSION,
                    operatingSystem="linux",
                    architecture="amd64",
                ),
            ),
        )

    def node_ip(self, name: str) -> str:
        """The node's InternalIP: the first host of its pod range."""
        return str(self._nodes[name].network.network_address + 1)

    def lease_object(self, name: str) -> Lease:
        now = micro_time(self.clock.now())
        state = self._nodes[name]
        if state.lease is None:
            state.lease = Lease(
                metadata=meta.ObjectMeta(name=name, namespace=LEASE_NAMESPACE),
                spec=LeaseSpec(holderIdentity=name, leaseDurationSeconds=self.lease_duration, renewTime=now),
            )
        state.lease.spec.renewTime = now
        state.lease.spec.leaseDurationSeconds = self.lease_duration
        state.lease.metadata.resourceVersion = ""  # renewals are unconditional: the node owns its lease
        return state.lease

    # ------------------------------------------------------------------- run

    async def run(self) -> None:
        """Register the nodes, then keep leases and pods going until cancelled."""
        await self.register()
        async with asyncio.TaskGroup() as tg:
            if self.run_leases:
                tg.create_task(self._lease_loop(), name="simulated-leases")
            if self.run_pods:
                tg.create_task(self._pod_loop(), name="simulated-pods")
            if not self.run_leases and not self.run_pods:
                await asyncio.Event().wait()

    async def register(self) -> None:
        """Create (or refresh the status of) every node, ``concurrency`` requests at a time."""
        sem = asyncio.Semaphore(self.concurrency)

        async def one(name: str) -> None:
            async with sem:
                await self._register_node(name)

        async with asyncio.TaskGroup() as tg:
            for name in self._nodes:
                tg.create_task(one(name))
        self.ready.set()
        log.info(
            "registered %d simulated nodes (%s0..%s%d)",
            self.count,
            self.name_prefix,
            self.name_prefix,
            self.count - 1,
        )

    async def _register_node(self, name: str) -> None:
        node = self.node_object(name)
        for attempt in range(5):
            try:
                try:
                    await self._nodes_api.create(node)
                except StatusError as e:
                    if e.code != 409:
                        raise
                    current = await self._nodes_api.get(name)
                    current.status = node.status
                    current.metadata.labels.update(node.metadata.labels)
                    await self._nodes_api.update_status(current)
                return
            except _ERRORS as e:
                if attempt == 4:
                    raise
                log.warning("registering node %s: %s; retrying", name, e)
                await self.clock.sleep(0.5 * 2**attempt)

    # ---------------------------------------------------------------- leases

    async def _lease_loop(self) -> None:
        """Renew every lease once per ``renew_period``, spread over ticks of the period."""
        names = list(self._nodes)
        if not names:
            await asyncio.Event().wait()
        ticks = max(1, min(len(names), int(self.renew_period * 10)))  # at most ten batches a second
        tick = self.renew_period / ticks
        per_tick = math.ceil(len(names) / ticks)
        sem = asyncio.Semaphore(self.concurrency)
        async with asyncio.TaskGroup() as tg:
            start = self.clock.monotonic()
            round_ = 0
            while True:
                for t in range(ticks):
                    due = start + (round_ * ticks + t) * tick
                    delay = due - self.clock.monotonic()
                    if delay > 0:
                        await self.clock.sleep(delay)
                    batch = names[t * per_tick : (t + 1) * per_tick]
                    for name in batch:
                        await sem.acquire()
                        tg.create_task(self._renew(name, sem))
                round_ += 1

    async def _renew(self, name: str, sem: asyncio.Semaphore) -> None:
        try:
            lease = self.lease_object(name)
            stored = await self._leases_api.update(lease)
            self._nodes[name].lease = stored
            self.lease_renewals += 1
        except _ERRORS as e:
            log.warning("renewing lease of %s: %s", name, e)
        finally:
            sem.release()

    # ------------------------------------------------------------------ pods

    async def _pod_loop(self) -> None:
        self.informer = Informer(
            self._pods_api, field_selector="spec.nodeName!=", clock=self.clock, page_size=1000
        )
        self.informer.add_handler(self._on_pod, lambda _old, new: self._on_pod(new), self._on_pod_deleted)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.informer.run(), name="simulated-pods-informer")
            for i in range(self.workers):
                tg.create_task(self._worker(), name=f"simulated-pods-worker-{i}")

    def _on_pod(self, pod: Pod) -> None:
        if pod.spec.nodeName in self._nodes and self._needs_work(pod):
            self._queue.add(f"{pod.metadata.namespace}/{pod.metadata.name}")

    def _on_pod_deleted(self, pod: Any) -> None:
        state = self._nodes.get(getattr(getattr(pod, "spec", None), "nodeName", "") or "")
        if state is not None:
            state.release_ip(pod.metadata.uid)

    @staticmethod
    def _needs_work(pod: Pod) -> bool:
        if pod.metadata.deletionTimestamp:
            return True
        return pod.status.phase not in ("Running", "Succeeded", "Failed") or not pod.status.podIP

    async def _worker(self) -> None:
        with contextlib.suppress(ShutDown):
            while True:
                key = await self._queue.get()
                try:
                    await self._sync(key)
                    self._queue.forget(key)
                except _ERRORS as e:
                    log.warning("simulated pod %s: %s; retrying", key, e)
                    self._queue.add_rate_limited(key)
                finally:
                    self._queue.done(key)

    async def _sync(self, key: str) -> None:
        assert self.informer is not None
        pod = self.informer.get(key)
        if pod is None or pod.spec.nodeName not in self._nodes or not self._needs_work(pod):
            return
        namespace, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.deletionTimestamp:
            try:
                await self._pods_api.delete(
                    name, namespace, grace_period_seconds=0, preconditions_uid=pod.metadata.uid
                )
            except StatusError as e:
                if e.code not in (404, 409):
                    raise
            self.pods_finished += 1
            return
        await self._pods_api.patch(name, {"status": self.running_status(pod)}, "merge", namespace, "status")
        self.pods_started += 1

    def running_status(self, pod: Pod) -> dict[str, Any]:
        """The status a kubelet reports once all containers of ``pod`` run (plain data for a merge patch)."""
        state = self._nodes[pod.spec.nodeName]
        now = rfc3339(self.clock.now())
        started = pod.status.startTime or now
        host_ip = self.node_ip(state.name)
        ip = host_ip if pod.spec.hostNetwork else state.allocate_ip(pod.metadata.uid)
        conditions = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        for c in pod.status.conditions:  # keep the scheduler's PodScheduled transition time
            if c.type == "PodScheduled" and c.lastTransitionTime:
                conditions[-1]["lastTransitionTime"] = c.lastTransitionTime

        def running(c: Any, init: bool) -> dict[str, Any]:
            if init:
                state_ = {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": started,
                    }
                }
            else:
                state_ = {"running": {"startedAt": started}}
            return {
                "name": c.name,
                "image": c.image,
                "imageID": f"fake://{c.image}",
                "containerID": f"fake://{pod.metadata.uid}/{c.name}",
                "ready": not init,
                "started": not init,
                "restartCount": 0,
                "state": state_,
            }

        status: dict[str, Any] = {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": started,
            "containerStatuses": [running(c, False) for c in pod.spec.containers],
        }
        if pod.spec.initContainers:
            status["initContainerStatuses"] = [running(c, True) for c in pod.spec.initContainers]
        return status
