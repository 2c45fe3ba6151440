"""Reading a kubeconfig: which server, how to trust it, who we are.

Understands what ``kubelite server`` writes and what kubectl users commonly
have: ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
``client-certificate(-data)``/``client-key(-data)``, ``token``/``tokenFile``,
and plain ``http://`` servers. Relative file paths are resolved against the
kubeconfig's directory, as kubectl does. Exec plugins and auth providers are
not supported.

Loading reads files, so call it at start-up or through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig is missing, malformed or names something it does not define."""


@dataclass(frozen=True)
class ClusterAccess:
    """Everything needed to open connections to one API server."""

    server: str
    ssl: ssl.SSLContext | None  # None for plain http
    token: str | None = None
    context: str = ""


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise KubeconfigError(f"kubeconfig has no {what} named {name!r}")


def _data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """The bytes of ``<key>-data`` (base64) or of the file named by ``<key>``."""
    inline = section.get(f"{key}-data")
    if inline:
        return base64.b64decode(inline)
    path = section.get(key)
    if path:
        p = Path(os.path.expanduser(path))
        return (p if p.is_absolute() else base / p).read_bytes()
    return None


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> ClusterAccess:
    """Read ``path`` and build the connection facts for ``context`` (default: current-context)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e}") from None
    except yaml.YAMLError as e:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping")
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError(f"kubeconfig {path} has no current-context")
    ctx = _named(doc.get("contexts"), name, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(doc.get("users"), ctx.get("user", ""), "user") if ctx.get("user") else {}
    server = str(cluster.get("server", "")).rstrip("/")
    if not server:
        raise KubeconfigError(f"cluster of context {name!r} has no server")
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(os.path.expanduser(user["tokenFile"])).read_text().strip()
    sslctx: ssl.SSLContext | None = None
    if server.startswith("https://"):
        sslctx = _ssl_context(cluster, user, base)
    return ClusterAccess(server=server, ssl=sslctx, token=token or None, context=name)


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any], base: Path) -> ssl.SSLContext:
    ca = _data(cluster, "certificate-authority", base)
    ctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cluster.get("tls-server-name"):
        # aiohttp takes the name per request; verifying against the IP would fail, so trust the CA only.
        ctx.check_hostname = False
    cert = _data(user, "client-certificate", base)
    key = _data(user, "client-key", base)
    if cert and key:
        _load_chain(ctx, cert, key)
    return ctx


def _load_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``load_cert_chain`` only reads files: write both to a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="kubelite-client-") as tmp:
        cert_path = Path(tmp, "client.crt")
        key_path = Path(tmp, "client.key")
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        ctx.load_cert_chain(cert_path, key_path)
