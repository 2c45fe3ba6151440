"""The scheduler's cache: nodes and the pods on them, including assumed pods.

A pod is *assumed* onto its node when its scheduling cycle picks that node,
before the binding is written, so the next cycles already count it. The
informer's add of the bound pod *confirms* it; a failed binding *forgets*
it; an assumed pod whose binding finished but whose add never came expires
after ``ttl`` seconds.

Every change bumps the changed NodeInfo's generation and moves it to the
end of a recency order. ``update_snapshot`` walks that order backwards and
copies only the NodeInfos newer than the snapshot's generation, so a cycle's
snapshot costs what changed since the last one, not the cluster size.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass

from kubelite.api.core_v1 import Node, Pod
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.scheduler.nodeinfo import ImageStateSummary, NodeInfo, PodInfo, Snapshot

log = logging.getLogger("kubelite.scheduler.cache")

DEFAULT_ASSUMED_POD_TTL = 30.0


def normalized_image_name(name: str) -> str:
    """An image name with ``:latest`` when it names no tag or digest (as the kubelet reports them)."""
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


def same_for_scheduling(old: Pod, new: Pod) -> bool:
    """Whether ``new`` is ``old`` as far as PodInfo, NodeInfo and the plugins' cached counts go.

    Those read the spec, the labels, the namespace and whether the pod is
    being deleted; other fields (status, annotations, resourceVersion) are
    read only from the live object, which the caller swaps in.
    """
    if old is new:
        return True
    a, b = old.metadata, new.metadata
    return (
        a.uid == b.uid
        and a.namespace == b.namespace
        and a.deletionTimestamp == b.deletionTimestamp
        and a.labels == b.labels
        and old.spec == new.spec
    )


@dataclass
class _PodState:
    pod_info: PodInfo
    node_name: str
    assumed: bool = False
    binding_finished: bool = False
    deadline: float | None = None


class Cache:
    """Nodes, pods and assumed pods, with incremental snapshots for the scheduling cycle."""

    def __init__(self, clock: Clock = REAL_CLOCK, ttl: float = DEFAULT_ASSUMED_POD_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self.nodes: dict[str, NodeInfo] = {}
        self._order: OrderedDict[str, None] = OrderedDict()  # least to most recently changed
        self._generation = 0
        self._structure_changed = True
        self.pod_states: dict[str, _PodState] = {}
        self.images: dict[str, tuple[ImageStateSummary, set[str]]] = {}
        # (deadline, seq, key) of assumed pods whose binding finished, soonest first; stale
        # entries (confirmed or forgotten pods) are dropped when they come up.
        self._expiry: list[tuple[float, int, str]] = []
        self._expiry_seq = itertools.count()

    # --------------------------------------------------------------- helpers

    def _touch(self, ni: NodeInfo) -> None:
        self._generation += 1
        ni.generation = self._generation
        self._order[ni.name] = None
        self._order.move_to_end(ni.name)

    def _node_info(self, name: str) -> NodeInfo:
        ni = self.nodes.get(name)
        if ni is None:
            ni = NodeInfo()
            ni.name = name
            self.nodes[name] = ni
        return ni

    @staticmethod
    def _key(pod: Pod) -> str:
        return f"{pod.metadata.namespace}/{pod.metadata.name}"

    # ----------------------------------------------------------------- nodes

    def add_node(self, node: Node) -> NodeInfo:
        name = node.metadata.name
        ni = self._node_info(name)
        if ni.node is None:
            self._structure_changed = True
        else:
            self._remove_images(ni)
        ni.set_node(node)
        self._add_images(ni, node)
        self._touch(ni)
        return ni

    def update_node(self, old: Node | None, new: Node) -> NodeInfo:
        return self.add_node(new)

    def remove_node(self, node: Node) -> None:
        name = node.metadata.name
        ni = self.nodes.get(name)
        if ni is None:
            return
        self._remove_images(ni)
        ni.remove_node()
        self._structure_changed = True
        if ni.pods:
            self._touch(ni)  # pods still point at it; kept until they go
        else:
            del self.nodes[name]
            self._order.pop(name, None)

    def _add_images(self, ni: NodeInfo, node: Node) -> None:
        states: dict[str, ImageStateSummary] = {}
        for image in node.status.images:
            for raw in image.names:
                name = normalized_image_name(raw)
                entry = self.images.get(name)
                if entry is None:
                    entry = (ImageStateSummary(image.sizeBytes, 0), set())
                    self.images[name] = entry
                summary, nodes = entry
                if ni.name not in nodes:
                    nodes.add(ni.name)
                    summary.num_nodes = len(nodes)
                summary.size = image.sizeBytes
                states[name] = summary
        ni.image_states = states

    def _remove_images(self, ni: NodeInfo) -> None:
        for name in ni.image_states:
            entry = self.images.get(name)
            if entry is None:
                continue
            summary, nodes = entry
            nodes.discard(ni.name)
            summary.num_nodes = len(nodes)
            if not nodes:
                del self.images[name]
        ni.image_states = {}

    # ------------------------------------------------------------------ pods

    def _add_pod_to_node(self, pi: PodInfo, node_name: str) -> None:
        ni = self._node_info(node_name)
        ni.add_pod(pi)
        self._touch(ni)

    def _remove_pod_from_node(self, pi: PodInfo, node_name: str) -> None:
        ni = self.nodes.get(node_name)
        if ni is None:
            return
        ni.remove_pod(pi)
        if ni.node is None and not ni.pods:
            del self.nodes[node_name]
            self._order.pop(node_name, None)
            self._structure_changed = True
            return
        self._touch(ni)

    def assume_pod(self, pod: Pod, pod_info: PodInfo | None = None) -> None:
        """Count ``pod`` (with ``spec.nodeName`` set) on its node before the binding is written."""
        key = self._key(pod)
        if key in self.pod_states:
            raise ValueError(f"pod {key} is in the cache, so can't be assumed")
        pi = pod_info if pod_info is not None and pod_info.pod is pod else PodInfo(pod)
        self._add_pod_to_node(pi, pod.spec.nodeName)
        self.pod_states[key] = _PodState(pi, pod.spec.nodeName, assumed=True)

    def finish_binding(self, pod: Pod) -> None:
        """The binding was written: expire the assumption if the informer never confirms it."""
        state = self.pod_states.get(self._key(pod))
        if state is not None and state.assumed:
            state.binding_finished = True
            state.deadline = self.clock.monotonic() + self.ttl
            heapq.heappush(self._expiry, (state.deadline, next(self._expiry_seq), self._key(pod)))

    def forget_pod(self, pod: Pod) -> None:
        """Undo ``assume_pod`` (the binding failed)."""
        key = self._key(pod)
        state = self.pod_states.get(key)
        if state is None or not state.assumed:
            return
        self._remove_pod_from_node(state.pod_info, state.node_name)
        del self.pod_states[key]

    def is_assumed(self, pod: Pod) -> bool:
        state = self.pod_states.get(self._key(pod))
        return state is not None and state.assumed

    def add_pod(self, pod: Pod) -> None:
        """A bound pod appeared (informer): confirm an assumed pod, or add it."""
        key = self._key(pod)
        state = self.pod_states.get(key)
        if state is not None and state.assumed:
            if state.node_name != pod.spec.nodeName:
                log.warning(
                    "pod %s was assumed on %s but bound to %s", key, state.node_name, pod.spec.nodeName
                )
                self._remove_pod_from_node(state.pod_info, state.node_name)
                pi = PodInfo(pod)
                self._add_pod_to_node(pi, pod.spec.nodeName)
                self.pod_states[key] = _PodState(pi, pod.spec.nodeName)
                return
            state.assumed = False
            state.deadline = None
            self._update_in_place(state, pod)
            return
        if state is not None:
            self.update_pod(state.pod_info.pod, pod)
            return
        pi = PodInfo(pod)
        self._add_pod_to_node(pi, pod.spec.nodeName)
        self.pod_states[key] = _PodState(pi, pod.spec.nodeName)

    def _update_in_place(self, state: _PodState, pod: Pod) -> None:
        """Replace the pod's data on its node (its requests may differ)."""
        pi = state.pod_info
        if state.node_name == pod.spec.nodeName and same_for_scheduling(pi.pod, pod):
            # The common updates (the informer confirming an assumed pod, status changes) leave
            # everything the PodInfo and the node's sums derive from as it was: keep them.
            pi.pod = pod
            return
        self._remove_pod_from_node(state.pod_info, state.node_name)
        pi = PodInfo(pod)
        state.pod_info = pi
        state.node_name = pod.spec.nodeName
        self._add_pod_to_node(pi, pod.spec.nodeName)

    def update_pod(self, old: Pod | None, new: Pod) -> None:
        state = self.pod_states.get(self._key(new))
        if state is None:
            self.add_pod(new)
            return
        state.assumed = False
        state.deadline = None
        self._update_in_place(state, new)

    def remove_pod(self, pod: Pod) -> None:
        key = self._key(pod)
        state = self.pod_states.pop(key, None)
        if state is None:
            return
        self._remove_pod_from_node(state.pod_info, state.node_name)

    def cleanup_expired_assumed_pods(self) -> list[Pod]:
        """Forget assumed pods whose binding finished ``ttl`` seconds ago unconfirmed."""
        now = self.clock.monotonic()
        expired = []
        heap = self._expiry
        while heap and heap[0][0] < now:
            deadline, _, key = heapq.heappop(heap)
            state = self.pod_states.get(key)
            # Entries of pods confirmed, forgotten or assumed again since are stale: skip them.
            if state is None or not state.assumed or state.deadline != deadline:
                continue
            log.warning("assumed pod %s expired", key)
            self._remove_pod_from_node(state.pod_info, state.node_name)
            del self.pod_states[key]
            expired.append(state.pod_info.pod)
        return expired

    def get_pod(self, pod: Pod) -> Pod | None:
        state = self.pod_states.get(self._key(pod))
        return state.pod_info.pod if state is not None else None

    # -------------------------------------------------------------- snapshot

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date, copying only the NodeInfos changed since its generation."""
        since = snapshot.generation
        changed: list[NodeInfo] = []
        for name in reversed(self._order):
            ni = self.nodes[name]
            if ni.generation <= since:
                break
            changed.append(ni)
        structural = self._structure_changed
        by_name = snapshot.by_name
        for ni in reversed(changed):  # oldest first, as the snapshot's change log wants
            if ni.node is None:
                structural = True
                continue
            clone = ni.clone()
            if structural:
                by_name[ni.name] = clone  # indexed below
            elif not snapshot.replace(clone):
                structural = True  # a new node
                by_name[ni.name] = clone
        snapshot.generation = self._generation
        if structural:
            snapshot.infos = [
                by_name[name] if name in by_name and by_name[name].generation == ni.generation else ni.clone()
                for name, ni in self.nodes.items()
                if ni.node is not None
            ]
            snapshot.rebuild_indexes()
            self._structure_changed = False

    def node_count(self) -> int:
        return sum(1 for ni in self.nodes.values() if ni.node is not None)

    def pod_count(self) -> int:
        return len(self.pod_states)
