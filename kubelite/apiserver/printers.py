"""Kubernetes' printers, kind by kind: the Table columns of each built-in kind
and the function that fills one row's cells (``row_cells``).

The columns and cell rules follow Kubernetes' own printers
(pkg/printers/internalversion), so ``kubectl get`` reads the same against
kubelite. Kinds without a printer get Kubernetes' default table (Name,
Created At). The Table around the rows is tables.py's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubelite.apiserver.printcells import (
    Obj,
    _age,
    _bool_word,
    _containers_cells,
    _created_at,
    _d,
    _format_label_selector,
    _format_labels,
    _i,
    _int_or_string,
    _l,
    _list_with_more,
    _m,
    _meta,
    _name,
    _quantity,
    _s,
    _selector_string,
    human_duration,
    since,
    timestamp,
)

CellsFn = Callable[[Obj, float], list[Any]]


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


def pod_row_conditions(pod: Obj) -> list[dict[str, str]] | None:
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

NAME_DOC = "Name must be unique within a namespace; it identifies the object."
_AGE_DOC = "How long ago the object was created (metadata.creationTimestamp)."
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."

# (name, type, priority, description); the first "Name" column gets format "name".
Column = tuple[str, str, int, str]

_NAME: Column = ("Name", "string", 0, NAME_DOC)
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
            ("Name", "string", 1, NAME_DOC),
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
