"""Node IPAM: hands every node a pod subnet (``spec.podCIDR``/``podCIDRs``) of the cluster CIDR.

This is Kubernetes' range allocator (``--allocate-node-cidrs`` with the
``RangeAllocator`` type). The cluster CIDR (``10.42.0.0/16`` unless told
otherwise; a comma-separated IPv4 and IPv6 pair for dual stack) is cut into
per-node subnets (``/24`` and ``/64`` by default); a ``CIDRSet`` per family
tracks which are taken.

- On start, before any node gets a new subnet, the subnets nodes already
  carry are marked taken (oldest node first, so when two nodes claim the
  same range the older keeps it). A node whose podCIDR is unparsable, lies
  outside the cluster CIDR or overlaps another node's (or the service
  range) gets a Warning event and is left alone — Kubernetes refuses to
  start in that case; one bad node should not stop the allocator here.
- A node without a podCIDR gets the next free subnet of each family with a
  merge patch of ``spec.podCIDR`` and ``spec.podCIDRs`` conditioned on the
  node's resourceVersion. The API server lets the field go from empty to a
  value once; on a conflict the node is read again, and if somebody else
  set a podCIDR meanwhile ours goes back to the pool and theirs is
  recorded.
- A deleted node gives its subnets back (and nodes waiting for one are
  tried again).
- A full range: the Warning event ``CIDRNotAvailable`` ("Node X status is
  now: CIDRNotAvailable"), as Kubernetes records it; a patch that keeps
  failing: ``CIDRAssignmentFailed``. Like Kubernetes' range allocator this
  controller does not touch the ``NetworkUnavailable`` node condition (only
  the cloud allocator and the route controller write it).

Options (``ControllerContext.options["nodeipam"]``, or the same keys at the
top level): ``cluster-cidr``, ``node-cidr-mask-size`` (any family),
``node-cidr-mask-size-ipv4`` / ``-ipv6`` (24 / 64), and
``service-cluster-ip-range`` (``10.43.0.0/16``; subnets overlapping it are
never handed out).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from kubelite.api.errors import StatusError
from kubelite.client import lookup
from kubelite.controllers.base import Controller, ControllerContext

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NODE = lookup("", "v1", "Node")
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_SERVICE_CIDR = "10.43.0.0/16"
DEFAULT_MASK_SIZE = {4: 24, 6: 64}
CIDR_UPDATE_RETRIES = 3  # failed patches before CIDRAssignmentFailed (as Kubernetes)
MAX_CONFLICTS = 10  # lost optimistic-concurrency races before the sync is requeued

CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
CIDR_ASSIGNMENT_FAILED = "CIDRAssignmentFailed"
INVALID_POD_CIDR = "InvalidPodCIDR"
POD_CIDR_OUT_OF_RANGE = "PodCIDROutOfRange"
POD_CIDR_CONFLICT = "PodCIDRConflict"


class CIDRSetError(ValueError):
    """A CIDR the set cannot take."""


class CIDRRangeExhausted(CIDRSetError):
    """Every subnet of the set is taken."""


class CIDROutOfRange(CIDRSetError):
    """A CIDR that does not overlap the set's cluster CIDR (or is of the other IP family)."""


def parse_cidr(text: str | IPNetwork) -> IPNetwork:
    """A network from ``text``; host bits are dropped (``10.42.3.7/24`` is ``10.42.3.0/24``)."""
    if isinstance(text, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return text
    return ipaddress.ip_network(text.strip(), strict=False)


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    """Whether two networks share an address (never across IP families)."""
    return (
        a.version == b.version
        and int(a.network_address) <= int(b.broadcast_address)
        and int(b.network_address) <= int(a.broadcast_address)
    )


class CIDRSet:
    """The per-node subnets of one cluster CIDR, and which of them are taken.

    Subnet ``i`` is the ``i``-th block of ``node_mask_size`` bits in the
    cluster CIDR. ``allocate_next`` hands out free subnets round-robin from
    just after the last one handed out (as Kubernetes' cidrset), so a subnet
    that was just released is the last to be reused. ``occupy`` and
    ``release`` take any CIDR overlapping the cluster CIDR and mark every
    subnet it touches; both are idempotent. Not thread-safe; callers on one
    event loop need no lock because nothing here awaits.
    """

    def __init__(self, cluster_cidr: str | IPNetwork, node_mask_size: int) -> None:
        self.cluster = parse_cidr(cluster_cidr)
        bits = self.cluster.max_prefixlen
        if not self.cluster.prefixlen <= node_mask_size <= bits:
            raise CIDRSetError(
                f"node CIDR mask size {node_mask_size} must be between the cluster CIDR's "
                f"{self.cluster.prefixlen} and {bits}"
            )
        self.node_mask_size = node_mask_size
        self.size = 1 << (node_mask_size - self.cluster.prefixlen)
        self._shift = bits - node_mask_size
        self._used: set[int] = set()
        self._next = 0

    def __repr__(self) -> str:
        return f"CIDRSet({self.cluster}, /{self.node_mask_size}, {len(self._used)}/{self.size} used)"

    @property
    def version(self) -> int:
        return self.cluster.version

    @property
    def used(self) -> int:
        """How many subnets are taken."""
        return len(self._used)

    @property
    def free(self) -> int:
        return self.size - len(self._used)

    def subnet(self, index: int) -> IPNetwork:
        """The ``index``-th node subnet."""
        if not 0 <= index < self.size:
            raise IndexError(f"subnet {index} of {self.cluster} (/{self.node_mask_size}) does not exist")
        base = int(self.cluster.network_address) | (index << self._shift)
        return ipaddress.ip_network((base, self.node_mask_size))

    def allocate_next(self) -> IPNetwork:
        """Take the next free subnet; ``CIDRRangeExhausted`` when there is none."""
        if len(self._used) >= self.size:
            raise CIDRRangeExhausted(
                f"CIDR allocation failed; there are no remaining CIDRs left in {self.cluster} "
                f"for /{self.node_mask_size} node subnets"
            )
        candidate = self._next
        while candidate in self._used:
            candidate = (candidate + 1) % self.size
        self._used.add(candidate)
        self._next = (candidate + 1) % self.size
        return self.subnet(candidate)

    def indices(self, cidr: str | IPNetwork) -> range:
        """The subnets ``cidr`` touches; ``CIDROutOfRange`` when it does not overlap the cluster CIDR."""
        net = parse_cidr(cidr)
        if not overlaps(net, self.cluster):
            raise CIDROutOfRange(f"CIDR {net} is out of the range of cluster CIDR {self.cluster}")
        if net.prefixlen <= self.cluster.prefixlen:
            return range(self.size)  # it covers the whole cluster CIDR
        start = int(net.network_address) - int(self.cluster.network_address)
        end = int(net.broadcast_address) - int(self.cluster.network_address)
        return range(start >> self._shift, (end >> self._shift) + 1)

    def contains(self, cidr: str | IPNetwork) -> bool:
        """Whether ``cidr`` lies wholly inside the cluster CIDR."""
        net = parse_cidr(cidr)
        return overlaps(net, self.cluster) and net.prefixlen >= self.cluster.prefixlen

    def is_used(self, cidr: str | IPNetwork) -> bool:
        """Whether any subnet ``cidr`` touches is taken."""
        return any(i in self._used for i in self.indices(cidr))

    def occupy(self, cidr: str | IPNetwork) -> None:
        """Mark every subnet ``cidr`` touches as taken (taken ones stay taken)."""
        self._used.update(self.indices(cidr))

    def release(self, cidr: str | IPNetwork) -> None:
        """Mark every subnet ``cidr`` touches as free (free ones stay free)."""
        self._used.difference_update(self.indices(cidr))


def _cidr_list(value: Any) -> list[IPNetwork]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [parse_cidr(c) for c in items if str(c).strip()]


def cidr_sets_from_options(ctx: ControllerContext) -> list[CIDRSet]:
    """The CIDR sets the options describe: one per cluster CIDR, at most one per IP family."""
    clusters = _cidr_list(ctx.option(NodeIPAMController.NAME, "cluster-cidr", DEFAULT_CLUSTER_CIDR))
    if not clusters:
        raise ValueError("nodeipam: cluster-cidr is empty")
    if len(clusters) > 2 or len({c.version for c in clusters}) != len(clusters):
        raise ValueError(
            f"nodeipam: cluster-cidr takes one CIDR, or one IPv4 and one IPv6 CIDR; got "
            f"{', '.join(map(str, clusters))}"
        )
    common = ctx.option(NodeIPAMController.NAME, "node-cidr-mask-size", None)
    sets = []
    for cluster in clusters:
        mask = ctx.option(NodeIPAMController.NAME, f"node-cidr-mask-size-ipv{cluster.version}", None)
        if mask is None:
            mask = common if common is not None else DEFAULT_MASK_SIZE[cluster.version]
        sets.append(CIDRSet(cluster, int(mask)))
    return sets


def pod_cidrs(node: Any) -> list[str]:
    """The node's pod CIDRs as written: ``podCIDRs``, else the lone ``podCIDR``."""
    return list(node.spec.podCIDRs) or ([node.spec.podCIDR] if node.spec.podCIDR else [])


@dataclass
class _Holding:
    """Subnets recorded for one node (the node object of ``uid``)."""

    uid: str
    networks: tuple[IPNetwork, ...]


class NodeIPAMController(Controller):
    """Assigns each node a podCIDR from the cluster CIDR and takes it back when the node goes."""

    NAME = "nodeipam"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = ctx.informers.informer_for(NODE)
        self.cidr_sets = cidr_sets_from_options(ctx)
        self.reserved: list[IPNetwork] = []  # never handed out: the service range where it overlaps
        for service in _cidr_list(
            ctx.option(NodeIPAMController.NAME, "service-cluster-ip-range", DEFAULT_SERVICE_CIDR)
        ):
            cidr_set = self._set_for(service)
            if cidr_set is not None and overlaps(service, cidr_set.cluster):
                cidr_set.occupy(service)
                self.reserved.append(service)
        self.held: dict[str, _Holding] = {}  # node name -> the subnets it has (or is being given)
        self._refused: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # name -> (uid, reason, cidrs)
        self._waiting: set[str] = set()  # nodes that found the range full
        self.nodes.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)

    async def run(self) -> None:
        await self.wait_synced()
        self.occupy_existing()
        await super().run()

    def occupy_existing(self) -> None:
        """Record the podCIDRs nodes already have, oldest node first, before any allocation."""
        nodes = [n for n in self.nodes.list() if pod_cidrs(n)]
        nodes.sort(key=lambda n: (n.metadata.creationTimestamp or "", n.metadata.name))
        for node in nodes:
            self._occupy(node, pod_cidrs(node))
        self.log.info(
            "node IPAM starting with %s", ", ".join(repr(s) for s in self.cidr_sets) or "no cluster CIDR"
        )

    # ------------------------------------------------------------------ sync

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        held = self.held.get(key)
        if node is None:
            self._release(key)
            self._refused.pop(key, None)
            self._waiting.discard(key)
            return
        if held is not None and held.uid != node.metadata.uid:
            self._release(key)  # deleted and created again while we were not looking
        cidrs = pod_cidrs(node)
        if cidrs:
            self._waiting.discard(key)
            self._occupy(node, cidrs)
            return
        if node.metadata.deletionTimestamp:
            return  # a node on its way out gets nothing new
        await self._allocate(node)

    # ------------------------------------------------------------- occupying

    def _set_for(self, net: IPNetwork) -> CIDRSet | None:
        return next((s for s in self.cidr_sets if s.version == net.version), None)

    def _occupy(self, node: Any, cidrs: list[str]) -> None:
        """Record ``cidrs`` as ``node``'s, unless they are garbage, out of range or taken."""
        name, uid = node.metadata.name, node.metadata.uid
        held = self.held.get(name)
        if held is not None and held.uid == uid and [str(n) for n in held.networks] == cidrs:
            return  # the common case (every status update of every node): nothing changed
        refusal = self._check(name, cidrs)
        if refusal is not None:
            if name in self.held:
                self._release(name)  # it holds something else now than what we gave it
            reason, message = refusal
            if self._refused.get(name) != (uid, reason, tuple(cidrs)):
                self._refused[name] = (uid, reason, tuple(cidrs))
                self.log.warning("node %s: %s", name, message)
                self.recorder.event(node, "Warning", reason, message)
            return
        networks = tuple(parse_cidr(c) for c in cidrs)
        if held is not None and held.uid == uid and held.networks == networks:
            return
        if held is not None:
            self._release(name)
        for net in networks:
            cidr_set = self._set_for(net)
            assert cidr_set is not None  # _check saw to it
            cidr_set.occupy(net)
        self.held[name] = _Holding(uid, networks)
        self._refused.pop(name, None)

    def _check(self, name: str, cidrs: list[str]) -> tuple[str, str] | None:
        """Why ``name`` may not have ``cidrs`` (an event reason and message), or None."""
        networks: list[IPNetwork] = []
        for c in cidrs:
            try:
                networks.append(parse_cidr(c))
            except ValueError:
                return INVALID_POD_CIDR, f"podCIDR {c!r} of node {name} is not a valid CIDR; leaving it alone"
        if len({n.version for n in networks}) != len(networks):
            return INVALID_POD_CIDR, (
                f"node {name} has more than one podCIDR of an IP family ({', '.join(cidrs)}); leaving it alone"
            )
        for net in networks:
            cidr_set = self._set_for(net)
            if cidr_set is None or not cidr_set.contains(net):
                clusters = ", ".join(str(s.cluster) for s in self.cidr_sets)
                return POD_CIDR_OUT_OF_RANGE, (
                    f"podCIDR {net} of node {name} is not within the cluster CIDR {clusters}; leaving it alone"
                )
            for other, taken in self._taken(exclude=name):
                if overlaps(net, taken):
                    return POD_CIDR_CONFLICT, (
                        f"podCIDR {net} of node {name} overlaps {taken} of {other}; leaving it alone"
                    )
        return None

    def _taken(self, exclude: str = "") -> Iterator[tuple[str, IPNetwork]]:
        """Every recorded network with who has it: nodes (but ``exclude``), then the service range."""
        for name, held in self.held.items():
            if name != exclude:
                for net in held.networks:
                    yield f"node {name}", net
        for net in self.reserved:
            yield "the service range", net

    def _release(self, name: str) -> None:
        """Give ``name``'s subnets back, and try the nodes that wait for one (or were refused) again."""
        held = self.held.pop(name, None)
        if held is None:
            return
        for net in held.networks:
            cidr_set = self._set_for(net)
            if cidr_set is None:
                continue
            cidr_set.release(net)
            # A subnet shared with what another holder has (two /25s of one /24) stays taken.
            for _, other in self._taken():
                if overlaps(other, net):
                    cidr_set.occupy(other)
            self.log.info("released %s of node %s", net, name)
        for waiting in sorted(self._waiting | set(self._refused)):
            self.enqueue(waiting)

    # ------------------------------------------------------------ allocating

    async def _allocate(self, node: Any) -> None:
        name = node.metadata.name
        held = self.held.get(name)
        if held is None:
            networks: list[IPNetwork] = []
            for cidr_set in self.cidr_sets:
                try:
                    networks.append(cidr_set.allocate_next())
                except CIDRRangeExhausted as e:
                    for earlier, taken in zip(self.cidr_sets, networks, strict=False):
                        earlier.release(taken)
                    self._waiting.add(name)
                    self.log.warning("no podCIDR for node %s: %s", name, e)
                    self._status_event(node, CIDR_NOT_AVAILABLE)
                    return
            held = self.held[name] = _Holding(node.metadata.uid, tuple(networks))
            self._waiting.discard(name)
        await self._assign(node, held)

    async def _assign(self, node: Any, held: _Holding) -> None:
        """Patch ``held`` into the node. Safe to repeat: setting the same value again is a no-op."""
        name = node.metadata.name
        cidrs = [str(n) for n in held.networks]
        nodes = self.client.resource(NODE)
        rv = node.metadata.resourceVersion
        failures = conflicts = 0
        while True:
            patch = {
                "metadata": {"resourceVersion": rv},  # also fails for a node made anew
                "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
            }
            try:
                await nodes.patch(name, patch, "merge")
                self.log.info("set podCIDRs of node %s to %s", name, ", ".join(cidrs))
                return
            except StatusError as e:
                if e.code == 404:
                    self._release(name)  # gone; its deletion will be seen too
                    return
                if e.code == 409 and conflicts < MAX_CONFLICTS:
                    conflicts += 1
                    fresh = await self._get(name)
                    if fresh is None or fresh.metadata.uid != held.uid:
                        self._release(name)
                        return
                    if pod_cidrs(fresh):  # somebody else set it first: theirs stands
                        self._release(name)
                        self._occupy(fresh, pod_cidrs(fresh))
                        return
                    rv = fresh.metadata.resourceVersion
                    continue
                err: Exception = e
                unknown_outcome = e.code in (500, 503, 504)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                err = e
                unknown_outcome = True
            failures += 1
            if failures >= CIDR_UPDATE_RETRIES:
                break
        self.log.warning("setting podCIDRs of node %s to %s failed: %s", name, ", ".join(cidrs), err)
        self._status_event(node, CIDR_ASSIGNMENT_FAILED)
        if not unknown_outcome:
            # Refused for certain: the subnets go back. When the write may have happened,
            # they stay held and the requeued sync writes the same ones again.
            self._release(name)
        raise err

    async def _get(self, name: str) -> Any | None:
        try:
            return await self.client.resource(NODE).get(name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    def _status_event(self, node: Any, status: str) -> None:
        """The Warning event Kubernetes' node IPAM records: "Node <name> status is now: <status>"."""
        self.recorder.event(node, "Warning", status, f"Node {node.metadata.name} status is now: {status}")
