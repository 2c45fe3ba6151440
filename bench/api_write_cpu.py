"""CPU of the API server's thread per write, for the writes of a pod's start (issues 5 and 6).

Starts an in-process ``APIServer`` on its own thread (``ServerThread``, plain
HTTP, port 0; memory or SQLite store) and, from the main thread, sends the
writes one pod's start costs the API server, in phases of ``--pods`` each:

- ``pod_create``: kubectl's create (``fieldManager=kubectl-create``,
  ``fieldValidation=Strict``) of a busybox pod;
- ``binding``: the scheduler's ``pods/binding`` POST;
- ``event_create``: core/v1 Event creates as ``EventRecorder`` writes them
  (the Scheduled, Pulled, Created and Started events: 4 per pod);
- ``status_put``: the node agent's pods/status PUT of the running pod.

``--watchers`` open pod and event watches (as the scheduler, the node agent
and the controllers hold), so that the figures include the watch fan-out.
Requests go out on ``--connections`` kept-alive connections, a small asyncio
client that does little per request, so the server's thread has the
interpreter mostly to itself. For each phase the server thread's CPU
(``pthread_getcpuclockid``) and the whole process's CPU are divided by the
requests; ``--repeat`` runs every phase that often, on new pods, and the best
(lowest) per-request figure of the runs is printed.

Ends with ``RESULT name=api_write_cpu value=<µs of server-thread CPU per
pod, the 7 writes together> unit=us reference=<µs per GET /healthz>
ratio=<value/reference>``: the reference is the server's floor per request
(through aiohttp: health checks are not among the requests the lean front
serves, so they go out on connections of their own).

    .venv/bin/python bench/api_write_cpu.py [--pods 500] [--repeat 3] [--store memory]
        [--watchers 2] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.serverthread import ServerThread

NAMESPACE = "bench-write-cpu"
KUBECTL_UA = "kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9"
SCHEDULER_UA = "kubelite-scheduler/0.1.0"
KUBELET_UA = "kubelite-kubelet/0.1.0"
EVENTS = (
    ("default-scheduler", "", "Scheduled", "Successfully assigned {ns}/{name} to node-1"),
    ("kubelet", "node-1", "Pulled", 'Container image "busybox:1.36" already present on machine'),
    ("kubelet", "node-1", "Created", "Created container: main"),
    ("kubelet", "node-1", "Started", "Started container main"),
)


def pod_body(name: str) -> dict[str, Any]:
    """What ``kubectl create -f`` sends for a busybox pod."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"app": "bench"}, "name": name, "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {
                    "command": ["sleep", "3600"],
                    "image": "busybox:1.36",
                    "imagePullPolicy": "IfNotPresent",
                    "name": "main",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
            "terminationGracePeriodSeconds": 1,
        },
    }


def binding_body(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
        "target": {"kind": "Node", "name": "node-1"},
    }


def event_body(pod: dict[str, Any], index: int, serial: int) -> dict[str, Any]:
    """An Event as ``EventRecorder.event`` encodes it."""
    component, host, reason, message = EVENTS[index]
    meta = pod["metadata"]
    ts = "2026-01-01T00:00:00Z"
    ref: dict[str, Any] = {
        "kind": "Pod",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "v1",
        "resourceVersion": meta["resourceVersion"],
    }
    if index:
        ref["fieldPath"] = "spec.containers{main}"
    source = {"component": component, **({"host": host} if host else {})}
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{meta['name']}.{serial:x}", "namespace": meta["namespace"]},
        "involvedObject": ref,
        "reason": reason,
        "message": message.format(ns=meta["namespace"], name=meta["name"]),
        "source": source,
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
        "type": "Normal",
        "reportingComponent": component,
        "reportingInstance": f"{component}-{host}" if host else component,
    }


def running(pod: dict[str, Any]) -> dict[str, Any]:
    """The node agent's status write of ``pod`` (as last read) once its container runs."""
    ts = "2026-01-01T00:00:01Z"
    conds = [
        {"type": t, "status": "True", "lastTransitionTime": ts}
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
    ]
    status = {
        **pod.get("status", {}),
        "phase": "Running",
        "conditions": [*pod.get("status", {}).get("conditions", []), *conds],
        "hostIP": "10.0.0.1",
        "hostIPs": [{"ip": "10.0.0.1"}],
        "podIP": "10.42.0.7",
        "podIPs": [{"ip": "10.42.0.7"}],
        "startTime": ts,
        "containerStatuses": [
            {
                "name": "main",
                "state": {"running": {"startedAt": ts}},
                "ready": True,
                "restartCount": 0,
                "image": "docker.io/library/busybox:1.36",
                "imageID": "sha256:" + "ab" * 32,
                "containerID": "runc://" + "cd" * 32,
                "started": True,
            }
        ],
    }
    return {**pod, "status": status}


# --- a small HTTP/1.1 client ------------------------------------------------------------------------


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def request(
        self, method: str, target: str, ua: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {ua}\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return int(status_line.split()[1]), data


async def connect(url: str, n: int) -> list[Connection]:
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    out = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection(host, int(port))
        out.append(Connection(reader, writer, hostport))
    return out


async def watch(url: str, path: str, stop: asyncio.Event) -> None:
    """A watch that reads and drops its events (the fan-out's cost is the server's)."""
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path}?watch=1&allowWatchBookmarks=true HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
    try:
        while not stop.is_set():
            if not await reader.read(1 << 16):
                return
    finally:
        writer.close()


# --- measuring --------------------------------------------------------------------------------------


class CPU:
    """CPU seconds of one thread, and of the process."""

    def __init__(self, thread: threading.Thread) -> None:
        assert thread.ident is not None
        self.clock = time.pthread_getcpuclockid(thread.ident)

    def read(self) -> tuple[float, float]:
        return time.clock_gettime(self.clock), time.process_time()


async def run_phase(
    conns: list[Connection], jobs: list[Callable[[Connection], Any]], cpu: CPU
) -> tuple[float, float, list[Any]]:
    """Run ``jobs`` on the connections (one at a time per connection); CPU per job, µs."""
    results: list[Any] = [None] * len(jobs)
    queue = list(enumerate(jobs))
    queue.reverse()

    async def worker(conn: Connection) -> None:
        while queue:
            i, job = queue.pop()
            results[i] = await job(conn)

    await asyncio.sleep(0.05)  # let the watches drain what came before
    t0, p0 = cpu.read()
    await asyncio.gather(*(worker(c) for c in conns))
    await asyncio.sleep(0.05)  # the fan-out of the last writes
    t1, p1 = cpu.read()
    n = len(jobs)
    return (t1 - t0) / n * 1e6, (p1 - p0) / n * 1e6, results


def expect(code: int, body: bytes, want: int) -> bytes:
    if code != want:
        raise SystemExit(f"unexpected answer {code} (wanted {want}): {body[:300]!r}")
    return body


async def one_round(
    url: str, conns: list[Connection], cpu: CPU, round_no: int, pods: int
) -> dict[str, tuple[float, float]]:
    base = f"/api/v1/namespaces/{NAMESPACE}"
    figures: dict[str, tuple[float, float]] = {}
    names = [f"pod-{round_no}-{i}" for i in range(pods)]

    def write(method: str, path: str, ua: str, body: Any, want: int) -> Callable[[Connection], Any]:
        """One request as a job of ``run_phase``: its answer, decoded."""
        data = orjson.dumps(body)

        async def job(c: Connection) -> Any:
            code, answer = await c.request(method, f"{base}{path}", ua, data)
            return orjson.loads(expect(code, answer, want))

        return job

    create = "/pods?fieldManager=kubectl-create&fieldValidation=Strict"
    t, p, created = await run_phase(
        conns, [write("POST", create, KUBECTL_UA, pod_body(n), 201) for n in names], cpu
    )
    figures["pod_create"] = (t, p)

    binds = [
        write("POST", f"/pods/{pod['metadata']['name']}/binding", SCHEDULER_UA, binding_body(pod), 201)
        for pod in created
    ]
    t, p, _ = await run_phase(conns, binds, cpu)
    figures["binding"] = (t, p)

    events = [
        write(
            "POST",
            "/events",
            SCHEDULER_UA if i == 0 else KUBELET_UA,
            event_body(pod, i, round_no * 10_000_000 + n * 4 + i),
            201,
        )
        for n, pod in enumerate(created)
        for i in range(4)
    ]
    t, p, _ = await run_phase(conns, events, cpu)
    figures["event_create"] = (t, p)

    async def read(c: Connection, name: str) -> Any:
        code, data = await c.request("GET", f"{base}/pods/{name}", KUBELET_UA)
        return orjson.loads(expect(code, data, 200))

    bound = [await read(conns[0], n) for n in names]
    statuses = [
        write("PUT", f"/pods/{pod['metadata']['name']}/status", KUBELET_UA, running(pod), 200)
        for pod in bound
    ]
    t, p, _ = await run_phase(conns, statuses, cpu)
    figures["status_put"] = (t, p)

    async def health(c: Connection) -> Any:
        code, data = await c.request("GET", "/healthz", KUBELET_UA)
        expect(code, data, 200)

    # On connections of their own: a non-resource path is aiohttp's, and the API server's lean
    # front hands a connection to aiohttp for good at the first such request.
    health_conns = await connect(url, len(conns))
    try:
        t, p, _ = await run_phase(health_conns, [health] * pods, cpu)
    finally:
        for c in health_conns:
            c.writer.close()
    figures["healthz"] = (t, p)
    return figures


async def measure(server: ServerThread, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    url = server.url
    cpu = CPU(server.thread)
    conns = await connect(url, args.connections)
    code, data = await conns[0].request(
        "POST", "/api/v1/namespaces", KUBECTL_UA, orjson.dumps({"metadata": {"name": NAMESPACE}})
    )
    expect(code, data, 201)
    stop = asyncio.Event()
    watches = [
        asyncio.create_task(watch(url, path, stop))
        for _ in range(args.watchers)
        for path in ("/api/v1/pods", "/api/v1/events")
    ]
    best: dict[str, tuple[float, float]] = {}
    try:
        for r in range(args.repeat):
            figures = await one_round(url, conns, cpu, r, args.pods)
            for k, v in figures.items():
                best[k] = min(best.get(k, v), v)
            print(
                f"round {r}: " + "  ".join(f"{k} {t:.0f}/{p:.0f}" for k, (t, p) in figures.items()),
                file=sys.stderr,
            )
    finally:
        stop.set()
        for w in watches:
            w.cancel()
        for c in conns:
            c.writer.close()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--watchers", type=int, default=2, help="pod and event watches of each kind")
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the server thread here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="api-write-cpu-") as tmp:
        config = ServerConfig(data_dir=Path(tmp), port=0, tls=False, store=args.store)
        server = ServerThread(APIServer(config))
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        if profiler is not None:
            original = server._main

            async def profiled() -> None:
                profiler.enable()
                try:
                    await original()
                finally:
                    profiler.disable()

            server._main = profiled  # type: ignore[method-assign]
        if not server.start(60):
            server.join(10)
            print("the API server did not start", file=sys.stderr)
            return 1
        try:
            best = asyncio.run(measure(server, args))
        finally:
            server.stop()
            with contextlib.suppress(Exception):
                server.join(15)
        if profiler is not None:
            profiler.dump_stats(str(args.profile))
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
    print(
        f"server-thread CPU per request (µs; best of {args.repeat} rounds of {args.pods} pods, store {args.store}):"
    )
    for k, (t, p) in best.items():
        print(f"  {k:13s} {t:7.0f}   (process {p:.0f})")
    per_pod = sum(
        best[k][0] * n for k, n in (("pod_create", 1), ("binding", 1), ("event_create", 4), ("status_put", 1))
    )
    floor = best["healthz"][0]
    print(
        f"RESULT name=api_write_cpu value={per_pod:.0f} unit=us reference={floor:.0f} ratio={per_pod / floor:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
