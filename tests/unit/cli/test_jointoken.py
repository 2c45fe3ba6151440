"""The node join token: its forms, the CA pin, the token file the server keeps, and the
check a joining agent makes on the CA that cluster-info offers."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from kubelite.apiserver.auth.authn import parse_tokens
from kubelite.apiserver.auth.certs import ensure_pki
from kubelite.cli import jointoken


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    base = tmp_path_factory.mktemp("cas")
    return tuple(ensure_pki(base / name, ["127.0.0.1"]).ca_pem() for name in ("one", "two"))  # type: ignore[return-value]


def test_forms() -> None:
    assert jointoken.parse(" abcdef.0123456789abcdef\n") == jointoken.JoinToken("abcdef.0123456789abcdef")
    pinned = jointoken.parse("K10" + "AB" * 32 + "::abcdef.0123456789abcdef")
    assert pinned == jointoken.JoinToken("abcdef.0123456789abcdef", "ab" * 32)
    assert str(pinned) == "K10" + "ab" * 32 + "::abcdef.0123456789abcdef"
    for bad in ("", "K10abc::t", "K10" + "g" * 64 + "::t", "K10" + "a" * 64 + "::"):
        with pytest.raises(jointoken.JoinTokenError):
            jointoken.parse(bad)


def test_the_token_row_makes_a_bootstrapper() -> None:
    token = jointoken.JoinToken(jointoken.new_bootstrap_token(), "a" * 64)
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token.token)
    [(bearer, user)] = parse_tokens([token.token_row()]).items()
    token_id = token.token.split(".")[0]
    assert bearer == token.token and user.name == f"system:bootstrap:{token_id}"
    assert "system:bootstrappers" in user.groups


def test_the_pin_is_kubeadms(cas: tuple[bytes, bytes]) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cas[0])
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert jointoken.ca_hash(cas[0]) == hashlib.sha256(spki).hexdigest() != jointoken.ca_hash(cas[1])


def test_the_node_token_file(tmp_path: Path, cas: tuple[bytes, bytes]) -> None:
    path = tmp_path / "node-token"
    made = jointoken.ensure_node_token(path, cas[0])
    assert path.stat().st_mode & 0o777 == 0o600
    assert jointoken.parse(path.read_text()) == made and made.ca_hash == jointoken.ca_hash(cas[0])
    assert jointoken.ensure_node_token(path, cas[0]) == made  # kept across restarts
    renewed = jointoken.ensure_node_token(path, cas[1])  # a new CA: a new token pinning it
    assert renewed.token != made.token and renewed.ca_hash == jointoken.ca_hash(cas[1])
    path.write_text("garbage K10zz::\n")
    assert jointoken.ensure_node_token(path, cas[1]).ca_hash == jointoken.ca_hash(cas[1])


def test_cluster_info_is_trusted_only_as_pinned(cas: tuple[bytes, bytes]) -> None:
    data = jointoken.cluster_info("https://10.0.0.1:6443", cas[0])
    kubeconfig = yaml.safe_load(data["kubeconfig"])
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.0.0.1:6443" and kubeconfig["users"] == []
    assert base64.b64decode(cluster["certificate-authority-data"]) == cas[0]
    assert jointoken.ca_from_cluster_info(data, jointoken.ca_hash(cas[0])) == cas[0]
    with pytest.raises(jointoken.JoinTokenError, match="is not the one the token pins"):
        jointoken.ca_from_cluster_info(data, jointoken.ca_hash(cas[1]))
    with pytest.raises(jointoken.JoinTokenError, match="no readable CA"):
        jointoken.ca_from_cluster_info({"kubeconfig": "clusters: []"}, jointoken.ca_hash(cas[0]))


def test_only_the_pinned_certificate_of_a_bundle_is_trusted(cas: tuple[bytes, bytes]) -> None:
    """A man in the middle who appends his own CA to the real one gets it nowhere."""
    pin = jointoken.ca_hash(cas[0])
    for bundle in (cas[0] + cas[1], cas[1] + cas[0]):
        trusted = jointoken.ca_from_cluster_info(jointoken.cluster_info("https://x:6443", bundle), pin)
        assert trusted.count(b"BEGIN CERTIFICATE") == 1 and jointoken.ca_hash(trusted) == pin
    assert jointoken.check_pin(cas[1] + cas[0], pin).count(b"BEGIN CERTIFICATE") == 1
    with pytest.raises(jointoken.JoinTokenError):
        jointoken.check_pin(cas[1], pin)


def test_a_kept_node_token_is_root_only_again(tmp_path: Path, cas: tuple[bytes, bytes]) -> None:
    path = tmp_path / "node-token"
    made = jointoken.ensure_node_token(path, cas[0])
    path.chmod(0o644)
    assert jointoken.ensure_node_token(path, cas[0]) == made
    assert path.stat().st_mode & 0o777 == 0o600
