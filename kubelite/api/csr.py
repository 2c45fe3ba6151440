"""What a CertificateSigningRequest says: its PEM request, its conditions, its signer.

certificates.k8s.io/v1 carries an X.509 PKCS#10 request as PEM bytes in
``spec.request`` and the issued certificate as PEM bytes in
``status.certificate``. Validation, the signing and approving controllers
and the kubelet all need to read them the same way, so the parsing, the
built-in signer names, the known key usages and the condition look-ups
live here, with no I/O (``cryptography`` parses, nothing else is touched).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

# The signers Kubernetes defines (and our cluster CA serves).
KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED = "Approved"
DENIED = "Denied"
FAILED = "Failed"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

# Every value of spec.usages the API accepts (Kubernetes' KeyUsage constants).
KNOWN_USAGES = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class PemBlock:
    type: str
    headers: bool  # whether the block had "Key: value" header lines (never allowed here)
    der: bytes


def pem_blocks(data: bytes) -> list[PemBlock]:
    """The PEM blocks of ``data`` in order, as Go's ``pem.Decode`` finds them one by one
    (text between blocks is skipped; a block whose body is not base64 ends the list)."""
    blocks: list[PemBlock] = []
    for m in _PEM_BLOCK.finditer(data):
        body = m.group(2).replace(b"\r\n", b"\n")
        headers = b":" in body.split(b"\n", 1)[0]  # "Proc-Type: ..." lines, then a blank line
        if headers:
            body = body.split(b"\n\n", 1)[-1]
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            break
        blocks.append(PemBlock(m.group(1).decode(), headers, der))
    return blocks


def parse_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """The request in the first PEM block of ``pem``; ValueError with Kubernetes' message
    when there is none, it is not a CERTIFICATE REQUEST, or its signature does not verify."""
    blocks = pem_blocks(pem)
    if not blocks or blocks[0].type != "CERTIFICATE REQUEST":
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_der_x509_csr(blocks[0].der)
    except ValueError as e:
        raise ValueError(f"x509: malformed certificate request: {e}") from None
    try:
        valid = csr.is_signature_valid
    except Exception as e:  # an algorithm cryptography cannot check is no valid signature either
        raise ValueError(f"x509: cannot verify signature: {e}") from None
    if not valid:
        raise ValueError(
            "x509: ECDSA verification failure" if _is_ec(csr) else "crypto/rsa: verification error"
        )
    return csr


def _is_ec(csr: x509.CertificateSigningRequest) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec

    return isinstance(csr.public_key(), ec.EllipticCurvePublicKey)


def certificate_pem_error(pem: bytes) -> str:
    """Why ``pem`` is not a valid ``status.certificate`` ("" when it is, or is empty):
    only CERTIFICATE blocks without headers, each holding a parsable certificate."""
    if not pem:
        return ""
    blocks = pem_blocks(pem)
    for block in blocks:
        if block.type != "CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{block.type}"'
        if block.headers:
            return "no PEM block headers are permitted"
        try:
            x509.load_der_x509_certificate(block.der)
        except ValueError as e:
            return f"x509: malformed certificate: {e}"
    if not blocks:
        return "must contain at least one CERTIFICATE PEM block"
    return ""


def certificates_of(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a ``status.certificate`` (leaf first), skipping what does not parse."""
    out = []
    for block in pem_blocks(pem):
        if block.type == "CERTIFICATE":
            try:
                out.append(x509.load_der_x509_certificate(block.der))
            except ValueError:
                continue
    return out


@dataclass(frozen=True)
class RequestedIdentity:
    """The parts of a request's subject and SANs the signers and approvers judge."""

    common_name: str
    organizations: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]


def requested_identity(csr: x509.CertificateSigningRequest) -> RequestedIdentity:
    subject = csr.subject
    cns = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    uris: list[str] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns = list(san.get_values_for_type(x509.DNSName))
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        emails = list(san.get_values_for_type(x509.RFC822Name))
        uris = list(san.get_values_for_type(x509.UniformResourceIdentifier))
    return RequestedIdentity(
        common_name=cns[-1] if cns else "",
        organizations=orgs,
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        emails=tuple(emails),
        uris=tuple(uris),
    )


# --- conditions ------------------------------------------------------------------------------------


def _conditions(obj: Any) -> list[Any]:
    status = getattr(obj, "status", None)
    return list(getattr(status, "conditions", None) or [])


def has_condition(obj: Any, kind: str) -> bool:
    """Whether a CSR (typed) has a condition of ``kind`` whose status is True (or unset, which
    defaults to True)."""
    return any(c.type == kind and (c.status or "True") == "True" for c in _conditions(obj))


def is_approved(obj: Any) -> bool:
    return has_condition(obj, APPROVED) and not has_condition(obj, DENIED)


def is_denied(obj: Any) -> bool:
    return has_condition(obj, DENIED)


def has_failed(obj: Any) -> bool:
    return has_condition(obj, FAILED)
