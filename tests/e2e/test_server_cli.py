"""`kubelite server` as a user meets it: kubectl with the admin kubeconfig, what anonymous
clients may see, the kubeconfig command, restarts that keep the CA and the data, and
static bearer tokens."""

from __future__ import annotations

import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from serverproc import KUBECTL, Kubectl, KubeliteServer, kubelite_command


def get(server: KubeliteServer, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET without a client certificate (an anonymous client unless ``token`` is given)."""
    context = ssl.create_default_context(cafile=str(server.ca_cert))
    request = urllib.request.Request(server.url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_kubectl_lists_the_system_namespaces(kubectl: Kubectl) -> None:
    out = kubectl("get", "namespaces", "-o", "name", check=True).stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(out)


def test_kubernetes_client_with_the_admin_kubeconfig(kube_api_client: Any) -> None:
    from kubernetes.client import CoreV1Api

    names = {ns.metadata.name for ns in CoreV1Api(kube_api_client).list_namespace().items}
    assert "default" in names


def test_anonymous_clients_see_health_version_and_discovery_only(kubelite_server: KubeliteServer) -> None:
    assert get(kubelite_server, "/readyz")[0] == 200
    assert get(kubelite_server, "/livez")[0] == 200
    assert get(kubelite_server, "/version")[0] == 200
    assert get(kubelite_server, "/api")[0] == 200
    assert get(kubelite_server, "/apis/apps/v1")[0] == 200
    code, body = get(kubelite_server, "/api/v1/namespaces")
    assert code == 401
    assert b'"reason":"Unauthorized"' in body


def test_kubeconfig_command_prints_the_written_kubeconfig(kubelite_server: KubeliteServer) -> None:
    out = subprocess.run(
        [*kubelite_command(), "kubeconfig", "--data-dir", str(kubelite_server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == kubelite_server.kubeconfig.read_text()


def test_restart_keeps_the_ca_and_the_objects(tmp_path: Path) -> None:
    server = KubeliteServer(tmp_path / "data").start()
    ca = server.ca_cert.read_bytes()
    try:
        env = server.env(home=tmp_path / "home")
        if KUBECTL.exists():
            subprocess.run(
                [str(KUBECTL), "create", "namespace", "kept"], env=env, check=True, capture_output=True
            )
    finally:
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(20) == 0, server.log_tail()

    again = KubeliteServer(tmp_path / "data", log_path=tmp_path / "again.log").start()
    try:
        assert again.ca_cert.read_bytes() == ca
        if KUBECTL.exists():
            out = subprocess.run(
                [str(KUBECTL), "get", "namespace", "kept", "-o", "name"],
                env=again.env(home=tmp_path / "home2"),
                capture_output=True,
                text=True,
            )
            assert out.stdout.strip() == "namespace/kept", out.stderr
    finally:
        assert again.stop() == 0, again.log_tail()


def test_static_token_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cr3t,alice,1001,"system:masters"\n')
    server = KubeliteServer(tmp_path / "data", args=["--token-auth-file", str(tokens)]).start()
    try:
        assert get(server, "/api/v1/namespaces", token="s3cr3t")[0] == 200
        code, body = get(server, "/api/v1/namespaces", token="wrong")
        assert code == 401, body
    finally:
        assert server.stop() == 0, server.log_tail()


def test_bad_flags_exit_2() -> None:
    result = subprocess.run(
        [*kubelite_command(), "server", "--insecure-http", "--bind-address", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    server = KubeliteServer(tmp_path / "data", args=["--store", "memory"]).start()
    assert server.process is not None
    server.process.send_signal(sig)
    assert server.process.wait(20) == 0, server.log_tail()
    assert "stopped" in server.log_tail()
