"""Validation of PodSpec and PodTemplateSpec: containers, volumes, probes, resources, scheduling fields.

Shared by Pod and every workload that embeds a pod template. ``is_pod`` turns
on the checks Kubernetes applies only to real pods (not to templates).
Pod updates (what may change on a running pod) live here too.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from kubelite.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid_value,
    not_found,
    not_supported,
    required,
)
from kubelite.api.quantity import Quantity, parse_quantity
from kubelite.api.validation.common import (
    child,
    inclusive_range_error,
    index,
    is_c_identifier,
    is_config_map_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_http_header_name,
    is_label_value,
    is_qualified_name,
    is_valid_ip,
    is_valid_port_name,
    is_valid_port_num,
    key,
    messages,
    name_is_dns_subdomain,
    nonnegative,
    one_of,
    quantity_string,
    validate_annotations,
    validate_ip,
    validate_label_name,
    validate_label_selector,
    validate_labels,
    validate_quantity,
)

PROTOCOLS = ["SCTP", "TCP", "UDP"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
MAX_INT32 = 2**31 - 1
_NANO_PER_UNIT = 10**9

_VOLUME_SOURCES = (
    "hostPath emptyDir gcePersistentDisk awsElasticBlockStore gitRepo secret nfs iscsi glusterfs "
    "persistentVolumeClaim rbd flexVolume cinder cephfs flocker downwardAPI fc azureFile configMap "
    "vsphereVolume quobyte azureDisk photonPersistentDisk projected portworxVolume scaleIO storageos csi "
    "ephemeral image"
).split()

_ENV_FIELD_PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
_VOLUME_FIELD_PATHS = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
]
_RESOURCE_FIELD_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


# -- volumes ---------------------------------------------------------------------------


def _validate_key_to_paths(items: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(items):
        p = index(path, i)
        if not item.key:
            errs.append(required(child(p, "key"), ""))
        errs += _local_descending_path(item.path, child(p, "path"))
        errs += _file_mode(item.mode, child(p, "mode"))
    return errs


def _local_descending_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [required(path, "")]
    errs: list[FieldError] = []
    if value.startswith("/"):
        errs.append(invalid_value(path, value, "must be a relative path"))
    if ".." in value.replace("\\", "/").split("/"):
        errs.append(invalid_value(path, value, "must not contain '..'"))
    return errs


def _file_mode(mode: int | None, path: str) -> list[FieldError]:
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid_value(path, mode, FILE_MODE_ERROR)]
    return []


def _validate_volume_source(name: str, src: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if name == "configMap":
        if not src.name:
            errs.append(required(child(path, "name"), ""))
        else:
            errs += messages(child(path, "name"), src.name, name_is_dns_subdomain(src.name, False))
        errs += _file_mode(src.defaultMode, child(path, "defaultMode"))
        errs += _validate_key_to_paths(src.items, child(path, "items"))
    elif name == "secret":
        if not src.secretName:
            errs.append(required(child(path, "secretName"), ""))
        else:
            errs += messages(
                child(path, "secretName"), src.secretName, name_is_dns_subdomain(src.secretName, False)
            )
        errs += _file_mode(src.defaultMode, child(path, "defaultMode"))
        errs += _validate_key_to_paths(src.items, child(path, "items"))
    elif name == "persistentVolumeClaim":
        if not src.claimName:
            errs.append(required(child(path, "claimName"), ""))
    elif name == "hostPath":
        if not src.path:
            errs.append(required(child(path, "path"), ""))
        elif ".." in src.path.split("/"):
            errs.append(invalid_value(child(path, "path"), src.path, "must not contain '..'"))
        if src.type is not None and src.type not in _HOST_PATH_TYPES:
            errs.append(not_supported(child(path, "type"), src.type, _HOST_PATH_TYPES))
    elif name == "emptyDir":
        if src.medium not in ("", "Memory", "HugePages") and not src.medium.startswith("HugePages-"):
            errs.append(not_supported(child(path, "medium"), src.medium, ["", "Memory", "HugePages"]))
        if src.sizeLimit is not None:
            errs += validate_quantity(src.sizeLimit, child(path, "sizeLimit"))
    elif name == "downwardAPI":
        errs += _file_mode(src.defaultMode, child(path, "defaultMode"))
        for i, item in enumerate(src.items):
            errs += _downward_api_file(item, index(child(path, "items"), i))
    elif name == "projected":
        errs += _file_mode(src.defaultMode, child(path, "defaultMode"))
        for i, proj in enumerate(src.sources):
            p = index(child(path, "sources"), i)
            if proj.configMap is not None:
                errs += _validate_key_to_paths(proj.configMap.items, child(p, "configMap", "items"))
            if proj.secret is not None:
                errs += _validate_key_to_paths(proj.secret.items, child(p, "secret", "items"))
            if proj.downwardAPI is not None:
                for j, item in enumerate(proj.downwardAPI.items):
                    errs += _downward_api_file(item, index(child(p, "downwardAPI", "items"), j))
            if proj.serviceAccountToken is not None:
                tok = proj.serviceAccountToken
                tp = child(p, "serviceAccountToken")
                if tok.expirationSeconds is not None and tok.expirationSeconds < 600:
                    errs.append(
                        invalid_value(
                            child(tp, "expirationSeconds"),
                            tok.expirationSeconds,
                            "may not specify a duration less than 10 minutes",
                        )
                    )
                if not tok.path:
                    errs.append(required(child(tp, "path"), ""))
    elif name == "nfs":
        if not src.server:
            errs.append(required(child(path, "server"), ""))
        if not src.path:
            errs.append(required(child(path, "path"), ""))
    elif name == "image":
        if not src.reference:
            errs.append(required(child(path, "reference"), ""))
    return errs


_HOST_PATH_TYPES = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
]


def _downward_api_file(item: Any, path: str) -> list[FieldError]:
    errs = _local_descending_path(item.path, child(path, "path"))
    errs += _file_mode(item.mode, child(path, "mode"))
    if item.fieldRef is not None and item.resourceFieldRef is not None:
        errs.append(
            invalid_value(
                path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"
            )
        )
    elif item.fieldRef is not None:
        errs += _object_field_selector(item.fieldRef, _VOLUME_FIELD_PATHS, child(path, "fieldRef"))
    elif item.resourceFieldRef is not None:
        errs += _resource_field_selector(item.resourceFieldRef, child(path, "resourceFieldRef"), volume=True)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    return errs


def validate_volumes(volumes: list[Any], path: str) -> tuple[dict[str, Any], list[FieldError]]:
    """The volumes by name (for mounts to refer to) and the errors."""
    errs: list[FieldError] = []
    by_name: dict[str, Any] = {}
    for i, vol in enumerate(volumes):
        p = index(path, i)
        sources = [s for s in _VOLUME_SOURCES if getattr(vol, s, None) is not None]
        if not sources:
            errs.append(required(p, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(forbidden(child(p, extra), "may not specify more than 1 volume type"))
        if sources:
            errs += _validate_volume_source(sources[0], getattr(vol, sources[0]), child(p, sources[0]))
        name_ok = True
        if not vol.name:
            errs.append(required(child(p, "name"), ""))
            name_ok = False
        else:
            msgs = is_dns1123_label(vol.name)
            errs += messages(child(p, "name"), vol.name, msgs)
            name_ok = not msgs
        if name_ok:
            if vol.name in by_name:
                errs.append(duplicate(child(p, "name"), vol.name))
            else:
                by_name[vol.name] = vol
    return by_name, errs


# -- containers ------------------------------------------------------------------------


def _port_num_or_name(port: Any, path: str) -> list[FieldError]:
    if isinstance(port, bool):
        return [invalid_value(path, port, "must be an int or a string")]
    if isinstance(port, int):
        return messages(path, port, is_valid_port_num(port))
    if isinstance(port, str):
        return messages(path, port, is_valid_port_name(port))
    return messages(path, 0, is_valid_port_num(0))


def validate_container_ports(ports: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = index(path, i)
        if port.name:
            msgs = is_valid_port_name(port.name)
            if msgs:
                errs += messages(child(p, "name"), port.name, msgs)
            elif port.name in names:
                errs.append(duplicate(child(p, "name"), port.name))
            else:
                names.add(port.name)
        if port.containerPort == 0:
            errs.append(required(child(p, "containerPort"), ""))
        else:
            errs += messages(
                child(p, "containerPort"), port.containerPort, is_valid_port_num(port.containerPort)
            )
        if port.hostPort != 0:
            errs += messages(child(p, "hostPort"), port.hostPort, is_valid_port_num(port.hostPort))
        if not port.protocol:
            errs.append(required(child(p, "protocol"), ""))
        elif port.protocol not in PROTOCOLS:
            errs.append(not_supported(child(p, "protocol"), port.protocol, PROTOCOLS))
        if port.hostIP and not is_valid_ip(port.hostIP):
            errs += validate_ip(port.hostIP, child(p, "hostIP"))
    return errs


def _object_field_selector(ref: Any, allowed: list[str], path: str) -> list[FieldError]:
    if not ref.apiVersion:
        return [required(child(path, "apiVersion"), "")]
    if not ref.fieldPath:
        return [required(child(path, "fieldPath"), "")]
    fp = ref.fieldPath
    if fp.endswith("]") and "[" in fp:
        base, _, sub = fp[:-1].partition("[")
        sub = sub.strip("'")
        if base == "metadata.annotations":
            return messages(path, sub.lower(), is_qualified_name(sub.lower()))
        if base == "metadata.labels":
            return messages(path, sub, is_qualified_name(sub))
        return [invalid_value(path, base, "does not support subscript")]
    if fp not in allowed:
        return [not_supported(child(path, "fieldPath"), fp, sorted(allowed))]
    return []


def _resource_field_selector(ref: Any, path: str, volume: bool = False) -> list[FieldError]:
    if volume and not ref.containerName:
        return [required(child(path, "containerName"), "")]
    if not ref.resource:
        return [required(child(path, "resource"), "")]
    if ref.resource not in _RESOURCE_FIELD_PATHS and not ref.resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        return [not_supported(child(path, "resource"), ref.resource, _RESOURCE_FIELD_PATHS)]
    return []


def _key_selector(ref: Any, path: str) -> list[FieldError]:
    errs = messages(child(path, "name"), ref.name, name_is_dns_subdomain(ref.name, False))
    if not ref.key:
        errs.append(required(child(path, "key"), ""))
    else:
        errs += messages(child(path, "key"), ref.key, is_config_map_key(ref.key))
    return errs


def validate_env(env: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ev in enumerate(env):
        p = index(path, i)
        if not ev.name:
            errs.append(required(child(p, "name"), ""))
        else:
            errs += messages(child(p, "name"), ev.name, is_env_var_name(ev.name))
        src = ev.valueFrom
        if src is None:
            continue
        vp = child(p, "valueFrom")
        n = 0
        if src.fieldRef is not None:
            n += 1
            errs += _object_field_selector(src.fieldRef, _ENV_FIELD_PATHS, child(vp, "fieldRef"))
        if src.resourceFieldRef is not None:
            n += 1
            errs += _resource_field_selector(src.resourceFieldRef, child(vp, "resourceFieldRef"))
        if src.configMapKeyRef is not None:
            n += 1
            errs += _key_selector(src.configMapKeyRef, child(vp, "configMapKeyRef"))
        if src.secretKeyRef is not None:
            n += 1
            errs += _key_selector(src.secretKeyRef, child(vp, "secretKeyRef"))
        if getattr(src, "fileKeyRef", None) is not None:
            n += 1
        if n == 0:
            errs.append(
                invalid_value(
                    vp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif ev.value:
            errs.append(invalid_value(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            errs.append(invalid_value(vp, "", "may not have more than one field specified at a time"))
    return errs


def validate_env_from(sources: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ev in enumerate(sources):
        p = index(path, i)
        if ev.prefix:
            errs += messages(child(p, "prefix"), ev.prefix, is_env_var_name(ev.prefix))
        n = 0
        for attr in ("configMapRef", "secretRef"):
            ref = getattr(ev, attr)
            if ref is not None:
                n += 1
                if not ref.name:
                    errs.append(required(child(p, attr, "name"), ""))
                else:
                    errs += messages(child(p, attr, "name"), ref.name, name_is_dns_subdomain(ref.name, True))
        if n == 0:
            errs.append(invalid_value(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(invalid_value(path, "", "may not have more than one field specified at a time"))
    return errs


def validate_volume_mounts(mounts: list[Any], volumes: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_points: set[str] = set()
    for i, m in enumerate(mounts):
        p = index(path, i)
        if not m.name:
            errs.append(required(child(p, "name"), ""))
        if m.name not in volumes:
            errs.append(not_found(child(p, "name"), m.name))
        if not m.mountPath:
            errs.append(required(child(p, "mountPath"), ""))
        if m.mountPath in mount_points:
            errs.append(invalid_value(child(p, "mountPath"), m.mountPath, "must be unique"))
        mount_points.add(m.mountPath)
        if m.subPath:
            errs += _subpath(m.subPath, child(path, "subPath"))
        if m.subPathExpr:
            if m.subPath:
                errs.append(
                    invalid_value(
                        child(p, "subPathExpr"),
                        m.subPathExpr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            errs += _subpath(m.subPathExpr, child(path, "subPathExpr"))
        if m.mountPropagation is not None and m.mountPropagation not in (
            "None",
            "HostToContainer",
            "Bidirectional",
        ):
            errs.append(
                not_supported(
                    child(path, "mountPropagation"),
                    m.mountPropagation,
                    ["Bidirectional", "HostToContainer", "None"],
                )
            )
    return errs


def _subpath(value: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if value.startswith("/"):
        errs.append(invalid_value(path, value, "must be a relative path"))
    if ".." in value.split("/"):
        errs.append(invalid_value(path, value, "must not contain '..'"))
    return errs


def _is_native_resource(name: str) -> bool:
    return "/" not in name or name.startswith("kubernetes.io/") or ".kubernetes.io/" in name.split("/")[0]


def _overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not name.startswith("hugepages-")


def _container_resource_name(name: str, path: str) -> list[FieldError]:
    msgs = is_qualified_name(name)
    if msgs:
        return messages(path, name, msgs)
    if "/" not in name and name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        return [invalid_value(path, name, "must be a standard resource for containers")]
    return []


def validate_resource_requirements(
    res: Any, path: str, name_fn: Any = _container_resource_name
) -> list[FieldError]:
    errs: list[FieldError] = []
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    for name, q in res.limits.items():
        p = key(lim_path, name)
        errs += name_fn(name, p)
        errs += _quantity_value(name, q, p)
    for name, q in res.requests.items():
        p = key(req_path, name)
        errs += name_fn(name, p)
        errs += _quantity_value(name, q, p)
        if name in res.limits:
            req_v, lim_v = _nanos(q), _nanos(res.limits[name])
            if req_v is None or lim_v is None:
                continue
            if req_v != lim_v and not _overcommit_allowed(name):
                lim = quantity_string(res.limits[name])
                errs.append(
                    invalid_value(req_path, quantity_string(q), f"must be equal to {name} limit of {lim}")
                )
            elif req_v > lim_v:
                lim = quantity_string(res.limits[name])
                errs.append(
                    invalid_value(
                        req_path, quantity_string(q), f"must be less than or equal to {name} limit of {lim}"
                    )
                )
        elif not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


def _nanos(q: Any) -> int | None:
    """The exact value of a quantity in nano units (``quantity_value`` without fractions), or None."""
    if isinstance(q, Quantity):
        return q.nanos
    try:
        return parse_quantity(q).nanos
    except (ValueError, TypeError):
        return None


def _quantity_value(name: str, q: Any, path: str) -> list[FieldError]:
    errs = validate_quantity(q, path)
    if errs:
        return errs
    value = _nanos(q)
    if value is not None and value < 0:
        return [invalid_value(path, quantity_string(q), "must be greater than or equal to 0")]
    if value is not None and not _is_native_resource(name) and value % _NANO_PER_UNIT != 0:
        return [invalid_value(path, quantity_string(q), "must be an integer")]
    return []


def _validate_handler(h: Any, path: str, grace: int | None, kinds: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    n = 0
    for kind in kinds:
        action = getattr(h, kind, None)
        if action is None:
            continue
        if n > 0:
            errs.append(forbidden(child(path, kind), "may not specify more than 1 handler type"))
            continue
        n += 1
        p = child(path, kind)
        if kind == "exec":
            if not action.command:
                errs.append(required(child(p, "command"), ""))
        elif kind == "httpGet":
            if not action.path:
                errs.append(required(child(p, "path"), ""))
            errs += _port_num_or_name(action.port, child(p, "port"))
            if action.scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(child(p, "scheme"), action.scheme, ["HTTP", "HTTPS"]))
            for header in action.httpHeaders:
                errs += messages(child(p, "httpHeaders"), header.name, is_http_header_name(header.name))
        elif kind == "tcpSocket":
            errs += _port_num_or_name(action.port, child(p, "port"))
        elif kind == "grpc":
            errs += _port_num_or_name(action.port, child(p, "port"))
        elif kind == "sleep":
            if grace is not None and (action.seconds <= 0 or action.seconds > grace):
                errs.append(
                    invalid_value(
                        p,
                        action.seconds,
                        f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). "
                        "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
                    )
                )
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: Any, path: str, grace: int | None) -> list[FieldError]:
    errs = _validate_handler(probe, path, grace, ("exec", "httpGet", "tcpSocket", "grpc"))
    for name in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs += nonnegative(getattr(probe, name), child(path, name))
    if probe.terminationGracePeriodSeconds is not None and probe.terminationGracePeriodSeconds <= 0:
        errs.append(
            invalid_value(
                child(path, "terminationGracePeriodSeconds"),
                probe.terminationGracePeriodSeconds,
                "must be greater than 0",
            )
        )
    return errs


def _validate_probes(c: Any, path: str, grace: int | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if c.lifecycle is not None:
        for hook in ("postStart", "preStop"):
            h = getattr(c.lifecycle, hook)
            if h is not None:
                errs += _validate_handler(
                    h, child(path, "lifecycle", hook), grace, ("exec", "httpGet", "tcpSocket", "sleep")
                )
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = getattr(c, name)
        if probe is None:
            continue
        p = child(path, name)
        errs += _validate_probe(probe, p, grace)
        if name != "readinessProbe" and probe.successThreshold != 1:
            errs.append(invalid_value(child(p, "successThreshold"), probe.successThreshold, "must be 1"))
        if name == "readinessProbe" and probe.terminationGracePeriodSeconds is not None:
            errs.append(
                invalid_value(
                    child(p, "terminationGracePeriodSeconds"),
                    probe.terminationGracePeriodSeconds,
                    "must not be set for readinessProbes",
                )
            )
    return errs


def _validate_security_context(sc: Any, path: str) -> list[FieldError]:
    if sc is None:
        return []
    errs: list[FieldError] = []
    for name in ("runAsUser", "runAsGroup"):
        v = getattr(sc, name, None)
        if v is not None and not 0 <= v <= MAX_INT32:
            errs.append(invalid_value(child(path, name), v, inclusive_range_error(0, MAX_INT32)))
    if getattr(sc, "privileged", None) and getattr(sc, "allowPrivilegeEscalation", None) is False:
        errs.append(
            invalid_value(
                path,
                msgspec.to_builtins(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        )
    return errs


def _validate_container_common(c: Any, volumes: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not c.name:
        errs.append(required(child(path, "name"), ""))
    else:
        errs += messages(child(path, "name"), c.name, is_dns1123_label(c.name))
    if not c.image:
        errs.append(required(child(path, "image"), ""))
    errs += one_of(
        c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES, child(path, "terminationMessagePolicy")
    )
    errs += validate_container_ports(c.ports, child(path, "ports"))
    errs += validate_env(c.env, child(path, "env"))
    errs += validate_env_from(c.envFrom, child(path, "envFrom"))
    errs += validate_volume_mounts(c.volumeMounts, volumes, child(path, "volumeMounts"))
    errs += one_of(c.imagePullPolicy, PULL_POLICIES, child(path, "imagePullPolicy"))
    errs += validate_resource_requirements(c.resources, child(path, "resources"))
    errs += _validate_security_context(c.securityContext, child(path, "securityContext"))
    return errs


def _host_port_conflicts(containers: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.ports):
            if port.hostPort == 0:
                continue
            k = f"{port.protocol}/{port.hostIP}/{port.hostPort}"
            if k in seen:
                errs.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), k))
            seen.add(k)
    return errs


def validate_containers(
    containers: list[Any], volumes: dict[str, Any], path: str, grace: int | None
) -> list[FieldError]:
    if not containers:
        return [required(path, "")]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, c in enumerate(containers):
        p = index(path, i)
        errs += _validate_container_common(c, volumes, p)
        if c.name in names:
            errs.append(duplicate(child(p, "name"), c.name))
        else:
            names.add(c.name)
        errs += _validate_probes(c, p, grace)
        if c.restartPolicy is not None:
            errs.append(forbidden(child(p, "restartPolicy"), "may not be set for non-init containers"))
    errs += _host_port_conflicts(containers, path)
    return errs


def validate_init_containers(
    inits: list[Any], regular: list[Any], volumes: dict[str, Any], path: str, grace: int | None
) -> list[FieldError]:
    errs: list[FieldError] = []
    names = {c.name for c in regular}
    for i, c in enumerate(inits):
        p = index(path, i)
        errs += _validate_container_common(c, volumes, p)
        restart_always = False
        if c.restartPolicy is not None:
            if c.restartPolicy != "Always":
                errs.append(not_supported(child(p, "restartPolicy"), c.restartPolicy, ["Always"]))
            restart_always = c.restartPolicy == "Always"
        if c.name in names:
            errs.append(duplicate(child(p, "name"), c.name))
        elif c.name:
            names.add(c.name)
        errs += _host_port_conflicts([c], path)
        if restart_always:
            errs += _validate_probes(c, p, grace)
        else:
            for attr in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if getattr(c, attr) is not None:
                    errs.append(
                        forbidden(
                            child(p, attr), "may not be set for init containers without restartPolicy=Always"
                        )
                    )
    return errs


# -- pod spec --------------------------------------------------------------------------


def validate_tolerations(tolerations: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations):
        p = index(path, i)
        if t.key:
            errs += validate_label_name(t.key, child(p, "key"))
        if not t.key and t.operator != "Exists":
            errs.append(
                invalid_value(
                    child(p, "operator"),
                    t.operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.tolerationSeconds is not None and t.effect != "NoExecute":
            errs.append(
                invalid_value(
                    child(p, "effect"), t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if t.operator in ("Equal", ""):
            msgs = is_label_value(t.value)
            if msgs:
                errs.append(invalid_value(child(p, "operator"), t.value, ";".join(msgs)))
        elif t.operator == "Exists":
            if t.value:
                errs.append(
                    invalid_value(
                        child(p, "operator"), t.value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errs.append(not_supported(child(p, "operator"), t.operator, ["Equal", "Exists"]))
        if t.effect and t.effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(p, "effect"), t.effect, TAINT_EFFECTS))
    return errs


def validate_pod_spec(spec: Any, path: str, is_pod: bool = False) -> list[FieldError]:
    """Errors in a pod spec (of a pod when ``is_pod``, else of a template) at ``path``.

    The answer depends on the spec alone, and the pods of one workload share
    their spec: it is remembered per encoded spec, which costs a tenth of the
    checks (each pod create and update runs them).
    """
    if not isinstance(spec, msgspec.Struct):
        return _validate_pod_spec(spec, path, is_pod)
    return list(_pod_spec_errors(type(spec), msgspec.json.encode(spec), path, is_pod))


@functools.lru_cache(maxsize=256)
def _pod_spec_errors(cls: type, encoded: bytes, path: str, is_pod: bool) -> tuple[FieldError, ...]:
    # Checked on the spec decoded from its encoding: the same values as the caller's.
    return tuple(_validate_pod_spec(msgspec.json.decode(encoded, type=cls), path, is_pod))


def _validate_pod_spec(spec: Any, path: str, is_pod: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.terminationGracePeriodSeconds is None:
        errs.append(required(child(path, "terminationGracePeriodSeconds"), ""))
    grace = spec.terminationGracePeriodSeconds
    volumes, verrs = validate_volumes(spec.volumes, child(path, "volumes"))
    errs += verrs
    errs += validate_containers(spec.containers, volumes, child(path, "containers"), grace)
    errs += validate_init_containers(
        spec.initContainers, spec.containers, volumes, child(path, "initContainers"), grace
    )
    if spec.hostNetwork:
        for ci, c in enumerate(spec.containers):
            for pi, port in enumerate(c.ports):
                if (is_pod or port.hostPort != 0) and port.hostPort != port.containerPort:
                    p = child(index(child(index(child(path, "containers"), ci), "ports"), pi), "hostPort")
                    errs.append(
                        invalid_value(
                            p, port.hostPort, "must match `containerPort` when `hostNetwork` is true"
                        )
                    )
    errs += one_of(spec.restartPolicy, RESTART_POLICIES, child(path, "restartPolicy"))
    errs += one_of(spec.dnsPolicy, DNS_POLICIES, child(path, "dnsPolicy"))
    errs += validate_labels(spec.nodeSelector, child(path, "nodeSelector"))
    sc = spec.securityContext
    if sc is not None:
        sp = child(path, "securityContext")
        for name in ("runAsUser", "runAsGroup", "fsGroup"):
            v = getattr(sc, name)
            if v is not None and not 0 <= v <= MAX_INT32:
                errs.append(invalid_value(child(sp, name), v, inclusive_range_error(0, MAX_INT32)))
        for g, gid in enumerate(sc.supplementalGroups):
            if not 0 <= gid <= MAX_INT32:
                errs.append(
                    invalid_value(
                        index(child(sp, "supplementalGroups"), g), gid, inclusive_range_error(0, MAX_INT32)
                    )
                )
    if sc is not None and spec.shareProcessNamespace and spec.hostPID:
        errs.append(
            invalid_value(
                child(path, "securityContext", "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    for i, ref in enumerate(spec.imagePullSecrets):
        if not ref.name:
            errs.append(invalid_value(index(child(path, "imagePullSecrets"), i), {}, "only name may be set"))
    errs += _validate_affinity(spec.affinity, child(path, "affinity"))
    errs += _validate_dns_config(spec, child(path, "dnsConfig"))
    for i, gate in enumerate(spec.readinessGates):
        errs += messages(
            child(index(child(path, "readinessGates"), i), "conditionType"),
            gate.conditionType,
            is_qualified_name(gate.conditionType),
        )
    seen_gates: set[str] = set()
    for i, gate in enumerate(spec.schedulingGates):
        gp = index(child(path, "schedulingGates"), i)
        errs += messages(gp, gate.name, is_qualified_name(gate.name))
        if gate.name in seen_gates:
            errs.append(duplicate(gp, gate.name))
        seen_gates.add(gate.name)
    errs += _validate_topology_spread(
        spec.topologySpreadConstraints, child(path, "topologySpreadConstraints")
    )
    if spec.serviceAccountName:
        errs += messages(
            child(path, "serviceAccountName"),
            spec.serviceAccountName,
            name_is_dns_subdomain(spec.serviceAccountName, False),
        )
    if spec.nodeName:
        errs += messages(child(path, "nodeName"), spec.nodeName, name_is_dns_subdomain(spec.nodeName, False))
    if spec.activeDeadlineSeconds is not None and not 1 <= spec.activeDeadlineSeconds <= MAX_INT32:
        errs.append(
            invalid_value(
                child(path, "activeDeadlineSeconds"),
                spec.activeDeadlineSeconds,
                inclusive_range_error(1, MAX_INT32),
            )
        )
    if spec.hostname:
        errs += messages(child(path, "hostname"), spec.hostname, is_dns1123_label(spec.hostname))
    if spec.subdomain:
        errs += messages(child(path, "subdomain"), spec.subdomain, is_dns1123_label(spec.subdomain))
    errs += validate_tolerations(spec.tolerations, child(path, "tolerations"))
    for i, alias in enumerate(spec.hostAliases):
        ap = index(child(path, "hostAliases"), i)
        errs += validate_ip(alias.ip, child(ap, "ip"))
        for j, host in enumerate(alias.hostnames):
            errs += messages(index(child(ap, "hostnames"), j), host, is_dns1123_subdomain(host))
    if spec.priorityClassName:
        errs += messages(
            child(path, "priorityClassName"),
            spec.priorityClassName,
            name_is_dns_subdomain(spec.priorityClassName, False),
        )
    if spec.runtimeClassName is not None:
        errs += messages(
            child(path, "runtimeClassName"),
            spec.runtimeClassName,
            name_is_dns_subdomain(spec.runtimeClassName, False),
        )
    if spec.preemptionPolicy is not None:
        errs += one_of(
            spec.preemptionPolicy, ["PreemptLowerPriority", "Never"], child(path, "preemptionPolicy")
        )
    for name, q in spec.overhead.items():
        errs += validate_quantity(q, key(child(path, "overhead"), name))
    if spec.os is not None and spec.os.name not in ("linux", "windows"):
        errs.append(not_supported(child(path, "os", "name"), spec.os.name, ["linux", "windows"]))
    return errs


def _validate_dns_config(spec: Any, path: str) -> list[FieldError]:
    cfg = spec.dnsConfig
    if spec.dnsPolicy == "None":
        if cfg is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not cfg.nameservers:
            return [
                required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if cfg is None:
        return []
    errs: list[FieldError] = []
    if len(cfg.nameservers) > 3:
        errs.append(
            invalid_value(
                child(path, "nameservers"), cfg.nameservers, "must not have more than 3 nameservers"
            )
        )
    for i, ns in enumerate(cfg.nameservers):
        errs += validate_ip(ns, index(child(path, "nameservers"), i))
    if len(cfg.searches) > 32:
        errs.append(
            invalid_value(child(path, "searches"), cfg.searches, "must not have more than 32 search paths")
        )
    for i, search in enumerate(cfg.searches):
        s = search.removesuffix(".")
        errs += messages(index(child(path, "searches"), i), s, is_dns1123_subdomain(s))
    for i, opt in enumerate(cfg.options):
        if not opt.name:
            errs.append(required(index(child(path, "options"), i), "must not be empty"))
    return errs


def _validate_affinity(aff: Any, path: str) -> list[FieldError]:
    if aff is None:
        return []
    errs: list[FieldError] = []
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = getattr(aff, kind, None)
        if pa is None:
            continue
        kp = child(path, kind)
        for i, term in enumerate(pa.requiredDuringSchedulingIgnoredDuringExecution):
            errs += _pod_affinity_term(
                term, index(child(kp, "requiredDuringSchedulingIgnoredDuringExecution"), i)
            )
        for i, wterm in enumerate(pa.preferredDuringSchedulingIgnoredDuringExecution):
            wp = index(child(kp, "preferredDuringSchedulingIgnoredDuringExecution"), i)
            if not 1 <= wterm.weight <= 100:
                errs.append(invalid_value(child(wp, "weight"), wterm.weight, inclusive_range_error(1, 100)))
            errs += _pod_affinity_term(wterm.podAffinityTerm, child(wp, "podAffinityTerm"))
    na = getattr(aff, "nodeAffinity", None)
    if na is not None:
        np_ = child(path, "nodeAffinity")
        req = na.requiredDuringSchedulingIgnoredDuringExecution
        if req is not None:
            rp = child(np_, "requiredDuringSchedulingIgnoredDuringExecution")
            if not req.nodeSelectorTerms:
                errs.append(
                    required(child(rp, "nodeSelectorTerms"), "must have at least one node selector term")
                )
            for i, term in enumerate(req.nodeSelectorTerms):
                errs += _node_selector_term(term, index(child(rp, "nodeSelectorTerms"), i))
        for i, pref in enumerate(na.preferredDuringSchedulingIgnoredDuringExecution):
            pp = index(child(np_, "preferredDuringSchedulingIgnoredDuringExecution"), i)
            if not 1 <= pref.weight <= 100:
                errs.append(invalid_value(child(pp, "weight"), pref.weight, inclusive_range_error(1, 100)))
            errs += _node_selector_term(pref.preference, child(pp, "preference"))
    return errs


def _node_selector_term(term: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, req in enumerate(term.matchExpressions):
        rp = index(child(path, "matchExpressions"), i)
        errs += validate_label_name(req.key, child(rp, "key"))
        op = req.operator
        if op in ("In", "NotIn"):
            if not req.values:
                errs.append(
                    required(child(rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if req.values:
                errs.append(
                    forbidden(
                        child(rp, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        elif op in ("Gt", "Lt"):
            if len(req.values) != 1:
                errs.append(
                    required(
                        child(rp, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"
                    )
                )
        else:
            errs.append(invalid_value(child(rp, "operator"), op, "not a valid selector operator"))
    return errs


def _pod_affinity_term(term: Any, path: str) -> list[FieldError]:
    errs = validate_label_selector(term.labelSelector, child(path, "labelSelector"))
    errs += validate_label_selector(term.namespaceSelector, child(path, "namespaceSelector"))
    for i, ns in enumerate(term.namespaces):
        errs += messages(index(child(path, "namespaces"), i), ns, is_dns1123_label(ns))
    if not term.topologyKey:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    else:
        errs += validate_label_name(term.topologyKey, child(path, "topologyKey"))
    return errs


def _validate_topology_spread(constraints: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        p = index(path, i)
        if c.maxSkew <= 0:
            errs.append(invalid_value(child(p, "maxSkew"), c.maxSkew, "must be greater than zero"))
        if not c.topologyKey:
            errs.append(required(child(p, "topologyKey"), "can not be empty"))
        else:
            errs += validate_label_name(c.topologyKey, child(p, "topologyKey"))
        if c.whenUnsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                not_supported(
                    child(p, "whenUnsatisfiable"), c.whenUnsatisfiable, ["DoNotSchedule", "ScheduleAnyway"]
                )
            )
        pair = (c.topologyKey, c.whenUnsatisfiable)
        if pair in seen:
            errs.append(
                duplicate(
                    child(p, "{topologyKey, whenUnsatisfiable}"), f"{c.topologyKey}, {c.whenUnsatisfiable}"
                )
            )
        seen.add(pair)
        errs += validate_label_selector(c.labelSelector, child(p, "labelSelector"))
    return errs


def validate_pod_template_spec(tmpl: Any, path: str) -> list[FieldError]:
    """A PodTemplateSpec embedded in a workload (labels at ``<path>.labels``, as Kubernetes reports them)."""
    errs = validate_labels(tmpl.metadata.labels, child(path, "labels"))
    errs += validate_annotations(tmpl.metadata.annotations, child(path, "annotations"))
    errs += validate_pod_spec(tmpl.spec, child(path, "spec"))
    if tmpl.spec.ephemeralContainers:
        errs.append(
            forbidden(
                child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"
            )
        )
    return errs


# -- pods --------------------------------------------------------------------------------

UPDATABLE_POD_SPEC_FIELDS = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ]
)


def validate_pod(pod: Any) -> list[FieldError]:
    """Everything about a Pod but its metadata (the caller validates ObjectMeta)."""
    errs = validate_pod_spec(pod.spec, "spec", is_pod=True)
    if not pod.spec.serviceAccountName:
        for vi, vol in enumerate(pod.spec.volumes):
            if vol.projected is None:
                continue
            for si, src in enumerate(vol.projected.sources):
                if src.serviceAccountToken is not None:
                    p = f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                    errs.append(forbidden(p, "must not be specified when serviceAccountName is not set"))
    for field in ("containers", "initContainers"):
        for i, c in enumerate(getattr(pod.spec, field)):
            if c.image != c.image.strip():
                errs.append(
                    invalid_value(
                        f"spec.{field}[{i}].image", c.image, "must not have leading or trailing whitespace"
                    )
                )
    return errs


def validate_pod_create(pod: Any) -> list[FieldError]:
    errs = validate_pod(pod)
    if pod.spec.ephemeralContainers:
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if pod.spec.nodeName and pod.spec.schedulingGates:
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


def _container_updates(new: list[Any], old: list[Any], path: str) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, c in enumerate(new):
        if not c.image:
            errs.append(required(child(index(path, i), "image"), ""))
        if c.image.strip() != c.image:
            errs.append(
                invalid_value(
                    child(index(path, i), "image"), c.image, "must not have leading or trailing whitespace"
                )
            )
    return errs, False


def _tolerations_only_added(new: list[Any], old: list[Any], path: str) -> list[FieldError]:
    for o in old:
        found = any(msgspec.structs.replace(o, tolerationSeconds=n.tolerationSeconds) == n for n in new)
        if not found:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return []


def validate_pod_update(new: Any, old: Any) -> list[FieldError]:
    """The spec part of ValidatePodUpdate (metadata is the caller's)."""
    errs = validate_pod(new)
    cerrs, stop = _container_updates(new.spec.containers, old.spec.containers, "spec.containers")
    errs += cerrs
    if stop:
        return errs
    cerrs, stop = _container_updates(new.spec.initContainers, old.spec.initContainers, "spec.initContainers")
    errs += cerrs
    if stop:
        return errs
    new_ads, old_ads = new.spec.activeDeadlineSeconds, old.spec.activeDeadlineSeconds
    if new_ads is not None:
        if not 0 <= new_ads <= MAX_INT32:
            errs.append(
                invalid_value("spec.activeDeadlineSeconds", new_ads, inclusive_range_error(0, MAX_INT32))
            )
            return errs
        if old_ads is not None and old_ads < new_ads:
            errs.append(
                invalid_value(
                    "spec.activeDeadlineSeconds", new_ads, "must be less than or equal to previous value"
                )
            )
            return errs
    elif old_ads is not None:
        errs.append(
            invalid_value(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    errs += _tolerations_only_added(new.spec.tolerations, old.spec.tolerations, "spec.tolerations")
    old_gates = {g.name for g in old.spec.schedulingGates}
    for i, gate in enumerate(new.spec.schedulingGates):
        if gate.name not in old_gates:
            errs.append(
                forbidden(
                    f"spec.schedulingGates[{i}].name",
                    f"only deletion is allowed, but found new scheduling gate '{gate.name}'",
                )
            )
    if new.spec == old.spec:
        return errs
    munged = msgspec.structs.replace(
        new.spec,
        containers=[
            msgspec.structs.replace(c, image=o.image)
            for c, o in zip(new.spec.containers, old.spec.containers, strict=True)
        ],
        initContainers=[
            msgspec.structs.replace(c, image=o.image)
            for c, o in zip(new.spec.initContainers, old.spec.initContainers, strict=True)
        ],
        activeDeadlineSeconds=old.spec.activeDeadlineSeconds,
        schedulingGates=old.spec.schedulingGates,
        tolerations=old.spec.tolerations,
    )
    old_grace = old.spec.terminationGracePeriodSeconds
    if old_grace is not None and old_grace < 0 and munged.terminationGracePeriodSeconds == 1:
        munged = msgspec.structs.replace(munged, terminationGracePeriodSeconds=old_grace)
    if old.spec.schedulingGates:
        # A gated pod may still gain node selectors and node affinity.
        munged = msgspec.structs.replace(
            munged, nodeSelector=old.spec.nodeSelector, affinity=old.spec.affinity
        )
    if munged != old.spec:
        errs.append(
            forbidden(
                "spec",
                f"pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{_spec_diff(old.spec, munged)}",
            )
        )
    return errs


def _spec_diff(old: Any, new: Any) -> str:
    """A short, readable account of which spec fields differ (Kubernetes prints a Go diff here)."""
    a, b = msgspec.to_builtins(old), msgspec.to_builtins(new)
    lines = ["  core.PodSpec{"]
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            lines.append(f"-\t{k}: {_short(a.get(k))},")
            lines.append(f"+\t{k}: {_short(b.get(k))},")
    lines.append("  }")
    return "\n".join(lines)


def _short(value: Any) -> str:
    import orjson

    text = orjson.dumps(value).decode() if value is not None else "nil"
    return text if len(text) <= 200 else text[:197] + "..."


def validate_pod_status_update(new: Any, old: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if new.spec.nodeName != old.spec.nodeName:
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    if new.status.nominatedNodeName and new.status.nominatedNodeName != old.status.nominatedNodeName:
        errs += messages(
            "status.nominatedNodeName",
            new.status.nominatedNodeName,
            name_is_dns_subdomain(new.status.nominatedNodeName, False),
        )
    if old.status.qosClass and new.status.qosClass != old.status.qosClass:
        errs.append(invalid_value("status.qosClass", new.status.qosClass, "field is immutable"))
    system = {
        "PodScheduled",
        "Ready",
        "Initialized",
        "ContainersReady",
        "PodReadyToStartContainers",
        "DisruptionTarget",
    }
    for i, cond in enumerate(new.status.conditions):
        if cond.type not in system:
            errs += messages(f"metadata.conditions[{i}].Type", cond.type, is_qualified_name(cond.type))
    for i, pip in enumerate(new.status.podIPs):
        errs += validate_ip(pip.ip, f"status.podIPs[{i}]")
    for i, hip in enumerate(new.status.hostIPs):
        errs += validate_ip(hip.ip, f"status.hostIPs[{i}]")
    if new.status.hostIPs and new.status.hostIP != new.status.hostIPs[0].ip:
        errs.append(
            invalid_value("status.hostIPs[0].ip", new.status.hostIPs[0].ip, "must be equal to `hostIP`")
        )
    if old.spec.restartPolicy != "Always":
        new_by_name = {s.name: s for s in new.status.containerStatuses}
        for i, s in enumerate(old.status.containerStatuses):
            term = s.state.terminated if s.state is not None else None
            if term is None or (term.exitCode != 0 and old.spec.restartPolicy == "OnFailure"):
                continue
            ns = new_by_name.get(s.name)
            if ns is not None and (ns.state is None or ns.state.terminated is None):
                errs.append(
                    forbidden(
                        f"status.containerStatuses[{i}].state",
                        "may not be transitioned to non-terminated state",
                    )
                )
    return errs


__all__ = [
    "is_c_identifier",
    "validate_pod",
    "validate_pod_create",
    "validate_pod_spec",
    "validate_pod_status_update",
    "validate_pod_template_spec",
    "validate_pod_update",
    "validate_resource_requirements",
    "validate_tolerations",
]
