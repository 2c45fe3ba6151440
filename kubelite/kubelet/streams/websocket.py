"""WebSocket streams: the channel protocols, and SPDY tunnelled through WebSocket.

Channel protocols (``v4.channel.k8s.io``, ``v5.channel.k8s.io``): every
binary message starts with its channel byte — 0 stdin, 1 stdout, 2 stderr,
3 error (the final ``Status`` JSON), 4 resize (``{"Width":..,"Height":..}``).
v5 adds a close signal: a message ``ff <channel>`` closes that channel (the
client sends ``ff 00`` when its stdin ends); under v4 stdin ends only with
the connection. The server ends a session by sending the status and closing
the WebSocket normally, which kubectl reads as the end of every stream.

Output waits for the client's first pong. client-go of kubectl 1.30 to 1.32
starts reading the connection in one goroutine and registers its
stdout/stderr readers in another, right after our 101; a frame that arrives
in between is dropped ("Unknown stream id 1, discarding message"; later
client-go registers them before it reads). A container runtime that takes
tens of milliseconds to start an exec hides that race; a quick one loses
``kubectl exec -- echo hi``'s whole output. So the server pings as soon as
the socket is open and holds output until the pong. The pong comes from the
reading goroutine, so it does not prove the readers registered, but it puts
a round trip between the 101 and the first frame where the registration
takes microseconds: the race narrows to a client stalled that long. A client
that never answers gets its output ``PONG_WAIT`` after it connected.

Tunnelled SPDY (subprotocol ``SPDY/3.1+portforward.k8s.io``, kubectl 1.31+
port-forward): the binary messages, concatenated, are a SPDY/3.1 byte stream
split at arbitrary points; ``WebSocketByteChannel`` turns them back into one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from kubelite.kubelet.runtime.interface import ExecSession
from kubelite.kubelet.streams.remotecommand import (
    ERROR,
    RESIZE,
    STDIN,
    V4,
    V5,
    ExecOptions,
    error_status,
    parse_sizes,
    run_session,
)

log = logging.getLogger(__name__)

EXEC_PROTOCOLS = (V5, V4)
TUNNEL_PREFIX = "SPDY/3.1+"
PORTFORWARD_TUNNEL = TUNNEL_PREFIX + "portforward.k8s.io"
CLOSE_SIGNAL = 0xFF
# How long after connecting output waits for a client that does not answer the opening ping.
PONG_WAIT = 1.0


def offered_protocols(request: web.Request) -> list[str]:
    """The client's ``Sec-WebSocket-Protocol`` values in its order (one header or several)."""
    out: list[str] = []
    for value in request.headers.getall("Sec-WebSocket-Protocol", []):
        out += [p.strip() for p in value.split(",") if p.strip()]
    return out


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def choose_protocol(offered: list[str], supported: tuple[str, ...]) -> str | None:
    for protocol in offered:
        if protocol in supported:
            return protocol
    return None


class WebSocketClientStreams:
    """``ClientStreams`` over a channel-protocol WebSocket."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.v5 = protocol == V5
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._sizes: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self._size_buf = bytearray()
        self._stdin_closed = False
        self._gone = asyncio.Event()
        self._ponged = asyncio.Event()
        self._hold_until = asyncio.get_running_loop().time() + PONG_WAIT
        self._lock = asyncio.Lock()

    @property
    def gone(self) -> asyncio.Event:
        return self._gone

    async def pump(self) -> None:
        """Ping, then read the client's messages until it closes; run this alongside the session.

        The socket is opened with ``autoping=False`` so that the pong reaches us; pings
        from the client are answered here instead."""
        try:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.ping(b"kubelite")
            async for msg in self.ws:
                if msg.type == WSMsgType.PING:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.ws.pong(msg.data)
                    continue
                if msg.type == WSMsgType.PONG:
                    self._ponged.set()
                    continue
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                data: bytes = msg.data
                channel, payload = data[0], data[1:]
                if channel == CLOSE_SIGNAL and self.v5:
                    if payload[:1] == bytes([STDIN]):
                        self._close_stdin()
                elif channel == STDIN and not self._stdin_closed and payload:
                    self._stdin.put_nowait(payload)
                elif channel == RESIZE:
                    self._size_buf += payload
                    for size in parse_sizes(self._size_buf):
                        self._sizes.put_nowait(size)
        finally:
            self._close_stdin()
            self._sizes.put_nowait(None)
            self._gone.set()
            self._ponged.set()

    def _close_stdin(self) -> None:
        if not self._stdin_closed:
            self._stdin_closed = True
            self._stdin.put_nowait(None)

    async def read_stdin(self) -> bytes:
        return await self._stdin.get() or b""

    async def read_resize(self) -> tuple[int, int] | None:
        return await self._sizes.get()

    async def write(self, stream: int, data: bytes) -> None:
        if not self._ponged.is_set():
            left = self._hold_until - asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ponged.wait(), max(0.0, left))
            self._ponged.set()  # waited once: a client that never answers is not held up again
        if self.ws.closed:
            return
        async with self._lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(bytes([stream]) + data)

    async def finish(self, status: dict[str, Any]) -> None:
        await self.write(ERROR, json.dumps(status).encode())
        with contextlib.suppress(Exception):
            await self.ws.close()


async def serve_exec(
    request: web.Request, opts: ExecOptions, start: Callable[[], Awaitable[ExecSession]]
) -> web.StreamResponse:
    """exec/attach over a channel-protocol WebSocket; 400 if no protocol is common."""
    protocol = choose_protocol(offered_protocols(request), EXEC_PROTOCOLS)
    if protocol is None:
        raise web.HTTPBadRequest(
            text=f"unable to upgrade: requested protocols {offered_protocols(request)} are not supported "
            f"(supported: {', '.join(EXEC_PROTOCOLS)})"
        )
    ws = web.WebSocketResponse(protocols=[protocol], max_msg_size=0, autoping=False)
    await ws.prepare(request)
    client = WebSocketClientStreams(ws, protocol)
    reader = asyncio.ensure_future(client.pump())
    try:
        try:
            session = await start()
        except Exception as e:
            await client.finish(error_status(str(e)))
            return ws
        await run_session(session, client, opts)
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
    return ws


class WebSocketByteChannel:
    """A ``ByteChannel`` over WebSocket binary messages (tunnelled SPDY)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            try:
                msg = await self.ws.receive()
            except (RuntimeError, ConnectionError):
                return b""
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def write(self, data: bytes) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
