"""A container's environment and command line, resolved as the kubelet does.

Sources, in the order later ones override earlier ones: service link
variables (``FOO_SERVICE_HOST``/``FOO_PORT_80_TCP...`` of the namespace's
services when ``enableServiceLinks`` is on, and of the ``kubernetes``
service always), ``envFrom`` (ConfigMaps and Secrets with an optional
prefix), then ``env`` in order: literal values expanded with ``$(VAR)``
against what is defined so far (``$$`` escapes a dollar; unknown
references stay as written), ``valueFrom`` ConfigMap/Secret keys, the
downward API (``fieldRef``) and container resources (``resourceFieldRef``).
A missing required object or key is an ``EnvError``, which the pod worker
reports as ``CreateContainerConfigError``. Reads go through ``ObjectSource``
so tests can hand in objects without an API server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from kubelite.api.core_v1 import ConfigMap, Container, Pod, Secret, Service
from kubelite.api.quantity import parse_quantity

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_FIELD_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


class EnvError(Exception):
    """The environment cannot be built (a missing ConfigMap, Secret or key); the message says which."""


class ObjectSource(Protocol):
    """Reads of the objects environment variables and volumes refer to (None: not found)."""

    async def configmap(self, namespace: str, name: str) -> ConfigMap | None: ...
    async def secret(self, namespace: str, name: str) -> Secret | None: ...
    async def services(self, namespace: str) -> list[Service]: ...


# --------------------------------------------------------------------------- expansion


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: ``$$`` is a literal ``$``; an unknown or unclosed
    reference and a ``$`` before anything else are kept as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close < 0:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out.append(f"$({name})" if value is None else value)
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def expand_all(items: list[str], env: Mapping[str, str]) -> list[str]:
    return [expand(s, env.get) for s in items]


def resolve_argv(
    container: Container, env: Mapping[str, str], entrypoint: list[str], cmd: list[str]
) -> list[str]:
    """The argv to run: command/args (expanded) over the image's Entrypoint/Cmd, as Docker
    combines them: a command replaces the entrypoint and drops the image's Cmd."""
    command = expand_all(list(container.command), env)
    args = expand_all(list(container.args), env)
    if command:
        return command + args
    if args:
        return list(entrypoint) + args
    return list(entrypoint) + list(cmd)


# --------------------------------------------------------------------------- downward API


def _join_map(values: Mapping[str, str]) -> str:
    """Labels/annotations as a downward API file shows them: ``key="value"`` lines, sorted."""
    return "\n".join(f'{k}="{_quote(v)}"' for k, v in sorted(values.items()))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def pod_field(pod: Pod, path: str, *, whole_maps: bool = False) -> str:
    """The value of a downward API ``fieldRef`` (ValueError if the path is not supported)."""
    md = pod.metadata
    m = _FIELD_SUBSCRIPT.match(path)
    if m:
        source = md.labels if m.group(1) == "labels" else md.annotations
        return (source or {}).get(m.group(2), "")
    simple: dict[str, Callable[[], str]] = {
        "metadata.name": lambda: md.name,
        "metadata.namespace": lambda: md.namespace,
        "metadata.uid": lambda: md.uid,
        "spec.nodeName": lambda: pod.spec.nodeName,
        "spec.serviceAccountName": lambda: pod.spec.serviceAccountName or pod.spec.serviceAccount,
        "status.hostIP": lambda: pod.status.hostIP,
        "status.hostIPs": lambda: ",".join(h.ip for h in pod.status.hostIPs) or pod.status.hostIP,
        "status.podIP": lambda: pod.status.podIP,
        "status.podIPs": lambda: ",".join(p.ip for p in pod.status.podIPs) or pod.status.podIP,
    }
    if whole_maps:
        simple["metadata.labels"] = lambda: _join_map(md.labels or {})
        simple["metadata.annotations"] = lambda: _join_map(md.annotations or {})
    fn = simple.get(path)
    if fn is None:
        raise ValueError(f"unsupported fieldPath: {path}")
    return fn() or ""


def container_resource(
    pod: Pod, container_name: str, resource: str, divisor: str, node_allocatable: Mapping[str, str]
) -> str:
    """A ``resourceFieldRef`` value: the container's request or limit (a limit left unset is the
    node's allocatable amount), divided by ``divisor`` and rounded up."""
    container = _find_container(pod, container_name)
    if container is None:
        raise EnvError(f"container {container_name!r} not found in pod {pod.metadata.name}")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise EnvError(f"unsupported container resource: {resource}")
    res = container.resources
    source = (res.limits if kind == "limits" else res.requests) or {}
    text = source.get(name)
    if text is None and kind == "limits":
        text = node_allocatable.get(name)
    if text is None and kind == "requests" and name != "cpu":
        # As the kubelet: an unset memory/storage request reads as the limit (or allocatable).
        text = (res.limits or {}).get(name) or node_allocatable.get(name)
    value = parse_quantity(text or "0")
    div = parse_quantity(divisor or "1")
    if div.is_zero():
        div = parse_quantity("1")
    if name == "cpu":
        return str(math.ceil(value.milli_value() / div.milli_value())) if div.milli_value() else "0"
    return str(math.ceil(value.value() / div.value())) if div.value() else str(value.value())


def _find_container(pod: Pod, name: str) -> Container | None:
    for c in (*pod.spec.initContainers, *pod.spec.containers):
        if c.name == name:
            return c
    return None


# --------------------------------------------------------------------------- service links


def service_env(services: list[Service], namespace: str, enable_service_links: bool) -> dict[str, str]:
    """Docker-link style variables of the services a pod sees (the ``kubernetes`` service in
    ``default`` always; the pod's namespace's only with enableServiceLinks)."""
    chosen: dict[str, Service] = {}
    for svc in services:
        ip = svc.spec.clusterIP
        if not ip or ip == "None":
            continue
        ns, name = svc.metadata.namespace, svc.metadata.name
        if ns == namespace and enable_service_links:
            chosen[name] = svc
        elif ns == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
    env: dict[str, str] = {}
    for name in sorted(chosen):
        svc = chosen[name]
        prefix = name.upper().replace("-", "_")
        ip = svc.spec.clusterIP
        ports = svc.spec.ports
        env[f"{prefix}_SERVICE_HOST"] = ip
        if not ports:
            continue
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].port)
        for p in ports:
            if p.name:
                env[f"{prefix}_SERVICE_PORT_{p.name.upper().replace('-', '_')}"] = str(p.port)
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{(first.protocol or 'TCP').lower()}://{ip}:{first.port}"
        for p in ports:
            proto = (p.protocol or "TCP").upper()
            base = f"{prefix}_PORT_{p.port}_{proto}"
            env[base] = f"{proto.lower()}://{ip}:{p.port}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(p.port)
            env[f"{base}_ADDR"] = ip
    return env


# --------------------------------------------------------------------------- the resolver


async def _key_ref_value(
    kind: str,
    ref: Any,
    get: Callable[[str], Awaitable[Any]],
    values_of: Callable[[Any], dict[str, str]],
    ns: str,
) -> str | None:
    """The value a configMapKeyRef or secretKeyRef names; None when it is optional and missing."""
    obj = await get(ref.name)
    if obj is None:
        if ref.optional:
            return None
        raise EnvError(f'{kind.lower()} "{ref.name}" not found')
    values = values_of(obj)
    if ref.key not in values:
        if ref.optional:
            return None
        raise EnvError(f"couldn't find key {ref.key} in {kind} {ns}/{ref.name}")
    return values[ref.key]


def _configmap_values(cm: ConfigMap) -> dict[str, str]:
    values = dict(cm.data or {})
    for k, v in (cm.binaryData or {}).items():
        values.setdefault(k, v.decode("utf-8", "replace"))
    return values


def _secret_values(secret: Secret) -> dict[str, str]:
    values = {k: v.decode("utf-8", "replace") for k, v in (secret.data or {}).items()}
    values.update(secret.stringData or {})
    return values


async def resolve_env(
    pod: Pod,
    container: Container,
    source: ObjectSource,
    *,
    node_allocatable: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, str]:
    """The container's environment (see the module docstring); ``EnvError`` on a missing
    required object or key. Names from ``envFrom`` that are not valid variable names are
    skipped and listed in ``warnings`` (the kubelet's InvalidEnvironmentVariableNames)."""
    ns = pod.metadata.namespace
    allocatable = node_allocatable or {}
    enable_links = pod.spec.enableServiceLinks is not False
    services = await source.services(ns) if enable_links else []
    if ns != "default" or not enable_links:
        services = services + [s for s in await source.services("default") if s.metadata.name == "kubernetes"]
    env: dict[str, str] = service_env(services, ns, enable_links)
    service_vars = dict(env)
    env = {}

    configmaps: dict[str, ConfigMap | None] = {}
    secrets: dict[str, Secret | None] = {}

    async def get_cm(name: str) -> ConfigMap | None:
        if name not in configmaps:
            configmaps[name] = await source.configmap(ns, name)
        return configmaps[name]

    async def get_secret(name: str) -> Secret | None:
        if name not in secrets:
            secrets[name] = await source.secret(ns, name)
        return secrets[name]

    invalid: list[str] = []
    for ef in container.envFrom:
        values: dict[str, str]
        if ef.configMapRef is not None:
            cm = await get_cm(ef.configMapRef.name)
            if cm is None:
                if ef.configMapRef.optional:
                    continue
                raise EnvError(f'configmap "{ef.configMapRef.name}" not found')
            values = _configmap_values(cm)
        elif ef.secretRef is not None:
            secret = await get_secret(ef.secretRef.name)
            if secret is None:
                if ef.secretRef.optional:
                    continue
                raise EnvError(f'secret "{ef.secretRef.name}" not found')
            values = _secret_values(secret)
        else:
            continue
        for k, v in values.items():
            key = (ef.prefix or "") + k
            if not _ENV_NAME.match(key):
                invalid.append(key)
                continue
            env[key] = v
    if invalid and warnings is not None:
        warnings.append(
            "Keys [" + ", ".join(sorted(invalid)) + "] from the EnvFrom configMap/secret "
            "were skipped since they are considered invalid environment variable names."
        )

    def lookup(name: str) -> str | None:
        if name in env:
            return env[name]
        return service_vars.get(name)

    for var in container.env:
        vf = var.valueFrom
        if vf is None:
            env[var.name] = expand(var.value, lookup)
            continue
        if vf.configMapKeyRef is not None or vf.secretKeyRef is not None:
            if vf.configMapKeyRef is not None:
                value = await _key_ref_value("ConfigMap", vf.configMapKeyRef, get_cm, _configmap_values, ns)
            else:
                value = await _key_ref_value("Secret", vf.secretKeyRef, get_secret, _secret_values, ns)
            if value is not None:
                env[var.name] = value
        elif vf.fieldRef is not None:
            try:
                env[var.name] = pod_field(pod, vf.fieldRef.fieldPath)
            except ValueError as e:
                raise EnvError(str(e)) from None
        elif vf.resourceFieldRef is not None:
            rf = vf.resourceFieldRef
            env[var.name] = container_resource(
                pod, rf.containerName or container.name, rf.resource, rf.divisor, allocatable
            )
    return {**service_vars, **env}


def image_env(entries: list[str] | None) -> dict[str, str]:
    """An image config's ``Env`` (``K=V`` strings) as a dict."""
    out: dict[str, str] = {}
    for entry in entries or []:
        k, sep, v = entry.partition("=")
        if k:
            out[k] = v if sep else ""
    return out


def merged_env(image: Mapping[str, str], container: Mapping[str, str]) -> dict[str, str]:
    """The image's environment overridden by the container's."""
    return {**image, **container}


def as_mapping(value: Any) -> dict[str, Any]:
    """An image config given as a dict or an object with attributes, as a dict."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return {
        k: getattr(value, k) for k in dir(value) if not k.startswith("_") and not callable(getattr(value, k))
    }
