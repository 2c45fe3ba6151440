"""Certificate material for the unit tests of CSRs, signers, approvers and the agent's certificates.

Requests with a chosen subject and SANs, a throwaway CA and certificates
issued by it (optionally backdated), all made with ``cryptography`` in memory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def build_request(
    cn: str,
    orgs: Iterable[str] = ("system:nodes",),
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    emails: Iterable[str] = (),
    key: Any = None,
) -> x509.CertificateSigningRequest:
    """A signed PKCS#10 request for O ``orgs``, CN ``cn`` and the given SANs (a new EC key by default)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.RFC822Name(e) for e in emails]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def request_pem(cn: str = "system:node:a", orgs: Iterable[str] = ()) -> bytes:
    """``build_request`` as PEM, by default with no organization."""
    return build_request(cn, orgs).public_bytes(serialization.Encoding.PEM)


def self_signed(
    key: Any = None, days: float = 3650, cn: str = "test-ca", ski: bytes | None = None
) -> x509.Certificate:
    """A CA certificate for ``key`` (a new EC key by default), valid from an hour ago for ``days``,
    with the subject key identifier ``ski`` when given (none otherwise)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ski is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    return builder.sign(key, hashes.SHA256())


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem_of(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_ca(days: float = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A throwaway CA: its certificate and key."""
    key = ec.generate_private_key(ec.SECP256R1())
    return self_signed(key, days), key


def issue(ca: tuple[x509.Certificate, Any], request: bytes, days: float, age: float = 0) -> bytes:
    """The PEM certificate ``ca`` issues for the PEM ``request``: valid for ``days``, starting
    ``age`` days ago."""
    req = x509.load_pem_x509_csr(request)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=age)
    cert = (
        x509.CertificateBuilder()
        .subject_name(req.subject)
        .issuer_name(ca[0].subject)
        .public_key(req.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(ca[1], hashes.SHA256())
    )
    return pem_of(cert)
