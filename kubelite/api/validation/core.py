"""Validation of the core/v1 kinds other than the pod spec itself (which is in ``pods``).

Each ``validate_<kind>`` checks the object but not its ObjectMeta (the
dispatcher in ``__init__`` does that with the kind's name rule); each
``validate_<kind>_update`` adds what may not change.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid_value,
    not_supported,
    required,
    too_long,
)
from kubelite.api.validation.common import (
    IMMUTABLE,
    child,
    immutable,
    inclusive_range_error,
    index,
    is_config_map_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_ip,
    is_valid_port_num,
    key,
    map_selector_matches,
    messages,
    name_is_dns_subdomain,
    nonnegative,
    plain,
    quantity_value,
    validate_ip,
    validate_label_selector,
    validate_labels,
    validate_nonnegative_quantity,
    validate_quantity,
)
from kubelite.api.validation.pods import (
    PROTOCOLS,
    TAINT_EFFECTS,
    _port_num_or_name,
    validate_pod_template_spec,
)

MAX_SECRET_SIZE = 1024 * 1024
NODE_PORT_RANGE = (30000, 32767)
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


# -- ReplicationController -----------------------------------------------------------------


def validate_replication_controller(rc: Any) -> list[FieldError]:
    spec = rc.spec
    errs = nonnegative(spec.replicas, "spec.replicas")
    errs += nonnegative(spec.minReadySeconds, "spec.minReadySeconds")
    if not spec.selector:
        errs.append(required("spec.selector", ""))
    else:
        errs += validate_labels(spec.selector, "spec.selector")
    if spec.template is None:
        errs.append(required("spec.template", ""))
        return errs
    labels = spec.template.metadata.labels
    if not map_selector_matches(spec.selector, labels):
        errs.append(
            invalid_value(
                "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    errs += validate_pod_template_spec(spec.template, "spec.template")
    if spec.replicas is not None and spec.replicas > 1:
        for i, vol in enumerate(spec.template.spec.volumes):
            if vol.gcePersistentDisk is not None and not vol.gcePersistentDisk.readOnly:
                errs.append(
                    invalid_value(
                        f"spec.template.spec.volumes[{i}].gcePersistentDisk.readOnly",
                        False,
                        "must be true for replicated pods > 1; GCE PD can only be mounted on multiple machines if it is read-only",
                    )
                )
    if spec.template.spec.restartPolicy != "Always":
        errs.append(
            not_supported("spec.template.spec.restartPolicy", spec.template.spec.restartPolicy, ["Always"])
        )
    if spec.template.spec.activeDeadlineSeconds is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs


# -- Service ------------------------------------------------------------------------------


def _is_headless(svc: Any) -> bool:
    return svc.spec.clusterIP == "None"


def validate_service(svc: Any) -> list[FieldError]:
    spec = svc.spec
    errs: list[FieldError] = []
    headless = _is_headless(svc)
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.append(required("spec.ports", ""))
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid_value("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {spec.type} services")
        )
    elif spec.type == "ExternalName":
        if spec.clusterIPs or (spec.clusterIP and spec.clusterIP != ""):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.ipFamilies:
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.ipFamilyPolicy is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = spec.externalName.removesuffix(".")
        if cname:
            errs += messages("spec.externalName", cname, is_dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName", ""))
    names: set[str] = set()
    for i, port in enumerate(spec.ports):
        p = f"spec.ports[{i}]"
        if len(spec.ports) > 1 and not port.name:
            errs.append(required(child(p, "name"), ""))
        elif port.name:
            errs += messages(child(p, "name"), port.name, is_dns1123_label(port.name))
            if port.name in names:
                errs.append(duplicate(child(p, "name"), port.name))
            names.add(port.name)
        errs += messages(child(p, "port"), port.port, is_valid_port_num(port.port))
        if not port.protocol:
            errs.append(required(child(p, "protocol"), ""))
        elif port.protocol not in PROTOCOLS:
            errs.append(not_supported(child(p, "protocol"), port.protocol, PROTOCOLS))
        errs += _port_num_or_name(port.targetPort, child(p, "targetPort"))
        if port.appProtocol is not None:
            errs += messages(child(p, "appProtocol"), port.appProtocol, is_qualified_name(port.appProtocol))
        if port.nodePort and not NODE_PORT_RANGE[0] <= port.nodePort <= NODE_PORT_RANGE[1]:
            errs.append(
                invalid_value(
                    child(p, "nodePort"),
                    port.nodePort,
                    f"provided port is not in the valid range. The range of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
                )
            )
    errs += validate_labels(spec.selector, "spec.selector")
    if not spec.sessionAffinity:
        errs.append(required("spec.sessionAffinity", ""))
    elif spec.sessionAffinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", spec.sessionAffinity, ["ClientIP", "None"]))
    if spec.sessionAffinity == "ClientIP":
        cfg = spec.sessionAffinityConfig
        if cfg is None:
            errs.append(required("spec.sessionAffinityConfig", "when session affinity type is ClientIP"))
        elif cfg.clientIP is None:
            errs.append(
                required("spec.sessionAffinityConfig.clientIP", "when session affinity type is ClientIP")
            )
        elif cfg.clientIP.timeoutSeconds is None:
            errs.append(
                required(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    "when session affinity type is ClientIP",
                )
            )
        elif not 0 < cfg.clientIP.timeoutSeconds <= 86400:
            errs.append(
                invalid_value(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    cfg.clientIP.timeoutSeconds,
                    "must be greater than 0 and less than 86400",
                )
            )
    elif spec.sessionAffinity == "None" and spec.sessionAffinityConfig is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    if spec.clusterIP and spec.clusterIP != "None" and not is_valid_ip(spec.clusterIP):
        errs.append(
            invalid_value(
                "spec.clusterIPs[0]", spec.clusterIP, "must be empty, 'None', or a valid IP address"
            )
        )
    for i, ip in enumerate(spec.clusterIPs[1:], start=1):
        if not is_valid_ip(ip):
            errs.append(invalid_value(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address"))
    for i, fam in enumerate(spec.ipFamilies):
        if fam not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, ["IPv4", "IPv6"]))
    if spec.ipFamilyPolicy is not None and spec.ipFamilyPolicy not in (
        "SingleStack",
        "PreferDualStack",
        "RequireDualStack",
    ):
        errs.append(
            not_supported(
                "spec.ipFamilyPolicy",
                spec.ipFamilyPolicy,
                ["PreferDualStack", "RequireDualStack", "SingleStack"],
            )
        )
    for i, ip in enumerate(spec.externalIPs):
        errs += validate_ip(ip, f"spec.externalIPs[{i}]")
    if not spec.type:
        errs.append(required("spec.type", ""))
    elif spec.type not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    if spec.type == "ClusterIP":
        for i, port in enumerate(spec.ports):
            if port.nodePort:
                errs.append(
                    forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                )
    node_ports: set[tuple[str, int]] = set()
    ports: set[tuple[str, int]] = set()
    for i, port in enumerate(spec.ports):
        if port.nodePort:
            if (port.protocol, port.nodePort) in node_ports:
                errs.append(duplicate(f"spec.ports[{i}].nodePort", port.nodePort))
            node_ports.add((port.protocol, port.nodePort))
        if (port.protocol, port.port) in ports:
            errs.append(duplicate(f"spec.ports[{i}]", {"port": port.port, "protocol": port.protocol}))
        ports.add((port.protocol, port.port))
    if spec.loadBalancerSourceRanges and spec.type != "LoadBalancer":
        errs.append(
            forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
        )
    if spec.allocateLoadBalancerNodePorts is not None and spec.type != "LoadBalancer":
        errs.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    external = spec.type in ("NodePort", "LoadBalancer") or bool(spec.externalIPs)
    if not external:
        if spec.externalTrafficPolicy:
            errs.append(
                invalid_value(
                    "spec.externalTrafficPolicy",
                    spec.externalTrafficPolicy,
                    "may only be set for externally-accessible services",
                )
            )
    elif not spec.externalTrafficPolicy:
        errs.append(required("spec.externalTrafficPolicy", ""))
    elif spec.externalTrafficPolicy not in ("Cluster", "Local"):
        errs.append(
            not_supported("spec.externalTrafficPolicy", spec.externalTrafficPolicy, ["Cluster", "Local"])
        )
    if spec.internalTrafficPolicy is None:
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy", ""))
    elif spec.internalTrafficPolicy not in ("Cluster", "Local"):
        errs.append(
            not_supported("spec.internalTrafficPolicy", spec.internalTrafficPolicy, ["Cluster", "Local"])
        )
    return errs


def validate_service_update(new: Any, old: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if "ExternalName" not in (old.spec.type, new.spec.type):
        old_ip = old.spec.clusterIPs[0] if old.spec.clusterIPs else old.spec.clusterIP
        new_ip = new.spec.clusterIPs[0] if new.spec.clusterIPs else new.spec.clusterIP
        if old_ip and new_ip and new_ip != old_ip:
            errs.append(
                invalid_value(
                    "spec.clusterIPs[0]", new.spec.clusterIPs or [new_ip], "may not change once set"
                )
            )
    errs += validate_service(new)
    return errs


# -- Endpoints ------------------------------------------------------------------------------


def validate_endpoints(ep: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, subset in enumerate(ep.subsets):
        p = f"subsets[{i}]"
        if not subset.addresses and not subset.notReadyAddresses:
            errs.append(required(p, "must specify `addresses` or `notReadyAddresses`"))
        for field in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(getattr(subset, field)):
                ap = index(child(p, field), j)
                errs += validate_ip(addr.ip, child(ap, "ip"))
                if addr.hostname:
                    errs += messages(child(ap, "hostname"), addr.hostname, is_dns1123_label(addr.hostname))
                if addr.nodeName:
                    errs += messages(
                        child(ap, "nodeName"), addr.nodeName, name_is_dns_subdomain(addr.nodeName, False)
                    )
        names: set[str] = set()
        for j, port in enumerate(subset.ports):
            pp = index(child(p, "ports"), j)
            if len(subset.ports) > 1 and not port.name:
                errs.append(required(child(pp, "name"), ""))
            elif port.name:
                errs += messages(child(pp, "name"), port.name, is_dns1123_label(port.name))
                if port.name in names:
                    errs.append(duplicate(child(pp, "name"), port.name))
                names.add(port.name)
            errs += messages(child(pp, "port"), port.port, is_valid_port_num(port.port))
            if not port.protocol:
                errs.append(required(child(pp, "protocol"), ""))
            elif port.protocol not in PROTOCOLS:
                errs.append(not_supported(child(pp, "protocol"), port.protocol, PROTOCOLS))
    return errs


# -- ConfigMap, Secret ------------------------------------------------------------------------


def validate_config_map(cm: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in cm.data.items():
        problems = is_config_map_key(k)
        if problems:
            errs += messages(key("data", k), k, problems)
        if k in cm.binaryData:
            errs.append(invalid_value(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(v.encode())
    for k, b in cm.binaryData.items():
        errs += messages(key("binaryData", k), k, is_config_map_key(k))
        total += len(b)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("", "", MAX_SECRET_SIZE))
    return errs


def _immutable_data(new: Any, old: Any, fields: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    if old.immutable:
        if not new.immutable:
            errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for f in fields:
            if getattr(new, f) != getattr(old, f):
                errs.append(forbidden(f, "field is immutable when `immutable` is set"))
    return errs


def validate_config_map_update(new: Any, old: Any) -> list[FieldError]:
    return _immutable_data(new, old, ("data", "binaryData")) + validate_config_map(new)


def validate_secret(secret: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    data = secret.data
    for k, v in data.items():
        errs += messages(key("data", k), k, is_config_map_key(k))
        total += len(v)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    t = secret.type
    if t == "kubernetes.io/service-account-token":
        if not secret.metadata.annotations.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]", ""))
    elif t in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        k = ".dockercfg" if t == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if k not in data:
            errs.append(required(key("data", k), ""))
        else:
            try:
                parsed = orjson.loads(data[k])
                if not isinstance(parsed, dict):
                    raise ValueError("json: cannot unmarshal into Go value of type map[string]interface {}")
            except (orjson.JSONDecodeError, ValueError) as e:
                errs.append(invalid_value(key("data", k), "<secret contents redacted>", str(e)))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required("data[username]", ""))
            errs.append(required("data[password]", ""))
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required("data[ssh-privatekey]", ""))
    elif t == "kubernetes.io/tls":
        if "tls.crt" not in data:
            errs.append(required("data[tls.crt]", ""))
        if "tls.key" not in data:
            errs.append(required("data[tls.key]", ""))
    return errs


def validate_secret_update(new: Any, old: Any) -> list[FieldError]:
    errs = immutable(new.type, old.type, "type")
    errs += _immutable_data(new, old, ("data",))
    return errs + validate_secret(new)


# -- Namespace, Node ------------------------------------------------------------------------------


def validate_namespace(ns: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in ns.spec.finalizers:
        errs += _finalizer_name(f, "spec.finalizers")
    return errs


def _finalizer_name(f: str, path: str) -> list[FieldError]:
    msgs = is_qualified_name(f)
    if msgs:
        return messages(path, f, msgs)
    if "/" not in f and f != "kubernetes":
        return [invalid_value(path, f, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def validate_namespace_status_update(new: Any, old: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if old.metadata.deletionTimestamp is None:
        if new.status.phase != "Active":
            errs.append(
                invalid_value(
                    "status.Phase", new.status.phase, "may only be 'Active' if `deletionTimestamp` is empty"
                )
            )
    elif new.status.phase != "Terminating":
        errs.append(
            invalid_value(
                "status.Phase",
                new.status.phase,
                "may only be 'Terminating' if `deletionTimestamp` is not empty",
            )
        )
    return errs


def validate_node(node: Any) -> list[FieldError]:
    errs = validate_taints(node.spec.taints, "spec.taints")
    for name, q in node.status.capacity.items():
        errs += validate_nonnegative_quantity(q, key("status.capacity", name))
    for name, q in node.status.allocatable.items():
        errs += validate_nonnegative_quantity(q, key("status.allocatable", name))
    cidrs = node.spec.podCIDRs
    if cidrs:
        import ipaddress

        for i, c in enumerate(cidrs):
            try:
                ipaddress.ip_network(c, strict=False)
            except ValueError:
                errs.append(
                    invalid_value(
                        f"spec.podCIDRs[{i}]",
                        c,
                        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                    )
                )
        if node.spec.podCIDR and node.spec.podCIDR != cidrs[0]:
            errs.append(invalid_value("spec.podCIDRs", cidrs, "must match `spec.podCIDR`"))
        families = [ipaddress.ip_network(c, strict=False).version for c in cidrs if _is_cidr(c)]
        if len(cidrs) > 2 or len(set(families)) != len(families):
            errs.append(
                invalid_value("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family")
            )
    return errs


def _is_cidr(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def validate_taints(taints: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(taints):
        p = index(path, i)
        errs += messages(child(p, "key"), t.key, is_qualified_name(t.key))
        if t.value:
            from kubelite.api.validation.common import is_label_value

            errs += messages(child(p, "value"), t.value, is_label_value(t.value))
        if not t.effect:
            errs.append(required(child(p, "effect"), ""))
        elif t.effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(p, "effect"), t.effect, TAINT_EFFECTS))
        if (t.key, t.effect) in seen:
            errs.append(duplicate(p, plain(t)))
        seen.add((t.key, t.effect))
    return errs


def validate_node_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_node(new)
    if old.spec.podCIDR and new.spec.podCIDR != old.spec.podCIDR:
        errs.append(forbidden("spec.podCIDR", 'node updates may not change podCIDR except from "" to valid'))
    elif old.spec.podCIDRs and new.spec.podCIDRs != old.spec.podCIDRs:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old.spec.providerID and new.spec.providerID != old.spec.providerID:
        errs.append(
            forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    return errs


# -- PersistentVolume, PersistentVolumeClaim -----------------------------------------------------------


def _access_modes(modes: list[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not modes:
        errs.append(required(path, ""))
    for m in modes:
        if m not in ACCESS_MODES:
            errs.append(not_supported(path, m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


_PV_SOURCES = (
    "gcePersistentDisk awsElasticBlockStore hostPath glusterfs nfs rbd iscsi cinder cephfs fc flocker flexVolume "
    "azureFile vsphereVolume quobyte azureDisk photonPersistentDisk portworxVolume scaleIO local storageos csi"
).split()


def validate_persistent_volume(pv: Any) -> list[FieldError]:
    spec = pv.spec
    errs = _access_modes(spec.accessModes, "spec.accessModes")
    if not spec.capacity:
        errs.append(required("spec.capacity", ""))
    elif "storage" not in spec.capacity or len(spec.capacity) > 1:
        errs.append(not_supported("spec.capacity", list(spec.capacity), ["storage"]))
    for name, q in spec.capacity.items():
        errs += validate_nonnegative_quantity(q, key("spec.capacity", name))
    policies = ["Delete", "Recycle", "Retain"]
    if spec.persistentVolumeReclaimPolicy and spec.persistentVolumeReclaimPolicy not in policies:
        errs.append(
            not_supported("spec.persistentVolumeReclaimPolicy", spec.persistentVolumeReclaimPolicy, policies)
        )
    if spec.storageClassName:
        errs += messages(
            "spec.storageClassName",
            spec.storageClassName,
            name_is_dns_subdomain(spec.storageClassName, False),
        )
    if spec.volumeMode is not None and spec.volumeMode not in ("Block", "Filesystem"):
        errs.append(not_supported("spec.volumeMode", spec.volumeMode, ["Block", "Filesystem"]))
    sources = [s for s in _PV_SOURCES if getattr(spec, s, None) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        errs.append(forbidden(child("spec", extra), "may not specify more than 1 volume type"))
    if spec.hostPath is not None and not spec.hostPath.path:
        errs.append(required("spec.hostPath.path", ""))
    if spec.local is not None and not spec.local.path:
        errs.append(required("spec.local.path", ""))
    return errs


def validate_persistent_volume_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_persistent_volume(new)
    errs += immutable(new.spec.volumeMode, old.spec.volumeMode, "volumeMode")
    for src in _PV_SOURCES:
        if getattr(old.spec, src, None) is not None and getattr(new.spec, src, None) != getattr(
            old.spec, src, None
        ):
            errs.append(
                invalid_value(
                    "spec.persistentvolumesource",
                    plain(getattr(new.spec, src)),
                    "spec.persistentvolumesource is immutable after creation",
                )
            )
            break
    return errs


def validate_persistent_volume_claim(pvc: Any) -> list[FieldError]:
    spec = pvc.spec
    errs = _access_modes(spec.accessModes, "spec.accessModes")
    errs += validate_label_selector(spec.selector, "spec.selector")
    storage = spec.resources.requests.get("storage")
    if storage is None:
        errs.append(required("spec.resources[storage]", ""))
    else:
        errs += validate_quantity(storage, "spec.resources[storage]")
        v = quantity_value(storage)
        if v is not None and v <= 0:
            errs.append(invalid_value("spec.resources[storage]", storage, "must be greater than zero"))
    for name, q in spec.resources.requests.items():
        if name != "storage":
            errs += validate_nonnegative_quantity(q, key("spec.resources.requests", name))
    if spec.storageClassName:
        errs += messages(
            "spec.storageClassName",
            spec.storageClassName,
            name_is_dns_subdomain(spec.storageClassName, False),
        )
    if spec.volumeMode is not None and spec.volumeMode not in ("Block", "Filesystem"):
        errs.append(not_supported("spec.volumeMode", spec.volumeMode, ["Block", "Filesystem"]))
    return errs


def validate_persistent_volume_claim_update(new: Any, old: Any) -> list[FieldError]:
    import msgspec

    errs = validate_persistent_volume_claim(new)
    new_spec = new.spec
    old_spec = old.spec
    # Requests may grow; a bound claim may also gain its volume name from the binder.
    munged = msgspec.structs.replace(
        new_spec,
        resources=msgspec.structs.replace(new_spec.resources, requests=old_spec.resources.requests),
        volumeAttributesClassName=old_spec.volumeAttributesClassName,
    )
    if not old_spec.volumeName and new_spec.volumeName:
        munged = msgspec.structs.replace(munged, volumeName="")
    if old_spec.storageClassName is None and new_spec.storageClassName is not None:
        munged = msgspec.structs.replace(munged, storageClassName=None)
    if munged != old_spec:
        errs.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            )
        )
    old_size = quantity_value(old_spec.resources.requests.get("storage", "0"))
    new_size = quantity_value(new_spec.resources.requests.get("storage", "0"))
    if old_size is not None and new_size is not None and new_size < old_size:
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
    return errs


# -- Event, ServiceAccount, LimitRange, ResourceQuota, PodTemplate -----------------------------------------


def validate_event(ev: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    obj = ev.involvedObject
    ns = ev.metadata.namespace
    if obj.namespace and ns and obj.namespace != ns and ns != "default":
        errs.append(
            invalid_value("involvedObject.namespace", obj.namespace, "does not match event.namespace")
        )
    if ev.type and ev.type not in ("Normal", "Warning"):
        errs.append(not_supported("type", ev.type, ["Normal", "Warning"]))
    if ev.eventTime is not None:
        if not ev.reportingComponent:
            errs.append(required("reportingController", ""))
        if not ev.reportingInstance:
            errs.append(required("reportingInstance", ""))
        if not ev.action:
            errs.append(required("action", ""))
        if not ev.type:
            errs.append(required("type", ""))
    if len(ev.message) > 4096:
        errs.append(too_long("message", "", 4096))
    return errs


def validate_limit_range(lr: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(lr.spec.limits):
        p = f"spec.limits[{i}]"
        if item.type in seen:
            errs.append(duplicate(child(p, "type"), item.type))
        seen.add(item.type)
        if item.type not in ("Container", "Pod", "PersistentVolumeClaim"):
            errs.append(
                not_supported(child(p, "type"), item.type, ["Container", "PersistentVolumeClaim", "Pod"])
            )
        if item.type == "Pod":
            if item.default:
                errs.append(forbidden(child(p, "default"), "may not be specified when `type` is 'Pod'"))
            if item.defaultRequest:
                errs.append(
                    forbidden(child(p, "defaultRequest"), "may not be specified when `type` is 'Pod'")
                )
        for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            for name, q in getattr(item, field).items():
                errs += validate_nonnegative_quantity(q, key(child(p, field), name))
        for name in set(item.min) & set(item.max):
            lo, hi = quantity_value(item.min[name]), quantity_value(item.max[name])
            if lo is not None and hi is not None and lo > hi:
                errs.append(
                    invalid_value(
                        key(child(p, "min"), name),
                        item.min[name],
                        f"min value {item.min[name]} is greater than max value {item.max[name]}",
                    )
                )
        for name in set(item.default) & set(item.max):
            d, hi = quantity_value(item.default[name]), quantity_value(item.max[name])
            if d is not None and hi is not None and d > hi:
                errs.append(
                    invalid_value(
                        key(child(p, "default"), name),
                        item.max[name],
                        f"default value {item.default[name]} is greater than max value {item.max[name]}",
                    )
                )
        for name in set(item.defaultRequest) & set(item.default):
            dr, d = quantity_value(item.defaultRequest[name]), quantity_value(item.default[name])
            if dr is not None and d is not None and dr > d:
                errs.append(
                    invalid_value(
                        key(child(p, "defaultRequest"), name),
                        item.defaultRequest[name],
                        f"default request value {item.defaultRequest[name]} is greater than default limit value {item.default[name]}",
                    )
                )
    return errs


def validate_resource_quota(rq: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, q in rq.spec.hard.items():
        errs += validate_nonnegative_quantity(q, key("spec.hard", name))
    scopes = set(rq.spec.scopes)
    valid = [
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
    ]
    for s in rq.spec.scopes:
        if s not in valid:
            errs.append(invalid_value("spec.scopes", rq.spec.scopes, "unsupported scope"))
    if {"BestEffort", "NotBestEffort"} <= scopes or {"Terminating", "NotTerminating"} <= scopes:
        errs.append(invalid_value("spec.scopes", rq.spec.scopes, "conflicting scopes"))
    return errs


def validate_resource_quota_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_resource_quota(new)
    if set(new.spec.scopes) != set(old.spec.scopes):
        errs.append(invalid_value("spec.scopes", new.spec.scopes, IMMUTABLE))
    return errs


def validate_pod_template(pt: Any) -> list[FieldError]:
    return validate_pod_template_spec(pt.template, "template")


def validate_service_account(sa: Any) -> list[FieldError]:
    return []


__all__ = ["inclusive_range_error"]
