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

A pool may pipeline (``LeanPool(pipeline=n)``, ``Client(lean_pipeline=n)``):
up to n requests in flight on one connection, those of one turn of the loop
written together. Over loopback a write costs ~25 us of system time, most of
it waking the receiving thread; the scheduler's bindings and events, a few
per turn, then share writes (and the server's reads).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import time
from collections import deque
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
    """One HTTP/1.1 connection: requests sent in order, their answers parsed as bytes arrive
    and handed out in the same order (one request at a time, unless the pool pipelines)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0
        self._buf = bytearray()
        # The requests sent and not yet answered, oldest first: (answer, whether it is bodiless:
        # the answer to a HEAD request has no body whatever its headers say).
        self._pending: deque[tuple[asyncio.Future[_Answer], bool]] = deque()
        self._head: tuple[int, str, int, bool] | None = (
            None  # of the oldest: status, reason, body length, close
        )
        self._out: list[bytes] = []  # requests to write at the end of this turn of the loop (coalesce)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # --------------------------------------------------------------- protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending, self._pending = self._pending, deque()
        head = self._head
        if pending and head is not None and head[2] == _UNTIL_CLOSE:
            waiter, _ = pending.popleft()
            if not waiter.done():
                waiter.set_result(_Answer(head[0], head[1], bytes(self._buf)))  # the body ends here
            self._buf.clear()
        for waiter, _ in pending:
            if not waiter.done():
                err = aiohttp.ServerDisconnectedError("the API server closed the connection before answering")
                if exc is not None:
                    err.__cause__ = exc
                waiter.set_exception(err)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._pending:
            try:
                self._parse()
            except ValueError as e:
                self.keep_alive = False
                pending, self._pending = self._pending, deque()
                for waiter, _ in pending:
                    if not waiter.done():
                        waiter.set_exception(aiohttp.ClientPayloadError(f"malformed answer: {e}"))
                self.close()

    def eof_received(self) -> bool | None:
        self.keep_alive = False
        return None

    # ---------------------------------------------------------------- request

    def send(
        self, data: bytes, loop: asyncio.AbstractEventLoop, bodiless: bool, coalesce: bool = False
    ) -> asyncio.Future[_Answer]:
        """Send one request; its answer. ``coalesce``: write it with the other requests sent on
        this connection in the same turn of the loop, in one system call."""
        assert self.transport is not None
        waiter: asyncio.Future[_Answer] = loop.create_future()
        self._pending.append((waiter, bodiless))
        if coalesce:
            if not self._out:
                loop.call_soon(self._flush)
            self._out.append(data)
        else:
            self.transport.write(data)
        if self._buf and len(self._pending) == 1:
            self._parse()
        return waiter

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed and self.transport is not None:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def has_leftover(self) -> bool:
        """Bytes arrived that answer nothing asked: the connection is not to be trusted."""
        return bool(self._buf) and not self._pending

    def _parse(self) -> None:
        buf = self._buf
        while self._pending:
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
                if self._pending[0][1] or status in (204, 304) or 100 <= status < 200:
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
            self._head = None
            waiter, _ = self._pending.popleft()
            if not waiter.done():
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

    def __init__(
        self,
        base_url: str,
        ssl: Any,
        headers: Mapping[str, str],
        limit: int = 100,
        pipeline: int = 1,
        *,
        unix_socket: str | None = None,
    ) -> None:
        """``pipeline`` > 1: send up to that many requests on a connection before the first is
        answered (HTTP/1.1 pipelining; the server answers them in order), the requests of one
        turn of the loop in one write. Fewer writes and reads on both ends, for callers whose
        requests are independent: a request that fails mid-way (timeout, cancel) closes its
        connection, and the requests behind it on that connection fail too. ``unix_socket``:
        connect there (plain HTTP) rather than to the URL's host and port."""
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
        if unix_socket == "":
            raise ValueError("unix_socket: an empty path")  # not "no socket": that is None
        self.unix_socket = unix_socket
        self._ssl = _ssl_context(ssl) if self.tls and unix_socket is None else None
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._slots = asyncio.Semaphore(limit)
        self.pipeline = max(1, pipeline)
        self._open: list[_Connection] = []  # pipelining: the connections requests may join
        self._connecting: asyncio.Future[None] | None = None  # pipelining: a connection being made

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
            pipelined = self.pipeline > 1
            conn = self._joinable() if pipelined else self._reusable()
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await (self._connect_to_join(loop) if pipelined else self._connect(loop))
            try:
                waiter = conn.send(message, loop, method == "HEAD", pipelined)
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
                if pipelined and conn in self._open:
                    self._open.remove(conn)
                raise
            self._release(conn)
        return answer.status, answer.reason, answer.body

    async def _connect_to_join(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        """Pipelining: a connection with room, made one at a time: the requests that find none
        while one is being made wait for it, instead of each making its own."""
        while self._connecting is not None:
            await asyncio.shield(self._connecting)
            conn = self._joinable()
            if conn is not None:
                return conn
        made = self._connecting = loop.create_future()
        try:
            conn = await self._connect(loop)
            self._open.append(conn)
            return conn
        finally:
            self._connecting = None
            made.set_result(None)

    def _joinable(self) -> _Connection | None:
        """Pipelining: the first open connection with room for one more request (filling one
        connection before the next, so that a turn's requests share writes), or None."""
        now = time.monotonic()
        for conn in self._open:
            if conn.in_flight < self.pipeline and conn.keep_alive and not conn.closed:
                transport = conn.transport
                if transport is None or transport.is_closing() or conn.has_leftover():
                    continue
                if not conn.in_flight and now - conn.idle_since > IDLE_SECONDS:
                    continue  # the server may be closing it: _release drops it
                return conn
        return None

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
            if self.unix_socket is not None:
                _, conn = await loop.create_unix_connection(_Connection, self.unix_socket)
            else:
                _, conn = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                )
        except OSError as e:
            where = self.unix_socket or f"{self.host}:{self.port}"
            raise aiohttp.ClientOSError(e.errno, f"cannot connect to {where}: {e}") from e
        self._all.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if self.pipeline > 1:
            self._release_pipelined(conn)
            return
        if conn.closed or not conn.keep_alive or len(self._idle) >= MAX_IDLE:
            conn.close()
            self._all.discard(conn)
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _release_pipelined(self, conn: _Connection) -> None:
        if conn.in_flight:
            return  # others still wait on it
        now = time.monotonic()
        if conn.closed or not conn.keep_alive or conn.has_leftover():
            conn.close()
        else:
            conn.idle_since = now
        keep: list[_Connection] = []
        for c in self._open:  # also drop the connections idle too long or beyond MAX_IDLE idle ones
            if not c.closed and (
                c.in_flight or (now - c.idle_since <= IDLE_SECONDS and len(keep) < MAX_IDLE)
            ):
                keep.append(c)
            elif not c.in_flight:
                c.close()
                self._all.discard(c)
        self._open = keep

    def close(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        self._open.clear()


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
