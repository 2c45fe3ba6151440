"""A real one-node cluster for e2e tests: ``kubelite up`` (root, runc, CNI) on a fresh data dir.

``node_missing()`` names what this machine lacks to run one (root, runc, the CNI
plugins, iptables, a static busybox, the busybox image ``make busybox-image``
builds, kubectl); callers skip with that list. ``NodeCluster.start(base)``
starts ``kubelite up`` with its data dir under ``base`` (``registries.yaml`` is
written there first, as the node's ImageService reads it once at start), waits
for the Node to be Ready, and gives the real kubectl (``kubectl``) and a
``kubernetes`` client (``api``). ``restart()`` stops it with SIGTERM and starts it
again on the same data dir and port. ``close()`` stops it, runs ``kubelite reset
--data-dir ... --node-network`` (containers, sandboxes, pod networks, tmpfs
volumes, the bridge and routes, as ``tests/e2e/run_acceptance.py`` does) and
returns what went wrong, if anything; ``base`` itself is the caller's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml
from serverproc import KUBECTL, KubeliteServer, kubelite_command

from kubelite.kubelet.runtime import mounts

REPO = Path(__file__).resolve().parents[2]
BUSYBOX_IMAGE = REPO / ".build" / "busybox-oci.tar"
CNI_DIR = Path("/usr/lib/cni")

T = TypeVar("T")


def node_missing() -> list[str]:
    """What this machine lacks to run pods under ``kubelite up`` (empty: nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if shutil.which("runc") is None:
        missing.append("runc (apt-get install runc)")
    for plugin in ("bridge", "host-local", "loopback"):
        if not os.access(CNI_DIR / plugin, os.X_OK):
            missing.append(f"{CNI_DIR / plugin} (apt-get install containernetworking-plugins)")
            break
    if shutil.which("iptables") is None:
        missing.append("iptables")
    if not any(os.path.isfile(p) for p in ("/bin/busybox", "/usr/bin/busybox")):
        missing.append("a static busybox for pause processes (apt-get install busybox-static)")
    if not BUSYBOX_IMAGE.is_file():
        missing.append(f"{BUSYBOX_IMAGE.relative_to(REPO)} (make busybox-image)")
    if not KUBECTL.exists():
        missing.append(str(KUBECTL))
    return missing


def wait_until(fn: Callable[[], T], timeout: float, what: str, interval: float = 0.5) -> T:
    """``fn()`` until it returns something truthy (returned); AssertionError naming ``what`` and
    the last value (or exception) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except (AssertionError, subprocess.SubprocessError, ValueError, KeyError, IndexError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not after {timeout}s (last: {last!r})")
        time.sleep(interval)


class NodeCluster:
    """One ``kubelite up`` with its node agent, and clients for it; see the module docstring."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data_dir = base / "data"
        self.server = KubeliteServer(self.data_dir, command="up", log_path=base / "kubelite.log")
        self.home = base / "home"
        self.cache_dir = base / "kubectl-cache"
        self.api: Any = None

    @classmethod
    def start(cls, base: Path, registries: dict[str, Any] | None = None) -> NodeCluster:
        cluster = cls(base)
        cluster.home.mkdir(parents=True, exist_ok=True)
        if registries is not None:
            cluster.data_dir.mkdir(parents=True, exist_ok=True)
            (cluster.data_dir / "registries.yaml").write_text(yaml.safe_dump(registries))
        cluster._start()
        # a restart keeps the port, so kubeconfig and clients stay valid
        cluster.server.port = urlsplit(cluster.server.url).port or 0
        return cluster

    def _start(self) -> None:
        self.server.start(timeout=90)
        import kubernetes

        if self.api is not None:
            self.api.close()
        self.api = kubernetes.config.new_client_from_config(config_file=str(self.server.kubeconfig))
        self.wait_node_ready()

    def wait_node_ready(self, timeout: float = 90) -> str:
        def ready() -> str:
            nodes = json.loads(self.kubectl("get", "nodes", "-o", "json", check=True).stdout)["items"]
            for node in nodes:
                conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
                if conds.get("Ready") == "True":
                    return str(node["metadata"]["name"])
            return ""

        return wait_until(ready, timeout, "a Ready node")

    def restart(self) -> None:
        """SIGTERM, then ``kubelite up`` again on the same data dir and port."""
        code = self.server.stop()
        if code != 0:
            raise AssertionError(f"kubelite up exited with {code} on SIGTERM:\n{self.server.log_tail()}")
        self._start()

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """The real kubectl against this cluster; ``check``: AssertionError with its output."""
        argv = [
            str(KUBECTL),
            "--kubeconfig",
            str(self.server.kubeconfig),
            "--cache-dir",
            str(self.cache_dir),
            *args,
        ]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, env=self.server.env(self.home)
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def close(self) -> list[str]:
        """Stop, reset the node; the problems met (empty: all clean)."""
        problems = []
        if self.api is not None:
            self.api.close()
        code = self.server.stop()
        if code not in (0, None):
            problems.append(f"kubelite up exited with {code}; its log ends:\n{self.server.log_tail()}")
        reset = subprocess.run(
            [*kubelite_command(), "reset", "--data-dir", str(self.data_dir), "--node-network"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if reset.returncode != 0:
            problems.append(f"kubelite reset failed:\n{reset.stdout}{reset.stderr}")
        # the runtime's state tmpfs, rootfs overlays, tmpfs volumes: reset unmounts them all
        problems += [f"still mounted after reset: {p}" for p in mounts.mount_points(str(self.data_dir))]
        return problems
