"""Service address allocation: ClusterIPs from the service CIDR, NodePorts
from 30000-32767.

Kubernetes does this in the Service registry; here it is a mutating
admission step for Services, which keeps the generic REST code free of
kind-specific I/O. The allocated set is read from the watch cache (every
Service's ``spec.clusterIPs`` and node ports) plus the addresses handed out
to writes still in flight, so two concurrent creates never get the same
address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.admission import AdmissionAttributes

NODE_PORT_RANGE = (30000, 32767)

# All services as plain data, fresh enough to include every write so far.
ServiceLister = Callable[[], Awaitable[Iterable[dict[str, Any]]]]


class ServiceAllocation:
    NAME = "ServiceAllocation"

    def __init__(self, service_cidr: str, list_services: ServiceLister) -> None:
        self.network = ipaddress.ip_network(service_cidr, strict=False)
        self._list_services = list_services
        self._lock = asyncio.Lock()
        self._in_flight_ips: set[str] = set()
        self._in_flight_ports: set[int] = set()

    async def admit(self, attrs: AdmissionAttributes) -> None:
        res = attrs.resource
        if (res.group, res.plural) != ("", "services") or attrs.operation not in ("CREATE", "UPDATE"):
            return
        if attrs.subresource:
            return
        svc = attrs.obj
        old = attrs.old_obj
        async with self._lock:
            used_ips, used_ports = await self._in_use(skip=(svc.metadata.namespace, svc.metadata.name))
            self._assign_ips(svc, old, used_ips, attrs.dry_run)
            self._assign_node_ports(svc, old, used_ports, attrs.dry_run)

    async def _in_use(self, skip: tuple[str, str]) -> tuple[set[str], set[int]]:
        ips = set(self._in_flight_ips)
        ports = set(self._in_flight_ports)
        for doc in await self._list_services():
            meta = doc.get("metadata") or {}
            if (meta.get("namespace"), meta.get("name")) == skip:
                continue
            spec = doc.get("spec") or {}
            ips.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None")
            ports.update(p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort"))
        return ips, ports

    def _invalid(self, svc: Any, path: str, value: Any, detail: str) -> errors.StatusError:
        return errors.invalid("Service", svc.metadata.name, [errors.invalid_value(path, value, detail)])

    def _assign_ips(self, svc: Any, old: Any, used: set[str], dry_run: bool) -> None:
        spec = svc.spec
        if spec.type == "ExternalName":
            spec.clusterIP, spec.clusterIPs = "", []
            return
        if old is not None and old.spec.clusterIP and not spec.clusterIP:
            # An update that leaves the address out keeps the one allocated.
            spec.clusterIP, spec.clusterIPs = old.spec.clusterIP, list(old.spec.clusterIPs)
            return
        wanted = spec.clusterIP or (spec.clusterIPs[0] if spec.clusterIPs else "")
        if wanted == "None":
            spec.clusterIP, spec.clusterIPs = "None", ["None"]
            return
        if old is not None and wanted and wanted == old.spec.clusterIP:
            return
        if wanted:
            try:
                address = ipaddress.ip_address(wanted)
            except ValueError:
                raise self._invalid(svc, "spec.clusterIPs[0]", wanted, "must be a valid IP address") from None
            if address not in self.network or address in (
                self.network.network_address,
                self.network.broadcast_address,
            ):
                raise self._invalid(
                    svc,
                    "spec.clusterIPs",
                    [wanted],
                    f"failed to allocate IP {wanted}: the provided IP ({wanted}) is not in the valid range. "
                    f"The range of valid IPs is {self.network}",
                )
            if wanted in used:
                raise self._invalid(
                    svc,
                    "spec.clusterIPs",
                    [wanted],
                    f"failed to allocate IP {wanted}: provided IP is already allocated",
                )
            ip = wanted
        else:
            ip = self._free_ip(used)
        spec.clusterIP, spec.clusterIPs = ip, [ip]
        if not spec.ipFamilies:
            spec.ipFamilies = ["IPv4" if self.network.version == 4 else "IPv6"]
        if not dry_run:
            self._hold(ips=[ip])

    def _free_ip(self, used: set[str]) -> str:
        # The first address is the kubernetes Service's, by convention; start after it.
        first = int(self.network.network_address) + 2
        last = int(self.network.broadcast_address) - 1
        size = last - first + 1
        start = random.randrange(size)
        for offset in range(size):
            candidate = str(ipaddress.ip_address(first + (start + offset) % size))
            if candidate not in used:
                return candidate
        raise errors.StatusError(
            500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full"
        )

    def _assign_node_ports(self, svc: Any, old: Any, used: set[int], dry_run: bool) -> None:
        spec = svc.spec
        wants_ports = spec.type in ("NodePort", "LoadBalancer")
        if not wants_ports:
            for port in spec.ports:
                port.nodePort = 0
            return
        old_ports = {(p.port, p.protocol): p.nodePort for p in old.spec.ports} if old is not None else {}
        low, high = NODE_PORT_RANGE
        taken = set(used)
        held: list[int] = []
        for i, port in enumerate(spec.ports):
            if not port.nodePort and old_ports.get((port.port, port.protocol)):
                port.nodePort = old_ports[(port.port, port.protocol)]
                taken.add(port.nodePort)
                continue
            if port.nodePort:
                if port.nodePort in old_ports.values():
                    taken.add(port.nodePort)
                    continue
                if not low <= port.nodePort <= high:
                    raise self._invalid(
                        svc,
                        f"spec.ports[{i}].nodePort",
                        port.nodePort,
                        f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
                    )
                if port.nodePort in taken:
                    raise self._invalid(
                        svc, f"spec.ports[{i}].nodePort", port.nodePort, "provided port is already allocated"
                    )
            else:
                port.nodePort = self._free_port(taken)
            taken.add(port.nodePort)
            held.append(port.nodePort)
        if not dry_run:
            self._hold(ports=held)

    def _free_port(self, taken: set[int]) -> int:
        low, high = NODE_PORT_RANGE
        size = high - low + 1
        start = random.randrange(size)
        for offset in range(size):
            candidate = low + (start + offset) % size
            if candidate not in taken:
                return candidate
        raise errors.StatusError(
            500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full"
        )

    def _hold(self, ips: Iterable[str] = (), ports: Iterable[int] = ()) -> None:
        """Keep addresses reserved until the write is in the cache (or has failed)."""
        ips, ports = list(ips), list(ports)
        self._in_flight_ips.update(ips)
        self._in_flight_ports.update(ports)

        def release() -> None:
            self._in_flight_ips.difference_update(ips)
            self._in_flight_ports.difference_update(ports)

        # By then the write has either landed (and the cache lists it) or failed.
        asyncio.get_running_loop().call_later(5.0, release)
