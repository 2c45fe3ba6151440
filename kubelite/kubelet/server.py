"""The kubelet's HTTPS API: container logs, exec, attach, port-forward and stats.

The API server proxies the pod subresources ``log``, ``exec``, ``attach``
and ``portforward`` here (``kubelite.apiserver.podproxy``); nothing else
calls it. Paths, as Kubernetes' kubelet serves them:

- ``GET /containerLogs/{ns}/{pod}/{container}``: ``follow``, ``previous``,
  ``tailLines``, ``sinceSeconds``, ``sinceTime``, ``timestamps``,
  ``limitBytes``; the container's CRI log file turned back into plain text
  (``P`` pieces joined into their line), followed until the container exits
  or the client goes;
- ``/exec/{ns}/{pod}[/{uid}]/{container}?command=..&stdin&stdout&stderr&tty``
  and ``/attach/...``: upgraded to WebSocket (``v5``/``v4.channel.k8s.io``)
  or SPDY/3.1 (``X-Stream-Protocol-Version``);
- ``/portForward/{ns}/{pod}[/{uid}]``: SPDY/3.1 (plain or tunnelled in
  WebSocket, ``SPDY/3.1+portforward.k8s.io``) or the WebSocket channel
  protocol with ``?ports=``;
- ``GET /stats/summary``: node and pod CPU and memory (stats/v1alpha1 Summary);
- ``GET /healthz`` (no authentication).

The pod manager tells the server what runs where through ``ContainerLookup``.
Authentication is a callable the owner passes in; ``client_cert_authenticator``
accepts verified client certificates of given users or groups (the API
server's ``kube-apiserver-kubelet-client`` in ``system:masters``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from aiohttp import web

from kubelite.kubelet.runtime.crilog import parse_log_line, parse_timestamp
from kubelite.kubelet.runtime.interface import ContainerState, ExecSession, NotFound, Runtime
from kubelite.kubelet.streams import portforward, remotecommand, websocket
from kubelite.kubelet.streams.spdy import SpdyConnection
from kubelite.kubelet.streams.upgrade import RawConnection

log = logging.getLogger(__name__)

FOLLOW_INTERVAL = 0.2  # seconds between looks at a followed log file
PORTFORWARD_PROTOCOL = "portforward.k8s.io"
CPU_STATS = ("usageNanoCores", "usageCoreNanoSeconds")
MEMORY_STATS = ("workingSetBytes", "usageBytes", "rssBytes")


# --- what the pod manager provides ------------------------------------------------------------------


@dataclass
class ContainerTarget:
    """Where one container (attempt) is: its runtime id and CRI log file."""

    container_id: str
    log_path: str
    runtime: Runtime | None = None  # None: the server's default runtime


@dataclass
class PodTarget:
    """A pod the node runs, for port-forward and stats."""

    namespace: str
    name: str
    uid: str = ""
    netns: str = ""  # the pod's network namespace path; "" means the host's (hostNetwork, process runtime)
    start_time: float = 0.0
    containers: dict[str, ContainerTarget] = field(default_factory=dict)  # current attempts by name


class ContainerLookup(Protocol):
    """What the kubelet's pod manager knows; all calls are cheap, in-memory reads."""

    def find(
        self, namespace: str, pod: str, container: str, previous: bool = False
    ) -> ContainerTarget | None:
        """The container's current attempt, or with ``previous`` the one before it; None if
        there is no such pod, container or attempt."""
        ...

    def default_container(self, namespace: str, pod: str) -> str | None:
        """The container to use when a request names none (the first one); None: no such pod."""
        ...

    def pod(self, namespace: str, pod: str) -> PodTarget | None: ...

    async def settled(self, namespace: str, pod: str) -> None:
        """Return once the answers about this pod are as good as they get: the agent has its
        pod list and has looked at the pod's containers (after a restart, the first requests
        would otherwise find nothing); bounded, answering with what is known after a while."""
        ...

    def pods(self) -> list[PodTarget]: ...


Authenticate = Callable[[web.Request], bool | Awaitable[bool]]


def client_cert_authenticator(
    users: Iterable[str] = ("kube-apiserver-kubelet-client",), groups: Iterable[str] = ("system:masters",)
) -> Authenticate:
    """Accept requests with a verified client certificate whose CN is one of ``users`` or
    whose O is one of ``groups`` (the server's SSL context must verify client certificates)."""
    allowed_users, allowed_groups = set(users), set(groups)

    def authenticate(request: web.Request) -> bool:
        cert = request.transport.get_extra_info("peercert") if request.transport else None
        if not cert:
            return False
        names: dict[str, list[str]] = {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                names.setdefault(key, []).append(value)
        return bool(
            allowed_users & set(names.get("commonName", []))
            or allowed_groups & set(names.get("organizationName", []))
        )

    return authenticate


def serving_ssl_context(cert_file: str, key_file: str, ca_file: str) -> ssl.SSLContext:
    """TLS for the kubelet: its serving certificate; client certificates optional but, when
    presented, verified against the cluster CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(cafile=ca_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# --- logs -----------------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def _bool(query: Any, name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true")


def _positive(query: Any, name: str, allow_zero: bool = False) -> int | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise BadRequest(f"{name}: must be {'non-negative' if allow_zero else 'greater than 0'}")
    return value


@dataclass
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since: float | None = None  # seconds since the epoch
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Any, now: float) -> LogOptions:
        opts = cls(
            follow=_bool(query, "follow"),
            previous=_bool(query, "previous"),
            timestamps=_bool(query, "timestamps"),
            tail_lines=_positive(query, "tailLines", allow_zero=True),
            limit_bytes=_positive(query, "limitBytes"),
        )
        since_seconds = _positive(query, "sinceSeconds")
        since_time = query.get("sinceTime", "")
        if since_seconds is not None and since_time:
            raise BadRequest("at most one of sinceTime or sinceSeconds may be specified")
        if since_seconds is not None:
            opts.since = now - since_seconds
        elif since_time:
            try:
                opts.since = parse_timestamp(since_time)
            except ValueError:
                raise BadRequest(f"invalid value for sinceTime: {since_time!r}") from None
        return opts


class LogDecoder:
    """Turns CRI log records back into lines of output, joining partial (``P``) records."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self._rest = b""  # an incomplete record at the end of what was read
        self._partial: dict[str, tuple[str, bytes]] = {}  # stream -> (first timestamp, pieces so far)

    def feed(self, data: bytes) -> list[bytes]:
        data = self._rest + data
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        out = []
        for raw in data[:cut].splitlines():
            try:
                rec = parse_log_line(raw)
            except ValueError:
                continue
            stamp, so_far = self._partial.pop(rec.stream, (rec.timestamp, b""))
            if rec.partial:
                self._partial[rec.stream] = (stamp, so_far + rec.content)
                continue
            line = self._format(stamp, so_far + rec.content)
            if line is not None:
                out.append(line)
        return out

    def _format(self, stamp: str, content: bytes) -> bytes | None:
        if self.opts.since is not None:
            try:
                if parse_timestamp(stamp) < self.opts.since:
                    return None
            except ValueError:
                pass
        prefix = stamp.encode() + b" " if self.opts.timestamps else b""
        return prefix + content + b"\n"


def _read_from(path: str, offset: int) -> tuple[bytes, int]:
    """New bytes of ``path`` from ``offset`` (from 0 again if the file was truncated or replaced)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:
                offset = 0
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return b"", offset
    return data, offset + len(data)


async def stream_logs(
    response: web.StreamResponse,
    path: str,
    opts: LogOptions,
    running: Callable[[], Awaitable[bool]],
) -> None:
    """Write the log at ``path`` to a prepared ``response``, following while ``running()``."""
    decoder = LogDecoder(opts)
    budget = opts.limit_bytes

    async def send(lines: list[bytes]) -> bool:
        nonlocal budget
        if not lines:
            return True
        chunk = b"".join(lines)
        if budget is not None:
            chunk = chunk[:budget]
            budget -= len(chunk)
        await response.write(chunk)
        return budget is None or budget > 0

    data, offset = await asyncio.to_thread(_read_from, path, 0)
    lines = decoder.feed(data)
    if opts.tail_lines is not None:
        lines = lines[-opts.tail_lines :] if opts.tail_lines else []
    if not await send(lines) or not opts.follow:
        return
    while True:
        alive = await running()
        data, offset = await asyncio.to_thread(_read_from, path, offset)
        if data and not await send(decoder.feed(data)):
            return
        if not alive:
            return
        await asyncio.sleep(FOLLOW_INTERVAL)


# --- stats ----------------------------------------------------------------------------------------


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _host_cpu_ns() -> float:
    """CPU time the host spent busy, in nanoseconds (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(x) for x in fields]
    busy = sum(ticks[:8]) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # minus idle and iowait
    return busy * 1e9 / os.sysconf("SC_CLK_TCK")


def _host_memory() -> dict[str, float]:
    info: dict[str, float] = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, _, rest = line.partition(":")
            info[name] = float(rest.split()[0]) * 1024
    total = info.get("MemTotal", 0.0)
    available = info.get("MemAvailable", info.get("MemFree", 0.0))
    return {
        "availableBytes": available,
        "usageBytes": total - info.get("MemFree", 0.0),
        "workingSetBytes": total - available,
        "rssBytes": total - available - info.get("Cached", 0.0),
    }


# --- the server -----------------------------------------------------------------------------------


class KubeletServer:
    """The kubelet API; ``start`` serves it, ``close`` stops (or ``run`` until cancelled)."""

    def __init__(
        self,
        lookup: ContainerLookup,
        runtime: Runtime | None = None,
        ssl_context: ssl.SSLContext | None = None,
        authenticate: Authenticate | None = None,
        node_name: str = "",
    ) -> None:
        self.lookup = lookup
        self.runtime = runtime
        self.ssl_context = ssl_context
        self.authenticate = authenticate
        self.node_name = node_name
        self.started_at = time.time()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._cpu_sample: tuple[float, float] | None = None  # (monotonic, busy ns)
        self.app = self._make_app()

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        r = app.router
        r.add_get("/healthz", self._healthz)
        r.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        for verb in ("exec", "attach"):
            handler = self._exec if verb == "exec" else self._attach
            r.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{container}}", handler)
            r.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{uid}}/{{container}}", handler)
        r.add_route("*", "/portForward/{ns}/{pod}", self._portforward)
        r.add_route("*", "/portForward/{ns}/{pod}/{uid}", self._portforward)
        r.add_get("/stats/summary", self._summary)
        return app

    async def start(self, host: str = "0.0.0.0", port: int = 10250) -> int:
        """Listen; returns the port (useful with ``port=0``)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        site = web.SockSite(self._runner, sock, ssl_context=self.ssl_context)
        await site.start()
        self.port = sock.getsockname()[1]
        log.info("kubelet API serving on %s:%d", host, self.port)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self, host: str = "0.0.0.0", port: int = 10250) -> None:
        await self.start(host, port)
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    # --- plumbing -------------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/healthz" and self.authenticate is not None:
            verdict = self.authenticate(request)
            if not isinstance(verdict, bool):
                verdict = await verdict
            if not verdict:
                return web.Response(status=401, text="Unauthorized")
        try:
            return await handler(request)
        except BadRequest as e:
            return web.Response(status=400, text=str(e))

    def _runtime(self, target: ContainerTarget) -> Runtime:
        runtime = target.runtime or self.runtime
        if runtime is None:
            raise web.HTTPInternalServerError(text="no container runtime")
        return runtime

    async def _container(
        self, request: web.Request, previous: bool = False
    ) -> tuple[str, str, str, ContainerTarget]:
        ns, pod = request.match_info["ns"], request.match_info["pod"]
        await self.lookup.settled(ns, pod)
        name = request.match_info.get("container", "") or self.lookup.default_container(ns, pod) or ""
        target = self.lookup.find(ns, pod, name, previous=previous) if name else None
        if target is None:
            if previous:
                message = f'previous terminated container "{name}" in pod "{pod}" not found'
            elif self.lookup.default_container(ns, pod) is None:
                message = f'pod "{pod}" in namespace "{ns}" not found'
            else:
                message = f'container "{name}" in pod "{pod}" is not available'
            raise web.HTTPNotFound(text=message)
        return ns, pod, name, target

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # --- logs -----------------------------------------------------------------------------------
    async def _logs(self, request: web.Request) -> web.StreamResponse:
        opts = LogOptions.from_query(request.query, time.time())
        _, _, _, target = await self._container(request, previous=opts.previous)
        runtime = self._runtime(target)

        async def running() -> bool:
            if opts.previous:
                return False
            try:
                status = await runtime.container_status(target.container_id)
            except NotFound:
                return False
            return status.state in (ContainerState.RUNNING, ContainerState.CREATED)

        response = web.StreamResponse(status=200)
        response.content_type = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await stream_logs(response, target.log_path, opts, running)
            await response.write_eof()
        return response

    # --- exec and attach ------------------------------------------------------------------------
    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await self._remotecommand(request, attach=False)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remotecommand(request, attach=True)

    async def _remotecommand(self, request: web.Request, attach: bool) -> web.StreamResponse:
        _, _, _, target = await self._container(request)
        runtime = self._runtime(target)
        opts = remotecommand.ExecOptions.from_query(request.query)
        if not attach and not opts.command:
            raise BadRequest("you must specify at least 1 command")
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")

        async def start() -> ExecSession:
            if attach:
                return await runtime.attach(target.container_id, stdin=opts.stdin, tty=opts.tty)
            return await runtime.exec(target.container_id, opts.command, stdin=opts.stdin, tty=opts.tty)

        if websocket.is_websocket(request):
            return await websocket.serve_exec(request, opts, start)
        protocol = self._spdy_protocol(request, remotecommand.SPDY_PROTOCOLS)
        raw = await RawConnection.accept(
            request, {"Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol}
        )
        conn = SpdyConnection(raw)
        reader = asyncio.ensure_future(conn.run())
        try:
            await remotecommand.serve_spdy(conn, opts, start)
        finally:
            await conn.close()
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        return raw.response

    def _spdy_protocol(self, request: web.Request, supported: Iterable[str]) -> str:
        if request.headers.get("Upgrade", "").lower() != "spdy/3.1":
            raise BadRequest("Upgrade request required")
        offered: list[str] = []
        for value in request.headers.getall("X-Stream-Protocol-Version", []):
            offered += [p.strip() for p in value.split(",") if p.strip()]
        supported = list(supported)
        for protocol in offered:
            if protocol in supported:
                return protocol
        raise web.HTTPForbidden(
            text=f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
            f"server supports {supported}"
        )

    # --- port-forward ---------------------------------------------------------------------------
    async def _portforward(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["pod"]
        await self.lookup.settled(ns, name)
        pod = self.lookup.pod(ns, name)
        if pod is None:
            raise web.HTTPNotFound(text=f'pod "{name}" in namespace "{ns}" not found')
        dial = portforward.dialer_for(pod.netns)
        if websocket.is_websocket(request):
            offered = websocket.offered_protocols(request)
            ws: web.WebSocketResponse
            if websocket.PORTFORWARD_TUNNEL in offered:
                ws = web.WebSocketResponse(protocols=[websocket.PORTFORWARD_TUNNEL], max_msg_size=0)
                await ws.prepare(request)
                await self._serve_portforward(SpdyConnection(websocket.WebSocketByteChannel(ws)), dial, name)
                return ws
            ports = self._ports(request)
            channel = websocket.choose_protocol(
                offered, (remotecommand.V4, remotecommand.V1, PORTFORWARD_PROTOCOL)
            )
            ws = web.WebSocketResponse(protocols=[channel] if channel else [], max_msg_size=0)
            await ws.prepare(request)
            await portforward.serve_websocket_channels(ws, ports, dial, name)
            return ws
        protocol = self._spdy_protocol(request, (PORTFORWARD_PROTOCOL,))
        raw = await RawConnection.accept(
            request, {"Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol}
        )
        await self._serve_portforward(SpdyConnection(raw), dial, name)
        return raw.response

    def _ports(self, request: web.Request) -> list[int]:
        ports: list[int] = []
        for value in request.query.getall("ports", []):
            for text in value.split(","):
                try:
                    port = int(text)
                except ValueError:
                    raise BadRequest(f"invalid port {text!r}") from None
                if not 0 < port < 65536:
                    raise BadRequest(f"invalid port {port}")
                ports.append(port)
        if not ports:
            raise BadRequest("query parameter 'ports' is required")
        return ports

    async def _serve_portforward(self, conn: SpdyConnection, dial: portforward.Dialer, pod: str) -> None:
        reader = asyncio.ensure_future(conn.run())
        try:
            await portforward.serve_spdy(conn, dial, pod)
        finally:
            await conn.close()
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    # --- stats ----------------------------------------------------------------------------------
    async def _summary(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(await self.summary()), content_type="application/json")

    async def summary(self) -> dict[str, Any]:
        """The stats/v1alpha1 Summary: the node, and every pod with its containers."""
        now = time.time()
        pods = []
        for pod in self.lookup.pods():
            containers = []
            total_cpu: dict[str, float] = {}
            total_mem: dict[str, float] = {}
            for cname, target in pod.containers.items():
                try:
                    stats = await self._runtime(target).stats(target.container_id)
                except Exception:
                    continue
                cpu: dict[str, float] = {k: stats[k] for k in CPU_STATS if k in stats}
                mem: dict[str, float] = {k: stats[k] for k in MEMORY_STATS if k in stats}
                for k, v in cpu.items():
                    total_cpu[k] = total_cpu.get(k, 0.0) + v
                for k, v in mem.items():
                    total_mem[k] = total_mem.get(k, 0.0) + v
                stamp = _rfc3339(stats.get("timestamp", now))
                entry: dict[str, Any] = {"name": cname, "startTime": _rfc3339(pod.start_time or now)}
                entry["cpu"] = {"time": stamp, **_ints(cpu)}
                entry["memory"] = {"time": stamp, **_ints(mem)}
                containers.append(entry)
            stamp = _rfc3339(now)
            pod_entry: dict[str, Any] = {
                "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "startTime": _rfc3339(pod.start_time or now),
                "containers": containers,
            }
            pod_entry["cpu"] = {"time": stamp, **_ints(total_cpu)}
            pod_entry["memory"] = {"time": stamp, **_ints(total_mem)}
            pods.append(pod_entry)
        return {"node": await asyncio.to_thread(self._node_stats, now), "pods": pods}

    def _node_stats(self, now: float) -> dict[str, Any]:
        stamp = _rfc3339(now)
        node: dict[str, Any] = {"nodeName": self.node_name, "startTime": _rfc3339(self.started_at)}
        try:
            busy = _host_cpu_ns()
            cpu: dict[str, float] = {"usageCoreNanoSeconds": busy}
            mono = time.monotonic()
            if self._cpu_sample is not None and mono > self._cpu_sample[0]:
                cpu["usageNanoCores"] = (busy - self._cpu_sample[1]) / (mono - self._cpu_sample[0])
            self._cpu_sample = (mono, busy)
            node["cpu"] = {"time": stamp, **_ints(cpu)}
            node["memory"] = {"time": stamp, **_ints(_host_memory())}
        except (OSError, ValueError, IndexError):
            pass
        return node


def _ints(values: dict[str, float]) -> dict[str, int]:
    return {k: max(0, int(v)) for k, v in values.items()}
