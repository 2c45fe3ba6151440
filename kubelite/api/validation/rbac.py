"""Validation of rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding."""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import FieldError, invalid_value, not_supported, required
from kubelite.api.validation.common import (
    IMMUTABLE,
    child,
    index,
    is_path_segment_name,
    messages,
    plain,
    validate_label_selector,
)


def validate_policy_rule(rule: Any, is_namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.verbs:
        errs.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    if rule.nonResourceURLs:
        if is_namespaced:
            errs.append(
                invalid_value(
                    child(path, "nonResourceURLs"),
                    rule.nonResourceURLs,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.apiGroups or rule.resources or rule.resourceNames:
            errs.append(
                invalid_value(
                    child(path, "nonResourceURLs"),
                    rule.nonResourceURLs,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not rule.apiGroups:
        errs.append(required(child(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not rule.resources:
        errs.append(required(child(path, "resources"), "resource rules must supply at least one resource"))
    return errs


def validate_role(role: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(role.rules):
        errs += validate_policy_rule(rule, True, index("rules", i))
    return errs


def validate_cluster_role(role: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(role.rules):
        errs += validate_policy_rule(rule, False, index("rules", i))
    if role.aggregationRule is not None:
        if not role.aggregationRule.clusterRoleSelectors:
            errs.append(
                required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            )
        for i, sel in enumerate(role.aggregationRule.clusterRoleSelectors):
            errs += validate_label_selector(sel, index("aggregationRule.clusterRoleSelectors", i))
    return errs


def _role_ref(ref: Any, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if ref.apiGroup != "rbac.authorization.k8s.io":
        errs.append(not_supported("roleRef.apiGroup", ref.apiGroup, ["rbac.authorization.k8s.io"]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.kind not in kinds:
        errs.append(not_supported("roleRef.kind", ref.kind, kinds))
    if not ref.name:
        errs.append(required("roleRef.name", ""))
    else:
        errs += messages("roleRef.name", ref.name, is_path_segment_name(ref.name))
    return errs


def validate_subject(s: Any, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not s.name:
        errs.append(required(child(path, "name"), ""))
    if s.kind == "ServiceAccount":
        if s.name:
            errs += messages(child(path, "name"), s.name, _sa_name(s.name))
        if s.apiGroup:
            errs.append(not_supported(child(path, "apiGroup"), s.apiGroup, [""]))
        if not namespaced and not s.namespace:
            errs.append(required(child(path, "namespace"), ""))
    elif s.kind in ("User", "Group"):
        if s.apiGroup != "rbac.authorization.k8s.io":
            errs.append(not_supported(child(path, "apiGroup"), s.apiGroup, ["rbac.authorization.k8s.io"]))
    else:
        errs.append(not_supported(child(path, "kind"), s.kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _sa_name(name: str) -> list[str]:
    from kubelite.api.validation.common import name_is_dns_subdomain

    return name_is_dns_subdomain(name, False)


def validate_role_binding(rb: Any) -> list[FieldError]:
    errs = _role_ref(rb.roleRef, True)
    for i, s in enumerate(rb.subjects):
        errs += validate_subject(s, True, index("subjects", i))
    return errs


def validate_cluster_role_binding(rb: Any) -> list[FieldError]:
    errs = _role_ref(rb.roleRef, False)
    for i, s in enumerate(rb.subjects):
        errs += validate_subject(s, False, index("subjects", i))
    return errs


def validate_binding_update(new: Any, old: Any) -> list[FieldError]:
    if new.roleRef != old.roleRef:
        return [invalid_value("roleRef", plain(new.roleRef), "cannot change roleRef")]
    return []


__all__ = ["IMMUTABLE"]
