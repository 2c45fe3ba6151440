"""Conversion between versions that share one storage.

Kubernetes stores each resource in one version and converts on the way in
and out. Here that concerns two pairs: events.k8s.io/v1 Events are stored
as core/v1 Events, and autoscaling/v1 HorizontalPodAutoscalers as
autoscaling/v2. Conversions work on the JSON form (plain dicts) and must
round-trip everything the served version can express.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]

# events.k8s.io/v1 name -> core/v1 name, for the fields whose names differ.
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_EVENT_RENAMES_BACK = {v: k for k, v in _EVENT_RENAMES.items()}

# Where autoscaling/v1 keeps what it cannot express, as Kubernetes does.
HPA_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
HPA_CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"


def _renamed(doc: Doc, renames: dict[str, str], kind: str, api_version: str) -> Doc:
    out: Doc = {"kind": kind, "apiVersion": api_version}
    for key, value in doc.items():
        if key in ("kind", "apiVersion"):
            continue
        out[renames.get(key, key)] = copy.deepcopy(value)
    return out


def event_to_core(doc: Doc) -> Doc:
    return _renamed(doc, _EVENT_RENAMES, "Event", "v1")


def event_from_core(doc: Doc) -> Doc:
    return _renamed(doc, _EVENT_RENAMES_BACK, "Event", "events.k8s.io/v1")


def _is_cpu_utilization(metric: Doc) -> bool:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and target.get("type") == "Utilization"
    )


def hpa_v1_to_v2(doc: Doc) -> Doc:
    import orjson

    out = copy.deepcopy(doc)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    metrics: list[Doc] = []
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        )
    extra = annotations.pop(HPA_METRICS_ANNOTATION, None)
    if extra:
        metrics.extend(orjson.loads(extra))
    if metrics:
        spec["metrics"] = metrics
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        current_metrics: list[Doc] = []
        if current is not None:
            current_metrics.append(
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            )
        extra_current = annotations.pop(HPA_CURRENT_METRICS_ANNOTATION, None)
        if extra_current:
            current_metrics.extend(orjson.loads(extra_current))
        if current_metrics:
            status["currentMetrics"] = current_metrics
        conditions = annotations.pop(HPA_CONDITIONS_ANNOTATION, None)
        if conditions:
            status["conditions"] = orjson.loads(conditions)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def hpa_v2_to_v1(doc: Doc) -> Doc:
    import orjson

    out = copy.deepcopy(doc)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics = spec.pop("metrics", None) or []
    spec.pop("behavior", None)
    others = []
    for metric in metrics:
        if _is_cpu_utilization(metric) and "targetCPUUtilizationPercentage" not in spec:
            spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"].get("averageUtilization")
        else:
            others.append(metric)
    if others:
        annotations[HPA_METRICS_ANNOTATION] = orjson.dumps(others).decode()
    status = out.setdefault("status", {})
    if isinstance(status, dict):
        # autoscaling/v1 requires these two, where v2 may leave them out while zero.
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
        rest = []
        for metric in status.pop("currentMetrics", None) or []:
            resource = metric.get("resource") or {}
            if metric.get("type") == "Resource" and resource.get("name") == "cpu":
                value = (resource.get("current") or {}).get("averageUtilization")
                if value is not None:
                    status["currentCPUUtilizationPercentage"] = value
                    continue
            rest.append(metric)
        if rest:
            annotations[HPA_CURRENT_METRICS_ANNOTATION] = orjson.dumps(rest).decode()
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[HPA_CONDITIONS_ANNOTATION] = orjson.dumps(conditions).decode()
    if annotations:
        meta["annotations"] = annotations
    return out


# (group, version, kind) of the served version -> (to storage, from storage)
CONVERSIONS: dict[tuple[str, str, str], tuple[Callable[[Doc], Doc], Callable[[Doc], Doc]]] = {
    ("events.k8s.io", "v1", "Event"): (event_to_core, event_from_core),
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): (hpa_v1_to_v2, hpa_v2_to_v1),
}
