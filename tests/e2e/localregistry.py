"""A local Docker distribution registry (``docker-registry``) and a token server for its
``auth: token:``, for the e2e tests: ``start_registry`` serves a storage dir on
127.0.0.1:<free port>, ``skopeo_push`` loads an OCI archive into it, ``TokenServer``
issues RS256 JWTs (x5c) to one user, and ``token_server_thread`` runs one on its own
event loop for synchronous (session) fixtures. Used by ``tests/e2e/images`` and
``tests/e2e/test_node_agent.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGISTRY_BIN = shutil.which("docker-registry")
SKOPEO_BIN = shutil.which("skopeo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Registry:
    proc: subprocess.Popen[bytes]
    port: int
    storage: Path
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def blob_data(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_registry(base: Path, storage: Path, auth: dict[str, Any] | None = None) -> Registry:
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    if auth:
        config["auth"] = auth
    cfg = base / f"registry-{port}.yml"
    cfg.write_text(yaml.safe_dump(config))
    log = base / f"registry-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    reg = Registry(proc, port, storage, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"docker-registry exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{reg.url}/v2/", timeout=2):
                return reg
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return reg
        except OSError:
            pass
        time.sleep(0.1)
    reg.stop()
    pytest.fail(f"docker-registry did not answer on {reg.url}: {log.read_text()}")


def skopeo_push(archive: Path, dest: str, creds: str | None = None) -> None:
    """Copy the OCI archive to ``dest`` (``docker://host/repo:tag``); ``creds``: ``user:password``."""
    subprocess.run(
        [
            str(SKOPEO_BIN),
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            *(["--dest-creds", creds] if creds else []),
            f"oci-archive:{archive}",
            dest,
        ],
        check=True,
        capture_output=True,
    )


class TokenServer:
    """Issues registry JWTs (RS256, x5c) to one user, for the registry's ``auth: token:``."""

    issuer = "kubelite-test-issuer"
    service = "kubelite-test-registry"

    def __init__(self, base: Path, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelite test token signer")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = base / "token-bundle.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    def _token(self, scope: str) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        if scope:
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("", "", "")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": self.user,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"details": "bad credentials"}, status=401)
        token = self._token(request.query.get("scope", ""))
        return web.json_response({"token": token, "access_token": token, "expires_in": 300})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/token", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def registry_auth(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": f"http://127.0.0.1:{self.port}/token",
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.bundle),
                "autoredirect": False,
            }
        }


@contextmanager
def token_server_thread(base: Path, user: str, password: str) -> Iterator[TokenServer]:
    """A started ``TokenServer`` serving from an event loop in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="token-server", daemon=True)
    thread.start()
    tokens = TokenServer(base, user, password)
    try:
        asyncio.run_coroutine_threadsafe(tokens.start(), loop).result(10)
        yield tokens
    finally:
        asyncio.run_coroutine_threadsafe(tokens.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
