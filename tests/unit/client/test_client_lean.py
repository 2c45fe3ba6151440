"""The lean HTTP transport against a bare-bones server: Content-Length and
chunked answers, kept-alive connections, error statuses, a server that hangs
up, and answers split across many small reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest

from kubelite.api.errors import StatusError
from kubelite.client.lean import _dechunk
from kubelite.client.rest import Client


def test_dechunk_waits_for_the_whole_body() -> None:
    body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT"
    for cut in range(len(body) - 4):
        assert _dechunk(bytearray(body[:cut])) is None
    assert _dechunk(bytearray(body)) == (b"hello, world", len(body) - 4)


Answer = Callable[[bytes], bytes]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class FakeServer:
    """What ``fake_server`` reports: its URL and how many connections it took."""

    url = ""
    connections = 0


@asynccontextmanager
async def fake_server(handle: Handler) -> AsyncIterator[FakeServer]:
    """A loopback server running ``handle`` on each connection, which ends quietly when the
    client goes and is closed afterwards."""
    fake = FakeServer()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fake.connections += 1
        try:
            await handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(connection, "127.0.0.1", 0)
    fake.url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    try:
        yield fake
    finally:
        srv.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes], list[Answer]]]:
    """A server answering each request with the next function of ``answers`` (request -> bytes)."""
    requests: list[bytes] = []
    answers: list[Answer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            request = head + await reader.readexactly(length)
            requests.append(request)
            out = answers.pop(0)(request)
            if not out:
                return
            for i in range(0, len(out), 7):  # in small pieces
                writer.write(out[i : i + 7])
                await writer.drain()

    async with fake_server(handle) as fake:
        yield f"{fake.url}/prefix", requests, answers


def ok(body: bytes) -> Answer:
    return lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def chunked(*parts: bytes) -> Answer:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return lambda _: b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


async def test_requests_answers_and_kept_alive_connections(
    server: tuple[str, list[bytes], list[Answer]],
) -> None:
    url, requests, answers = server
    answers += [ok(b'{"a":1}'), chunked(b'{"b"', b":2}"), ok(b"")]
    async with Client(url, token="secret", component="unit", lean_http=True) as client:
        assert await client.request("GET", "/api/v1/pods", params={"fieldSelector": "a=b,c!=d"}) == b'{"a":1}'
        assert await client.request("POST", "/api/v1/x y", body={"k": "v"}) == b'{"b":2}'
        assert await client.request("DELETE", "/api/v1/z") == b""
    first, second, third = requests
    assert first.startswith(b"GET /prefix/api/v1/pods?fieldSelector=a%3Db%2Cc%21%3Dd HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer secret\r\n" in first
    assert b"\r\nUser-Agent: kubelite-unit/0.1.0\r\n" in first
    assert second.startswith(b"POST /prefix/api/v1/x%20y HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in second and second.endswith(b'\r\n\r\n{"k":"v"}')
    assert third.startswith(b"DELETE ")


async def test_error_status_and_a_hang_up(server: tuple[str, list[bytes], list[Answer]]) -> None:
    url, _, answers = server
    status = b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \\"p\\" not found","reason":"NotFound","code":404}'
    answers += [
        lambda _: b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(status), status),
        lambda _: b"",  # the server closes the connection without answering
        ok(b"{}"),
    ]
    async with Client(url, lean_http=True) as client:
        with pytest.raises(StatusError) as exc:
            await client.request("GET", "/api/v1/namespaces/ns/pods/p")
        assert exc.value.code == 404 and exc.value.reason == "NotFound"
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.request("GET", "/x")
        assert await client.request("GET", "/y") == b"{}"  # on a new connection


async def test_connection_refused_is_a_client_os_error() -> None:
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with Client(f"http://127.0.0.1:{port}", lean_http=True) as client:
        with pytest.raises(aiohttp.ClientOSError):
            await client.request("GET", "/x")


async def test_an_answer_without_length_runs_to_the_end_of_the_connection() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        await writer.drain()
        writer.write(b'{"until": "close"}')
        await writer.drain()

    async with fake_server(handle) as fake, Client(fake.url, lean_http=True) as client:
        assert await client.request("GET", "/a") == b'{"until": "close"}'
        assert await client.request("GET", "/b") == b'{"until": "close"}'  # a new connection


async def test_an_answer_that_does_not_come_in_time_fails_and_its_connection_is_dropped() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"/slow" in head:
            await asyncio.sleep(5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.read()

    async with fake_server(handle) as fake, Client(fake.url, lean_http=True) as client:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(TimeoutError):
            await client.request("GET", "/slow", timeout=0.2)
        assert 0.15 < loop.time() - began < 2
        assert await client.request("GET", "/fast") == b"{}"
        assert fake.connections == 2  # the connection that timed out was not reused


async def test_pipelined_requests_share_a_connection_and_get_their_own_answers() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path.endswith(b"/hang-up"):
                return
            body = b'{"path":"%s"}' % path
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            for i in range(0, len(answer), 5):  # in small pieces, and one answer's end with the next
                writer.write(answer[i : i + 5])
            await writer.drain()

    async with fake_server(handle) as fake, Client(fake.url, lean_http=True, lean_pipeline=4) as client:
        paths = [f"/r{i}" for i in range(4)]
        got = await asyncio.gather(*(client.request("GET", p) for p in paths))
        assert got == [b'{"path":"%s"}' % p.encode() for p in paths]
        assert fake.connections == 1  # four requests in flight on one connection
        # Eight at once: two connections' worth.
        got = await asyncio.gather(*(client.request("GET", f"/s{i}") for i in range(8)))
        assert got == [b'{"path":"/s%d"}' % i for i in range(8)]
        assert fake.connections == 2
        # The server hangs up on the second of three: it and the one behind it fail, the
        # one before it was answered.
        first, second, third = await asyncio.gather(
            client.request("GET", "/t0"),
            client.request("GET", "/hang-up"),
            client.request("GET", "/t2"),
            return_exceptions=True,
        )
        assert first == b'{"path":"/t0"}'
        assert isinstance(second, aiohttp.ServerDisconnectedError)
        assert isinstance(third, aiohttp.ServerDisconnectedError)
        assert await client.request("GET", "/u") == b'{"path":"/u"}'
