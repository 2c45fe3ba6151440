"""Who a request is: static tokens, client certificates, the union, and what anonymous may see."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.apiserver.auth.authn import (
    ANONYMOUS,
    AuthenticationError,
    TokenFileAuthenticator,
    TokenFileError,
    UnionAuthenticator,
    UserInfo,
    X509Authenticator,
    anonymous_allowed,
    bearer_token,
    parse_tokens,
)

TOKENS = """\
s3cr3t,alice,1001,"dev,ops"
t0k3n,bob,1002

,nobody,1003
robot-token,system:serviceaccount:default:robot,u-robot,system:serviceaccounts,extra
"""


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(TOKENS)
    return path


def test_token_file_rows(token_file: Path) -> None:
    tokens = TokenFileAuthenticator(token_file).tokens
    assert set(tokens) == {"s3cr3t", "t0k3n", "robot-token"}  # the empty token is skipped
    assert tokens["s3cr3t"] == UserInfo("alice", ("dev", "ops", "system:authenticated"), "1001")
    assert tokens["t0k3n"] == UserInfo("bob", ("system:authenticated",), "1002")
    assert tokens["robot-token"].groups == ("system:serviceaccounts", "system:authenticated")


def test_token_file_duplicate_token_keeps_the_last_row() -> None:
    tokens = parse_tokens(["tok,first,1", "tok,second,2"])
    assert tokens["tok"].name == "second"


def test_token_file_with_too_few_columns_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("good,user,1\nonly,two\n")
    with pytest.raises(TokenFileError, match="at least 3 columns"):
        TokenFileAuthenticator(path)
    with pytest.raises(TokenFileError, match="cannot read"):
        TokenFileAuthenticator(tmp_path / "missing.csv")


def test_bearer_token_header() -> None:
    assert bearer_token({"Authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "Basic YWxpY2U6cHc="}) is None
    assert bearer_token({"Authorization": "Bearer "}) is None
    assert bearer_token({}) is None


def test_token_authentication(token_file: Path) -> None:
    authn = TokenFileAuthenticator(token_file)
    user = authn.authenticate({"Authorization": "Bearer s3cr3t"}, None)
    assert user is not None and user.name == "alice" and user.uid == "1001"
    assert authn.authenticate({}, None) is None
    assert authn.authenticate({"Authorization": "Basic abc"}, None) is None
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        authn.authenticate({"Authorization": "Bearer wrong"}, None)


# What ssl.SSLSocket.getpeercert() returns for a verified client certificate.
PEERCERT = {
    "subject": (
        (("organizationName", "system:masters"),),
        (("organizationName", "ops"),),
        (("commonName", "kubelite-admin"),),
    ),
    "issuer": ((("commonName", "kubelite-ca@1"),),),
    "version": 3,
    "serialNumber": "01",
    "notBefore": "Jan  1 00:00:00 2025 GMT",
    "notAfter": "Jan  1 00:00:00 2026 GMT",
}


def test_x509_maps_cn_to_user_and_o_to_groups() -> None:
    user = X509Authenticator().authenticate({}, PEERCERT)
    assert user == UserInfo("kubelite-admin", ("system:masters", "ops", "system:authenticated"))


def test_x509_without_a_certificate_or_a_cn_says_nothing() -> None:
    authn = X509Authenticator()
    assert authn.authenticate({}, None) is None
    assert authn.authenticate({}, {}) is None  # what getpeercert() gives when no certificate was sent
    assert authn.authenticate({}, {"subject": ((("organizationName", "x"),),)}) is None


def test_union_first_user_wins_and_errors_only_count_without_one(token_file: Path) -> None:
    union = UnionAuthenticator([X509Authenticator(), TokenFileAuthenticator(token_file)])
    # a client certificate wins even with a bad token beside it
    user = union.authenticate({"Authorization": "Bearer wrong"}, PEERCERT)
    assert user is not None and user.name == "kubelite-admin"
    user = union.authenticate({"Authorization": "Bearer t0k3n"}, None)
    assert user is not None and user.name == "bob"
    with pytest.raises(AuthenticationError):
        union.authenticate({"Authorization": "Bearer wrong"}, None)
    assert union.authenticate({}, None) is None


def test_union_adds_the_authenticated_group_once() -> None:
    class Plain:
        def authenticate(self, headers, peercert):  # type: ignore[no-untyped-def]
            return UserInfo("carol", ("team",))

    user = UnionAuthenticator([Plain()]).authenticate({}, None)
    assert user == UserInfo("carol", ("team", "system:authenticated"))


def test_anonymous_user() -> None:
    assert ANONYMOUS.name == "system:anonymous"
    assert ANONYMOUS.groups == ("system:unauthenticated",)
    assert ANONYMOUS.is_anonymous


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/healthz/ping",
        "/livez",
        "/livez/",
        "/readyz",
        "/readyz/poststarthook/start-informers",
        "/version",
        "/version/",
        "/api",
        "/api/",
        "/api/v1",
        "/apis",
        "/apis/apps",
        "/apis/apps/v1",
        "/apis/rbac.authorization.k8s.io/v1",
        "/openapi/v2",
        "/openapi/v3",
        "/openapi/v3/apis/apps/v1",
        "/readyz?verbose",
    ],
)
def test_anonymous_may_see_health_version_and_discovery(path: str) -> None:
    assert anonymous_allowed(path)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/api/v1/namespaces",
        "/api/v1/namespaces/default/secrets",
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/namespaces/default/deployments/web",
        "/version/extra",
        "/metrics",
        "/openapi",
        "/openapi/v1",
        "/healthzz",
        "/ui",
        "/healthz/../api/v1/secrets",
        "/healthz/%2e%2e/api/v1/secrets",
        "//api/v1/secrets",
        "/apis/apps//v1/secrets",
        "healthz",
    ],
)
def test_anonymous_may_not_see_anything_else(path: str) -> None:
    assert not anonymous_allowed(path)


def test_anonymous_may_only_read_cluster_info() -> None:
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    assert anonymous_allowed(path) and anonymous_allowed(path, "HEAD")
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert not anonymous_allowed(path, method)
    for other in (
        "/api/v1/namespaces/kube-public/configmaps",
        "/api/v1/namespaces/kube-public/configmaps/other",
        "/api/v1/namespaces/kube-system/configmaps/cluster-info",
        path + "/x",
    ):
        assert not anonymous_allowed(other)
