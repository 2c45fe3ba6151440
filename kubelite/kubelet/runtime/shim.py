"""The per-container shim: holds a container's stdio, writes its log, records its exit.

One shim process per running container (and per pod's pause process), forked
by the runtime's zygote (``shim.py zygote``, see ``zygote``: one Python
interpreter started per agent rather than per container) or, without one,
started with ``python -S -E -s shim.py <container dir> <ready fd>``, in a new
session either way. It is nobody's child once started, so the container lives
on when the node agent (and its zygote) stop or restart, and its exit status
is written to disk even when nobody is watching.

Stdlib only and no package imports: it is started per container, so its start
time is part of every container start (see ``bench/runc_run.py``).

What it does, in order, for ``mode: runc`` (``mode: process`` forks the
command itself instead of the two runc calls):

1. becomes a child subreaper, so the container's init (orphaned when
   ``runc run --detach`` exits) is re-parented to the shim, which can ``waitpid`` it;
2. ``runc run --detach --pid-file`` with the container's stdio as its own (pipes,
   or a pty whose master arrives over ``--console-socket`` for ``terminal: true``);
3. writes ``started.json`` (``pid``, ``started_at``) and tells the runtime over
   the ready pipe (one JSON line: ``{"pid": ...}`` or ``{"error": ...}``);
4. copies stdout/stderr to the log file in Kubernetes' CRI format and to the
   attached clients of ``attach.sock``;
5. on exit: reads the memory cgroup's OOM-kill count, writes ``exit.json``
   (``exit_code``, ``signal``, ``oom``, ``finished_at``), then ``runc delete
   --force`` (which removes the container's cgroups) and exits.

Files in the container directory: ``shim.spec`` (input: a ``marshal``-ed dict, the runtime runs the same interpreter), ``shim.pid``,
``started.json``, ``exit.json``, ``shim.log`` (the shim's own errors),
``attach.sock``.

Attach protocol (``attach.sock``, both directions): frames of a 5-byte header
``struct.pack("!BI", kind, length)`` and the payload. Client to shim:
``STDIN`` data, ``CLOSE_STDIN``, ``RESIZE`` (``"!HH"`` width, height). Shim to
client: ``STDOUT``, ``STDERR`` data and ``EXIT`` (``"!i"`` exit code) at the end.
Only output written after the client connected is relayed.
"""

from __future__ import annotations

import _signal as signal  # not ``signal``: that one imports enum, and start time matters here
import errno
import marshal
import os
import select
import struct
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

if __package__:  # imported as part of kubelite (tests, the runtime's side)
    from kubelite.kubelet.runtime.shimio import (
        CLOSE_STDIN,
        EXIT,
        HEADER,
        RESIZE,
        STDERR,
        STDIN,
        STDOUT,
        LineWriter,
        _write_json,
        dump_json,
    )
else:  # the shim process: ``import shim`` with only the runtime directory and the stdlib on sys.path
    from shimio import (  # type: ignore[import-not-found,no-redef]
        CLOSE_STDIN,
        EXIT,
        HEADER,
        RESIZE,
        STDERR,
        STDIN,
        STDOUT,
        LineWriter,
        _write_json,
        dump_json,
    )

DRAIN_AFTER_EXIT = 2.0  # seconds to keep reading output held open by leftover processes
MAX_CLIENT_BUFFER = 4 << 20  # a client that falls this far behind is dropped


def _log(cdir: str, message: str) -> None:
    try:
        with open(os.path.join(cdir, "shim.log"), "a") as f:
            f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + message + "\n")
    except OSError:
        pass


def proc_start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return int(data[data.rfind(b")") + 2 :].split()[19])


_libc = None


def _prctl(option: int, arg: int | bytes) -> None:
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _set_subreaper() -> None:
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


# Executables the zygote holds as sealed in-memory copies, inherited by its shims:
# path -> (fd, the file's identity when copied: device, inode, size, mtime).
_SEALED: dict[str, tuple[int, tuple[int, int, int, int]]] = {}
# The seals runc checks for to accept its executable as already cloned (CVE-2019-5736).
_RUNC_SEALS = 0x0001 | 0x0002 | 0x0004 | 0x0008  # F_SEAL_SEAL | SHRINK | GROW | WRITE


def _seal_copy(path: str) -> None:
    """Keep a sealed memfd copy of the executable ``path`` (best effort).

    runc's ``init`` copies runc's 9 MB binary into a sealed memfd and execs that copy on every
    container start, so that a container cannot overwrite runc through /proc/self/exe, unless
    runc already runs from such a copy. Shims exec runc from this one (as runc's own
    ``memfd-bind`` suggests for hosts that start containers often): one copy per zygote instead
    of one copy and one more exec of a Go program per container. (runc's own notes on
    memfd-bind: one copy shared by all starts is as safe, except against kernel bugs that let
    a process write to sealed memory.) Only ELF programs: a script run from a close-on-exec
    descriptor would not find itself."""
    import fcntl

    try:
        with open(path, "rb") as src:
            st = os.fstat(src.fileno())
            if src.read(4) != b"\x7fELF":
                return
            src.seek(0)
            fd = os.memfd_create("kubelite-" + os.path.basename(path), os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            try:
                while chunk := src.read(1 << 20):
                    os.write(fd, chunk)
                fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _RUNC_SEALS)
            except OSError:
                os.close(fd)
                return
    except (AttributeError, OSError):
        return
    _SEALED[path] = (fd, _identity(st))


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _executable(path: str) -> str:
    """``path``, or the zygote's sealed copy of it (resolved before close-on-exec applies)
    while the file on disk is still the one copied: an upgraded runc (a security fix) is
    used at once, from the disk, until the next zygote copies it."""
    sealed = _SEALED.get(path)
    if sealed is None:
        return path
    try:
        if _identity(os.stat(path)) != sealed[1]:
            return path
    except OSError:
        return path
    return f"/proc/self/fd/{sealed[0]}"


def _drop_sealed() -> None:
    """A shim whose container started needs the copies no more (later runc calls run from
    the disk): it does not keep them alive past the zygote that made them."""
    for fd, _ in _SEALED.values():
        os.close(fd)
    _SEALED.clear()


def _spawn(argv: list[str], stdio: tuple[int, int, int]) -> int:
    actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(stdio)]
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            return -1
        except InterruptedError:
            continue


def _runc_error(cdir: str, fallback: str) -> str:
    """The last error runc logged (``--log-format json``), else ``fallback``."""
    import json

    message = ""
    try:
        with open(os.path.join(cdir, "runc.log")) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal"):
                    message = entry.get("msg", "")
    except OSError:
        pass
    return message or fallback


class Shim:
    def __init__(self, cdir: str, spec: dict) -> None:
        self.cdir = cdir
        self.spec = spec
        self.tty = bool(spec.get("tty"))
        self.want_stdin = bool(spec.get("stdin"))
        self.pid = 0
        self.exit_status: int | None = None
        self.readers: dict[int, LineWriter] = {}  # output fd -> its log writer
        self.stream_of: dict[int, int] = {}  # output fd -> STDOUT/STDERR
        self.stdin_fd = -1  # our end of the container's stdin (or the pty master)
        self.stdin_buf = b""
        self.clients: dict[int, tuple[socket.socket, bytearray, bytearray]] = {}
        self.listener: socket.socket | None = None
        self.dirfd = os.open(cdir, os.O_RDONLY | os.O_DIRECTORY)
        self.sock_path = f"/proc/self/fd/{self.dirfd}/attach.sock"

    # --- starting -------------------------------------------------------------------------------
    def start(self) -> dict:
        """Starts the container; returns the message for the ready pipe."""
        log_path = self.spec.get("log_path") or os.path.join(self.cdir, "container.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        child_stdio: list[int] = [devnull, devnull, devnull]
        close_after: list[int] = []
        if not self.tty:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            child_stdio[1], child_stdio[2] = out_w, err_w
            close_after += [out_w, err_w]
            self.readers[out_r] = LineWriter("stdout", self.log_fd)
            self.readers[err_r] = LineWriter("stderr", self.log_fd)
            self.stream_of[out_r], self.stream_of[err_r] = STDOUT, STDERR
            if self.want_stdin:
                in_r, in_w = os.pipe()
                child_stdio[0] = in_r
                close_after.append(in_r)
                self.stdin_fd = in_w
        if self.spec.get("mode") == "process":
            result = self._start_process(child_stdio)
        else:
            result = self._start_runc(child_stdio)
        for fd in close_after:
            os.close(fd)
        os.close(devnull)
        if "error" in result:
            return result
        if self.tty:
            master = result.pop("master")
            self.readers[master] = LineWriter("stdout", self.log_fd)
            self.stream_of[master] = STDOUT
            self.stdin_fd = master  # input and window size both go to the pty master
        for fd in self.readers:
            os.set_blocking(fd, False)
        if self.stdin_fd >= 0:
            os.set_blocking(self.stdin_fd, False)
        return result

    def _started(self, pid: int) -> dict:
        self.pid = pid
        info = {"pid": pid, "started_at": time.time(), "pid_start": proc_start_time(pid)}
        _write_json(os.path.join(self.cdir, "started.json"), info)
        return info

    def _start_runc(self, stdio: list[int]) -> dict:
        spec = self.spec
        runc = [
            _executable(spec["runc"]),
            "--root",
            spec["runc_root"],
            "--log",
            os.path.join(self.cdir, "runc.log"),
        ]
        runc += ["--log-format", "json"]
        pid_file = os.path.join(self.cdir, "container.pid")
        # one runc call: ``run --detach`` is create + start without a second runc process
        argv = [*runc, "run", "--detach", "--bundle", spec["bundle"], "--pid-file", pid_file]
        console = None
        if self.tty:
            import socket

            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            console.bind(f"/proc/self/fd/{self.dirfd}/console.sock")
            console.listen(1)
            argv += ["--console-socket", f"/proc/{os.getpid()}/fd/{self.dirfd}/console.sock"]
        argv.append(spec["id"])
        # runc's own errors go to its log file and to stderr, which is the container's pipe
        # here: on failure nothing of that pipe is logged, on success runc wrote nothing to it
        create = _spawn(argv, (stdio[0], stdio[1], stdio[2]))
        _drop_sealed()
        master = -1
        if console is not None:
            master = self._receive_master(console, create)
        code = _wait(create)
        if console is not None:
            console.close()
            _unlink(os.path.join(self.cdir, "console.sock"))
        if code != 0 or (self.tty and master < 0):
            return {"error": _runc_error(self.cdir, f"runc run exited with {code}")}
        with open(pid_file) as f:
            pid = int(f.read().strip())
        result = self._started(pid)
        if self.tty:
            result["master"] = master
        return result

    def _receive_master(self, console: socket.socket, create: int) -> int:
        import socket

        console.settimeout(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn, _ = console.accept()
            except TimeoutError:
                if os.waitpid(create, os.WNOHANG)[0]:  # runc failed before sending the pty
                    return -1
                continue
            with conn:
                _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
            return fds[0] if fds else -1
        return -1

    def _start_process(self, stdio: list[int]) -> dict:
        spec = self.spec
        master = -1
        slave = -1
        if self.tty:
            master, slave = os.openpty()
            stdio = [slave, slave, slave]
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # the container process
            try:
                os.close(err_r)
                os.setsid()
                if self.tty:
                    import fcntl
                    import termios

                    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for i, fd in enumerate(stdio):
                    os.dup2(fd, i)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                os.chdir(spec.get("cwd") or "/")
                os.execve(spec["argv"][0], spec["argv"], spec.get("env") or {})
            except BaseException as e:
                try:
                    os.write(err_w, repr(e).encode())
                finally:
                    os._exit(127)
        os.close(err_w)
        if slave >= 0:
            os.close(slave)
        failure = b""
        while True:
            chunk = os.read(err_r, 4096)
            if not chunk:
                break
            failure += chunk
        os.close(err_r)
        if failure:
            _wait(pid)
            return {"error": failure.decode(errors="replace")}
        result = self._started(pid)
        if self.tty:
            result["master"] = master
        return result

    # --- the loop -------------------------------------------------------------------------------
    def serve(self, wake_r: int) -> None:
        import socket  # only now: the container is running and the runtime has been told

        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _unlink(os.path.join(self.cdir, "attach.sock"))
        self.listener.bind(self.sock_path)
        self.listener.listen(16)
        self.listener.setblocking(False)
        drain_deadline: float | None = None
        self._reap()
        while True:
            if self.exit_status is not None:
                if drain_deadline is None:
                    drain_deadline = time.monotonic() + DRAIN_AFTER_EXIT
                if not self.readers or time.monotonic() >= drain_deadline:
                    break
            rlist: list = [wake_r, self.listener, *self.readers]
            wlist: list = []
            for fd, (_conn, _inbuf, outbuf) in self.clients.items():
                rlist.append(fd)
                if outbuf:
                    wlist.append(fd)
            if self.stdin_buf and self.stdin_fd >= 0:
                wlist.append(self.stdin_fd)
            timeout = None if drain_deadline is None else max(0.0, drain_deadline - time.monotonic())
            try:
                readable, writable, _ = select.select(rlist, wlist, [], timeout)
            except InterruptedError:
                continue
            for fd in readable:
                if fd == wake_r:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self._reap()
                elif fd is self.listener:
                    self._accept()
                elif fd in self.readers:
                    self._read_output(fd)
                elif fd in self.clients:
                    self._read_client(fd)
            for fd in writable:
                if fd == self.stdin_fd:
                    self._flush_stdin()
                elif fd in self.clients:
                    self._flush_client(fd)
        for fd in list(self.readers):
            self._close_reader(fd)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.exit_status = status

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:  # EIO: the pty's other side is gone
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._close_reader(fd)
            return
        self.readers[fd].feed(data)
        frame = HEADER.pack(self.stream_of[fd], len(data)) + data
        for cfd in list(self.clients):
            outbuf = self.clients[cfd][2]
            outbuf += frame
            if len(outbuf) > MAX_CLIENT_BUFFER:
                self._drop_client(cfd)

    def _close_reader(self, fd: int) -> None:
        writer = self.readers.pop(fd)
        writer.close()
        if fd != self.stdin_fd:
            os.close(fd)

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.clients[conn.fileno()] = (conn, bytearray(), bytearray())

    def _read_client(self, fd: int) -> None:
        conn, inbuf, _ = self.clients[fd]
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client(fd)
            return
        inbuf += data
        while len(inbuf) >= HEADER.size:
            kind, length = HEADER.unpack_from(inbuf)
            if len(inbuf) < HEADER.size + length:
                break
            payload = bytes(inbuf[HEADER.size : HEADER.size + length])
            del inbuf[: HEADER.size + length]
            self._client_frame(kind, payload)

    def _client_frame(self, kind: int, payload: bytes) -> None:
        if kind == STDIN and self.stdin_fd >= 0 and self.want_stdin:
            self.stdin_buf += payload
            self._flush_stdin()
        elif kind == CLOSE_STDIN and self.stdin_fd >= 0 and self.want_stdin and not self.tty:
            if self.spec.get("stdin_once"):
                os.close(self.stdin_fd)
                self.stdin_fd = -1
                self.stdin_buf = b""
        elif kind == RESIZE and self.tty and self.stdin_fd >= 0:
            import fcntl
            import termios

            width, height = struct.unpack("!HH", payload[:4])
            fcntl.ioctl(self.stdin_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def _flush_stdin(self) -> None:
        try:
            n = os.write(self.stdin_fd, self.stdin_buf)
        except BlockingIOError:
            return
        except OSError:  # the container closed its stdin
            self.stdin_buf = b""
            return
        self.stdin_buf = self.stdin_buf[n:]

    def _flush_client(self, fd: int) -> None:
        conn, _, outbuf = self.clients[fd]
        try:
            n = conn.send(outbuf)
        except BlockingIOError:
            return
        except OSError:
            self._drop_client(fd)
            return
        del outbuf[:n]

    def _drop_client(self, fd: int) -> None:
        conn, _, _ = self.clients.pop(fd)
        conn.close()

    # --- the end --------------------------------------------------------------------------------
    def finish(self) -> None:
        status = self.exit_status if self.exit_status is not None else 0
        code = os.waitstatus_to_exitcode(status)
        sig = 0
        if code < 0:
            sig = -code
            code = 128 + sig
        oom = False
        memcg = self.spec.get("memory_cgroup")
        if memcg:
            try:
                with open(os.path.join(memcg, "memory.oom_control")) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            oom = True
            except OSError:
                pass
        _write_json(
            os.path.join(self.cdir, "exit.json"),
            {"exit_code": code, "signal": sig, "oom": oom, "finished_at": time.time()},
        )
        frame = HEADER.pack(EXIT, 4) + struct.pack("!i", code)
        for fd in list(self.clients):
            conn, _, outbuf = self.clients[fd]
            try:
                conn.setblocking(True)
                conn.settimeout(1.0)
                conn.sendall(bytes(outbuf) + frame)
            except OSError:
                pass
            self._drop_client(fd)
        if self.listener is not None:
            self.listener.close()
        _unlink(os.path.join(self.cdir, "attach.sock"))
        if self.spec.get("mode") != "process":
            spec = self.spec
            devnull = os.open(os.devnull, os.O_RDWR)
            argv = [spec["runc"], "--root", spec["runc_root"], "delete", "--force", spec["id"]]
            _wait(_spawn(argv, (devnull, devnull, devnull)))
            os.close(devnull)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def main(argv: list[str]) -> int:
    """``shim.py <container dir> <ready fd>`` (one shim), or ``shim.py zygote <socket fd>
    [<executable to keep a sealed copy of> ...]``."""
    if argv[1] == "zygote":
        for path in argv[3:]:
            _seal_copy(path)
        return zygote(int(argv[2]))
    cdir, ready_fd = argv[1], int(argv[2])
    if os.fork():
        return 0  # the runtime waits for this one; the shim lives on in the child
    return run(cdir, ready_fd)


def zygote(sock_fd: int) -> int:
    """Fork a shim per request, so no container start pays for a Python interpreter's start.

    The runtime starts one zygote (``shimclient.ShimLauncher``) and sends it one
    ``SOCK_SEQPACKET`` message per container: the container directory, with the ready pipe's
    write end attached (``SCM_RIGHTS``). For each, the zygote forks a child that starts a
    session of its own, points stdin/stdout at /dev/null and stderr at ``shim.log`` (as the
    runtime does for a shim it starts itself) and forks the shim proper, which ``run``s as a
    shim started with ``python shim.py`` would; the child exits at once, so the shim is
    nobody's child and outlives both the zygote and the node agent. The zygote exits when the
    runtime's end of the socket closes (the agent is gone)."""
    import socket

    sock = socket.socket(fileno=sock_fd)
    sock.setblocking(True)
    _prctl(15, b"kubelite-zygote")  # PR_SET_NAME; and ctypes is loaded before the first fork
    import gc

    gc.freeze()  # what the zygote made stays out of the shims' collections: fewer copied pages
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 65536, 4)
        except InterruptedError:
            continue
        except OSError:
            return 0
        if not msg:
            for fd in fds:
                os.close(fd)
            return 0  # the runtime's end is closed
        if not fds:
            continue
        for fd in fds[1:]:
            os.close(fd)
        ready_fd = fds[0]
        try:
            pid = os.fork()
        except OSError:
            os.close(ready_fd)  # the runtime reads EOF: "the shim exited without starting"
            continue
        if pid == 0:
            code = 1
            try:
                sock.close()
                code = _zygote_child(os.fsdecode(msg), ready_fd)
            finally:
                os._exit(code)
        os.close(ready_fd)
        _wait(pid)


def _zygote_child(cdir: str, ready_fd: int) -> int:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(os.path.join(cdir, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)
    if os.fork():
        return 0
    try:
        _prctl(15, b"kubelite-shim")
        code = run(cdir, ready_fd)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    try:
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)


def run(cdir: str, ready_fd: int) -> int:
    """The shim's life, in the process that stays (see the module docstring)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _write_json(
        os.path.join(cdir, "shim.pid"), {"pid": os.getpid(), "pid_start": proc_start_time(os.getpid())}
    )
    shim: Shim | None = None
    spec: dict = {}
    try:
        with open(os.path.join(cdir, "shim.spec"), "rb") as f:
            spec = marshal.load(f)
        if spec.get("mode") != "process":
            _set_subreaper()
        shim = Shim(cdir, spec)
        result = shim.start()
    except BaseException as e:
        result = {"error": f"shim: {e!r}"}
    if "error" in result:
        _write_json(
            os.path.join(cdir, "exit.json"),
            {
                "exit_code": 128,
                "signal": 0,
                "oom": False,
                "finished_at": time.time(),
                "start_error": result["error"],
            },
        )
        _log(cdir, "start failed: " + result["error"])
        if spec.get("mode") == "runc" and spec.get("id"):  # runc may have left a container
            devnull = os.open(os.devnull, os.O_RDWR)
            argv = [spec["runc"], "--root", spec["runc_root"], "delete", "--force", spec["id"]]
            _wait(_spawn(argv, (devnull, devnull, devnull)))
    try:
        os.write(ready_fd, (dump_json(result) + "\n").encode())
    except OSError:
        pass
    os.close(ready_fd)
    if "error" in result or shim is None:
        return 1
    try:
        shim.serve(wake_r)
    except BaseException as e:
        _log(cdir, f"serve: {e!r}")
        while shim.exit_status is None:  # keep the exit status, whatever happened to the output
            signal.pause()
            shim._reap()
    try:
        shim.finish()
    except BaseException as e:
        _log(cdir, f"finish: {e!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
