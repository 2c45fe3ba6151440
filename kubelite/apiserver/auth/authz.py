"""Authorization: may this user do this to that.

The API server turns every authenticated request into ``RequestAttributes``
(``request_attributes`` does it from the method, path and query the way
Kubernetes' RequestInfoFactory does) and asks its ``Authorizer``; a decision
that does not allow answers 403 Forbidden with the decision's reason.

Built-ins live in ``AUTHORIZERS`` by the names Kubernetes uses for
``--authorization-mode`` (``AlwaysAllow``, ``AlwaysDeny``; ``RBAC`` comes
later); ``UnionAuthorizer`` chains several, the first that allows wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from kubelite.apiserver.auth.authn import UserInfo, anonymous_allowed
from kubelite.apiserver.requestinfo import parse_request_path


@dataclass(frozen=True)
class RequestAttributes:
    """What a request asks to do (Kubernetes' ``authorizer.Attributes``).

    For a resource request: ``verb`` is one of get, list, watch, create, update,
    patch, delete, deletecollection (or proxy), and the resource fields are set.
    For any other path (``resource_request`` False) ``verb`` is the lower-case
    HTTP method and only ``path`` matters.
    """

    user: UserInfo
    verb: str
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: RequestAttributes) -> Decision:
        """Allow or deny; ``reason`` says why (it ends up in the 403's message).
        Must not block: it runs on the event loop for every request."""
        ...


class AlwaysAllow:
    def authorize(self, attrs: RequestAttributes) -> Decision:
        return Decision(True, "AlwaysAllow")


class AlwaysDeny:
    def authorize(self, attrs: RequestAttributes) -> Decision:
        return Decision(False, "AlwaysDeny")


class UnionAuthorizer:
    """The first authorizer that allows wins; otherwise denied, with every reason given."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attrs: RequestAttributes) -> Decision:
        reasons: list[str] = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attrs)
            if decision.allowed:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(False, "; ".join(reasons))


BOOTSTRAPPERS = "system:bootstrappers"
MASTERS = "system:masters"


def is_node_bootstrapper(user: UserInfo) -> bool:
    """A node join token's user (kubelite.cli.jointoken, or a token file's bootstrapper row)."""
    return BOOTSTRAPPERS in user.groups and MASTERS not in user.groups


class NodeBootstrapperLimit:
    """What ``system:bootstrappers`` may do, whatever ``inner`` would allow: what Kubernetes'
    ``system:node-bootstrapper`` ClusterRole grants (create, get, list and watch
    certificatesigningrequests), what kubeadm binds them to for auto-approval (create
    certificatesigningrequests/nodeclient, which the CSR approver asks about), and the
    discovery, version and health reads everyone has.
    Until RBAC arrives every other user is asked of ``inner`` alone; a join token copied to
    machines must not be a cluster-admin credential meanwhile."""

    def __init__(self, inner: Authorizer) -> None:
        self.inner = inner

    def authorize(self, attrs: RequestAttributes) -> Decision:
        if not is_node_bootstrapper(attrs.user):
            return self.inner.authorize(attrs)
        if attrs.resource_request:
            allowed = (
                attrs.api_group == "certificates.k8s.io"
                and attrs.resource == "certificatesigningrequests"
                and (
                    (not attrs.subresource and attrs.verb in ("create", "get", "list", "watch"))
                    or (attrs.subresource == "nodeclient" and attrs.verb == "create")
                )
            )
        else:
            allowed = attrs.verb in ("get", "head") and anonymous_allowed(attrs.path)
        if not allowed:
            return Decision(False, f"{BOOTSTRAPPERS} may only ask for node certificates")
        return self.inner.authorize(attrs)


# Built-in authorizers by --authorization-mode name; each entry builds one.
AUTHORIZERS: Mapping[str, Callable[[], Authorizer]] = MappingProxyType(
    {"AlwaysAllow": AlwaysAllow, "AlwaysDeny": AlwaysDeny}
)


def build_authorizer(modes: Sequence[str]) -> Authorizer:
    """The authorizer for a list of mode names, in order (``["AlwaysAllow"]``)."""
    unknown = [m for m in modes if m not in AUTHORIZERS]
    if unknown or not modes:
        raise ValueError(f"unknown authorization mode(s) {unknown or modes}; known: {sorted(AUTHORIZERS)}")
    built = [AUTHORIZERS[m]() for m in modes]
    return built[0] if len(built) == 1 else UnionAuthorizer(built)


# --- request attributes from a URL -----------------------------------------------------------------

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def request_attributes(user: UserInfo, method: str, path: str, query: Mapping[str, str]) -> RequestAttributes:
    """The attributes of a request, as Kubernetes' RequestInfoFactory derives them.

    ``/api/v1/namespaces/ns/pods/p/log`` -> get pods/log ``p`` in ``ns``;
    GET without a name is list (watch with ``watch=true`` or the ``/watch/``
    prefix); DELETE without a name is deletecollection; a list or watch with
    ``fieldSelector=metadata.name=x`` carries the name ``x``. Paths outside
    ``/api`` and ``/apis``, and discovery documents, are non-resource requests.
    """
    info = parse_request_path(path)
    if not info.resource_request or not info.resource:
        return RequestAttributes(user=user, verb=method.lower(), path=path)
    verb = "watch" if info.legacy_watch else _METHOD_VERBS.get(method.upper(), method.lower())
    name, subresource = info.name, info.subresource
    # The namespace object itself is authorized within its own namespace, as Kubernetes does.
    namespace = info.namespace or (info.name if info.resource == "namespaces" else "")
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    if verb in ("list", "watch") and not name:
        for term in query.get("fieldSelector", "").split(","):
            key, sep, value = term.partition("=")
            if sep and key.strip() == "metadata.name":
                name = value.removeprefix("=").strip()  # metadata.name=x or metadata.name==x
    return RequestAttributes(
        user=user,
        verb=verb,
        namespace=namespace,
        api_group=info.group,
        api_version=info.version,
        resource=info.resource,
        subresource=subresource,
        name=name,
        path=path,
        resource_request=True,
    )
