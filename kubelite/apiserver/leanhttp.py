"""A lean HTTP/1.1 front for the API server's plain requests; aiohttp serves the rest.

Most of the API server's requests are small and alike: a create, a get, a
binding, a status update, each a JSON body with a Content-Length and an
answer of known length. aiohttp serves them through general machinery
(a parser feeding a payload stream, a request task, a response writer)
that cost about as much CPU per request as our own handling of a binding.
This protocol parses such requests itself, calls the same pipeline with a
small stand-in for aiohttp's request, and writes the answer in one send.

Everything else keeps aiohttp: watches and other streams, upgrades (exec,
attach, port-forward), the pod proxy, non-resource paths (discovery,
health, metrics), ``Expect``, chunked or oversized bodies, HTTP/1.0, HEAD,
escaped paths, non-ASCII heads and anything else this parser does not
understand. At the first such request the connection is handed, with the
bytes not yet consumed, to an aiohttp ``RequestHandler`` for the rest of
its life (requests on one connection are answered in order, so the hand-off
waits until the lean requests before it are answered).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.tcp_helpers import tcp_keepalive
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from kubelite.apiserver.requestinfo import parse_request_path

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024  # a longer request head goes to aiohttp, which refuses it properly
MAX_LINE_BYTES = 8190  # aiohttp's limit for the request line and each header line
LEAN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Subresources answered in one JSON body; the others (log, exec, attach, portforward, proxy, ...) stream.
LEAN_SUBRESOURCES = frozenset({"", "status", "scale", "binding", "finalize", "approval"})
IDLE_TIMEOUT = 3630.0  # seconds an idle connection is kept, as aiohttp's keepalive_timeout
SHUTDOWN_TIMEOUT = 1.0  # seconds requests in flight get to finish when the server stops
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What a header value of an answer must not carry: it would end the line (or the head) early.
_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\0": " "})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LeanRequest:
    """The part of ``web.Request`` the API server's pipeline reads on a lean request (the
    HTTP version and host, read only for ``Expect`` and discovery, are aiohttp's alone)."""

    def __init__(
        self,
        method: str,
        path: str,
        query: MultiDictProxy[str],
        headers: CIMultiDictProxy[str],
        body: bytes,
        transport: asyncio.Transport,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.transport = transport
        self._body = body
        self._state: dict[Any, Any] = {}

    async def read(self) -> bytes:
        return self._body

    def __getitem__(self, key: Any) -> Any:
        return self._state[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def get(self, key: Any, default: Any = None) -> Any:
        return self._state.get(key, default)


class _Head:
    """A parsed request line and header block."""

    __slots__ = ("close", "headers", "length", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: CIMultiDict[str],
        length: int,
        close: bool,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.length = length
        self.close = close


def parse_head(head: bytes, max_body: int) -> _Head | None:
    """The request ``head`` (up to, not including, the blank line) if this front serves it;
    None for anything aiohttp must serve (or refuse)."""
    if len(head) > MAX_HEAD_BYTES or not head.isascii() or b"\0" in head:
        return None  # aiohttp's limits and its reading of other bytes stand
    lines = head.decode("ascii").split("\r\n")
    for line in lines:
        if len(line) > MAX_LINE_BYTES or "\r" in line or "\n" in line:
            return None  # a bare CR or LF: aiohttp refuses it, and it must not be read two ways
    request_line = lines[0].split(" ")
    if len(request_line) != 3 or request_line[2] != "HTTP/1.1":
        return None
    method, target = request_line[0], request_line[1]
    if method not in LEAN_METHODS or not target.startswith("/") or "#" in target:
        return None
    path, _, query_text = target.partition("?")
    if "%" in path:
        return None  # escapes in the path: aiohttp's (yarl's) decoding stands; the query's parse_qsl decodes
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            return None  # a malformed, folded or oddly named header line
        headers.add(name, value.strip(" \t"))
    if "Host" not in headers:
        return None  # HTTP/1.1 requires it: aiohttp answers 400
    if "Transfer-Encoding" in headers or "Expect" in headers or "Upgrade" in headers:
        return None
    lengths = headers.getall("Content-Length", [])
    if len(lengths) > 1 or (lengths and not (lengths[0].isdigit() and len(lengths[0]) <= 18)):
        return None
    length = int(lengths[0]) if lengths else 0
    if length > max_body:
        return None
    connection = headers.get("Connection", "").lower()
    if connection not in ("", "keep-alive", "close"):
        return None  # upgrade and anything else unusual
    info = parse_request_path(path.rstrip("/") or "/")
    if not info.resource_request or info.legacy_watch or info.subresource not in LEAN_SUBRESOURCES:
        return None
    query = parse_qsl(query_text, keep_blank_values=True)
    if method == "GET" and not info.name and any(key == "watch" for key, _ in query):
        return None  # perhaps a watch (watch=true): a stream
    return _Head(method, path, query, headers, length, connection == "close")


class _Date:
    """The Date header's value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._text = formatdate(second, usegmt=True)
        return self._text


class LeanFront:
    """The protocol factory for ``loop.create_server``: a ``LeanConnection`` per connection,
    handing connections over to ``fallback`` (aiohttp's ``web.Server``) when it must."""

    def __init__(self, handler: Handler, fallback: web.Server, max_body: int) -> None:
        self.handler = handler
        self.fallback = fallback
        self.max_body = max_body
        self.date = _Date()
        self.connections: set[LeanConnection] = set()
        self.serving: set[asyncio.Task[None]] = set()  # the requests being answered
        self.stopped = False

    def __call__(self) -> LeanConnection:
        return LeanConnection(self)

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Close the connections still served here (aiohttp closes those handed to it): idle
        ones at once, busy ones once their request is answered or ``timeout`` has passed."""
        self.stopped = True  # a connection accepted meanwhile (a TLS handshake ending) is refused
        for conn in list(self.connections):
            conn.stop_reading()
        if self.serving:
            await asyncio.wait(set(self.serving), timeout=timeout)
        for task in list(self.serving):
            task.cancel()
        if self.serving:
            await asyncio.wait(set(self.serving))
        for conn in list(self.connections):
            conn.close()
        if self.connections:  # their last answers still being sent: a moment, then cut them off
            await asyncio.sleep(0.05)
            for conn in list(self.connections):
                conn.abort()


class LeanConnection(asyncio.Protocol):
    """One client connection, until it is handed to aiohttp."""

    def __init__(self, front: LeanFront) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._scanned = 0  # the buffer's first bytes searched for the end of a head in vain
        self._busy = False  # a request's handler is running; the next ones wait in the buffer
        self._closing = False  # the client sent its last byte, or the server stops
        self._stopped = False  # the server stops: no more requests are taken
        self._handed_over = False
        self._reading_paused = False
        self._drained: asyncio.Future[None] | None = None  # set while the transport's buffer is full
        self._idle: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.front.stopped:
            self.transport.abort()
            return
        tcp_keepalive(self.transport)  # as aiohttp does: a vanished peer is found out
        self.front.connections.add(self)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.connections.discard(self)
        self._closing = True
        self._buffer.clear()
        self._cancel_idle_timer()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()
        elif len(self._buffer) > self.front.max_body + MAX_HEAD_BYTES:
            self._pause_reading()  # a client that runs far ahead waits for our answers

    def eof_received(self) -> bool | None:
        # The client sent all it will: answer what is complete, then close. (TLS has no half-closed
        # connection: there the transport closes itself, whatever this returns.)
        self._closing = True
        if not self._busy:
            self._next()
        assert self.transport is not None
        return None if self.transport.get_extra_info("ssl_object") is not None else True

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    def stop_reading(self) -> None:
        """Take no more requests (the server stops): close now if idle, else after this answer."""
        self._stopped = self._closing = True
        self._pause_reading()
        self._buffer.clear()
        if not self._busy:
            self.close()

    def close(self) -> None:
        self._closing = True
        self._cancel_idle_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping what is not sent yet (a client that does not read)."""
        self._closing = True
        self._cancel_idle_timer()
        if self.transport is not None:
            self.transport.abort()

    # --- flow control and timers ---

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self._reading_paused = True

    def _resume_reading(self) -> None:
        if self._stopped:
            return
        if self._reading_paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        self._reading_paused = False

    def _arm_idle_timer(self) -> None:
        self._cancel_idle_timer()
        self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self._idle_timeout)

    def _cancel_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_timeout(self) -> None:
        self._idle = None
        if not self._busy and not self._handed_over:
            self.close()

    # --- requests ---

    def _next(self) -> None:
        """Serve the next complete request in the buffer, or hand the connection over, or wait
        for more bytes (or close, when no more will come)."""
        if self._handed_over:
            return
        if self._stopped:
            self.close()
            return
        buf = self._buffer
        end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(buf)
            if len(buf) > MAX_HEAD_BYTES:
                self._hand_over()
            elif self._closing:
                self.close()  # an unfinished request, and nothing more coming
            else:
                self._resume_reading()
            return
        head = parse_head(bytes(buf[:end]), self.front.max_body)
        if head is None:
            self._hand_over()
            return
        start = end + 4
        if len(buf) - start < head.length:
            if self._closing:
                self.close()
            else:
                self._resume_reading()  # the body is still coming
            return
        body = bytes(buf[start : start + head.length])
        del buf[: start + head.length]
        self._scanned = 0
        self._busy = True
        self._cancel_idle_timer()
        task = asyncio.get_running_loop().create_task(self._serve(head, body))
        self.front.serving.add(task)
        task.add_done_callback(self._served)

    def _served(self, task: asyncio.Task[None]) -> None:
        self.front.serving.discard(task)
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.error("serving a request failed", exc_info=task.exception())
            self.close()  # the answer is lost: the client must not wait for it on this connection

    async def _serve(self, head: _Head, body: bytes) -> None:
        transport = self.transport
        assert transport is not None
        query = MultiDictProxy(MultiDict(head.query))
        request = LeanRequest(head.method, head.path, query, CIMultiDictProxy(head.headers), body, transport)
        try:
            response = await self.front.handler(cast(web.Request, request))
            out = self._encode(response, head.close)
        except Exception:  # the pipeline answers what it can; anything left is ours
            log.exception("internal error answering %s %s", head.method, head.path)
            out = self._encode(web.Response(status=500, text="internal error"), True)
            head.close = True
        if transport.is_closing():
            return
        transport.write(out)
        if head.close:
            self.close()
            return
        if self._drained is not None:
            await self._drained
        self._busy = False
        self._arm_idle_timer()
        self._next()

    def _encode(self, response: web.StreamResponse, close: bool) -> bytes:
        if not isinstance(response, web.Response):
            raise TypeError(f"a streamed answer ({type(response).__name__}) on the lean path")
        body = response.body
        if body is None:
            body = b""
        elif not isinstance(body, bytes | bytearray):
            raise TypeError(f"an answer body of type {type(body).__name__} on the lean path")
        status = response.status
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, response.reason or 'Unknown')}"]
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "date", "transfer-encoding"):
                # UTF-8, as aiohttp writes them; a line break in a value must not end the line.
                lines.append(f"{name}: {value.translate(_LINE_BREAKS)}")
        lines.append(f"Content-Length: {len(body)}")
        lines.append(f"Date: {self.front.date.now()}")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _hand_over(self) -> None:
        """Give the connection, with what it sent that is not yet served, to aiohttp."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._closing:
            # The client half-closed while we answered its earlier requests (we kept the
            # connection open for that). aiohttp closes at once on a half-close: so do we.
            self.close()
            return
        self._handed_over = True
        self._cancel_idle_timer()
        self.front.connections.discard(self)
        self._resume_reading()
        handler = self.front.fallback()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            handler.data_received(data)
