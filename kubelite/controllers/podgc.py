"""Pod garbage collection: removes pods nobody else will ever clean up.

Every ``gc-check-period`` (20 s) it looks at the pod and node caches and
force-deletes (grace period 0), after marking them Failed when they were not
terminal yet:

- terminated pods (phase neither Pending, Running nor Unknown) beyond
  ``terminated-pod-gc-threshold`` (12500; 0 switches this off), evicted ones
  first, then the oldest;
- terminating pods on a node that is NotReady and tainted
  ``node.kubernetes.io/out-of-service`` (its kubelet will not finish them);
- pods bound to a node that does not exist: a node missing from the cache
  is quarantined for 40 s first, then confirmed gone with a live GET, so a
  node agent that registers late or a lagging cache costs no pod;
- terminating pods that were never scheduled.

Options (``ControllerContext.options["podgc"]``, or the same keys at the top
level): ``terminated-pod-gc-threshold``, ``gc-check-period``,
``quarantine-time``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.timestamps import rfc3339
from kubelite.client import lookup
from kubelite.controllers.base import Controller, ControllerContext

POD = lookup("", "v1", "Pod")
NODE = lookup("", "v1", "Node")
DEFAULT_THRESHOLD = 12500
GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def is_terminated(pod: Any) -> bool:
    return pod.status.phase not in ("Pending", "Running", "Unknown")


def is_evicted(pod: Any) -> bool:
    return pod.status.phase == "Failed" and pod.status.reason == "Evicted"


def _node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


class PodGCController(Controller):
    """Force-deletes terminated pods over the threshold and pods orphaned by their node."""

    NAME = "podgc"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pods = ctx.informers.informer_for(POD)
        self.nodes = ctx.informers.informer_for(NODE)
        self.threshold = int(ctx.option(self.NAME, "terminated-pod-gc-threshold", DEFAULT_THRESHOLD))
        self.period = float(ctx.option(self.NAME, "gc-check-period", GC_CHECK_PERIOD))
        self.quarantine = float(ctx.option(self.NAME, "quarantine-time", QUARANTINE_TIME))
        self._missing_since: dict[str, float] = {}  # node name -> when first missing from the cache
        self.passes = 0  # completed gc passes (for tests and metrics)

    async def run(self) -> None:
        await self.wait_synced()
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("pod garbage collection failed; trying again next period")
            self.passes += 1
            await self.clock.sleep(self.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        nodes = {n.metadata.name: n for n in self.nodes.list()}
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods, nodes)
        await self.gc_orphaned(pods, nodes)
        await self.gc_unscheduled_terminating(pods)

    # --------------------------------------------------------------- passes

    async def gc_terminated(self, pods: list[Any]) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        self.log.info("garbage collecting %d terminated pods (threshold %d)", excess, self.threshold)
        terminated.sort(
            key=lambda p: (not is_evicted(p), p.metadata.creationTimestamp or "", p.metadata.name)
        )
        await self._delete_all(terminated[:excess])

    async def gc_terminating(self, pods: list[Any], nodes: dict[str, Any]) -> None:
        doomed = []
        for pod in pods:
            if not pod.metadata.deletionTimestamp:
                continue
            node = nodes.get(pod.spec.nodeName)
            if node is None:
                continue
            if not _node_ready(node) and any(t.key == OUT_OF_SERVICE_TAINT for t in node.spec.taints):
                doomed.append(pod)
        doomed.sort(key=lambda p: (not is_evicted(p), p.metadata.creationTimestamp or "", p.metadata.name))
        await self._delete_all(doomed)

    async def gc_orphaned(self, pods: list[Any], nodes: dict[str, Any]) -> None:
        now = self.clock.monotonic()
        wanted = {p.spec.nodeName for p in pods if p.spec.nodeName and p.spec.nodeName not in nodes}
        for name in list(self._missing_since):
            if name not in wanted:
                del self._missing_since[name]  # back in the cache, or no pod cares any more
        for name in wanted:
            self._missing_since.setdefault(name, now)
        deleted: set[str] = set()
        for name, since in list(self._missing_since.items()):
            if now - since < self.quarantine:
                continue
            del self._missing_since[name]  # checked; quarantined afresh if still needed
            try:
                await self.client.resource(NODE).get(name)
            except StatusError as e:
                if e.code == 404:
                    deleted.add(name)
                else:
                    self.log.warning("checking node %s: %s", name, e)
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists",
        }
        for pod in pods:
            if pod.spec.nodeName in deleted:
                self.log.info(
                    "deleting pod %s/%s: its node %s no longer exists",
                    pod.metadata.namespace,
                    pod.metadata.name,
                    pod.spec.nodeName,
                )
                await self._mark_failed_and_delete(pod, condition)

    async def gc_unscheduled_terminating(self, pods: list[Any]) -> None:
        for pod in pods:
            if pod.metadata.deletionTimestamp and not pod.spec.nodeName:
                await self._mark_failed_and_delete(pod)

    # --------------------------------------------------------------- writes

    async def _delete_all(self, pods: list[Any]) -> None:
        await asyncio.gather(*(self._mark_failed_and_delete(p) for p in pods))

    async def _mark_failed_and_delete(self, pod: Any, condition: dict[str, Any] | None = None) -> None:
        """Make the pod Failed (a pod whose kubelet is gone would stay Running forever), then
        delete it at once. Errors are logged; the next pass tries again."""
        ns, name = pod.metadata.namespace, pod.metadata.name
        pods = self.client.resource(POD, raw=True)
        try:
            if pod.status.phase not in ("Succeeded", "Failed"):
                status: dict[str, Any] = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [{**condition, "lastTransitionTime": rfc3339(self.clock.now())}]
                patch = {"metadata": {"uid": pod.metadata.uid}, "status": status}
                await pods.patch(name, patch, "strategic", ns, subresource="status")
            self.log.info("force deleting pod %s/%s", ns, name)
            await pods.delete(name, ns, grace_period_seconds=0)
        except StatusError as e:
            if e.code != 404:
                self.log.warning("deleting pod %s/%s: %s", ns, name, e)
