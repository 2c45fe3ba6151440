"""SPDY/3.1: framing, header compression and a server-side session.

kubectl's streams before WebSocket (exec, attach) and port-forward in every
version ride on SPDY/3.1 (github.com/moby/spdystream on the client side).
Frames (draft-mbelshe-httpbis-spdy-00, SPDY/3 with 3.1's session window):

- control: ``1 | version(15) | type(16) | flags(8) | length(24) | payload``
- data: ``0 | stream-id(31) | flags(8) | length(24) | data``; flag 1 is FIN.

Name/value header blocks (``count(32)`` then ``len(32) name len(32) value``
pairs; several values of one name joined by NUL) are zlib-compressed, one
compression context per direction for the whole connection, with the
dictionary of the SPDY/3 specification (``HEADER_DICTIONARY``) and a sync
flush after each block.

The client opens every stream (SYN_STREAM, odd ids); the server answers each
with SYN_REPLY before sending data on it. spdystream ignores flow control
(WINDOW_UPDATE), so this session neither enforces nor sends windows. PINGs
are echoed; GOAWAY ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from dataclasses import dataclass, field

from kubelite.kubelet.streams.upgrade import ByteChannel

log = logging.getLogger(__name__)

VERSION = 3

# control frame types
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
CANCEL = 5
INTERNAL_ERROR = 6

MAX_DATA = 32 * 1024  # bytes per DATA frame we send


def _dictionary() -> bytes:
    """The zlib dictionary of SPDY/3 header compression, as its specification lays it out:
    common header names and values, each preceded by its 32-bit length, then a run of
    status codes, reason phrases, date pieces and media types as plain text."""
    words = (
        *"options head post put delete trace accept accept-charset accept-encoding accept-language".split(),
        *"accept-ranges age allow authorization cache-control connection content-base".split(),
        *"content-encoding content-language content-length content-location content-md5".split(),
        *"content-range content-type date etag expect expires from host if-match".split(),
        *"if-modified-since if-none-match if-range if-unmodified-since last-modified".split(),
        *"location max-forwards pragma proxy-authenticate proxy-authorization range referer".split(),
        *"retry-after server te trailer transfer-encoding upgrade user-agent vary via warning".split(),
        *"www-authenticate method get status".split(),
        "200 OK",
        *"version HTTP/1.1 url public set-cookie keep-alive origin".split(),
    )
    out = bytearray()
    for text in words:
        word = text.encode()
        out += struct.pack("!I", len(word)) + word
    codes = "100 101 201 202 205 206 300 302 303 304 305 306 307 402 405 406 407 408 409 410 411 412 413 414 415 416 417 502 504 505"
    out += "".join(codes.split()).encode()
    reasons = (
        "203 Non-Authoritative Information",
        "204 No Content",
        "301 Moved Permanently",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "500 Internal Server Error",
        "501 Not Implemented",
        "503 Service Unavailable",
    )
    out += "".join(reasons).encode()
    out += b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    out += b"Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    media = "chunked text/html image/png image/jpg image/gif application/xml application/xhtml+xml text/plain text/javascript publicprivatemax-age=gzip deflate sdchcharset=utf-8charset=iso-8859-1 utf- * enq=0."
    out += ",".join(media.split()).encode()
    return bytes(out)


HEADER_DICTIONARY = _dictionary()


class SpdyError(Exception):
    """The peer broke the protocol."""


# --- header blocks --------------------------------------------------------------------------------


def encode_header_block(headers: dict[str, str | list[str]]) -> bytes:
    """Uncompressed name/value block; names are lower-cased as SPDY requires."""
    out = bytearray(struct.pack("!I", len(headers)))
    for name, value in headers.items():
        raw_name = name.lower().encode()
        values = value if isinstance(value, list) else [value]
        raw_value = b"\x00".join(v.encode() for v in values)
        out += struct.pack("!I", len(raw_name)) + raw_name + struct.pack("!I", len(raw_value)) + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> dict[str, list[str]]:
    try:
        (count,) = struct.unpack_from("!I", block, 0)
        pos = 4
        headers: dict[str, list[str]] = {}
        for _ in range(count):
            (n,) = struct.unpack_from("!I", block, pos)
            name = block[pos + 4 : pos + 4 + n].decode("latin-1").lower()
            pos += 4 + n
            (n,) = struct.unpack_from("!I", block, pos)
            value = block[pos + 4 : pos + 4 + n].decode("latin-1")
            pos += 4 + n
            headers.setdefault(name, []).extend(value.split("\x00"))
    except struct.error:
        raise SpdyError("truncated header block") from None
    return headers


class HeaderCompressor:
    """The sending direction's zlib context (one per connection)."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zdict=HEADER_DICTIONARY)

    def compress(self, headers: dict[str, str | list[str]]) -> bytes:
        return self._z.compress(encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The receiving direction's zlib context (one per connection)."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=HEADER_DICTIONARY)

    def decompress(self, data: bytes) -> dict[str, list[str]]:
        try:
            return decode_header_block(self._z.decompress(data))
        except zlib.error as e:
            raise SpdyError(f"header block: {e}") from None


# --- frames ---------------------------------------------------------------------------------------


@dataclass
class Frame:
    """One frame. ``control`` frames have a ``type``; data frames have ``type`` 0."""

    control: bool
    type: int
    flags: int
    stream_id: int = 0
    payload: bytes = b""  # data, or the control frame's payload after the fixed fields
    headers: dict[str, list[str]] = field(default_factory=dict)
    value: int = 0  # PING id, RST/GOAWAY status, WINDOW_UPDATE delta

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


def control_frame(type_: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    return struct.pack("!II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


def syn_stream_frame(
    compressor: HeaderCompressor, stream_id: int, headers: dict[str, str | list[str]], fin: bool = False
) -> bytes:
    block = compressor.compress(headers)
    payload = struct.pack("!IIBB", stream_id, 0, 0, 0) + block
    return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, payload)


def syn_reply_frame(
    compressor: HeaderCompressor, stream_id: int, headers: dict[str, str | list[str]], fin: bool = False
) -> bytes:
    return control_frame(
        SYN_REPLY, FLAG_FIN if fin else 0, struct.pack("!I", stream_id) + compressor.compress(headers)
    )


def rst_stream_frame(stream_id: int, status: int) -> bytes:
    return control_frame(RST_STREAM, 0, struct.pack("!II", stream_id, status))


def ping_frame(ping_id: int) -> bytes:
    return control_frame(PING, 0, struct.pack("!I", ping_id))


def goaway_frame(last_stream_id: int, status: int = 0) -> bytes:
    return control_frame(GOAWAY, 0, struct.pack("!II", last_stream_id, status))


class FrameReader:
    """Splits a byte stream into frames; header blocks are decompressed in arrival order."""

    MAX_FRAME = 1 << 24

    def __init__(self) -> None:
        self._buf = bytearray()
        self._headers = HeaderDecompressor()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from("!II", self._buf, 0)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise SpdyError(f"unsupported SPDY version {version}")
                frames.append(self._control(first & 0xFFFF, flags, payload))
            else:
                frames.append(Frame(False, 0, flags, first & 0x7FFFFFFF, payload))
        return frames

    def _control(self, type_: int, flags: int, payload: bytes) -> Frame:
        frame = Frame(True, type_, flags)
        try:
            if type_ == SYN_STREAM:
                frame.stream_id = struct.unpack_from("!I", payload, 0)[0] & 0x7FFFFFFF
                frame.headers = self._headers.decompress(payload[10:])
            elif type_ in (SYN_REPLY, HEADERS):
                frame.stream_id = struct.unpack_from("!I", payload, 0)[0] & 0x7FFFFFFF
                frame.headers = self._headers.decompress(payload[4:])
            elif type_ in (RST_STREAM, WINDOW_UPDATE):
                sid, value = struct.unpack_from("!II", payload, 0)
                frame.stream_id, frame.value = sid & 0x7FFFFFFF, value & 0x7FFFFFFF
            elif type_ == PING:
                frame.value = struct.unpack_from("!I", payload, 0)[0]
            elif type_ == GOAWAY:
                sid, status = struct.unpack_from("!II", payload + b"\0\0\0\0", 0)
                frame.stream_id, frame.value = sid & 0x7FFFFFFF, status
            else:
                frame.payload = payload
        except struct.error:
            raise SpdyError(f"truncated control frame of type {type_}") from None
        return frame


# --- the session ----------------------------------------------------------------------------------


class SpdyStream:
    """One stream opened by the client. Read its data with ``read``; answer with ``reply``
    (done by ``SpdyConnection.accept``), then ``write`` and ``close`` (FIN)."""

    def __init__(self, conn: SpdyConnection, stream_id: int, headers: dict[str, list[str]]) -> None:
        self.conn = conn
        self.id = stream_id
        self.headers = headers
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False
        self.reset = False

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    async def read(self) -> bytes:
        """The next data from the client; ``b""`` after its FIN (or a reset, or the end)."""
        if self.remote_closed and self._inbox.empty():
            return b""
        item = await self._inbox.get()
        if item is None:
            self.remote_closed = True
            return b""
        return item

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset or not data:
            return
        for start in range(0, len(data), MAX_DATA):
            await self.conn._send(data_frame(self.id, data[start : start + MAX_DATA]))

    async def close(self) -> None:
        """Half-close: FIN from our side."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        await self.conn._send(data_frame(self.id, b"", fin=True))

    async def send_reset(self, status: int = CANCEL) -> None:
        if self.reset:
            return
        self._remote_end(reset=True)
        await self.conn._send(rst_stream_frame(self.id, status))

    def _remote_data(self, data: bytes) -> None:
        if not self.remote_closed and data:
            self._inbox.put_nowait(data)

    def _remote_end(self, reset: bool = False) -> None:
        if reset:
            self.reset = True
        if not getattr(self, "_ended", False):
            self._ended = True
            self._inbox.put_nowait(None)


class SpdyConnection:
    """The server side of one SPDY/3.1 connection over ``channel``.

    ``run()`` reads frames until the client goes (or sends GOAWAY); new streams
    are taken with ``accept()``. Closing sends GOAWAY and closes the channel.
    """

    def __init__(self, channel: ByteChannel) -> None:
        self.channel = channel
        self.streams: dict[int, SpdyStream] = {}
        self._incoming: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._reader = FrameReader()
        self._compressor = HeaderCompressor()
        self._write_lock = asyncio.Lock()
        self._last_stream = 0
        self.closed = asyncio.Event()  # the client is gone or the session was closed

    async def run(self) -> None:
        try:
            while not self.closed.is_set():
                data = await self.channel.read()
                if not data:
                    break
                for frame in self._reader.feed(data):
                    if not await self._handle(frame):
                        return
        except SpdyError as e:
            log.info("SPDY session: %s", e)
            with contextlib.suppress(Exception):
                await self._send(goaway_frame(self._last_stream, PROTOCOL_ERROR))
        finally:
            self._end()

    def _end(self) -> None:
        self.closed.set()
        for stream in self.streams.values():
            stream._remote_end()
        self._incoming.put_nowait(None)

    async def _handle(self, frame: Frame) -> bool:
        if not frame.control:
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return True
            stream._remote_data(frame.payload)
            if frame.fin:
                stream._remote_end()
            return True
        if frame.type == SYN_STREAM:
            if frame.stream_id in self.streams or frame.stream_id % 2 == 0:
                await self._send(rst_stream_frame(frame.stream_id, PROTOCOL_ERROR))
                return True
            self._last_stream = max(self._last_stream, frame.stream_id)
            stream = SpdyStream(self, frame.stream_id, frame.headers)
            self.streams[frame.stream_id] = stream
            if frame.fin:
                stream._remote_end()
            self._incoming.put_nowait(stream)
        elif frame.type == RST_STREAM:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._remote_end(reset=True)
        elif frame.type == HEADERS:
            stream = self.streams.get(frame.stream_id)
            if stream is not None and frame.fin:
                stream._remote_end()
        elif frame.type == PING:
            await self._send(ping_frame(frame.value))
        elif frame.type == GOAWAY:
            return False
        # SETTINGS, WINDOW_UPDATE and unknown control frames: nothing to do
        return True

    async def accept(self, timeout: float | None = None) -> SpdyStream | None:
        """The next stream the client opened, already answered with SYN_REPLY; None when
        the session ended (or ``timeout`` passed)."""
        try:
            stream = await asyncio.wait_for(self._incoming.get(), timeout)
        except TimeoutError:
            return None
        if stream is None:
            self._incoming.put_nowait(None)  # keep reporting the end
            return None
        async with self._write_lock:
            # compressed under the lock: header blocks must reach the client in compression order
            await self.channel.write(syn_reply_frame(self._compressor, stream.id, {}))
        return stream

    def forget(self, stream: SpdyStream) -> None:
        self.streams.pop(stream.id, None)

    async def _send(self, frame: bytes) -> None:
        async with self._write_lock:
            await self.channel.write(frame)

    async def close(self) -> None:
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await self._send(goaway_frame(self._last_stream))
        self.closed.set()
        self._incoming.put_nowait(None)
        await self.channel.close()
