"""A fake node for the kubelet API: a runtime whose exec echoes, a lookup, a TCP echo server.

Shared by the kubelet server's unit tests and the pod-proxy integration tests
(tests/integration/kubelet/test_podproxy.py puts this folder on sys.path).
Exec commands of ``EchoRuntime``: ``cat`` copies stdin to stdout until stdin
closes; ``echo words..`` prints them; ``fail <code>`` writes ``oops`` to stderr
and exits with the code; ``size`` prints each terminal size it is given until
stdin closes or sends a ``q``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from kubelite.kubelet.runtime.fake import FakeBehavior, FakeRuntime
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ExecSession,
    RuntimeFailure,
    SandboxConfig,
)
from kubelite.kubelet.server import ContainerTarget, PodTarget


class EchoSession:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._sizes: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.code = 0
        self.killed = False

    async def write_stdin(self, data: bytes) -> None:
        self._stdin.put_nowait(data)

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(None)

    async def resize(self, width: int, height: int) -> None:
        self._sizes.put_nowait((width, height))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        verb, args = self.command[0], self.command[1:]
        if verb == "cat":
            while (data := await self._stdin.get()) is not None:
                yield 1, data
        elif verb == "echo":
            yield 1, " ".join(args).encode() + b"\n"
        elif verb == "fail":
            yield 2, b"oops\n"
            self.code = int(args[0])
        elif verb == "size":
            stdin_done = asyncio.ensure_future(self._stdin_closed())
            while True:
                size = asyncio.ensure_future(self._sizes.get())
                done, _ = await asyncio.wait({size, stdin_done}, return_when=asyncio.FIRST_COMPLETED)
                if size in done:
                    yield 1, b"%dx%d\n" % size.result()
                    continue
                size.cancel()
                break
        else:
            yield 2, f"{verb}: not found\n".encode()
            self.code = 127

    async def _stdin_closed(self) -> None:
        while (data := await self._stdin.get()) is not None and b"q" not in data:
            pass

    async def wait(self) -> int:
        return self.code

    async def kill(self) -> None:
        self.killed = True
        self._stdin.put_nowait(None)


class EchoRuntime(FakeRuntime):
    """The fake runtime, with exec sessions that do something (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[EchoSession] = []

    async def exec(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        c = self._get(container_id)
        if c.status.state != ContainerState.RUNNING:
            raise RuntimeFailure(f"container {container_id} is not running")
        session = EchoSession(command)
        self.sessions.append(session)
        return session


class FakeLookup:
    """``ContainerLookup`` over a dict of pods; ``previous`` attempts by (ns, pod, container)."""

    def __init__(self) -> None:
        self.pod_targets: dict[tuple[str, str], PodTarget] = {}
        self.previous: dict[tuple[str, str, str], ContainerTarget] = {}

    def find(
        self, namespace: str, pod: str, container: str, previous: bool = False
    ) -> ContainerTarget | None:
        if previous:
            return self.previous.get((namespace, pod, container))
        target = self.pod_targets.get((namespace, pod))
        return None if target is None else target.containers.get(container)

    def default_container(self, namespace: str, pod: str) -> str | None:
        target = self.pod_targets.get((namespace, pod))
        if target is None:
            return None
        return next(iter(target.containers), "")

    async def settled(self, namespace: str, pod: str) -> None:
        return None

    def pod(self, namespace: str, pod: str) -> PodTarget | None:
        return self.pod_targets.get((namespace, pod))

    def pods(self) -> list[PodTarget]:
        return list(self.pod_targets.values())


async def run_pod(
    runtime: FakeRuntime,
    lookup: FakeLookup,
    namespace: str,
    name: str,
    containers: dict[str, str],
    logs: dict[str, list[str]] | None = None,
) -> PodTarget:
    """Start a pod's containers in ``runtime`` (``containers``: name -> log path) and register it."""
    sandbox = await runtime.run_sandbox(
        SandboxConfig(pod_uid=f"uid-{name}", pod_name=name, namespace=namespace, hostname=name)
    )
    target = PodTarget(namespace, name, uid=f"uid-{name}", netns="")
    for cname, log_path in containers.items():
        runtime.behaviors[cname] = FakeBehavior(logs=(logs or {}).get(cname, []))
        config = ContainerConfig(
            name=cname,
            image="busybox",
            image_id="sha256:0",
            rootfs_layers=[],
            command=["sleep"],
            log_path=log_path,
        )
        cid = await runtime.create_container(sandbox, config)
        await runtime.start_container(cid)
        target.containers[cname] = ContainerTarget(cid, log_path, runtime)
    lookup.pod_targets[(namespace, name)] = target
    return target


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """A TCP echo server on 127.0.0.1 (standing in for a pod's port); yields its port."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


class SpdyTestClient:
    """The client side of SPDY/3.1 for tests: opens streams, collects what the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from kubelite.kubelet.streams import spdy

        self.spdy = spdy
        self.reader = reader
        self.writer = writer
        self.compressor = spdy.HeaderCompressor()
        self.frames = spdy.FrameReader()
        self.next_id = 1
        self.data: dict[int, bytes] = {}
        self.fin: set[int] = set()
        self.replied: set[int] = set()
        self.pings: list[int] = []
        self.goaway = False

    async def open(self, headers: dict[str, str], fin: bool = False) -> int:
        sid = self.next_id
        self.next_id += 2
        self.writer.write(self.spdy.syn_stream_frame(self.compressor, sid, dict(headers), fin))
        await self.writer.drain()
        return sid

    async def send(self, sid: int, data: bytes, fin: bool = False) -> None:
        self.writer.write(self.spdy.data_frame(sid, data, fin))
        await self.writer.drain()

    async def raw(self, frame: bytes) -> None:
        self.writer.write(frame)
        await self.writer.drain()

    async def pump(self) -> bool:
        """Read what is there; False at the end of the connection."""
        chunk = await self.reader.read(65536)
        if not chunk:
            return False
        for frame in self.frames.feed(chunk):
            if not frame.control:
                self.data[frame.stream_id] = self.data.get(frame.stream_id, b"") + frame.payload
                if frame.fin:
                    self.fin.add(frame.stream_id)
            elif frame.type == self.spdy.SYN_REPLY:
                self.replied.add(frame.stream_id)
            elif frame.type == self.spdy.PING:
                self.pings.append(frame.value)
            elif frame.type == self.spdy.GOAWAY:
                self.goaway = True
        return True

    async def until(self, check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        async def loop() -> None:
            while not check():
                if not await self.pump():
                    assert check(), "the connection ended first"
                    return

        await asyncio.wait_for(loop(), timeout)


async def spdy_upgrade(
    port: int, path: str, protocols: list[str], method: str = "POST"
) -> tuple[int, dict[str, str], SpdyTestClient]:
    """Upgrade ``path`` on 127.0.0.1:port to SPDY/3.1; (status, headers, client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
    ]
    lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *rest = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in rest if line)}
    return int(status_line.split()[1]), headers, SpdyTestClient(reader, writer)
