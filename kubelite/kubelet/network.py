"""Pod networking on one node: a bridge, CNI plugins, and blackhole routes so nothing leaks.

Every pod with its own network namespace gets a veth pair: ``eth0`` in the
pod, the other end on the node's bridge (``kubelite0``), whose address is
the first of the node's podCIDR and is each pod's default gateway. The
standard CNI plugins do the work, as a config list run through
:mod:`kubelite.kubelet.network_cni`:

- ``bridge`` (isGateway, hairpinMode, ipMasq **off**: a pod address is never
  NATed onto the node's uplink) with ``host-local`` IPAM handing out the
  node's podCIDR (its lease files under ``<state_dir>/ipam``),
- ``loopback``, which brings ``lo`` up and passes the bridge's result on
  (left out with ``loopback=False`` when the runtime brings ``lo`` up itself,
  as the runc runtime does for the namespaces it pins: one plugin run less
  per pod).

Networking must never leak (DESIGN.md section 6): :meth:`PodNetwork.setup_node`
routes the whole cluster CIDR and the service CIDR to a blackhole. The node's
own podCIDR stays reachable through the bridge because the bridge's connected
route is more specific; a service address only means something after the
proxy's DNAT, and anything else of those ranges is dropped on the node.
The bridge plugin turns IP forwarding on (the node is the pods' gateway), so
``setup_node`` also puts a FORWARD rule first that drops whatever the bridge
would forward to any other interface: without NAT, a pod packet to the
outside would otherwise leave by the default route with a pod source address.

Every ADD is cached on disk (``<state_dir>/results/<container id>.json``:
the exact config list, netns, CNI_ARGS and result) *before* the plugins run,
so an agent restarted at any point can DEL what it ADDed, with the config it
was ADDed with.

The pod worker's order: ``setup_node()`` once at start; per pod,
runtime ``create_sandbox`` -> ``add(..., sandbox.netns_path)`` -> containers;
on teardown, stop containers -> ``delete(...)`` -> runtime ``remove_sandbox``
(``delete`` also succeeds after the netns is gone, and when nothing was added).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubelite.kubelet.network_cni import (
    Attachment,
    CniExec,
    NetworkError,
    PodNetworkStatus,
    parse_result,
    pick_version,
    pod_cni_args,
)

__all__ = ["NetworkError", "PodNetwork", "PodNetworkStatus", "default_state_dir"]

log = logging.getLogger(__name__)

NETWORK_NAME = "kubelite"
IFNAME = "eth0"
IPV4_FORWARD = "/proc/sys/net/ipv4/ip_forward"
IPV6_FORWARD = "/proc/sys/net/ipv6/conf/all/forwarding"
GUARD_COMMENT = "kubelite: pod traffic stays on the node"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def default_state_dir() -> Path:
    """``/var/lib/kubelite/cni`` for root, ``~/.kubelite/cni`` otherwise (the data dir's ``cni``)."""
    base = Path("/var/lib/kubelite") if os.geteuid() == 0 else Path.home() / ".kubelite"
    return base / "cni"


def bridge_conflist(
    pod_cidr: str,
    *,
    bridge: str,
    ipam_dir: str,
    cni_version: str,
    name: str = NETWORK_NAME,
    loopback: bool = True,
) -> dict[str, Any]:
    """The CNI config list for pods of a node with ``pod_cidr``."""
    network = ipaddress.ip_network(pod_cidr)
    default = "0.0.0.0/0" if network.version == 4 else "::/0"
    conflist: dict[str, Any] = {
        "cniVersion": cni_version,
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(network)}]],
                    "routes": [{"dst": default}],
                    "dataDir": ipam_dir,
                },
            },
            {"type": "loopback"},
        ],
    }
    if not loopback:
        conflist["plugins"] = conflist["plugins"][:1]
    return conflist


def blackhole_commands(cidrs: Sequence[str]) -> list[list[str]]:
    """The ``ip route replace blackhole`` commands for ``cidrs`` (more specific routes still win)."""
    commands = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr)
        family = ["-6"] if network.version == 6 else []
        commands.append(["ip", *family, "route", "replace", "blackhole", str(network)])
    return commands


def guard_rule(bridge: str) -> list[str]:
    """The FORWARD rule that keeps forwarded pod traffic on the bridge (without it an enabled
    ip_forward would route pod packets, un-NATed, out of the node's uplink)."""
    return ["-i", bridge, "!", "-o", bridge, "-m", "comment", "--comment", GUARD_COMMENT, "-j", "DROP"]


async def run(*argv: str, check: bool = True) -> tuple[int, str, str]:
    """Run a command off the event loop; ``NetworkError`` with its stderr when ``check`` and it fails."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as failure:
        raise NetworkError(f"{argv[0]}: {failure}") from None
    try:
        out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    code = proc.returncode or 0
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    if check and code != 0:
        raise NetworkError(f"{' '.join(argv)}: {stderr.strip() or stdout.strip() or f'exit status {code}'}")
    return code, stdout, stderr


class PodNetwork:
    """The node's pod network: node setup (routes) and CNI ADD/DEL/CHECK per pod sandbox.

    The bridge plugin (as gateway) switches IP forwarding on for the whole
    node, and the service proxy's DNAT back onto the bridge needs it; so
    :meth:`setup_node` enables it itself, together with a FORWARD rule that
    drops anything forwarded from the bridge to another interface: pod
    packets never leave the node un-NATed by the default route.

    Calls for one sandbox are serialized; calls for different sandboxes run
    concurrently (host-local locks its own lease store).
    """

    def __init__(
        self,
        pod_cidr: str,
        cluster_cidr: str = "10.42.0.0/16",
        service_cidr: str = "10.43.0.0/16",
        bridge: str = "kubelite0",
        cni_bin_dir: str | Sequence[str] = "/usr/lib/cni",
        state_dir: str | os.PathLike[str] | None = None,
        *,
        plugin_timeout: float = 60.0,
        loopback: bool = True,
    ) -> None:
        self.pod_cidr = str(ipaddress.ip_network(pod_cidr))
        self.cluster_cidr = str(ipaddress.ip_network(cluster_cidr))
        self.service_cidr = str(ipaddress.ip_network(service_cidr))
        if not 1 <= len(bridge) <= 15 or "/" in bridge or bridge.strip() != bridge:
            raise ValueError(f"invalid bridge name {bridge!r} (1 to 15 characters)")
        self.bridge = bridge
        paths = [cni_bin_dir] if isinstance(cni_bin_dir, str) else list(cni_bin_dir)
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self.ipam_dir = self.state_dir / "ipam"
        self.results_dir = self.state_dir / "results"
        self.cni = CniExec(paths, timeout=plugin_timeout)
        self._locks: dict[str, asyncio.Lock] = {}
        self._conflist: dict[str, Any] | None = None
        self.loopback = loopback  # run the loopback plugin (False: the runtime brings lo up)
        self._conflist_lock = asyncio.Lock()

    # -- node ---------------------------------------------------------------------------------

    @property
    def _node_state_path(self) -> Path:
        return self.state_dir / "node.json"

    async def setup_node(self) -> None:
        """Blackhole the cluster and service CIDRs, enable forwarding behind the guard rule.

        Idempotent. What it changed (routes and the rule it added, the
        previous forwarding setting) is recorded in ``<state_dir>/node.json``
        so :meth:`teardown_node` undoes exactly that and nothing another agent
        set up.
        """
        state = await asyncio.to_thread(self._read_node_state)
        added: list[str] = list(state.get("routes_added", []))
        for cidr, command in zip(
            (self.cluster_cidr, self.service_cidr),
            blackhole_commands([self.cluster_cidr, self.service_cidr]),
            strict=True,
        ):
            if not await self.is_blackholed(cidr):
                await run(*command)
                if cidr not in added:
                    added.append(cidr)
        state["routes_added"] = added
        await asyncio.to_thread(self._write_json, self._node_state_path, state)
        iptables, forward_sysctl = self._family_tools()
        rule = guard_rule(self.bridge)
        code, _, _ = await run(iptables, "-w", "-C", "FORWARD", *rule, check=False)
        if code != 0:
            await run(iptables, "-w", "-I", "FORWARD", "1", *rule)
            state["guard"] = [iptables, self.bridge]
        # The guard is written down before forwarding goes on, so a failure in between still undoes it.
        await asyncio.to_thread(self._write_json, self._node_state_path, state)
        previous = (await asyncio.to_thread(Path(forward_sysctl).read_text)).strip()
        if previous != "1":
            state.setdefault("forwarding_was", [forward_sysctl, previous])
            await asyncio.to_thread(self._write_json, self._node_state_path, state)
            await asyncio.to_thread(Path(forward_sysctl).write_text, "1\n")

    async def teardown_node(self) -> None:
        """Undo :meth:`setup_node` and remove the bridge (for tests; an agent leaves the node set up).

        Pods still attached lose their link to the bridge; DEL them first.
        """
        state = await asyncio.to_thread(self._read_node_state)
        for cidr in state.get("routes_added", []):
            family = ["-6"] if ipaddress.ip_network(cidr).version == 6 else []
            await run("ip", *family, "route", "del", "blackhole", cidr, check=False)
        if await asyncio.to_thread(os.path.exists, f"/sys/class/net/{self.bridge}"):
            await run("ip", "link", "del", self.bridge, check=False)
        if state.get("guard"):
            iptables, bridge = state["guard"]
            await run(iptables, "-w", "-D", "FORWARD", *guard_rule(bridge), check=False)
        if state.get("forwarding_was"):
            sysctl, previous = state["forwarding_was"]
            await asyncio.to_thread(Path(sysctl).write_text, previous + "\n")
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._node_state_path.unlink)

    def _family_tools(self) -> tuple[str, str]:
        """The iptables binary and forwarding sysctl for the pod CIDR's address family."""
        if ipaddress.ip_network(self.pod_cidr).version == 6:
            return "ip6tables", IPV6_FORWARD
        return "iptables", IPV4_FORWARD

    async def is_blackholed(self, cidr: str) -> bool:
        """Whether the main table routes exactly ``cidr`` to a blackhole."""
        family = ["-6"] if ipaddress.ip_network(cidr).version == 6 else []
        _, out, _ = await run("ip", *family, "-j", "route", "show", "exact", cidr)
        try:
            routes = json.loads(out or "[]")
        except ValueError:
            return False
        return any(r.get("type") == "blackhole" for r in routes if isinstance(r, dict))

    def _read_node_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self._node_state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # -- pods ---------------------------------------------------------------------------------

    async def conflist(self) -> dict[str, Any]:
        """The config list new pods get (CNI version negotiated with the plugins once: the first
        burst of pods waits for one negotiation rather than each running the plugins' VERSION)."""
        if self._conflist is not None:
            return self._conflist
        async with self._conflist_lock:
            return await self._negotiate()

    async def _negotiate(self) -> dict[str, Any]:
        if self._conflist is None:
            draft = bridge_conflist(
                self.pod_cidr,
                bridge=self.bridge,
                ipam_dir=str(self.ipam_dir),
                cni_version="",
                loopback=self.loopback,
            )
            types = {p["type"] for p in draft["plugins"]} | {
                p["ipam"]["type"] for p in draft["plugins"] if "ipam" in p
            }
            supported = [await self.cni.supported_versions(t) for t in sorted(types)]
            draft["cniVersion"] = pick_version(supported)
            self._conflist = draft
        return self._conflist

    async def add(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str, *, sandbox_id: str = ""
    ) -> PodNetworkStatus:
        """Attach the sandbox's netns to the pod network; its address(es).

        The CNI container id is ``sandbox_id`` (else the pod UID). Idempotent:
        adding the same sandbox with the same netns again returns the cached
        result; with another netns, the old attachment is deleted first. A
        failed ADD is rolled back (DEL) before the error is raised.
        """
        if not netns_path:
            raise NetworkError(
                f"pod {pod_namespace}/{pod_name}: no network namespace (hostNetwork pods need no CNI)"
            )
        container_id = self._container_id(pod_uid, sandbox_id)
        async with self._lock(container_id):
            attachment = Attachment(
                container_id=container_id,
                netns=netns_path,
                ifname=IFNAME,
                args=pod_cni_args(pod_namespace, pod_name, container_id, pod_uid),
            )
            conflist = await self.conflist()
            record = {
                "containerId": container_id,
                "ifname": IFNAME,
                "netns": netns_path,
                "args": [list(kv) for kv in attachment.args],
                "pod": {"namespace": pod_namespace, "name": pod_name, "uid": pod_uid},
                "config": conflist,
                "result": None,
            }
            # one trip to a worker thread: the cached ADD if any, else the record written
            old = await asyncio.to_thread(self._read_or_write_record, container_id, record)
            if old is not None:
                if old.get("netns") == netns_path and old.get("result"):
                    return parse_result(old["result"], old.get("ifname", IFNAME))
                await self._delete_record(container_id, old)
                await asyncio.to_thread(self._write_json, self._record_path(container_id), record)
            try:
                result = await self.cni.add_list(conflist, attachment)
                status = parse_result(result, IFNAME)
            except NetworkError as err:
                try:
                    await self._delete_record(container_id, record)
                except NetworkError as cleanup:
                    log.warning("rolling back a failed CNI ADD of %s: %s", container_id, cleanup)
                raise NetworkError(
                    f"pod {pod_namespace}/{pod_name}: {err}", code=err.code, details=err.details
                ) from None
            record["result"] = result
            await asyncio.to_thread(self._write_json, self._record_path(container_id), record)
            return status

    async def delete(
        self,
        pod_namespace: str,
        pod_name: str,
        pod_uid: str,
        netns_path: str = "",
        *,
        sandbox_id: str = "",
    ) -> None:
        """Detach the sandbox and release its addresses. Idempotent, also after the netns is gone.

        Uses the cached ADD (config, netns, result) when there is one — also
        one written by an earlier agent process; without a cache it runs DEL
        with the current config, which releases anything host-local still
        holds for the container id.
        """
        container_id = self._container_id(pod_uid, sandbox_id)
        if sandbox_id and pod_uid and _SAFE_ID.match(pod_uid):
            # Agents before the sandbox id became the CNI container id ADDed under the pod UID.
            legacy = await asyncio.to_thread(self._read_record, pod_uid)
            if legacy is not None and (not netns_path or legacy.get("netns") in (netns_path, "")):
                container_id = pod_uid
        async with self._lock(container_id):
            record = await asyncio.to_thread(self._read_record, container_id)
            if record is None:
                record = {
                    "containerId": container_id,
                    "ifname": IFNAME,
                    "netns": netns_path,
                    "args": [list(kv) for kv in pod_cni_args(pod_namespace, pod_name, container_id, pod_uid)],
                    "config": await self.conflist(),
                    "result": None,
                }
            try:
                await self._delete_record(container_id, record)
            except NetworkError as err:
                raise NetworkError(
                    f"pod {pod_namespace}/{pod_name}: {err}", code=err.code, details=err.details
                ) from None

    async def check(
        self, pod_namespace: str, pod_name: str, pod_uid: str, netns_path: str = "", *, sandbox_id: str = ""
    ) -> PodNetworkStatus:
        """CNI CHECK of an attachment this node made; its status, or :class:`NetworkError` saying what is wrong."""
        container_id = self._container_id(pod_uid, sandbox_id)
        async with self._lock(container_id):
            record = await asyncio.to_thread(self._read_record, container_id)
            if record is None or not record.get("result"):
                raise NetworkError(f"pod {pod_namespace}/{pod_name}: not attached to the pod network")
            if netns_path and record.get("netns") != netns_path:
                raise NetworkError(
                    f"pod {pod_namespace}/{pod_name}: attached in netns {record.get('netns')}, not {netns_path}"
                )
            try:
                await self.cni.check_list(record["config"], self._attachment(record), record["result"])
            except NetworkError as err:
                raise NetworkError(
                    f"pod {pod_namespace}/{pod_name}: {err}", code=err.code, details=err.details
                ) from None
            return parse_result(record["result"], record.get("ifname", IFNAME))

    async def status(self, pod_uid: str, *, sandbox_id: str = "") -> PodNetworkStatus | None:
        """The cached result of an attachment (None if not attached); no plugin runs."""
        record = await asyncio.to_thread(self._read_record, self._container_id(pod_uid, sandbox_id))
        if record is None or not record.get("result"):
            return None
        return parse_result(record["result"], record.get("ifname", IFNAME))

    async def release_stale(self) -> int:
        """DEL every cached attachment whose network namespace is gone (its sandbox was removed
        without a DEL: an agent killed mid-teardown); the addresses go back to the pool. An
        attachment in a netns that exists is left alone (another agent's live pod). How many."""
        released = 0
        for container_id in self.attached():
            async with self._lock(container_id):
                record = await asyncio.to_thread(self._read_record, container_id)
                if record is None or not _SAFE_ID.match(container_id):
                    continue
                netns = record.get("netns") or ""
                if netns and await asyncio.to_thread(os.path.exists, netns):
                    continue
                try:
                    await self._delete_record(container_id, record)
                except NetworkError as e:
                    log.warning("releasing the stale attachment %s: %s", container_id, e)
                    continue
                released += 1
        return released

    def attached(self) -> list[str]:
        """Container ids with a cached attachment (for garbage collection of sandboxes gone)."""
        try:
            names = os.listdir(self.results_dir)
        except FileNotFoundError:
            return []
        return sorted(n[: -len(".json")] for n in names if n.endswith(".json"))

    # -- internals ----------------------------------------------------------------------------

    async def _delete_record(self, container_id: str, record: dict[str, Any]) -> None:
        attachment = self._attachment(record)
        if attachment.netns and not await asyncio.to_thread(os.path.exists, attachment.netns):
            # The netns is gone (and its veth with it); DEL still releases the address.
            attachment = Attachment(attachment.container_id, "", attachment.ifname, attachment.args)
        await self.cni.del_list(record["config"], attachment, record.get("result") or None)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._record_path(container_id).unlink)

    @staticmethod
    def _attachment(record: dict[str, Any]) -> Attachment:
        return Attachment(
            container_id=record["containerId"],
            netns=record.get("netns") or "",
            ifname=record.get("ifname") or IFNAME,
            args=tuple((str(k), str(v)) for k, v in record.get("args", [])),
        )

    @staticmethod
    def _container_id(pod_uid: str, sandbox_id: str) -> str:
        container_id = sandbox_id or pod_uid
        if not _SAFE_ID.match(container_id):
            raise NetworkError(f"invalid CNI container id {container_id!r}")
        return container_id

    def _lock(self, container_id: str) -> asyncio.Lock:
        lock = self._locks.get(container_id)
        if lock is None:
            lock = self._locks[container_id] = asyncio.Lock()
        return lock

    def _record_path(self, container_id: str) -> Path:
        return self.results_dir / f"{container_id}.json"

    def _read_or_write_record(self, container_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """The cached record of ``container_id`` if there is one, else None after writing ``record``."""
        old = self._read_record(container_id)
        if old is None:
            self._write_json(self._record_path(container_id), record)
        return old

    def _read_record(self, container_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._record_path(container_id).read_text())
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise NetworkError(f"corrupt CNI cache {self._record_path(container_id)}: {err}") from None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            # json.dumps: the C encoder (json.dump and indent take the Python one). Not fsynced:
            # after a crash of the machine the netns are gone, and host-local does not fsync
            # its own lease files either; a crash of the agent leaves the page cache intact.
            f.write(json.dumps(data))
        os.replace(tmp, path)
