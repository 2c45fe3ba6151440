"""Controllers at scale: a 1000-replica Deployment created, then rolled to a new template.

One process, one event loop, as ``kubelite up`` runs: an API server on
SQLite (fresh temp data dir, plain HTTP on loopback), a controller manager
with the ``replicaset`` and ``deployment`` controllers, and a simulated
kubelet that marks every pod of the benchmark namespace Running and Ready
through the status subresource as soon as it sees it (``--kubelet-workers``
concurrent writes), as a node agent would once its containers run.

Phases, each timed until done:

1. create: a Deployment of ``--replicas`` (1000) pods, until that many pod
   objects exist (reported), and until all are ready and the Deployment
   reports the rollout complete (what ``kubectl rollout status`` waits for);
2. rolling update: a new template (maxSurge/maxUnavailable 25%), until the
   rollout is complete and only new pods are left.

The reference: the API server's raw create rate for pods in the same run,
``--replicas`` pods created directly with the controllers' client
concurrency (its connection pool: 100 requests in flight), measured before
the controllers start and again after they stop; the mean of the two.

Ends with ``RESULT name=deployment_1000 value=<pods/s> unit=pods/s
reference=<raw creates/s> ratio=<value/reference>`` where the value is
replicas / seconds from creating the Deployment until every pod is ready
and the rollout complete.

    .venv/bin/python bench/controllers.py [--replicas 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.client import Client, Informer, lookup
from kubelite.client.events import rfc3339
from kubelite.controllers.manager import ControllerManager

PODS = lookup("", "v1", "Pod")
DEPLOYMENTS = lookup("apps", "v1", "Deployment")
NAMESPACES = lookup("", "v1", "Namespace")
CLIENT_CONCURRENCY = 100  # the Client's connection pool limit: the most requests a controller has in flight
TIME_LIMIT = 600.0
NS = "bench-deploy"
RAW_NS = "bench-raw"


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


def pod_body(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "raw"}},
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.example/app:1", "env": [{"name": "V", "value": "1"}]}
            ]
        },
    }


def deployment_body(replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1",
                            "env": [{"name": "V", "value": "1"}],
                        }
                    ]
                },
            },
        },
    }


async def raw_creates(client: Client, count: int, round_: int) -> float:
    """Pods/s creating ``count`` pods directly with CLIENT_CONCURRENCY requests in flight; deletes them after."""
    pods = client.resource(PODS)
    gate = asyncio.Semaphore(CLIENT_CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await pods.create(pod_body(f"raw-{round_}-{i}"), RAW_NS)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    rate = count / (time.perf_counter() - start)
    await pods.delete_collection(RAW_NS, label_selector="app=raw")
    return rate


class SimulatedKubelet:
    """Marks the namespace's pods Running and Ready as soon as it sees them (status subresource)."""

    def __init__(self, client: Client, namespace: str, workers: int) -> None:
        self.pods = client.resource(PODS)
        self.namespace = namespace
        self.informer = Informer(self.pods, namespace)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.workers = workers
        self.marked = 0
        self.informer.add_handler(self._seen, lambda old, new: self._seen(new))

    def _seen(self, pod: Any) -> None:
        if pod.metadata.deletionTimestamp is None and not is_ready(pod):
            self.queue.put_nowait(pod.metadata.name)

    async def _work(self) -> None:
        while True:
            name = await self.queue.get()
            pod = self.informer.get_by(self.namespace, name)
            if pod is None or is_ready(pod):
                continue
            stamp = rfc3339(time.time())
            patch = {
                "status": {
                    "phase": "Running",
                    "podIP": "10.42.0.1",
                    "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": stamp},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": stamp},
                    ],
                }
            }
            with contextlib.suppress(Exception):
                await self.pods.patch(name, patch, "strategic", self.namespace, subresource="status")
                self.marked += 1

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.informer.run())
            for _ in range(self.workers):
                tg.create_task(self._work())


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def wait_for(check: Callable[[], bool], deadline: float, what: str) -> float:
    """Poll ``check`` (cheap, from caches) every 10 ms; the time it first held."""
    while not check():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def bench(replicas: int, kubelet_workers: int, keep: bool) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="kubelite-bench-controllers-"))
    server = APIServer(ServerConfig(data_dir=data_dir, port=0, tls=False, store="sqlite"))
    started = asyncio.Event()
    deadline = time.perf_counter() + TIME_LIMIT
    try:
        async with asyncio.TaskGroup() as tg:
            server_task = tg.create_task(server.run(started))
            await asyncio.wait_for(started.wait(), 60)
            try:
                return await _run(server.url, replicas, kubelet_workers, deadline)
            finally:
                server.stop()
                await server_task
    finally:
        if keep:
            print(f"data dir kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _run(url: str, replicas: int, kubelet_workers: int, deadline: float) -> int:
    async with (
        Client(url, component="bench") as client,
        Client(url, component="controller-manager") as cm_client,
    ):
        for ns in (NS, RAW_NS):
            await client.resource(NAMESPACES).create({"metadata": {"name": ns}})
        await raw_creates(client, 100, 0)  # warm-up: connections, caches, sqlite pages
        raw_before = await raw_creates(client, replicas, 1)
        print(f"raw pod creates ({CLIENT_CONCURRENCY} in flight): {raw_before:.0f}/s", flush=True)

        manager = ControllerManager(cm_client, "replicaset,deployment", leader_elect=False)
        kubelet = SimulatedKubelet(client, NS, kubelet_workers)
        deployments = client.resource(DEPLOYMENTS)
        observer = Informer(deployments, NS)
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(manager.run()),
                tg.create_task(kubelet.run()),
                tg.create_task(observer.run()),
            ]
            await kubelet.informer.wait_synced()
            await observer.wait_synced()
            await asyncio.sleep(0.5)  # the controllers' informers sync

            def pods_with(pred: Callable[[Any], bool]) -> int:
                return sum(1 for p in kubelet.informer.list() if pred(p))

            def rolled_out(version: str) -> Callable[[], bool]:
                def check() -> bool:
                    d = observer.get_by(NS, "web")
                    if d is None:
                        return False
                    s = d.status
                    done = (
                        s.observedGeneration >= d.metadata.generation
                        and s.updatedReplicas == replicas
                        and s.replicas == replicas
                        and s.availableReplicas == replicas
                    )
                    pods = kubelet.informer.list()
                    return bool(
                        done
                        and len(pods) == replicas
                        and all(is_ready(p) and p.spec.containers[0].env[0].value == version for p in pods)
                    )

                return check

            t0 = time.perf_counter()
            await deployments.create(deployment_body(replicas), NS)
            t_exist = await wait_for(
                lambda: pods_with(lambda p: True) >= replicas, deadline, f"{replicas} pods"
            )
            t_ready = await wait_for(rolled_out("1"), deadline, "the first rollout")
            create_s = t_ready - t0
            print(
                f"create: {replicas} pods exist after {t_exist - t0:.2f}s ({replicas / (t_exist - t0):.0f} pods/s), "
                f"all ready and rollout complete after {create_s:.2f}s ({replicas / create_s:.0f} pods/s)",
                flush=True,
            )

            patch = {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "env": [{"name": "V", "value": "2"}]}]}
                    }
                }
            }
            t1 = time.perf_counter()
            await deployments.patch("web", patch, "strategic", NS)
            t_rolled = await wait_for(rolled_out("2"), deadline, "the rolling update")
            update_s = t_rolled - t1
            print(
                f"rolling update: complete after {update_s:.2f}s ({replicas / update_s:.0f} new pods/s, "
                f"{replicas} created and {replicas} deleted); kubelet marked {kubelet.marked} pods ready",
                flush=True,
            )
            for t in tasks:
                t.cancel()
        await asyncio.sleep(0.2)
        raw_after = await raw_creates(client, replicas, 2)
        print(f"raw pod creates after the controllers stopped: {raw_after:.0f}/s", flush=True)

    value = replicas / create_s
    reference = (raw_before + raw_after) / 2
    print(
        f"RESULT name=deployment_{replicas} value={value:.1f} unit=pods/s reference={reference:.1f} "
        f"ratio={value / reference:.3f}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=1000, help="Deployment size (default 1000)")
    parser.add_argument(
        "--kubelet-workers", type=int, default=32, help="concurrent status writes of the kubelet"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    failures: list[BaseException] = []
    try:
        return asyncio.run(bench(args.replicas, args.kubelet_workers, args.keep))
    except* BenchError as group:
        failures.extend(group.exceptions)
    for e in failures:
        print(f"error: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
