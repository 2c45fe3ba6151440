"""The review kinds: create-only questions to the server's authorizer and authenticator.

``authorization.k8s.io/v1`` SelfSubjectAccessReview, SubjectAccessReview,
LocalSubjectAccessReview and SelfSubjectRulesReview ask "may this user do
that?" (``kubectl auth can-i``, ``--list``); ``authentication.k8s.io/v1``
SelfSubjectReview asks "who am I?" (``kubectl auth whoami``) and TokenReview
"whom does this token name?". None of them is ever stored: a POST is
validated as Kubernetes validates it, answered (201) with the object and
its status filled in, and forgotten. Their only verb is ``create``, so
discovery, OpenAPI, the watch cache and the controllers leave them alone.

``ResourceHandler`` routes these resources here before its generic create.
A request with no user (plain HTTP, where everyone is the admin) may do
anything, so self reviews answer "allowed"; ``whoami`` has nobody to name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from kubelite.api import errors
from kubelite.api.authentication_v1 import (
    SelfSubjectReview,
    SelfSubjectReviewStatus,
    TokenReview,
    TokenReviewStatus,
)
from kubelite.api.authentication_v1 import UserInfo as UserInfoV1
from kubelite.api.authorization_v1 import (
    LocalSubjectAccessReview,
    NonResourceAttributes,
    NonResourceRule,
    ResourceAttributes,
    ResourceRule,
    SelfSubjectAccessReview,
    SelfSubjectRulesReview,
    SubjectAccessReview,
    SubjectAccessReviewStatus,
    SubjectRulesReviewStatus,
)
from kubelite.api.meta import ObjectMeta
from kubelite.api.resources import Resource
from kubelite.api.timestamps import rfc3339
from kubelite.apiserver import codec
from kubelite.apiserver.auth.authn import AuthenticationError, Authenticator, UserInfo
from kubelite.apiserver.auth.authz import (
    AlwaysAllow,
    AlwaysDeny,
    Authorizer,
    NodeBootstrapperLimit,
    RequestAttributes,
    UnionAuthorizer,
    is_node_bootstrapper,
)
from kubelite.apiserver.rest import Result, WriteOptions, check_fields, decode_body

log = logging.getLogger("kubelite.apiserver.reviews")

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"

# (group, plural) of every review kind this module answers.
REVIEWS = frozenset(
    {
        (AUTHORIZATION, "selfsubjectaccessreviews"),
        (AUTHORIZATION, "subjectaccessreviews"),
        (AUTHORIZATION, "localsubjectaccessreviews"),
        (AUTHORIZATION, "selfsubjectrulesreviews"),
        (AUTHENTICATION, "selfsubjectreviews"),
        (AUTHENTICATION, "tokenreviews"),
    }
)


_DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/version")


class RuleResolver(Protocol):
    """An authorizer that can also list what a user may do (for SelfSubjectRulesReview)."""

    def rules_for(self, user: UserInfo, namespace: str) -> SubjectRulesReviewStatus:
        """Every rule that applies to ``user`` in ``namespace``; ``incomplete`` when some
        could not be evaluated (``evaluationError`` says why). Must not block."""
        ...


def rules_for(authorizer: Authorizer, user: UserInfo | None, namespace: str) -> SubjectRulesReviewStatus:
    """What ``user`` may do in ``namespace`` as far as ``authorizer`` can tell.

    AlwaysAllow allows everything and AlwaysDeny nothing; a union lists what
    each member lists. An authorizer that cannot enumerate its rules makes
    the answer ``incomplete``, as in Kubernetes. No user (plain HTTP) may do
    anything.
    """
    if isinstance(authorizer, NodeBootstrapperLimit):
        if user is None or not is_node_bootstrapper(user):
            return rules_for(authorizer.inner, user, namespace)
        inner = rules_for(authorizer.inner, user, namespace)
        return SubjectRulesReviewStatus(
            resourceRules=[
                ResourceRule(
                    verbs=["create", "get", "list", "watch"],
                    apiGroups=["certificates.k8s.io"],
                    resources=["certificatesigningrequests"],
                ),
                ResourceRule(
                    verbs=["create"],
                    apiGroups=["certificates.k8s.io"],
                    resources=["certificatesigningrequests/nodeclient"],
                ),
            ],
            nonResourceRules=[
                NonResourceRule(
                    verbs=["get"],
                    nonResourceURLs=[*_DISCOVERY_URLS, "/healthz", "/livez", "/readyz"],
                )
            ],
            # within what the inner authorizer allows, which only AlwaysAllow makes all of it
            incomplete=not isinstance(authorizer.inner, AlwaysAllow) or inner.incomplete,
        )
    if user is None or isinstance(authorizer, AlwaysAllow):
        return SubjectRulesReviewStatus(
            resourceRules=[ResourceRule(verbs=["*"], apiGroups=["*"], resources=["*"])],
            nonResourceRules=[NonResourceRule(verbs=["*"], nonResourceURLs=["*"])],
        )
    if isinstance(authorizer, AlwaysDeny):
        return SubjectRulesReviewStatus()
    if isinstance(authorizer, UnionAuthorizer):
        parts = [rules_for(a, user, namespace) for a in authorizer.authorizers]
        return SubjectRulesReviewStatus(
            resourceRules=[r for p in parts for r in p.resourceRules],
            nonResourceRules=[r for p in parts for r in p.nonResourceRules],
            incomplete=any(p.incomplete for p in parts),
            evaluationError=", ".join(p.evaluationError for p in parts if p.evaluationError),
        )
    resolver = getattr(authorizer, "rules_for", None)
    if resolver is not None:
        result: SubjectRulesReviewStatus = resolver(user, namespace)
        return result
    return SubjectRulesReviewStatus(incomplete=True)


def _not_allowed_error() -> errors.StatusError:
    return errors.method_not_allowed("the server does not allow this method on the requested resource")


class Reviews:
    """Answers creates of the review kinds with the server's authorizer and authenticator.

    Both are read through getters on every request, so an authorizer swapped
    on a running server (tests do) is the one asked.
    """

    def __init__(
        self,
        authorizer: Callable[[], Authorizer] = AlwaysAllow,
        authenticator: Callable[[], Authenticator | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._authorizer = authorizer
        self._authenticator = authenticator
        self._clock = clock

    @staticmethod
    def serves(res: Resource) -> bool:
        return (res.group, res.plural) in REVIEWS

    @staticmethod
    def check_request(method: str, name: str, subresource: str) -> None:
        """Only a POST to the collection exists; anything else is refused as Kubernetes does."""
        if name or subresource:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
        if method != "POST":
            raise _not_allowed_error()

    def create(self, res: Resource, namespace: str | None, data: Any, opts: WriteOptions) -> Result:
        """Answer one review: 201 with the object and its status, or raise its StatusError."""
        check_fields(res, data, opts)
        obj = decode_body(res, data, namespace)
        answer: msgspec.Struct
        match res.plural:
            case "selfsubjectaccessreviews":
                answer = self._self_access(obj, opts.user)
            case "subjectaccessreviews":
                answer = self._subject_access(obj)
            case "localsubjectaccessreviews":
                answer = self._local_access(obj, namespace or "")
            case "selfsubjectrulesreviews":
                answer = self._self_rules(obj, opts.user)
            case "selfsubjectreviews":
                answer = self._self_subject(opts.user)
            case "tokenreviews":
                answer = self._token(obj)
            case _:
                raise errors.not_found_error(res.plural, "", res.group)
        body = msgspec.to_builtins(answer)
        body = {"kind": res.kind, "apiVersion": res.api_version, **body}
        return Result(201, codec.encode(body), [])

    # ------------------------------------------------------------ authorization

    def _self_access(self, obj: SelfSubjectAccessReview, user: UserInfo | None) -> SelfSubjectAccessReview:
        spec = obj.spec
        errs = _attributes_errors(spec.resourceAttributes, spec.nonResourceAttributes)
        errs += _empty_metadata_errors(obj.metadata, "must be empty")
        if errs:
            raise errors.invalid("SelfSubjectAccessReview", "", errs, AUTHORIZATION)
        if user is None:  # plain HTTP: nobody is asked, everyone may
            obj.status = SubjectAccessReviewStatus(allowed=True)
            return obj
        obj.status = self._decide(user, spec.resourceAttributes, spec.nonResourceAttributes)
        return obj

    def _subject_access(self, obj: SubjectAccessReview) -> SubjectAccessReview:
        spec = obj.spec
        errs = _attributes_errors(spec.resourceAttributes, spec.nonResourceAttributes)
        errs += _subject_errors(spec.user, spec.groups)
        errs += _empty_metadata_errors(obj.metadata, "must be empty")
        if errs:
            raise errors.invalid("SubjectAccessReview", "", errs, AUTHORIZATION)
        user = _subject(spec.user, spec.groups, spec.uid, spec.extra)
        obj.status = self._decide(user, spec.resourceAttributes, spec.nonResourceAttributes)
        return obj

    def _local_access(self, obj: LocalSubjectAccessReview, namespace: str) -> LocalSubjectAccessReview:
        spec = obj.spec
        errs = _attributes_errors(spec.resourceAttributes, spec.nonResourceAttributes)
        errs += _subject_errors(spec.user, spec.groups)
        errs += _empty_metadata_errors(obj.metadata, "must be empty except for namespace", namespaced=True)
        attrs = spec.resourceAttributes
        if attrs is not None and attrs.namespace != obj.metadata.namespace:
            errs.append(
                errors.invalid_value(
                    "spec.resourceAttributes.namespace", attrs.namespace, "must match metadata.namespace"
                )
            )
        if spec.nonResourceAttributes is not None:
            errs.append(
                errors.invalid_value(
                    "spec.nonResourceAttributes",
                    msgspec.to_builtins(spec.nonResourceAttributes),
                    "disallowed on this kind of request",
                )
            )
        if errs:
            raise errors.invalid("LocalSubjectAccessReview", "", errs, AUTHORIZATION)
        if not namespace:
            raise errors.bad_request(f"namespace is required on this type: {namespace}")
        if namespace != obj.metadata.namespace:
            raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
        user = _subject(spec.user, spec.groups, spec.uid, spec.extra)
        obj.status = self._decide(user, spec.resourceAttributes, spec.nonResourceAttributes)
        return obj

    def _self_rules(self, obj: SelfSubjectRulesReview, user: UserInfo | None) -> SelfSubjectRulesReview:
        namespace = obj.spec.namespace
        if not namespace:
            raise errors.bad_request("no namespace on request")
        try:
            status = rules_for(self._authorizer(), user, namespace)
        except Exception as e:  # an authorizer's failure is the review's answer, not a 500
            log.warning("resolving the rules of %s in %s failed: %s", user, namespace, e)
            status = SubjectRulesReviewStatus(incomplete=True, evaluationError=str(e))
        # Kubernetes answers with a fresh object: the status alone.
        return SelfSubjectRulesReview(status=status)

    def _decide(
        self,
        user: UserInfo,
        resource: ResourceAttributes | None,
        non_resource: NonResourceAttributes | None,
    ) -> SubjectAccessReviewStatus:
        if resource is not None:
            attrs = RequestAttributes(
                user=user,
                verb=resource.verb,
                namespace=resource.namespace,
                api_group=resource.group,
                api_version=resource.version or "*",
                resource=resource.resource,
                subresource=resource.subresource,
                name=resource.name,
                resource_request=True,
            )
        else:
            assert non_resource is not None
            attrs = RequestAttributes(user=user, verb=non_resource.verb, path=non_resource.path)
        try:
            decision = self._authorizer().authorize(attrs)
        except Exception as e:  # an authorizer's failure is the review's answer, not a 500
            log.warning("authorizing %s failed: %s", attrs, e)
            return SubjectAccessReviewStatus(allowed=False, evaluationError=str(e))
        # Our authorizers allow or have no opinion; none denies outright, so ``denied`` stays false.
        return SubjectAccessReviewStatus(allowed=decision.allowed, reason=decision.reason)

    # ----------------------------------------------------------- authentication

    def _self_subject(self, user: UserInfo | None) -> SelfSubjectReview:
        if user is None:
            raise errors.bad_request("no user present on request")
        return SelfSubjectReview(
            metadata=ObjectMeta(creationTimestamp=rfc3339(self._clock())),
            status=SelfSubjectReviewStatus(userInfo=_user_info(user)),
        )

    def _token(self, obj: TokenReview) -> TokenReview:
        if not obj.spec.token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        authenticator = self._authenticator()
        if authenticator is None:  # no authentication configured: nothing can vouch for a token
            return obj
        # The token alone, as a request carrying nothing else would present it.
        headers = {"Authorization": f"Bearer {obj.spec.token}"}
        status = TokenReviewStatus()
        try:
            user = authenticator.authenticate(headers, None)
        except AuthenticationError as e:
            status.error = str(e)
            user = None
        if user is not None:
            status.authenticated = True
            status.user = _user_info(user)
        obj.status = status
        return obj


# --------------------------------------------------------------------- helpers


def _attributes_errors(
    resource: ResourceAttributes | None, non_resource: NonResourceAttributes | None
) -> list[errors.FieldError]:
    errs: list[errors.FieldError] = []
    if resource is not None and non_resource is not None:
        errs.append(
            errors.invalid_value(
                "spec.nonResourceAttributes",
                msgspec.to_builtins(non_resource),
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if resource is None and non_resource is None:
        errs.append(
            errors.invalid_value(
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if resource is not None:
        for name, selector in (
            ("fieldSelector", resource.fieldSelector),
            ("labelSelector", resource.labelSelector),
        ):
            if selector is None:
                continue
            path = f"spec.resourceAttributes.{name}"
            if selector.rawSelector and selector.requirements:
                errs.append(
                    errors.invalid_value(
                        f"{path}.rawSelector",
                        selector.rawSelector,
                        "may not specified at the same time as requirements",
                    )
                )
            if not selector.rawSelector and not selector.requirements:
                errs.append(
                    errors.required(
                        f"{path}.requirements",
                        f"when {path} is specified, requirements or rawSelector is required",
                    )
                )
    return errs


def _subject_errors(user: str, groups: Sequence[str]) -> list[errors.FieldError]:
    if user or groups:
        return []
    return [errors.invalid_value("spec.user", user, "at least one of user or group must be specified")]


def _empty_metadata_errors(
    meta: ObjectMeta, detail: str, namespaced: bool = False
) -> list[errors.FieldError]:
    """Reviews carry no metadata (managedFields aside; the namespace for a local review)."""
    rest = msgspec.structs.replace(meta, managedFields=[], namespace="" if namespaced else meta.namespace)
    if rest == ObjectMeta():
        return []
    return [errors.invalid_value("metadata", msgspec.to_builtins(meta), detail)]


def _subject(name: str, groups: Sequence[str], uid: str, extra: dict[str, list[str]]) -> UserInfo:
    """The user a SubjectAccessReview asks about, exactly as given (no implied groups)."""
    return UserInfo(name, tuple(groups), uid, {k: tuple(v) for k, v in extra.items()})


def _user_info(user: UserInfo) -> UserInfoV1:
    return UserInfoV1(
        username=user.name,
        uid=user.uid,
        groups=list(user.groups),
        extra={k: list(v) for k, v in user.extra.items()},
    )
