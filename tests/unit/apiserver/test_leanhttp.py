"""The lean HTTP front: which requests it serves itself, and that a connection it hands to
aiohttp (a watch, a discovery request, ...) goes on being answered, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver import leanhttp
from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.leanhttp import parse_head
from kubelite.apiserver.servertask import ServerTask

MAX_BODY = 1 << 20


def head(request_line: str, *lines: str) -> bytes:
    return "\r\n".join([request_line, "Host: kubelite", *lines]).encode()


@pytest.mark.parametrize(
    "request_head",
    [
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", "Content-Length: 10"),
        head("GET /api/v1/namespaces/default/pods/p HTTP/1.1"),
        head("GET /api/v1/pods?limit=5&labelSelector=app%3Dweb HTTP/1.1"),
        head("PUT /api/v1/namespaces/default/pods/p/status HTTP/1.1", "Content-Length: 2"),
        head("POST /api/v1/namespaces/default/pods/p/binding HTTP/1.1", "Content-Length: 2"),
        head("PATCH /apis/apps/v1/namespaces/d/deployments/x/scale HTTP/1.1", "Content-Length: 2"),
        head("DELETE /api/v1/namespaces/default/pods/p HTTP/1.1", "Connection: close"),
    ],
)
def test_serves_plain_resource_requests(request_head: bytes) -> None:
    assert parse_head(request_head, MAX_BODY) is not None


@pytest.mark.parametrize(
    "request_head",
    [
        head("GET /api/v1/pods?watch=true HTTP/1.1"),
        head("GET /api/v1/watch/pods HTTP/1.1"),
        head("GET /api/v1/namespaces/default/pods/p/log HTTP/1.1"),
        head("POST /api/v1/namespaces/default/pods/p/exec?command=sh HTTP/1.1"),
        head(
            "GET /api/v1/namespaces/default/pods/p/exec HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket"
        ),
        head("GET /api/v1/namespaces/default/services/s/proxy/x HTTP/1.1"),
        head("GET /api HTTP/1.1"),
        head("GET /healthz HTTP/1.1"),
        head("GET /api/v1/namespaces/default/pods/a%2Fb HTTP/1.1"),
        head("GET /api/v1/pods HTTP/1.0"),
        head("HEAD /api/v1/pods HTTP/1.1"),
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", "Transfer-Encoding: chunked"),
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", "Expect: 100-continue", "Content-Length: 2"),
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", f"Content-Length: {MAX_BODY + 1}"),
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", "Content-Length: 2", "Content-Length: 3"),
        head("POST /api/v1/namespaces/default/pods HTTP/1.1", "Content-Length: -1"),
        head("GET /api/v1/pods HTTP/1.1", " folded: header"),
        head("GET /api/v1/pods HTTP/1.1", "X-Name: caf\u00e9"),
        b"GET /api/v1/pods HTTP/1.1",  # no Host
    ],
)
def test_leaves_the_rest_to_aiohttp(request_head: bytes) -> None:
    assert parse_head(request_head, MAX_BODY) is None


@contextlib.asynccontextmanager
async def running(api: APIServer) -> AsyncIterator[tuple[str, int]]:
    """``api`` serving on this loop: its host and port."""
    task = ServerTask(api)
    assert await task.started()
    host, port = task.url.removeprefix("http://").rsplit(":", 1)
    try:
        yield host, int(port)
    finally:
        task.stop()
        await task.finished()


def api_server(tmp_path: Path, **config: Any) -> APIServer:
    return APIServer(
        ServerConfig(data_dir=tmp_path, port=0, store="memory", tls=False, bind_address="127.0.0.1", **config)
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    async with running(api_server(tmp_path)) as address:
        yield address


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:  # chunked (aiohttp's answers)
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    return status, headers, body


def post_body(body: bytes, query: str = "") -> bytes:
    """A POST of ``body`` to the default namespace's ConfigMaps."""
    return (
        f"POST /api/v1/namespaces/default/configmaps{query} HTTP/1.1\r\nHost: t\r\n".encode()
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def post(name: str, **fields: Any) -> bytes:
    """A POST creating the ConfigMap ``name`` (with ``fields`` beside its metadata)."""
    return post_body(json.dumps({"metadata": {"name": name}, **fields}).encode())


def get(path: str, *extra: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: t", *extra]) + "\r\n\r\n").encode()


async def test_pipelined_requests_are_answered_in_order(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(post("a") + post("b") + get("/api/v1/namespaces/default/configmaps/a") + post("a"))
    answers = [await read_response(reader) for _ in range(4)]
    assert [a[0] for a in answers] == [201, 201, 200, 409]
    assert json.loads(answers[2][2])["metadata"]["name"] == "a"
    assert answers[0][1]["content-type"] == "application/json"
    assert "date" in answers[0][1]
    writer.close()


async def test_a_request_in_pieces(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    for byte in post("pieces"):
        writer.write(bytes([byte]))
        await writer.drain()
    status, _, body = await read_response(reader)
    assert status == 201 and json.loads(body)["metadata"]["name"] == "pieces"
    writer.close()


async def test_a_connection_handed_to_aiohttp_goes_on(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    # lean, then a discovery request (aiohttp's), then lean-looking requests aiohttp now answers
    writer.write(
        post("one") + get("/healthz") + get("/api/v1/namespaces/default/configmaps/one") + post("two")
    )
    statuses = [(await read_response(reader))[0] for _ in range(4)]
    assert statuses == [201, 200, 200, 201]
    writer.close()


async def test_a_watch_after_lean_requests(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(post("w1") + get("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"))
    assert (await read_response(reader))[0] == 201
    status, headers, body = await read_response(reader)  # the watch's chunks until its timeout
    assert status == 200 and headers.get("transfer-encoding") == "chunked"
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1")]
    writer.close()


async def test_connection_close_and_half_close(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(get("/api/v1/namespaces/default", "Connection: close"))
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await reader.read() == b""  # closed by the server

    reader, writer = await asyncio.open_connection(*server)
    writer.write(post("half") + post("closed"))
    writer.write_eof()  # all sent: both are still answered, then the connection ends
    assert [(await read_response(reader))[0] for _ in range(2)] == [201, 201]
    assert await reader.read() == b""


async def test_errors_are_status_objects(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(get("/api/v1/namespaces/default/configmaps/missing"))
    status, _, body = await read_response(reader)
    assert status == 404 and json.loads(body)["reason"] == "NotFound"
    writer.write(post_body(b"{not json"))
    status, _, body = await read_response(reader)
    assert status == 400 and json.loads(body)["kind"] == "Status"
    writer.close()


async def test_an_oversized_body_is_refused_by_aiohttp(tmp_path: Path) -> None:
    async with running(api_server(tmp_path, max_body_bytes=1000)) as address:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(post("big", data={"k": "x" * 2000}))
        assert (await read_response(reader))[0] == 413
        writer.close()


@pytest.mark.parametrize(
    "request_head",
    [
        head("GET /api/v1/pods HTTP/1.1", "X-A: a\nContent-Length: 5"),  # a bare LF
        head("GET /api/v1/pods HTTP/1.1", "X-A: a\rb"),  # a bare CR
        head("GET /api/v1/pods HTTP/1.1", "X-A: a\0b"),
        head("GET /api/v1/pods HTTP/1.1", "X(A): b"),  # not a token
        head("POST /api/v1/namespaces/d/configmaps HTTP/1.1", "Content-Length: " + "1" * 19),
        head("GET /api/v1/pods?w%61tch=1 HTTP/1.1"),  # watch=1, escaped
        head("GET /api/v1/pods HTTP/1.1", "X-Long: " + "x" * 9000),
    ],
)
def test_leaves_what_aiohttp_reads_differently_or_refuses_to_it(request_head: bytes) -> None:
    assert parse_head(request_head, MAX_BODY) is None


async def test_an_escaped_watch_parameter_is_a_watch(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(get("/api/v1/namespaces/default/configmaps?w%61tch=1&timeoutSeconds=1"))
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers.get("transfer-encoding") == "chunked"
    writer.close()


async def test_refused_heads_get_aiohttps_400(server: tuple[str, int]) -> None:
    for bad in (
        b"GET /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: t\r\nX-A: a\nContent-Length: 5\r\n\r\n",
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: t\r\nContent-Length: "
        + b"9" * 5000
        + b"\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection(*server)
        writer.write(bad)
        assert (await read_response(reader))[0] == 400
        writer.close()


async def test_warnings_cannot_break_the_answers_head(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    # A warning with a control character is left out, as Kubernetes does; others are UTF-8.
    for i, (key, warned) in enumerate((("x\r\nX-Injected: yes", False), ("caf\u00e9", True))):
        body = json.dumps({"metadata": {"name": f"warn-{i}"}, key: 1}).encode()
        writer.write(post_body(body, "?fieldValidation=Warn"))
        status, headers, _ = await read_response(reader)
        assert status == 201
        assert "x-injected" not in headers
        assert ("unknown field" in headers.get("warning", "")) is warned
    writer.close()


async def test_half_closed_with_an_unfinished_request_is_closed(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(post("before-eof") + b"GET /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHos")
    writer.write_eof()
    assert (await read_response(reader))[0] == 201
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, not left half-open


async def test_half_closed_before_a_hand_over_is_closed(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    # aiohttp closes a connection at once on a half-close: the health check is not answered
    writer.write(post("before-hand-over") + get("/healthz"))
    writer.write_eof()
    assert (await read_response(reader))[0] == 201
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_a_client_far_ahead_is_paused_and_resumed(tmp_path: Path) -> None:
    async with running(api_server(tmp_path, max_body_bytes=100_000)) as address:
        reader, writer = await asyncio.open_connection(*address)
        requests = [post("small"), *(post(f"big-{i}", data={"k": "x" * 90_000}) for i in range(4))]
        writer.write(b"".join(requests))
        statuses = [(await asyncio.wait_for(read_response(reader), 10))[0] for _ in requests]
        assert statuses == [201] * 5
        writer.close()


async def test_a_request_in_flight_is_answered_when_the_server_stops(tmp_path: Path) -> None:
    api = api_server(tmp_path)
    pipeline = api._pipeline

    async def slow(request: Any) -> Any:
        await asyncio.sleep(0.3)
        return await pipeline(request)

    api._pipeline = slow  # type: ignore[method-assign]
    task = ServerTask(api)
    assert await task.started()
    host, port = task.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(post("in-flight"))
    # A list waits for the watch cache to be fresh: it must still run while requests finish.
    list_reader, list_writer = await asyncio.open_connection(host, int(port))
    list_writer.write(get("/api/v1/namespaces/default/configmaps"))
    await asyncio.sleep(0.1)
    task.stop()
    assert (await asyncio.wait_for(read_response(reader), 5))[0] == 201
    assert (await asyncio.wait_for(read_response(list_reader), 5))[0] == 200
    await asyncio.wait_for(task.finished(), 5)
    assert await reader.read() == b""


async def test_an_idle_connection_is_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leanhttp, "IDLE_TIMEOUT", 0.3)
    async with running(api_server(tmp_path)) as address:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(post("idle"))
        assert (await read_response(reader))[0] == 201
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        assert asyncio.get_running_loop().time() - started >= 0.2
