"""An acknowledged write survives SIGKILL of the process that made it.

A child process opens the sqlite store and creates keys from many concurrent
writers, printing each key only after its create() returned. The test kills
it mid-stream, reopens the file and checks that every printed key is there
with its value. Two rounds on the same file also exercise reopening a store
that was killed and writing on after it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from kubelite.storage.sqlite import SqliteStore

CHILD = r"""
import asyncio, sys
from kubelite.storage.sqlite import SqliteStore

async def main(path, tag):
    store = SqliteStore(path)
    async def writer(w):
        i = 0
        while True:
            key = f"/d/{tag}/{w}/{i}"
            await store.create(key, f"{key}={'x' * 300}".encode())
            sys.stdout.write(key + "\n")
            sys.stdout.flush()
            i += 1
    await asyncio.gather(*(writer(w) for w in range(16)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def run_and_kill(path: Path, tag: str, acked_before_kill: int) -> list[str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(path), tag, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        async with asyncio.timeout(60):
            while len(acked) < acked_before_kill:
                line = await child.stdout.readline()
                assert line, "child exited early"
                acked.append(line.decode().strip())
    finally:
        child.send_signal(signal.SIGKILL)
    # Everything the child printed before it died was acknowledged too.
    rest = await child.stdout.read()
    acked += rest.decode().split("\n")[:-1]  # only complete lines
    assert await child.wait() == -signal.SIGKILL
    return acked


async def test_acknowledged_creates_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    acked: list[str] = []
    for tag in ("one", "two"):
        acked += await run_and_kill(path, tag, acked_before_kill=400)
        store = SqliteStore(path)
        try:
            missing = []
            for key in acked:
                kv = await store.get(key)
                if kv is None or kv.value != f"{key}={'x' * 300}".encode():
                    missing.append(key)
            assert not missing, f"{len(missing)} acknowledged keys lost, e.g. {missing[:5]}"
            assert await store.count("/d/") >= len(acked)
            assert await store.current_revision() >= len(acked)
        finally:
            await store.close()
