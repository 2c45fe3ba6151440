"""The review kinds through the official kubernetes client: SelfSubjectAccessReview,
SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview (authorization.k8s.io)
and SelfSubjectReview, TokenReview (authentication.k8s.io). They are create-only and never
stored; they answer with what the server's authorizer and authenticator say, and validate
their bodies as Kubernetes does.

Over plain HTTP there is no user (everyone is the admin); the HTTPS server of this module
authenticates static bearer tokens and the admin client certificate, so the answers name
real users.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from threaded_apiserver import start_server, stop_server

from kubelite.api import protobuf
from kubelite.api.authorization_v1 import SelfSubjectAccessReview
from kubelite.apiserver.app import APIServer
from kubelite.apiserver.auth.authz import (
    AlwaysAllow,
    AlwaysDeny,
    Decision,
    RequestAttributes,
    UnionAuthorizer,
)
from kubelite.apiserver.auth.certs import ADMIN_USER, pki_for
from kubelite.apiserver.config import ServerConfig

AUTHZ = "/apis/authorization.k8s.io/v1"
AUTHN = "/apis/authentication.k8s.io/v1"
ALICE_TOKEN = "alice-token-0123456789"
REVIEW_PLURALS = {
    "selfsubjectaccessreviews",
    "subjectaccessreviews",
    "localsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "selfsubjectreviews",
    "tokenreviews",
}


def pods(verb: str = "create", namespace: str = "default") -> client.V1ResourceAttributes:
    return client.V1ResourceAttributes(verb=verb, resource="pods", namespace=namespace)


def error_of(e: ApiException) -> dict[str, Any]:
    return json.loads(e.body)  # type: ignore[no-any-return]


def raw(
    url: str, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    request = urllib.request.Request(url + path, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def authz(k8s: Any) -> client.AuthorizationV1Api:
    return client.AuthorizationV1Api(k8s)


@pytest.fixture(scope="module")
def authn(k8s: Any) -> client.AuthenticationV1Api:
    return client.AuthenticationV1Api(k8s)


# ---------------------------------------------------------------- plain HTTP: no user


def test_self_subject_access_review_without_a_user_is_allowed(authz: client.AuthorizationV1Api) -> None:
    review = authz.create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=pods())
        )
    )
    assert review.status.allowed is True
    assert review.spec.resource_attributes.resource == "pods"  # the spec is echoed


def test_subject_access_review_asks_the_servers_authorizer(
    api_server: Any, authz: client.AuthorizationV1Api
) -> None:
    body = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user="alice", groups=["dev"], resource_attributes=pods("delete")
        )
    )
    review = authz.create_subject_access_review(body)
    assert review.status.allowed is True
    assert review.status.reason == "AlwaysAllow"
    api_server.server.authorizer = AlwaysDeny()
    try:
        review = authz.create_subject_access_review(body)
    finally:
        api_server.server.authorizer = AlwaysAllow()
    assert review.status.allowed is False
    assert review.status.reason == "AlwaysDeny"
    assert not review.status.denied  # no opinion is not an explicit deny

    non_resource = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            groups=["system:authenticated"],
            non_resource_attributes=client.V1NonResourceAttributes(path="/healthz", verb="get"),
        )
    )
    assert authz.create_subject_access_review(non_resource).status.allowed is True


def test_access_review_validation(authz: client.AuthorizationV1Api) -> None:
    with pytest.raises(ApiException) as e:
        authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec())
        )
    assert e.value.status == 422
    status = error_of(e.value)
    assert status["reason"] == "Invalid"
    assert status["message"].startswith('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: ')
    assert "exactly one of nonResourceAttributes or resourceAttributes must be specified" in status["message"]
    assert status["details"]["causes"][0]["field"] == "spec.resourceAttributes"

    with pytest.raises(ApiException) as e:
        authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=pods(),
                    non_resource_attributes=client.V1NonResourceAttributes(path="/", verb="get"),
                )
            )
        )
    assert e.value.status == 422
    assert "cannot be specified in combination with resourceAttributes" in error_of(e.value)["message"]

    with pytest.raises(ApiException) as e:
        authz.create_subject_access_review(
            client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(resource_attributes=pods()))
        )
    assert e.value.status == 422
    assert "spec.user" in error_of(e.value)["message"]
    assert "at least one of user or group must be specified" in error_of(e.value)["message"]

    with pytest.raises(ApiException) as e:
        authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                metadata=client.V1ObjectMeta(name="named"),
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=pods()),
            )
        )
    assert e.value.status == 422
    assert "metadata: Invalid value" in error_of(e.value)["message"]
    assert "must be empty" in error_of(e.value)["message"]

    selector = client.V1ResourceAttributes(
        verb="list", resource="pods", label_selector=client.V1LabelSelectorAttributes()
    )
    with pytest.raises(ApiException) as e:
        authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=selector)
            )
        )
    assert e.value.status == 422
    assert (
        error_of(e.value)["details"]["causes"][0]["field"]
        == "spec.resourceAttributes.labelSelector.requirements"
    )


def test_local_subject_access_review(authz: client.AuthorizationV1Api) -> None:
    def local(namespace: str, attrs_namespace: str, meta_namespace: str | None = None) -> Any:
        return client.V1LocalSubjectAccessReview(
            metadata=client.V1ObjectMeta(namespace=meta_namespace),
            spec=client.V1SubjectAccessReviewSpec(
                user="bob", resource_attributes=pods("get", attrs_namespace)
            ),
        )

    review = authz.create_namespaced_local_subject_access_review("team", local("team", "team"))
    assert review.status.allowed is True
    assert review.metadata.namespace == "team"

    with pytest.raises(ApiException) as e:
        authz.create_namespaced_local_subject_access_review("team", local("team", "other"))
    assert e.value.status == 422
    assert "spec.resourceAttributes.namespace" in error_of(e.value)["message"]
    assert "must match metadata.namespace" in error_of(e.value)["message"]

    with pytest.raises(ApiException) as e:
        authz.create_namespaced_local_subject_access_review("team", local("team", "team", "other"))
    assert e.value.status == 400
    assert "does not match the namespace sent on the request" in error_of(e.value)["message"]

    non_resource = client.V1LocalSubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user="bob", non_resource_attributes=client.V1NonResourceAttributes(path="/", verb="get")
        )
    )
    with pytest.raises(ApiException) as e:
        authz.create_namespaced_local_subject_access_review("team", non_resource)
    assert e.value.status == 422
    assert "disallowed on this kind of request" in error_of(e.value)["message"]


def test_self_subject_rules_review(authz: client.AuthorizationV1Api) -> None:
    review = authz.create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="default"))
    )
    status = review.status
    assert status.incomplete is False
    assert [(r.verbs, r.api_groups, r.resources) for r in status.resource_rules] == [(["*"], ["*"], ["*"])]
    assert [(r.verbs, r.non_resource_urls) for r in status.non_resource_rules] == [(["*"], ["*"])]

    with pytest.raises(ApiException) as e:
        authz.create_self_subject_rules_review(
            client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec())
        )
    assert e.value.status == 400
    assert error_of(e.value)["message"] == "no namespace on request"


def test_authentication_reviews_without_authentication(
    api_server: Any, authn: client.AuthenticationV1Api
) -> None:
    with pytest.raises(ApiException) as e:
        authn.create_self_subject_review(client.V1SelfSubjectReview())
    assert e.value.status == 400
    assert error_of(e.value)["message"] == "no user present on request"

    review = authn.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="anything")))
    assert not review.status or not review.status.authenticated

    code, status = raw(api_server.url, "POST", f"{AUTHN}/tokenreviews", b'{"spec":{}}')
    assert code == 400
    assert status["message"] == "token is required for TokenReview in authentication"


def test_reviews_are_create_only_and_never_stored(api_server: Any, authz: client.AuthorizationV1Api) -> None:
    for _ in range(3):
        authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=pods())
            )
        )
    code, status = raw(api_server.url, "GET", f"{AUTHZ}/selfsubjectaccessreviews")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    code, status = raw(api_server.url, "GET", f"{AUTHZ}/selfsubjectaccessreviews?watch=true")
    assert code == 405
    code, _ = raw(api_server.url, "DELETE", f"{AUTHZ}/subjectaccessreviews")
    assert code == 405
    code, _ = raw(api_server.url, "GET", f"{AUTHZ}/selfsubjectaccessreviews/x")
    assert code == 404
    code, _ = raw(api_server.url, "POST", f"{AUTHZ}/localsubjectaccessreviews", b"{}")
    assert code == 405  # a namespaced kind: writes need a namespace in the path

    store = api_server.server.rest.store
    for group in ("authorization.k8s.io", "authentication.k8s.io"):
        assert api_server.call(store.count(f"/registry/{group}/")) == 0
        assert not [
            p for p in api_server.server.rest.cache.watch_count() if p.startswith(f"/registry/{group}/")
        ]


def test_discovery_and_openapi_show_only_create(api_server: Any) -> None:
    for group, names in (
        ("authorization.k8s.io", REVIEW_PLURALS - {"selfsubjectreviews", "tokenreviews"}),
        ("authentication.k8s.io", {"selfsubjectreviews", "tokenreviews"}),
    ):
        code, doc = raw(api_server.url, "GET", f"/apis/{group}/v1")
        assert code == 200
        resources = {r["name"]: r for r in doc["resources"]}
        assert set(resources) == names
        for r in resources.values():
            assert r["verbs"] == ["create"]
        assert resources.get("localsubjectaccessreviews", {"namespaced": True})["namespaced"] is True

    code, doc = raw(api_server.url, "GET", "/openapi/v3/apis/authorization.k8s.io/v1")
    assert code == 200
    paths = {p: item for p, item in doc["paths"].items() if p != f"{AUTHZ}/"}  # all but discovery
    assert set(paths) == {
        f"{AUTHZ}/selfsubjectaccessreviews",
        f"{AUTHZ}/subjectaccessreviews",
        f"{AUTHZ}/namespaces/{{namespace}}/localsubjectaccessreviews",
        f"{AUTHZ}/selfsubjectrulesreviews",
    }
    for item in paths.values():
        assert {m for m in item if m != "parameters"} == {"post"}
    post = paths[f"{AUTHZ}/selfsubjectaccessreviews"]["post"]
    assert post["operationId"] == "createAuthorizationV1SelfSubjectAccessReview"
    assert post["x-kubernetes-group-version-kind"]["kind"] == "SelfSubjectAccessReview"


def test_protobuf_and_strict_bodies(api_server: Any) -> None:
    """kubectl auth can-i sends its review as protobuf."""
    review = {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}}}
    body = protobuf.encode_unknown(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        protobuf.encode_message(review, SelfSubjectAccessReview),
    )
    code, answer = raw(
        api_server.url,
        "POST",
        f"{AUTHZ}/selfsubjectaccessreviews",
        body,
        "application/vnd.kubernetes.protobuf",
    )
    assert code == 201
    assert answer["kind"] == "SelfSubjectAccessReview"
    assert answer["apiVersion"] == "authorization.k8s.io/v1"
    assert answer["status"]["allowed"] is True
    assert answer["spec"]["resourceAttributes"]["verb"] == "get"

    strict = json.dumps({**review, "bogus": 1}).encode()
    code, status = raw(
        api_server.url,
        "POST",
        f"{AUTHZ}/selfsubjectaccessreviews?fieldValidation=Strict",
        strict,
        "application/json",
    )
    assert code == 400
    assert 'unknown field "bogus"' in status["message"]


# --------------------------------------------------------- HTTPS: users from tokens and certificates


class ReviewsOnly:
    """Lets anyone ask reviews and nothing else (so a user can learn they may not)."""

    def authorize(self, attrs: RequestAttributes) -> Decision:
        if attrs.resource in REVIEW_PLURALS:
            return Decision(True, "reviews are for everyone")
        return Decision(False, f"{attrs.user.name} may only ask")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[APIServer, ServerConfig]]:
    base = tmp_path_factory.mktemp("reviews-tls")
    tokens = base / "tokens.csv"
    tokens.write_text(f'{ALICE_TOKEN},alice,1001,"dev,ops"\n')
    config = ServerConfig(data_dir=base / "data", port=0, tls=True, token_file=tokens, store="memory")
    running, thread = start_server(config)
    yield running.server, config
    stop_server(running, thread)


def tls_client(server: APIServer, config: ServerConfig, token: str | None) -> client.ApiClient:
    pki = pki_for(config)
    cfg = client.Configuration()
    cfg.host = server.url
    cfg.ssl_ca_cert = str(pki.ca_cert)
    if token is None:
        cfg.cert_file = str(pki.admin_cert)
        cfg.key_file = str(pki.admin_key)
    else:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


@pytest.fixture
def alice(tls_server: tuple[APIServer, ServerConfig]) -> Iterator[client.ApiClient]:
    with tls_client(*tls_server, ALICE_TOKEN) as api:
        yield api


@pytest.fixture
def admin(tls_server: tuple[APIServer, ServerConfig]) -> Iterator[client.ApiClient]:
    with tls_client(*tls_server, None) as api:
        yield api


@pytest.fixture
def reviews_only(tls_server: tuple[APIServer, ServerConfig]) -> Iterator[None]:
    server = tls_server[0]
    server.authorizer = ReviewsOnly()
    try:
        yield
    finally:
        server.authorizer = AlwaysAllow()


def test_whoami(alice: client.ApiClient, admin: client.ApiClient) -> None:
    review = client.AuthenticationV1Api(alice).create_self_subject_review(client.V1SelfSubjectReview())
    user = review.status.user_info
    assert (user.username, user.uid) == ("alice", "1001")
    assert user.groups == ["dev", "ops", "system:authenticated"]
    assert review.metadata.creation_timestamp is not None

    user = (
        client.AuthenticationV1Api(admin)
        .create_self_subject_review(client.V1SelfSubjectReview())
        .status.user_info
    )
    assert user.username == ADMIN_USER
    assert user.groups == ["system:masters", "system:authenticated"]


def test_token_review(admin: client.ApiClient) -> None:
    api = client.AuthenticationV1Api(admin)
    review = api.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token=ALICE_TOKEN)))
    assert review.status.authenticated is True
    assert review.status.user.username == "alice"
    assert review.status.user.uid == "1001"
    assert review.status.user.groups == ["dev", "ops", "system:authenticated"]

    review = api.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="not-a-token")))
    assert not review.status.authenticated
    assert review.status.error == "invalid bearer token"
    assert review.status.user is None or not review.status.user.username


def test_self_reviews_ask_about_the_requesting_user(alice: client.ApiClient, reviews_only: None) -> None:
    authz = client.AuthorizationV1Api(alice)
    review = authz.create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=pods())
        )
    )
    assert review.status.allowed is False
    assert review.status.reason == "alice may only ask"

    review = authz.create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb="create", group="authorization.k8s.io", resource="selfsubjectaccessreviews"
                )
            )
        )
    )
    assert review.status.allowed is True

    # An authorizer that cannot list its rules makes the rules review incomplete.
    rules = authz.create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="default"))
    )
    assert rules.status.incomplete is True
    assert not rules.status.resource_rules


def test_rules_of_a_union(tls_server: tuple[APIServer, ServerConfig], alice: client.ApiClient) -> None:
    server = tls_server[0]
    server.authorizer = UnionAuthorizer([AlwaysDeny(), AlwaysAllow()])
    try:
        rules = client.AuthorizationV1Api(alice).create_self_subject_rules_review(
            client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="default"))
        )
    finally:
        server.authorizer = AlwaysAllow()
    assert rules.status.incomplete is False
    assert [r.resources for r in rules.status.resource_rules] == [["*"]]
    assert [r.non_resource_urls for r in rules.status.non_resource_rules] == [["*"]]


def test_unauthenticated_requests_get_401(tls_server: tuple[APIServer, ServerConfig]) -> None:
    with tls_client(*tls_server, "wrong") as api, pytest.raises(ApiException) as e:
        client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert e.value.status == 401


def test_users_on_one_connection(tls_server: tuple[APIServer, ServerConfig]) -> None:
    """The server remembers a connection's user per Authorization header: a kept-alive
    connection that changes or drops its token is authenticated anew each time."""
    server, config = tls_server
    pki = pki_for(config)
    url = urllib.parse.urlsplit(server.url)
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    conn = http.client.HTTPSConnection(url.hostname or "", url.port, context=context, timeout=10)
    review = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})

    def whoami(token: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("POST", f"{AUTHN}/selfsubjectreviews", body=review, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    try:
        for _ in range(2):
            status, body = whoami(ALICE_TOKEN)
            assert status == 201 and body["status"]["userInfo"]["username"] == "alice"
            status, body = whoami("not-a-token")
            assert status == 401, body
            status, body = whoami(None)
            assert status == 401, body  # anonymous may not ask
    finally:
        conn.close()
