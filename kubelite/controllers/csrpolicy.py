"""What the built-in signers accept and how they sign: Kubernetes' rules for its signer names.

``signer_check(signer, identity, usages)`` judges a request against the
rules of one of the three signers the cluster CA serves:

- ``kubernetes.io/kube-apiserver-client``: client certificates for anyone;
  usages client auth (required), digital signature and key encipherment;
  never the group ``system:masters`` (Kubernetes refuses that in its
  CertificateSubjectRestriction admission plugin; here the signer does).
- ``kubernetes.io/kube-apiserver-client-kubelet``: a node's client
  certificate: O exactly ``system:nodes``, CN ``system:node:<name>``, no
  subject alternative names, usages {digital signature, client auth}, with
  key encipherment for RSA keys.
- ``kubernetes.io/kubelet-serving``: a node's serving certificate: O
  exactly ``system:nodes``, CN ``system:node:<name>``, at least one DNS or
  IP SAN and no email or URI ones, usages {digital signature, server auth}
  (plus key encipherment).

``sign`` issues the certificate: the request's subject, SANs and public key,
the key and extended key usages named in ``spec.usages``, not a CA, valid
from five minutes ago (clocks drift) for the requested duration within
[10 minutes, the signing duration] (its end backdated too unless shorter
than 8 hours, as Kubernetes' signing policy does) and never past the CA's
own expiry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from kubelite.api import csr as csrs

DEFAULT_SIGNING_DURATION = dt.timedelta(days=365)  # kube-controller-manager's --cluster-signing-duration
MIN_DURATION = dt.timedelta(minutes=10)
BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)  # below this lifetime the end is not backdated (5 minutes is ~1% of 8 hours)

SIGNERS = (csrs.KUBE_APISERVER_CLIENT, csrs.KUBE_APISERVER_CLIENT_KUBELET, csrs.KUBELET_SERVING)

KUBELET_CLIENT_USAGES = (
    frozenset({"digital signature", "key encipherment", "client auth"}),
    frozenset({"digital signature", "client auth"}),
)
KUBELET_SERVING_USAGES = (
    frozenset({"digital signature", "key encipherment", "server auth"}),
    frozenset({"digital signature", "server auth"}),
)

# spec.usages -> the KeyUsage flag (cryptography's keyword) or the extended key usage OID.
_KEY_USAGES = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
_EXT_KEY_USAGES: dict[str, ObjectIdentifier] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": ObjectIdentifier("2.16.840.1.113730.4.1"),
}


_SAN_TYPES = (x509.DNSName, x509.IPAddress, x509.RFC822Name, x509.UniformResourceIdentifier)


def kubelet_client_error(ident: csrs.RequestedIdentity, usages: Iterable[str]) -> str:
    """Why a request is no kubelet client certificate ("" when it is one)."""
    if list(ident.organizations) != [csrs.NODES_GROUP]:
        return "subject organization is not system:nodes"
    if ident.dns_names:
        return "DNS subjectAltNames are not allowed"
    if ident.emails:
        return "Email subjectAltNames are not allowed"
    if ident.ip_addresses:
        return "IP subjectAltNames are not allowed"
    if ident.uris:
        return "URI subjectAltNames are not allowed"
    if not ident.common_name.startswith(csrs.NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    if frozenset(usages) not in KUBELET_CLIENT_USAGES:
        return f"usages did not match {sorted(KUBELET_CLIENT_USAGES[0])}"
    return ""


def kubelet_serving_error(ident: csrs.RequestedIdentity, usages: Iterable[str]) -> str:
    """Why a request is no kubelet serving certificate ("" when it is one)."""
    if list(ident.organizations) != [csrs.NODES_GROUP]:
        return "subject organization is not system:nodes"
    if not ident.dns_names and not ident.ip_addresses:
        return "DNS or IP subjectAltName is required"
    if ident.emails:
        return "Email subjectAltNames are not allowed"
    if ident.uris:
        return "URI subjectAltNames are not allowed"
    if frozenset(usages) not in KUBELET_SERVING_USAGES:
        return f"usages did not match {sorted(KUBELET_SERVING_USAGES[0])}"
    if not ident.common_name.startswith(csrs.NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    return ""


def apiserver_client_error(ident: csrs.RequestedIdentity, usages: Iterable[str]) -> str:
    has_client_auth = False
    for usage in usages:
        if usage == "client auth":
            has_client_auth = True
        elif usage not in ("digital signature", "key encipherment"):
            return f"invalid usage for client certificate: {usage}"
    if not has_client_auth:
        return "missing required usage for client certificate: client auth"
    if "system:masters" in ident.organizations:
        return "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    return ""


_CHECKS = {
    csrs.KUBE_APISERVER_CLIENT: apiserver_client_error,
    csrs.KUBE_APISERVER_CLIENT_KUBELET: kubelet_client_error,
    csrs.KUBELET_SERVING: kubelet_serving_error,
}


def signer_check(signer: str, ident: csrs.RequestedIdentity, usages: Iterable[str]) -> str | None:
    """None when ``signer`` is not one of ours; "" when it may sign; else why not."""
    check = _CHECKS.get(signer)
    if check is None:
        return None
    return check(ident, list(usages))


def duration(expiration_seconds: int | None, limit: dt.timedelta = DEFAULT_SIGNING_DURATION) -> dt.timedelta:
    """The validity to issue: the requested one, within [10 minutes, ``limit``]."""
    if expiration_seconds is None:
        return limit
    if expiration_seconds >= limit.total_seconds():  # also what timedelta could not hold
        return limit
    return max(MIN_DURATION, dt.timedelta(seconds=expiration_seconds))


@dataclass(frozen=True)
class SigningCA:
    """A CA certificate and its private key (any key type cryptography signs with)."""

    cert: x509.Certificate
    key: Any

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> SigningCA:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise ValueError("the signing key does not belong to the signing certificate")
        return cls(cert, key)


def _key_usage(usages: Iterable[str], public_key: Any) -> x509.KeyUsage:
    flags = {name: False for name in set(_KEY_USAGES.values())}
    for usage in usages:
        flag = _KEY_USAGES.get(usage)
        if flag is not None:
            flags[flag] = True
    if not isinstance(public_key, rsa.RSAPublicKey):
        # Only RSA keys encipher keys; Go's x509 drops the bit for the others too.
        flags["key_encipherment"] = False
    if not flags["key_agreement"]:
        flags["encipher_only"] = flags["decipher_only"] = False
    return x509.KeyUsage(**flags)


def sign(
    ca: SigningCA,
    request: x509.CertificateSigningRequest,
    usages: Iterable[str],
    expiration_seconds: int | None,
    limit: dt.timedelta = DEFAULT_SIGNING_DURATION,
    now: dt.datetime | None = None,
) -> bytes:
    """The PEM certificate the CA issues for ``request``; ValueError on an unknown usage."""
    usages = list(usages)
    unknown = [u for u in usages if u not in _KEY_USAGES and u not in _EXT_KEY_USAGES]
    if unknown:
        raise ValueError(f"unknown key usage {unknown[0]!r}")
    now = now or dt.datetime.now(dt.UTC)
    ttl = duration(expiration_seconds, limit)
    # As Kubernetes' signing policy: notBefore is backdated for clock skew, and so is notAfter
    # unless the certificate is short-lived, so a long-lived one lasts ttl in all.
    not_after = min(now + ttl if ttl < SHORT else now + ttl - BACKDATE, ca.cert.not_valid_after_utc)
    if now - BACKDATE >= ca.cert.not_valid_after_utc:
        raise ValueError(f"the signer has expired: NotAfter={ca.cert.not_valid_after_utc}")
    public_key = request.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    try:
        # The CA's own key identifier, as Go takes it: verifiers (OpenSSL) match the issuer by it,
        # and a CA made elsewhere may not have derived it from its key the way we would.
        ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = None  # Go then writes no authority key identifier either
    if ski is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    if any(u in _KEY_USAGES for u in usages):
        builder = builder.add_extension(_key_usage(usages, public_key), critical=True)
    ext = []
    for usage in usages:
        oid = _EXT_KEY_USAGES.get(usage)
        if oid is not None and oid not in ext:
            ext.append(oid)
    if ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    # Only the names Kubernetes' signer copies (Go's DNSNames, IPAddresses, EmailAddresses,
    # URIs); a directory name, other name or registered ID in the request is not certified.
    names = [n for n in (san or []) if isinstance(n, _SAN_TYPES)]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    algorithm = (
        None if isinstance(ca.key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    )
    if not isinstance(ca.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) and algorithm is not None:
        raise ValueError(f"cannot sign with a {type(ca.key).__name__}")
    cert = builder.sign(ca.key, algorithm)
    return cert.public_bytes(serialization.Encoding.PEM)
