"""Pod startup latency on one node under runc, against ``runc run`` of the same kind of bundle.

Starts a fresh ``kubelite up`` (as ``tests/e2e/run_acceptance.py`` does), waits for
its node, prints the idle RSS of the ``kubelite up`` process (no pods), then
creates ``--pods`` busybox pods (``sleep 3600``) with one ``kubectl create``
and watches them (``kubectl get pods -w``). A pod's startup is the time from
its creation (kubectl printing it created, as soon as the API server answered
its POST) to the watch event showing it ``Running``: Kubernetes' own pod
startup SLI (creation to Running as observed by a watch), here for a burst
of pods on one node, covering API, scheduler, node agent, sandbox + CNI and
runc. The same from the start of the ``kubectl create`` is printed too: the
burst's length. p50 and p99 over the pods, and the CPU spent per pod
until the last one runs: by the ``kubelite up`` process itself and (through a
cpuacct cgroup it is moved into) by the processes it starts: shims, runc,
CNI plugins; and what the whole machine was busy with meanwhile (``/proc/stat``:
the kernel's own threads and kubectl too), which says whether the burst was
bound by CPU.

Reference: ``runc run --detach`` of a busybox bundle (``runc spec``, rootfs a
plain directory with static busybox, ``sleep 1000``), median of ``--runs``
runs, in the same run of this script.

Ends with ``RESULT name=pod_startup_p99 value=<s> unit=s reference=<runc s>
ratio=<value/reference>``. Needs root, runc, busybox-static, CNI plugins,
kubectl and ``make busybox-image``; prints why and exits 0 otherwise. Leaves
nothing behind (``kubelite reset --node-network`` after the server stops).

    .venv/bin/python bench/pod_startup.py [--pods 30] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from serverproc import KubeliteServer, kubelite_command  # noqa: E402

from kubelite.kubelet.runtime.runc import find_static_busybox, runc_available  # noqa: E402


def missing() -> str | None:
    why = runc_available()
    if why is not None:
        return why
    if shutil.which("kubectl") is None:
        return "kubectl not on PATH"
    if not (REPO / ".build" / "busybox-oci.tar").is_file():
        return "no .build/busybox-oci.tar (make busybox-image)"
    if not os.path.exists("/usr/lib/cni/bridge"):
        return "no CNI plugins (apt-get install containernetworking-plugins)"
    return None


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int, thread: int = 0) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far, or of its thread ``thread``."""
    with open(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds so far of each of ``pid``'s live threads, summed by thread name (numbered
    pool threads such as ``asyncio_3`` count under their pool's name)."""
    found: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = "main" if int(tid) == pid else Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            used = cpu_seconds(pid, int(tid))
        except OSError:
            continue  # the thread ended meanwhile
        name = name.rstrip("0123456789").rstrip("_") or name
        found[name] = found.get(name, 0.0) + used
    return found


def machine_ticks() -> list[int]:
    """The machine's CPU time so far by kind (``/proc/stat``'s first line: user, nice, system,
    idle, iowait, irq, softirq, steal), in clock ticks."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def machine_use(before: list[int], after: list[int], seconds: float) -> str:
    """What the whole machine did between two ``machine_ticks``: every process (runc, its init,
    the CNI plugins, kubectl) and the kernel's own threads, not only the server's."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    busy = (total - d[3] - d[4]) / os.sysconf("SC_CLK_TCK")
    share = {kind: d[i] / total * 100 for i, kind in ((0, "user"), (2, "system"), (3, "idle"), (7, "steal"))}
    shown = ", ".join(f"{kind} {pct:.0f}%" for kind, pct in share.items())
    return f"{busy:.2f} CPU-s busy in {seconds:.2f} s on {os.cpu_count()} CPUs ({shown})"


def descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (children of any of its threads, recursively)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


class CpuGroup:
    """A cpuacct cgroup (v1) holding the server and so every process it starts (shims, runc,
    CNI plugins; containers move to their own cgroups, and with them runc's init, for the work
    it does before it runs the container's command): its usage less the server's own CPU is
    the subprocesses' CPU. Inactive (None figures) where there is no cpuacct hierarchy."""

    def __init__(self) -> None:
        root = Path("/sys/fs/cgroup/cpuacct")
        self.path = root / f"kubelite-bench-{os.getpid()}" if (root / "cgroup.procs").exists() else None

    def enter(self, pid: int) -> None:
        """Move ``pid`` and the processes it has started so far (the shim zygote) into the group."""
        if self.path is None:
            return
        try:
            self.path.mkdir(exist_ok=True)
            for member in [pid, *descendants(pid)]:
                (self.path / "cgroup.procs").write_text(str(member))
        except OSError:
            self.path = None

    def usage(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def remove(self) -> None:
        if self.path is None:
            return
        root = self.path.parent
        for _ in range(50):
            try:
                for pid in (self.path / "cgroup.procs").read_text().split():
                    (root / "cgroup.procs").write_text(pid)
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def runc_reference(runs: int) -> float:
    """Median seconds of ``runc run --detach`` of a busybox ``sleep 1000`` bundle."""
    base = tempfile.mkdtemp(prefix="kubelite-bench-podref-")
    try:
        bundle = Path(base) / "bundle"
        rootfs = bundle / "rootfs"
        for d in ("bin", "proc", "dev", "sys", "etc", "tmp"):
            (rootfs / d).mkdir(parents=True)
        busybox = find_static_busybox()
        assert busybox is not None
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        for name in ("sh", "sleep"):
            os.symlink("busybox", rootfs / "bin" / name)
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["sleep", "1000"]
        (bundle / "config.json").write_text(json.dumps(spec))
        root = Path(base) / "runc-root"
        times = []
        for i in range(runs + 1):  # one warm-up
            rid = f"kubelite-bench-ref-{os.getpid()}-{i}"
            t0 = time.perf_counter()
            subprocess.run(
                ["runc", "--root", str(root), "run", "--detach", "--bundle", str(bundle), rid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            elapsed = time.perf_counter() - t0
            subprocess.run(["runc", "--root", str(root), "delete", "--force", rid], check=True)
            if i:
                times.append(elapsed)
        return statistics.median(times)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def pods_manifest(count: int) -> str:
    items = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"start-{i:03d}", "labels": {"bench": "pod-startup"}},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sleep", "3600"],
                    }
                ],
            },
        }
        for i in range(count)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def create_pods(env: dict[str, str], ns: str, count: int) -> tuple[dict[str, float], str]:
    """One ``kubectl create`` of ``count`` pods; when each was created (kubectl prints a pod's
    line as soon as the API server has answered its POST), and kubectl's error if it failed."""
    created: dict[str, float] = {}
    proc = subprocess.Popen(
        ["kubectl", "-n", ns, "create", "-f", "-", "-o", "name"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(pods_manifest(count))
    proc.stdin.close()
    for line in proc.stdout:
        created.setdefault(line.strip().removeprefix("pod/"), time.perf_counter())
    error = proc.stderr.read()
    if proc.wait() != 0 or len(created) != count:
        return created, error or f"{len(created)} of {count} pods created"
    return created, ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench(
    count: int, runs: int, log_copy: str = "", verbose: int = 0, profile: str = "", perf: str = ""
) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-bench-pods-"))
    args = ["-" + "v" * verbose] if verbose else []
    server = KubeliteServer(tmp / "data", command="up", args=args, log_path=tmp / "server.log")
    spy: subprocess.Popen[bytes] | None = None
    perf_spy: subprocess.Popen[bytes] | None = None
    group = CpuGroup()
    try:
        server.start()
        home = tmp / "home"
        home.mkdir()
        env = server.env(home=home)

        def kubectl(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["kubectl", *args], env=env, input=input, capture_output=True, text=True)

        deadline = time.monotonic() + 60
        while kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=5s").returncode != 0:
            if time.monotonic() > deadline:
                print("pod_startup: the node did not become Ready", file=sys.stderr)
                return 1
        ns = "bench"
        kubectl("create", "namespace", ns)
        deadline = time.monotonic() + 30
        while "default" not in kubectl("-n", ns, "get", "serviceaccounts", "-o", "name").stdout:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(3)  # let the startup settle before sampling idle RSS
        assert server.process is not None
        idle = rss_kib(server.process.pid)
        print(f"idle RSS of kubelite up (no pods): {idle / 1024:.1f} MiB")

        running: dict[str, float] = {}
        done = threading.Event()
        watch = subprocess.Popen(
            [
                "kubectl",
                "-n",
                ns,
                "get",
                "pods",
                "-w",
                "-o",
                "jsonpath={.metadata.name} {.status.phase}{'\\n'}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def read() -> None:
            assert watch.stdout is not None
            for line in watch.stdout:
                name, _, phase = line.strip().partition(" ")
                if phase == "Running" and name not in running:
                    running[name] = time.perf_counter()
                    if len(running) >= count:
                        done.set()

        group.enter(server.process.pid)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1.0)  # the watch is established
        if profile:
            spy = subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--subprocesses",
                    "--gil",
                    "--threads",
                    "-r",
                    "200",
                    "-o",
                    profile,
                    "-f",
                    "raw",
                    "-p",
                    str(server.process.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attached
        if perf:
            # Every process on the machine (kubectl, runc, CNI plugins, the kernel's work too), by
            # command: ``perf report -i FILE --sort comm``.
            perf_spy = subprocess.Popen(
                ["perf", "record", "-a", "-g", "-F", "997", "-o", perf],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        pid = server.process.pid
        cpu0, group0, threads0 = cpu_seconds(pid), group.usage(), cpu_by_thread(pid)
        ticks0 = machine_ticks()
        t0 = time.perf_counter()
        if log_copy:
            print(
                f"pods created at {time.strftime('%H:%M:%S', time.localtime())}.{int(time.time() * 1000) % 1000:03d}"
            )
        created, create_error = create_pods(env, ns, count)
        create_seconds = time.perf_counter() - t0
        if create_error:
            print(f"pod_startup: kubectl create failed: {create_error}", file=sys.stderr)
            return 1
        finished = done.wait(300)
        cpu_main, threads1 = cpu_seconds(pid) - cpu0, cpu_by_thread(pid)
        ticks1, burst_seconds = machine_ticks(), time.perf_counter() - t0
        group1 = group.usage()
        cpu_sub = None if group0 is None or group1 is None else group1 - group0 - cpu_main
        for tool in (spy, perf_spy):
            if tool is not None:
                tool.send_signal(signal.SIGINT)
                tool.wait(30)
        watch.terminate()
        watch.wait(10)
        if not finished:
            print(f"pod_startup: only {len(running)} of {count} pods Running after 300 s", file=sys.stderr)
            return 1
        from_burst = [t - t0 for t in running.values()]
        latencies = [running[name] - created[name] for name in running]
        kubectl("-n", ns, "delete", "pods", "--all", "--wait=true", "--timeout=120s")
    finally:
        server.stop()
        if log_copy:
            shutil.copy(tmp / "server.log", log_copy)
        subprocess.run(
            [*kubelite_command(), "reset", "--data-dir", str(tmp / "data"), "--node-network"],
            capture_output=True,
        )
        group.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    reference = runc_reference(runs)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"{count} pods, each from its creation to Running (watch): p50 {p50:.2f} s, p99 {p99:.2f} s,"
        f" max {max(latencies):.2f} s"
    )
    print(
        f"from the start of the kubectl create (it took {create_seconds:.2f} s, the pods were created"
        f" between {min(created.values()) - t0:.2f} and {max(created.values()) - t0:.2f} s) to Running:"
        f" p50 {percentile(from_burst, 0.5):.2f} s, p99 {percentile(from_burst, 0.99):.2f} s,"
        f" the last at {max(from_burst):.2f} s"
    )
    # Threads that ended during the burst are missing from threads1; what they used is in cpu_main.
    by_thread = sorted(((v - threads0.get(k, 0.0), k) for k, v in threads1.items()), reverse=True)
    shown = ", ".join(f"{name} {used / count * 1000:.1f}" for used, name in by_thread if used > 0)
    per_pod = (
        f"CPU per pod until the last Running: kubelite up {cpu_main / count * 1000:.0f} ms ({shown or '-'})"
    )
    if cpu_sub is not None:
        per_pod += f", its subprocesses (shims, runc but its init, CNI) {cpu_sub / count * 1000:.0f} ms"
    print(per_pod)
    print(f"the whole machine until the last Running: {machine_use(ticks0, ticks1, burst_seconds)}")
    print(f"runc run --detach (same busybox bundle): median {reference * 1000:.1f} ms over {runs} runs")
    print(
        f"RESULT name=pod_startup_p99 value={p99:.3f} unit=s reference={reference:.4f} ratio={p99 / reference:.1f}"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=30, help="pods to start (default 30)")
    parser.add_argument("--runs", type=int, default=10, help="runc run reference runs (default 10)")
    parser.add_argument("--log", default="", help="keep the server's log in this file")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="kubelite up -v (-vv: more)")
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy record (raw, per thread, samples holding the GIL) of kubelite up and its "
        "Python subprocesses during the burst",
    )
    parser.add_argument(
        "--perf", default="", help="perf record -a (all processes) into this file during the burst"
    )
    args = parser.parse_args()
    why = missing()
    if why is not None:
        print(f"pod_startup: skipped: {why}")
        sys.exit(0)
    sys.exit(bench(args.pods, args.runs, args.log, args.verbose, args.profile, args.perf))


if __name__ == "__main__":
    main()
