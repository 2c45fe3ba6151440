"""``kubelite controller-manager --cluster-signing-cert-file/-key-file/-duration`` signs
approved requests with the given CA, as kube-controller-manager's csrsigning does, capping
their validity at the signing duration; the flags are checked before anything runs."""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))

from serverproc import KubeliteServer, kubelite_command, running_server

from kubelite.api import csr as csrs
from kubelite.client import Client, lookup

CSR = lookup("certificates.k8s.io", "v1", "CertificateSigningRequest")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeliteServer]:
    base = tmp_path_factory.mktemp("csrsigning-cli")
    # The in-process signer is off: only the standalone one may sign.
    with running_server(base, ["--controllers=*,-csrsigning"]) as srv:
        yield srv


def test_flags_go_together(server: KubeliteServer) -> None:
    result = subprocess.run(
        [*kubelite_command(), "controller-manager", "--kubeconfig", str(server.kubeconfig),
         "--cluster-signing-cert-file", str(server.ca_cert)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--cluster-signing-cert-file and --cluster-signing-key-file go together" in result.stderr


async def test_standalone_signer(server: KubeliteServer, tmp_path: Path) -> None:
    log_path = tmp_path / "cm.log"
    argv = [
        *kubelite_command(), "controller-manager", "--kubeconfig", str(server.kubeconfig),
        "--controllers", "csrsigning", "--leader-elect-resource-name", "csrsigning-cli-test",
        "--cluster-signing-cert-file", str(server.ca_cert),
        "--cluster-signing-key-file", str(server.ca_cert.with_name("ca.key")),
        "--cluster-signing-duration", "2h",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carol")])
        pem = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        async with Client.from_kubeconfig(str(server.kubeconfig), component="test") as client:
            api = client.resource(CSR)
            await api.create(
                {
                    "metadata": {"name": "carol"},
                    "spec": {
                        "request": base64.b64encode(pem.public_bytes(serialization.Encoding.PEM)).decode(),
                        "signerName": csrs.KUBE_APISERVER_CLIENT,
                        "usages": ["client auth"],
                    },
                }
            )
            obj = await api.get("carol")
            obj.status.conditions = [{"type": "Approved", "status": "True", "reason": "Test"}]
            import msgspec

            await api.update(msgspec.to_builtins(obj), "approval")
            for _ in range(300):
                assert proc.poll() is None, log_path.read_text()
                obj = await api.get("carol")
                if obj.status.certificate:
                    break
                await asyncio.sleep(0.1)
            (cert,) = csrs.certificates_of(obj.status.certificate)
            lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
            assert lifetime.total_seconds() == 2 * 3600 + 300  # the cap, plus the 5 minutes' backdate
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log_path.read_text()
