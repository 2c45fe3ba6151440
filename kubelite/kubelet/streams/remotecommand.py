"""exec and attach: a runtime ``ExecSession`` driven from a client's streams.

Whatever the transport (WebSocket channels or SPDY streams), a session is
the same: the client's stdin goes to the process until the client closes it,
terminal sizes go to ``resize``, the process's stdout and stderr go back,
and at the end the error stream carries a ``Status``: ``Success``, or
``Failure`` with reason ``NonZeroExitCode`` and a cause ``ExitCode`` whose
message is the code (protocol v4 and later; kubectl exits with that code).

``ExecOptions.from_query`` reads both spellings of the stream flags: the
client-facing ``stdin/stdout/stderr=true`` of the pod subresources and the
kubelet's own ``input/output/error=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubelite.kubelet.runtime.interface import ExecSession
from kubelite.kubelet.streams.spdy import SpdyConnection, SpdyStream

log = logging.getLogger(__name__)

V1 = "channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
SPDY_PROTOCOLS = (V5, V4)  # what we answer to X-Stream-Protocol-Version, in preference order
STREAM_CREATION_TIMEOUT = 30.0

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}


def _flag(query: Mapping[str, str], *names: str) -> bool:
    return any(query.get(n, "").lower() in ("1", "true") for n in names)


@dataclass
class ExecOptions:
    command: list[str] = field(default_factory=list)
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False

    @classmethod
    def from_query(cls, query: Any) -> ExecOptions:
        opts = cls(
            command=list(query.getall("command", [])),
            stdin=_flag(query, "stdin", "input"),
            stdout=_flag(query, "stdout", "output"),
            stderr=_flag(query, "stderr", "error"),
            tty=_flag(query, "tty"),
        )
        if opts.tty:
            opts.stderr = False  # a terminal has one output stream
        return opts

    def expected_streams(self) -> set[int]:
        wanted = {ERROR}
        if self.stdin:
            wanted.add(STDIN)
        if self.stdout:
            wanted.add(STDOUT)
        if self.stderr:
            wanted.add(STDERR)
        if self.tty:
            wanted.add(RESIZE)
        return wanted


def exit_status(code: int, command: list[str] | None = None) -> dict[str, Any]:
    """The Status the error stream carries at the end."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    what = (
        f"error executing command [{' '.join(command)}], exit code {code}" if command else f"exit code {code}"
    )
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {what}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def error_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500}


def parse_sizes(buffer: bytearray) -> list[tuple[int, int]]:
    """Complete JSON terminal sizes (``{"Width":..,"Height":..}``) taken off the front of ``buffer``."""
    sizes = []
    decoder = json.JSONDecoder()
    text = buffer.decode("latin-1")  # one character per byte, so positions are byte offsets
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        if isinstance(obj, dict):
            sizes.append((int(obj.get("Width", 0) or 0), int(obj.get("Height", 0) or 0)))
    del buffer[:pos]
    return sizes


class ClientStreams(Protocol):
    """The client's side of a session, whatever the transport."""

    async def read_stdin(self) -> bytes:
        """Next stdin data; ``b""`` once the client closed stdin (or went)."""
        ...

    async def read_resize(self) -> tuple[int, int] | None:
        """Next terminal size; None when there will be no more."""
        ...

    async def write(self, stream: int, data: bytes) -> None: ...

    async def finish(self, status: dict[str, Any]) -> None:
        """Send the status on the error stream and end the session."""
        ...

    @property
    def gone(self) -> asyncio.Event:
        """Set when the client disconnected."""
        ...


async def run_session(
    session: ExecSession, client: ClientStreams, opts: ExecOptions, kill_on_disconnect: bool = True
) -> int | None:
    """Pump one session to its end; returns the exit code (None if the client went first)."""

    async def stdin() -> None:
        while data := await client.read_stdin():
            await session.write_stdin(data)
        await session.close_stdin()

    async def resize() -> None:
        while (size := await client.read_resize()) is not None:
            with contextlib.suppress(Exception):
                await session.resize(*size)

    async def output() -> int:
        async for stream, data in session.output():
            if stream == STDERR and not opts.stderr:
                stream = STDOUT
            await client.write(stream, data)
        return await session.wait()

    helpers = []
    if opts.stdin:
        helpers.append(asyncio.ensure_future(stdin()))
    if opts.tty:
        helpers.append(asyncio.ensure_future(resize()))
    main = asyncio.ensure_future(output())
    gone = asyncio.ensure_future(client.gone.wait())
    try:
        await asyncio.wait({main, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not main.done():
            if kill_on_disconnect:
                with contextlib.suppress(Exception):
                    await session.kill()
            main.cancel()
            return None
        try:
            code = main.result()
        except Exception as e:
            log.warning("exec session failed: %s", e)
            await client.finish(error_status(str(e)))
            return None
        # An attach (no command) ends in Success whatever the container's exit code, as the
        # kubelet's does: a Failure would make ``kubectl run -i`` fall back to printing the logs.
        await client.finish(exit_status(code if opts.command else 0, opts.command))
        return code
    finally:
        for task in (*helpers, main, gone):
            task.cancel()
        for task in (*helpers, main, gone):
            with contextlib.suppress(BaseException):
                await task


# --- over SPDY ------------------------------------------------------------------------------------


class SpdyClientStreams:
    """``ClientStreams`` over the SPDY streams the client opened (``streamType`` header)."""

    def __init__(self, conn: SpdyConnection, streams: dict[int, SpdyStream]) -> None:
        self.conn = conn
        self.streams = streams
        self._sizes = bytearray()

    @property
    def gone(self) -> asyncio.Event:
        return self.conn.closed

    async def read_stdin(self) -> bytes:
        stream = self.streams.get(STDIN)
        return b"" if stream is None else await stream.read()

    async def read_resize(self) -> tuple[int, int] | None:
        stream = self.streams.get(RESIZE)
        if stream is None:
            return None
        pending: list[tuple[int, int]] = []
        while not pending:
            data = await stream.read()
            if not data:
                return None
            self._sizes += data
            pending = parse_sizes(self._sizes)
        return pending[-1]

    async def write(self, stream: int, data: bytes) -> None:
        target = self.streams.get(stream)
        if target is not None:
            await target.write(data)

    async def finish(self, status: dict[str, Any]) -> None:
        for kind in (STDOUT, STDERR):
            if kind in self.streams:
                await self.streams[kind].close()
        error = self.streams.get(ERROR)
        if error is not None:
            await error.write(json.dumps(status).encode())
            await error.close()
        await self.conn.close()


async def collect_spdy_streams(conn: SpdyConnection, opts: ExecOptions) -> dict[int, SpdyStream] | None:
    """Wait for the streams the options call for (error, stdin, stdout, stderr, resize)."""
    wanted = opts.expected_streams()
    streams: dict[int, SpdyStream] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_CREATION_TIMEOUT
    while not wanted <= streams.keys():
        stream = await conn.accept(max(0.0, deadline - loop.time()))
        if stream is None:
            return None
        kind = STREAM_TYPES.get(stream.header("streamType"))
        if kind is None:
            await stream.send_reset()
            continue
        streams[kind] = stream
    return streams


async def serve_spdy(
    conn: SpdyConnection, opts: ExecOptions, start: Callable[[], Awaitable[ExecSession]]
) -> int | None:
    """Run exec/attach on an upgraded SPDY connection (``conn.run()`` must be running)."""
    streams = await collect_spdy_streams(conn, opts)
    if streams is None:
        await conn.close()
        return None
    client = SpdyClientStreams(conn, streams)
    try:
        session = await start()
    except Exception as e:
        await client.finish(error_status(str(e)))
        return None
    return await run_session(session, client, opts)
