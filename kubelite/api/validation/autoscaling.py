"""Validation of HorizontalPodAutoscaler (autoscaling/v2, and v1 which converts to it)."""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import FieldError, forbidden, invalid_value, not_supported, required
from kubelite.api.validation.common import (
    child,
    index,
    is_path_segment_name,
    messages,
    quantity_value,
    validate_label_selector,
    validate_quantity,
)

METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]


def _scale_target_ref(ref: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not ref.kind:
        errs.append(required(child(path, "kind"), ""))
    else:
        errs += messages(child(path, "kind"), ref.kind, is_path_segment_name(ref.kind))
    if not ref.name:
        errs.append(required(child(path, "name"), ""))
    else:
        errs += messages(child(path, "name"), ref.name, is_path_segment_name(ref.name))
    return errs


def _min_max(spec: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.minReplicas is not None and spec.minReplicas < 1:
        errs.append(invalid_value("spec.minReplicas", spec.minReplicas, "must be greater than or equal to 1"))
    if spec.maxReplicas < 1:
        errs.append(invalid_value("spec.maxReplicas", spec.maxReplicas, "must be greater than 0"))
    if spec.minReplicas is not None and spec.maxReplicas < spec.minReplicas:
        errs.append(
            invalid_value(
                "spec.maxReplicas", spec.maxReplicas, "must be greater than or equal to `minReplicas`"
            )
        )
    return errs


def _target(t: Any, path: str, kinds: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    allowed = ["AverageValue", "Utilization", "Value"]
    if not t.type:
        errs.append(required(child(path, "type"), "must specify a metric target type"))
    elif t.type not in allowed:
        errs.append(not_supported(child(path, "type"), t.type, allowed))
    if t.averageUtilization is not None and t.averageUtilization < 1:
        errs.append(
            invalid_value(child(path, "averageUtilization"), t.averageUtilization, "must be greater than 0")
        )
    for name in ("value", "averageValue"):
        q = getattr(t, name)
        if q is None:
            continue
        errs += validate_quantity(q, child(path, name))
        v = quantity_value(q)
        if v is not None and v <= 0:
            errs.append(invalid_value(child(path, name), q, "must be positive"))
    if t.type == "Utilization" and t.averageUtilization is None:
        errs.append(
            required(
                child(path, "averageUtilization"),
                "must set either a target raw value or a target utilization",
            )
        )
    if t.type == "AverageValue" and t.averageValue is None:
        errs.append(
            required(
                child(path, "averageValue"), "must set either a target raw value or a target utilization"
            )
        )
    if t.type == "Value" and t.value is None:
        errs.append(
            required(child(path, "value"), "must set either a target raw value or a target utilization")
        )
    return errs


def _metric(m: Any, path: str) -> list[FieldError]:
    if not m.type:
        return [required(child(path, "type"), "must specify a metric source type")]
    if m.type not in METRIC_TYPES:
        return [not_supported(child(path, "type"), m.type, METRIC_TYPES)]
    key = {
        "ContainerResource": "containerResource",
        "External": "external",
        "Object": "object",
        "Pods": "pods",
        "Resource": "resource",
    }[m.type]
    errs: list[FieldError] = []
    for other in ("object", "pods", "resource", "containerResource", "external"):
        if other != key and getattr(m, other, None) is not None:
            errs.append(forbidden(child(path, other), "must populate the given metric source only"))
    src = getattr(m, key)
    sp = child(path, key)
    if src is None:
        return [
            *errs,
            required(
                sp,
                f"must populate information for the given metric source (only allowed when type is {m.type})",
            ),
        ]
    if key in ("resource", "containerResource"):
        if not src.name:
            errs.append(required(child(sp, "name"), "must specify a resource name"))
        if key == "containerResource" and not src.container:
            errs.append(required(child(sp, "container"), "must specify a container"))
    else:
        if not src.metric.name:
            errs.append(required(child(sp, "metric", "name"), "must specify a metric name"))
        errs += validate_label_selector(src.metric.selector, child(sp, "metric", "selector"))
    errs += _target(src.target, child(sp, "target"), ())
    return errs


def _behavior(b: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for direction in ("scaleUp", "scaleDown"):
        rules = getattr(b, direction)
        if rules is None:
            continue
        rp = child(path, direction)
        w = rules.stabilizationWindowSeconds
        if w is not None and not 0 <= w <= 3600:
            errs.append(
                invalid_value(
                    child(rp, "stabilizationWindowSeconds"), w, "must be less than or equal to 3600"
                )
            )
        if rules.selectPolicy is not None and rules.selectPolicy not in ("Max", "Min", "Disabled"):
            errs.append(
                not_supported(child(rp, "selectPolicy"), rules.selectPolicy, ["Disabled", "Max", "Min"])
            )
        for i, pol in enumerate(rules.policies):
            pp = index(child(rp, "policies"), i)
            if pol.type not in ("Pods", "Percent"):
                errs.append(not_supported(child(pp, "type"), pol.type, ["Percent", "Pods"]))
            if pol.value <= 0:
                errs.append(invalid_value(child(pp, "value"), pol.value, "must be greater than zero"))
            if not 0 < pol.periodSeconds <= 1800:
                errs.append(
                    invalid_value(
                        child(pp, "periodSeconds"), pol.periodSeconds, "must be less than or equal to 1800"
                    )
                )
    return errs


def validate_hpa(hpa: Any) -> list[FieldError]:
    spec = hpa.spec
    errs = _scale_target_ref(spec.scaleTargetRef, "spec.scaleTargetRef")
    errs += _min_max(spec)
    if hasattr(spec, "metrics"):
        for i, m in enumerate(spec.metrics):
            errs += _metric(m, f"spec.metrics[{i}]")
        if spec.behavior is not None:
            errs += _behavior(spec.behavior, "spec.behavior")
    elif spec.targetCPUUtilizationPercentage is not None and spec.targetCPUUtilizationPercentage < 1:
        errs.append(
            invalid_value(
                "spec.targetCPUUtilizationPercentage",
                spec.targetCPUUtilizationPercentage,
                "must be greater than 0",
            )
        )
    return errs
