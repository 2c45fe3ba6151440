"""Settings of one API server, as the CLI (or a test) builds them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """``/var/lib/kubelite`` for root, ``~/.kubelite`` otherwise (DESIGN.md section 6)."""
    if os.geteuid() == 0:
        return Path("/var/lib/kubelite")
    return Path.home() / ".kubelite"


@dataclass
class ServerConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    bind_address: str = "127.0.0.1"
    port: int = 6443
    store: str = "sqlite"  # "sqlite", "memory", or "etcd://host:2379,..."
    tls: bool = True  # False serves plain HTTP (tests, and only on loopback)
    token_file: Path | None = None  # static bearer tokens: token,user,uid,"group1,group2"
    token_rows: tuple[str, ...] = ()  # more rows of that form (the node join token of the CLI)
    extra_sans: list[str] = field(default_factory=list)  # more names/IPs for the serving certificate
    max_body_bytes: int = 3 * 1024 * 1024
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"  # pod addresses; the node IPAM cuts it into per-node ranges
    cluster_domain: str = "cluster.local"
    # Admission plugins switched off by name (kube-apiserver's --disable-admission-plugins):
    # NamespaceLifecycle, Priority. Service address allocation is not a plugin one may drop.
    disable_admission_plugins: frozenset[str] = frozenset()
    # The interpreter's thread switch interval while the server runs (None: leave it). The
    # store's writer thread needs the GIL back after each commit to answer the waiting
    # writes; at Python's default 5 ms a busy event loop keeps it that long, which shows
    # up whole in every write's latency.
    switch_interval: float | None = 0.0005
    # Build /openapi/v2 (JSON and kubectl's protobuf) in the background once serving, so that
    # the first kubectl create or apply, which validates against it, does not wait for it
    # (0.2-0.5 s of CPU). Off for the many short-lived servers of the tests.
    warm_openapi: bool = False
    # Serve the components of this process (scheduler, controllers, node agent) on a Unix
    # socket with a token of this run (loopback.py); the CLI's servers do.
    loopback: bool = False

    @property
    def kubeconfig_path(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"
