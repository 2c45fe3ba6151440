"""exec, attach and port-forward over WebSocket against the kubelet API (aiohttp clients)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from streams_fakes import EchoRuntime, FakeLookup, SpdyTestClient, echo_server, run_pod

from kubelite.kubelet.runtime.fake import FakeSession
from kubelite.kubelet.runtime.interface import ExecResult, ExecSession
from kubelite.kubelet.server import KubeletServer
from kubelite.kubelet.streams import spdy, websocket
from kubelite.kubelet.streams.websocket import PORTFORWARD_TUNNEL


@dataclass
class Node:
    url: str
    runtime: EchoRuntime
    lookup: FakeLookup
    session: aiohttp.ClientSession
    echo_port: int


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    runtime, lookup = EchoRuntime(), FakeLookup()
    await run_pod(runtime, lookup, "ns", "web", {"app": str(tmp_path / "app.log")})
    server = KubeletServer(lookup, runtime)
    port = await server.start("127.0.0.1", 0)
    async with aiohttp.ClientSession() as session, echo_server() as echo_port:
        yield Node(f"http://127.0.0.1:{port}", runtime, lookup, session, echo_port)
    await server.close()


async def _exec(
    node: Node, query: str, protocol: str = "v5.channel.k8s.io", send: list[bytes] | None = None
) -> dict[int, Any]:
    """Run one exec; the output per channel (channel 3 decoded)."""
    out: dict[int, Any] = {}
    async with node.session.ws_connect(f"{node.url}/exec/ns/web/app?{query}", protocols=[protocol]) as ws:
        assert ws.protocol == protocol
        for message in send or []:
            await ws.send_bytes(message)
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY
            out[msg.data[0]] = out.get(msg.data[0], b"") + msg.data[1:]
    if 3 in out:
        out[3] = json.loads(out[3])
    return out


async def test_exec_output_and_success(node: Node) -> None:
    out = await _exec(node, "command=echo&command=hi&stdout=true&stderr=true")
    assert out[1] == b"hi\n"
    assert out[3] == {"metadata": {}, "status": "Success"}


async def test_exec_exit_code_is_a_status(node: Node) -> None:
    out = await _exec(node, "command=fail&command=7&stdout=true&stderr=true", protocol="v4.channel.k8s.io")
    assert out[2] == b"oops\n"
    status = out[3]
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


async def test_exec_stdin_until_the_v5_close_signal(node: Node) -> None:
    out = await _exec(
        node,
        "command=cat&stdin=true&stdout=true&stderr=true",
        send=[b"\x00hello ", b"\x00world", b"\xff\x00"],
    )
    assert out[1] == b"hello world"
    assert out[3]["status"] == "Success"


async def test_exec_tty_resizes(node: Node) -> None:
    url = f"{node.url}/exec/ns/web/app?command=size&stdin=true&stdout=true&stderr=true&tty=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        await ws.send_bytes(b'\x04{"Width":80,"Height":24}')
        assert (await ws.receive()).data == b"\x0180x24\n"
        await ws.send_bytes(b'\x04{"Width":100,')  # one size split over two messages
        await ws.send_bytes(b'\x04"Height":30}\n')
        assert (await ws.receive()).data == b"\x01100x30\n"
        await ws.send_bytes(b"\x00q")
        assert json.loads((await ws.receive()).data[1:])["status"] == "Success"


async def test_exec_output_waits_for_the_pong(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """client-go drops frames that come before it registers its streams: the server pings
    first and sends nothing else until the client has answered (see the module docstring)."""
    monkeypatch.setattr(websocket, "PONG_WAIT", 30.0)  # so only the pong can release the output
    url = f"{node.url}/exec/ns/web/app?command=echo&command=hi&stdout=true&stderr=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"], autoping=False) as ws:
        ping = await ws.receive()
        assert ping.type == aiohttp.WSMsgType.PING
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        await ws.ping(b"client")  # the client's own heartbeat is answered meanwhile
        assert (await ws.receive()).type == aiohttp.WSMsgType.PONG
        await ws.pong(ping.data)
        assert (await ws.receive(timeout=5)).data == b"\x01hi\n"
        assert json.loads((await ws.receive(timeout=5)).data[1:])["status"] == "Success"


async def test_exec_output_comes_anyway_to_a_client_that_never_pongs(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held back once, until ``PONG_WAIT`` after connecting; what follows is not held again."""
    monkeypatch.setattr(websocket, "PONG_WAIT", 3.0)
    url = f"{node.url}/exec/ns/web/app?command=cat&stdin=true&stdout=true&stderr=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"], autoping=False) as ws:
        assert (await ws.receive()).type == aiohttp.WSMsgType.PING
        await ws.send_bytes(b"\x00one")
        assert (await ws.receive(timeout=10)).data == b"\x01one"
        await ws.send_bytes(b"\x00two")
        assert (await ws.receive(timeout=2)).data == b"\x01two"


async def test_exec_start_failure_is_reported_after_the_pong(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "PONG_WAIT", 30.0)

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no such process")

    monkeypatch.setattr(node.runtime, "exec", refuse)
    url = f"{node.url}/exec/ns/web/app?command=echo&stdout=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:  # answers pings
        status = await ws.receive(timeout=5)
        assert status.data[0] == 3 and "no such process" in json.loads(status.data[1:])["message"]


async def test_exec_client_gone_while_output_is_held(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "PONG_WAIT", 30.0)
    url = f"{node.url}/exec/ns/web/app?command=size&stdout=true&tty=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"], autoping=False) as ws:
        assert (await ws.receive()).type == aiohttp.WSMsgType.PING
    for _ in range(100):
        if node.runtime.sessions and node.runtime.sessions[-1].killed:
            break
        await asyncio.sleep(0.02)
    assert node.runtime.sessions[-1].killed


async def test_exec_the_kubelet_spelling_of_the_flags(node: Node) -> None:
    out = await _exec(node, "command=echo&command=x&output=1&error=1")
    assert out[1] == b"x\n"


async def test_exec_refusals(node: Node) -> None:
    url = f"{node.url}/exec/ns/web/app?command=echo&stdout=true"
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        await node.session.ws_connect(url, protocols=["v9.channel.k8s.io"])
    assert e.value.status == 400
    async with node.session.get(
        f"{node.url}/exec/ns/web/app?stdout=true", headers={"Upgrade": "websocket"}
    ) as r:
        assert r.status == 400 and "at least 1 command" in await r.text()
    async with node.session.get(f"{node.url}/exec/ns/web/nope?command=echo&stdout=true") as r:
        assert r.status == 404 and 'container "nope" in pod "web" is not available' in await r.text()


async def test_exec_disconnect_kills_the_session(node: Node) -> None:
    url = f"{node.url}/exec/ns/web/app?command=size&stdout=true&tty=true"
    async with node.session.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
        await ws.send_bytes(b'\x04{"Width":1,"Height":2}')
        assert (await ws.receive()).data == b"\x011x2\n"
    for _ in range(100):
        if node.runtime.sessions[-1].killed:
            break
        await asyncio.sleep(0.02)
    assert node.runtime.sessions[-1].killed


async def test_attach(node: Node) -> None:
    async with node.session.ws_connect(
        f"{node.url}/attach/ns/web/app?stdout=true&stderr=true", protocols=["v5.channel.k8s.io"]
    ) as ws:
        msgs = [msg.data async for msg in ws]
    assert json.loads(msgs[-1][1:])["status"] == "Success"


async def test_attach_ends_in_success_whatever_the_containers_exit_code(node: Node) -> None:
    """As the kubelet's attach: kubectl run -i would otherwise fall back to the logs."""

    async def attach(container_id: str, *, stdin: bool, tty: bool) -> ExecSession:
        return FakeSession(ExecResult(exit_code=4, stdout=b"inside\n", stderr=b""))

    node.runtime.attach = attach  # type: ignore[method-assign]
    async with node.session.ws_connect(
        f"{node.url}/attach/ns/web/app?stdout=true&stderr=true", protocols=["v5.channel.k8s.io"]
    ) as ws:
        msgs = [msg.data async for msg in ws]
    assert msgs[0] == b"\x01inside\n"
    assert json.loads(msgs[-1][1:])["status"] == "Success"


async def test_portforward_tunnelled_spdy(node: Node) -> None:
    """kubectl 1.31+: SPDY frames inside WebSocket binary messages, split anywhere."""
    async with node.session.ws_connect(
        f"{node.url}/portForward/ns/web", protocols=[PORTFORWARD_TUNNEL]
    ) as ws:
        assert ws.protocol == PORTFORWARD_TUNNEL
        compressor = spdy.HeaderCompressor()
        headers = {"streamType": "error", "port": str(node.echo_port), "requestID": "0"}
        wire = spdy.syn_stream_frame(compressor, 1, headers)
        wire += spdy.syn_stream_frame(compressor, 3, {**headers, "streamType": "data"})
        wire += spdy.data_frame(3, b"through the tunnel") + spdy.ping_frame(1)
        for i in range(0, len(wire), 7):  # arbitrary split points
            await ws.send_bytes(wire[i : i + 7])
        frames = spdy.FrameReader()
        got: dict[int, bytes] = {}
        replies, pings = set(), []
        while got.get(3) != b"through the tunnel" or not pings:
            msg = await asyncio.wait_for(ws.receive(), 10)
            for frame in frames.feed(msg.data):
                if frame.control and frame.type == spdy.SYN_REPLY:
                    replies.add(frame.stream_id)
                elif frame.control and frame.type == spdy.PING:
                    pings.append(frame.value)
                elif not frame.control:
                    got[frame.stream_id] = got.get(frame.stream_id, b"") + frame.payload
        assert replies == {1, 3} and pings == [1]


async def test_portforward_channel_protocol(node: Node) -> None:
    """The kubernetes Python client's way: channels per port, the port first on each."""
    url = f"{node.url}/portForward/ns/web?ports={node.echo_port}"
    async with node.session.ws_connect(url, protocols=["v4.channel.k8s.io"]) as ws:
        port = struct.pack("<H", node.echo_port)
        assert (await ws.receive()).data == b"\x00" + port
        assert (await ws.receive()).data == b"\x01" + port
        await ws.send_bytes(b"\x00echo me")
        assert (await ws.receive()).data == b"\x00echo me"


async def test_portforward_plain_spdy_connection_refused(node: Node) -> None:
    from streams_fakes import spdy_upgrade

    port = int(node.url.rsplit(":", 1)[1])
    status, headers, client = await spdy_upgrade(port, "/portForward/ns/web", ["portforward.k8s.io"])
    assert status == 101 and headers["x-stream-protocol-version"] == "portforward.k8s.io"
    assert isinstance(client, SpdyTestClient)
    error = await client.open({"streamType": "error", "port": "1", "requestID": "0"})
    data = await client.open({"streamType": "data", "port": "1", "requestID": "0"})
    await client.until(lambda: error in client.fin and data in client.fin)
    assert b"error forwarding port 1 to pod web" in client.data[error]
    client.writer.close()
