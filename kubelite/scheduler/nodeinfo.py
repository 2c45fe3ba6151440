"""What the scheduler knows about pods and nodes, precomputed for fast plugins.

- ``Resource``: cpu (milli), memory, ephemeral storage, pod count and extended
  ("scalar") resources as plain ints.
- ``PodInfo``: a pod with its effective requests (init containers and
  overhead counted as Kubernetes does), host ports and parsed pod
  (anti-)affinity terms, computed once per pod.
- ``NodeInfo``: a node with the pods on it (assumed ones included) and their
  sums: requested resources, used host ports, image states. ``generation``
  changes whenever the NodeInfo does, which keeps snapshots incremental.
- ``Snapshot``: the NodeInfos one scheduling cycle works on.
- ``QueuedPodInfo``: a pending pod with its queueing facts.
"""

from __future__ import annotations

import builtins
import functools
import itertools
from collections.abc import Iterable
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from kubelite.api.core_v1 import Node, Pod
from kubelite.api.quantity import parse_quantity
from kubelite.api.selectors import LabelSelector, new_requirement, selector_from_api

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# Requests assumed for a container that states none, when spreading load (Kubernetes' non-zero defaults).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@functools.lru_cache(maxsize=8192)
def milli_value(text: str) -> int:
    return parse_quantity(text).milli_value()


@functools.lru_cache(maxsize=8192)
def int_value(text: str) -> int:
    return parse_quantity(text).value()


def quantity_value(name: str, text: str) -> int:
    """A resource quantity as the int the scheduler counts in (milli for cpu)."""
    return milli_value(text) if name == CPU else int_value(text)


class Resource:
    """Amounts of resources as ints: milli-cpu, bytes, counts."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        allowed_pod_number: int = 0,
        scalar: dict[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, resources: dict[str, str]) -> Resource:
        r = cls()
        for name, text in resources.items():
            r.set(name, quantity_value(name, text))
        return r

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def set(self, name: str, value: int) -> None:
        if name == CPU:
            self.milli_cpu = value
        elif name == MEMORY:
            self.memory = value
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = value
        elif name == PODS:
            self.allowed_pod_number = value
        else:
            self.scalar[name] = value

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.allowed_pod_number += sign * other.allowed_pod_number
        if other.scalar:
            scalar = self.scalar
            for name, value in other.scalar.items():
                scalar[name] = scalar.get(name, 0) + sign * value

    def clone(self) -> Resource:
        return Resource(
            self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number, dict(self.scalar)
        )

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def __repr__(self) -> str:
        extra = f", scalar={self.scalar}" if self.scalar else ""
        return (
            f"Resource(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}, pods={self.allowed_pod_number}{extra})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return (
            self.milli_cpu == other.milli_cpu
            and self.memory == other.memory
            and self.ephemeral_storage == other.ephemeral_storage
            and self.allowed_pod_number == other.allowed_pod_number
            and {k: v for k, v in self.scalar.items() if v} == {k: v for k, v in other.scalar.items() if v}
        )

    __hash__ = None  # type: ignore[assignment]


_MEMO_TOKENS = itertools.count(1)  # NodeInfo.memo_token values
_LAYOUTS = itertools.count(1)  # Snapshot.layout values


def _merge_max(acc: dict[str, int], other: dict[str, int]) -> None:
    for name, value in other.items():
        if value > acc.get(name, 0):
            acc[name] = value


def _add_into(acc: dict[str, int], other: dict[str, int]) -> None:
    for name, value in other.items():
        acc[name] = acc.get(name, 0) + value


def _container_requests(container: Any, non_zero: bool) -> dict[str, int]:
    resources = container.resources
    requests = resources.requests if resources is not None else {}
    out = {name: quantity_value(name, text) for name, text in requests.items()}
    if non_zero:
        if CPU not in out:
            out[CPU] = DEFAULT_MILLI_CPU_REQUEST
        if MEMORY not in out:
            out[MEMORY] = DEFAULT_MEMORY_REQUEST
    return out


def pod_requests(pod: Pod, non_zero: bool = False) -> dict[str, int]:
    """The pod's effective requests: max(sum of containers (+sidecars), each init container) + overhead.

    With ``non_zero``, a container without a cpu or memory request counts the
    scoring defaults (100m, 200Mi) for it.
    """
    spec = pod.spec
    total: dict[str, int] = {}
    for c in spec.containers:
        _add_into(total, _container_requests(c, non_zero))
    if spec.initContainers:
        sidecars: dict[str, int] = {}
        init_max: dict[str, int] = {}
        for c in spec.initContainers:
            reqs = _container_requests(c, non_zero)
            if c.restartPolicy == "Always":  # a sidecar keeps running next to the regular containers
                _add_into(total, reqs)
                _add_into(sidecars, reqs)
                current = dict(sidecars)
            else:
                current = dict(reqs)
                _add_into(current, sidecars)
            _merge_max(init_max, current)
        _merge_max(total, init_max)
    if spec.overhead:
        for name, text in spec.overhead.items():
            total[name] = total.get(name, 0) + quantity_value(name, text)
    return total


def _selector(sel: Any) -> LabelSelector:
    """An API LabelSelector parsed (None and invalid ones select nothing)."""
    if sel is None:
        return LabelSelector.nothing()
    try:
        return selector_from_api(msgspec.to_builtins(sel))
    except ValueError:
        return LabelSelector.nothing()


class AffinityTerm:
    """A pod (anti-)affinity term, parsed: which pods it selects and over which topology key."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, pod: Pod, term: Any) -> None:
        labels = pod.metadata.labels
        sel = term.labelSelector
        selector = _selector(sel)
        if sel is not None and (term.matchLabelKeys or term.mismatchLabelKeys):
            try:
                extra = [new_requirement(k, "in", [labels[k]]) for k in term.matchLabelKeys if k in labels]
                extra += [
                    new_requirement(k, "notin", [labels[k]]) for k in term.mismatchLabelKeys if k in labels
                ]
            except ValueError:
                extra = []
            if extra:
                selector = selector.add(*extra)
        self.selector: LabelSelector = selector
        self.topology_key: str = term.topologyKey
        self.namespaces: set[str] = set(term.namespaces)
        ns_sel = term.namespaceSelector
        self.namespace_selector: LabelSelector = _selector(ns_sel)
        if not self.namespaces and ns_sel is None:
            self.namespaces = {pod.metadata.namespace}

    def matches(self, pod: Pod, namespace_labels: dict[str, str] | None = None) -> bool:
        """Whether ``pod`` is one this term selects (by namespace and labels)."""
        ns = pod.metadata.namespace
        if ns not in self.namespaces and not (
            namespace_labels is not None and self.namespace_selector.matches(namespace_labels)
        ):
            return False
        return self.selector.matches(pod.metadata.labels)


class WeightedAffinityTerm:
    __slots__ = ("term", "weight")

    def __init__(self, term: AffinityTerm, weight: int) -> None:
        self.term = term
        self.weight = weight


class PodInfo:
    """A pod and what the scheduler derives from it once: requests, ports, affinity terms."""

    __slots__ = (
        "host_ports",
        "key",
        "non_zero_cpu",
        "non_zero_memory",
        "pod",
        "preferred_affinity_terms",
        "preferred_anti_affinity_terms",
        "requests",
        "required_affinity_terms",
        "required_anti_affinity_terms",
        "uid",
    )

    def __init__(self, pod: Pod) -> None:
        self.update(pod)

    def update(self, pod: Pod) -> None:
        self.pod = pod
        meta = pod.metadata
        self.key = f"{meta.namespace}/{meta.name}"
        self.uid = meta.uid or self.key
        reqs = pod_requests(pod)
        self.requests = Resource(
            reqs.pop(CPU, 0), reqs.pop(MEMORY, 0), reqs.pop(EPHEMERAL_STORAGE, 0), 1, reqs
        )
        reqs.pop(PODS, None)
        nz = pod_requests(pod, non_zero=True)
        self.non_zero_cpu = nz.get(CPU, 0)
        self.non_zero_memory = nz.get(MEMORY, 0)
        ports: list[tuple[str, str, int]] = []
        for c in pod.spec.containers:
            for p in c.ports:
                if p.hostPort > 0:
                    ports.append((p.hostIP or "0.0.0.0", p.protocol or "TCP", p.hostPort))
        for c in pod.spec.initContainers:
            if c.restartPolicy == "Always":
                for p in c.ports:
                    if p.hostPort > 0:
                        ports.append((p.hostIP or "0.0.0.0", p.protocol or "TCP", p.hostPort))
        self.host_ports = ports
        self.required_affinity_terms: list[AffinityTerm] = []
        self.required_anti_affinity_terms: list[AffinityTerm] = []
        self.preferred_affinity_terms: list[WeightedAffinityTerm] = []
        self.preferred_anti_affinity_terms: list[WeightedAffinityTerm] = []
        affinity = pod.spec.affinity
        if affinity is not None:
            pa, paa = affinity.podAffinity, affinity.podAntiAffinity
            if pa is not None:
                self.required_affinity_terms = [
                    AffinityTerm(pod, t) for t in pa.requiredDuringSchedulingIgnoredDuringExecution
                ]
                self.preferred_affinity_terms = [
                    WeightedAffinityTerm(AffinityTerm(pod, w.podAffinityTerm), w.weight)
                    for w in pa.preferredDuringSchedulingIgnoredDuringExecution
                ]
            if paa is not None:
                self.required_anti_affinity_terms = [
                    AffinityTerm(pod, t) for t in paa.requiredDuringSchedulingIgnoredDuringExecution
                ]
                self.preferred_anti_affinity_terms = [
                    WeightedAffinityTerm(AffinityTerm(pod, w.podAffinityTerm), w.weight)
                    for w in paa.preferredDuringSchedulingIgnoredDuringExecution
                ]

    def with_pod(self, pod: Pod) -> PodInfo:
        """A copy for ``pod``, a variant of this one's pod that changes nothing derived here
        (e.g. the pod with ``spec.nodeName`` set, as the scheduler assumes it)."""
        new = PodInfo.__new__(PodInfo)
        new.pod = pod
        new.key = self.key
        new.uid = self.uid
        new.requests = self.requests
        new.non_zero_cpu = self.non_zero_cpu
        new.non_zero_memory = self.non_zero_memory
        new.host_ports = self.host_ports
        new.required_affinity_terms = self.required_affinity_terms
        new.required_anti_affinity_terms = self.required_anti_affinity_terms
        new.preferred_affinity_terms = self.preferred_affinity_terms
        new.preferred_anti_affinity_terms = self.preferred_anti_affinity_terms
        return new

    @property
    def has_affinity(self) -> bool:
        """Whether the pod has any pod affinity or anti-affinity (required or preferred)."""
        return bool(
            self.required_affinity_terms
            or self.required_anti_affinity_terms
            or self.preferred_affinity_terms
            or self.preferred_anti_affinity_terms
        )

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class ImageStateSummary:
    """An image on a node: its size and on how many nodes it is (for ImageLocality)."""

    __slots__ = ("num_nodes", "size")

    def __init__(self, size: int, num_nodes: int) -> None:
        self.size = size
        self.num_nodes = num_nodes


class NodeInfo:
    """A node and the pods on it, with running sums the plugins read.

    Owned by the scheduler cache, which bumps ``generation`` on every change;
    plugins get clones in a ``Snapshot`` and must not change them (except
    preemption, on its own clones).

    For the per-node loops of Filter and Score, a few facts are kept as plain
    attributes, current after every change: ``free_milli_cpu``,
    ``free_memory``, ``free_ephemeral_storage`` (allocatable - requested) and
    ``free_pods`` (allowed pods - pods); ``unschedulable`` (no node, or
    cordoned), ``tainted`` (the node has taints) and ``prefer_no_schedule``
    (one of them is PreferNoSchedule). ``score_memo`` is scratch space for
    scores that depend only on this NodeInfo and the key they are stored
    under; it is emptied whenever the NodeInfo changes, and ``memo_token``
    then takes a new value never used before (clones keep it: a token names
    one state of a NodeInfo, whichever copy holds it).
    """

    # Not in alphabetical order: slots are laid out in this order, and the first ones share the
    # processor cache line of the object's reference count, which every cycle touches anyway; the
    # slots a cycle reads of each of the hundreds of nodes it looks at come first.
    __slots__ = (  # noqa: RUF023
        "memo_token",
        "name",
        "prefer_no_schedule",
        "image_states",
        "node",
        "unschedulable",
        "tainted",
        "free_pods",
        "free_milli_cpu",
        "free_memory",
        "free_ephemeral_storage",
        "allocatable",
        "non_zero_requested",
        "generation",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "pvc_ref_counts",
        "requested",
        "score_memo",
        "used_ports",
    )

    def __init__(self, node: Node | None = None, pods: Iterable[PodInfo | Pod] = ()) -> None:
        self.node: Node | None = None
        self.name = ""
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.allocatable = Resource()
        self.used_ports: dict[str, set[tuple[str, int]]] = {}
        self.image_states: dict[str, ImageStateSummary] = {}
        self.pvc_ref_counts: dict[str, int] = {}
        self.generation = 0
        self.score_memo: dict[Any, Any] = {}
        self.unschedulable = True
        self.tainted = False
        self.prefer_no_schedule = False
        self._update_free()
        if node is not None:
            self.set_node(node)
        for p in pods:
            self.add_pod(p if isinstance(p, PodInfo) else PodInfo(p))

    def set_node(self, node: Node) -> None:
        self.node = node
        self.name = node.metadata.name
        self.allocatable = Resource.from_list(node.status.allocatable)
        taints = node.spec.taints
        self.unschedulable = bool(node.spec.unschedulable)
        self.tainted = bool(taints)
        self.prefer_no_schedule = any(t.effect == "PreferNoSchedule" for t in taints)
        self._update_free()

    def remove_node(self) -> None:
        self.node = None
        self.unschedulable = True
        self.tainted = False
        self.prefer_no_schedule = False
        self.memo_token = next(_MEMO_TOKENS)
        self.score_memo.clear()

    def _update_free(self) -> None:
        alloc, used = self.allocatable, self.requested
        self.free_milli_cpu = alloc.milli_cpu - used.milli_cpu
        self.free_memory = alloc.memory - used.memory
        self.free_ephemeral_storage = alloc.ephemeral_storage - used.ephemeral_storage
        self.free_pods = alloc.allowed_pod_number - len(self.pods)
        self.memo_token = next(_MEMO_TOKENS)
        if self.score_memo:
            self.score_memo.clear()

    def add_pod(self, pi: PodInfo) -> None:
        self.pods.append(pi)
        if pi.has_affinity:
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pi)
        self._account(pi, 1)

    def remove_pod(self, pod: Pod | PodInfo) -> bool:
        """Remove the pod with ``pod``'s uid; False when it is not here."""
        uid = pod.uid if isinstance(pod, PodInfo) else (pod.metadata.uid or PodInfo(pod).uid)
        for i, pi in enumerate(self.pods):
            if pi.uid == uid:
                del self.pods[i]
                self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != uid]
                self.pods_with_required_anti_affinity = [
                    p for p in self.pods_with_required_anti_affinity if p.uid != uid
                ]
                self._account(pi, -1)
                return True
        return False

    def _account(self, pi: PodInfo, sign: int) -> None:
        self.requested.add(pi.requests, sign)
        nz = self.non_zero_requested
        nz.milli_cpu += sign * pi.non_zero_cpu
        nz.memory += sign * pi.non_zero_memory
        nz.allowed_pod_number += sign
        for ip, proto, port in pi.host_ports:
            if sign > 0:
                self.used_ports.setdefault(ip, set()).add((proto, port))
            else:
                used = self.used_ports.get(ip)
                if used is not None:
                    used.discard((proto, port))
                    if not used:
                        del self.used_ports[ip]
        for vol in pi.pod.spec.volumes:
            claim = vol.persistentVolumeClaim
            if claim is not None:
                key = f"{pi.pod.metadata.namespace}/{claim.claimName}"
                count = self.pvc_ref_counts.get(key, 0) + sign
                if count > 0:
                    self.pvc_ref_counts[key] = count
                else:
                    self.pvc_ref_counts.pop(key, None)
        self._update_free()

    def port_conflicts(self, ports: list[tuple[str, str, int]]) -> bool:
        """Whether any wanted (ip, protocol, port) clashes with a used one (0.0.0.0 clashes with all)."""
        used = self.used_ports
        if not used:
            return False
        for ip, proto, port in ports:
            want = (proto, port)
            if ip == "0.0.0.0":
                if any(want in s for s in used.values()):
                    return True
            else:
                s = used.get(ip)
                if s is not None and want in s:
                    return True
                s = used.get("0.0.0.0")
                if s is not None and want in s:
                    return True
        return False

    def clone(self) -> NodeInfo:
        new = NodeInfo.__new__(NodeInfo)
        new.node = self.node
        new.name = self.name
        new.pods = list(self.pods)
        new.pods_with_affinity = list(self.pods_with_affinity)
        new.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        new.requested = self.requested.clone()
        new.non_zero_requested = self.non_zero_requested.clone()
        new.allocatable = self.allocatable
        new.used_ports = {ip: set(s) for ip, s in self.used_ports.items()}
        new.image_states = self.image_states
        new.pvc_ref_counts = dict(self.pvc_ref_counts)
        new.generation = self.generation
        new.free_milli_cpu = self.free_milli_cpu
        new.free_memory = self.free_memory
        new.free_ephemeral_storage = self.free_ephemeral_storage
        new.free_pods = self.free_pods
        new.unschedulable = self.unschedulable
        new.tainted = self.tainted
        new.prefer_no_schedule = self.prefer_no_schedule
        new.score_memo = {}
        new.memo_token = self.memo_token
        return new

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested={self.requested!r})"


def _label_code(ni: NodeInfo, key: str, index: dict[str, int]) -> int:
    node = ni.node
    if node is None:
        return -1
    value = node.metadata.labels.get(key)
    if value is None:
        return -1
    code = index.get(value)
    if code is None:
        code = index[value] = len(index)
    return code


class Snapshot:
    """The NodeInfos of one scheduling cycle, as a list (scheduling order) and by name.

    The cache brings a snapshot up to date in place: ``replace`` swaps in a
    changed NodeInfo of a node it already has, keeping the lists of nodes
    with (anti-)affinity pods current, and remembers the change, so that
    ``changed_since(generation)`` can tell the plugins that keep counts
    across cycles which NodeInfos to look at again. Nodes coming or going
    need ``rebuild_indexes``, after which changes before it are unknown.

    ``tokens`` holds each position's ``NodeInfo.memo_token`` as an array, for
    the scheduling cycle's work by position (``kubelite.scheduler.arrays``);
    ``layout`` names one assignment of nodes to positions (a new value at
    every ``rebuild_indexes``). So ``infos`` changes only through ``replace``
    and ``rebuild_indexes``, and its NodeInfos are never changed in place.
    """

    __slots__ = (
        "_affinity",
        "_affinity_list",
        "_anti_affinity",
        "_anti_affinity_list",
        "_changes",
        "_changes_floor",
        "_label_codes",
        "_with_images",
        "by_name",
        "generation",
        "infos",
        "layout",
        "positions",
        "tokens",
    )

    CHANGE_LOG_LIMIT = 4096

    def __init__(self, infos: list[NodeInfo] | None = None) -> None:
        self.infos: list[NodeInfo] = infos or []
        self.by_name: dict[str, NodeInfo] = {}
        self.positions: dict[str, int] = {}
        self.generation = 0
        self.rebuild_indexes()

    @classmethod
    def from_objects(cls, pods: Iterable[Pod], nodes: Iterable[Node]) -> Snapshot:
        """A snapshot of ``nodes`` with the ``pods`` that name them (tests, simulations)."""
        infos = {n.metadata.name: NodeInfo(n) for n in nodes}
        for pod in pods:
            ni = infos.get(pod.spec.nodeName)
            if ni is not None:
                ni.add_pod(PodInfo(pod))
        return cls(list(infos.values()))

    def rebuild_indexes(self) -> None:
        """Index ``infos`` afresh (after nodes came or went); forgets the changes before."""
        self.by_name = {ni.name: ni for ni in self.infos}
        self.positions = {ni.name: i for i, ni in enumerate(self.infos)}
        self.tokens: npt.NDArray[np.int64] = np.fromiter(
            (ni.memo_token for ni in self.infos), np.int64, len(self.infos)
        )
        self.layout = next(_LAYOUTS)
        self._with_images: set[str] = {ni.name for ni in self.infos if ni.image_states}
        self._label_codes: dict[str, tuple[npt.NDArray[np.int64], dict[str, int]]] = {}
        self._affinity: dict[str, NodeInfo] = {ni.name: ni for ni in self.infos if ni.pods_with_affinity}
        self._anti_affinity: dict[str, NodeInfo] = {
            ni.name: ni for ni in self.infos if ni.pods_with_required_anti_affinity
        }
        self._affinity_list: builtins.list[NodeInfo] | None = None
        self._anti_affinity_list: builtins.list[NodeInfo] | None = None
        self._changes: builtins.list[tuple[int, NodeInfo]] = []
        self._changes_floor = self.generation

    def replace(self, ni: NodeInfo) -> bool:
        """Put ``ni`` in place of the NodeInfo of the same name; False when there is none (a new node).

        Call in increasing order of generation, then set ``generation``.
        """
        name = ni.name
        pos = self.positions.get(name)
        if pos is None:
            return False
        if self._label_codes and self.infos[pos].node is not ni.node:
            for key, (codes, index) in self._label_codes.items():
                codes[pos] = _label_code(ni, key, index)
        self.infos[pos] = ni
        self.by_name[name] = ni
        self.tokens[pos] = ni.memo_token
        if ni.image_states:
            self._with_images.add(name)
        else:
            self._with_images.discard(name)
        # A listed node's entry is replaced (the lists hold the old NodeInfo): rebuilt on demand.
        if ni.pods_with_affinity:
            self._affinity[name] = ni
            self._affinity_list = None
        elif self._affinity.pop(name, None) is not None:
            self._affinity_list = None
        if ni.pods_with_required_anti_affinity:
            self._anti_affinity[name] = ni
            self._anti_affinity_list = None
        elif self._anti_affinity.pop(name, None) is not None:
            self._anti_affinity_list = None
        changes = self._changes
        changes.append((ni.generation, ni))
        if len(changes) > self.CHANGE_LOG_LIMIT:
            cut = len(changes) // 2
            self._changes_floor = changes[cut - 1][0]
            del changes[:cut]
        return True

    def changed_since(self, generation: int) -> builtins.list[NodeInfo] | None:
        """This snapshot's NodeInfos changed after ``generation`` (newest first); None when
        unknown: nodes came or went since, or the change log does not reach back so far."""
        if generation < self._changes_floor or generation > self.generation:
            return None
        out: builtins.list[NodeInfo] = []
        seen: set[str] = set()
        for gen, ni in reversed(self._changes):
            if gen <= generation:
                break
            if ni.name not in seen:
                seen.add(ni.name)
                out.append(ni)
        return out

    def list(self) -> builtins.list[NodeInfo]:
        return self.infos

    def get(self, node_name: str) -> NodeInfo:
        """The NodeInfo of ``node_name``; KeyError when the snapshot has no such node."""
        return self.by_name[node_name]

    def num_nodes(self) -> int:
        return len(self.infos)

    def have_pods_with_affinity_list(self) -> builtins.list[NodeInfo]:
        """The nodes with pods that have (anti-)affinity terms (in no particular order)."""
        if self._affinity_list is None:
            self._affinity_list = builtins.list(self._affinity.values())
        return self._affinity_list

    def num_nodes_with_pods_with_affinity(self) -> int:
        """How many nodes ``have_pods_with_affinity_list`` would list (without building it)."""
        return len(self._affinity)

    def label_codes(self, key: str) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
        """Each position's value of node label ``key`` as a code, and the codes by value (-1: the
        node has no such label, or no Node). Kept for the snapshot's layout, for plugins that
        answer by topology domain over many nodes at once (codes of values gone stay unused)."""
        entry = self._label_codes.get(key)
        if entry is None:
            index: dict[str, int] = {}
            codes = np.fromiter((_label_code(ni, key, index) for ni in self.infos), np.int64, len(self.infos))
            entry = self._label_codes[key] = (codes, index)
        return entry

    def num_nodes_with_images(self) -> int:
        """How many nodes report images (none, for simulated nodes)."""
        return len(self._with_images)

    def have_pods_with_required_anti_affinity_list(self) -> builtins.list[NodeInfo]:
        """The nodes with pods that have required anti-affinity terms (in no particular order)."""
        if self._anti_affinity_list is None:
            self._anti_affinity_list = builtins.list(self._anti_affinity.values())
        return self._anti_affinity_list

    def __len__(self) -> int:
        return len(self.infos)


class QueuedPodInfo:
    """A pending pod in the scheduling queue."""

    __slots__ = (
        "attempts",
        "backoff_expiration",
        "gated",
        "initial_attempt_timestamp",
        "pending_plugins",
        "pod_info",
        "timestamp",
        "unschedulable_plugins",
    )

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp  # when it last entered the queue
        self.initial_attempt_timestamp: float | None = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.gated = False
        self.backoff_expiration = 0.0

    @property
    def pod(self) -> Pod:
        return self.pod_info.pod

    @property
    def key(self) -> str:
        return self.pod_info.key

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod_info.key}, attempts={self.attempts})"
