"""``kubelite simulate`` and ``kubelite scheduler`` as their own processes against a
``kubelite server``: simulated nodes register, a second scheduler (its own profile
name and lease) binds the pods that ask for it, the simulated kubelets run them,
and SIGTERM stops both cleanly (exit 0)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serverproc import Component, KubeliteServer, running_server

from kubelite.client import Client, lookup

NODES = lookup("", "v1", "Node")
PODS = lookup("", "v1", "Pod")
LEASES = lookup("coordination.k8s.io", "v1", "Lease")

SCHEDULER_CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  resourceName: cli-test-scheduler
profiles:
- schedulerName: cli-scheduler
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeliteServer]:
    base = tmp_path_factory.mktemp("component-cli")
    with running_server(base) as srv:
        yield srv


async def _eventually(check: Callable[[], Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def test_simulated_nodes_and_a_second_scheduler(server: KubeliteServer, tmp_path: Path) -> None:
    kubeconfig = str(server.kubeconfig)
    config = tmp_path / "scheduler.yaml"
    config.write_text(SCHEDULER_CONFIG)
    simulate = Component(
        ["simulate", "--kubeconfig", kubeconfig, "--nodes", "2", "--name-prefix", "cli-sim-"],
        tmp_path / "simulate.log",
    )
    scheduler = Component(
        ["scheduler", "--kubeconfig", kubeconfig, "--config", str(config)], tmp_path / "scheduler.log"
    )
    try:
        async with Client.from_kubeconfig(kubeconfig, component="test") as client:

            async def nodes_ready() -> None:
                simulate.alive()
                nodes, _, _ = await client.resource(NODES).list()
                names = {n.metadata.name for n in nodes}
                assert {"cli-sim-0", "cli-sim-1"} <= names

            await _eventually(nodes_ready)
            await client.resource(PODS).create(
                {
                    "metadata": {"name": "by-cli-scheduler"},
                    "spec": {
                        "schedulerName": "cli-scheduler",
                        "nodeSelector": {"kubernetes.io/hostname": "cli-sim-1"},
                        "containers": [{"name": "app", "image": "registry.example/app:1"}],
                    },
                },
                "default",
            )

            async def pod_running() -> None:
                scheduler.alive()
                pod = await client.resource(PODS).get("by-cli-scheduler", "default")
                assert pod.spec.nodeName == "cli-sim-1"
                assert pod.status.phase == "Running"

            await _eventually(pod_running)
            lease = await client.resource(LEASES).get("cli-test-scheduler", "kube-system")
            assert lease.spec.holderIdentity
    finally:
        codes = (simulate.stop(), scheduler.stop())
    assert codes == (0, 0), (simulate.log(), scheduler.log())
    assert "stopped" in scheduler.log()
