"""Kubelet TLS bootstrapping: the node agent's client and serving certificates, asked of the cluster.

As Kubernetes' kubelet does with ``--bootstrap-kubeconfig`` and
``serverTLSBootstrap``:

1. **Client certificate.** With bootstrap credentials (a token) and no
   usable client certificate in ``<data-dir>/agent/pki``, the agent makes an
   EC key, files a ``kubernetes.io/kube-apiserver-client-kubelet``
   CertificateSigningRequest for CN ``system:node:<node>``, O
   ``system:nodes`` (named ``node-csr-<digest of the key>``, so a restarted
   agent finds the request it filed before), waits until it is approved and
   signed, and stores key and certificate (mode 0600). From then on it talks
   to the API server as the node with that certificate.
2. **Serving certificate.** With that identity it files a
   ``kubernetes.io/kubelet-serving`` request naming its node IP(s) and host
   name and, once signed, serves the kubelet API with it. Until then pods
   run; the kubelet API waits, and the agent says which request it waits on.

A stored pair is reused while it matches its key and node name, chains to the
cluster CA (when the agent knows the CA) and has more than a fifth of its
lifetime left; otherwise a new one is requested (a client certificate that is
still valid asks for its successor with its own identity). Denied or failed
requests raise ``CertificateRequestRefused`` (and their key is dropped, so a
later try files a new request instead of finding the refused one again). A
running agent renews both when they reach that point (``until_renewal_due``):
new TLS connections then present the new one.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api import csr as csrs
from kubelite.api.errors import StatusError
from kubelite.atomicfile import write_private
from kubelite.client import Client, lookup

log = logging.getLogger("kubelite.kubelet.certificates")

CSR = lookup("certificates.k8s.io", "v1", "CertificateSigningRequest")
CLIENT_USAGES = ["digital signature", "client auth"]  # an EC key enciphers no keys
SERVING_USAGES = ["digital signature", "server auth"]
RENEW_FRACTION = 0.2  # a certificate with less than this share of its lifetime left is replaced
POLL_INTERVAL = 1.0
REMIND_INTERVAL = 60.0  # how often the agent repeats that it is still waiting for a request
MAX_RETRY_DELAY = 30.0


class CertificateRequestRefused(RuntimeError):
    """The request was denied or failed; the message says which and why."""


def node_user(node_name: str) -> str:
    return csrs.NODE_USER_PREFIX + node_name


@dataclass(frozen=True)
class CertificateFiles:
    """One key and certificate pair in the agent's pki directory (``<name>.key``/``.crt``)."""

    dir: Path
    name: str

    @property
    def cert(self) -> Path:
        return self.dir / f"{self.name}.crt"

    @property
    def key(self) -> Path:
        return self.dir / f"{self.name}.key"

    @property
    def pending_key(self) -> Path:
        """The key of a request not yet signed (kept so that a restart waits on the same request)."""
        return self.dir / f"{self.name}.key.pending"

    def usable(self, common_name: str, ca_pem: bytes | None, now: dt.datetime | None = None) -> bool:
        """Whether the stored pair may be used as it is (blocking: reads files)."""
        cert = self.load(common_name, ca_pem)
        if cert is None:
            return False
        now = now or dt.datetime.now(dt.UTC)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        return cert.not_valid_after_utc - now > lifetime * RENEW_FRACTION and cert.not_valid_before_utc <= now

    def renewal_delay(self, now: dt.datetime | None = None) -> float:
        """Seconds until the stored certificate has only ``RENEW_FRACTION`` of its lifetime
        left, when ``usable`` stops taking it (0 when that is past or nothing is stored)."""
        try:
            cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        except (OSError, ValueError):
            return 0.0
        now = now or dt.datetime.now(dt.UTC)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        due = cert.not_valid_after_utc - lifetime * RENEW_FRACTION
        return max(0.0, (due - now).total_seconds())

    def load(self, common_name: str, ca_pem: bytes | None) -> x509.Certificate | None:
        """The stored certificate if it matches its key, names ``common_name``, has not expired and
        (with ``ca_pem``) was issued by that CA; else None."""
        try:
            cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
            key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            return None
        if _spki(key.public_key()) != _spki(cert.public_key()):
            return None
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[-1].value != common_name:
            return None
        if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
            return None
        if ca_pem and not _issued_by(cert, ca_pem):
            return None
        return cert

    def key_for_request(self) -> ec.EllipticCurvePrivateKey:
        """The pending key, made (and kept, 0600) when there is none."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            key = serialization.load_pem_private_key(self.pending_key.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key
        except (OSError, ValueError, TypeError):
            pass
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(self.pending_key, _key_pem(key))
        return key

    def store(self, cert_pem: bytes, key: ec.EllipticCurvePrivateKey) -> None:
        """Keep the signed pair (key first, so a reader of the new certificate finds its key)."""
        write_private(self.key, _key_pem(key))
        write_private(self.cert, cert_pem)
        self.pending_key.unlink(missing_ok=True)


def make_request(key: ec.EllipticCurvePrivateKey, common_name: str, hosts: Iterable[str] = ()) -> bytes:
    """A PEM PKCS#10 request: CN ``common_name``, O system:nodes, ``hosts`` as IP or DNS SANs."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, csrs.NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    sans: list[x509.GeneralName] = []
    for host in dict.fromkeys(h for h in hosts if h):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def client_request_name(key: ec.EllipticCurvePrivateKey, common_name: str) -> str:
    """``node-csr-<digest>``: the same key and node always give the same name."""
    digest = hashlib.sha256(_spki(key.public_key()) + common_name.encode()).digest()
    return "node-csr-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def request_certificate(
    client: Client,
    key: ec.EllipticCurvePrivateKey,
    request_pem: bytes,
    signer: str,
    usages: list[str],
    name: str = "",
    purpose: str = "",
) -> bytes:
    """File a request (``name``, or a generated ``csr-`` name) and wait for its certificate.

    A request of that name that already exists for the same key is waited on
    instead (an agent restarted while it waited). Raises
    ``CertificateRequestRefused`` if it is denied or fails, or its certificate
    is not one for ``key``.
    """
    api = _Retrying(client.resource(CSR), purpose)
    body: dict[str, Any] = {
        "metadata": {"name": name} if name else {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(request_pem).decode(),
            "signerName": signer,
            "usages": usages,
        },
    }
    try:
        created = await api.create(body)
    except StatusError as e:
        if e.code != 409 or not name:
            raise
        created = await api.get(name)
        if _request_key(created) != _spki(key.public_key()):
            # Somebody else's request under our name (another key): file one of our own.
            body["metadata"] = {"generateName": name + "-"}
            created = await api.create(body)
    name = created.metadata.name
    log.info("%s: waiting for certificate signing request %s to be approved and signed", purpose, name)
    loop = asyncio.get_running_loop()
    remind = loop.time() + REMIND_INTERVAL
    while True:
        obj = await api.get(name)
        if csrs.is_denied(obj):
            raise CertificateRequestRefused(
                f"certificate signing request {name} was denied{_why(obj, csrs.DENIED)}"
            )
        if csrs.has_failed(obj):
            raise CertificateRequestRefused(
                f"certificate signing request {name} failed{_why(obj, csrs.FAILED)}"
            )
        if obj.status.certificate and csrs.is_approved(obj):
            issued = csrs.certificates_of(obj.status.certificate)
            if not issued or _spki(issued[0].public_key()) != _spki(key.public_key()):
                # Stored, it would replace a working pair with one TLS cannot load (the
                # kubelet, too, checks the pair before it keeps it).
                raise CertificateRequestRefused(
                    f"certificate signing request {name} was issued a certificate that is not for its key"
                )
            log.info("%s: certificate signing request %s was signed", purpose, name)
            return bytes(obj.status.certificate)
        if loop.time() >= remind:
            remind = loop.time() + REMIND_INTERVAL
            log.info(
                "%s: still waiting for certificate signing request %s (kubectl certificate approve %s)",
                purpose,
                name,
                name,
            )
        await asyncio.sleep(POLL_INTERVAL)


async def ensure_client_certificate(
    files: CertificateFiles,
    bootstrap: Client,
    node_name: str,
    ca_pem: bytes | None,
    current: Client | None = None,
) -> CertificateFiles:
    """The node's client certificate: the stored one when usable, else a signed new one.

    ``current`` is a client with the stored (still valid but ageing)
    certificate, which asks for its successor as the node itself; otherwise
    ``bootstrap`` asks.
    """
    cn = node_user(node_name)
    if await asyncio.to_thread(files.usable, cn, ca_pem):
        log.info("reusing the node client certificate %s", files.cert)
        return files
    key = await asyncio.to_thread(files.key_for_request)
    request = make_request(key, cn)
    try:
        cert = await request_certificate(
            current or bootstrap,
            key,
            request,
            csrs.KUBE_APISERVER_CLIENT_KUBELET,
            CLIENT_USAGES,
            name=client_request_name(key, cn),
            purpose="node client certificate",
        )
    except CertificateRequestRefused:
        # The request is named after its key: kept, every later try would find the same
        # refused request again. A new key makes the next try a new request.
        await asyncio.to_thread(files.pending_key.unlink, True)
        raise
    await asyncio.to_thread(files.store, cert, key)
    log.info("stored the node client certificate %s", files.cert)
    return files


async def until_renewal_due(files: CertificateFiles) -> None:
    """Sleep until the stored pair is due for replacement (``ensure_*`` then asks for a new one)."""
    delay = await asyncio.to_thread(files.renewal_delay)
    log.info("%s is renewed in %.0f s", files.cert.name, delay)
    # A wall-clock deadline slept in pieces: a suspended machine wakes up to a late renewal, not none.
    while delay > 0:
        await asyncio.sleep(min(delay, 3600.0))
        delay = await asyncio.to_thread(files.renewal_delay)


def serving_hosts(node_ip: str, extra: Iterable[str] = ()) -> list[str]:
    """What the kubelet's serving certificate names: the node IP(s) and this host's name (the
    Node's InternalIP and Hostname addresses, which the approver checks it against)."""
    hosts = [ip.strip() for ip in node_ip.split(",") if ip.strip()]
    hosts.append(socket.gethostname())
    hosts += list(extra)
    return list(dict.fromkeys(hosts))


async def ensure_serving_certificate(
    files: CertificateFiles, client: Client, node_name: str, hosts: list[str], ca_pem: bytes | None
) -> CertificateFiles:
    """The kubelet API's serving certificate for ``hosts``: the stored one when usable and
    naming every host, else a signed new one (requested with ``client``, the node's identity)."""
    cn = node_user(node_name)

    def stored_covers() -> bool:
        if not files.usable(cn, ca_pem):
            return False
        cert = files.load(cn, ca_pem)
        assert cert is not None
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        named = {str(v).lower() for v in san.get_values_for_type(x509.IPAddress)}
        named |= {v.lower() for v in san.get_values_for_type(x509.DNSName)}
        return {h.lower() for h in hosts} <= named

    if await asyncio.to_thread(stored_covers):
        log.info("reusing the kubelet serving certificate %s", files.cert)
        return files
    key = await asyncio.to_thread(files.key_for_request)
    cert = await request_certificate(
        client,
        key,
        make_request(key, cn, hosts),
        csrs.KUBELET_SERVING,
        SERVING_USAGES,
        purpose="kubelet API serving certificate (the kubelet API waits for it)",
    )
    await asyncio.to_thread(files.store, cert, key)
    log.info("stored the kubelet serving certificate %s", files.cert)
    return files


# --- helpers ---------------------------------------------------------------------------------------


class _Retrying:
    """The CSR calls an agent makes, tried again with back-off while the API server cannot be
    reached or answers 429/5xx (an agent may start before its server, or outlive a restart)."""

    def __init__(self, api: Any, purpose: str) -> None:
        self.api = api
        self.purpose = purpose

    async def create(self, body: Any) -> Any:
        return await self._call(self.api.create, body)

    async def get(self, name: str) -> Any:
        return await self._call(self.api.get, name)

    async def _call(self, fn: Any, arg: Any) -> Any:
        delay = 1.0
        while True:
            try:
                return await fn(arg)
            except StatusError as e:
                if e.code != 429 and e.code < 500:
                    raise
                problem = f"{e.code} {e.reason}"
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                problem = str(e) or type(e).__name__
            log.warning(
                "%s: the API server is not answering (%s); again in %.0f s", self.purpose, problem, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)


def _spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _request_key(obj: Any) -> bytes:
    try:
        return _spki(csrs.parse_csr(obj.spec.request).public_key())
    except ValueError:
        return b""


def _issued_by(cert: x509.Certificate, ca_pem: bytes) -> bool:
    for ca in csrs.certificates_of(ca_pem):
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (InvalidSignature, ValueError, TypeError):
            continue
    return False


def _why(obj: Any, kind: str) -> str:
    for c in obj.status.conditions:
        if c.type == kind:
            text = ": ".join(p for p in (c.reason, c.message) if p)
            return f" ({text})" if text else ""
    return ""


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
