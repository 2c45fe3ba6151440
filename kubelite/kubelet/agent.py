"""The node agent: registers this machine as a Node, keeps it alive, and runs its pods.

``NodeAgent.run()`` does what the kubelet does around its pod workers:

- registers the Node (or refreshes an existing one) with what the host
  has: capacity and allocatable (cpu count, memory from /proc/meminfo less
  the 100Mi eviction threshold, ephemeral-storage of the data dir's
  filesystem less 10%, 110 pods), nodeInfo (kernel, OS image, container
  runtime, kubelet ``v1.32.0+kubelite``), addresses (InternalIP,
  Hostname), the well-known labels and any node roles;
- takes ``spec.podCIDR`` from the node IPAM controller when one assigns
  it shortly after registration, else sets the configured one;
- renews its Lease in ``kube-node-lease`` every 10 s (40 s duration), the
  heartbeat the node lifecycle controller watches;
- computes node status every ``status_update_frequency`` (Ready with
  KubeletReady, MemoryPressure/DiskPressure/PIDPressure from real
  measurements) and writes it when it changed or at least every 5 minutes;
- runs the ``PodManager`` (one worker per pod) with the runtime, image
  service, pod network, volume manager, prober, status manager and event
  recorder they share.

Host measurements go through ``HostInfo`` so tests can pin them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import platform
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from kubelite.api import meta
from kubelite.api.coordination_v1 import Lease, LeaseSpec
from kubelite.api.core_v1 import (
    ContainerImage,
    DaemonEndpoint,
    Node,
    NodeAddress,
    NodeCondition,
    NodeDaemonEndpoints,
    NodeSpec,
    NodeStatus,
    NodeSystemInfo,
    ObjectReference,
)
from kubelite.api.errors import StatusError
from kubelite.client import REAL_CLOCK, Client, Clock, EventRecorder, Informer, lookup
from kubelite.hostaddr import primary_ipv4
from kubelite.kubelet.config import KUBELET_VERSION, LEASE_NAMESPACE, AgentConfig
from kubelite.kubelet.imagegc import ImageGC
from kubelite.kubelet.podcgroups import PodCgroups
from kubelite.kubelet.podmanager import ApiObjects, PodManager
from kubelite.kubelet.podworker import (
    API_ERRORS,
    ImageServiceLike,
    NetworkLike,
    PodFiles,
    PodServices,
    maybe_await,
)
from kubelite.kubelet.probes import Prober
from kubelite.kubelet.runtime.interface import Runtime
from kubelite.kubelet.status import StatusManager, rfc3339
from kubelite.kubelet.volumes import VolumeManager

if TYPE_CHECKING:
    from kubelite.kubelet.server import KubeletServer

log = logging.getLogger(__name__)

# node IP -> (certificate file, key file) of the kubelet API, once a signer issued them; called
# again after each answer, it returns when the certificate was renewed.
ServingCertificateSource = Callable[[str], Awaitable[tuple[str, str]]]

ALLOCATABLE_TTL = 10.0  # seconds the host's allocatable resources are reused (as node status)
WRITE_CONNECTIONS = 8  # connections of the writes to the API server (status, events, lease)
MAX_NODE_IMAGES = 50  # images in the node status, largest first (the kubelet's nodeStatusMaxImages)
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}


def _resource_version(obj: Node) -> int:
    try:
        return int(obj.metadata.resourceVersion or 0)
    except ValueError:
        return 0


def micro_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


class HostInfo:
    """What the node agent measures about its host (override in tests)."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir

    def cpus(self) -> int:
        return os.cpu_count() or 1

    def meminfo(self) -> dict[str, int]:
        """/proc/meminfo in bytes (MemTotal, MemAvailable...)."""
        out: dict[str, int] = {}
        for line in _read("/proc/meminfo").splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
        return out

    def filesystem(self) -> tuple[int, int]:
        """(total, available) bytes of the data dir's filesystem."""
        path = self.data_dir
        while path and not os.path.exists(path):
            path = os.path.dirname(path)
        st = os.statvfs(path or "/")
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def pids(self) -> tuple[int, int]:
        """(pid_max, processes running)."""
        pid_max = int(_read("/proc/sys/kernel/pid_max") or 32768)
        try:
            running = sum(1 for e in os.listdir("/proc") if e.isdigit())
        except OSError:
            running = 0
        return pid_max, running

    def node_ip(self) -> str:
        return primary_ipv4()

    def system(self) -> dict[str, str]:
        os_image = "Linux"
        for line in _read("/etc/os-release").splitlines():
            if line.startswith("PRETTY_NAME="):
                os_image = line.split("=", 1)[1].strip().strip('"')
        machine = platform.machine()
        return {
            "machineID": _read("/etc/machine-id"),
            "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
            "bootID": _read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": platform.release(),
            "osImage": os_image,
            "architecture": _ARCH.get(machine, machine),
        }


@dataclass
class _Pressure:
    memory: bool = False
    disk: bool = False
    pid: bool = False


class _StubImageInfo:
    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.id = "sha256:" + "0" * 64
        self.digest = ""
        self.layers: list[str] = []
        self.config: dict[str, Any] = {}
        self.size = 0


class FakeImages:
    """Images for the fake runtime: every reference is present and has no layers."""

    async def ensure(self, ref: str, pull_policy: str) -> Any:
        return _StubImageInfo(ref)

    def present(self, ref: str) -> bool:
        return True


class NodeAgent:
    """The kubelet of one node; see the module docstring."""

    def __init__(
        self,
        client: Client,
        config: AgentConfig,
        *,
        runtime: Runtime | None = None,
        images: ImageServiceLike | None = None,
        network: NetworkLike | None = None,
        pod_files: PodFiles | None = None,
        clock: Clock = REAL_CLOCK,
        host: HostInfo | None = None,
        ipam_wait: float = 5.0,
        serving_certificate: ServingCertificateSource | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.images = images
        self.network = network
        self.pod_files = pod_files
        self.clock = clock
        self.host = host or HostInfo(str(config.data_dir))
        self.ipam_wait = ipam_wait
        # Status writes, events, leases (several requests per pod started) go over the lean
        # transport; the pod watch and reads stay on the client as given. A few connections,
        # kept: a burst of pods starting would otherwise open (and TLS-handshake, ~2-3 ms of
        # CPU on each side) a connection per write in flight.
        lean = getattr(client, "with_lean_http", None)
        self.writer: Client = (
            lean(connections=WRITE_CONNECTIONS)
            if lean is not None and not getattr(client, "lean_http", True)
            else client
        )
        self.nodes = self.writer.resource(lookup("", "v1", "Node", client.registry))
        # the agent's own Node as the API has it now: admission checks its labels and taints
        self.node_informer = Informer(
            client.resource(lookup("", "v1", "Node", client.registry)),
            field_selector=f"metadata.name={config.node_name}",
            clock=clock,
        )
        self.node_informer.add_handler(self._node_changed, lambda _old, new: self._node_changed(new))
        self.leases = self.writer.resource(lookup("coordination.k8s.io", "v1", "Lease", client.registry))
        self.pods_api = self.writer.resource(lookup("", "v1", "Pod", client.registry))
        # events wait for a connection before status writes do (those tell a pod runs)
        self.recorder = EventRecorder(
            self.writer,
            "kubelet",
            config.node_name,
            instance=config.node_name,  # as the kubelet's events: reportingInstance is the node
            clock=clock,
            concurrency=WRITE_CONNECTIONS // 2,
        )
        self.node: Node | None = None
        self.pod_cidr = ""
        self._allocatable: tuple[float, dict[str, str]] | None = None  # (monotonic, value)
        self.pod_manager: PodManager | None = None
        self.ready = asyncio.Event()
        self.lease_renewals = 0
        self.status_writes = 0
        self._lease: Lease | None = None
        self._last_status: bytes = b""
        self._last_status_write = -1e18
        self._transitions: dict[str, tuple[str, str]] = {}
        self._node_ip = ""
        self.kubelet_server: KubeletServer | None = None
        self.kubelet_port = config.kubelet_port
        # Without a configured serving certificate, where one comes from once the node is
        # registered (kubelet TLS bootstrapping: a kubelet-serving CSR); None: the API stays off.
        self.serving_certificate = serving_certificate

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        """Register, then heartbeat and run pods until cancelled."""
        cfg = self.config
        await asyncio.to_thread(cfg.ensure_dirs)
        if self.runtime is None:
            from kubelite.kubelet.runtime import make_runtime

            self.runtime = make_runtime(cfg.runtime, str(cfg.runtime_dir))
        await self.runtime.start()
        self._node_event("Starting", "Starting kubelet.")
        if self.images is None:
            self.images = self._default_images()
        self._node_ip = cfg.node_ip or await asyncio.to_thread(self.host.node_ip)
        await self._start_kubelet_api()
        try:
            await self._run_registered()
        finally:
            if self.kubelet_server is not None:
                await self.kubelet_server.close()
            if self.writer is not self.client:
                await self.writer.close()
            await self.runtime.close()

    async def _run_registered(self) -> None:
        cfg = self.config
        assert self.runtime is not None and self.images is not None
        await self.register()
        self.pod_cidr = await self._settle_pod_cidr()
        if self.network is None:
            self.network = await self._default_network()
        prober = Prober(self.runtime, self.clock)
        objects = ApiObjects(self.client)
        services = PodServices(
            config=cfg,
            runtime=self.runtime,
            images=self.images,
            volumes=VolumeManager(
                cfg.pods_dir,
                objects,
                node_allocatable=self.allocatable(),
                mount_tmpfs=self.runtime.name == "runc",
            ),
            objects=objects,
            status=StatusManager(self.pods_api, self.clock),
            recorder=self.recorder,
            prober=prober,
            pods_api=self.pods_api,
            network=self.network,
            clock=self.clock,
            node_ip=lambda: self._node_ip,
            node_allocatable=self.allocatable,
            node=lambda: self.node,
            pod_files=self.pod_files,
            pod_cgroups=PodCgroups() if self.runtime.name == "runc" else None,
        )
        self.pod_manager = PodManager(services, self.client, cfg.node_name)
        log.info(
            "node agent %s: runtime %s %s, pod CIDR %s, node IP %s",
            cfg.node_name,
            self.runtime.name,
            self.runtime.version,
            self.pod_cidr,
            self._node_ip,
        )
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.recorder.run(), name="kubelet-events")
                tg.create_task(self.node_informer.run(), name="node-informer")
                if hasattr(self.images, "gc") and hasattr(self.images, "fs_stats"):
                    image_gc = ImageGC(
                        self.images,  # type: ignore[arg-type]
                        self.runtime,
                        lambda type_, reason, message: self._node_event(reason, message, type_),
                        clock=self.clock,
                        disk_pressure=lambda: self.pressure().disk,
                    )
                    tg.create_task(image_gc.run(), name="image-gc")
                tg.create_task(self._lease_loop(), name="node-lease")
                tg.create_task(self._status_loop(), name="node-status")
                tg.create_task(self.pod_manager.run(), name="pod-manager")
                tg.create_task(objects.run(), name="kubelet-services")
                if self.kubelet_server is None and self.serving_certificate is not None:
                    tg.create_task(self._serve_once_certified(), name="kubelet-serving-certificate")
                await self.pod_manager.ready.wait()
                self.ready.set()
        finally:
            await prober.close()

    async def _start_kubelet_api(self) -> None:
        """Serve the kubelet API (logs, exec, attach, port-forward, stats) when the config has a
        serving certificate; sets ``kubelet_port``, which the Node's daemonEndpoints publish."""
        cfg = self.config
        if not (cfg.kubelet_cert and cfg.kubelet_key) and cfg.kubelet_client_ca and self.serving_certificate:
            return  # started by _serve_once_certified once the node has its certificate
        if not (cfg.kubelet_cert and cfg.kubelet_key and cfg.kubelet_client_ca):
            log.warning(
                "no kubelet serving certificate and client CA (--kubelet-cert/--kubelet-key/--kubelet-client-ca): "
                "the kubelet API is off, "
                "so kubectl logs/exec/attach/port-forward cannot reach pods on node %s",
                cfg.node_name,
            )
            return
        from kubelite.kubelet.lookup import PodManagerLookup
        from kubelite.kubelet.server import KubeletServer, client_cert_authenticator, serving_ssl_context

        ssl_context = await asyncio.to_thread(
            serving_ssl_context, cfg.kubelet_cert, cfg.kubelet_key, cfg.kubelet_client_ca
        )
        server = KubeletServer(
            PodManagerLookup(lambda: self.pod_manager),
            self.runtime,
            ssl_context=ssl_context,
            authenticate=client_cert_authenticator(),
            node_name=cfg.node_name,
        )
        host = cfg.kubelet_address or self._node_ip
        try:
            self.kubelet_port = await server.start(host, cfg.kubelet_port)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or not cfg.kubelet_port_fallback:
                await server.close()
                raise
            log.info("kubelet port %d is taken; using a free one", cfg.kubelet_port)
            self.kubelet_port = await server.start(host, 0)
        self.kubelet_server = server

    async def _serve_once_certified(self) -> None:
        """Ask for the serving certificate (the node exists now, which its approval checks), then
        serve the kubelet API with it; each later answer of the source (a renewal) replaces the
        certificate for new connections. A refused request leaves the API off; pods run on."""
        assert self.serving_certificate is not None
        while True:
            try:
                cert, key = await self.serving_certificate(self._node_ip)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.error("no kubelet serving certificate for node %s: %s", self.config.node_name, e)
                if self.kubelet_server is None:
                    return
                await self.clock.sleep(60.0)  # a renewal failed: the current certificate still serves
                continue
            self.config.kubelet_cert, self.config.kubelet_key = cert, key
            if self.kubelet_server is not None and self.kubelet_server.ssl_context is not None:
                await asyncio.to_thread(self.kubelet_server.ssl_context.load_cert_chain, cert, key)
                log.info("kubelet API serving with the renewed certificate")
                continue
            try:
                await self._start_kubelet_api()
            except OSError as e:  # the port is taken: the node keeps running its pods
                log.error("the kubelet API cannot listen on node %s: %s", self.config.node_name, e)
                return
            log.info("kubelet API serving on port %d with the issued certificate", self.kubelet_port)
            with contextlib.suppress(*API_ERRORS):  # publish the port now; the status loop would later
                await self.update_node_status(force=True)

    def _default_images(self) -> ImageServiceLike:
        assert self.runtime is not None
        if self.runtime.name == "fake":
            return FakeImages()
        from kubelite.kubelet.images import ImageService

        return ImageService(str(self.config.data_dir))

    async def _default_network(self) -> NetworkLike | None:
        assert self.runtime is not None
        if self.runtime.name != "runc":
            return None  # the process runtime shares the host's network; fake has none
        try:
            from kubelite.kubelet.network import PodNetwork  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            log.warning(
                "pod networking is not available (kubelite.kubelet.network missing): pods get no IP of their own"
            )
            return None
        # runc pins each pod's netns with lo up (runtime/pinns.py): no loopback plugin needed
        network: NetworkLike = PodNetwork(self.pod_cidr, loopback=False)
        setup = getattr(network, "setup_node", None)
        if setup is not None:
            await maybe_await(setup())
        return network

    # ------------------------------------------------------------------ node object

    def labels(self) -> dict[str, str]:
        arch = self.host.system().get("architecture", "amd64")
        labels = {
            "kubernetes.io/hostname": self.config.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch,
        }
        for role in self.config.node_roles:
            labels[f"node-role.kubernetes.io/{role}"] = ""
        labels.update(self.config.node_labels)
        return labels

    def capacity(self) -> dict[str, str]:
        mem = self.host.meminfo().get("MemTotal", 0)
        total, _ = self.host.filesystem()
        return {
            "cpu": str(self.host.cpus()),
            "memory": f"{mem // 1024}Ki",
            "ephemeral-storage": f"{total // 1024}Ki",
            "pods": str(self.config.max_pods),
            "hugepages-2Mi": "0",
        }

    def allocatable(self) -> dict[str, str]:
        """What pods may use; read from the host at most every ``ALLOCATABLE_TTL`` seconds (every
        admission and container start asks)."""
        now = self.clock.monotonic()
        if self._allocatable is None or now - self._allocatable[0] >= ALLOCATABLE_TTL:
            self._allocatable = (now, self._read_allocatable())
        return dict(self._allocatable[1])

    def _read_allocatable(self) -> dict[str, str]:
        mem = self.host.meminfo().get("MemTotal", 0)
        total, _ = self.host.filesystem()
        return {
            "cpu": str(self.host.cpus()),
            "memory": f"{max(0, mem - self.config.memory_available_min) // 1024}Ki",
            "ephemeral-storage": str(int(total * (1 - self.config.disk_free_min_fraction))),
            "pods": str(self.config.max_pods),
            "hugepages-2Mi": "0",
        }

    def pressure(self) -> _Pressure:
        cfg = self.config
        mem = self.host.meminfo()
        total, free = self.host.filesystem()
        pid_max, running = self.host.pids()
        return _Pressure(
            memory="MemAvailable" in mem and mem["MemAvailable"] < cfg.memory_available_min,
            disk=total > 0 and free / total < cfg.disk_free_min_fraction,
            pid=pid_max > 0 and (pid_max - running) / pid_max < cfg.pid_available_min_fraction,
        )

    def _conditions(self, now: str) -> list[NodeCondition]:
        p = self.pressure()
        runtime_ok = self.runtime is not None
        specs = [
            (
                "MemoryPressure",
                p.memory,
                ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
                ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("NodeHasInsufficientMemory", "NodeHasSufficientMemory"),
            ),
            (
                "DiskPressure",
                p.disk,
                ("KubeletHasDiskPressure", "kubelet has disk pressure"),
                ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("NodeHasDiskPressure", "NodeHasNoDiskPressure"),
            ),
            (
                "PIDPressure",
                p.pid,
                ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
                ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("NodeHasInsufficientPID", "NodeHasSufficientPID"),
            ),
            (
                "Ready",
                runtime_ok,
                ("KubeletReady", "kubelet is posting ready status"),
                ("KubeletNotReady", "container runtime is down"),
                ("NodeReady", "NodeNotReady"),
            ),
        ]
        out = []
        for type_, flag, (reason_t, msg_t), (reason_f, msg_f), (event_t, event_f) in specs:
            status = "True" if flag else "False"
            reason, message = (reason_t, msg_t) if flag else (reason_f, msg_f)
            prev = self._transitions.get(type_)
            if prev is None or prev[0] != status:
                self._transitions[type_] = (status, now)
                self._node_event(event_t if flag else event_f)
            out.append(
                NodeCondition(
                    type=type_,
                    status=status,
                    reason=reason,
                    message=message,
                    lastHeartbeatTime=now,
                    lastTransitionTime=self._transitions[type_][1],
                )
            )
        return out

    def _node_changed(self, node: Node) -> None:
        """The newest copy of this node seen, from the watch or from the agent's own writes
        (whichever answer comes last may be the older one)."""
        if self.node is None or _resource_version(node) >= _resource_version(self.node):
            self.node = node

    async def _node_images(self) -> list[ContainerImage]:
        """The node's images for its status (the scheduler's ImageLocality reads them): repo
        digests then tags as names, largest first, at most ``MAX_NODE_IMAGES`` (the kubelet's
        nodeStatusMaxImages)."""
        list_images = getattr(self.images, "list", None)
        if list_images is None:
            return []
        try:
            infos = await list_images()
        except Exception as e:  # the status goes out without them rather than not at all
            log.warning("listing images for the node status: %s", e)
            return []
        images = [ContainerImage(names=[*i.repo_digests, *i.names], sizeBytes=i.size) for i in infos]
        images.sort(key=lambda im: im.sizeBytes, reverse=True)
        return images[:MAX_NODE_IMAGES]

    def _node_event(self, reason: str, message: str = "", type_: str = "Normal") -> None:
        """An event about this node, as the kubelet words them ("Node vm status is now: NodeReady")."""
        name = self.config.node_name
        ref = ObjectReference(kind="Node", name=name, uid=name)  # the kubelet's nodeRef: uid is the name
        self.recorder.event(ref, type_, reason, message or f"Node {name} status is now: {reason}")

    def node_status(self) -> NodeStatus:
        assert self.runtime is not None
        now = rfc3339(self.clock.now())
        sysinfo = self.host.system()
        return NodeStatus(
            capacity=self.capacity(),
            allocatable=self.allocatable(),
            conditions=self._conditions(now),
            addresses=[
                NodeAddress(type="InternalIP", address=self._node_ip),
                NodeAddress(type="Hostname", address=socket.gethostname()),
            ],
            daemonEndpoints=NodeDaemonEndpoints(kubeletEndpoint=DaemonEndpoint(Port=self.kubelet_port)),
            nodeInfo=NodeSystemInfo(
                machineID=sysinfo.get("machineID", ""),
                systemUUID=sysinfo.get("systemUUID", ""),
                bootID=sysinfo.get("bootID", ""),
                kernelVersion=sysinfo.get("kernelVersion", ""),
                osImage=sysinfo.get("osImage", ""),
                containerRuntimeVersion=f"{self.runtime.name}://{self.runtime.version}",
                kubeletVersion=KUBELET_VERSION,
                kubeProxyVersion=KUBELET_VERSION,
                operatingSystem="linux",
                architecture=sysinfo.get("architecture", ""),
            ),
        )

    @staticmethod
    def _fingerprint(status: NodeStatus) -> bytes:
        """The status without heartbeat times, to tell a change from a heartbeat."""
        conditions = [msgspec.structs.replace(c, lastHeartbeatTime=None) for c in status.conditions]
        return msgspec.json.encode(msgspec.structs.replace(status, conditions=conditions))

    async def register(self) -> Node:
        """Create the Node, or refresh labels and status of the one already there."""
        name = self.config.node_name
        with contextlib.suppress(*API_ERRORS):  # conditions an earlier agent wrote did not change now
            for c in (await self.nodes.get(name)).status.conditions:
                if c.status in ("True", "False") and c.lastTransitionTime:
                    self._transitions[c.type] = (c.status, c.lastTransitionTime)
        status = self.node_status()
        status.images = await self._node_images()
        node = Node(
            metadata=meta.ObjectMeta(
                name=name, labels=self.labels(), annotations={"node.alpha.kubernetes.io/ttl": "0"}
            ),
            spec=NodeSpec(),
            status=status,
        )
        delay = 0.5
        while True:
            try:
                try:
                    created: Node = await self.nodes.create(node)
                    # Some servers drop the status on create: write it through the subresource.
                    created.status = status
                    self._node_changed(await self.nodes.update_status(created))
                except StatusError as e:
                    if e.code != 409:
                        raise
                    current: Node = await self.nodes.get(name)
                    labels = dict(current.metadata.labels or {})
                    labels.update(self.labels())
                    if labels != current.metadata.labels:
                        current.metadata.labels = labels
                        current = await self.nodes.update(current)
                    current.status = status
                    self._node_changed(await self.nodes.update_status(current))
                break
            except API_ERRORS as e:
                log.warning("registering node %s: %s; retrying in %.1fs", name, e, delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._last_status = self._fingerprint(status)
        self._last_status_write = self.clock.monotonic()
        self.status_writes += 1
        log.info("node %s registered", name)
        assert self.node is not None
        return self.node

    async def _settle_pod_cidr(self) -> str:
        """The node IPAM controller's podCIDR if it assigns one within ``ipam_wait``, else ours."""
        assert self.node is not None
        waited = 0.0
        while not self.node.spec.podCIDR and waited < self.ipam_wait:
            await self.clock.sleep(0.5)
            waited += 0.5
            with contextlib.suppress(*API_ERRORS):
                self._node_changed(await self.nodes.get(self.config.node_name))
        if self.node.spec.podCIDR:
            return self.node.spec.podCIDR
        cidr = self.config.pod_cidr
        for _ in range(5):
            try:
                current: Node = await self.nodes.get(self.config.node_name)
                if current.spec.podCIDR:
                    return current.spec.podCIDR
                current.spec.podCIDR = cidr
                current.spec.podCIDRs = [cidr]
                self._node_changed(await self.nodes.update(current))
                return cidr
            except StatusError as e:
                if e.code != 409:
                    log.warning("setting podCIDR of node %s: %s", self.config.node_name, e)
                    return cidr
            except API_ERRORS as e:
                log.warning("setting podCIDR of node %s: %s", self.config.node_name, e)
                await self.clock.sleep(1.0)
        return cidr

    # ------------------------------------------------------------------ heartbeats

    async def _status_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.status_update_frequency)
            try:
                await self.update_node_status()
            except API_ERRORS as e:
                log.warning("node status of %s: %s", self.config.node_name, e)

    async def update_node_status(self, force: bool = False) -> bool:
        """Write the node status if it changed or the report period passed; True if written."""
        status = self.node_status()
        status.images = await self._node_images()
        fp = self._fingerprint(status)
        due = self.clock.monotonic() - self._last_status_write >= self.config.status_report_frequency
        if not force and not due and fp == self._last_status:
            return False
        for _ in range(5):
            try:
                current: Node = await self.nodes.get(self.config.node_name)
            except StatusError as e:
                if e.code == 404:  # deleted under us: register again
                    await self.register()
                    return True
                raise
            current.status = msgspec.structs.replace(
                status,
                volumesInUse=current.status.volumesInUse,
                volumesAttached=current.status.volumesAttached,
            )
            try:
                self._node_changed(await self.nodes.update_status(current))
            except StatusError as e:
                if e.code == 409:
                    continue
                raise
            self._last_status = fp
            self._last_status_write = self.clock.monotonic()
            self.status_writes += 1
            return True
        return False

    def lease_object(self) -> Lease:
        now = micro_time(self.clock.now())
        name = self.config.node_name
        owner = []
        if self.node is not None and self.node.metadata.uid:
            owner = [meta.OwnerReference(apiVersion="v1", kind="Node", name=name, uid=self.node.metadata.uid)]
        lease = self._lease or Lease(metadata=meta.ObjectMeta(name=name, namespace=LEASE_NAMESPACE))
        lease.metadata.ownerReferences = owner or lease.metadata.ownerReferences
        lease.spec = LeaseSpec(
            holderIdentity=name, leaseDurationSeconds=self.config.lease_duration, renewTime=now
        )
        return lease

    async def renew_lease(self) -> None:
        lease = self.lease_object()
        try:
            if self._lease is None:
                try:
                    self._lease = await self.leases.create(lease)
                except StatusError as e:
                    if e.code != 409:
                        raise
                    current: Lease = await self.leases.get(lease.metadata.name, LEASE_NAMESPACE)
                    self._lease = current
                    lease = self.lease_object()
                    self._lease = await self.leases.update(lease)
            else:
                self._lease = await self.leases.update(lease)
        except StatusError as e:
            if e.code in (404, 409):
                self._lease = None  # start afresh next time
            raise
        self.lease_renewals += 1

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except API_ERRORS as e:
                log.warning("renewing the lease of %s: %s", self.config.node_name, e)
                if self._lease is None:
                    await self.clock.sleep(1.0)
                    continue
            await self.clock.sleep(self.config.lease_renew_interval)
