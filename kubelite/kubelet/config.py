"""The node agent's settings (``AgentConfig``), with the defaults of DESIGN.md section 6.

One dataclass read by every part of the agent: where its state lives
(``data_dir``: runtime state, pod directories with volumes and logs, images),
which runtime it drives, the pod CIDR to fall back on when no node IPAM
controller assigns one, cluster DNS, and the intervals of heartbeats and
status reports. The CLI builds it from flags; tests build it directly.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

KUBELET_VERSION = "v1.32.0+kubelite"
DEFAULT_POD_CIDR = "10.42.0.0/24"
DEFAULT_CLUSTER_DNS = "10.43.0.10"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
LEASE_NAMESPACE = "kube-node-lease"
DEFAULT_KUBELET_PORT = 10250


def default_node_name() -> str:
    """The host name, lower-cased, as the kubelet's ``--hostname-override`` default."""
    return socket.gethostname().split(".")[0].lower() or "localhost"


@dataclass
class AgentConfig:
    """Everything the node agent needs to know besides its API client."""

    node_name: str = field(default_factory=default_node_name)
    data_dir: Path = field(default_factory=lambda: Path.home() / ".kubelite")
    runtime: str = "auto"  # runc | process | fake | auto
    pod_cidr: str = DEFAULT_POD_CIDR  # used when the node has no spec.podCIDR from IPAM
    cluster_dns: list[str] = field(default_factory=lambda: [DEFAULT_CLUSTER_DNS])
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    node_labels: dict[str, str] = field(default_factory=dict)
    node_roles: list[str] = field(default_factory=list)  # node-role.kubernetes.io/<role>=""
    node_ip: str = ""  # InternalIP; default: the address of the default route's interface
    max_pods: int = 110
    # The kubelet API (logs, exec, attach, port-forward, stats), HTTPS only. Without a serving
    # certificate (``kubelet_cert``/``kubelet_key``, signed by the cluster CA and naming the
    # node IP) the API is not served: the API server verifies it, so a self-signed one is no use.
    # ``kubelet_client_ca`` verifies the API server's client certificate (the cluster CA).
    kubelet_port: int = DEFAULT_KUBELET_PORT  # published in status.daemonEndpoints
    kubelet_port_fallback: bool = False  # on EADDRINUSE take any free port (one-machine ``up``)
    kubelet_address: str = ""  # where it listens; default: the node IP (where the API server dials)
    kubelet_cert: str = ""
    kubelet_key: str = ""
    kubelet_client_ca: str = ""
    # Heartbeats (Kubernetes' defaults: lease renewal 10 s of a 40 s lease, status every 10 s,
    # written when changed or at least every 5 minutes).
    lease_duration: int = 40
    lease_renew_interval: float = 10.0
    status_update_frequency: float = 10.0
    status_report_frequency: float = 300.0
    # Pods.
    relist_period: float = 1.0  # how often the runtime is asked for container changes (PLEG)
    resync_period: float = 10.0  # each pod worker syncs at least this often
    volume_refresh_period: float = 10.0  # configMap/secret/downwardAPI volumes are re-read this often
    # Pressure thresholds (the kubelet's hard eviction defaults).
    memory_available_min: int = 100 * 1024 * 1024
    disk_free_min_fraction: float = 0.10
    pid_available_min_fraction: float = 0.05

    @property
    def root_dir(self) -> Path:
        """The agent's own directory in the data dir (``<data_dir>/agent``)."""
        return self.data_dir / "agent"

    @property
    def runtime_dir(self) -> Path:
        return self.root_dir / "runtime"

    @property
    def pods_dir(self) -> Path:
        """``pods/<uid>/`` holds a pod's volumes, termination-message files and sandbox record."""
        return self.root_dir / "pods"

    @property
    def logs_dir(self) -> Path:
        """Container logs, ``<ns>_<pod>_<uid>/<container>/<attempt>.log`` as in /var/log/pods."""
        return self.root_dir / "logs"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def pod_log_dir(self, namespace: str, name: str, uid: str) -> Path:
        return self.logs_dir / f"{namespace}_{name}_{uid}"

    def ensure_dirs(self) -> None:
        """Create the directories (blocking: call through ``asyncio.to_thread``)."""
        for d in (self.root_dir, self.runtime_dir, self.pods_dir, self.logs_dir):
            os.makedirs(d, mode=0o750, exist_ok=True)
