"""Validation of typed API objects: the entry points the API server calls.

- ``validate_create(obj)``: ObjectMeta (with the kind's name rule and scope) and the kind's fields;
- ``validate_update(new, old)``: the same on ``new`` plus what may not change;
- ``validate_status_update(new, old)``: metadata update rules plus basic status sanity.

Each returns a list of ``FieldError`` (empty when the object is valid), with
Kubernetes' field paths, types and messages; ``errors.invalid()`` turns a
non-empty list into the 422. Objects are expected to be defaulted first, as
Kubernetes defaults before it validates. Kinds without specific rules get
the ObjectMeta checks only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from kubelite.api.errors import FieldError
from kubelite.api.validation import (
    apps,
    autoscaling,
    batch,
    certificates,
    core,
    networking,
    other,
    pods,
    rbac,
)
from kubelite.api.validation.common import (
    NameFn,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    name_is_path_segment,
    nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)

Check = Callable[[Any], list[FieldError]]
UpdateCheck = Callable[[Any, Any], list[FieldError]]


@dataclass(frozen=True)
class KindRules:
    name_fn: NameFn = name_is_dns_subdomain
    validate: Check | None = None
    update: UpdateCheck | None = None  # extra rules on update (``validate`` runs too unless update_replaces)
    update_replaces: bool = False  # ``update`` already includes ``validate``
    status: UpdateCheck | None = None


def _same(fn: UpdateCheck) -> KindRules:
    return KindRules(update=fn, update_replaces=True)


# (module, class) -> rules; the scope comes from the resource registry.
_RULES: dict[tuple[str, str], KindRules] = {
    ("core_v1", "Pod"): KindRules(
        validate=pods.validate_pod_create,
        update=pods.validate_pod_update,
        update_replaces=True,
        status=pods.validate_pod_status_update,
    ),
    ("core_v1", "Namespace"): KindRules(
        name_is_dns_label, core.validate_namespace, status=core.validate_namespace_status_update
    ),
    ("core_v1", "Node"): KindRules(
        validate=core.validate_node, update=core.validate_node_update, update_replaces=True
    ),
    ("core_v1", "Service"): KindRules(
        name_is_dns1035_label, core.validate_service, core.validate_service_update, True
    ),
    ("core_v1", "Endpoints"): KindRules(validate=core.validate_endpoints),
    ("core_v1", "ConfigMap"): KindRules(
        validate=core.validate_config_map, update=core.validate_config_map_update, update_replaces=True
    ),
    ("core_v1", "Secret"): KindRules(
        validate=core.validate_secret, update=core.validate_secret_update, update_replaces=True
    ),
    ("core_v1", "Event"): KindRules(validate=core.validate_event),
    ("core_v1", "ReplicationController"): KindRules(validate=core.validate_replication_controller),
    ("core_v1", "ServiceAccount"): KindRules(validate=core.validate_service_account),
    ("core_v1", "LimitRange"): KindRules(validate=core.validate_limit_range),
    ("core_v1", "ResourceQuota"): KindRules(
        validate=core.validate_resource_quota,
        update=core.validate_resource_quota_update,
        update_replaces=True,
    ),
    ("core_v1", "PersistentVolume"): KindRules(
        validate=core.validate_persistent_volume,
        update=core.validate_persistent_volume_update,
        update_replaces=True,
    ),
    ("core_v1", "PersistentVolumeClaim"): KindRules(
        validate=core.validate_persistent_volume_claim,
        update=core.validate_persistent_volume_claim_update,
        update_replaces=True,
    ),
    ("core_v1", "PodTemplate"): KindRules(validate=core.validate_pod_template),
    ("apps_v1", "Deployment"): KindRules(
        validate=apps.validate_deployment, update=apps.validate_deployment_update, update_replaces=True
    ),
    ("apps_v1", "ReplicaSet"): KindRules(
        validate=apps.validate_replica_set, update=apps.validate_replica_set_update, update_replaces=True
    ),
    ("apps_v1", "StatefulSet"): KindRules(
        validate=apps.validate_stateful_set, update=apps.validate_stateful_set_update, update_replaces=True
    ),
    ("apps_v1", "DaemonSet"): KindRules(
        validate=apps.validate_daemon_set, update=apps.validate_daemon_set_update, update_replaces=True
    ),
    ("apps_v1", "ControllerRevision"): KindRules(
        validate=apps.validate_controller_revision,
        update=apps.validate_controller_revision_update,
        update_replaces=True,
    ),
    ("batch_v1", "Job"): KindRules(
        validate=batch.validate_job, update=batch.validate_job_update, update_replaces=True
    ),
    ("batch_v1", "CronJob"): KindRules(validate=batch.validate_cron_job),
    ("autoscaling_v2", "HorizontalPodAutoscaler"): KindRules(validate=autoscaling.validate_hpa),
    ("autoscaling_v1", "HorizontalPodAutoscaler"): KindRules(validate=autoscaling.validate_hpa),
    ("networking_v1", "Ingress"): KindRules(validate=networking.validate_ingress),
    ("networking_v1", "IngressClass"): KindRules(
        validate=networking.validate_ingress_class,
        update=networking.validate_ingress_class_update,
        update_replaces=True,
    ),
    ("networking_v1", "NetworkPolicy"): KindRules(validate=networking.validate_network_policy),
    ("rbac_v1", "Role"): KindRules(name_is_path_segment, rbac.validate_role),
    ("rbac_v1", "ClusterRole"): KindRules(name_is_path_segment, rbac.validate_cluster_role),
    ("rbac_v1", "RoleBinding"): KindRules(
        name_is_path_segment, rbac.validate_role_binding, rbac.validate_binding_update
    ),
    ("rbac_v1", "ClusterRoleBinding"): KindRules(
        name_is_path_segment, rbac.validate_cluster_role_binding, rbac.validate_binding_update
    ),
    ("coordination_v1", "Lease"): KindRules(validate=other.validate_lease),
    ("discovery_v1", "EndpointSlice"): KindRules(
        validate=other.validate_endpoint_slice,
        update=other.validate_endpoint_slice_update,
        update_replaces=True,
    ),
    ("scheduling_v1", "PriorityClass"): KindRules(
        validate=other.validate_priority_class, update=other.validate_priority_class_update
    ),
    ("policy_v1", "PodDisruptionBudget"): KindRules(validate=other.validate_pdb),
    ("storage_v1", "StorageClass"): KindRules(
        validate=other.validate_storage_class,
        update=other.validate_storage_class_update,
        update_replaces=True,
    ),
    ("events_v1", "Event"): KindRules(validate=other.validate_events_v1_event),
    # The strategy resets status on updates of the main resource, so what reaches ``update``
    # from there never changes conditions; from the approval subresource it may.
    ("certificates_v1", "CertificateSigningRequest"): KindRules(
        name_is_path_segment,
        certificates.validate_csr,
        certificates.validate_csr_approval_update,
        update_replaces=True,
        status=certificates.validate_csr_status_update,
    ),
}

_DEFAULT_RULES = KindRules()


def _key(cls: type) -> tuple[str, str]:
    return cls.__module__.rsplit(".", 1)[-1], cls.__name__


def rules_for(obj: Any) -> KindRules:
    return _RULES.get(_key(type(obj)), _DEFAULT_RULES)


@cache
def _scopes() -> dict[tuple[str, str], bool]:
    from kubelite.api.resources import RESOURCES

    scopes: dict[tuple[str, str], bool] = {}
    for res in RESOURCES:
        module, _, cls = res.model_path.partition(":")
        scopes[(module, cls)] = res.namespaced
    return scopes


def is_namespaced(obj: Any) -> bool:
    """Whether ``obj``'s kind is namespaced (unknown kinds are taken as namespaced when they carry a namespace)."""
    scope = _scopes().get(_key(type(obj)))
    if scope is None:
        return bool(getattr(getattr(obj, "metadata", None), "namespace", ""))
    return scope


def _dedupe(errs: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str, str]] = set()
    out: list[FieldError] = []
    for e in errs:
        k = (e.type, e.field, e.body())
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def validate_create(obj: Any) -> list[FieldError]:
    """Errors in a new object (empty when it may be created)."""
    rules = rules_for(obj)
    errs = validate_object_meta(obj.metadata, is_namespaced(obj), rules.name_fn)
    if rules.validate is not None:
        errs += rules.validate(obj)
    return _dedupe(errs)


def validate_update(new: Any, old: Any) -> list[FieldError]:
    """Errors in ``new`` as a replacement of ``old``: everything create checks, plus immutability."""
    rules = rules_for(new)
    errs = validate_object_meta_update(new.metadata, old.metadata)
    errs += validate_object_meta(new.metadata, is_namespaced(new), rules.name_fn)
    if rules.update is not None:
        if not rules.update_replaces and rules.validate is not None:
            errs += rules.validate(new)
        errs += rules.update(new, old)
    elif rules.validate is not None:
        errs += rules.validate(new)
    return _dedupe(errs)


def validate_status_update(new: Any, old: Any) -> list[FieldError]:
    """Errors in a write to the status subresource: metadata rules and basic status sanity."""
    rules = rules_for(new)
    errs = validate_object_meta_update(new.metadata, old.metadata)
    status = getattr(new, "status", None)
    if status is not None:
        errs += _status_counts(status)
    if rules.status is not None:
        errs += rules.status(new, old)
    return _dedupe(errs)


_COUNT_SUFFIXES = ("Replicas", "replicas", "Scheduled", "Available", "Unavailable", "Misscheduled", "Ready")


def _status_counts(status: Any) -> list[FieldError]:
    """Replica counts and observedGeneration in a status are never negative."""
    import msgspec

    errs: list[FieldError] = []
    if not isinstance(status, msgspec.Struct):
        return errs
    for name in _count_fields(type(status)):
        value = getattr(status, name)
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        errs += nonnegative(value, f"status.{name}")
    return errs


@cache
def _count_fields(cls: type) -> tuple[str, ...]:
    """The fields of a status class that hold counts, by their names (a pod status has
    none: every status write asked each of its twenty fields before)."""
    return tuple(
        name
        for name in cls.__struct_fields__  # type: ignore[attr-defined]
        if name == "observedGeneration"
        or name.endswith(_COUNT_SUFFIXES)
        or name in ("active", "succeeded", "failed")
    )


__all__ = ["rules_for", "validate_create", "validate_status_update", "validate_update"]
