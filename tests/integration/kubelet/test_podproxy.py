"""kubectl logs, exec and port-forward through the API server to a kubelet API.

An in-process HTTPS API server and, on its loop, a ``KubeletServer`` with a
serving certificate from the cluster CA that accepts only the API server's
kubelet client certificate. The node's kubelet endpoint is that server; the
pod's containers live in a fake runtime whose exec echoes
(tests/unit/kubelet/streams_fakes.py), and port-forward reaches a TCP echo
server on the host's loopback (the lookup gives the pod no network namespace).
The real kubectl drives it all: the default one (1.32: WebSocket for exec,
SPDY tunnelled through WebSocket for port-forward) and 1.29 (SPDY only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "kubelet"))

from streams_fakes import EchoRuntime, FakeLookup, echo_server, run_pod

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.auth.certs import PKI, write_kubeconfig
from kubelite.apiserver.config import ServerConfig
from kubelite.kubelet.runtime.shimio import format_log_line
from kubelite.kubelet.server import KubeletServer, client_cert_authenticator, serving_ssl_context
from kubelite.kubelet.streams import websocket

KUBECTL = Path("/usr/bin/kubectl")
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
NS = "default"

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason=f"{KUBECTL} is not installed")


@dataclass
class Cluster:
    loop: asyncio.AbstractEventLoop
    kubeconfig: Path
    cache_dir: Path
    runtime: EchoRuntime
    lookup: FakeLookup
    logs: Path
    echo_port: int

    def call(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def kubectl(
        self, *args: str, binary: Path = KUBECTL, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(binary), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def set_running(self, pod: str) -> None:
        """What the node agent would report (kubectl port-forward wants a running pod)."""
        status = {"status": {"phase": "Running"}}
        done = self.kubectl(
            "patch", "pod", pod, "--subresource=status", "--type=merge", "-p", json.dumps(status)
        )
        assert done.returncode == 0, done.stderr

    def popen(self, *args: str, binary: Path = KUBECTL) -> subprocess.Popen[str]:
        argv = [str(binary), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kubelet_serving_cert(pki: PKI, out: Path) -> tuple[str, str]:
    """A serving certificate for 127.0.0.1 signed by the cluster CA (what the node agent would get)."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:node-1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = out / "kubelet.crt", out / "kubelet.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("podproxy")
    config = ServerConfig(data_dir=base / "data", port=0, tls=True, store="memory")
    server = APIServer(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(server.run(started))
        await asyncio.wait({task, asyncio.create_task(started.wait())}, return_when=asyncio.FIRST_COMPLETED)
        ready.set()
        await task

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(30) and server.url, "the API server did not start"
    pki = PKI.at(config.pki_dir)
    kubeconfig = write_kubeconfig(base / "kubeconfig", server.url, pki)

    runtime = EchoRuntime()
    lookup = FakeLookup()
    cert, key = _kubelet_serving_cert(pki, base)
    kubelet = KubeletServer(
        lookup,
        runtime,
        ssl_context=serving_ssl_context(cert, key, str(pki.ca_cert)),
        authenticate=client_cert_authenticator(),
        node_name="node-1",
    )
    logs = base / "logs"
    logs.mkdir()

    async def setup() -> tuple[int, int, object]:
        port = await kubelet.start("127.0.0.1", 0)
        await run_pod(
            runtime, lookup, NS, "web", {"app": str(logs / "app-1.log")}, {"app": ["one", "two", "three"]}
        )
        echo = echo_server()
        echo_port = await echo.__aenter__()
        return port, echo_port, echo

    kubelet_port, echo_port, echo = asyncio.run_coroutine_threadsafe(setup(), loop).result(30)
    running = Cluster(loop, kubeconfig, base / "cache", runtime, lookup, logs, echo_port)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]},
    }
    for obj in (node, pod):
        done = running.kubectl("create", "-f", "-", input=json.dumps(obj))
        assert done.returncode == 0, done.stderr
    status = {
        "status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        }
    }
    done = running.kubectl(
        "patch", "node", "node-1", "--subresource=status", "--type=merge", "-p", json.dumps(status)
    )
    assert done.returncode == 0, done.stderr
    running.set_running("web")
    yield running
    asyncio.run_coroutine_threadsafe(kubelet.close(), loop).result(10)
    asyncio.run_coroutine_threadsafe(echo.__aexit__(None, None, None), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(server.stop)
    thread.join(15)


def _binaries() -> list[Path]:
    """The default kubectl (1.32: WebSocket) and the older ones of other wire paths: 1.29 (SPDY
    only), 1.30 (WebSocket exec, SPDY port-forward), 1.31 (first with WebSocket-tunnelled SPDY)."""
    others = [KUBECTL_DIR / f"kubectl.1.{minor}" for minor in (29, 30, 31)]
    return [KUBECTL, *(p for p in others if p.exists())]


# --- logs -----------------------------------------------------------------------------------------


def test_logs(cluster: Cluster) -> None:
    done = cluster.kubectl("logs", "web")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "one\ntwo\nthree\n"
    assert cluster.kubectl("logs", "web", "-c", "app", "--tail=1").stdout == "three\n"
    stamped = cluster.kubectl("logs", "web", "--timestamps").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two", "three"]
    assert stamped[0].split(" ")[0].endswith("Z")
    assert cluster.kubectl("logs", "web", "--limit-bytes=6").stdout == "one\ntw"


def test_logs_previous_and_errors(cluster: Cluster) -> None:
    done = cluster.kubectl("logs", "web", "--previous")
    assert done.returncode != 0
    assert 'previous terminated container "app" in pod "web" not found' in done.stderr
    previous = cluster.logs / "app-0.log"
    previous.write_bytes(format_log_line("stdout", b"before the restart", False))
    target = cluster.lookup.find(NS, "web", "app")
    assert target is not None
    cluster.lookup.previous[(NS, "web", "app")] = type(target)("old", str(previous), target.runtime)
    try:
        assert cluster.kubectl("logs", "web", "-p").stdout == "before the restart\n"
    finally:
        del cluster.lookup.previous[(NS, "web", "app")]
    done = cluster.kubectl("logs", "web", "-c", "nope")
    assert done.returncode != 0 and "container nope is not valid for pod web" in done.stderr


def test_logs_follow(cluster: Cluster) -> None:
    asyncio.run_coroutine_threadsafe(
        run_pod(
            cluster.runtime,
            cluster.lookup,
            NS,
            "tail",
            {"app": str(cluster.logs / "tail.log")},
            {"app": ["first"]},
        ),
        cluster.loop,
    ).result(10)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tail", "namespace": NS},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]},
    }
    assert cluster.kubectl("create", "-f", "-", input=json.dumps(pod)).returncode == 0
    proc = cluster.popen("logs", "-f", "tail")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "first\n"
        with open(cluster.logs / "tail.log", "ab") as f:
            f.write(format_log_line("stdout", b"a long ", True))
            f.write(format_log_line("stdout", b"line", False))
        assert proc.stdout.readline() == "a long line\n"
        target = cluster.lookup.find(NS, "tail", "app")
        assert target is not None
        cluster.call(cluster.runtime.stop_container(target.container_id, 1))
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


# --- exec -----------------------------------------------------------------------------------------


def test_exec_with_the_python_client(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``kubernetes`` package's exec (websocket-client, ``v4.channel.k8s.io``) answers our
    opening ping, so its output is not held back until ``PONG_WAIT``."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    monkeypatch.setattr(websocket, "PONG_WAIT", 60.0)
    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    started = time.monotonic()
    out = stream(
        api.connect_get_namespaced_pod_exec,
        "web",
        NS,
        command=["echo", "hello", "python"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )
    assert out == "hello python\n"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("binary", _binaries(), ids=lambda p: p.name)
def test_exec(cluster: Cluster, binary: Path) -> None:
    done = cluster.kubectl("exec", "web", "--", "echo", "hello", "world", binary=binary)
    assert (done.returncode, done.stdout) == (0, "hello world\n"), done.stderr
    done = cluster.kubectl("exec", "-i", "web", "-c", "app", "--", "cat", binary=binary, input="piped\nin\n")
    assert (done.returncode, done.stdout) == (0, "piped\nin\n"), done.stderr
    done = cluster.kubectl("exec", "web", "--", "fail", "3", binary=binary)
    assert done.returncode == 3
    assert "oops" in done.stderr and "command terminated with exit code 3" in done.stderr


def test_exec_errors(cluster: Cluster) -> None:
    done = cluster.kubectl("exec", "web", "-c", "nope", "--", "echo")
    assert done.returncode != 0 and "container nope is not valid for pod web" in done.stderr
    done = cluster.kubectl("exec", "missing", "--", "echo")
    assert done.returncode != 0 and 'pods "missing" not found' in done.stderr


# --- port-forward ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _echo_through(port: int, payload: bytes) -> bytes:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
                return got
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("binary", _binaries(), ids=lambda p: p.name)
def test_port_forward(cluster: Cluster, binary: Path) -> None:
    local = _free_port()
    proc = cluster.popen("port-forward", "pod/web", f"{local}:{cluster.echo_port}", binary=binary)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{local}" in line, proc.stderr.read() if proc.stderr else line
        assert _echo_through(local, b"ping") == b"ping"
        big = os.urandom(300_000)
        assert _echo_through(local, big) == big
        assert _echo_through(local, b"again") == b"again"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_forward_refused(cluster: Cluster) -> None:
    local, closed = _free_port(), _free_port()
    proc = cluster.popen("port-forward", "pod/web", f"{local}:{closed}")
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
            s.settimeout(10)
            assert s.recv(10) == b""
        assert proc.wait(15) != 0  # kubectl gives up on a pod port that refuses
        assert proc.stderr is not None and "error forwarding port" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("binary", _binaries(), ids=lambda p: p.name)
def test_exec_tty(cluster: Cluster, binary: Path) -> None:
    """``exec -it`` from a terminal: the terminal's size reaches the session, keys reach stdin."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    argv = [str(binary), "--kubeconfig", str(cluster.kubeconfig), "--cache-dir", str(cluster.cache_dir)]
    proc = subprocess.Popen(
        [*argv, "exec", "-it", "web", "--", "size"], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"111x33" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                out += os.read(master, 4096)
        assert b"111x33" in out
        os.write(master, b"q")
        assert proc.wait(30) == 0
    finally:
        os.close(master)
        proc.kill()
        proc.wait()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/sbin/ip").exists(), reason="needs root and ip")
def test_connect_inside_a_network_namespace(tmp_path: Path) -> None:
    """port-forward's dialer reaches 127.0.0.1 of the pod's namespace, not the host's."""
    import uuid

    from kubelite.kubelet.streams.portforward import connect_in_netns

    name = f"kl-pf-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        script = (
            "import socket\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "print(s.getsockname()[1], flush=True)\n"
            "c, _ = s.accept(); c.sendall(b'inside:' + c.recv(100)); c.close()\n"
        )
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        port = int(server.stdout.readline())

        async def talk() -> bytes:
            with pytest.raises(OSError):  # nobody listens on the host's loopback at that port
                await connect_in_netns("", port)
            reader, writer = await connect_in_netns(f"/var/run/netns/{name}", port)
            writer.write(b"hello")
            data = await reader.read(100)
            writer.close()
            # the worker thread that entered the pod's namespace came back to the host's
            host = os.readlink("/proc/thread-self/ns/net")
            seen = await asyncio.gather(
                *(asyncio.to_thread(os.readlink, "/proc/thread-self/ns/net") for _ in range(8))
            )
            assert set(seen) == {host}
            return data

        assert asyncio.run(talk()) == b"inside:hello"
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "delete", name], check=False)
