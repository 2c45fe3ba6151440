"""A ``kubelite server`` (or ``up``) in a subprocess, for e2e tests and the acceptance run.

Starts the real console script with a fresh data dir, waits until the API
server answers ``/readyz`` over HTTPS with the cluster CA and the admin
kubeconfig is written, and stops it with SIGTERM, as a user or systemd would.
Used by ``tests/e2e/conftest.py`` and ``tests/e2e/run_acceptance.py``.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import yaml

KUBECTL = Path("/usr/bin/kubectl")


class Kubectl(Protocol):
    """The ``kubectl`` fixture: runs kubectl against the server, returns the CompletedProcess;
    ``check=True`` fails with kubectl's output when it exits non-zero."""

    def __call__(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]: ...


def kubelite_command() -> list[str]:
    """The ``kubelite`` console script beside this Python, else ``python -m kubelite.cli.main``."""
    script = Path(sys.executable).parent / "kubelite"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kubelite.cli.main"]


class KubeliteServer:
    """One ``kubelite server`` process. ``start()`` returns once it serves; ``stop()`` returns
    its exit status. Port 0 (the default) lets the server pick a free port, read back from
    the kubeconfig it writes, so parallel runs never race for a port."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        args: Sequence[str] = (),
        command: str = "server",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.args = list(args)
        self.command = command
        self.log_path = log_path or data_dir.parent / f"{data_dir.name}.log"
        self.kubeconfig = data_dir / "kubeconfig.yaml"
        self.ca_cert = data_dir / "pki" / "ca.crt"
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> KubeliteServer:
        argv = [
            *kubelite_command(),
            self.command,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.args,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"kubelite {self.command} exited with {code} before it was ready:\n{self.log_tail()}"
                )
            if self.kubeconfig.is_file():
                try:
                    self.url = self._server_url()
                    status = self._get("/readyz")
                    if status == 200:
                        return
                    last = f"/readyz answered {status}"
                except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
                    last = repr(e)
            time.sleep(0.1)
        raise TimeoutError(f"kubelite {self.command} not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def _server_url(self) -> str:
        doc = yaml.safe_load(self.kubeconfig.read_text())
        url: str = doc["clusters"][0]["cluster"]["server"]
        return url

    def _get(self, path: str) -> int:
        context = (
            ssl.create_default_context(cafile=str(self.ca_cert)) if self.url.startswith("https") else None
        )
        try:
            with urllib.request.urlopen(self.url + path, timeout=5, context=context) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status (None if never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def env(self, home: Path | None = None) -> dict[str, str]:
        """The environment for a client of this server: KUBECONFIG, and HOME if given (kubectl's
        discovery cache lives there; a fresh one per server avoids a stale cache on a reused port)."""
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        if home is not None:
            env["HOME"] = str(home)
        return env


class Component:
    """A ``kubelite`` subcommand (``kubelite agent ...``, ``kubelite scheduler ...``) running as a
    child process, its output in a log file."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*kubelite_command(), *argv], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> None:
        assert self.proc.poll() is None, self.log()

    def stop(self) -> int:
        """SIGTERM, then its exit status (AssertionError, after a kill, if it does not exit in 20 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"no exit 20 s after SIGTERM:\n{self.log()}") from None


@contextmanager
def running_server(base: Path, args: Sequence[str] = ()) -> Iterator[KubeliteServer]:
    """A ``kubelite server`` on ``base/data`` (its log in ``base/server.log``) for the block; it
    must then stop with exit status 0 (AssertionError with the end of its log otherwise)."""
    srv = KubeliteServer(base / "data", args=list(args), log_path=base / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, f"kubelite server exited with {code}:\n{srv.log_tail()}"
