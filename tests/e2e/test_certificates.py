"""Certificate signing requests with the real kubectl, and a node agent that joins with a token.

- ``kubectl create -f`` a CertificateSigningRequest, ``kubectl get csr`` shows it
  as Kubernetes prints it, ``kubectl certificate approve`` gets it signed by the
  cluster CA and ``kubectl certificate deny`` leaves one unsigned.
- ``kubelite agent --server URL --token-file FILE --runtime fake`` against a
  ``kubelite server`` with that token: the agent's client CSR is approved and
  signed, the node registers as ``system:node:<name>``, its kubelet-serving CSR
  is approved and signed, and the kubelet API answers over TLS with the issued
  certificate (a handshake verified against the cluster CA, and ``kubectl logs``
  through the API server's proxy). A restarted agent reuses its certificates
  without the token.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serverproc import KUBECTL, Component, Kubectl, KubeliteServer, kubelite_command, running_server

TOKEN = "e2e-bootstrap-0123456789abcdef"
NODE = "joined-by-token"


def csr_manifest(name: str, cn: str, orgs: tuple[str, ...], signer: str, usages: list[str]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    pem = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attrs))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    return json.dumps(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {
                "request": base64.b64encode(pem).decode(),
                "signerName": signer,
                "expirationSeconds": 86400,
                "usages": usages,
            },
        }
    )


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


def csr_rows(kubectl: Kubectl) -> dict[str, list[str]]:
    out = kubectl("get", "csr", check=True).stdout.splitlines()
    assert out[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"], out
    return {line.split()[0]: line.split() for line in out[1:]}


def test_kubectl_get_approve_and_deny(kubectl: Kubectl, kubelite_server: KubeliteServer) -> None:
    usages = ["digital signature", "client auth"]
    signer = "kubernetes.io/kube-apiserver-client"
    for name in ("e2e-approve", "e2e-deny"):
        kubectl("create", "-f", "-", input=csr_manifest(name, name, ("devs",), signer, usages), check=True)
    rows = csr_rows(kubectl)
    assert rows["e2e-approve"][2:] == [signer, "kubelite-admin", "24h", "Pending"]
    assert "approved" in kubectl("certificate", "approve", "e2e-approve", check=True).stdout
    assert "denied" in kubectl("certificate", "deny", "e2e-deny", check=True).stdout

    def settled() -> None:
        rows = csr_rows(kubectl)
        assert rows["e2e-approve"][-1] == "Approved,Issued", rows
        assert rows["e2e-deny"][-1] == "Denied", rows

    eventually(settled)
    pem = kubectl("get", "csr", "e2e-approve", "-o", "jsonpath={.status.certificate}", check=True).stdout
    cert = x509.load_pem_x509_certificate(base64.b64decode(pem))
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(kubelite_server.ca_cert.read_bytes()))
    assert cert.subject.rfc4514_string() == "CN=e2e-approve,O=devs"
    denied = kubectl("get", "csr", "e2e-deny", "-o", "jsonpath={.status.certificate}", check=True).stdout
    assert denied == ""
    # A decision once made stands: kubectl refuses to flip it.
    again = kubectl("certificate", "approve", "e2e-deny")
    assert again.returncode != 0 and "already Denied" in again.stderr


# --------------------------------------------------------------------------------- joining by token


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeliteServer]:
    base = tmp_path_factory.mktemp("token-join")
    tokens = base / "tokens.csv"
    tokens.write_text(f'{TOKEN},system:bootstrap:e2e,bootstrap-1,"system:bootstrappers"\n')
    with running_server(base, ["--token-auth-file", str(tokens)]) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_kubectl(token_server: KubeliteServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} is not installed: the e2e tests drive the real kubectl")
    home = tmp_path_factory.mktemp("token-kubectl")
    base = [str(KUBECTL), "--kubeconfig", str(token_server.kubeconfig), "--cache-dir", str(home / "cache")]

    def run(
        *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*base, *args], input=input, capture_output=True, text=True, timeout=timeout,
            env=token_server.env(home=home),
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)}: {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result

    return run


def wait_node_ready(kubectl: Kubectl, agent: Component, node: str) -> None:
    """Until ``node`` is Ready, as long as ``agent`` runs (60 s at most)."""

    def node_ready() -> None:
        agent.alive()
        out = kubectl("get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
        assert out.stdout == "True", out.stdout + out.stderr

    eventually(node_ready, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_agent_joins_with_a_token(
    token_server: KubeliteServer, token_kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl = token_kubectl
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = _free_port()
    common = [
        "--server", token_server.url,
        "--certificate-authority", str(token_server.ca_cert),
        "--data-dir", str(tmp_path / "agent"),
        "--runtime", "fake",
        "--node-name", NODE,
        "--node-ip", "127.0.0.1",  # the kubelet API listens on loopback only
        "--kubelet-port", str(port),
    ]  # fmt: skip
    agent = Component(["agent", *common, "--token-file", str(token_file)], tmp_path / "agent.log")
    try:
        wait_node_ready(kubectl, agent, NODE)

        def both_issued() -> dict[str, list[str]]:
            agent.alive()
            rows = csr_rows(kubectl)
            by_signer = {r[2]: r for r in rows.values()}
            assert {"kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"} <= set(
                by_signer
            ), rows
            client = by_signer["kubernetes.io/kube-apiserver-client-kubelet"]
            serving = by_signer["kubernetes.io/kubelet-serving"]
            assert client[3] == "system:bootstrap:e2e" and client[-1] == "Approved,Issued", rows
            assert serving[3] == f"system:node:{NODE}" and serving[-1] == "Approved,Issued", rows
            return by_signer

        eventually(both_issued, timeout=60)

        # The kubelet API answers over TLS with the issued certificate, verified by the cluster CA.
        def tls_handshake() -> dict[str, Any]:
            agent.alive()
            ctx = ssl.create_default_context(cafile=str(token_server.ca_cert))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                        return tls.getpeercert()
            except OSError as e:
                raise AssertionError(f"kubelet API: {e}") from e

        peer = eventually(tls_handshake)
        assert ("commonName", f"system:node:{NODE}") in [rdn[0] for rdn in peer["subject"]]
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        pki = tmp_path / "agent" / "agent" / "pki"
        for name in ("kubelet-client.key", "kubelet-client.crt", "kubelet-server.key", "kubelet-server.crt"):
            assert (pki / name).stat().st_mode & 0o077 == 0, name
        # ... and the API server reaches it: a pod's log through the proxy.
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "on-joined-node", "namespace": "default"},
            "spec": {
                "nodeName": NODE,
                "containers": [
                    {"name": "app", "image": "registry.example/app:1", "command": ["sleep", "3600"]}
                ],
            },
        }
        kubectl("create", "-f", "-", input=json.dumps(pod), check=True)

        def pod_running() -> None:
            out = kubectl("get", "pod", "on-joined-node", "-o", "jsonpath={.status.phase}")
            assert out.stdout == "Running", out.stdout + out.stderr

        eventually(pod_running, timeout=60)
        logs = kubectl("logs", "on-joined-node")
        assert logs.returncode == 0, logs.stderr
        assert agent.stop() == 0, agent.log()
        log_text = agent.log()
        assert "waiting for certificate signing request node-csr-" in log_text
        assert "kubelet API serving on port" in log_text

        # Restarted without the token: the stored certificates are enough.
        agent = Component(["agent", *common], tmp_path / "agent-again.log")

        def reused() -> None:
            agent.alive()
            text = agent.log()
            assert "reusing the node client certificate" in text, text
            assert "kubelet API serving on port" in text, text

        eventually(reused, timeout=60)
        tls_handshake()
    finally:
        code = agent.stop()
        kubectl("delete", "pod", "on-joined-node", "--grace-period=0", "--force", "--wait=false")
    assert code == 0, agent.log()


def test_an_agent_joins_with_the_node_token_alone(
    token_server: KubeliteServer, token_kubectl: Kubectl, tmp_path: Path
) -> None:
    """``kubelite agent --server URL --token-file <data-dir>/node-token``, no CA file: the agent
    trusts the CA the token pins (read from kube-public/cluster-info), then joins as above.
    A token pinning another CA is refused before the token is sent anywhere."""
    node_token = token_server.data_dir / "node-token"
    assert node_token.stat().st_mode & 0o077 == 0
    text = node_token.read_text().strip()
    assert text.startswith("K10") and "::" in text
    # cluster-info is readable without credentials (and nothing else of kube-public)
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    base = token_server.url + "/api/v1/namespaces/kube-public/configmaps"
    with urllib.request.urlopen(base + "/cluster-info", context=unverified, timeout=10) as answer:
        assert "certificate-authority-data" in json.load(answer)["data"]["kubeconfig"]
    with pytest.raises(urllib.error.HTTPError) as refused_list:
        urllib.request.urlopen(base, context=unverified, timeout=10)
    assert refused_list.value.code == 401
    # the token asks for node certificates and nothing else (no cluster-admin credential)
    bearer = {"Authorization": "Bearer " + text.split("::", 1)[1]}
    verified = ssl.create_default_context(cafile=str(token_server.ca_cert))
    for path, code in (("/api/v1/namespaces/kube-system/secrets", 403), ("/api/v1/nodes", 403)):
        with pytest.raises(urllib.error.HTTPError) as forbidden:
            urllib.request.urlopen(
                urllib.request.Request(token_server.url + path, headers=bearer), context=verified
            )
        assert forbidden.value.code == code, path
    csrs = token_server.url + "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    with urllib.request.urlopen(urllib.request.Request(csrs, headers=bearer), context=verified) as answer:
        assert json.load(answer)["kind"] == "CertificateSigningRequestList"

    name = "joined-by-node-token"
    common = [
        "--server", token_server.url,
        "--data-dir", str(tmp_path / "agent"),
        "--runtime", "fake",
        "--node-name", name,
        "--node-ip", "127.0.0.1",
        "--kubelet-port", str(_free_port()),
    ]  # fmt: skip
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("K10" + "0" * 64 + "::" + text.split("::", 1)[1] + "\n")
    refused = subprocess.run(
        [*kubelite_command(), "agent", *common, "--token-file", str(wrong)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is not the one the token pins" in refused.stderr, refused.stderr
    assert not (tmp_path / "agent" / "agent" / "pki" / "kubelet-client.crt").exists()

    agent = Component(["agent", *common, "--token-file", str(node_token)], tmp_path / "agent.log")
    try:
        wait_node_ready(token_kubectl, agent, name)
        assert "as the join token pins it" in agent.log()
    finally:
        code = agent.stop()
    assert code == 0, agent.log()
