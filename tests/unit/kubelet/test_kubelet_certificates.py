"""The agent's stored certificates: when a pair is reused, what its requests say, file modes."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api import csr as csrs
from kubelite.kubelet.certificates import (
    CertificateFiles,
    client_request_name,
    make_request,
    serving_hosts,
)


def _ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], request_pem: bytes, days: float, age: float = 0
) -> bytes:
    req = csrs.parse_csr(request_pem)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=age)
    cert = (
        x509.CertificateBuilder()
        .subject_name(req.subject)
        .issuer_name(ca[0].subject)
        .public_key(req.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(ca[1], hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_stored_pair_is_reused_while_young_and_ours(tmp_path: Path) -> None:
    ca = _ca()
    ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
    files = CertificateFiles(tmp_path / "pki", "kubelet-client")
    assert not files.usable("system:node:a", ca_pem)
    key = files.key_for_request()
    assert files.key_for_request().private_numbers() == key.private_numbers()  # kept across restarts
    files.store(_issue(ca, make_request(key, "system:node:a"), days=365), key)
    assert not files.pending_key.exists()
    for path in (files.cert, files.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert files.usable("system:node:a", ca_pem)
    assert files.usable("system:node:a", None)
    assert not files.usable("system:node:b", ca_pem)  # another node's name
    assert not files.usable("system:node:a", _ca()[0].public_bytes(serialization.Encoding.PEM))  # another CA
    # Ageing: less than a fifth of its life left -> replaced, though still loadable for renewal.
    files.store(_issue(ca, make_request(key, "system:node:a"), days=10, age=9), key)
    assert not files.usable("system:node:a", ca_pem)
    assert files.load("system:node:a", ca_pem) is not None


def test_requests_name_the_node_and_its_hosts() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = make_request(key, "system:node:a", ["10.0.0.7", "a.example", "10.0.0.7"])
    ident = csrs.requested_identity(csrs.parse_csr(pem))
    assert ident.common_name == "system:node:a"
    assert ident.organizations == ("system:nodes",)
    assert ident.ip_addresses == ("10.0.0.7",)
    assert ident.dns_names == ("a.example",)
    assert client_request_name(key, "system:node:a") == client_request_name(key, "system:node:a")
    assert client_request_name(key, "system:node:a").startswith("node-csr-")
    assert serving_hosts("10.0.0.7, fd00::7")[:2] == ["10.0.0.7", "fd00::7"]


def test_renewal_is_due_when_a_fifth_of_the_lifetime_is_left(tmp_path: Path) -> None:
    ca = _ca()
    files = CertificateFiles(tmp_path / "pki", "kubelet-server")
    assert files.renewal_delay() == 0.0  # nothing stored: due now
    key = files.key_for_request()
    files.store(_issue(ca, make_request(key, "system:node:a", ["10.0.0.7"]), days=10), key)
    delay = files.renewal_delay()
    assert abs(delay - 8 * 86400) < 60
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=9)
    assert files.renewal_delay(now=later) == 0.0
