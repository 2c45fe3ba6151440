"""A lean HTTP/1.1 transport for the client's plain requests.

aiohttp's client spends some 100 µs of Python per request (URL objects,
header multidicts, tracing hooks, timers, a response object with its own
stream); a component that writes hundreds of small objects a second (the
scheduler's bindings and events) spends much of its time there. ``LeanPool``
sends a request as one buffer on a kept-alive connection and parses the
answer (Content-Length or chunked) in a small protocol object, nothing more.

It serves ``Client.request`` only: streams (watches, logs) stay on aiohttp.
Failures surface as aiohttp's exception types (``ClientOSError`` when a
connection cannot be made, ``ServerDisconnectedError`` when one ends before
the answer), so callers catching ``aiohttp.ClientError``/``OSError`` need no
change. A request is never re-sent: an idle connection the server may be
about to close (older than ``IDLE_SECONDS``) is not reused.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

IDLE_SECONDS = 30.0  # kept-alive connections idle longer are closed, not reused (aiohttp server: 75 s)
MAX_IDLE = 32
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_CHUNKED = -1  # body lengths in _Connection._head
_UNTIL_CLOSE = -2


class _Answer:
    __slots__ = ("body", "reason", "status")

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.body = body


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: a request at a time, its answer parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0
        self._buf = bytearray()
        self._waiter: asyncio.Future[_Answer] | None = None
        self._head: tuple[int, str, int, bool] | None = None  # status, reason, body length, close
        self._bodiless = False  # the answer to a HEAD request has no body whatever its headers say

    # --------------------------------------------------------------- protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        head = self._head
        if waiter is not None and not waiter.done() and head is not None and head[2] == _UNTIL_CLOSE:
            waiter.set_result(
                _Answer(head[0], head[1], bytes(self._buf))
            )  # the body ends with the connection
            self._buf.clear()
            return
        if waiter is not None and not waiter.done():
            err = aiohttp.ServerDisconnectedError("the API server closed the connection before answering")
            if exc is not None:
                err.__cause__ = exc
            waiter.set_exception(err)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._waiter is not None:
            try:
                self._parse()
            except ValueError as e:
                self.keep_alive = False
                waiter, self._waiter = self._waiter, None
                if not waiter.done():
                    waiter.set_exception(aiohttp.ClientPayloadError(f"malformed answer: {e}"))
                self.close()

    def eof_received(self) -> bool | None:
        self.keep_alive = False
        return None

    # ---------------------------------------------------------------- request

    def send(self, data: bytes, loop: asyncio.AbstractEventLoop, bodiless: bool) -> asyncio.Future[_Answer]:
        assert self.transport is not None
        self._head = None
        self._bodiless = bodiless
        self._waiter = loop.create_future()
        self.transport.write(data)
        if self._buf:
            self._parse()
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def has_leftover(self) -> bool:
        """Bytes arrived that answer nothing asked: the connection is not to be trusted."""
        return bool(self._buf)

    def _parse(self) -> None:
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 1 << 16:
                    raise ValueError("answer headers too long")
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[: end + 4]
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ValueError(f"malformed status line {lines[0]!r}")
            status = int(parts[1])
            reason = parts[2] if len(parts) > 2 else ""
            length = _UNTIL_CLOSE  # neither Content-Length nor chunked: the body runs to the end
            chunked = False
            close = parts[0] == "HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "transfer-encoding":
                    chunked = "chunked" in value.lower()
                elif name == "connection":
                    v = value.strip().lower()
                    close = v == "close" or (close and v != "keep-alive")
            if self._bodiless or status in (204, 304) or 100 <= status < 200:
                length, chunked = 0, False
            if chunked:
                length = _CHUNKED
            if length == _UNTIL_CLOSE:
                close = True
            if close:
                self.keep_alive = False
            self._head = (status, reason, length, close)
        status, reason, length, _ = self._head
        if length == _UNTIL_CLOSE:
            return  # answered when the connection ends (connection_lost)
        if length >= 0:
            if len(buf) < length:
                return
            body = bytes(buf[:length])
            del buf[:length]
        else:
            parsed = _dechunk(buf)
            if parsed is None:
                return
            body, used = parsed
            del buf[:used]
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(_Answer(status, reason, body))


def _dechunk(buf: bytearray) -> tuple[bytes, int] | None:
    """A complete chunked body at the start of ``buf`` and the bytes it took; None if incomplete."""
    out = bytearray()
    pos = 0
    while True:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None
        size = int(bytes(buf[pos:nl]).split(b";", 1)[0].strip() or b"0", 16)
        pos = nl + 2
        if size == 0:
            # Trailers (none expected) end with an empty line.
            while True:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    return None
                if nl == pos:
                    return bytes(out), nl + 2
                pos = nl + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


class LeanPool:
    """Kept-alive connections to one server, and requests over them."""

    def __init__(self, base_url: str, ssl: Any, headers: Mapping[str, str], limit: int = 100) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"lean HTTP needs an http(s) URL, not {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        host_header = parts.netloc.rpartition("@")[2]
        fixed = {"Host": host_header, **headers}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._ssl = _ssl_context(ssl) if self.tls else None
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._slots = asyncio.Semaphore(limit)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        data: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> tuple[int, str, bytes]:
        target = quote(self.prefix + path, safe=_PATH_SAFE)
        if params:
            target += "?" + urlencode(params)
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed}"
        for k, v in headers.items():
            head += f"{k}: {v}\r\n"
        if data is not None or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(data) if data is not None else 0}\r\n"
        message = head.encode("latin-1") + b"\r\n" + (data or b"")
        loop = asyncio.get_running_loop()
        async with self._slots:
            deadline = loop.time() + timeout
            conn = self._reusable()
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connect(loop)
            try:
                waiter = conn.send(message, loop, method == "HEAD")
                # A timer that fails the answer, not asyncio.timeout: that costs twice as much
                # (a context object, the task's cancellation and its undoing), per request.
                timer = loop.call_at(deadline, _expire, waiter)
                try:
                    answer = await waiter
                finally:
                    timer.cancel()
            except BaseException:
                conn.close()  # mid-request: the connection's state is unknown
                self._all.discard(conn)
                raise
            self._release(conn)
        return answer.status, answer.reason, answer.body

    def _reusable(self) -> _Connection | None:
        """An idle connection fit to send on, or None."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            transport = conn.transport
            if (
                conn.closed
                or conn.has_leftover()
                or transport is None
                or transport.is_closing()
                or now - conn.idle_since > IDLE_SECONDS
            ):
                conn.close()
                self._all.discard(conn)
                continue
            return conn
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        try:
            _, conn = await loop.create_connection(
                _Connection,
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl else None,
            )
        except OSError as e:
            raise aiohttp.ClientOSError(e.errno, f"cannot connect to {self.host}:{self.port}: {e}") from e
        self._all.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.closed or not conn.keep_alive or len(self._idle) >= MAX_IDLE:
            conn.close()
            self._all.discard(conn)
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()


def _expire(waiter: asyncio.Future[_Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _ssl_context(ssl: Any) -> ssl_module.SSLContext:
    """The TLS context for ``ssl`` as aiohttp reads it: a context, False (no verification), or default."""
    if isinstance(ssl, ssl_module.SSLContext):
        return ssl
    ctx = ssl_module.create_default_context()
    if ssl is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl_module.CERT_NONE
    return ctx
