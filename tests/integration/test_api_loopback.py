"""The API server's loopback (``apiserver/loopback.py``): the components of its own process
reach it on a private Unix socket, plain HTTP, with a token made for this run that
authenticates as ``system:apiserver`` in ``system:masters``.

An HTTPS server (so that requests are authenticated at all) on a memory store; the clients
are kubelite's own, on both of their transports (aiohttp, and the lean pool).
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from threaded_apiserver import RunningServer, start_server, stop_server

from kubelite.api.errors import StatusError
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.loopback import (
    DIR_PREFIX,
    LOOPBACK_USER,
    MAX_SOCKET_PATH,
    SOCKET_NAME,
    Loopback,
    remove_stale,
)
from kubelite.client import Client

AUTHN = "/apis/authentication.k8s.io/v1"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    config = ServerConfig(data_dir=tmp_path / "data", port=0, tls=True, store="memory", loopback=True)
    running, thread = start_server(config)
    try:
        yield running
    finally:
        stop_server(running, thread)


def loopback_client(server: RunningServer, token: str | None = None, **kw: object) -> Client:
    loopback = server.server.loopback
    assert loopback is not None
    return Client(
        "http://localhost",
        token=loopback.token if token is None else token,
        unix_socket=loopback.socket_path,
        component="test",
        **kw,  # type: ignore[arg-type]
    )


def configmap(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


async def test_a_component_reads_writes_and_watches_through_the_loopback(server: RunningServer) -> None:
    async with loopback_client(server) as plain, loopback_client(server, lean_http=True) as lean:
        created = orjson.loads(await plain.request("POST", CONFIGMAPS, body=configmap("over-aiohttp")))
        assert created["metadata"]["name"] == "over-aiohttp"
        await lean.request("POST", CONFIGMAPS, body=configmap("over-lean"))
        listed = orjson.loads(await lean.request("GET", CONFIGMAPS))
        assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["over-aiohttp", "over-lean"]

        # a watch is a stream: it goes through aiohttp over the same socket
        configmaps = plain.resource_for("", "v1", "ConfigMap", raw=True)
        stream = configmaps.watch("default", resource_version=listed["metadata"]["resourceVersion"])
        events = stream.__aiter__()
        await lean.request("DELETE", f"{CONFIGMAPS}/over-lean")
        event = await asyncio.wait_for(events.__anext__(), 10)
        assert (event.type, event.object["metadata"]["name"]) == ("DELETED", "over-lean")
        await stream.aclose()


async def test_the_loopback_user_is_a_cluster_admin_of_this_run(server: RunningServer) -> None:
    async with loopback_client(server) as c:
        review = await c.request(
            "POST",
            f"{AUTHN}/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    user = orjson.loads(review)["status"]["userInfo"]
    assert user["username"] == LOOPBACK_USER
    assert {"system:masters", "system:authenticated"} <= set(user["groups"])


@pytest.mark.parametrize("token", ["", "not-the-token"])
async def test_the_socket_takes_no_request_without_the_token(server: RunningServer, token: str) -> None:
    async with loopback_client(server, token=token) as c:
        with pytest.raises(StatusError) as raised:
            await c.request("GET", CONFIGMAPS)
    assert raised.value.code == 401


def test_the_socket_is_private_and_gone_after_the_server(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data", port=0, tls=True, store="memory", loopback=True)
    running, thread = start_server(config)
    loopback = running.server.loopback
    assert loopback is not None
    directory = loopback.directory
    try:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(loopback.socket_path).st_mode)
    finally:
        stop_server(running, thread)
    assert not os.path.exists(directory)


def test_a_server_without_loopback_opens_no_socket(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data", port=0, tls=False, store="memory")
    running, thread = start_server(config)
    try:
        assert running.server.loopback is None
    finally:
        stop_server(running, thread)


async def test_the_token_is_refused_on_the_tls_port(server: RunningServer) -> None:
    loopback = server.server.loopback
    assert loopback is not None
    # no client certificate: the token alone would have to authenticate the request
    async with Client(server.url, ssl=False, token=loopback.token, component="test") as c:
        with pytest.raises(StatusError) as raised:
            await c.request("GET", CONFIGMAPS)
    assert raised.value.code == 401


def test_an_empty_socket_path_is_refused_rather_than_read_as_tcp() -> None:
    with pytest.raises(ValueError):
        Client("http://localhost", unix_socket="")


def test_a_long_temporary_directory_falls_back_to_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_dir = tmp_path / ("d" * 90)
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    loopback = Loopback()
    try:
        path = loopback.open()
        assert os.path.dirname(os.path.dirname(path)) == "/tmp"
        assert len(os.fsencode(path)) <= MAX_SOCKET_PATH
    finally:
        loopback.close()


def test_socket_directories_of_killed_servers_are_removed(tmp_path: Path) -> None:
    def socket_dir(name: str, age: float) -> Path:
        directory = tmp_path / f"{DIR_PREFIX}{name}"
        directory.mkdir(mode=0o700)
        os.utime(directory, (time.time() - age, time.time() - age))
        return directory

    gone = socket_dir("gone", 600)  # its server was killed before binding, or its socket removed
    dead = socket_dir("dead", 600)  # a socket file nobody listens on any more
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(dead / SOCKET_NAME))
    os.utime(dead, (time.time() - 600, time.time() - 600))
    live = socket_dir("live", 600)
    young = socket_dir("young", 1)  # being set up right now
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(live / SOCKET_NAME))
    listener.listen()
    os.utime(live, (time.time() - 600, time.time() - 600))
    try:
        remove_stale(str(tmp_path))
    finally:
        listener.close()
    assert not gone.exists() and not dead.exists()
    assert live.exists() and young.exists()
