"""HTTP details the API server answers itself, on a raw connection: ``Expect: 100-continue``
(the interim answer comes before the body is sent), an unknown expectation (417), and
several requests on one kept-alive connection."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

NS = "http-details"


def connect(api_server: Any) -> socket.socket:
    url = urlsplit(api_server.url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        body += chunk
    return status, headers, body[:length]


def post(path: str, body: bytes, expect: str | None = None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    if expect:
        head += f"Expect: {expect}\r\n"
    return (head + "\r\n").encode()


def test_expect_100_continue(api_server: Any) -> None:
    with connect(api_server) as sock:
        ns = json.dumps({"metadata": {"name": NS}}).encode()
        sock.sendall(post("/api/v1/namespaces", ns) + ns)
        assert read_response(sock)[0] in (201, 409)
        body = json.dumps({"metadata": {"name": "expects"}, "data": {"a": "b"}}).encode()
        sock.sendall(post(f"/api/v1/namespaces/{NS}/configmaps", body, "100-continue"))
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"  # before the body is sent
        sock.sendall(body)
        status, headers, answer = read_response(sock)
        assert status == 201, answer
        assert json.loads(answer)["metadata"]["name"] == "expects"
        assert headers["content-type"].startswith("application/json")


def test_unknown_expectation_is_417(api_server: Any) -> None:
    with connect(api_server) as sock:
        sock.sendall(post("/api/v1/namespaces", b"{}", "something-else") + b"{}")
        status, _, body = read_response(sock)
    assert status == 417
    assert json.loads(body)["kind"] == "Status"


def test_requests_on_one_connection(api_server: Any) -> None:
    with connect(api_server) as sock:
        for path, want in (("/version", 200), ("/api/v1/namespaces/default", 200), ("/api/v1/nope", 404)):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, _, body = read_response(sock)
            assert status == want, (path, body)


def test_switch_interval_while_serving(api_server: Any) -> None:
    """The server shortens the interpreter's thread switch interval while it runs (its store's
    writer thread must get the GIL back promptly after a commit)."""
    wanted = api_server.server.config.switch_interval
    assert wanted is not None and abs(sys.getswitchinterval() - wanted) < 1e-9
