"""Authorization: request attributes from URLs, the built-in authorizers and their union."""

from __future__ import annotations

import pytest

from kubelite.apiserver.auth.authn import UserInfo
from kubelite.apiserver.auth.authz import (
    AUTHORIZERS,
    AlwaysAllow,
    AlwaysDeny,
    Decision,
    NodeBootstrapperLimit,
    RequestAttributes,
    UnionAuthorizer,
    build_authorizer,
    request_attributes,
)

ALICE = UserInfo("alice", ("system:authenticated",))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/pods/p", {}, ("get", "ns", "", "v1", "pods", "", "p")),
        ("GET", "/api/v1/namespaces/ns/pods", {}, ("list", "ns", "", "v1", "pods", "", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "v1", "pods", "", "")),
        ("GET", "/api/v1/watch/namespaces/ns/pods", {}, ("watch", "ns", "", "v1", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, ("get", "ns", "", "v1", "pods", "log", "p")),
        (
            "POST",
            "/apis/apps/v1/namespaces/ns/deployments",
            {},
            ("create", "ns", "apps", "v1", "deployments", "", ""),
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            {},
            ("update", "ns", "apps", "v1", "deployments", "scale", "d"),
        ),
        ("PATCH", "/api/v1/nodes/n1", {}, ("patch", "", "", "v1", "nodes", "", "n1")),
        (
            "DELETE",
            "/api/v1/namespaces/ns/configmaps",
            {},
            ("deletecollection", "ns", "", "v1", "configmaps", "", ""),
        ),
        ("DELETE", "/api/v1/namespaces/ns", {}, ("delete", "ns", "", "v1", "namespaces", "", "ns")),
        (
            "PUT",
            "/api/v1/namespaces/ns/finalize",
            {},
            ("update", "ns", "", "v1", "namespaces", "finalize", "ns"),
        ),
        ("GET", "/api/v1/namespaces", {}, ("list", "", "", "v1", "namespaces", "", "")),
        (
            "GET",
            "/api/v1/namespaces/ns/events",
            {"fieldSelector": "metadata.name=e1"},
            ("list", "ns", "", "v1", "events", "", "e1"),
        ),
    ],
)
def test_resource_request_attributes(
    method: str, path: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    attrs = request_attributes(ALICE, method, path, query)
    assert attrs.resource_request
    got = (
        attrs.verb,
        attrs.namespace,
        attrs.api_group,
        attrs.api_version,
        attrs.resource,
        attrs.subresource,
        attrs.name,
    )
    assert got == expected


@pytest.mark.parametrize(
    "path", ["/healthz", "/api", "/api/v1", "/apis/apps", "/apis/apps/v1", "/openapi/v3"]
)
def test_non_resource_request_attributes(path: str) -> None:
    attrs = request_attributes(ALICE, "GET", path, {})
    assert not attrs.resource_request
    assert attrs.verb == "get"
    assert attrs.path == path


def test_builtin_authorizers() -> None:
    attrs = RequestAttributes(user=ALICE, verb="get", resource="pods", resource_request=True)
    assert AlwaysAllow().authorize(attrs).allowed
    assert not AlwaysDeny().authorize(attrs).allowed
    assert set(AUTHORIZERS) >= {"AlwaysAllow", "AlwaysDeny"}
    assert isinstance(build_authorizer(["AlwaysAllow"]), AlwaysAllow)
    assert build_authorizer(["AlwaysDeny", "AlwaysAllow"]).authorize(attrs).allowed
    with pytest.raises(ValueError, match="unknown authorization mode"):
        build_authorizer(["Nope"])


def test_union_denies_with_every_reason() -> None:
    class No:
        def __init__(self, reason: str) -> None:
            self.reason = reason

        def authorize(self, attrs: RequestAttributes) -> Decision:
            return Decision(False, self.reason)

    attrs = RequestAttributes(user=ALICE, verb="get", path="/metrics")
    decision = UnionAuthorizer([No("a"), No("b")]).authorize(attrs)
    assert decision == Decision(False, "a; b")


BOOTSTRAPPER = UserInfo("system:bootstrap:abcdef", ("system:bootstrappers", "system:authenticated"))


@pytest.mark.parametrize(
    ("method", "path", "query", "allowed"),
    [
        ("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {}, True),
        ("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests/node-csr-x", {}, True),
        ("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {"watch": "true"}, True),
        ("GET", "/apis", {}, True),
        ("GET", "/version", {}, True),
        ("PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/x/approval", {}, False),
        ("DELETE", "/apis/certificates.k8s.io/v1/certificatesigningrequests/x", {}, False),
        ("GET", "/api/v1/namespaces/kube-system/secrets", {}, False),
        ("POST", "/api/v1/namespaces/default/pods", {}, False),
        ("GET", "/api/v1/nodes", {}, False),
        ("GET", "/metrics", {}, False),
    ],
)
def test_node_bootstrappers_may_only_ask_for_node_certificates(
    method: str, path: str, query: dict[str, str], allowed: bool
) -> None:
    limit = NodeBootstrapperLimit(AlwaysAllow())
    assert limit.authorize(request_attributes(BOOTSTRAPPER, method, path, query)).allowed is allowed
    # everyone else is the inner authorizer's to judge
    assert limit.authorize(request_attributes(ALICE, method, path, query)).allowed
    admin = UserInfo("admin", ("system:bootstrappers", "system:masters"))
    assert limit.authorize(request_attributes(admin, method, path, query)).allowed


def test_the_approvers_question_about_a_bootstrapper_is_allowed() -> None:
    """The CSR approver asks (SubjectAccessReview) whether the requester may create
    certificatesigningrequests/nodeclient, as kubeadm's binding for bootstrappers allows."""
    attrs = RequestAttributes(
        user=BOOTSTRAPPER,
        verb="create",
        api_group="certificates.k8s.io",
        resource="certificatesigningrequests",
        subresource="nodeclient",
        resource_request=True,
    )
    assert NodeBootstrapperLimit(AlwaysAllow()).authorize(attrs).allowed
    assert not NodeBootstrapperLimit(AlwaysDeny()).authorize(attrs).allowed
