"""Validation of the small groups: coordination (Lease), discovery (EndpointSlice), scheduling
(PriorityClass), policy (PodDisruptionBudget), storage (StorageClass) and events.k8s.io Events."""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import (
    FieldError,
    forbidden,
    invalid_value,
    not_supported,
    required,
    too_long,
    too_many,
)
from kubelite.api.validation.common import (
    IMMUTABLE,
    child,
    index,
    int_or_percent,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_ip,
    is_valid_port_num,
    messages,
    nonnegative,
    not_more_than_100_percent,
    validate_label_selector,
)
from kubelite.api.validation.pods import PROTOCOLS

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def validate_lease(lease: Any) -> list[FieldError]:
    spec = lease.spec
    errs: list[FieldError] = []
    if spec.leaseDurationSeconds is not None and spec.leaseDurationSeconds <= 0:
        errs.append(
            invalid_value("spec.leaseDurationSeconds", spec.leaseDurationSeconds, "must be greater than 0")
        )
    errs += nonnegative(spec.leaseTransitions, "spec.leaseTransitions")
    if spec.strategy is not None and spec.strategy not in ("OldestEmulationVersion",):
        errs.append(not_supported("spec.strategy", spec.strategy, ["OldestEmulationVersion"]))
    if spec.preferredHolder and spec.strategy is None:
        errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


def validate_endpoint_slice(es: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if es.addressType not in _ADDRESS_TYPES:
        if not es.addressType:
            errs.append(required("addressType", ""))
        else:
            errs.append(not_supported("addressType", es.addressType, _ADDRESS_TYPES))
    if len(es.endpoints) > 1000:
        errs.append(too_many("endpoints", len(es.endpoints), 1000))
    for i, ep in enumerate(es.endpoints):
        p = index("endpoints", i)
        if not ep.addresses:
            errs.append(required(child(p, "addresses"), "must contain at least 1 address"))
        elif len(ep.addresses) > 100:
            errs.append(too_many(child(p, "addresses"), len(ep.addresses), 100))
        for j, addr in enumerate(ep.addresses):
            ap = index(child(p, "addresses"), j)
            if es.addressType in ("IPv4", "IPv6"):
                import ipaddress

                ok = is_valid_ip(addr) and ipaddress.ip_address(addr).version == (
                    4 if es.addressType == "IPv4" else 6
                )
                if not ok:
                    errs.append(invalid_value(ap, addr, f"must be a valid {es.addressType} address"))
            elif es.addressType == "FQDN":
                errs += messages(ap, addr, is_dns1123_subdomain(addr))
        if ep.hostname is not None:
            errs += messages(child(p, "hostname"), ep.hostname, is_dns1123_label(ep.hostname))
        if ep.nodeName is not None and ep.nodeName:
            errs += messages(child(p, "nodeName"), ep.nodeName, is_dns1123_subdomain(ep.nodeName))
    if len(es.ports) > 20000:
        errs.append(too_many("ports", len(es.ports), 20000))
    names: set[str] = set()
    for i, port in enumerate(es.ports):
        p = index("ports", i)
        name = port.name or ""
        if name:
            errs += messages(child(p, "name"), name, is_dns1123_label(name))
        if name in names:
            from kubelite.api.errors import duplicate

            errs.append(duplicate(child(p, "name"), name))
        names.add(name)
        if port.protocol is None:
            errs.append(required(child(p, "protocol"), ""))
        elif port.protocol not in PROTOCOLS:
            errs.append(not_supported(child(p, "protocol"), port.protocol, PROTOCOLS))
        if port.port is not None:
            errs += messages(child(p, "port"), port.port, is_valid_port_num(port.port))
        if port.appProtocol is not None:
            errs += messages(child(p, "appProtocol"), port.appProtocol, is_qualified_name(port.appProtocol))
    return errs


def validate_endpoint_slice_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_endpoint_slice(new)
    if new.addressType != old.addressType:
        errs.append(invalid_value("addressType", new.addressType, IMMUTABLE))
    return errs


def validate_priority_class(pc: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    name = pc.metadata.name
    if name in SYSTEM_PRIORITY_CLASSES:
        if pc.value != SYSTEM_PRIORITY_CLASSES[name]:
            errs.append(
                forbidden(
                    "metadata.name",
                    f"name {name} is reserved for a system priority class with value {SYSTEM_PRIORITY_CLASSES[name]}",
                )
            )
    elif name.startswith("system-"):
        errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved"))
    elif pc.value > HIGHEST_USER_PRIORITY:
        errs.append(
            forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}")
        )
    if pc.preemptionPolicy is not None and pc.preemptionPolicy not in ("PreemptLowerPriority", "Never"):
        errs.append(not_supported("preemptionPolicy", pc.preemptionPolicy, ["PreemptLowerPriority", "Never"]))
    return errs


def validate_priority_class_update(new: Any, old: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if new.value != old.value:
        errs.append(forbidden("value", "may not be changed in an update."))
    if new.preemptionPolicy != old.preemptionPolicy:
        errs.append(invalid_value("preemptionPolicy", new.preemptionPolicy, IMMUTABLE))
    return errs


def validate_pdb(pdb: Any) -> list[FieldError]:
    spec = pdb.spec
    errs: list[FieldError] = []
    if spec.minAvailable is not None and spec.maxUnavailable is not None:
        errs.append(invalid_value("spec", "", "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        v = getattr(spec, name)
        if v is not None:
            errs += int_or_percent(v, f"spec.{name}")
            errs += not_more_than_100_percent(v, f"spec.{name}")
    errs += validate_label_selector(spec.selector, "spec.selector")
    policies = ["AlwaysAllow", "IfHealthyBudget"]
    if spec.unhealthyPodEvictionPolicy is not None and spec.unhealthyPodEvictionPolicy not in policies:
        errs.append(
            not_supported("spec.unhealthyPodEvictionPolicy", spec.unhealthyPodEvictionPolicy, policies)
        )
    return errs


def validate_storage_class(sc: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if not sc.provisioner:
        errs.append(required("provisioner", ""))
    else:
        errs += messages("provisioner", sc.provisioner, is_qualified_name(sc.provisioner.lower()))
    if sc.reclaimPolicy is not None and sc.reclaimPolicy not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", sc.reclaimPolicy, ["Delete", "Retain"]))
    if sc.volumeBindingMode is not None and sc.volumeBindingMode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(
            not_supported("volumeBindingMode", sc.volumeBindingMode, ["Immediate", "WaitForFirstConsumer"])
        )
    total = sum(len(k) + len(v) for k, v in sc.parameters.items())
    if total > 256 * 1024:
        errs.append(too_long("parameters", "", 256 * 1024))
    return errs


def validate_storage_class_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_storage_class(new)
    for name in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
        if getattr(new, name) != getattr(old, name):
            errs.append(forbidden(name, "updates to " + name + " are forbidden."))
    return errs


def validate_events_v1_event(ev: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if ev.eventTime is None:
        errs.append(required("eventTime", ""))
    if ev.type not in ("Normal", "Warning"):
        errs.append(not_supported("type", ev.type, ["Normal", "Warning"]))
    if not ev.reportingController:
        errs.append(required("reportingController", ""))
    else:
        errs += messages(
            "reportingController", ev.reportingController, is_qualified_name(ev.reportingController)
        )
    if not ev.reportingInstance:
        errs.append(required("reportingInstance", ""))
    if not ev.action:
        errs.append(required("action", ""))
    if not ev.reason:
        errs.append(required("reason", ""))
    if len(ev.note) > 1024:
        errs.append(too_long("note", "", 1024))
    return errs
