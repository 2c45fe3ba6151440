"""port-forward: client streams to a TCP port on the pod's loopback.

Over SPDY (plain, or tunnelled through WebSocket) the client opens, per
forwarded connection, an ``error`` and a ``data`` stream carrying the same
``port`` and ``requestID`` headers. Once both are there we connect to
``127.0.0.1:<port>`` inside the pod's network namespace and copy both ways:
the client's FIN half-closes the socket, the pod's EOF becomes our FIN, and
the error stream is closed (empty) when the connection is done — or carries
a message if the connection could not be made, which kubectl prints.

Entering the network namespace: a socket belongs to the namespace it was
created in, whatever thread later uses it. ``connect_in_netns`` therefore
switches one worker thread into the pod's namespace with ``setns(2)`` just
long enough to create the socket, switches it back, and connects from the
event loop. That needs no helper process (``nsenter``) per connection and
no privileges beyond CAP_SYS_ADMIN the runc runtime has anyway. Pods without
their own namespace (host network, the process and fake runtimes) get
``netns=""``: a plain connection to the host's 127.0.0.1.

The older WebSocket port-forward protocol of other clients (the ``kubernetes``
Python client: channel protocol, ``?ports=80,443``, channels ``2i`` data and
``2i+1`` error for the i-th port, each channel's first message from the
server being the port number, 2 bytes little-endian) is served by
``serve_websocket_channels``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from kubelite.kubelet.streams.spdy import SpdyConnection, SpdyStream

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT = 10.0
PAIR_TIMEOUT = 30.0

Dialer = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _socket_in_netns(netns: str) -> socket.socket:
    """A TCP socket created inside ``netns`` (runs in a worker thread; see the module docstring)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(netns, os.O_RDONLY)
        try:
            _setns(target)
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                _setns(own)
        finally:
            os.close(target)
    finally:
        os.close(own)


async def connect_in_netns(netns: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``127.0.0.1:port`` in the network namespace at ``netns`` ("" = the host's)."""
    if not netns:
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT)
    sock = await asyncio.to_thread(_socket_in_netns, netns)
    try:
        sock.setblocking(False)
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), CONNECT_TIMEOUT
        )
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


def dialer_for(netns: str) -> Dialer:
    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await connect_in_netns(netns, port)

    return dial


def _port(text: str) -> int | None:
    try:
        port = int(text)
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def forward_pair(data: SpdyStream, error: SpdyStream, dial: Dialer, pod: str) -> None:
    """One forwarded connection (see the module docstring)."""
    port = _port(data.header("port"))
    try:
        if port is None:
            raise ValueError(f'invalid port "{data.header("port")}"')
        reader, writer = await dial(port)
    except (OSError, ValueError, TimeoutError) as e:
        message = f"error forwarding port {port} to pod {pod}: {e or type(e).__name__}"
        log.info("port-forward: %s", message)
        await error.write(message.encode())
        await error.close()
        await data.close()
        return

    async def upstream() -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if not data.reset and writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()

    async def downstream() -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                await data.write(chunk)
        await data.close()

    up = asyncio.ensure_future(upstream())
    down = asyncio.ensure_future(downstream())
    try:
        with contextlib.suppress(OSError):
            await up
        if data.reset:
            down.cancel()
        with contextlib.suppress(BaseException):
            await down
    finally:
        up.cancel()
        down.cancel()
        await _close_writer(writer)
        await error.close()
        data.conn.forget(data)
        error.conn.forget(error)


async def serve_spdy(conn: SpdyConnection, dial: Dialer, pod: str) -> None:
    """Pair the client's streams by ``requestID`` and forward each pair until the session ends."""
    pending: dict[str, dict[str, SpdyStream]] = {}
    tasks: set[asyncio.Future[None]] = set()
    try:
        while (stream := await conn.accept()) is not None:
            kind = stream.header("streamType")
            if kind not in ("data", "error"):
                await stream.send_reset()
                continue
            key = stream.header("requestID") or stream.header("port")
            pair = pending.setdefault(key, {})
            pair[kind] = stream
            if len(pair) == 2:
                del pending[key]
                task = asyncio.ensure_future(forward_pair(pair["data"], pair["error"], dial, pod))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for running in list(tasks):
            running.cancel()
        for running in list(tasks):
            with contextlib.suppress(BaseException):
                await running
        await conn.close()


# --- the channel protocol over WebSocket (other clients) -------------------------------------------


async def serve_websocket_channels(
    ws: web.WebSocketResponse, ports: list[int], dial: Dialer, pod: str
) -> None:
    """One connection per requested port, channels ``2i`` (data) and ``2i+1`` (error)."""
    lock = asyncio.Lock()

    async def send(channel: int, payload: bytes) -> None:
        async with lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_bytes(bytes([channel]) + payload)

    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Future[None]] = []

    async def pump(index: int, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                await send(2 * index, chunk)

    for i, port in enumerate(ports):
        await send(2 * i, struct.pack("<H", port))
        await send(2 * i + 1, struct.pack("<H", port))
        try:
            reader, writer = await dial(port)
        except (OSError, TimeoutError) as e:
            await send(2 * i + 1, f"error forwarding port {port} to pod {pod}: {e}".encode())
            continue
        writers[i] = writer
        pumps.append(asyncio.ensure_future(pump(i, reader)))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            index = channel // 2
            if channel % 2 or index not in writers:
                continue
            writers[index].write(payload)
            with contextlib.suppress(OSError):
                await writers[index].drain()
    finally:
        for task in pumps:
            task.cancel()
        for writer in writers.values():
            await _close_writer(writer)
