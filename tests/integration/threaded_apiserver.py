"""An API server on its own event loop in a background thread, for integration tests
(the ``api_server`` fixture, and tests that need one configured otherwise, e.g. with TLS)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.serverthread import ServerThread


@dataclass
class RunningServer:
    url: str
    server: APIServer
    loop: asyncio.AbstractEventLoop
    data_dir: Path

    def call(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        """Run a coroutine on the server's loop (e.g. to reach the store) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def start_server(config: ServerConfig) -> tuple[RunningServer, ServerThread]:
    """Start a server of ``config`` (give port=0 for a free one); RuntimeError if it does not."""
    thread = ServerThread(APIServer(config))
    if not thread.start(60):
        failure: BaseException | None = None
        try:
            thread.join(15)
        except BaseException as e:  # reported to the fixture
            failure = e
        raise RuntimeError(f"API server did not start: {failure!r}")
    return RunningServer(thread.url, thread.server, thread.loop, config.data_dir), thread


def stop_server(running: RunningServer, thread: ServerThread) -> None:
    thread.stop()
    thread.join(15)


@contextmanager
def tls_server_with_tokens(base: Path, tokens_csv: str) -> Iterator[tuple[RunningServer, ServerConfig]]:
    """An HTTPS server on a memory store under ``base`` whose token file holds ``tokens_csv``
    (lines ``token,user,uid,"group,..."``), stopped on leaving."""
    tokens = base / "tokens.csv"
    tokens.write_text(tokens_csv)
    config = ServerConfig(data_dir=base / "data", port=0, tls=True, token_file=tokens, store="memory")
    running, thread = start_server(config)
    try:
        yield running, config
    finally:
        stop_server(running, thread)
