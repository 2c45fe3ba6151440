"""Which field selectors each kind supports, and the values they read.

Kubernetes decides this in two places, and we keep both as data:

* the *field label conversion* of each group/version says which labels a
  request may use (anything else is a 400 with Kubernetes' message:
  ``field label not supported: x`` for kinds that register their own list,
  ``"x" is not a known field selector: only "metadata.name",
  "metadata.namespace"`` for every other kind);
* each registry's ``GetAttrs`` / ``ToSelectableFields`` says what the
  labels read from an object.

Objects arrive as plain dicts in their JSON form. Typed fields read as
Kubernetes formats them (``"false"``, ``"0"``) when absent, since Kubernetes
reads them from a Go zero value; absent strings read as ``""``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

META_FIELDS: Final = frozenset({"metadata.name", "metadata.namespace"})

_Reader = Callable[[Mapping[str, Any]], dict[str, str]]


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        # dict first: an ABC isinstance check is slow, and this runs for every cached object
        if type(node) is not dict and not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int_text(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


def _bool_text(value: Any) -> str:
    return "true" if value is True else "false"


def _pod(obj: Mapping[str, Any]) -> dict[str, str]:
    pod_ips = _get(obj, "status", "podIPs")
    # Kubernetes reads the first of status.podIPs (status.podIP is its v1 mirror).
    if isinstance(pod_ips, list) and pod_ips and isinstance(pod_ips[0], Mapping):
        pod_ip = _text(pod_ips[0].get("ip"))
    else:
        pod_ip = _text(_get(obj, "status", "podIP"))
    node_name = _text(_get(obj, "spec", "nodeName"))
    return {
        "spec.nodeName": node_name,
        "spec.host": node_name,  # old clients' spelling, converted to spec.nodeName
        "spec.restartPolicy": _text(_get(obj, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_get(obj, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_get(obj, "spec", "serviceAccountName")),
        "spec.hostNetwork": _bool_text(_get(obj, "spec", "hostNetwork")),
        "status.phase": _text(_get(obj, "status", "phase")),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _text(_get(obj, "status", "nominatedNodeName")),
    }


def _event(obj: Mapping[str, Any]) -> dict[str, str]:
    # core/v1 spelling first; events.k8s.io/v1 objects carry the same data as
    # regarding / reportingController / deprecatedSource.
    involved = obj.get("involvedObject")
    if not isinstance(involved, Mapping):
        involved = obj.get("regarding")
    involved = involved if isinstance(involved, Mapping) else {}
    reporting = _text(obj.get("reportingComponent")) or _text(obj.get("reportingController"))
    source = _text(_get(obj, "source", "component")) or _text(_get(obj, "deprecatedSource", "component"))
    fields = {f"involvedObject.{name}": _text(involved.get(name)) for name in _INVOLVED_OBJECT_FIELDS}
    fields.update(
        {
            "reason": _text(obj.get("reason")),
            "reportingComponent": reporting,
            "source": source or reporting,
            "type": _text(obj.get("type")),
        }
    )
    return fields


_INVOLVED_OBJECT_FIELDS: Final = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)


def _secret(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"type": _text(obj.get("type"))}


def _node(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.unschedulable": _bool_text(_get(obj, "spec", "unschedulable"))}


def _namespace(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"status.phase": _text(_get(obj, "status", "phase"))}


def _service(obj: Mapping[str, Any]) -> dict[str, str]:
    return {
        "spec.clusterIP": _text(_get(obj, "spec", "clusterIP")),
        "spec.type": _text(_get(obj, "spec", "type")),
    }


def _replicas(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"status.replicas": _int_text(_get(obj, "status", "replicas"))}


def _job(obj: Mapping[str, Any]) -> dict[str, str]:
    # The label says "successful"; the field is status.succeeded.
    return {"status.successful": _int_text(_get(obj, "status", "succeeded"))}


def _csr(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.signerName": _text(_get(obj, "spec", "signerName"))}


_READERS: Final[dict[str, _Reader]] = {
    "Pod": _pod,
    "Event": _event,
    "Secret": _secret,
    "Node": _node,
    "Namespace": _namespace,
    "Service": _service,
    "ReplicaSet": _replicas,
    "ReplicationController": _replicas,
    "Job": _job,
    "CertificateSigningRequest": _csr,
}

# Labels each kind's conversion accepts. Node and Namespace are
# cluster-scoped and do not accept metadata.namespace; Pod also accepts
# status.podIPs, which Kubernetes does not fill in, so it reads "".
_SUPPORTED: Final[dict[str, frozenset[str]]] = {
    "Pod": META_FIELDS
    | {
        "spec.nodeName",
        "spec.host",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    },
    "Event": META_FIELDS
    | {f"involvedObject.{name}" for name in _INVOLVED_OBJECT_FIELDS}
    | {"reason", "reportingComponent", "source", "type"},
    "Secret": META_FIELDS | {"type"},
    "Node": frozenset({"metadata.name", "spec.unschedulable"}),
    "Namespace": frozenset({"metadata.name", "status.phase"}),
    "Service": META_FIELDS | {"spec.clusterIP", "spec.type"},
    "ReplicaSet": META_FIELDS | {"status.replicas"},
    "ReplicationController": META_FIELDS | {"status.replicas"},
    "Job": META_FIELDS | {"status.successful"},
    "CertificateSigningRequest": frozenset({"metadata.name", "spec.signerName"}),
}

_ALIASES: Final[dict[str, dict[str, str]]] = {"Pod": {"spec.host": "spec.nodeName"}}


def field_set(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """Every selectable field of ``obj`` (a ``kind`` in JSON form) and its value.

    Always includes ``metadata.name`` and ``metadata.namespace`` ("" for
    cluster-scoped objects).
    """
    fields = {
        "metadata.name": _text(_get(obj, "metadata", "name")),
        "metadata.namespace": _text(_get(obj, "metadata", "namespace")),
    }
    reader = _READERS.get(kind)
    if reader is not None:
        fields.update(reader(obj))
    return fields


def supported_fields(kind: str) -> frozenset[str]:
    """The field labels a request for ``kind`` may select on."""
    return _SUPPORTED.get(kind, META_FIELDS)


def field_label_error(kind: str, label: str) -> str | None:
    """Kubernetes' message rejecting ``label`` for ``kind``, or None if it is supported."""
    if label in supported_fields(kind):
        return None
    if kind == "Job":
        return f'field label "{label}" not supported for batchv1.Job'
    if kind in _SUPPORTED:
        return f"field label not supported: {label}"
    return f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


def convert_field_label(kind: str, label: str) -> str:
    """The label as stored fields name it (``spec.host`` -> ``spec.nodeName``).

    Raises ValueError with Kubernetes' message if ``kind`` does not support it.
    """
    message = field_label_error(kind, label)
    if message is not None:
        raise ValueError(message)
    return _ALIASES.get(kind, {}).get(label, label)
