"""``kubelite server`` runs the controller manager in-process (``--controllers``
picks which), and ``kubelite controller-manager --kubeconfig FILE`` runs
controllers against it from another process, over HTTPS with the admin
credentials, with leader election."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))

from serverproc import KubeliteServer, kubelite_command, running_server

from kubelite.client import Client, lookup

PODS = lookup("", "v1", "Pod")
LEASES = lookup("coordination.k8s.io", "v1", "Lease")
NAMESPACES = lookup("", "v1", "Namespace")
REPLICASETS = lookup("apps", "v1", "ReplicaSet")
RCS = lookup("", "v1", "ReplicationController")
NS = "cli-test"
TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeliteServer]:
    base = tmp_path_factory.mktemp("cm-cli")
    with running_server(base, ["--controllers=*,-replicaset"]) as srv:
        yield srv


async def _eventually(check: Any, timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


def _start(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


async def _pods(client: Client, selector: str) -> list[Any]:
    items, _, _ = await client.resource(PODS).list(NS, selector)
    return [p for p in items if p.metadata.deletionTimestamp is None]


async def test_server_runs_controllers_and_controller_manager_cli_adds_one(
    server: KubeliteServer, tmp_path: Path
) -> None:
    async with Client.from_kubeconfig(str(server.kubeconfig), component="test") as client:
        await client.resource(NAMESPACES).create({"metadata": {"name": NS}})
        await client.resource(REPLICASETS).create(
            {
                "metadata": {"name": "cli-rs"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "cli-rs"}},
                    "template": {"metadata": {"labels": {"app": "cli-rs"}}, **TEMPLATE},
                },
            },
            NS,
        )
        await client.resource(RCS).create(
            {
                "metadata": {"name": "cli-rc"},
                "spec": {
                    "replicas": 2,
                    "selector": {"app": "cli-rc"},
                    "template": {"metadata": {"labels": {"app": "cli-rc"}}, **TEMPLATE},
                },
            },
            NS,
        )

        # The in-process manager runs the ReplicationController controller...
        async def rc_pods() -> None:
            assert len(await _pods(client, "app=cli-rc")) == 2

        await _eventually(rc_pods)
        lease = await client.resource(LEASES).get("kube-controller-manager", "kube-system")
        assert lease.spec.holderIdentity
        # ...but not the ReplicaSet controller (--controllers=*,-replicaset).
        await asyncio.sleep(1.0)
        assert await _pods(client, "app=cli-rs") == []

        log_path = tmp_path / "controller-manager.log"
        argv = [
            *kubelite_command(),
            "controller-manager",
            "--kubeconfig",
            str(server.kubeconfig),
            "--controllers=replicaset",
            "--leader-elect-resource-name=cli-test-replicaset",
        ]
        proc = await asyncio.to_thread(_start, argv, log_path)
        try:

            async def rs_pods() -> None:
                assert proc.poll() is None, log_path.read_text()
                assert len(await _pods(client, "app=cli-rs")) == 2

            await _eventually(rs_pods)

            async def rs_status() -> None:
                rs = await client.resource(REPLICASETS).get("cli-rs", NS)
                assert rs.status.replicas == 2 and rs.status.observedGeneration == rs.metadata.generation

            await _eventually(rs_status)
            lease = await client.resource(LEASES).get("cli-test-replicaset", "kube-system")
            assert lease.spec.holderIdentity
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        assert code == 0, log_path.read_text()


def test_unknown_controller_is_a_usage_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    result = subprocess.run(
        [*kubelite_command(), "controller-manager", "--kubeconfig", str(kubeconfig), "--controllers=nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown controller 'nope'" in result.stderr
