"""Validation of apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision."""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import FieldError, forbidden, invalid_value, not_supported, required
from kubelite.api.validation.common import (
    IMMUTABLE,
    child,
    int_or_percent,
    is_dns1123_label,
    is_zero_int_or_percent,
    messages,
    nonnegative,
    not_more_than_100_percent,
    plain,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
)
from kubelite.api.validation.pods import validate_pod_template_spec

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _selector_and_template(spec: Any, kind: str, path: str = "spec") -> list[FieldError]:
    """Selector present, non-empty, valid, matching the template; the template valid with restartPolicy Always."""
    errs: list[FieldError] = []
    sel_path = child(path, "selector")
    if spec.selector is None:
        errs.append(required(sel_path, ""))
    else:
        errs += validate_label_selector(spec.selector, sel_path)
        if selector_is_empty(spec.selector):
            errs.append(
                invalid_value(sel_path, plain(spec.selector), f"empty selector is invalid for {kind.lower()}")
            )
    tmpl = spec.template
    tmpl_path = child(path, "template")
    if spec.selector is not None and not selector_is_empty(spec.selector):
        if not selector_matches(spec.selector, tmpl.metadata.labels):
            errs.append(
                invalid_value(child(tmpl_path, "metadata", "labels"), tmpl.metadata.labels, SELECTOR_MISMATCH)
            )
    errs += validate_pod_template_spec(tmpl, tmpl_path)
    rp = tmpl.spec.restartPolicy
    if rp != "Always":
        errs.append(not_supported(child(tmpl_path, "spec", "restartPolicy"), rp, ["Always"]))
    if tmpl.spec.activeDeadlineSeconds is not None:
        errs.append(
            forbidden(
                child(tmpl_path, "spec", "activeDeadlineSeconds"),
                f"activeDeadlineSeconds in {'ReplicaSet' if kind == 'Deployment' else kind} is not Supported",
            )
        )
    return errs


def _rolling_params(ru: Any, path: str, surge: bool = True) -> list[FieldError]:
    errs: list[FieldError] = []
    mu_path = child(path, "maxUnavailable")
    ms_path = child(path, "maxSurge")
    mu = ru.maxUnavailable if ru.maxUnavailable is not None else 0
    ms = ru.maxSurge if surge and ru.maxSurge is not None else 0
    errs += int_or_percent(mu, mu_path)
    if surge:
        errs += int_or_percent(ms, ms_path)
    if is_zero_int_or_percent(mu) and is_zero_int_or_percent(ms):
        errs.append(invalid_value(mu_path, plain(mu), "may not be 0 when `maxSurge` is 0"))
    errs += not_more_than_100_percent(mu, mu_path)
    return errs


def validate_deployment(d: Any) -> list[FieldError]:
    spec = d.spec
    errs = nonnegative(spec.replicas, "spec.replicas")
    errs += _selector_and_template(spec, "Deployment")
    strategy = spec.strategy
    sp = "spec.strategy"
    if strategy.type == "Recreate":
        if strategy.rollingUpdate is not None:
            errs.append(
                forbidden(
                    child(sp, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"
                )
            )
    elif strategy.type == "RollingUpdate":
        if strategy.rollingUpdate is not None:
            errs += _rolling_params(strategy.rollingUpdate, child(sp, "rollingUpdate"))
    elif not strategy.type:
        errs.append(required(child(sp, "type"), ""))
    else:
        errs.append(not_supported(child(sp, "type"), strategy.type, ["Recreate", "RollingUpdate"]))
    errs += nonnegative(spec.minReadySeconds, "spec.minReadySeconds")
    errs += nonnegative(spec.revisionHistoryLimit, "spec.revisionHistoryLimit")
    if spec.progressDeadlineSeconds is not None:
        errs += nonnegative(spec.progressDeadlineSeconds, "spec.progressDeadlineSeconds")
        if spec.progressDeadlineSeconds <= spec.minReadySeconds:
            errs.append(
                invalid_value(
                    "spec.progressDeadlineSeconds",
                    spec.progressDeadlineSeconds,
                    "must be greater than minReadySeconds",
                )
            )
    return errs


def _selector_immutable(new: Any, old: Any) -> list[FieldError]:
    if new.spec.selector != old.spec.selector:
        return [invalid_value("spec.selector", plain(new.spec.selector), IMMUTABLE)]
    return []


def validate_deployment_update(new: Any, old: Any) -> list[FieldError]:
    return validate_deployment(new) + _selector_immutable(new, old)


def validate_replica_set(rs: Any) -> list[FieldError]:
    errs = nonnegative(rs.spec.replicas, "spec.replicas")
    errs += nonnegative(rs.spec.minReadySeconds, "spec.minReadySeconds")
    errs += _selector_and_template(rs.spec, "ReplicaSet")
    return errs


def validate_replica_set_update(new: Any, old: Any) -> list[FieldError]:
    return validate_replica_set(new) + _selector_immutable(new, old)


def validate_stateful_set(ss: Any) -> list[FieldError]:
    spec = ss.spec
    errs: list[FieldError] = []
    policy = spec.podManagementPolicy
    if not policy:
        errs.append(required("spec.podManagementPolicy", ""))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid_value("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    us = spec.updateStrategy
    if us.type == "OnDelete":
        if us.rollingUpdate is not None:
            errs.append(
                forbidden(
                    "spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'"
                )
            )
    elif us.type == "RollingUpdate":
        if us.rollingUpdate is not None:
            errs += nonnegative(us.rollingUpdate.partition, "spec.updateStrategy.rollingUpdate.partition")
            mu = us.rollingUpdate.maxUnavailable
            if mu is not None:
                p = "spec.updateStrategy.rollingUpdate.maxUnavailable"
                errs += int_or_percent(mu, p)
                if is_zero_int_or_percent(mu):
                    errs.append(invalid_value(p, mu, "must be greater than 0"))
                errs += not_more_than_100_percent(mu, p)
    elif not us.type:
        errs.append(required("spec.updateStrategy", ""))
    else:
        errs.append(
            invalid_value("spec.updateStrategy.type", us.type, "must be 'RollingUpdate' or 'OnDelete'")
        )
    if spec.persistentVolumeClaimRetentionPolicy is not None:
        pol = spec.persistentVolumeClaimRetentionPolicy
        for name in ("whenDeleted", "whenScaled"):
            v = getattr(pol, name)
            if v not in ("Retain", "Delete"):
                errs.append(
                    not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{name}", v, ["Retain", "Delete"]
                    )
                )
    if spec.serviceName:
        errs += messages("spec.serviceName", spec.serviceName, is_dns1123_label(spec.serviceName))
    errs += nonnegative(spec.replicas, "spec.replicas")
    errs += nonnegative(spec.minReadySeconds, "spec.minReadySeconds")
    if spec.ordinals is not None:
        errs += nonnegative(spec.ordinals.start, "spec.ordinals.start")
    errs += _selector_and_template(spec, "StatefulSet")
    for i, pvc in enumerate(spec.volumeClaimTemplates):
        if not pvc.metadata.name:
            errs.append(required(f"spec.volumeClaimTemplates[{i}].metadata.name", ""))
    return errs


def validate_stateful_set_update(new: Any, old: Any) -> list[FieldError]:
    import msgspec

    errs = validate_stateful_set(new)
    allowed = msgspec.structs.replace(
        new.spec,
        replicas=old.spec.replicas,
        template=old.spec.template,
        updateStrategy=old.spec.updateStrategy,
        persistentVolumeClaimRetentionPolicy=old.spec.persistentVolumeClaimRetentionPolicy,
        minReadySeconds=old.spec.minReadySeconds,
        ordinals=old.spec.ordinals,
        revisionHistoryLimit=old.spec.revisionHistoryLimit,
    )
    if allowed != old.spec:
        errs.append(
            forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
            )
        )
    return errs


def validate_daemon_set(ds: Any) -> list[FieldError]:
    spec = ds.spec
    errs = _selector_and_template(spec, "DaemonSet")
    errs += nonnegative(spec.minReadySeconds, "spec.minReadySeconds")
    errs += nonnegative(spec.revisionHistoryLimit, "spec.revisionHistoryLimit")
    us = spec.updateStrategy
    if us.type == "RollingUpdate":
        if us.rollingUpdate is None:
            errs.append(required("spec.updateStrategy.rollingUpdate", ""))
        else:
            errs += _rolling_params(us.rollingUpdate, "spec.updateStrategy.rollingUpdate")
    elif us.type == "OnDelete":
        pass
    elif not us.type:
        errs.append(required("spec.updateStrategy.type", ""))
    else:
        errs.append(not_supported("spec.updateStrategy.type", us.type, ["OnDelete", "RollingUpdate"]))
    return errs


def validate_daemon_set_update(new: Any, old: Any) -> list[FieldError]:
    return validate_daemon_set(new) + _selector_immutable(new, old)


def validate_controller_revision(cr: Any) -> list[FieldError]:
    errs = nonnegative(cr.revision, "revision")
    if cr.data is None:
        errs.append(required("data", "data is mandatory"))
    return errs


def validate_controller_revision_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_controller_revision(new)
    if new.data != old.data:
        errs.append(invalid_value("data", "", IMMUTABLE))
    return errs
