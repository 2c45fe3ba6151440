"""The PKI made on first start: files and modes, reuse, reissue, TLS with client certificates."""

from __future__ import annotations

import base64
import socket
import ssl
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.apiserver.auth.authn import X509Authenticator
from kubelite.apiserver.auth.certs import (
    PKI,
    ensure_pki,
    kubeconfig_text,
    pki_for,
    serving_hosts,
    write_kubeconfig,
)
from kubelite.apiserver.config import ServerConfig


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)), {
        str(ip) for ip in ext.get_values_for_type(x509.IPAddress)
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return ensure_pki(tmp_path / "pki", ["api.example.test", "10.1.2.3"])


def test_first_start_makes_ca_server_and_admin_certificates(pki: PKI) -> None:
    for path in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key, pki.admin_cert, pki.admin_key):
        assert path.is_file(), path
    for key in (pki.ca_key, pki.server_key, pki.admin_key):
        assert mode(key) == 0o600, key
    assert mode(pki.dir) == 0o700

    ca = load(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650

    server = load(pki.server_cert)
    server.verify_directly_issued_by(ca)
    dns, ips = sans(server)
    assert {"localhost", "api.example.test", socket.gethostname().lower()} <= dns
    assert {"127.0.0.1", "::1", "10.1.2.3"} <= ips
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert 360 <= (server.not_valid_after_utc - server.not_valid_before_utc).days <= 366

    admin = load(pki.admin_cert)
    admin.verify_directly_issued_by(ca)
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubelite-admin"
    assert [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters"
    ]
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )


def test_second_start_reuses_everything(pki: PKI) -> None:
    before = {p: p.read_bytes() for p in (pki.ca_cert, pki.server_cert, pki.admin_cert, pki.admin_key)}
    again = ensure_pki(pki.dir, ["api.example.test", "10.1.2.3"])
    assert again == pki
    assert {p: p.read_bytes() for p in before} == before
    # fewer hosts are still covered: no reissue
    ensure_pki(pki.dir, [])
    assert pki.server_cert.read_bytes() == before[pki.server_cert]


def test_new_host_reissues_only_the_serving_certificate(pki: PKI) -> None:
    ca, admin, server = pki.ca_cert.read_bytes(), pki.admin_cert.read_bytes(), pki.server_cert.read_bytes()
    ensure_pki(pki.dir, ["api.example.test", "10.1.2.3", "other.example.test", "0.0.0.0"])
    assert pki.ca_cert.read_bytes() == ca
    assert pki.admin_cert.read_bytes() == admin
    assert pki.server_cert.read_bytes() != server
    dns, ips = sans(load(pki.server_cert))
    assert "other.example.test" in dns
    assert "0.0.0.0" not in ips
    assert mode(pki.server_key) == 0o600


def test_a_new_ca_reissues_the_certificates_it_signs(pki: PKI) -> None:
    pki.ca_cert.unlink()
    ensure_pki(pki.dir, [])
    ca = load(pki.ca_cert)
    load(pki.server_cert).verify_directly_issued_by(ca)
    load(pki.admin_cert).verify_directly_issued_by(ca)


def test_serving_hosts_name_the_kubernetes_service(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path, bind_address="192.0.2.7", extra_sans=["edge.example.test"])
    hosts = serving_hosts(config)
    assert {"192.0.2.7", "kubernetes.default.svc.cluster.local", "10.43.0.1", "edge.example.test"} <= set(
        hosts
    )
    pki = pki_for(config)
    dns, ips = sans(load(pki.server_cert))
    assert "kubernetes.default.svc" in dns
    assert {"10.43.0.1", "192.0.2.7"} <= ips


def test_issue_client_cert(pki: PKI) -> None:
    cert_pem, key_pem = pki.issue_client_cert("system:node:n1", ["system:nodes"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(load(pki.ca_cert))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert b"PRIVATE KEY" in key_pem


def handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str = "localhost"
) -> ssl.SSLObject:
    """A TLS handshake over memory buffers; returns the server side."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side, out, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            break
    # TLS 1.3: the server verifies the client's certificate on its last flight; pump it through.
    client.write(b"ping")
    s_in.write(c_out.read())
    assert server.read(4) == b"ping"
    return server


def test_tls_with_and_without_the_admin_certificate(pki: PKI) -> None:
    server_ctx = pki.server_ssl_context()
    assert server_ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server_ctx.verify_mode == ssl.CERT_OPTIONAL

    side = handshake(server_ctx, pki.client_ssl_context(admin=True))
    assert side.selected_alpn_protocol() in (None, "http/1.1")
    user = X509Authenticator().authenticate({}, side.getpeercert())
    assert user is not None
    assert user.name == "kubelite-admin"
    assert user.groups == ("system:masters", "system:authenticated")

    anonymous = handshake(server_ctx, pki.client_ssl_context(admin=False), hostname="127.0.0.1")
    assert X509Authenticator().authenticate({}, anonymous.getpeercert()) is None


def test_client_certificate_from_another_ca_is_refused(pki: PKI, tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", [])
    client = ssl.create_default_context(cafile=str(pki.ca_cert))
    client.load_cert_chain(other.admin_cert, other.admin_key)
    with pytest.raises(ssl.SSLError):
        handshake(pki.server_ssl_context(), client)


def test_kubeconfig(pki: PKI, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kube" / "kubeconfig.yaml", "https://127.0.0.1:6443", pki)
    assert mode(path) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "kubelite"
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_cert.read_bytes()
    user = doc["users"][0]
    assert user["name"] == "admin"
    assert base64.b64decode(user["user"]["client-certificate-data"]) == pki.admin_cert.read_bytes()
    assert base64.b64decode(user["user"]["client-key-data"]) == pki.admin_key.read_bytes()
    assert doc["contexts"][0] == {"name": "kubelite", "context": {"cluster": "kubelite", "user": "admin"}}
    assert path.read_text() == kubeconfig_text("https://127.0.0.1:6443", pki)


def test_kubeconfig_loads_in_the_kubernetes_client(pki: PKI, tmp_path: Path) -> None:
    kube_config = pytest.importorskip("kubernetes.config")
    from kubernetes.client import Configuration

    path = write_kubeconfig(tmp_path / "kubeconfig.yaml", "https://127.0.0.1:6443", pki)
    configuration = Configuration()
    kube_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == "https://127.0.0.1:6443"
    assert Path(configuration.ssl_ca_cert).read_bytes() == pki.ca_cert.read_bytes()


def test_plain_http_kubeconfig_has_no_credentials(pki: PKI) -> None:
    doc = yaml.safe_load(kubeconfig_text("http://127.0.0.1:8080", pki))
    assert doc["clusters"][0]["cluster"] == {"server": "http://127.0.0.1:8080"}
    assert doc["users"][0]["user"] == {}
