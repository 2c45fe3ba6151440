"""Server-side tables: the ``meta.k8s.io`` Table answer kubectl's human output asks for.

kubectl's ``get`` (plain, ``-o wide``, ``-w``) sends ``Accept:
application/json;as=Table;v=v1;g=meta.k8s.io,...`` and prints the columns the
server returns. This module turns plain JSON objects into those tables, kind by
kind, with the columns and cell rules of Kubernetes' own printers, so that
``kubectl get pods`` reads the same against kubelite as against a real cluster.

Everything here is a pure function over dicts. As Kubernetes does, the server
always renders the wide cells; kubectl hides the columns whose ``priority`` is
above 0 unless asked for ``-o wide``. Kinds without a printer get Kubernetes'
default table (Name, Created At); custom resources get their CRD's
``additionalPrinterColumns`` (or Name, Age) through ``printer_columns``.

A watch answers one one-row Table per event; only the first carries
``columnDefinitions`` (``include_columns=False`` afterwards), the way the API
server saves bandwidth and kubectl reuses the header it already printed.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from kubelite.api.quantity import parse_quantity
from kubelite.api.selectors import selector_from_api
from kubelite.api.timestamps import parse_time, rfc3339
from kubelite.apiserver.codec import accept_clauses

TABLE_V1 = "meta.k8s.io/v1"
TABLE_V1BETA1 = "meta.k8s.io/v1beta1"
INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")

Obj = Mapping[str, Any]
CellsFn = Callable[[Obj, float], list[Any]]

# -- content negotiation ----------------------------------------------------------


def table_version(accept: str) -> str:
    """``meta.k8s.io/v1`` or ``meta.k8s.io/v1beta1`` when the first acceptable type asks
    for a Table in that version, else "" (answer the plain object or list).

    A Table clause of a version we do not serve, or in protobuf, is skipped like any
    media type we cannot produce; the first clause we can produce decides.
    """
    for media, params in accept_clauses(accept or ""):
        if media not in ("application/json", "application/*", "*/*"):
            if media == "application/vnd.kubernetes.protobuf" and "as" not in params:
                return ""
            continue
        target = params.get("as")
        if target is None:
            return ""
        if target == "Table" and params.get("g") == "meta.k8s.io":
            if params.get("v") == "v1":
                return TABLE_V1
            if params.get("v") == "v1beta1":
                return TABLE_V1BETA1
            continue
        if target == "Table":
            continue
        return ""  # another transformation (PartialObjectMetadata...): not ours
    return ""


def wants_table(accept: str) -> bool:
    """True when the Accept header's first acceptable type is a meta.k8s.io Table."""
    return bool(table_version(accept))


# -- time -------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: about two significant figures of a span.

    Up to a second of clock skew into the future reads as "0s"; more is "<invalid>".
    """
    whole = math.trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


# Every row of a list reads the same few timestamps (creation, conditions) again and again.
_parse_time = lru_cache(maxsize=4096)(parse_time)


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 API timestamp; None when unset or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_time(value)


def since(value: Any, now: float) -> str:
    """Age of an API timestamp as a human duration, "<unknown>" when it is unset."""
    ts = timestamp(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def _created_at(obj: Obj) -> str:
    ts = timestamp(_meta(obj).get("creationTimestamp"))
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return rfc3339(math.floor(ts))


# -- small readers ----------------------------------------------------------------


def _d(obj: Any, *path: str) -> Any:
    """obj[path...] through nested dicts, None where a step is missing."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _m(obj: Any, *path: str) -> Mapping[str, Any]:
    value = _d(obj, *path)
    return value if isinstance(value, Mapping) else {}


def _l(obj: Any, *path: str) -> list[Any]:
    value = _d(obj, *path)
    return value if isinstance(value, list) else []


def _s(obj: Any, *path: str) -> str:
    value = _d(obj, *path)
    return value if isinstance(value, str) else ""


def _i(obj: Any, *path: str, default: int = 0) -> int:
    value = _d(obj, *path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _meta(obj: Obj) -> Mapping[str, Any]:
    return _m(obj, "metadata")


def _name(obj: Obj) -> str:
    return _s(obj, "metadata", "name")


def _age(obj: Obj, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _format_labels(labels: Any) -> str:
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(selector: Any, on_error: str) -> str:
    try:
        return str(selector_from_api(selector if isinstance(selector, Mapping) else None))
    except ValueError:
        return on_error


def _format_label_selector(selector: Any) -> str:
    return _selector_string(selector, "<error>") or "<none>"


def _quantity(value: Any) -> str:
    if value is None:
        return "0"
    try:
        return str(parse_quantity(value))
    except (ValueError, TypeError):
        return str(value)


def _int_or_string(value: Any) -> str:
    return str(int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _bool_word(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _containers_cells(pod_spec: Any) -> list[str]:
    containers = _l(pod_spec, "containers")
    names = ",".join(_s(c, "name") for c in containers)
    images = ",".join(_s(c, "image") for c in containers)
    return [names, images]


def _list_with_more(items: list[str], total: int, limit: int, empty: str) -> str:
    text = ",".join(items)
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty


# -- pods -------------------------------------------------------------------------

_POD_SUCCEEDED_ROW = {
    "type": "Completed",
    "status": "True",
    "reason": "Succeeded",
    "message": "The pod has completed successfully.",
}
_POD_FAILED_ROW = {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}


def _is_sidecar(container: Any) -> bool:
    return isinstance(container, Mapping) and container.get("restartPolicy") == "Always"


def _later(current: float | None, status: Any) -> float | None:
    finished = timestamp(_d(status, "lastState", "terminated", "finishedAt"))
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _terminated_word(terminated: Mapping[str, Any]) -> str:
    reason = _s(terminated, "reason")
    if reason:
        return reason
    signal = _i(terminated, "signal")
    return f"Signal:{signal}" if signal else f"ExitCode:{_i(terminated, 'exitCode')}"


def _has_condition(status: Any, kind: str) -> bool:
    return any(_s(c, "type") == kind and _s(c, "status") == "True" for c in _l(status, "conditions"))


def pod_status(pod: Obj, now: float) -> tuple[str, str, str]:
    """The READY, STATUS and RESTARTS cells of a pod, as ``kubectl get pods`` shows them."""
    spec, status = _m(pod, "spec"), _m(pod, "status")
    init_specs = _l(spec, "initContainers")
    init_by_name = {_s(c, "name"): c for c in init_specs}
    total = len(_l(spec, "containers")) + sum(1 for c in init_specs if _is_sidecar(c))
    ready = 0
    phase = _s(status, "phase")
    reason = _s(status, "reason") or phase
    for condition in _l(status, "conditions"):
        if _s(condition, "type") == "PodScheduled" and _s(condition, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    initializing = False
    for index, cs in enumerate(_l(status, "initContainerStatuses")):
        count = _i(cs, "restartCount")
        restarts += count
        last_restart = _later(last_restart, cs)
        sidecar = _is_sidecar(init_by_name.get(_s(cs, "name")))
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, cs)
        terminated = _d(cs, "state", "terminated")
        waiting = _d(cs, "state", "waiting")
        if isinstance(terminated, Mapping) and _i(terminated, "exitCode") == 0:
            continue
        if sidecar and _d(cs, "started") is True:
            ready += 1 if _d(cs, "ready") is True else 0
            continue
        if isinstance(terminated, Mapping):
            reason = "Init:" + _terminated_word(terminated)
        elif _s(waiting, "reason") and _s(waiting, "reason") != "PodInitializing":
            reason = "Init:" + _s(waiting, "reason")
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(status, "Initialized"):
        # Once the pod is past its init phase, only sidecars' restarts still count.
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(_l(status, "containerStatuses")):
            restarts += _i(cs, "restartCount")
            last_restart = _later(last_restart, cs)
            terminated = _d(cs, "state", "terminated")
            if _s(cs, "state", "waiting", "reason"):
                reason = _s(cs, "state", "waiting", "reason")
            elif isinstance(terminated, Mapping):
                reason = _terminated_word(terminated)
            elif _d(cs, "ready") is True and isinstance(_d(cs, "state", "running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if _s(status, "reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_cell


def _pod_cells(pod: Obj, now: float) -> list[Any]:
    ready, reason, restarts = pod_status(pod, now)
    spec, status = _m(pod, "spec"), _m(pod, "status")
    ips = _l(status, "podIPs")
    ip = (_s(ips[0], "ip") if ips else _s(status, "podIP")) or "<none>"
    gates = _l(spec, "readinessGates")
    gates_cell = "<none>"
    if gates:
        conditions = _l(status, "conditions")
        passing = 0
        for gate in gates:
            wanted = _s(gate, "conditionType")
            match = next((c for c in conditions if _s(c, "type") == wanted), None)
            passing += 1 if match is not None and _s(match, "status") == "True" else 0
        gates_cell = f"{passing}/{len(gates)}"
    return [
        _name(pod),
        ready,
        reason,
        restarts,
        _age(pod, now),
        ip,
        _s(spec, "nodeName") or "<none>",
        _s(status, "nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _pod_row_conditions(pod: Obj) -> list[dict[str, str]] | None:
    phase = _s(pod, "status", "phase")
    if phase == "Succeeded":
        return [dict(_POD_SUCCEEDED_ROW)]
    if phase == "Failed":
        return [dict(_POD_FAILED_ROW)]
    return None


# -- workloads --------------------------------------------------------------------


def _replicas(obj: Obj) -> int:
    return _i(obj, "spec", "replicas", default=1)


def _deployment_cells(obj: Obj, now: float) -> list[Any]:
    status = _m(obj, "status")
    return [
        _name(obj),
        f"{_i(status, 'readyReplicas')}/{_replicas(obj)}",
        _i(status, "updatedReplicas"),
        _i(status, "availableReplicas"),
        _age(obj, now),
        *_containers_cells(_d(obj, "spec", "template", "spec")),
        _selector_string(_d(obj, "spec", "selector"), "<invalid>"),
    ]


def _replica_set_cells(obj: Obj, now: float) -> list[Any]:
    status = _m(obj, "status")
    return [
        _name(obj),
        _replicas(obj),
        _i(status, "replicas"),
        _i(status, "readyReplicas"),
        _age(obj, now),
        *_containers_cells(_d(obj, "spec", "template", "spec")),
        _format_label_selector(_d(obj, "spec", "selector")),
    ]


def _replication_controller_cells(obj: Obj, now: float) -> list[Any]:
    status = _m(obj, "status")
    return [
        _name(obj),
        _replicas(obj),
        _i(status, "replicas"),
        _i(status, "readyReplicas"),
        _age(obj, now),
        *_containers_cells(_d(obj, "spec", "template", "spec")),
        _format_labels(_d(obj, "spec", "selector")),
    ]


def _stateful_set_cells(obj: Obj, now: float) -> list[Any]:
    return [
        _name(obj),
        f"{_i(obj, 'status', 'readyReplicas')}/{_replicas(obj)}",
        _age(obj, now),
        *_containers_cells(_d(obj, "spec", "template", "spec")),
    ]


def _daemon_set_cells(obj: Obj, now: float) -> list[Any]:
    status = _m(obj, "status")
    return [
        _name(obj),
        _i(status, "desiredNumberScheduled"),
        _i(status, "currentNumberScheduled"),
        _i(status, "numberReady"),
        _i(status, "updatedNumberScheduled"),
        _i(status, "numberAvailable"),
        _format_labels(_d(obj, "spec", "template", "spec", "nodeSelector")),
        _age(obj, now),
        *_containers_cells(_d(obj, "spec", "template", "spec")),
        _format_label_selector(_d(obj, "spec", "selector")),
    ]


def _job_condition(obj: Obj, kind: str) -> bool:
    for condition in _l(obj, "status", "conditions"):
        if _s(condition, "type") == kind:
            return _s(condition, "status") == "True"
    return False


def _job_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    succeeded = _i(status, "succeeded")
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _i(spec, "parallelism") > 1:
        completions = f"{succeeded}/1 of {_i(spec, 'parallelism')}"
    else:
        completions = f"{succeeded}/1"
    started, completed = timestamp(status.get("startTime")), timestamp(status.get("completionTime"))
    duration = ""
    if started is not None:
        duration = human_duration((completed if completed is not None else now) - started)
    if _job_condition(obj, "Complete"):
        state = "Complete"
    elif _job_condition(obj, "Failed"):
        state = "Failed"
    elif _meta(obj).get("deletionTimestamp"):
        state = "Terminating"
    elif _job_condition(obj, "Suspended"):
        state = "Suspended"
    elif _job_condition(obj, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    return [
        _name(obj),
        state,
        completions,
        duration,
        _age(obj, now),
        *_containers_cells(_d(spec, "template", "spec")),
        _format_label_selector(spec.get("selector")),
    ]


def _cron_job_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    last = status.get("lastScheduleTime")
    return [
        _name(obj),
        _s(spec, "schedule"),
        spec.get("timeZone") if isinstance(spec.get("timeZone"), str) else "<none>",
        _bool_word(spec.get("suspend")),
        len(_l(status, "active")),
        since(last, now) if last else "<none>",
        _age(obj, now),
        *_containers_cells(_d(spec, "jobTemplate", "spec", "template", "spec")),
        _format_label_selector(_d(spec, "jobTemplate", "spec", "selector")),
    ]


def _controller_revision_cells(obj: Obj, now: float) -> list[Any]:
    owner = next((o for o in _l(obj, "metadata", "ownerReferences") if _d(o, "controller") is True), None)
    controller = "<none>"
    if owner is not None:
        group = _s(owner, "apiVersion").rpartition("/")[0] if "/" in _s(owner, "apiVersion") else ""
        kind = _s(owner, "kind")
        group_kind = f"{kind}.{group}" if group else kind
        controller = f"{group_kind.lower()}/{_s(owner, 'name')}" if group_kind else _s(owner, "name")
    return [_name(obj), controller, _i(obj, "revision"), _age(obj, now)]


def _pdb_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        _name(obj),
        "N/A" if min_available is None else _int_or_string(min_available),
        "N/A" if max_unavailable is None else _int_or_string(max_unavailable),
        _i(obj, "status", "disruptionsAllowed"),
        _age(obj, now),
    ]


def _pod_template_cells(obj: Obj, now: float) -> list[Any]:
    return [
        _name(obj),
        *_containers_cells(_d(obj, "template", "spec")),
        _format_labels(_d(obj, "template", "metadata", "labels")),
    ]


def _hpa_metrics(obj: Obj) -> str:
    specs = _l(obj, "spec", "metrics")
    statuses = _l(obj, "status", "currentMetrics")
    if not specs and isinstance(_d(obj, "spec", "targetCPUUtilizationPercentage"), int):
        # autoscaling/v1 keeps its single CPU target in its own fields.
        current = _d(obj, "status", "currentCPUUtilizationPercentage")
        shown = f"{current}%" if isinstance(current, int) else "<unknown>"
        return f"cpu: {shown}/{_d(obj, 'spec', 'targetCPUUtilizationPercentage')}%"
    if not specs:
        return "<none>"
    parts: list[str] = []

    def observed(i: int, source: str, *path: str) -> Any:
        if i < len(statuses) and isinstance(_d(statuses[i], source), Mapping):
            return _d(statuses[i], source, "current", *path)
        return None

    def q(value: Any) -> str:
        return "<nil>" if value is None else _quantity(value)

    for i, spec in enumerate(specs):
        kind = _s(spec, "type")
        if kind in ("External", "Object"):
            source = "external" if kind == "External" else "object"
            target = _m(spec, source, "target")
            if target.get("averageValue") is not None:
                current = observed(i, source, "averageValue")
                shown = "<unknown>" if current is None else _quantity(current)
                parts.append(f"{shown}/{_quantity(target['averageValue'])} (avg)")
            else:
                has_status = i < len(statuses) and isinstance(_d(statuses[i], source), Mapping)
                shown = q(observed(i, source, "value")) if has_status else "<unknown>"
                parts.append(f"{shown}/{q(target.get('value'))}")
        elif kind == "Pods":
            has_status = i < len(statuses) and isinstance(_d(statuses[i], "pods"), Mapping)
            shown = q(observed(i, "pods", "averageValue")) if has_status else "<unknown>"
            parts.append(f"{shown}/{q(_d(spec, 'pods', 'target', 'averageValue'))}")
        elif kind in ("Resource", "ContainerResource"):
            source = "resource" if kind == "Resource" else "containerResource"
            resource = _s(spec, source, "name")
            target = _m(spec, source, "target")
            has_status = i < len(statuses) and isinstance(_d(statuses[i], source), Mapping)
            if target.get("averageValue") is not None:
                shown = q(observed(i, source, "averageValue")) if has_status else "<unknown>"
                parts.append(f"{resource}: {shown}/{_quantity(target['averageValue'])}")
            else:
                utilization = observed(i, source, "averageUtilization")
                shown = f"{utilization}%" if isinstance(utilization, int) else "<unknown>"
                wanted = target.get("averageUtilization")
                parts.append(f"{resource}: {shown}/{f'{wanted}%' if isinstance(wanted, int) else '<auto>'}")
        else:
            parts.append("<unknown type>")
    if len(parts) > 2:
        return ", ".join(parts[:2]) + f" + {len(parts) - 2} more..."
    return ", ".join(parts)


def _hpa_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    minimum = spec.get("minReplicas")
    return [
        _name(obj),
        f"{_s(spec, 'scaleTargetRef', 'kind')}/{_s(spec, 'scaleTargetRef', 'name')}",
        _hpa_metrics(obj),
        str(minimum) if isinstance(minimum, int) else "<unset>",
        _i(spec, "maxReplicas"),
        _i(obj, "status", "currentReplicas"),
        _age(obj, now),
    ]


# -- networking -------------------------------------------------------------------


def _load_balancer_addresses(status: Any) -> str:
    found = {
        _s(entry, "ip") or _s(entry, "hostname")
        for entry in _l(status, "loadBalancer", "ingress")
        if _s(entry, "ip") or _s(entry, "hostname")
    }
    return ",".join(sorted(found))


def _service_external_ip(obj: Obj) -> str:
    spec = _m(obj, "spec")
    external = [ip for ip in _l(spec, "externalIPs") if isinstance(ip, str)]
    kind = _s(spec, "type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer_addresses(_m(obj, "status"))
        if external:
            return ",".join([*(balancer.split(",") if balancer else []), *external])
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _s(spec, "externalName")
    return "<unknown>"


def _service_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    cluster_ips = _l(spec, "clusterIPs")
    cluster_ip = (cluster_ips[0] if cluster_ips else _s(spec, "clusterIP")) or "<none>"
    ports = []
    for port in _l(spec, "ports"):
        protocol = _s(port, "protocol")
        node_port = _i(port, "nodePort")
        number = _i(port, "port")
        ports.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return [
        _name(obj),
        _s(spec, "type"),
        cluster_ip,
        _service_external_ip(obj),
        ",".join(ports) or "<none>",
        _age(obj, now),
        _format_labels(spec.get("selector")),
    ]


def _host_port(ip: str, port: int) -> str:
    try:
        is_v6 = ipaddress.ip_address(ip).version == 6
    except ValueError:
        is_v6 = ":" in ip
    return f"[{ip}]:{port}" if is_v6 else f"{ip}:{port}"


def _endpoints_cell(obj: Obj) -> str:
    subsets = _l(obj, "subsets")
    if not subsets:
        return "<none>"
    limit, count = 3, 0
    shown: list[str] = []
    for subset in subsets:
        addresses = [_s(a, "ip") for a in _l(subset, "addresses")]
        ports = _l(subset, "ports")
        if not ports:
            count += len(addresses)
            shown.extend(addresses[: max(0, limit - len(shown))])
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    break
                shown.append(_host_port(ip, _i(port, "port")))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if count > limit else text


def _endpoint_slice_cells(obj: Obj, now: float) -> list[Any]:
    ports = []
    for port in _l(obj, "ports"):
        if isinstance(_d(port, "port"), int):
            ports.append(str(port["port"]))
        elif isinstance(_d(port, "name"), str):
            ports.append(port["name"])
        else:
            ports.append("*")
    addresses = [a for e in _l(obj, "endpoints") for a in _l(e, "addresses") if isinstance(a, str)]
    return [
        _name(obj),
        _s(obj, "addressType"),
        _list_with_more(ports[:3], len(ports), 3, "<unset>"),
        _list_with_more(addresses[:3], len(addresses), 3, "<unset>"),
        _age(obj, now),
    ]


def _ingress_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    rules = _l(spec, "rules")
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and _s(rule, "host"):
            hosts.append(_s(rule, "host"))
    host_cell = ",".join(hosts) if hosts else "*"
    if hosts and more:
        host_cell += f" + {len(rules) - 3} more..."
    class_name = spec.get("ingressClassName")
    return [
        _name(obj),
        class_name if isinstance(class_name, str) else "<none>",
        host_cell,
        _load_balancer_addresses(_m(obj, "status")),
        "80, 443" if _l(spec, "tls") else "80",
        _age(obj, now),
    ]


def _ingress_class_cells(obj: Obj, now: float) -> list[Any]:
    parameters = _d(obj, "spec", "parameters")
    cell = "<none>"
    if isinstance(parameters, Mapping):
        cell = _s(parameters, "kind")
        if isinstance(parameters.get("apiGroup"), str):
            cell += "." + parameters["apiGroup"]
        cell += "/" + _s(parameters, "name")
    return [_name(obj), _s(obj, "spec", "controller"), cell, _age(obj, now)]


def _network_policy_cells(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _format_label_selector(_m(obj, "spec").get("podSelector", {})), _age(obj, now)]


# -- cluster and config -----------------------------------------------------------


def _node_cells(obj: Obj, now: float) -> list[Any]:
    status = _m(obj, "status")
    ready = None
    for condition in _l(status, "conditions"):
        if _s(condition, "type") == "Ready":
            ready = condition  # the last one wins, as with a map keyed by type
    states = ["Unknown"] if ready is None else ["Ready" if _s(ready, "status") == "True" else "NotReady"]
    if _d(obj, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in _m(obj, "metadata", "labels").items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)

    def address(kind: str) -> str:
        found = next((a for a in _l(status, "addresses") if _s(a, "type") == kind), None)
        return _s(found, "address") if found is not None else "<none>"

    info = _m(status, "nodeInfo")
    return [
        _name(obj),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(obj, now),
        _s(info, "kubeletVersion"),
        address("InternalIP"),
        address("ExternalIP"),
        _s(info, "osImage") or "<unknown>",
        _s(info, "kernelVersion") or "<unknown>",
        _s(info, "containerRuntimeVersion") or "<unknown>",
    ]


def _access_modes(modes: Iterable[Any]) -> str:
    present = set(modes)
    short = [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    return ",".join(abbr for mode, abbr in short if mode in present)


_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _volume_class(obj: Obj) -> str:
    annotations = _m(obj, "metadata", "annotations")
    if _BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[_BETA_CLASS_ANNOTATION])
    return _s(obj, "spec", "storageClassName")


def _pv_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    claim = _m(spec, "claimRef")
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _name(obj),
        _quantity(_d(spec, "capacity", "storage")),
        _access_modes(_l(spec, "accessModes")),
        _s(spec, "persistentVolumeReclaimPolicy"),
        "Terminating" if _meta(obj).get("deletionTimestamp") else _s(obj, "status", "phase"),
        f"{_s(claim, 'namespace')}/{_s(claim, 'name')}" if claim else "",
        _volume_class(obj),
        vac if isinstance(vac, str) else "<unset>",
        _s(obj, "status", "reason"),
        _age(obj, now),
        mode if isinstance(mode, str) else "<unset>",
    ]


def _pvc_cells(obj: Obj, now: float) -> list[Any]:
    spec = _m(obj, "spec")
    bound = bool(_s(spec, "volumeName"))
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    annotations = _m(obj, "metadata", "annotations")
    claim_class = spec.get("storageClassName")
    if _BETA_CLASS_ANNOTATION in annotations:
        claim_class = annotations[_BETA_CLASS_ANNOTATION]
    return [
        _name(obj),
        "Terminating" if _meta(obj).get("deletionTimestamp") else _s(obj, "status", "phase"),
        _s(spec, "volumeName"),
        _quantity(_d(obj, "status", "capacity", "storage")) if bound else "",
        _access_modes(_l(obj, "status", "accessModes")) if bound else "",
        claim_class if isinstance(claim_class, str) else "",
        vac if isinstance(vac, str) else "<unset>",
        _age(obj, now),
        mode if isinstance(mode, str) else "<unset>",
    ]


def _storage_class_cells(obj: Obj, now: float) -> list[Any]:
    annotations = _m(obj, "metadata", "annotations")
    default = any(
        annotations.get(key) == "true"
        for key in (
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        )
    )
    return [
        _name(obj) + (" (default)" if default else ""),
        _s(obj, "provisioner"),
        _s(obj, "reclaimPolicy") or "Delete",
        _s(obj, "volumeBindingMode") or "Immediate",
        _d(obj, "allowVolumeExpansion") is True,
        _age(obj, now),
    ]


def _resource_quota_cells(obj: Obj, now: float) -> list[Any]:
    hard, used = _m(obj, "status", "hard"), _m(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]


def _binding_cells(obj: Obj, now: float) -> list[Any]:
    users, groups, accounts = [], [], []
    for subject in _l(obj, "subjects"):
        kind = _s(subject, "kind")
        if kind == "ServiceAccount":
            accounts.append(f"{_s(subject, 'namespace')}/{_s(subject, 'name')}")
        elif kind == "User":
            users.append(_s(subject, "name"))
        elif kind == "Group":
            groups.append(_s(subject, "name"))
    return [
        _name(obj),
        f"{_s(obj, 'roleRef', 'kind')}/{_s(obj, 'roleRef', 'name')}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _csr_cells(obj: Obj, now: float) -> list[Any]:
    types = {_s(c, "type") for c in _l(obj, "status", "conditions")}
    state = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        state += ",Failed"
    if _s(obj, "status", "certificate"):
        state += ",Issued"
    expiration = _d(obj, "spec", "expirationSeconds")
    return [
        _name(obj),
        _age(obj, now),
        _s(obj, "spec", "signerName") or "<none>",
        _s(obj, "spec", "username"),
        human_duration(expiration) if isinstance(expiration, int) else "<none>",
        state,
    ]


def _event_shape(obj: Obj, group: str) -> Obj:
    """An events.k8s.io/v1 Event in the core/v1 field names the printer reads."""
    if group != "events.k8s.io":
        return obj
    return {
        "metadata": _meta(obj),
        "involvedObject": _m(obj, "regarding"),
        "message": _s(obj, "note"),
        "reason": _s(obj, "reason"),
        "type": _s(obj, "type"),
        "source": _m(obj, "deprecatedSource"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": _s(obj, "reportingController"),
        "reportingInstance": _s(obj, "reportingInstance"),
    }


def _event_cells(obj: Obj, now: float) -> list[Any]:
    first = (
        since(obj.get("firstTimestamp"), now)
        if timestamp(obj.get("firstTimestamp")) is not None
        else since(obj.get("eventTime"), now)
    )
    last = since(obj.get("lastTimestamp"), now) if timestamp(obj.get("lastTimestamp")) is not None else first
    count = _i(obj, "count")
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = since(series.get("lastObservedTime"), now)
        count = _i(series, "count")
    elif count == 0:
        count = 1  # a singleton event of the new API has no count
    involved = _m(obj, "involvedObject")
    kind = _s(involved, "kind").lower()
    target = f"{kind}/{_s(involved, 'name')}" if _s(involved, "name") else kind
    component = _s(obj, "source", "component") or _s(obj, "reportingComponent")
    instance = _s(obj, "source", "host") or _s(obj, "reportingInstance")
    return [
        last,
        _s(obj, "type"),
        _s(obj, "reason"),
        target,
        _s(involved, "fieldPath"),
        f"{component}, {instance}" if instance else component,
        _s(obj, "message").strip(),
        first,
        count,
        _name(obj),
    ]


def _webhook_count_cells(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(_l(obj, "webhooks")), _age(obj, now)]


# -- column tables ----------------------------------------------------------------

_NAME_DOC = "Name must be unique within a namespace; it identifies the object."
_AGE_DOC = "How long ago the object was created (metadata.creationTimestamp)."
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."

# (name, type, priority, description); the first "Name" column gets format "name".
Column = tuple[str, str, int, str]

_NAME: Column = ("Name", "string", 0, _NAME_DOC)
_AGE: Column = ("Age", "string", 0, _AGE_DOC)
_CONTAINERS: Column = ("Containers", "string", 1, _CONTAINERS_DOC)
_IMAGES: Column = ("Images", "string", 1, _IMAGES_DOC)


def _selector(priority: int = 1) -> Column:
    return ("Selector", "string", priority, "The label selector of the pods this object manages.")


_PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], CellsFn]] = {
    ("", "pods"): (
        (
            _NAME,
            ("Ready", "string", 0, "Containers ready out of the pod's containers."),
            ("Status", "string", 0, "The aggregate status of the pod's containers."),
            ("Restarts", "string", 0, "Container restarts, and how long ago the last one was."),
            _AGE,
            ("IP", "string", 1, "The pod's first IP address."),
            ("Node", "string", 1, "The node the pod is bound to."),
            ("Nominated Node", "string", 1, "The node preemption made room on for this pod."),
            ("Readiness Gates", "string", 1, "Readiness gates passed out of those declared."),
        ),
        _pod_cells,
    ),
    ("", "podtemplates"): (
        (
            _NAME,
            ("Containers", "string", 0, _CONTAINERS_DOC),
            ("Images", "string", 0, _IMAGES_DOC),
            ("Pod Labels", "string", 0, "The labels of the pod template."),
        ),
        _pod_template_cells,
    ),
    ("policy", "poddisruptionbudgets"): (
        (
            _NAME,
            ("Min Available", "string", 0, "Pods that must stay available."),
            ("Max Unavailable", "string", 0, "Pods that may be unavailable."),
            ("Allowed Disruptions", "integer", 0, "Pods that may be disrupted right now."),
            _AGE,
        ),
        _pdb_cells,
    ),
    ("", "replicationcontrollers"): (
        (
            _NAME,
            ("Desired", "integer", 0, "Replicas asked for."),
            ("Current", "integer", 0, "Replicas that exist."),
            ("Ready", "integer", 0, "Replicas that are ready."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _replication_controller_cells,
    ),
    ("apps", "replicasets"): (
        (
            _NAME,
            ("Desired", "integer", 0, "Replicas asked for."),
            ("Current", "integer", 0, "Replicas that exist."),
            ("Ready", "integer", 0, "Replicas that are ready."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _replica_set_cells,
    ),
    ("apps", "deployments"): (
        (
            _NAME,
            ("Ready", "string", 0, "Ready replicas out of those asked for."),
            ("Up-to-date", "string", 0, "Replicas running the latest template."),
            ("Available", "string", 0, "Replicas available to serve."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _deployment_cells,
    ),
    ("apps", "statefulsets"): (
        (_NAME, ("Ready", "string", 0, "Ready replicas out of those asked for."), _AGE, _CONTAINERS, _IMAGES),
        _stateful_set_cells,
    ),
    ("apps", "daemonsets"): (
        (
            _NAME,
            ("Desired", "integer", 0, "Nodes that should run the daemon pod."),
            ("Current", "integer", 0, "Nodes running at least one daemon pod."),
            ("Ready", "integer", 0, "Nodes whose daemon pod is ready."),
            ("Up-to-date", "integer", 0, "Nodes running the latest template."),
            ("Available", "integer", 0, "Nodes whose daemon pod is available."),
            ("Node Selector", "string", 0, "The node selector of the pod template."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _daemon_set_cells,
    ),
    ("apps", "controllerrevisions"): (
        (
            _NAME,
            ("Controller", "string", 0, "The object that owns this revision."),
            ("Revision", "string", 0, "The revision number."),
            _AGE,
        ),
        _controller_revision_cells,
    ),
    ("batch", "jobs"): (
        (
            _NAME,
            ("Status", "string", 0, "Status of the job."),
            ("Completions", "string", 0, "Succeeded pods out of the completions asked for."),
            ("Duration", "string", 0, "Time the job took, or has taken so far."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _job_cells,
    ),
    ("batch", "cronjobs"): (
        (
            _NAME,
            ("Schedule", "string", 0, "The cron schedule."),
            ("Timezone", "string", 0, "The time zone the schedule is read in."),
            ("Suspend", "boolean", 0, "Whether new runs are suspended."),
            ("Active", "integer", 0, "Jobs running now."),
            ("Last Schedule", "string", 0, "How long ago a job was last scheduled."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _selector(),
        ),
        _cron_job_cells,
    ),
    ("", "services"): (
        (
            _NAME,
            ("Type", "string", 0, "How the service is exposed."),
            ("Cluster-IP", "string", 0, "The service's cluster IP."),
            ("External-IP", "string", 0, "Addresses the service is reachable at from outside."),
            ("Port(s)", "string", 0, "The service's ports."),
            _AGE,
            ("Selector", "string", 1, "The labels of the pods traffic is routed to."),
        ),
        _service_cells,
    ),
    ("", "endpoints"): (
        (_NAME, ("Endpoints", "string", 0, "The ready addresses and ports."), _AGE),
        lambda obj, now: [_name(obj), _endpoints_cell(obj), _age(obj, now)],
    ),
    ("discovery.k8s.io", "endpointslices"): (
        (
            _NAME,
            ("AddressType", "string", 0, "The kind of addresses in this slice."),
            ("Ports", "string", 0, "The ports of the slice."),
            ("Endpoints", "string", 0, "The addresses of the slice."),
            _AGE,
        ),
        _endpoint_slice_cells,
    ),
    ("networking.k8s.io", "ingresses"): (
        (
            _NAME,
            ("Class", "string", 0, "The IngressClass that handles this ingress."),
            ("Hosts", "string", 0, "Hosts requests are matched against."),
            ("Address", "string", 0, "Addresses of the load balancer."),
            ("Ports", "string", 0, "Ports the ingress listens on."),
            _AGE,
        ),
        _ingress_cells,
    ),
    ("networking.k8s.io", "ingressclasses"): (
        (
            _NAME,
            ("Controller", "string", 0, "The controller that implements this class."),
            ("Parameters", "string", 0, "The resource holding extra parameters."),
            _AGE,
        ),
        _ingress_class_cells,
    ),
    ("networking.k8s.io", "networkpolicies"): (
        (_NAME, ("Pod-Selector", "string", 0, "The pods the policy applies to."), _AGE),
        _network_policy_cells,
    ),
    ("", "nodes"): (
        (
            _NAME,
            ("Status", "string", 0, "The status of the node."),
            ("Roles", "string", 0, "The roles of the node."),
            _AGE,
            ("Version", "string", 0, "The kubelet version."),
            ("Internal-IP", "string", 1, "The node's internal address."),
            ("External-IP", "string", 1, "The node's external address."),
            ("OS-Image", "string", 1, "The operating system image."),
            ("Kernel-Version", "string", 1, "The kernel version."),
            ("Container-Runtime", "string", 1, "The container runtime and its version."),
        ),
        _node_cells,
    ),
    ("", "events"): (
        (
            ("Last Seen", "string", 0, "How long ago the event was last seen."),
            ("Type", "string", 0, "Normal or Warning."),
            ("Reason", "string", 0, "Why the event happened, in one word."),
            ("Object", "string", 0, "The object the event is about."),
            ("Subobject", "string", 1, "The part of the object, such as a container."),
            ("Source", "string", 1, "The component that reported the event."),
            ("Message", "string", 0, "What happened."),
            ("First Seen", "string", 1, "How long ago the event was first seen."),
            ("Count", "string", 1, "How many times it happened."),
            ("Name", "string", 1, _NAME_DOC),
        ),
        _event_cells,
    ),
    ("", "namespaces"): (
        (_NAME, ("Status", "string", 0, "The phase of the namespace."), _AGE),
        lambda obj, now: [_name(obj), _s(obj, "status", "phase"), _age(obj, now)],
    ),
    ("", "secrets"): (
        (
            _NAME,
            ("Type", "string", 0, "The type of the secret."),
            ("Data", "string", 0, "Number of keys in the secret."),
            _AGE,
        ),
        lambda obj, now: [_name(obj), _s(obj, "type"), len(_m(obj, "data")), _age(obj, now)],
    ),
    ("", "configmaps"): (
        (_NAME, ("Data", "string", 0, "Number of keys in the config map."), _AGE),
        lambda obj, now: [_name(obj), len(_m(obj, "data")) + len(_m(obj, "binaryData")), _age(obj, now)],
    ),
    ("", "serviceaccounts"): (
        (_NAME, ("Secrets", "string", 0, "Number of secrets listed for the account."), _AGE),
        lambda obj, now: [_name(obj), len(_l(obj, "secrets")), _age(obj, now)],
    ),
    ("", "persistentvolumes"): (
        (
            _NAME,
            ("Capacity", "string", 0, "The storage capacity."),
            ("Access Modes", "string", 0, "How the volume can be mounted."),
            ("Reclaim Policy", "string", 0, "What happens to the volume when released."),
            ("Status", "string", 0, "The phase of the volume."),
            ("Claim", "string", 0, "The claim bound to the volume."),
            ("StorageClass", "string", 0, "StorageClass of the pv"),
            ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
            ("Reason", "string", 0, "Why the volume is in its phase."),
            _AGE,
            ("VolumeMode", "string", 1, "Filesystem or Block."),
        ),
        _pv_cells,
    ),
    ("", "persistentvolumeclaims"): (
        (
            _NAME,
            ("Status", "string", 0, "The phase of the claim."),
            ("Volume", "string", 0, "The volume bound to the claim."),
            ("Capacity", "string", 0, "The capacity of the bound volume."),
            ("Access Modes", "string", 0, "How the bound volume can be mounted."),
            ("StorageClass", "string", 0, "StorageClass of the pvc"),
            ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
            _AGE,
            ("VolumeMode", "string", 1, "Filesystem or Block."),
        ),
        _pvc_cells,
    ),
    ("", "resourcequotas"): (
        (
            _NAME,
            _AGE,
            ("Request", "string", 0, "Used out of hard for each requested resource."),
            ("Limit", "string", 0, "Used out of hard for each limited resource."),
        ),
        _resource_quota_cells,
    ),
    ("autoscaling", "horizontalpodautoscalers"): (
        (
            _NAME,
            ("Reference", "string", 0, "The object being scaled."),
            ("Targets", "string", 0, "Current and target values of each metric."),
            ("MinPods", "string", 0, "The fewest replicas."),
            ("MaxPods", "string", 0, "The most replicas."),
            ("Replicas", "string", 0, "Replicas now."),
            _AGE,
        ),
        _hpa_cells,
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): (
        (
            _NAME,
            ("Role", "string", 0, "The role granted."),
            _AGE,
            ("Users", "string", 1, "Users in the roleBinding"),
            ("Groups", "string", 1, "Groups in the roleBinding"),
            ("ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding"),
        ),
        _binding_cells,
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (
        (
            _NAME,
            ("Role", "string", 0, "The role granted."),
            _AGE,
            ("Users", "string", 1, "Users in the clusterRoleBinding"),
            ("Groups", "string", 1, "Groups in the clusterRoleBinding"),
            ("ServiceAccounts", "string", 1, "ServiceAccounts in the clusterRoleBinding"),
        ),
        _binding_cells,
    ),
    ("certificates.k8s.io", "certificatesigningrequests"): (
        (
            _NAME,
            _AGE,
            ("SignerName", "string", 0, "The signer asked to sign."),
            ("Requestor", "string", 0, "Who asked."),
            ("RequestedDuration", "string", 0, "The validity asked for."),
            ("Condition", "string", 0, "Approved, Denied or Pending, and Issued."),
        ),
        _csr_cells,
    ),
    ("coordination.k8s.io", "leases"): (
        (_NAME, ("Holder", "string", 0, "Who holds the lease."), _AGE),
        lambda obj, now: [_name(obj), _s(obj, "spec", "holderIdentity"), _age(obj, now)],
    ),
    ("storage.k8s.io", "storageclasses"): (
        (
            _NAME,
            ("Provisioner", "string", 0, "The volume plugin that provisions volumes."),
            ("ReclaimPolicy", "string", 0, "What happens to provisioned volumes when released."),
            ("VolumeBindingMode", "string", 0, "When claims are bound and provisioned."),
            ("AllowVolumeExpansion", "string", 0, "Whether volumes can grow."),
            _AGE,
        ),
        _storage_class_cells,
    ),
    ("scheduling.k8s.io", "priorityclasses"): (
        (
            _NAME,
            ("Value", "integer", 0, "The priority of pods of this class."),
            ("Global-Default", "boolean", 0, "Whether pods without a class get this one."),
            _AGE,
            ("PreemptionPolicy", "string", 0, "Whether these pods may preempt others."),
        ),
        lambda obj, now: [
            _name(obj),
            _i(obj, "value"),
            _d(obj, "globalDefault") is True,
            _age(obj, now),
            _s(obj, "preemptionPolicy"),
        ],
    ),
    ("node.k8s.io", "runtimeclasses"): (
        (_NAME, ("Handler", "string", 0, "The runtime handler."), _AGE),
        lambda obj, now: [_name(obj), _s(obj, "handler"), _age(obj, now)],
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
        (_NAME, ("Webhooks", "integer", 0, "Number of webhooks in the configuration."), _AGE),
        _webhook_count_cells,
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        (_NAME, ("Webhooks", "integer", 0, "Number of webhooks in the configuration."), _AGE),
        _webhook_count_cells,
    ),
}
_PRINTERS[("events.k8s.io", "events")] = _PRINTERS[("", "events")]

_DEFAULT_COLUMNS: tuple[Column, ...] = (
    _NAME,
    ("Created At", "date", 0, "When the object was created (metadata.creationTimestamp)."),
)


def _column_dicts(columns: Iterable[Column]) -> list[dict[str, Any]]:
    result = []
    for name, kind, priority, description in columns:
        result.append(
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": description,
                "priority": priority,
            }
        )
    return result


def has_printer(group: str, plural: str) -> bool:
    """Whether the kind has its own columns (else it gets Name and Created At)."""
    return (group, plural) in _PRINTERS


def column_definitions(group: str, plural: str) -> list[dict[str, Any]]:
    """The Table columns of a kind: name, type, format, description, priority (1 = wide)."""
    printer = _PRINTERS.get((group, plural))
    return _column_dicts(printer[0] if printer else _DEFAULT_COLUMNS)


def row_cells(group: str, plural: str, obj: Obj, now: float) -> list[Any]:
    """The cells of one object, in the order of ``column_definitions`` (wide ones included)."""
    printer = _PRINTERS.get((group, plural))
    if printer is None:
        return [_name(obj), _created_at(obj)]
    if plural == "events":
        obj = _event_shape(obj, group)
    return printer[1](obj, now)


# -- custom resources -------------------------------------------------------------

_CRD_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _crd_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return list(printer_columns) if printer_columns else [_CRD_AGE]


_PATH_STEP = re.compile(
    r"""\.(?P<field>[^.\[\]]+)"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*(?P<quote>['"])(?P<key>.*?)(?P=quote)\s*\]"""
    r"""|\[\s*\?\(\s*@\.(?P<test>[^=!\s)]+)\s*==\s*(?P<q2>['"]?)(?P<want>[^'")]*)(?P=q2)\s*\)\s*\]"""
    r"""|\[\s*(?P<all>\*)\s*\]"""
)


def _json_path_value(obj: Any, path: str) -> tuple[bool, Any]:
    """The first value a simple JSONPath selects, as a CRD printer column shows it.

    Supports ``.field``, ``['field']``, ``[n]``, ``[*]`` and ``[?(@.a.b=="v")]``;
    returns (False, None) when nothing matches or the path is beyond that.
    """
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    candidates: list[Any] = [obj]
    position = 0
    while position < len(text):
        step = _PATH_STEP.match(text, position)
        if step is None:
            return False, None
        position = step.end()
        following: list[Any] = []
        for current in candidates:
            if step["field"] is not None or step["quote"] is not None:
                key = step["field"] if step["field"] is not None else step["key"]
                if isinstance(current, Mapping) and key in current:
                    following.append(current[key])
            elif step["index"] is not None:
                if isinstance(current, list) and -len(current) <= int(step["index"]) < len(current):
                    following.append(current[int(step["index"])])
            elif step["all"] is not None:
                if isinstance(current, list):
                    following.extend(current)
                elif isinstance(current, Mapping):
                    following.extend(current.values())
            elif isinstance(current, list):
                for item in current:
                    found, value = _json_path_value(item, "." + step["test"])
                    if found and _jsonpath_text(value) == step["want"]:
                        following.append(item)
        candidates = following
        if not candidates:
            return False, None
    return True, candidates[0]


def _jsonpath_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _crd_cell(kind: str, found: bool, value: Any, now: float) -> Any:
    if not found or value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return _jsonpath_text(value)
    if kind == "integer" and number:
        return int(value)
    if kind == "number" and number:
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return "<invalid>" if _parse_time(value) is None else since(value, now)
    return None


def custom_resource_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Table columns of a custom resource from its CRD version's additionalPrinterColumns."""
    columns = [{"name": "Name", "type": "string", "format": "name", "description": _NAME_DOC, "priority": 0}]
    for column in _crd_columns(printer_columns):
        columns.append(
            {
                "name": str(column.get("name", "")),
                "type": str(column.get("type", "")),
                "format": str(column.get("format", "")),
                "description": str(column.get("description", "")),
                "priority": int(column.get("priority", 0) or 0),
            }
        )
    return columns


def custom_resource_cells(printer_columns: Sequence[Mapping[str, Any]], obj: Obj, now: float) -> list[Any]:
    """The cells of one custom resource: its name, then each printer column's value."""
    cells: list[Any] = [_name(obj)]
    for column in _crd_columns(printer_columns):
        found, value = _json_path_value(obj, str(column.get("jsonPath", "")))
        cells.append(_crd_cell(str(column.get("type", "")), found, value, now))
    return cells


# -- the Table --------------------------------------------------------------------


def _row_object(obj: Obj, include_object: str, version: str) -> Any:
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": version, "metadata": _meta(obj)}


def build_table(
    group: str,
    plural: str,
    objects: Iterable[Obj],
    resource_version: str = "",
    include_object: str = "Metadata",
    now: float | None = None,
    *,
    continue_token: str = "",
    remaining: int | None = None,
    table_version: str = TABLE_V1,
    include_columns: bool = True,
    printer_columns: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io Table of ``objects``.

    ``resource_version`` is the list's (for GET: the object's own). ``include_object``
    is the ``includeObject`` query parameter ("" means Metadata); any other value
    raises ValueError, which the API answers with 406 as Kubernetes does.
    ``include_columns=False`` leaves ``columnDefinitions`` null, for every watch event
    after the first. ``printer_columns`` (a CRD version's additionalPrinterColumns,
    possibly empty) selects the custom resource layout.
    """
    include_object = include_object or "Metadata"
    if include_object not in INCLUDE_OBJECT_VALUES:
        raise ValueError(f'unrecognized includeObject value: "{include_object}"')
    moment = time.time() if now is None else now
    rows = []
    for obj in objects:
        if printer_columns is not None:
            cells = custom_resource_cells(printer_columns, obj, moment)
            conditions = None
        else:
            cells = row_cells(group, plural, obj, moment)
            conditions = _pod_row_conditions(obj) if (group, plural) == ("", "pods") else None
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object != "None":
            row["object"] = _row_object(obj, include_object, table_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    columns: list[dict[str, Any]] | None = None
    if include_columns:
        columns = (
            custom_resource_columns(printer_columns)
            if printer_columns is not None
            else column_definitions(group, plural)
        )
    return {
        "kind": "Table",
        "apiVersion": table_version,
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }
