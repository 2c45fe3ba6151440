"""The cluster's PKI: a self-signed CA, the API server's serving certificate and
the admin client certificate, made on first start and reused afterwards.

``ensure_pki`` is idempotent: it creates what is missing, keeps what is valid,
and reissues a certificate that expires within ``RENEW_BEFORE``, is no longer
signed by the CA on disk, or (for the serving certificate) no longer names every
host the server is reached by. Keys are written with mode 0600, every file
atomically, under a lock so two processes starting at once agree on one CA.

``write_kubeconfig`` turns the PKI into the admin kubeconfig that ``kubectl`` and
the ``kubernetes`` client use unchanged: the CA inline as
``certificate-authority-data`` and the client certificate and key inline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import socket
import ssl
from base64 import b64encode
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.atomicfile import write_atomic, write_private
from kubelite.hostaddr import primary_ipv4

if TYPE_CHECKING:
    from kubelite.apiserver.config import ServerConfig

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)  # reissue a leaf certificate this long before it expires
CLOCK_SKEW = dt.timedelta(hours=1)  # backdate notBefore so a slightly slow client clock accepts it

ADMIN_USER = "kubelite-admin"
ADMIN_GROUPS = ("system:masters",)
BASE_HOSTS = ("127.0.0.1", "::1", "localhost")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class PKI:
    """Paths of the cluster's certificates and keys (PEM files in one folder)."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path

    @classmethod
    def at(cls, pki_dir: Path) -> PKI:
        """The paths in ``pki_dir``, whether or not the files exist yet (see ``ensure_pki``)."""
        return cls(
            dir=pki_dir,
            ca_cert=pki_dir / "ca.crt",
            ca_key=pki_dir / "ca.key",
            server_cert=pki_dir / "server.crt",
            server_key=pki_dir / "server.key",
            admin_cert=pki_dir / "admin.crt",
            admin_key=pki_dir / "admin.key",
        )

    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()

    def server_ssl_context(self) -> ssl.SSLContext:
        """A TLS server context for the API server.

        TLS 1.2 or newer, ALPN ``http/1.1``. Client certificates are asked for
        but optional; one that is presented must chain to the cluster CA or the
        handshake fails, so a certificate that reaches ``getpeercert()`` is a
        verified one (what ``X509Authenticator`` relies on).
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def client_ssl_context(self, admin: bool = True) -> ssl.SSLContext:
        """A TLS client context that trusts the cluster CA and, if ``admin``, presents the
        admin certificate (tests and local tools)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        if admin:
            ctx.load_cert_chain(self.admin_cert, self.admin_key)
        return ctx

    def issue_client_cert(
        self, cn: str, groups: Sequence[str] = (), validity: dt.timedelta = LEAF_VALIDITY
    ) -> tuple[bytes, bytes]:
        """A new client certificate signed by the cluster CA: CN = user name, O = groups.

        Returns ``(cert_pem, key_pem)``; nothing is written to disk.
        """
        ca_cert, ca_key = _load_ca(self)
        key = _new_key()
        cert = _client_cert(cn, groups, key, ca_cert, ca_key, validity)
        return _cert_pem(cert), _key_pem(key)

    def issue_serving_cert(
        self, hosts: Iterable[str], cn: str, validity: dt.timedelta = LEAF_VALIDITY
    ) -> tuple[bytes, bytes]:
        """A new serving certificate signed by the cluster CA naming ``hosts`` (IP addresses
        become IP SANs, anything else DNS SANs), e.g. a kubelet's. ``(cert_pem, key_pem)``;
        nothing is written to disk."""
        ca_cert, ca_key = _load_ca(self)
        key = _new_key()
        dns_names, ips = _split_hosts(hosts)
        cert = _server_cert(dns_names, ips, key, ca_cert, ca_key, cn, validity)
        return _cert_pem(cert), _key_pem(key)


# --- public entry points ---------------------------------------------------------------------------


def ensure_pki(pki_dir: Path, hosts: Iterable[str] = ()) -> PKI:
    """Create or reuse the PKI in ``pki_dir``; return its paths.

    The serving certificate names 127.0.0.1, ::1, localhost, this machine's
    host name and every entry of ``hosts`` (IP addresses become IP SANs,
    anything else DNS SANs; the unspecified addresses 0.0.0.0 and :: are
    skipped). A new CA reissues everything signed by the old one.
    """
    pki = PKI.at(pki_dir)
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    dns_names, ips = _split_hosts([*BASE_HOSTS, socket.gethostname(), *hosts])
    now = _now()
    with _locked(pki_dir / ".lock"):
        ca = _load_or_create_ca(pki, now)
        ca_cert, ca_key = ca
        server = _load_cert(pki.server_cert, pki.server_key)
        if server is None or not _leaf_ok(server, ca_cert, now) or not _covers(server, dns_names, ips):
            key = _new_key()
            cert = _server_cert(dns_names, ips, key, ca_cert, ca_key)
            _write_pair(pki.server_cert, pki.server_key, cert, key)
        admin = _load_cert(pki.admin_cert, pki.admin_key)
        if admin is None or not _leaf_ok(admin, ca_cert, now):
            key = _new_key()
            cert = _client_cert(ADMIN_USER, ADMIN_GROUPS, key, ca_cert, ca_key, LEAF_VALIDITY)
            _write_pair(pki.admin_cert, pki.admin_key, cert, key)
    return pki


def serving_hosts(config: ServerConfig) -> list[str]:
    """Every name the API server is reached by, beyond the ones ``ensure_pki`` always adds:
    the bind address (for one on every interface, this machine's own address, as other
    machines reach it), the ``kubernetes`` Service names and its ClusterIP (the first
    address of the service CIDR, for clients in pods), and ``config.extra_sans``."""
    hosts = [config.bind_address]
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(config.bind_address).is_unspecified:
            hosts.append(primary_ipv4())
    domain = config.cluster_domain.strip(".")
    hosts += [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{domain}",
    ]
    try:
        net = ipaddress.ip_network(config.service_cidr, strict=False)
        hosts.append(str(net.network_address + 1))
    except ValueError:
        pass
    hosts += config.extra_sans
    return hosts


def pki_for(config: ServerConfig) -> PKI:
    """``ensure_pki`` with the hosts of ``serving_hosts(config)``: what the API server and
    the CLI both call, so they never disagree about the serving certificate's names."""
    return ensure_pki(config.pki_dir, serving_hosts(config))


def kubeconfig_text(
    server_url: str,
    pki: PKI,
    user: str = "admin",
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
) -> str:
    """A kubeconfig (YAML) with one cluster, one user and the current context ``kubelite``.

    The user authenticates with the admin certificate unless another
    ``client_cert_pem``/``client_key_pem`` pair is given. A plain ``http://``
    server gets neither CA nor credentials (client-go sends none over HTTP).
    """
    cluster: dict[str, Any] = {"server": server_url}
    user_entry: dict[str, Any] = {}
    if server_url.startswith("https://"):
        cluster["certificate-authority-data"] = _b64(pki.ca_cert.read_bytes())
        cert_pem = client_cert_pem if client_cert_pem is not None else pki.admin_cert.read_bytes()
        key_pem = client_key_pem if client_key_pem is not None else pki.admin_key.read_bytes()
        user_entry = {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "kubelite", "cluster": cluster}],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": "kubelite", "context": {"cluster": "kubelite", "user": user}}],
        "current-context": "kubelite",
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def write_kubeconfig(
    path: Path,
    server_url: str,
    pki: PKI,
    user: str = "admin",
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
) -> Path:
    """Write ``kubeconfig_text(...)`` to ``path`` atomically with mode 0600; return ``path``."""
    text = kubeconfig_text(server_url, pki, user, client_cert_pem, client_key_pem)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, text.encode())
    return path


# --- certificates ----------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _load_or_create_ca(pki: PKI, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    loaded = _load_cert(pki.ca_cert, pki.ca_key)
    if loaded is not None:
        cert = loaded
        key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc - now > RENEW_BEFORE:
            return cert, key
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kubelite-ca@{int(now.timestamp())}")])
    pub = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_pair(pki.ca_cert, pki.ca_key, cert, key)
    return cert, key


def _load_ca(pki: PKI) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki.ca_key}: expected an EC private key")
    return cert, key


def _leaf_builder(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    validity: dt.timedelta,
    usage: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    now = _now()
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )


def _server_cert(
    dns_names: list[str],
    ips: list[IPAddress],
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cn: str = "kube-apiserver",
    validity: dt.timedelta = LEAF_VALIDITY,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ip) for ip in ips]
    builder = _leaf_builder(subject, key, ca_cert, ca_key, validity, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _client_cert(
    cn: str,
    groups: Iterable[str],
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    validity: dt.timedelta,
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = _leaf_builder(x509.Name(attrs), key, ca_cert, ca_key, validity, ExtendedKeyUsageOID.CLIENT_AUTH)
    return builder.sign(ca_key, hashes.SHA256())


def _load_cert(cert_path: Path, key_path: Path) -> x509.Certificate | None:
    """The certificate at ``cert_path`` if it and its key are there and readable, else None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key() != cert.public_key():
        return None
    return cert


def _leaf_ok(cert: x509.Certificate, ca_cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return cert.not_valid_after_utc - now > RENEW_BEFORE and cert.not_valid_before_utc <= now


def _covers(cert: x509.Certificate, dns_names: list[str], ips: list[IPAddress]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    return set(dns_names) <= have_dns and set(ips) <= have_ips


def _split_hosts(hosts: Iterable[str]) -> tuple[list[str], list[IPAddress]]:
    """Hosts as sorted, de-duplicated DNS names and IP addresses (unspecified addresses dropped)."""
    dns_names: set[str] = set()
    ips: set[IPAddress] = set()
    for raw in hosts:
        host = raw.strip().strip("[]")
        if not host:
            continue
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            dns_names.add(host.lower().rstrip("."))
            continue
        if not ip.is_unspecified:
            ips.add(ip)
    return sorted(dns_names), sorted(ips, key=lambda a: (a.version, int(a)))


# --- files -----------------------------------------------------------------------------------------


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def _write_pair(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    # The key first: a reader that sees the new certificate must also find its key.
    write_private(key_path, _key_pem(key))
    write_atomic(cert_path, _cert_pem(cert), 0o644)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
