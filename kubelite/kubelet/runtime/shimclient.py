"""The runtime's side of the per-container shim (``shim.py``): launch it, read what it
wrote, attach to it, and the exec sessions built on plain subprocesses.

A container lives in a directory of its own (``<root>/containers/<id>/``):
``container.json`` is written by the runtime at create time; ``shim.json`` just
before start; ``shim.pid``, ``started.json`` and ``exit.json`` by the shim. The
container's state is read from these files alone (plus a liveness check of
the recorded pid against its start time, so a recycled pid is not mistaken
for the container), which is what lets a restarted node agent re-adopt
running containers and still learn exit codes of the ones that ended while it
was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import marshal
import os
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from kubelite.kubelet.runtime import shim as shim_module
from kubelite.kubelet.runtime import shimio
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    Mount,
    Resources,
    RuntimeFailure,
    SecurityConfig,
)

log = logging.getLogger(__name__)

SHIM_DIR = os.path.dirname(os.path.abspath(shim_module.__file__))
# ``-c`` and an import rather than running shim.py as a script: imported modules load from their
# cached bytecode, scripts are compiled on every start. -S -E -s: no site, no environment, fast;
# sys.path[0] (the working directory for -c) becomes the runtime directory, so only the
# stdlib and the shim's own modules can be imported.
SHIM_BOOT = "import sys; sys.path[0] = sys.argv[1]; import shim; sys.exit(shim.main(sys.argv[1:]))"
ATTACH_WAIT = 2.0  # the shim opens attach.sock just after the container started
START_TIMEOUT = 60.0


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when missing, unreadable or not an object.
    (msgspec: the records are read on every status and relist, several times faster than json.)"""
    try:
        with open(path, "rb") as f:
            value = msgspec.json.decode(f.read())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: str, value: dict[str, Any]) -> None:
    """``value`` as JSON in ``path``, replaced atomically."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(msgspec.json.encode(value))
    os.replace(tmp, path)


def pid_alive(pid: int, pid_start: int) -> bool:
    """The process ``pid`` exists and is the one that started at ``pid_start`` (not a zombie)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    fields = data[data.rfind(b")") + 2 :].split()
    if fields[0] == b"Z":
        return False
    return not pid_start or int(fields[19]) == pid_start


def config_from_dict(data: dict[str, Any]) -> ContainerConfig:
    data = dict(data)
    data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
    data["resources"] = Resources(**data.get("resources", {}))
    data["security"] = SecurityConfig(**data.get("security", {}))
    return ContainerConfig(**data)


def config_to_dict(config: ContainerConfig) -> dict[str, Any]:
    """``config`` as plain data (msgspec's C converter: ``dataclasses.asdict`` would deep-copy
    every string, and a container's environment can hold hundreds of service variables)."""
    return msgspec.to_builtins(config)  # type: ignore[no-any-return]


def launch_shim(cdir: str, spec: dict[str, Any], launcher: ShimLauncher) -> dict[str, Any]:
    """Start the shim for the container in ``cdir`` and wait until it says the container runs.

    Blocking (call it in a thread). Returns the shim's message (``pid``,
    ``started_at``); raises ``RuntimeFailure`` with runc's message when the
    container could not start (the shim has then written ``exit.json``).
    """
    ready_r = spawn_shim(cdir, spec, launcher)
    try:
        data = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([ready_r], [], [], left)[0]:
                raise RuntimeFailure("container did not start in time")
            chunk = os.read(ready_r, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(ready_r)
    return _ready_message(data)


async def wait_shim_ready(ready_r: int) -> dict[str, Any]:
    """The shim's message on ``ready_r`` (which this closes), read on the event loop; raises
    ``RuntimeFailure`` as ``launch_shim`` does."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    buf = bytearray()

    def readable() -> None:
        try:
            chunk = os.read(ready_r, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            if not done.done():
                done.set_exception(e)
            return
        buf.extend(chunk)
        if (not chunk or buf.endswith(b"\n")) and not done.done():
            done.set_result(bytes(buf))

    os.set_blocking(ready_r, False)
    loop.add_reader(ready_r, readable)
    try:
        data = await asyncio.wait_for(done, START_TIMEOUT)
    except TimeoutError:
        raise RuntimeFailure("container did not start in time") from None
    finally:
        loop.remove_reader(ready_r)
        os.close(ready_r)
    return _ready_message(data)


def _ready_message(data: bytes) -> dict[str, Any]:
    if not data:
        raise RuntimeFailure("the shim exited without starting the container (see shim.log)")
    message: dict[str, Any] = json.loads(data)
    if "error" in message:
        raise RuntimeFailure(message["error"])
    return message


def spawn_shim(cdir: str, spec: dict[str, Any], launcher: ShimLauncher) -> int:
    """Blocking: start the shim (through ``launcher``'s zygote, else in an interpreter of its
    own); the read end of its ready pipe, for ``wait_shim_ready``."""
    with open(os.path.join(cdir, "shim.spec.tmp"), "wb") as f:
        marshal.dump(spec, f)
    os.replace(os.path.join(cdir, "shim.spec.tmp"), os.path.join(cdir, "shim.spec"))
    for name in ("exit.json", "started.json"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(cdir, name))
    ready_r, ready_w = os.pipe()
    try:
        if not launcher.launch(cdir, ready_w):
            _start_shim_process(cdir, ready_w, launcher.python)
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
    return ready_r


def _start_shim_process(cdir: str, ready_w: int, python: str) -> None:
    """A shim in an interpreter of its own (without a zygote); waits for its short-lived parent."""
    with open(os.path.join(cdir, "shim.log"), "ab") as log:
        proc = subprocess.Popen(
            [python, "-S", "-E", "-s", "-c", SHIM_BOOT, SHIM_DIR, cdir, str(ready_w)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            pass_fds=(ready_w,),
            start_new_session=True,
            cwd="/",
        )
    proc.wait()  # the shim forks at once; this is its short-lived parent


class ShimLauncher:
    """The runtime's end of the shim zygote (``shim.zygote``): one per runtime, started by the
    runtime's start (or on first use), restarted once when it is found gone; it exits when its
    socket closes (the runtime is closed or gone, or this process ends: the socket end is
    close-on-exec, so only this process holds it). Thread-safe."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.sealed: tuple[str, ...] = ()  # executables the zygote keeps sealed copies of (runc)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._broken = False  # could not start: shims get an interpreter of their own

    def launch(self, cdir: str, ready_w: int) -> bool:
        """Ask the zygote for a shim of ``cdir`` reporting on ``ready_w``; False without a zygote."""
        with self._lock:
            for _ in range(2):
                if self._broken:
                    return False
                if self._sock is None:
                    self._start()
                    if self._sock is None:
                        return False
                try:
                    socket.send_fds(self._sock, [os.fsencode(cdir)], [ready_w])
                    return True
                except OSError as e:
                    log.warning("the shim zygote is gone (%s); starting another", e)
                    self._close()
            return False

    def prestart(self) -> None:
        """Start the zygote now (the runtime's start), so the first container does not wait."""
        with self._lock:
            if self._sock is None and not self._broken:
                self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [
                    *(self.python, "-S", "-E", "-s", "-c", SHIM_BOOT, SHIM_DIR),
                    *("zygote", str(theirs.fileno()), *self.sealed),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                cwd="/",
            )
        except OSError as e:
            log.warning("no shim zygote (%s): every shim starts an interpreter of its own", e)
            ours.close()
            self._broken = True
            return
        finally:
            theirs.close()
        self._sock = ours

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            self._proc = None

    def close(self) -> None:
        """Stop the zygote (shims it forked are not affected)."""
        with self._lock:
            self._close()


def status_from_disk(cdir: str, record: dict[str, Any]) -> ContainerStatus:
    """The container's status from its directory (see the module docstring)."""
    config = record["config"]
    status = ContainerStatus(
        id=record["id"],
        sandbox_id=record["sandbox_id"],
        name=config["name"],
        attempt=config.get("attempt", 0),
        state=ContainerState.CREATED,
        image=config.get("image", ""),
        image_id=config.get("image_id", ""),
        created_at=record.get("created_at", 0.0),
        log_path=record.get("log_path", ""),
        labels=dict(config.get("labels", {})),
    )
    started = read_json(os.path.join(cdir, "started.json"))
    exited = read_json(os.path.join(cdir, "exit.json"))
    if started:
        status.pid = started.get("pid", 0)
        status.started_at = started.get("started_at", 0.0)
    if exited:
        status.state = ContainerState.EXITED
        status.pid = 0
        status.exit_code = exited.get("exit_code", 255)
        status.finished_at = exited.get("finished_at", 0.0)
        if exited.get("start_error"):
            status.reason = "StartError"
            status.message = exited["start_error"]
        elif exited.get("oom"):
            status.reason = "OOMKilled"
        elif status.exit_code == 0:
            status.reason = "Completed"
        else:
            status.reason = "Error"
        return status
    if started:
        if pid_alive(started.get("pid", 0), started.get("pid_start", 0)):
            status.state = ContainerState.RUNNING
            return status
        shim = read_json(os.path.join(cdir, "shim.pid")) or {}
        if pid_alive(shim.get("pid", 0), shim.get("pid_start", 0)):
            status.state = ContainerState.RUNNING  # the shim is writing its exit status right now
            return status
        status.state = ContainerState.EXITED
        status.exit_code = 255
        status.reason = "Error"
        status.message = "the container's shim is gone; its exit status is unknown"
        status.pid = 0
        status.finished_at = os.path.getmtime(os.path.join(cdir, "started.json"))
    return status


def shim_alive(cdir: str) -> bool:
    shim = read_json(os.path.join(cdir, "shim.pid")) or {}
    return pid_alive(shim.get("pid", 0), shim.get("pid_start", 0))


# --- sessions -----------------------------------------------------------------------------------


class AttachSession:
    """A client of the shim's ``attach.sock``: the container's own streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cdir: str) -> None:
        self._reader = reader
        self._writer = writer
        self._cdir = cdir
        self._exit_code: int | None = None
        self._done = asyncio.Event()

    @classmethod
    async def connect(cls, cdir: str) -> AttachSession:
        deadline = time.monotonic() + ATTACH_WAIT
        while True:
            dirfd = os.open(cdir, os.O_PATH | os.O_DIRECTORY)
            try:
                reader, writer = await asyncio.open_unix_connection(f"/proc/self/fd/{dirfd}/attach.sock")
                return cls(reader, writer, cdir)
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() >= deadline or not shim_alive(cdir):
                    raise RuntimeFailure("the container's shim does not accept attach connections") from None
            finally:
                os.close(dirfd)
            await asyncio.sleep(0.02)

    async def _send(self, kind: int, payload: bytes) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(shimio.HEADER.pack(kind, len(payload)) + payload)
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def write_stdin(self, data: bytes) -> None:
        await self._send(shimio.STDIN, data)

    async def close_stdin(self) -> None:
        await self._send(shimio.CLOSE_STDIN, b"")

    async def resize(self, width: int, height: int) -> None:
        await self._send(shimio.RESIZE, struct.pack("!HH", width, height))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        header = shimio.HEADER
        try:
            while True:
                try:
                    head = await self._reader.readexactly(header.size)
                    kind, length = header.unpack(head)
                    payload = await self._reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                if kind == shimio.EXIT:
                    self._exit_code = struct.unpack("!i", payload)[0]
                    break
                yield kind, payload
        finally:
            self._done.set()

    async def wait(self) -> int:
        if not self._done.is_set():
            async for _ in self.output():
                pass
        if self._exit_code is None:
            exited = read_json(os.path.join(self._cdir, "exit.json")) or {}
            self._exit_code = int(exited.get("exit_code", 255))
        return self._exit_code

    async def kill(self) -> None:
        """Detach (the container is not touched)."""
        self._writer.close()
        self._done.set()


class SubprocessSession:
    """``exec`` as a local subprocess (``runc exec`` or the command itself), pipes or a pty."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        master: int = -1,
        kill: Callable[[], None] | None = None,
    ) -> None:
        self._proc = proc
        self._master = master
        self._kill = kill
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._open = 0
        self._tasks: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        if master >= 0:
            os.set_blocking(master, False)
            self._open = 1
            loop.add_reader(master, self._read_master)
        else:
            for stream, reader in ((1, proc.stdout), (2, proc.stderr)):
                if reader is not None:
                    self._open += 1
                    self._tasks.append(asyncio.ensure_future(self._pump(stream, reader)))

    @classmethod
    async def start(
        cls,
        argv: list[str],
        *,
        stdin: bool,
        tty: bool,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        kill: Callable[[], None] | None = None,
    ) -> SubprocessSession:
        if tty:
            master, slave = os.openpty()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=_take_controlling_tty,
                )
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            return cls(proc, master, kill)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        return cls(proc, -1, kill)

    def _read_master(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._queue.put_nowait((1, data))
            return
        asyncio.get_running_loop().remove_reader(self._master)
        self._queue.put_nowait(None)

    async def _pump(self, stream: int, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(65536):
                self._queue.put_nowait((stream, data))
        finally:
            self._queue.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if self._master >= 0:
            await asyncio.to_thread(_write_all_blocking, self._master, data)
        elif self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.write(data)
            with contextlib.suppress(ConnectionError):
                await self._proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self._master >= 0:
            await self.write_stdin(b"\x04")  # EOF at the start of a line
        elif self._proc.stdin is not None:
            self._proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        if self._master >= 0:
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while self._open:
            item = await self._queue.get()
            if item is None:
                self._open -= 1
                continue
            yield item

    async def wait(self) -> int:
        code = await self._proc.wait()
        if self._master >= 0:
            # the pty reports EOF only when every holder of its other end is gone
            deadline = time.monotonic() + 1.0
            while self._open and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            self._close_master()
        return 128 - code if code < 0 else code

    def _close_master(self) -> None:
        if self._master >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = -1
            if self._open:
                self._open = 0

    async def kill(self) -> None:
        if self._kill is not None:
            with contextlib.suppress(OSError):
                self._kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        await self._proc.wait()


def _take_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _write_all_blocking(fd: int, data: bytes) -> None:
    import select

    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        data = data[n:]
