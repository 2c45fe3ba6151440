"""Scheduler throughput in the shape of Kubernetes' scheduler_perf (issue 5).

Each workload starts a fresh in-process API server (memory store, plain
HTTP) and the scheduler with its default profile, both on the main event
loop, as ``kubelite server`` runs them (see kubelite/apiserver/servertask.py:
in one process a second thread would only add hand-offs of the interpreter
lock, about a third more CPU per pod). Nodes are plain API objects registered
by ``SimulatedNodes`` (no leases, no pod loop: as in scheduler_perf, bound
pods never run). Then, as scheduler_perf's ``createPods`` ops do, the init
pods are created and waited for, then the measured pods are created, and a
watch on pods records when each measured pod's binding is observed. The
figure is measured pods bound per second, from the first to the last of
those bindings.

The pods are created, and their bindings timed, by the bench's load
generator (bench/_podload.py), which is not the system under test: it runs
as a child process, on the machine's other core, as scheduler_perf's
creating goroutines run on other cores than the scheduler's, so that its
CPU does not count in the CPU per pod. It creates pods through the lean HTTP
transport, 32 at a time, and times the bindings on a pod watch.

Workloads follow Kubernetes' performance configs (the "performance" workload
of each test case and its ``threshold``, the minimum pods/s kube-scheduler
must reach, used here as the reference):

=================  =====  ==========  =============  =========
workload           nodes  init pods   measured pods  reference
=================  =====  ==========  =============  =========
SchedulingBasic    5000   1000        10000          680
TopologySpreading  5000   5000        5000           460
NodeAffinity       5000   5000        10000          220
PodAntiAffinity    5000   1000        2000           60
Preemption         500    2000        500            18
=================  =====  ==========  =============  =========

Pods are scheduler_perf's templates: pod-default (100m cpu, 500Mi), with a
zone spread constraint (maxSkew 5, DoNotSchedule) over nodes labelled
moon-1..3, with required node affinity to zone1/zone2 (nodes in zone1),
with required anti-affinity on hostname against color=green in two
namespaces, and low (900m, priority 0) then high (3 cpu, priority 10) pods on
4-cpu nodes, so that every high pod preempts three low ones.

Each workload ends with ``RESULT name=sched_<workload> value=<pods/s>
unit=pods/s reference=<threshold> ratio=<value/reference>``.

    .venv/bin/python bench/scheduler_perf.py [--workloads SchedulingBasic,Preemption]
        [--scale 0.1] [--timeout 240] [--profile DIR]

``--scale`` multiplies every count (nodes and pods); ``--timeout`` bounds each
workload's measured phase (a timed-out workload reports the rate of what was
bound and says so); the whole run stops starting workloads after 25 minutes.
``--profile DIR`` writes a cProfile of the main thread (API server, scheduler,
clients), timed by that thread's CPU clock, per workload and prints its top
functions. Each workload also reports the CPU time per measured pod of each
thread of the bench's process (from /proc: the main thread, with the API
server and the scheduler; the loop's helper threads, if busy), a figure far steadier than pods/s on a
busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _podload import LoadGenerator

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.servertask import ServerTask
from kubelite.client import Client, lookup
from kubelite.scheduler.scheduler import Scheduler
from kubelite.scheduler.simulate import SimulatedNodes

RUN_LIMIT = 25 * 60.0  # no workload starts after this many seconds
PODS = lookup("", "v1", "Pod")
NAMESPACES = lookup("", "v1", "Namespace")
ZONE = "topology.kubernetes.io/zone"


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


# --- pod templates (scheduler_perf's) ---------------------------------------------------------------


def _container(cpu: str) -> dict[str, Any]:
    return {
        "name": "pause",
        "image": "registry.k8s.io/pause:3.10",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": cpu, "memory": "500Mi"}, "requests": {"cpu": cpu, "memory": "500Mi"}},
    }


def pod_default(**spec: Any) -> dict[str, Any]:
    return {"metadata": {}, "spec": {"containers": [_container("100m")], **spec}}


def pod_with_topology_spreading() -> dict[str, Any]:
    body = pod_default(
        topologySpreadConstraints=[
            {
                "maxSkew": 5,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"color": "blue"}},
            }
        ]
    )
    body["metadata"]["labels"] = {"color": "blue"}
    return body


def pod_with_node_affinity() -> dict[str, Any]:
    return pod_default(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone1", "zone2"]}]}
                    ]
                }
            }
        }
    )


def pod_with_pod_anti_affinity() -> dict[str, Any]:
    body = pod_default(
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"color": "green"}},
                        "topologyKey": "kubernetes.io/hostname",
                        "namespaces": ["sched-1", "sched-0"],
                    }
                ]
            }
        }
    )
    body["metadata"]["labels"] = {"color": "green"}
    return body


def pod_low_priority() -> dict[str, Any]:
    return {"metadata": {}, "spec": {"terminationGracePeriodSeconds": 0, "containers": [_container("900m")]}}


def pod_high_priority() -> dict[str, Any]:
    return {"metadata": {}, "spec": {"priority": 10, "containers": [_container("3000m")]}}


# --- workloads --------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    reference: float  # kube-scheduler's threshold, pods/s
    nodes: int
    init_pods: int
    measure_pods: int
    init_template: Callable[[], dict[str, Any]]
    measure_template: Callable[[], dict[str, Any]]
    zones: tuple[str, ...] = ()
    init_namespace: str = "init"
    measure_namespace: str = "measure"


WORKLOADS = {
    w.name: w
    for w in (
        Workload("SchedulingBasic", 680, 5000, 1000, 10000, pod_default, pod_default),
        Workload(
            "TopologySpreading",
            460,
            5000,
            5000,
            5000,
            pod_default,
            pod_with_topology_spreading,
            zones=("moon-1", "moon-2", "moon-3"),
        ),
        Workload(
            "NodeAffinity", 220, 5000, 5000, 10000, pod_with_node_affinity, pod_with_node_affinity, ("zone1",)
        ),
        Workload(
            "PodAntiAffinity",
            60,
            5000,
            1000,
            2000,
            pod_with_pod_anti_affinity,
            pod_with_pod_anti_affinity,
            init_namespace="sched-0",
            measure_namespace="sched-1",
        ),
        Workload("Preemption", 18, 500, 2000, 500, pod_low_priority, pod_high_priority),
    )
}


# --- the API server ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def api_server(data_dir: Path) -> AsyncIterator[ServerTask]:
    """An ``APIServer`` (memory store, plain HTTP, port 0) on this loop, stopped at the end."""
    # Without the Priority admission plugin, as scheduler_perf's API server runs
    # (--disable-admission-plugins=...,Priority): its templates set spec.priority directly.
    config = ServerConfig(
        data_dir=data_dir,
        port=0,
        tls=False,
        store="memory",
        disable_admission_plugins=frozenset({"Priority"}),
    )
    server = ServerTask(APIServer(config))
    try:
        if not await server.started():
            await server.finished()  # raises what stopped it
            raise BenchError("the API server did not start")
        yield server
    finally:
        server.stop()
        await server.finished()


# --- measuring --------------------------------------------------------------------------------------


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds so far of each thread of this process by OS name ("main" for the main thread:
    the API server and the scheduler)."""
    pid, tick = os.getpid(), os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = "main" if int(tid) == pid else Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale)) if n else 0


@dataclass
class Outcome:
    name: str
    value: float
    reference: float
    bound: int
    wanted: int
    seconds: float
    timed_out: bool
    notes: list[str] = field(default_factory=list)


async def run_workload(
    url: str, w: Workload, scale: float, timeout: float, profile: cProfile.Profile | None
) -> Outcome:
    nodes, init, measure = scaled(w.nodes, scale), scaled(w.init_pods, scale), scaled(w.measure_pods, scale)
    async with Client(url, component="bench", timeout=120) as client:
        zones = w.zones
        sim = SimulatedNodes(
            client,
            nodes,
            cpu="4",
            memory="32Gi",
            pods="110",
            name_prefix="scheduler-perf-",
            run_pods=False,
            run_leases=False,
            concurrency=64,
            label_fn=(lambda i: {ZONE: zones[i % len(zones)]}) if zones else None,
        )
        t0 = time.monotonic()
        await sim.register()
        t_nodes = time.monotonic() - t0
        for ns in {w.init_namespace, w.measure_namespace}:
            await client.resource(NAMESPACES).create({"metadata": {"name": ns}})
    load = await LoadGenerator.start(url)
    sched_client = Client(url, component="scheduler")
    scheduler = Scheduler(sched_client, leader_elect=False)
    sched_task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(scheduler.started.wait(), 120)
        # Init pods, waited for as scheduler_perf's createPods does.
        t1 = time.monotonic()
        created = load.create(w.init_namespace, w.init_template(), init, "init")
        _, done = await load.wait_bound(w.init_namespace, init, max(timeout, 60))
        if not done:
            raise BenchError(f"{w.name}: the init pods were not all bound in time")
        if error := await created:
            raise BenchError(f"{w.name}: creating the init pods failed: {error}")
        t_init = time.monotonic() - t1
        if profile is not None:
            profile.enable()
        cpu0 = cpu_by_thread()
        start = time.monotonic()
        created = load.create(w.measure_namespace, w.measure_template(), measure, "pod")
        times, done = await load.wait_bound(w.measure_namespace, measure, timeout)
        cpu1 = cpu_by_thread()
        if profile is not None:
            profile.disable()
        if created.done() and created.result():
            raise BenchError(f"{w.name}: creating the measured pods failed: {created.result()}")
        bound = len(times)
        value = (bound - 1) / (times[-1] - times[0]) if bound >= 2 and times[-1] > times[0] else 0.0
        notes = [
            f"{nodes} nodes registered in {t_nodes:.1f}s",
            f"{init} init pods bound in {t_init:.1f}s",
            f"scheduling attempts {scheduler.attempts}, bound {scheduler.scheduled}",
        ]
        recorder = scheduler.recorder
        if recorder is not None:  # events dropped (a full queue) would spare the API server work
            notes.append(f"events written {recorder.written}, dropped {recorder.dropped}")
        if bound:
            used = sorted(((v - cpu0.get(k, 0.0), k) for k, v in cpu1.items()), reverse=True)
            notes.append(
                "CPU per measured pod: "
                + ", ".join(f"{name} {u / bound * 1000:.2f} ms" for u, name in used if u > 0)
            )
        return Outcome(w.name, value, w.reference, bound, measure, time.monotonic() - start, not done, notes)
    finally:
        sched_task.cancel()
        await asyncio.gather(sched_task, return_exceptions=True)
        await sched_client.close()
        await load.close()


def run_one(w: Workload, scale: float, timeout: float, profile_dir: Path | None) -> Outcome:
    # Timed by the thread's CPU clock, which is the server's and the scheduler's alike.
    profile = cProfile.Profile(time.thread_time) if profile_dir is not None else None

    async def run() -> Outcome:
        with tempfile.TemporaryDirectory(prefix="kubelite-sched-perf-") as tmp:
            async with api_server(Path(tmp)) as server:
                return await run_workload(server.url, w, scale, timeout, profile)

    outcome = asyncio.run(run())
    if profile is not None and profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        target = profile_dir / f"{w.name}.prof"
        profile.dump_stats(target)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(f"--- {w.name}: main-thread profile by own time ({target})")
        print("\n".join(out.getvalue().splitlines()[:45]))
    return outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--workloads", default=",".join(WORKLOADS), help=f"comma-separated, of {', '.join(WORKLOADS)}"
    )
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiply node and pod counts (e.g. 0.1 for a quick run)"
    )
    p.add_argument(
        "--timeout", type=float, default=240.0, help="seconds each measured phase may take (default 240)"
    )
    p.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="write a cProfile per workload to DIR"
    )
    args = p.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if args.scale <= 0:
        p.error("--scale must be > 0")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    failed = False
    for name in names:
        if time.monotonic() - began > RUN_LIMIT:
            print(f"{name}: skipped, the run passed {RUN_LIMIT / 60:.0f} minutes", file=sys.stderr)
            failed = True
            continue
        w = WORKLOADS[name]
        try:
            o = run_one(w, args.scale, args.timeout, args.profile)
        except BenchError as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed = True
            continue
        state = "TIMED OUT, " if o.timed_out else ""
        print(
            f"{o.name}: {state}{o.bound}/{o.wanted} measured pods bound in {o.seconds:.1f}s; "
            + "; ".join(o.notes)
        )
        print(
            f"RESULT name=sched_{o.name} value={o.value:.1f} unit=pods/s reference={o.reference:.0f} "
            f"ratio={o.value / o.reference:.3f}",
            flush=True,
        )
        failed = failed or o.timed_out
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
