"""The built-in signers' rules, the signing itself, and the approver's node serving rule."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from csr_testing import build_request, key_pem_of, pem_of, self_signed

from kubelite.api import csr as csrs
from kubelite.controllers import csrpolicy
from kubelite.controllers.csrapproving import is_self_node_client_request, node_serving_refusal

CLIENT = ["digital signature", "client auth"]
SERVING = ["digital signature", "server auth"]


request = build_request


def ident(*args, **kw):  # type: ignore[no-untyped-def]
    return csrs.requested_identity(request(*args, **kw))


def test_kubelet_client_rules() -> None:
    check = csrpolicy.kubelet_client_error
    assert check(ident("system:node:a"), CLIENT) == ""
    assert check(ident("system:node:a"), ["key encipherment", *CLIENT]) == ""
    assert (
        check(ident("system:node:a", ("system:nodes", "x")), CLIENT)
        == "subject organization is not system:nodes"
    )
    assert check(ident("system:node:a", dns=("a",)), CLIENT) == "DNS subjectAltNames are not allowed"
    assert check(ident("system:node:a", ips=("10.0.0.1",)), CLIENT) == "IP subjectAltNames are not allowed"
    assert check(ident("system:node:a", emails=("a@b.c",)), CLIENT) == "Email subjectAltNames are not allowed"
    assert check(ident("alice"), CLIENT) == "subject common name does not begin with system:node:"
    assert check(ident("system:node:a"), ["client auth"]).startswith("usages did not match")


def test_kubelet_serving_rules() -> None:
    check = csrpolicy.kubelet_serving_error
    assert check(ident("system:node:a", ips=("10.0.0.1",)), SERVING) == ""
    assert check(ident("system:node:a"), SERVING) == "DNS or IP subjectAltName is required"
    assert check(ident("system:node:a", dns=("a",)), CLIENT).startswith("usages did not match")
    assert check(ident("a", dns=("a",)), SERVING) == "subject common name does not begin with system:node:"


def test_apiserver_client_rules_and_unknown_signers() -> None:
    check = csrpolicy.apiserver_client_error
    assert check(ident("bob", ("devs",)), ["client auth", "key encipherment"]) == ""
    assert (
        check(ident("bob", ("devs",)), ["server auth"]) == "invalid usage for client certificate: server auth"
    )
    assert check(ident("bob", ("devs",)), ["digital signature"]).startswith("missing required usage")
    assert "system:masters" in check(ident("eve", ("system:masters",)), ["client auth"])
    assert csrpolicy.signer_check("example.com/x", ident("x"), CLIENT) is None


def test_duration_is_capped_and_floored() -> None:
    year = csrpolicy.DEFAULT_SIGNING_DURATION
    assert csrpolicy.duration(None) == year
    assert csrpolicy.duration(10 * 365 * 86400) == year
    assert csrpolicy.duration(3600) == dt.timedelta(hours=1)
    assert csrpolicy.duration(60) == dt.timedelta(minutes=10)
    assert csrpolicy.duration(3600, limit=dt.timedelta(minutes=30)) == dt.timedelta(minutes=30)
    assert csrpolicy.duration(10**18) == year  # stored before validation refused it: no overflow


def _ca(key):  # type: ignore[no-untyped-def]
    return csrpolicy.SigningCA.from_pem(pem_of(self_signed(key, days=30)), key_pem_of(key))


@pytest.mark.parametrize(
    "ca_key", [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)]
)
def test_sign(ca_key) -> None:  # type: ignore[no-untyped-def]
    ca = _ca(ca_key)
    req = request("system:node:a", dns=("a.example",), ips=("10.0.0.7",))
    pem = csrpolicy.sign(ca, req, ["digital signature", "key encipherment", "server auth"], None)
    (cert,) = csrs.certificates_of(pem)
    cert.verify_directly_issued_by(ca.cert)
    assert cert.subject == req.subject
    assert cert.public_key() == req.public_key()
    # Never past the CA, however long the signing duration.
    assert cert.not_valid_after_utc <= ca.cert.not_valid_after_utc
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment  # an EC key enciphers no keys
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    with pytest.raises(ValueError):
        csrpolicy.sign(ca, req, ["flying"], None)


def _csr(user: str, groups: list[str], signer: str, usages: list[str]):  # type: ignore[no-untyped-def]
    return SimpleNamespace(
        spec=SimpleNamespace(username=user, groups=groups, signerName=signer, usages=usages)
    )


def _node(*addresses: str):  # type: ignore[no-untyped-def]
    return SimpleNamespace(status=SimpleNamespace(addresses=[SimpleNamespace(address=a) for a in addresses]))


def test_node_serving_approval_rule() -> None:
    node_user, groups = "system:node:a", ["system:nodes", "system:authenticated"]
    obj = _csr(node_user, groups, csrs.KUBELET_SERVING, SERVING)
    mine = ident("system:node:a", dns=("a", "a.example"), ips=("10.0.0.7",))
    node = _node("10.0.0.7", "a.example")
    assert node_serving_refusal(obj, mine, node) == ""
    assert "not an address" in node_serving_refusal(obj, ident("system:node:a", ips=("10.9.9.9",)), node)
    # An address the node reports in another spelling is the same address.
    v6 = ident("system:node:a", ips=("fd00::7",))
    assert node_serving_refusal(obj, v6, _node("FD00:0:0::7")) == ""
    assert "does not exist" in node_serving_refusal(obj, mine, None)
    other = ident("system:node:b", ips=("10.0.0.7",))
    assert "is not the requester" in node_serving_refusal(obj, other, node)
    by_admin = _csr("kubelite-admin", ["system:masters"], csrs.KUBELET_SERVING, SERVING)
    assert "is not a node" in node_serving_refusal(by_admin, mine, node)
    extra_usage = _csr(node_user, groups, csrs.KUBELET_SERVING, [*SERVING, "client auth"])
    assert "usages did not match" in node_serving_refusal(extra_usage, mine, node)


def test_self_node_client_recognition() -> None:
    obj = _csr("system:node:a", [], csrs.KUBE_APISERVER_CLIENT_KUBELET, CLIENT)
    assert is_self_node_client_request(obj, ident("system:node:a"))
    assert not is_self_node_client_request(obj, ident("system:node:b"))


def test_lifetimes_as_kubernetes_signs_them() -> None:
    ca = _ca(ec.generate_private_key(ec.SECP256R1()))  # valid for 30 days
    req = request("system:node:a")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def bounds(seconds: int | None, limit: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        (cert,) = csrs.certificates_of(csrpolicy.sign(ca, req, CLIENT, seconds, limit, now=now))
        return cert.not_valid_before_utc, cert.not_valid_after_utc

    five = dt.timedelta(minutes=5)
    # Long-lived: both ends backdated, so it lasts exactly the duration.
    assert bounds(None, dt.timedelta(days=10)) == (now - five, now + dt.timedelta(days=10) - five)
    # Short-lived (under 8 hours): the end is not backdated.
    assert bounds(3600, dt.timedelta(days=10)) == (now - five, now + dt.timedelta(hours=1))
    # Never past the CA.
    assert bounds(None, dt.timedelta(days=365))[1] == ca.cert.not_valid_after_utc
    # An expired CA signs nothing, and says so.
    with pytest.raises(ValueError, match="the signer has expired"):
        csrpolicy.sign(ca, req, CLIENT, None, now=ca.cert.not_valid_after_utc + dt.timedelta(minutes=6))


def test_only_dns_ip_email_and_uri_names_are_certified() -> None:
    ca = _ca(ec.generate_private_key(ec.SECP256R1()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [
        x509.DNSName("bob.example"),
        x509.RFC822Name("bob@example.com"),
        x509.UniformResourceIdentifier("spiffe://example/bob"),
        x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])),
        x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
    ]
    req = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bob")]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    (cert,) = csrs.certificates_of(csrpolicy.sign(ca, req, ["client auth"], None))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == sans[:3]


def test_the_authority_key_identifier_is_the_cas_own() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier(b"\x01" * 8)  # not derived from the key, as some tools make it
    ca_cert = self_signed(key, days=30, cn="external-ca", ski=ski.digest)
    ca = csrpolicy.SigningCA.from_pem(pem_of(ca_cert), key_pem_of(key))
    (cert,) = csrs.certificates_of(csrpolicy.sign(ca, request("system:node:a"), CLIENT, None))
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    # A CA without one: none in the issued certificate either (as Go does).
    bare = csrpolicy.SigningCA.from_pem(pem_of(self_signed(key)), key_pem_of(key))
    (cert,) = csrs.certificates_of(csrpolicy.sign(bare, request("system:node:a"), CLIENT, None))
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
