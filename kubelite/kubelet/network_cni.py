"""The CNI protocol from the runtime's side: run plugin binaries, chain a config list, read results.

A CNI plugin is an executable named by its config's ``type``, found on
``CNI_PATH``. It gets the operation and the attachment in environment
variables (``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``,
``CNI_IFNAME``, ``CNI_ARGS``, ``CNI_PATH``) and its config as JSON on stdin;
it answers with a result (ADD) or nothing (DEL, CHECK) on stdout, or with an
error object ``{"code", "msg", "details"}`` and a non-zero exit status.

A *config list* (``{"cniVersion", "name", "plugins": [...]}``) runs as a
chain: ADD calls each plugin in order, giving each the previous one's result
as ``prevResult``; DEL calls them in reverse order and CHECK in order, both
with the result the ADD returned (the caller caches it). Each plugin's stdin
is its own entry with the list's ``name`` and ``cniVersion`` injected.

:class:`PodNetwork <kubelite.kubelet.network.PodNetwork>` builds on this; the
functions here are pure except :class:`CniExec`, which runs the binaries off
the event loop (``subprocess`` on a worker thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelite.threadname import name_os_thread

# The result formats this module reads, best first: 1.0.0 (ips without "version")
# and 0.4.0 (the first with CHECK and prevResult on DEL).
CNI_VERSIONS = ("1.0.0", "0.4.0")


class NetworkError(Exception):
    """A network operation failed; the message is the plugin's own (it ends up in pod events/status)."""

    def __init__(self, message: str, *, code: int = 0, details: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.details = details


@dataclass
class PodNetworkStatus:
    """Where a pod is on the network: its address(es) and the interface and gateway it got."""

    ip: str  # the first IPv4 address ("" if none), as Kubernetes' status.podIP
    ips: list[str] = field(default_factory=list)  # every address, IPv4 first (status.podIPs)
    gateway: str = ""
    interface: str = "eth0"
    mac: str = ""
    prefix_length: int = 0  # of the first address


@dataclass(frozen=True)
class Attachment:
    """One container's attachment to a network: the CNI_* parameters other than the command."""

    container_id: str
    netns: str
    ifname: str = "eth0"
    args: tuple[tuple[str, str], ...] = ()

    def cni_args(self) -> str:
        """``CNI_ARGS``: ``K=V`` pairs separated by ``;`` (IgnoreUnknown first, as kubelet sends it)."""
        return ";".join(f"{k}={v}" for k, v in self.args)


def pod_cni_args(
    namespace: str, name: str, infra_container_id: str, uid: str = ""
) -> tuple[tuple[str, str], ...]:
    """The ``CNI_ARGS`` Kubernetes passes for a pod.

    ``IgnoreUnknown=1`` comes first: plugins (host-local among them) reject
    keys they do not know otherwise.
    """
    pairs = [
        ("IgnoreUnknown", "1"),
        ("K8S_POD_NAMESPACE", namespace),
        ("K8S_POD_NAME", name),
        ("K8S_POD_INFRA_CONTAINER_ID", infra_container_id),
    ]
    if uid:
        pairs.append(("K8S_POD_UID", uid))
    for key, value in pairs:
        if any(c in value for c in ";="):
            raise NetworkError(f"CNI_ARGS value for {key} may not contain ';' or '=': {value!r}")
    return tuple(pairs)


def plugin_stdin(
    conflist: dict[str, Any], index: int, prev_result: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The stdin of plugin ``index`` of a config list: its entry plus the list's name and version."""
    conf = dict(conflist["plugins"][index])
    conf["cniVersion"] = conflist["cniVersion"]
    conf["name"] = conflist["name"]
    if prev_result is not None:
        conf["prevResult"] = prev_result
    else:
        conf.pop("prevResult", None)
    return conf


def pick_version(supported: Sequence[Sequence[str]]) -> str:
    """The best of :data:`CNI_VERSIONS` every plugin supports (each entry: one plugin's versions)."""
    for version in CNI_VERSIONS:
        if all(version in versions for versions in supported):
            return version
    raise NetworkError(
        f"the CNI plugins support no common version of {', '.join(CNI_VERSIONS)} (they support {list(supported)})"
    )


def parse_error(stdout: bytes, stderr: bytes, what: str) -> NetworkError:
    """A :class:`NetworkError` from a failed plugin's output: the CNI error JSON, else its stderr."""
    text = stdout.decode(errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and ("msg" in data or "code" in data):
        msg = str(data.get("msg") or "")
        details = str(data.get("details") or "")
        code = data.get("code")
        message = f"{what}: {msg}" + (f"; {details}" if details else "")
        return NetworkError(message, code=code if isinstance(code, int) else 0, details=details)
    detail = text or stderr.decode(errors="replace").strip() or "no output"
    return NetworkError(f"{what}: {detail}")


def parse_result(result: dict[str, Any], ifname: str = "eth0") -> PodNetworkStatus:
    """The pod's addresses from an ADD result (format 0.4.0 or 1.0.0).

    An address counts when its ``interface`` index names ``ifname`` inside
    the sandbox, or when it names no interface at all (IPAM-only results).
    """
    interfaces = result.get("interfaces") or []
    if not isinstance(interfaces, list):
        raise NetworkError(f"CNI result: 'interfaces' is not a list: {interfaces!r}")
    mac = ""
    for iface in interfaces:
        if isinstance(iface, dict) and iface.get("name") == ifname and iface.get("sandbox"):
            mac = str(iface.get("mac") or "")
    addresses: list[tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, str]] = []
    for entry in result.get("ips") or []:
        if not isinstance(entry, dict) or "address" not in entry:
            raise NetworkError(f"CNI result: malformed ips entry {entry!r}")
        index = entry.get("interface")
        if index is not None:
            if not isinstance(index, int) or not 0 <= index < len(interfaces):
                raise NetworkError(f"CNI result: ips entry names interface {index!r} of {len(interfaces)}")
            iface = interfaces[index]
            if iface.get("name") != ifname or not iface.get("sandbox"):
                continue
        try:
            address = ipaddress.ip_interface(str(entry["address"]))
        except ValueError as err:
            raise NetworkError(f"CNI result: bad address {entry['address']!r}: {err}") from None
        addresses.append((address, str(entry.get("gateway") or "")))
    if not addresses:
        raise NetworkError(f"CNI result has no address for {ifname}: {json.dumps(result)}")
    addresses.sort(key=lambda a: a[0].version)  # IPv4 first, otherwise in the plugin's order
    first, gateway = addresses[0]
    return PodNetworkStatus(
        ip=str(first.ip) if first.version == 4 else "",
        ips=[str(a.ip) for a, _ in addresses],
        gateway=gateway,
        interface=ifname,
        mac=mac,
        prefix_length=first.network.prefixlen,
    )


CNI_THREADS = 4  # plugin runs at once (each waits on its process from a thread)


class _PluginRun:
    """One plugin process, run to its end by ``run`` on a worker thread; ``kill`` (any thread)
    kills it, or keeps it from starting."""

    def __init__(self, argv: list[str], env: dict[str, str], stdin: bytes, timeout: float) -> None:
        self.argv, self.env, self.stdin, self.timeout = argv, env, stdin, timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._killed = False

    def run(self) -> tuple[int, bytes, bytes]:
        with self._lock:
            if self._killed:
                raise OSError("cancelled before the plugin started")
            self._proc = proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd="/",
            )
        try:
            stdout, stderr = proc.communicate(self.stdin, timeout=self.timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.communicate()
            raise
        return proc.returncode, stdout, stderr

    def kill(self) -> None:
        with self._lock:
            self._killed = True
            if self._proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()


class CniExec:
    """Runs CNI plugin binaries found on ``paths`` (CNI_PATH), each call within ``timeout`` seconds."""

    def __init__(self, paths: Sequence[str], timeout: float = 60.0) -> None:
        self.paths = list(paths)
        self.timeout = timeout
        self._versions: dict[str, list[str]] = {}
        self._base_env: dict[str, str] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def find(self, plugin_type: str) -> str:
        if not plugin_type or "/" in plugin_type or plugin_type.startswith("."):
            raise NetworkError(f"invalid CNI plugin type {plugin_type!r}")
        for directory in self.paths:
            candidate = os.path.join(directory, plugin_type)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise NetworkError(f'failed to find plugin "{plugin_type}" in path {self.paths}')

    def _env(self, command: str, attachment: Attachment | None) -> dict[str, str]:
        if self._base_env is None:  # the agent's environment, read once (not per plugin run)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
            env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            env["CNI_PATH"] = os.pathsep.join(self.paths)
            self._base_env = env
        env = dict(self._base_env)
        env["CNI_COMMAND"] = command
        if attachment is not None:
            env["CNI_CONTAINERID"] = attachment.container_id
            env["CNI_NETNS"] = attachment.netns
            env["CNI_IFNAME"] = attachment.ifname
            env["CNI_ARGS"] = attachment.cni_args()
        return env

    async def invoke(
        self, command: str, plugin_type: str, conf: dict[str, Any], attachment: Attachment | None
    ) -> dict[str, Any] | None:
        """Run one plugin; its parsed stdout (None when empty), or :class:`NetworkError`.

        The plugin runs from a thread of this CniExec's own pool (a blocking ``subprocess`` call
        costs the event loop less than asyncio's subprocess transports and child watcher thread;
        a burst of ADDs, which host-local's lock serialises anyway, does not hold the default
        executor's threads). A cancelled call kills the plugin and waits for it, so no process
        outlives it.
        """
        binary = self.find(plugin_type)
        what = f"plugin type={plugin_type!r} {command}"
        run = _PluginRun([binary], self._env(command, attachment), json.dumps(conf).encode(), self.timeout)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                CNI_THREADS, thread_name_prefix="cni", initializer=name_os_thread, initargs=("cni",)
            )
        future = asyncio.get_running_loop().run_in_executor(self._executor, run.run)
        try:
            code, stdout, stderr = await asyncio.shield(future)
        except asyncio.CancelledError:
            run.kill()
            with contextlib.suppress(BaseException):
                await future
            raise
        except OSError as err:
            raise NetworkError(f"{what}: {err}") from None
        except subprocess.TimeoutExpired:
            raise NetworkError(f"{what}: timed out after {self.timeout:g}s") from None
        if code != 0:
            raise parse_error(stdout, stderr, what)
        text = stdout.strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise NetworkError(f"{what}: output is not JSON: {text[:200]!r}") from None
        if not isinstance(data, dict):
            raise NetworkError(f"{what}: output is not a JSON object: {text[:200]!r}")
        return data

    async def supported_versions(self, plugin_type: str) -> list[str]:
        """The CNI versions a plugin speaks (the VERSION command), cached per plugin type."""
        if plugin_type not in self._versions:
            data = await self.invoke("VERSION", plugin_type, {"cniVersion": CNI_VERSIONS[0]}, None)
            versions = (data or {}).get("supportedVersions")
            if not isinstance(versions, list):
                raise NetworkError(f"plugin type={plugin_type!r} VERSION: no supportedVersions in {data!r}")
            self._versions[plugin_type] = [str(v) for v in versions]
        return self._versions[plugin_type]

    async def add_list(self, conflist: dict[str, Any], attachment: Attachment) -> dict[str, Any]:
        """ADD through the chain; the last plugin's result."""
        result: dict[str, Any] | None = None
        for index, plugin in enumerate(conflist["plugins"]):
            out = await self.invoke("ADD", plugin["type"], plugin_stdin(conflist, index, result), attachment)
            if out is None:
                raise NetworkError(f"plugin type={plugin['type']!r} ADD: returned no result")
            result = out
        assert result is not None
        return result

    async def del_list(
        self, conflist: dict[str, Any], attachment: Attachment, cached: dict[str, Any] | None
    ) -> None:
        """DEL through the chain in reverse, each plugin given the cached ADD result (if any)."""
        for index in reversed(range(len(conflist["plugins"]))):
            plugin = conflist["plugins"][index]
            await self.invoke("DEL", plugin["type"], plugin_stdin(conflist, index, cached), attachment)

    async def check_list(
        self, conflist: dict[str, Any], attachment: Attachment, cached: dict[str, Any]
    ) -> None:
        """CHECK through the chain in order, each plugin given the cached ADD result."""
        for index, plugin in enumerate(conflist["plugins"]):
            await self.invoke("CHECK", plugin["type"], plugin_stdin(conflist, index, cached), attachment)
