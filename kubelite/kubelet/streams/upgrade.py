"""Taking over an aiohttp server connection after ``101 Switching Protocols``.

aiohttp upgrades only to WebSocket on its own; a SPDY/3.1 upgrade needs the
raw connection. ``RawConnection.accept`` answers 101 with the given headers
and then installs itself as the connection's payload parser (the same hook
aiohttp's own WebSocket support uses), so every later byte from the client
arrives here instead of in the HTTP parser. Writes go through the
response's writer, which writes bytes as they are once the response is a 101
(no body framing). The handler keeps running for the whole session and
returns the prepared response at the end; aiohttp then closes the connection.

``ByteChannel`` is the small byte-stream protocol the SPDY session runs on; a
raw connection is one, and so is SPDY tunnelled through WebSocket messages
(``websocket.WebSocketByteChannel``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol, cast

from aiohttp import web

READ_HIGH_WATER = 1 << 20  # pause reading from the client beyond this much unconsumed input


class ByteChannel(Protocol):
    """A bidirectional byte stream."""

    async def read(self) -> bytes:
        """The next bytes; ``b""`` once the peer is gone."""
        ...

    async def write(self, data: bytes) -> None:
        """Send; silently drops data once the connection is gone."""
        ...

    async def close(self) -> None: ...


class RawConnection:
    """The client's connection after a non-WebSocket upgrade (see the module docstring)."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        self._buffer = bytearray()
        self._eof = False
        self._wake = asyncio.Event()
        self._paused = False
        self._closed = False

    @classmethod
    async def accept(cls, request: web.Request, headers: dict[str, str]) -> RawConnection:
        """Answer ``101`` with ``headers`` and take the connection over."""
        response = web.StreamResponse(status=101, headers={"Connection": "Upgrade", **headers})
        response.force_close()
        await response.prepare(request)
        conn = cls(request, response)
        protocol = request.protocol
        protocol.keep_alive(False)
        protocol.set_parser(cast(Any, _Feed(conn)))
        return conn

    # --- fed by aiohttp's protocol --------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        self._buffer += data
        self._wake.set()
        if not self._paused and len(self._buffer) > READ_HIGH_WATER:
            transport = self.request.transport
            if transport is not None:
                self._paused = True
                transport.pause_reading()

    def _feed_eof(self) -> None:
        self._eof = True
        self._wake.set()

    # --- ByteChannel ----------------------------------------------------------------------------
    async def read(self) -> bytes:
        while not self._buffer and not self._eof and not self._closed:
            self._wake.clear()
            await self._wake.wait()
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._paused:
            self._paused = False
            transport = self.request.transport
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if self._closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.response.write(data)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        transport = self.request.transport
        if transport is not None:
            transport.close()


class _Feed:
    """Quacks like aiohttp's payload parser: ``feed_data`` returns ``(eof, tail)``."""

    def __init__(self, conn: RawConnection) -> None:
        self._conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._conn._feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self._conn._feed_eof()
