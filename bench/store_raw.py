"""Store create throughput against raw SQLite inserts with the same durability.

(a) raw: one connection, WAL, synchronous=FULL, one INSERT and one COMMIT per
    row of ~400 bytes, as fast as possible (the reference);
(b) store: SqliteStore.create() from 16 concurrent asyncio tasks, rows of the
    same size (group commit shares one fsync among the waiting writes).

Prints both rates and the ratio store/raw (goal >= 0.5).

    .venv/bin/python bench/store_raw.py [--seconds 3] [--writers 16] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from kubelite.storage.sqlite import PRAGMAS, SCHEMA, SqliteStore

VALUE = b"v" * 400


def raw_inserts_per_second(path: Path, seconds: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.executescript(SCHEMA)
    n = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            n += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO log VALUES (?, ?, 1, 0, ?, 0, ?)", (n, f"/raw/{n:08d}", n, VALUE))
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


async def store_creates_per_second(
    path: Path, seconds: float, writers: int
) -> tuple[float, dict[str, float]]:
    store = SqliteStore(path)
    count = 0
    stop = False

    async def writer(w: int) -> None:
        nonlocal count
        i = 0
        while not stop:
            await store.create(f"/registry/pods/bench/w{w}-{i:08d}", VALUE)
            i += 1
            count += 1

    tasks = [asyncio.create_task(writer(w)) for w in range(writers)]
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    stats = store.stats()
    await store.close()
    return count / elapsed, stats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to put the databases (default: a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw = raw_inserts_per_second(Path(tmp) / "raw.db", args.seconds)
        rate, stats = asyncio.run(
            store_creates_per_second(Path(tmp) / "store.db", args.seconds, args.writers)
        )
    print(f"raw sqlite inserts (WAL, synchronous=FULL, 1 commit/insert): {raw:10.0f} /s")
    print(
        f"store.create, {args.writers} concurrent tasks:                  {rate:10.0f} /s"
        f"  (mean batch {stats['write_batch_size_mean']:.1f} writes/commit)"
    )
    print(f"ratio store/raw: {rate / raw:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
