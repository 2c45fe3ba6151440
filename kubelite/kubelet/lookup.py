"""``PodManagerLookup``: the pod manager seen through the kubelet API's ``ContainerLookup``.

The kubelet's HTTPS server (``kubelite.kubelet.server``) asks where a
container runs and where its log is; the pod workers know. Which attempt
``previous`` means follows the kubelet (``validateContainerLogStatus``): a
container waiting to be restarted (back-off) has no current attempt, so
both its current and its previous log are those of the attempt that just
ended — what ``lastState.terminated`` in its status names; otherwise the
previous attempt is the one before the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from kubelite.kubelet.podmanager import PodManager
from kubelite.kubelet.podworker import PodWorker
from kubelite.kubelet.runtime.interface import ContainerState, ContainerStatus
from kubelite.kubelet.server import ContainerTarget, PodTarget

SETTLE_TIMEOUT = 10.0  # seconds a kubelet API request waits for a (re)starting agent


class PodManagerLookup:
    """``ContainerLookup`` over the pod manager ``manager()`` returns (None before it runs)."""

    def __init__(self, manager: Callable[[], PodManager | None]) -> None:
        self._manager = manager

    def _worker(self, namespace: str, pod: str) -> PodWorker | None:
        manager = self._manager()
        return manager.find_pod(namespace, pod) if manager is not None else None

    def find(
        self, namespace: str, pod: str, container: str, previous: bool = False
    ) -> ContainerTarget | None:
        worker = self._worker(namespace, pod)
        if worker is None:
            return None
        history = worker.containers().get(container, [])
        if not history:
            return None
        latest = history[0]
        restarting = (
            latest.state not in (ContainerState.RUNNING, ContainerState.CREATED)
            and container in worker.waiting
            and worker.final is None
        )
        index = 1 if previous and not restarting else 0
        if len(history) <= index:
            return None
        return _target(history[index])

    def default_container(self, namespace: str, pod: str) -> str | None:
        worker = self._worker(namespace, pod)
        if worker is None:
            return None
        containers = worker.pod.spec.containers
        return containers[0].name if containers else ""

    def pod(self, namespace: str, pod: str) -> PodTarget | None:
        worker = self._worker(namespace, pod)
        return _pod_target(worker) if worker is not None else None

    async def settled(self, namespace: str, pod: str, timeout: float = SETTLE_TIMEOUT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        manager = self._manager()
        while manager is None:  # the agent registers its node before the pod manager runs
            if loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)
            manager = self._manager()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await manager.ready.wait()
                worker = manager.find_pod(namespace, pod)
                if worker is not None:
                    await worker.synced.wait()

    def pods(self) -> list[PodTarget]:
        manager = self._manager()
        if manager is None:
            return []
        return [_pod_target(w) for w in list(manager.workers.values())]


def _target(cs: ContainerStatus) -> ContainerTarget:
    return ContainerTarget(container_id=cs.id, log_path=cs.log_path)


def _pod_target(worker: PodWorker) -> PodTarget:
    md = worker.pod.metadata
    sandbox = worker.sandbox
    netns = "" if sandbox is None or worker.pod.spec.hostNetwork else sandbox.netns_path
    current = {
        name: _target(history[0])
        for name, history in worker.containers().items()
        if history and history[0].state == ContainerState.RUNNING
    }
    return PodTarget(
        namespace=md.namespace or "",
        name=md.name or "",
        uid=md.uid or "",
        netns=netns,
        start_time=sandbox.created_at if sandbox is not None else 0.0,
        containers=current,
    )
