"""The csrapproving and csrsigning controllers against an HTTPS in-process API server.

A bootstrapper (a token user) files a node's client certificate request; the
approver approves it after a SubjectAccessReview, the signer issues it with
the cluster CA, and the issued certificate authenticates as the node. That
node's serving request naming its own addresses is approved and signed too;
one naming somebody else's address waits for an administrator. Requests that
break their signer's rules fail; denied ones are never signed; other
signers' requests are left alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from threaded_apiserver import RunningServer, tls_server_with_tokens

from kubelite.api import csr as csrs
from kubelite.apiserver.auth.certs import pki_for
from kubelite.apiserver.config import ServerConfig
from kubelite.client import Client, lookup
from kubelite.controllers.manager import ControllerManager

CSR = lookup("certificates.k8s.io", "v1", "CertificateSigningRequest")
NODE = lookup("", "v1", "Node")
WHOAMI = lookup("authentication.k8s.io", "v1", "SelfSubjectReview")
TOKEN = "abcdef.0123456789abcdef"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, ServerConfig]]:
    tokens = f'{TOKEN},system:bootstrap:abcdef,b-1,"system:bootstrappers"\n'
    with tls_server_with_tokens(tmp_path_factory.mktemp("csr-controllers"), tokens) as server:
        yield server


def _ssl(
    config: ServerConfig, cert: tuple[bytes, bytes] | None = None, admin: bool = False
) -> ssl.SSLContext:
    pki = pki_for(config)
    ctx = pki.client_ssl_context(admin=admin)
    if cert is not None:
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "c.pem").write_bytes(cert[0])
            (Path(d) / "k.pem").write_bytes(cert[1])
            ctx.load_cert_chain(str(Path(d) / "c.pem"), str(Path(d) / "k.pem"))
    return ctx


@pytest.fixture
async def cluster(tls_server: tuple[RunningServer, ServerConfig]) -> AsyncIterator[dict[str, Any]]:
    running, config = tls_server
    pki = pki_for(config)
    admin = Client(running.url, ssl=_ssl(config, admin=True), component="test-admin")
    bootstrap = Client(running.url, ssl=_ssl(config), token=TOKEN, component="test-bootstrap")
    options = {"cluster-signing-cert-file": str(pki.ca_cert), "cluster-signing-key-file": str(pki.ca_key)}
    manager = ControllerManager(admin, "csrapproving,csrsigning", leader_elect=False, options=options)
    task = asyncio.create_task(manager.run())
    await asyncio.wait_for(manager.started.wait(), 30)
    try:
        yield {
            "admin": admin,
            "bootstrap": bootstrap,
            "config": config,
            "url": running.url,
            "ca": pki.ca_cert,
        }
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for c in (admin, bootstrap):
            await c.close()


def request_for(
    cn: str,
    orgs: tuple[str, ...] = (csrs.NODES_GROUP,),
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
) -> tuple[bytes, bytes]:
    """(CSR PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    req = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return req.public_bytes(serialization.Encoding.PEM), key_pem


async def file(client: Client, name: str, pem: bytes, signer: str, usages: list[str], **spec: Any) -> Any:
    body = {
        "spec": {"request": pem, "signerName": signer, "usages": usages, **spec},
        "metadata": {"name": name},
    }
    import base64

    body["spec"]["request"] = base64.b64encode(pem).decode()
    return await client.resource(CSR).create(body)


async def until(client: Client, name: str, check: Any, timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        obj = await client.resource(CSR).get(name)
        if check(obj):
            return obj
        if loop.time() > deadline:
            raise AssertionError(f"{name}: {obj.status}")
        await asyncio.sleep(0.05)


def _issued(obj: Any) -> bool:
    return bool(obj.status.certificate)


async def test_a_node_bootstraps_its_client_and_serving_certificates(cluster: dict[str, Any]) -> None:
    admin, bootstrap = cluster["admin"], cluster["bootstrap"]
    pem, key = request_for("system:node:worker-1")
    await file(
        bootstrap, "node-csr-1", pem, csrs.KUBE_APISERVER_CLIENT_KUBELET, ["digital signature", "client auth"]
    )
    done = await until(admin, "node-csr-1", _issued)
    approved = [c for c in done.status.conditions if c.type == "Approved"]
    assert approved[0].reason == "AutoApproved"
    assert approved[0].message == "Auto approving kubelet client certificate after SubjectAccessReview."
    (cert,) = csrs.certificates_of(done.status.certificate)
    ca = x509.load_pem_x509_certificate(Path(cluster["ca"]).read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=365, minutes=5)

    # The issued certificate is the node's identity.
    node_client = Client(
        cluster["url"], ssl=_ssl(cluster["config"], (done.status.certificate, key)), component="kubelet"
    )
    try:
        me = await node_client.resource(WHOAMI).create({})
        assert me.status.userInfo.username == "system:node:worker-1"
        assert "system:nodes" in me.status.userInfo.groups
        await admin.resource(NODE).create({"metadata": {"name": "worker-1"}})
        node = await admin.resource(NODE).get("worker-1")
        node.status.addresses = [
            {"type": "InternalIP", "address": "10.1.2.3"},
            {"type": "Hostname", "address": "worker-1.example"},
        ]
        import msgspec

        await admin.resource(NODE).update_status(msgspec.to_builtins(node))
        serving, _ = request_for("system:node:worker-1", dns=("worker-1.example",), ips=("10.1.2.3",))
        usages = ["digital signature", "server auth"]
        await file(node_client, "serving-1", serving, csrs.KUBELET_SERVING, usages, expirationSeconds=3600)
        done = await until(admin, "serving-1", _issued)
        (cert,) = csrs.certificates_of(done.status.certificate)
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=1, minutes=5)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["worker-1.example"]
        # Somebody else's address: left for an administrator, who approves by hand.
        foreign, _ = request_for("system:node:worker-1", ips=("10.9.9.9",))
        await file(node_client, "serving-2", foreign, csrs.KUBELET_SERVING, usages)
        await asyncio.sleep(0.5)
        pending = await admin.resource(CSR).get("serving-2")
        assert not pending.status.conditions and not pending.status.certificate
        pending.status.conditions = [{"type": "Approved", "status": "True", "reason": "ByHand"}]
        await admin.resource(CSR).update(msgspec.to_builtins(pending), "approval")
        await until(admin, "serving-2", _issued)
    finally:
        await node_client.close()


async def test_rule_breakers_fail_and_denied_ones_are_never_signed(cluster: dict[str, Any]) -> None:
    admin = cluster["admin"]
    import msgspec

    async def approve(name: str, kind: str = "Approved") -> None:
        obj = await admin.resource(CSR).get(name)
        obj.status.conditions = [{"type": kind, "status": "True", "reason": "Test"}]
        await admin.resource(CSR).update(msgspec.to_builtins(obj), "approval")

    # A kubelet client request with a SAN: not recognised by the approver, failed by the signer.
    pem, _ = request_for("system:node:w2", ips=("10.0.0.1",))
    await file(
        admin, "with-san", pem, csrs.KUBE_APISERVER_CLIENT_KUBELET, ["digital signature", "client auth"]
    )
    await asyncio.sleep(0.3)
    assert not (await admin.resource(CSR).get("with-san")).status.conditions
    await approve("with-san")
    failed = await until(admin, "with-san", csrs.has_failed)
    (cond,) = [c for c in failed.status.conditions if c.type == "Failed"]
    assert (cond.reason, cond.message) == ("SignerValidationFailure", "IP subjectAltNames are not allowed")
    assert not failed.status.certificate
    # kube-apiserver-client refuses system:masters and server usages; signs a plain client.
    pem, _ = request_for("eve", orgs=("system:masters",))
    await file(admin, "masters", pem, csrs.KUBE_APISERVER_CLIENT, ["client auth"])
    await approve("masters")
    assert "system:masters" in next(
        c.message
        for c in (await until(admin, "masters", csrs.has_failed)).status.conditions
        if c.type == "Failed"
    )
    pem, _ = request_for("bob", orgs=("devs",))
    await file(admin, "bob", pem, csrs.KUBE_APISERVER_CLIENT, ["client auth", "digital signature"])
    await approve("bob")
    await until(admin, "bob", _issued)
    # Denied: never signed. Another signer's: left alone.
    pem, _ = request_for("carol")
    await file(admin, "denied", pem, csrs.KUBE_APISERVER_CLIENT, ["client auth"])
    await approve("denied", "Denied")
    pem, _ = request_for("dave")
    await file(admin, "elsewhere", pem, "example.com/other", ["client auth"])
    await approve("elsewhere")
    await asyncio.sleep(0.5)
    for name in ("denied", "elsewhere"):
        obj = await admin.resource(CSR).get(name)
        assert not obj.status.certificate and not csrs.has_failed(obj), name
