"""Watch streams: newline-delimited JSON events from the API server, decoded.

``ResourceClient.watch()`` returns a ``WatchStream``; iterating it yields
``WatchEvent``s (ADDED, MODIFIED, DELETED, BOOKMARK) whose objects are
decoded like any other response (typed, or dicts when raw). An ERROR event
raises ``StatusError`` (``ResourceExpired`` for 410).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from kubelite.api.errors import StatusError
from kubelite.client.errors import status_error
from kubelite.client.objects import resource_version_of

if TYPE_CHECKING:
    from kubelite.client.rest import Client


@dataclass(slots=True)
class WatchEvent:
    """One watch event: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: Any
    resource_version: str


class _WireEvent(msgspec.Struct):
    type: str
    object: msgspec.Raw


_WIRE_EVENT = msgspec.json.Decoder(_WireEvent)


class WatchStream:
    """An open (or about to open) watch: an async iterator of ``WatchEvent``.

    The connection is made on the first ``__anext__``. ``aclose()`` may be
    called from another task: the iteration then ends (StopAsyncIteration).
    """

    def __init__(
        self,
        client: Client,
        path: str,
        params: dict[str, str],
        timeout_seconds: int | None,
        decode: Callable[[bytes], Any],
    ) -> None:
        self._client = client
        self._decode = decode
        self._path = path
        self._params = params
        self._timeout = timeout_seconds + 30 if timeout_seconds else None
        self._resp: aiohttp.ClientResponse | None = None
        self._lines: AsyncIterator[bytes] | None = None
        self._closed = False

    async def __aenter__(self) -> WatchStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> WatchStream:
        return self

    async def aclose(self) -> None:
        """Close the connection. Idempotent."""
        self.close()

    def close(self) -> None:
        """Close the connection now (usable from callbacks); iteration then ends. Idempotent."""
        self._closed = True
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    async def _line_iter(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        # Our own splitting: aiohttp's readline caps line length, objects can be large.
        # A chunk may hold many events: split it once (slicing off one line at a time would copy
        # the rest of the buffer per line); pieces of a long line are joined once it is complete.
        pieces: list[bytes] = []
        async for chunk in resp.content.iter_any():
            if b"\n" not in chunk:
                pieces.append(chunk)
                continue
            if pieces:
                pieces.append(chunk)
                chunk = b"".join(pieces)
                pieces = []
            lines = chunk.split(b"\n")
            rest = lines.pop()
            if rest:
                pieces.append(rest)
            for line in lines:
                if line.strip():
                    yield line
        tail = b"".join(pieces)
        if tail.strip():
            yield tail

    async def __anext__(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._resp is None:
            resp = await self._client.stream("GET", self._path, params=self._params, timeout=self._timeout)
            if self._closed:  # closed while connecting
                resp.close()
                raise StopAsyncIteration
            self._resp = resp
            self._lines = self._line_iter(resp)
        assert self._lines is not None
        try:
            line = await self._lines.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
            if self._closed:  # closed by us from another task
                raise StopAsyncIteration from None
            raise
        return self._event(line)

    def _event(self, line: bytes) -> WatchEvent:
        try:
            wire = _WIRE_EVENT.decode(line)
        except msgspec.DecodeError as e:
            raise StatusError(500, "InternalError", f"malformed watch event: {e}") from None
        if wire.type == "ERROR":
            try:
                status = json.loads(bytes(wire.object))
            except ValueError:
                status = {}
            code = int(status.get("code") or 500)
            raise status_error(code, bytes(wire.object), str(status.get("reason", "")))
        obj = self._decode(bytes(wire.object))
        return WatchEvent(wire.type, obj, resource_version_of(obj))
