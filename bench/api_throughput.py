"""API create throughput over HTTPS against raw SQLite inserts on the same disk (issue 2).

Starts ``kubelite server`` as a subprocess (its own interpreter, as in real
use) on a free loopback port with a fresh temp data dir, then 16 concurrent
clients (aiohttp, admin client certificate, one keep-alive connection each)
create 5000 ConfigMaps (~350 bytes of JSON each) in a fresh namespace as fast
as they can. Each request's latency is recorded; afterwards a paginated list
checks that all of them exist. The server is stopped, and the size of the rows
it stored for those ConfigMaps is read from its database.

The reference: raw SQLite inserts with rows of that same size, the same
journal_mode/synchronous settings as the store (``PRAGMAS``), one commit per
insert, in a temp file next to the server's data dir (same disk), measured
for 3 s just before the creates (row size from a dry-run create) and again
just after (row size read from the server's database); the reference is the
mean of the two, since fsync speed drifts on a shared disk.

Ends with ``RESULT name=api_create value=<creates/s> unit=ops/s
reference=<raw inserts/s> ratio=<value/reference>``. Goal: ratio >= 0.5 and
p99 <= 50 ms. Gives up after 5 minutes.

    .venv/bin/python bench/api_throughput.py [--count 5000] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from kubelite.api.resources import Registry
from kubelite.apiserver.auth.certs import PKI
from kubelite.storage.sqlite import PRAGMAS, SCHEMA

TIME_LIMIT = 300.0  # seconds for the whole run
STARTUP_LIMIT = 60.0
RAW_SECONDS = 3.0
NAMESPACE = "bench-api-throughput"
LIST_PAGE = 1000


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


# --- the server subprocess --------------------------------------------------------------------------


def kubelite_command() -> list[str]:
    """The ``kubelite`` console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "kubelite"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kubelite.cli.main"]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    url: str = ""

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(data_dir: Path, log_path: Path) -> Server:
    # --port 0: the server picks a free port itself (no race), and the URL it
    # writes into the kubeconfig says which.
    cmd = [*kubelite_command(), "server", "--data-dir", str(data_dir), "--port", "0"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    return Server(process, data_dir, log_path)


async def wait_ready(server: Server, deadline: float) -> None:
    """Wait for the kubeconfig (which names the port) and then for /readyz to say ok."""
    kubeconfig = server.data_dir / "kubeconfig.yaml"
    while not server.url:
        if server.process.poll() is not None:
            raise BenchError(
                f"kubelite server exited with status {server.process.returncode}:\n{server.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise BenchError(f"kubelite server wrote no kubeconfig in time:\n{server.log_tail()}")
        if kubeconfig.exists():
            m = re.search(r"^\s*server:\s*(\S+)\s*$", kubeconfig.read_text(), re.MULTILINE)
            if m:
                server.url = m.group(1).strip("'\"")
                break
        await asyncio.sleep(0.05)
    ssl_context = PKI.at(server.data_dir / "pki").client_ssl_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{server.url}/readyz") as resp:
                    if resp.status == 200:
                        return
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"kubelite server not ready at {server.url}:\n{server.log_tail()}")
            await asyncio.sleep(0.05)


# --- the clients -----------------------------------------------------------------------------------


def config_map_body(i: int) -> bytes:
    """A ConfigMap of ~390 bytes of JSON with a few data keys."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"cm-{i:06d}",
                "namespace": NAMESPACE,
                "labels": {"app": "bench", "shard": f"s{i % 16:02d}"},
            },
            "data": {
                "app.properties": "mode=fast\nretries=3\ntimeout=30s\nregion=eu-west-1\n",
                "endpoint": f"https://backend-{i:06d}.example.internal:8443/v1",
                "feature-flags": "alpha=false,beta=true,gamma=false,delta=true",
                "owner": "team-platform@example.com",
            },
        }
    )


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, one per successful create
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    raw_before: float = 0.0  # raw sqlite inserts/s measured just before the creates
    dry_run_value_len: int = 0  # the size of a stored ConfigMap, as a dry-run create answers it
    batch_mean: float | None = None  # the store's mean writes per commit (group commit), from /metrics
    server_cpu: float | None = None  # CPU seconds the server process used while creating
    client_cpu: float = 0.0  # CPU seconds this (client) process used while creating


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads) from /proc; None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_clients(url: str, ssl_context: object, count: int, clients: int, server_pid: int) -> Outcome:
    outcome = Outcome()
    post_url = f"{url}/api/v1/namespaces/{NAMESPACE}/configmaps"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    bodies = [config_map_body(i) for i in range(count)]
    next_index = 0
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context, limit=1, force_close=False),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        for _ in range(clients)
    ]
    try:
        # Open every connection (TCP + TLS handshake) before the clock starts.
        for session in sessions:
            async with session.get(f"{url}/api/v1/namespaces/{NAMESPACE}") as resp:
                await resp.read()
                if resp.status != 200:
                    raise BenchError(f"namespace {NAMESPACE}: GET answered {resp.status}")

        async def client(session: aiohttp.ClientSession) -> None:
            nonlocal next_index
            while next_index < count and len(outcome.failures) < 10:
                body = bodies[next_index]
                next_index += 1
                t0 = time.perf_counter()
                async with session.post(post_url, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    status = resp.status
                dt = time.perf_counter() - t0
                if status == 201:
                    outcome.latencies.append(dt)
                else:
                    outcome.failures.append(f"{status}: {payload[:300]!r}")

        server_cpu = process_cpu_seconds(server_pid)
        client_cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(client(s) for s in sessions))
        outcome.elapsed = time.perf_counter() - started
        outcome.client_cpu = time.process_time() - client_cpu
        server_cpu_after = process_cpu_seconds(server_pid)
        if server_cpu is not None and server_cpu_after is not None:
            outcome.server_cpu = server_cpu_after - server_cpu
    finally:
        for session in sessions:
            await session.close()
    return outcome


async def create_namespace(session: aiohttp.ClientSession, url: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    async with session.post(f"{url}/api/v1/namespaces", json=body) as resp:
        text = await resp.text()
        if resp.status != 201:
            raise BenchError(f"creating namespace {NAMESPACE}: {resp.status} {text[:300]}")


async def listed_names(session: aiohttp.ClientSession, url: str) -> set[str]:
    """All ConfigMap names in the namespace, by pages of ``LIST_PAGE``."""
    names: set[str] = set()
    token = ""
    while True:
        params = {"limit": str(LIST_PAGE)}
        if token:
            params["continue"] = token
        async with session.get(f"{url}/api/v1/namespaces/{NAMESPACE}/configmaps", params=params) as resp:
            if resp.status != 200:
                raise BenchError(f"list configmaps: {resp.status} {(await resp.text())[:300]}")
            doc = await resp.json()
        items = doc.get("items") or []
        if len(items) > LIST_PAGE:
            raise BenchError(f"list with limit={LIST_PAGE} returned {len(items)} items")
        names.update(item["metadata"]["name"] for item in items)
        token = (doc.get("metadata") or {}).get("continue") or ""
        if not token:
            return names


async def api_phase(server: Server, count: int, clients: int) -> Outcome:
    ssl_context = PKI.at(server.data_dir / "pki").client_ssl_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context)) as session:
        await create_namespace(session, server.url)
        # A dry-run create answers the bytes it would store: rows of that size for the raw rate.
        async with session.post(
            f"{server.url}/api/v1/namespaces/{NAMESPACE}/configmaps",
            params={"dryRun": "All"},
            data=config_map_body(0),
            headers={"Content-Type": "application/json"},
        ) as resp:
            sample = await resp.read()
            if resp.status != 201:
                raise BenchError(f"dry-run create: {resp.status} {sample[:300]!r}")
        key_len = len(Registry().get("", "v1", "configmaps").key(NAMESPACE, "cm-000000"))
        raw_before = await asyncio.to_thread(
            raw_inserts_per_second,
            server.data_dir.parent / "raw-before.db",
            key_len,
            len(sample),
            RAW_SECONDS,
        )
        outcome = await run_clients(server.url, ssl_context, count, clients, server.process.pid)
        outcome.raw_before = raw_before
        outcome.dry_run_value_len = len(sample)
        if outcome.failures:
            raise BenchError(
                f"{len(outcome.failures)} creates failed, the first: {outcome.failures[0]}\n{server.log_tail()}"
            )
        names = await listed_names(session, server.url)
        async with session.get(f"{server.url}/metrics") as resp:
            metrics = await resp.text() if resp.status == 200 else ""
    m = re.search(r'^kubelite_storage\{stat="write_batch_size_mean"\} (\S+)$', metrics, re.MULTILINE)
    if m:
        outcome.batch_mean = float(m.group(1))
    want = {f"cm-{i:06d}" for i in range(count)}
    if names != want:
        raise BenchError(
            f"list found {len(names)} ConfigMaps, expected {count}: "
            f"{len(want - names)} missing, {len(names - want)} unexpected"
        )
    return outcome


# --- the raw SQLite reference ------------------------------------------------------------------------


def stored_row_size(db_path: Path) -> tuple[int, int, int]:
    """(rows, mean key length, mean value length) of the ConfigMaps the server stored."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows, key_len, value_len = conn.execute(
            "SELECT COUNT(*), AVG(LENGTH(name)), AVG(LENGTH(value)) FROM log "
            "WHERE created = 1 AND name LIKE ?",
            (f"%/configmaps/{NAMESPACE}/%",),
        ).fetchone()
    finally:
        conn.close()
    if not rows:
        raise BenchError(f"no ConfigMap rows found in {db_path}")
    return int(rows), round(key_len), round(value_len)


def raw_inserts_per_second(path: Path, key_len: int, value_len: int, seconds: float) -> float:
    """Single-row INSERT + COMMIT, as fast as possible, with the store's schema and PRAGMAS.

    Like ``bench/store_raw.py``'s measurement, but with the key and value
    sizes of the rows the API server actually wrote.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.executescript(SCHEMA)
        value = b"v" * value_len
        prefix = "/raw/"
        width = max(key_len - len(prefix), 8)
        n = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for _ in range(20):
                n += 1
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO log VALUES (?, ?, 1, 0, ?, 0, ?)", (n, f"{prefix}{n:0{width}d}", n, value)
                )
                conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return n / elapsed


# --- main --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def run(count: int, clients: int) -> int:
    deadline = time.monotonic() + TIME_LIMIT
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-bench-api-"))
    data_dir = tmp / "data"
    server = start_server(data_dir, tmp / "server.log")
    try:

        async def serve_and_measure() -> Outcome:
            await wait_ready(server, min(deadline, time.monotonic() + STARTUP_LIMIT))
            return await api_phase(server, count, clients)

        try:
            outcome = asyncio.run(
                asyncio.wait_for(serve_and_measure(), timeout=max(deadline - time.monotonic(), 1.0))
            )
        except TimeoutError:
            raise BenchError(
                f"gave up after {TIME_LIMIT:.0f} s (server at {server.url or '?'}):\n{server.log_tail()}"
            ) from None
        status = server.stop()
        if status not in (0, None):
            print(f"warning: kubelite server exited with status {status}", file=sys.stderr)

        lat = sorted(outcome.latencies)
        rate = count / outcome.elapsed
        print(f"kubelite server (subprocess) at {server.url}, data dir on {tmp}")
        print(
            f"api create: {count} ConfigMaps, {clients} clients over HTTPS: "
            f"{outcome.elapsed:.2f} s, {rate:.0f} creates/s"
        )
        print(
            f"latency: p50 {percentile(lat, 50) * 1e3:.1f} ms, p99 {percentile(lat, 99) * 1e3:.1f} ms, "
            f"max {lat[-1] * 1e3:.1f} ms (goal p99 <= 50 ms)"
        )
        if outcome.server_cpu is not None:
            print(
                f"cpu while creating: server {outcome.server_cpu / count * 1e3:.3f} ms/create "
                f"({outcome.server_cpu / outcome.elapsed:.2f} cores), client "
                f"{outcome.client_cpu / count * 1e3:.3f} ms/create ({outcome.client_cpu / outcome.elapsed:.2f} cores), "
                f"{os.cpu_count()} cpus"
            )
        if outcome.batch_mean is not None:
            print(f"store group commit: {outcome.batch_mean:.1f} writes per commit on average")
        print(f"verified: list (limit={LIST_PAGE}, paginated) returned all {count} ConfigMaps")

        rows, key_len, value_len = stored_row_size(data_dir / "db" / "state.db")
        seconds = min(RAW_SECONDS, max(deadline - time.monotonic() - 5, 0.5))
        raw_after = raw_inserts_per_second(tmp / "raw-after.db", key_len, value_len, seconds)
        raw = (outcome.raw_before + raw_after) / 2
        print(
            f"raw sqlite inserts (WAL, synchronous=FULL, 1 commit/insert, key {key_len} B, "
            f"value {value_len} B as stored for {rows} ConfigMaps, same disk): "
            f"{outcome.raw_before:.0f} /s before (value {outcome.dry_run_value_len} B from a dry run), "
            f"{raw_after:.0f} /s after, mean {raw:.0f} /s"
        )
        ratio = rate / raw
        print(f"ratio api/raw: {ratio:.2f} (goal >= 0.5)")
        print(f"RESULT name=api_create value={rate:.1f} unit=ops/s reference={raw:.1f} ratio={ratio:.3f}")
        return 0
    except BenchError as e:
        print(f"api_throughput: {e}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000, help="ConfigMaps to create (default 5000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    args = parser.parse_args()
    if args.count < 1 or args.clients < 1:
        parser.error("--count and --clients must be >= 1")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run(args.count, args.clients))


if __name__ == "__main__":
    main()
