"""The kubelet API: logs, SPDY exec, stats, authentication."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from streams_fakes import EchoRuntime, FakeLookup, run_pod, spdy_upgrade

from kubelite.kubelet.runtime.shimio import format_log_line
from kubelite.kubelet.server import KubeletServer, LogDecoder, LogOptions

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def _record(stream: str, text: str, partial: bool = False, at: int = T0) -> bytes:
    return format_log_line(stream, text.encode(), partial, at)


def test_decoder_joins_pieces_and_waits_for_whole_records() -> None:
    decoder = LogDecoder(LogOptions())
    data = _record("stdout", "a lo", True) + _record("stderr", "err") + _record("stdout", "ng line")
    assert decoder.feed(data[:-5]) == [b"err\n"]
    assert decoder.feed(data[-5:]) == [b"a long line\n"]
    assert decoder.feed(b"garbage that is no record\n") == []


def test_decoder_timestamps_and_since() -> None:
    decoder = LogDecoder(LogOptions(timestamps=True, since=T0 / SECOND + 5))
    data = _record("stdout", "old", at=T0) + _record("stdout", "new", at=T0 + 10 * SECOND)
    assert decoder.feed(data) == [b"2023-11-14T22:13:30.000000000Z new\n"]


def test_log_options() -> None:
    query = {"follow": "true", "tailLines": "0", "sinceSeconds": "10", "limitBytes": "5"}
    opts = LogOptions.from_query(query, now=100.0)
    assert (opts.follow, opts.tail_lines, opts.since, opts.limit_bytes) == (True, 0, 90.0, 5)
    assert LogOptions.from_query({"sinceTime": "2023-11-14T22:13:20Z"}, 0).since == T0 / SECOND
    from kubelite.kubelet.server import BadRequest

    for bad in (
        {"tailLines": "-1"},
        {"limitBytes": "0"},
        {"sinceSeconds": "1", "sinceTime": "2023-11-14T22:13:20Z"},
    ):
        with pytest.raises(BadRequest):
            LogOptions.from_query(bad, 0)


@dataclass
class Node:
    url: str
    port: int
    runtime: EchoRuntime
    lookup: FakeLookup
    session: aiohttp.ClientSession
    log: Path


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    runtime, lookup = EchoRuntime(), FakeLookup()
    log = tmp_path / "app.log"
    await run_pod(
        runtime,
        lookup,
        "ns",
        "web",
        {"app": str(log), "side": str(tmp_path / "side.log")},
        {"app": ["1", "2", "3"]},
    )
    server = KubeletServer(lookup, runtime, node_name="node-1")
    port = await server.start("127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        yield Node(f"http://127.0.0.1:{port}", port, runtime, lookup, session, log)
    await server.close()


async def _get(node: Node, path: str) -> tuple[int, str]:
    async with node.session.get(node.url + path) as r:
        return r.status, await r.text()


async def test_logs(node: Node) -> None:
    assert await _get(node, "/containerLogs/ns/web/app") == (200, "1\n2\n3\n")
    assert await _get(node, "/containerLogs/ns/web/app?tailLines=2") == (200, "2\n3\n")
    assert await _get(node, "/containerLogs/ns/web/app?tailLines=0") == (200, "")
    assert await _get(node, "/containerLogs/ns/web/app?limitBytes=3") == (200, "1\n2")
    assert (await _get(node, "/containerLogs/ns/web/side"))[0] == 200  # no log file yet: nothing
    status, text = await _get(node, "/containerLogs/ns/web/app?previous=true")
    assert status == 404 and 'previous terminated container "app"' in text
    status, text = await _get(node, "/containerLogs/ns/web/app?tailLines=x")
    assert status == 400


async def test_logs_follow_until_the_container_exits(node: Node) -> None:
    async with node.session.get(node.url + "/containerLogs/ns/web/app?follow=true&tailLines=1") as r:
        assert await r.content.readline() == b"3\n"
        with open(node.log, "ab") as f:
            f.write(format_log_line("stdout", b"4", False))
        assert await asyncio.wait_for(r.content.readline(), 5) == b"4\n"
        target = node.lookup.find("ns", "web", "app")
        assert target is not None
        await node.runtime.stop_container(target.container_id, 1)
        assert await asyncio.wait_for(r.content.read(), 5) == b""


async def test_exec_over_spdy(node: Node) -> None:
    path = "/exec/ns/web/app?command=cat&stdin=true&stdout=true&stderr=true"
    status, headers, client = await spdy_upgrade(node.port, path, ["v5.channel.k8s.io", "v4.channel.k8s.io"])
    assert status == 101 and headers["x-stream-protocol-version"] == "v5.channel.k8s.io"
    error = await client.open({"streamType": "error"})
    stdin = await client.open({"streamType": "stdin"})
    stdout = await client.open({"streamType": "stdout"})
    stderr = await client.open({"streamType": "stderr"})
    await client.until(lambda: {error, stdin, stdout, stderr} <= client.replied)
    await client.send(stdin, b"over spdy")
    await client.raw(client.spdy.ping_frame(3))
    await client.send(stdin, b"", fin=True)
    await client.until(lambda: error in client.fin)
    assert client.data[stdout] == b"over spdy"
    assert {stdout, stderr} <= client.fin
    assert json.loads(client.data[error]) == {"metadata": {}, "status": "Success"}
    assert client.pings == [3]
    await client.until(lambda: client.goaway)
    client.writer.close()


async def test_exec_over_spdy_exit_code_and_refusal(node: Node) -> None:
    status, _, client = await spdy_upgrade(
        node.port, "/exec/ns/web/app?command=fail&command=2&output=1&error=1", ["v4.channel.k8s.io"]
    )
    assert status == 101
    error = await client.open({"streamType": "error"})
    await client.open({"streamType": "stdout"})
    stderr = await client.open({"streamType": "stderr"})
    await client.until(lambda: error in client.fin)
    assert client.data[stderr] == b"oops\n"
    assert json.loads(client.data[error])["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]
    client.writer.close()
    status, _, client = await spdy_upgrade(
        node.port, "/exec/ns/web/app?command=echo&stdout=1", ["channel.k8s.io"]
    )
    assert status == 403
    client.writer.close()


async def test_stats_summary(node: Node) -> None:
    async with node.session.get(node.url + "/stats/summary") as r:
        summary = await r.json()
    assert summary["node"]["nodeName"] == "node-1"
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    (pod,) = summary["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "ns", "uid": "uid-web"}
    assert {c["name"] for c in pod["containers"]} == {"app", "side"}
    assert pod["cpu"]["usageNanoCores"] == 2_000_000
    assert pod["memory"]["workingSetBytes"] == 2 * (8 << 20)
    assert await _get(node, "/healthz") == (200, "ok")


async def test_authentication(tmp_path: Path) -> None:
    lookup = FakeLookup()
    server = KubeletServer(
        lookup, EchoRuntime(), authenticate=lambda request: request.headers.get("X-Ok") == "1"
    )
    port = await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/stats/summary") as r:
                assert r.status == 401
            async with session.get(f"http://127.0.0.1:{port}/stats/summary", headers={"X-Ok": "1"}) as r:
                assert r.status == 200
            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
    finally:
        await server.close()
