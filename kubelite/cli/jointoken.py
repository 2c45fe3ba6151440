"""The node join token: what ``kubelite agent --server URL --token-file FILE`` needs, and nothing else.

``kubelite server`` (and ``up``) keep one in ``<data-dir>/node-token``, readable by root
only, in k3s' shape ``K10<ca-hash>::<token>``:

- ``<token>`` is a bootstrap token in kubeadm's form ``<id>.<secret>`` (6 and 16 characters
  of ``[a-z0-9]``), which the API server takes as the user ``system:bootstrap:<id>`` in the
  group ``system:bootstrappers``: allowed to ask for a node client certificate, which the
  CSR approver grants (kubelet TLS bootstrapping);
- ``<ca-hash>`` pins the cluster CA as kubeadm's ``--discovery-token-ca-cert-hash`` does: the
  SHA-256 of the CA certificate's SubjectPublicKeyInfo, in hex.

A joining agent without a CA file reads the ``cluster-info`` ConfigMap of ``kube-public``
(a kubeconfig holding the CA, which the server publishes as kubeadm does) anonymously, over
TLS it cannot verify yet, and trusts that CA only if its hash is the pinned one; only then
does the token go to the server, and everything after that is verified against that CA. A bare token (no ``K10`` part) still works with ``--certificate-authority``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import ssl
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubelite.atomicfile import write_private

if TYPE_CHECKING:
    from kubelite.client import Client

PREFIX = "K10"
SEPARATOR = "::"
CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"
BOOTSTRAPPERS = "system:bootstrappers"
_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")  # kubeadm's bootstrap token form

log = logging.getLogger(__name__)


class JoinTokenError(ValueError):
    """The token is malformed, or the cluster's CA is not the one it pins."""


@dataclass(frozen=True)
class JoinToken:
    token: str  # the bearer token
    ca_hash: str | None = None  # hex SHA-256 of the CA's SubjectPublicKeyInfo, when pinned

    def __str__(self) -> str:
        return f"{PREFIX}{self.ca_hash}{SEPARATOR}{self.token}" if self.ca_hash else self.token

    def token_row(self) -> str:
        """The token as a row of a static token file: ``token,user,uid,"groups"``."""
        token_id = self.token.split(".", 1)[0]
        return f'{self.token},system:bootstrap:{token_id},{token_id},"{BOOTSTRAPPERS}"'


def parse(text: str) -> JoinToken:
    text = text.strip()
    if not text.startswith(PREFIX) or SEPARATOR not in text:
        if not text:
            raise JoinTokenError("the token is empty")
        return JoinToken(text)
    pin, token = text[len(PREFIX) :].split(SEPARATOR, 1)
    if len(pin) != 64 or any(c not in string.hexdigits for c in pin) or not token:
        raise JoinTokenError(f"a {PREFIX} token is {PREFIX}<64 hex digits>{SEPARATOR}<token>")
    return JoinToken(token, pin.lower())


def ca_hash(ca_pem: bytes) -> str:
    """kubeadm's CA pin: SHA-256 of the CA certificate's SubjectPublicKeyInfo (the first one
    of a bundle; a bundle is only ever checked certificate by certificate, see
    ``ca_from_cluster_info``)."""
    return _spki_hash(x509.load_pem_x509_certificate(ca_pem))


def _spki_hash(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def new_bootstrap_token() -> str:
    pick = secrets.choice
    return "".join(pick(_ALPHABET) for _ in range(6)) + "." + "".join(pick(_ALPHABET) for _ in range(16))


def ensure_node_token(path: Path, ca_pem: bytes) -> JoinToken:
    """The join token in ``path``, made (0600) when missing or pinning another CA. Blocking."""
    pin = ca_hash(ca_pem)
    try:
        current: JoinToken | None = parse(path.read_text())
    except FileNotFoundError:
        current = None
    except (OSError, JoinTokenError) as e:
        log.warning("%s is unreadable (%s): making a new join token", path, e)
        current = None
    if current is not None and current.ca_hash == pin and _TOKEN.fullmatch(current.token):
        path.chmod(0o600)
        return current
    if current is not None:
        log.warning("%s held a token for another CA or of another form: making a new one", path)
    made = JoinToken(new_bootstrap_token(), pin)
    write_private(path, f"{made}\n".encode())
    return made


def cluster_info(server_url: str, ca_pem: bytes) -> dict[str, str]:
    """The ``cluster-info`` ConfigMap's data, as kubeadm publishes it: a kubeconfig with the
    cluster's CA and address and no credentials."""
    import yaml

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "",
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": server_url,
                },
            }
        ],
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }
    return {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=False)}


def ca_from_cluster_info(data: dict[str, str], pin: str) -> bytes:
    """The one certificate of ``cluster-info``'s CA data whose hash is ``pin``, as PEM: only
    that one is trusted, whatever else the (unverified) answer carries beside it."""
    import yaml

    try:
        doc = yaml.safe_load(data.get("kubeconfig", "")) or {}
        cluster = (doc.get("clusters") or [{}])[0].get("cluster") or {}
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as e:
        raise JoinTokenError(f"{CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME} holds no readable CA: {e}") from e
    return check_pin(ca_pem, pin)


def check_pin(ca_pem: bytes, pin: str) -> bytes:
    """The certificate of the CA bundle ``ca_pem`` that ``pin`` names, as PEM (JoinTokenError
    if none)."""
    try:
        certs = x509.load_pem_x509_certificates(ca_pem)
    except ValueError as e:
        raise JoinTokenError(f"no readable CA: {e}") from e
    found = [_spki_hash(c) for c in certs]
    for cert, digest in zip(certs, found, strict=True):
        if hmac.compare_digest(digest, pin):
            return cert.public_bytes(serialization.Encoding.PEM)
    raise JoinTokenError(
        f"the cluster's CA (sha256:{', sha256:'.join(found)}) is not the one the token pins "
        f"(sha256:{pin}): refusing to trust this server"
    )


async def discover_ca(server: str, token: JoinToken) -> bytes:
    """The cluster CA, read from ``cluster-info`` before the server can be verified (so
    anonymously: a man in the middle learns nothing), and trusted only as the token's pin says
    (see the module docstring)."""
    from kubelite.client import Client

    assert token.ca_hash is not None
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    client = Client(server, ssl=unverified, component="kubelet-bootstrap")
    try:
        configmaps = client.resource_for("", "v1", "ConfigMap", raw=True)
        found = await configmaps.get(CLUSTER_INFO_NAME, namespace=CLUSTER_INFO_NAMESPACE)
    finally:
        await client.close()
    return ca_from_cluster_info(dict(found.get("data") or {}), token.ca_hash)


async def publish_cluster_info(client: Client, server_url: str, ca_pem: bytes) -> None:
    """Create or refresh ``kube-public/cluster-info`` with ``client`` (an admin's)."""
    from kubelite.api.errors import StatusError

    configmaps = client.resource_for("", "v1", "ConfigMap", raw=True)
    data = cluster_info(server_url, ca_pem)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CLUSTER_INFO_NAME}, "data": data}
    try:
        current = await configmaps.get(CLUSTER_INFO_NAME, namespace=CLUSTER_INFO_NAMESPACE)
    except StatusError as e:
        if e.code != 404:
            raise
        await configmaps.create(body, namespace=CLUSTER_INFO_NAMESPACE)
        return
    if current.get("data") != data:
        current["data"] = data
        await configmaps.update(current, namespace=CLUSTER_INFO_NAMESPACE)
