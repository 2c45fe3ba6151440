"""Container probes (liveness, readiness, startup) and lifecycle hook handlers.

``Prober.check`` runs one probe action: ``exec`` through the runtime's
``exec_sync`` (exit 0 succeeds), ``httpGet`` with aiohttp to the pod IP
(2xx/3xx succeeds; the pod's network namespace is reachable from the host
through the bridge), ``tcpSocket`` (a connection succeeds), and ``grpc``
approximated by a TCP connect to its port. ``Prober.handler`` runs a
postStart/preStop handler the same way (plus ``sleep``).

``PodProbes`` keeps one ``ProbeWorker`` task per (container, probe kind)
of a pod, restarted whenever the container is (a new container id): each
waits ``initialDelaySeconds`` from the container's start, probes every
``periodSeconds`` with ``timeoutSeconds``, and flips its result only after
``successThreshold``/``failureThreshold`` equal outcomes in a row, as the
kubelet does. Until a startup probe succeeds, liveness and readiness are
not run; readiness starts as failed, liveness as succeeded. A failed
liveness or startup result puts the worker on hold until the pod worker
has restarted the container. Each failed probe records an ``Unhealthy``
event ("Liveness probe failed: <output>"). Time comes from the clock, so
tests run probes in fake time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp

from kubelite.api.core_v1 import Container, HTTPGetAction, LifecycleHandler, Pod, Probe
from kubelite.client import REAL_CLOCK, Clock
from kubelite.kubelet.runtime.interface import Runtime, RuntimeFailure

log = logging.getLogger(__name__)

PROBE_USER_AGENT = "kube-probe/1.32"
MAX_OUTPUT = 10 * 1024


class Result(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class Kind(StrEnum):
    LIVENESS = "liveness"
    READINESS = "readiness"
    STARTUP = "startup"

    @property
    def title(self) -> str:  # type: ignore[override]
        return self.value.capitalize()


@dataclass
class Outcome:
    result: Result
    output: str = ""


def go_quote(text: str) -> str:
    """``text`` as Go's %q prints it (a double-quoted string with escapes), as kubelet messages do."""
    return json.dumps(text, ensure_ascii=False)


def format_pod(pod: Pod) -> str:
    """``name_namespace(uid)``, as the kubelet names a pod in messages."""
    return f"{pod.metadata.name}_{pod.metadata.namespace}({pod.metadata.uid})"


def _port(port: int | str | None, container: Container) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.ports:
            if p.name == port:
                return p.containerPort
        raise ValueError(f"couldn't find port {port!r} in container {container.name}")
    raise ValueError("no port given")


class Prober:
    """Runs probe actions and hook handlers against one runtime."""

    def __init__(
        self, runtime: Runtime, clock: Clock = REAL_CLOCK, *, host_fallback: str = "127.0.0.1"
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.host_fallback = host_fallback
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, force_close=True))
        return self._session

    async def check(self, probe: Probe, container: Container, container_id: str, pod_ip: str) -> Outcome:
        """One probe attempt."""
        timeout = float(probe.timeoutSeconds or 1)
        try:
            if probe.exec is not None:
                return await self._exec(container_id, list(probe.exec.command), timeout)
            if probe.httpGet is not None:
                return await self._http_get(probe.httpGet, container, pod_ip, timeout)
            if probe.tcpSocket is not None:
                port = _port(probe.tcpSocket.port, container)
                return await self._tcp(probe.tcpSocket.host or pod_ip or self.host_fallback, port, timeout)
            if probe.grpc is not None:
                return await self._tcp(pod_ip or self.host_fallback, probe.grpc.port, timeout)
        except ValueError as e:
            return Outcome(Result.FAILURE, str(e))
        return Outcome(Result.UNKNOWN, "probe has no action")

    async def _exec(self, container_id: str, command: list[str], timeout: float) -> Outcome:
        try:
            res = await asyncio.wait_for(self.runtime.exec_sync(container_id, command, timeout), timeout + 1)
        except TimeoutError:
            return Outcome(Result.FAILURE, f"command {go_quote(' '.join(command))} timed out")
        except RuntimeFailure as e:
            return Outcome(Result.FAILURE, str(e))
        output = (res.stdout + res.stderr)[:MAX_OUTPUT].decode("utf-8", "replace")
        if res.exit_code == 0:
            return Outcome(Result.SUCCESS, output)
        return Outcome(Result.FAILURE, output)  # the kubelet reports just the output, even none

    async def _http_get(
        self, action: HTTPGetAction, container: Container, pod_ip: str, timeout: float
    ) -> Outcome:
        port = _port(action.port, container)
        host = action.host or pod_ip or self.host_fallback
        scheme = (action.scheme or "HTTP").lower()
        path = action.path or "/"
        if not path.startswith("/"):
            path = "/" + path
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        url = f"{scheme}://{hostport}{path}"
        headers = {"User-Agent": PROBE_USER_AGENT, "Accept": "*/*"}
        for h in action.httpHeaders:
            headers[h.name] = h.value
        try:
            async with self._http().get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True
            ) as resp:
                body = await resp.content.read(MAX_OUTPUT)
                text = body.decode("utf-8", "replace")
                if 200 <= resp.status < 400:
                    return Outcome(Result.SUCCESS, text)
                return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")
        except TimeoutError:
            return Outcome(
                Result.FAILURE,
                f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            )
        except (aiohttp.ClientError, OSError) as e:
            return Outcome(Result.FAILURE, f'Get "{url}": dial tcp {hostport}: connect: {_reason(e)}')

    async def _tcp(self, host: str, port: int, timeout: float) -> Outcome:
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            return Outcome(Result.FAILURE, f"dial tcp {hostport}: i/o timeout")
        except OSError as e:
            return Outcome(Result.FAILURE, f"dial tcp {hostport}: connect: {_reason(e)}")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Outcome(Result.SUCCESS)

    async def handler(
        self,
        handler: LifecycleHandler,
        pod: Pod,
        container: Container,
        container_id: str,
        pod_ip: str,
        timeout: float,
    ) -> str | None:
        """Run a lifecycle hook; None on success, else the error message."""
        if handler.exec is not None:
            command = list(handler.exec.command)
            try:
                res = await asyncio.wait_for(
                    self.runtime.exec_sync(container_id, command, timeout), timeout + 1
                )
            except TimeoutError:
                return f"command {go_quote(' '.join(command))} timed out"
            except RuntimeFailure as e:
                return str(e)
            if res.exit_code != 0:
                output = (res.stdout + res.stderr).decode("utf-8", "replace")
                return (
                    f"Exec lifecycle hook ([{' '.join(command)}]) for Container {go_quote(container.name)} "
                    f"in Pod {go_quote(format_pod(pod))} failed - error: command '{' '.join(command)}' "
                    f"exited with {res.exit_code}: , message: {go_quote(output)}"
                )
            return None
        if handler.httpGet is not None:
            try:
                out = await self._http_get(handler.httpGet, container, pod_ip, timeout)
            except ValueError as e:
                return str(e)
            if out.result != Result.SUCCESS:
                return f"HTTP lifecycle hook ({handler.httpGet.path}) for Container {container.name!r} in Pod {format_pod(pod)!r} failed - error: {out.output}"
            return None
        if handler.sleep is not None:
            await self.clock.sleep(min(float(handler.sleep.seconds), timeout))
            return None
        if handler.tcpSocket is not None:
            return None  # deprecated and never run by the kubelet
        return "lifecycle handler has no action"


def _reason(e: BaseException) -> str:
    errno_ = getattr(e, "errno", None) or getattr(getattr(e, "os_error", None), "errno", None)
    if isinstance(e, ConnectionRefusedError) or errno_ == 111:
        return "connection refused"
    if errno_ in (101, 113):
        return "no route to host"
    text = str(e).lower()
    if "refused" in text:
        return "connection refused"
    if "unreachable" in text:
        return "no route to host"
    return str(e) or type(e).__name__


def _initial(kind: Kind) -> Result:
    return {Kind.LIVENESS: Result.SUCCESS, Kind.READINESS: Result.FAILURE, Kind.STARTUP: Result.UNKNOWN}[kind]


class ProbeWorker:
    """Probes one container periodically; see the module docstring."""

    def __init__(
        self,
        owner: PodProbes,
        kind: Kind,
        probe: Probe,
        container: Container,
        container_id: str,
        started_at: float,
    ) -> None:
        self.owner = owner
        self.kind = kind
        self.probe = probe
        self.container = container
        self.container_id = container_id
        self.started_at = started_at
        self.result = _initial(kind)
        self.last = Result.UNKNOWN
        self.run_length = 0
        self.on_hold = False
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        clock = self.owner.clock
        period = float(self.probe.periodSeconds or 10)
        delay = self.probe.initialDelaySeconds - (clock.now() - self.started_at)
        if delay > 0:
            await clock.sleep(delay)
        while True:
            if not self.on_hold:
                done = await self._once()
                if done:
                    return
            await clock.sleep(period)

    async def _once(self) -> bool:
        """One probe; True when this worker has nothing more to do (startup succeeded)."""
        if self.kind != Kind.STARTUP and not self.owner.started(self.container.name, self.container_id):
            return False
        outcome = await self.owner.prober.check(
            self.probe, self.container, self.container_id, self.owner.pod_ip
        )
        if outcome.result == Result.UNKNOWN:
            return False
        if outcome.result == Result.FAILURE:
            self.owner.record(
                self.container,
                "Warning",
                "Unhealthy",
                f"{self.kind.title} probe failed: {outcome.output.strip()}",
            )
        if outcome.result == self.last:
            self.run_length += 1
        else:
            self.last = outcome.result
            self.run_length = 1
        threshold = (
            (self.probe.failureThreshold or 3)
            if outcome.result == Result.FAILURE
            else (self.probe.successThreshold or 1)
        )
        if self.run_length < threshold:
            return False
        changed = self.result != outcome.result
        self.result = outcome.result
        if self.kind in (Kind.LIVENESS, Kind.STARTUP) and outcome.result == Result.FAILURE:
            self.on_hold = True
            self.run_length = 0
        if changed:
            self.owner.changed()
        return self.kind == Kind.STARTUP and outcome.result == Result.SUCCESS


class PodProbes:
    """The probe workers of one pod; ``sync`` follows its containers, the queries read results."""

    def __init__(
        self,
        prober: Prober,
        clock: Clock,
        on_change: Callable[[], None],
        record: Callable[[Container, str, str, str], None],
    ) -> None:
        self.prober = prober
        self.clock = clock
        self._on_change = on_change
        self._record = record
        self.pod_ip = ""
        self._workers: dict[tuple[str, Kind], ProbeWorker] = {}

    def changed(self) -> None:
        self._on_change()

    def record(self, container: Container, type_: str, reason: str, message: str) -> None:
        self._record(container, type_, reason, message)

    def sync(self, containers: list[Container], running: dict[str, tuple[str, float]], pod_ip: str) -> None:
        """Run workers for the running containers (name -> (container id, startedAt wall time))."""
        self.pod_ip = pod_ip
        wanted: dict[tuple[str, Kind], tuple[Probe, Container, str, float]] = {}
        for c in containers:
            if c.name not in running:
                continue
            cid, started = running[c.name]
            for kind, probe in (
                (Kind.STARTUP, c.startupProbe),
                (Kind.LIVENESS, c.livenessProbe),
                (Kind.READINESS, c.readinessProbe),
            ):
                if probe is not None:
                    wanted[(c.name, kind)] = (probe, c, cid, started)
        for key, worker in list(self._workers.items()):
            want = wanted.get(key)
            if want is None or want[2] != worker.container_id:
                self._stop(key)
        for key, (probe, c, cid, started) in wanted.items():
            if key not in self._workers:
                w = ProbeWorker(self, key[1], probe, c, cid, started)
                w.task = asyncio.ensure_future(w.run())
                self._workers[key] = w

    def _stop(self, key: tuple[str, Kind]) -> None:
        w = self._workers.pop(key, None)
        if w is not None and w.task is not None:
            w.task.cancel()

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        self._workers.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _result(self, name: str, container_id: str, kind: Kind) -> Result | None:
        w = self._workers.get((name, kind))
        if w is None or w.container_id != container_id:
            return None
        return w.result

    def started(self, name: str, container_id: str, has_probe: bool | None = None) -> bool:
        """Whether the container counts as started (no startup probe, or it succeeded)."""
        r = self._result(name, container_id, Kind.STARTUP)
        if r is None:
            return not has_probe
        return r == Result.SUCCESS

    def ready(self, container: Container, container_id: str) -> bool:
        if container.readinessProbe is None:
            return True
        return self._result(container.name, container_id, Kind.READINESS) == Result.SUCCESS

    def failed(self, container: Container, container_id: str) -> Kind | None:
        """The probe kind (liveness or startup) whose failure means the container must be killed."""
        for kind in (Kind.STARTUP, Kind.LIVENESS):
            if self._result(container.name, container_id, kind) == Result.FAILURE:
                return kind
        return None

    def describe(self) -> dict[str, Any]:
        return {f"{n}/{k}": w.result.value for (n, k), w in self._workers.items()}
