"""Per-kind rules the generic REST logic applies around a write.

Kubernetes calls these "strategies": what a create resets (status, which a
client may not set on create where a status subresource exists), which
kinds count ``metadata.generation``, what an update of the main resource
keeps from the stored object (status) and what a status update keeps
(spec). Defaulting and validation proper live in ``kubelite.api``.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from kubelite.api.quantity import parse_quantity
from kubelite.api.resources import Resource
from kubelite.apiserver import csr_strategy

_CSR = ("certificates.k8s.io", "certificatesigningrequests")

# Kinds whose metadata.generation counts spec changes (Kubernetes 1.32).
GENERATION_TRACKED = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("", "replicationcontrollers"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
    }
)

# Kinds whose creator writes the status too (a kubelet registers its Node with status).
STATUS_KEPT_ON_CREATE = frozenset({("", "nodes"), ("", "events")})

# Kinds Kubernetes creates when a PUT names one that does not exist.
CREATE_ON_UPDATE = frozenset(
    {("", "endpoints"), ("", "events"), ("events.k8s.io", "events"), ("coordination.k8s.io", "leases")}
)

# Kinds whose DELETE answers with the deleted object rather than a Status
# (ReturnDeletedObject in their Kubernetes registry; the clients decode the answer as that kind).
RETURNS_DELETED_OBJECT = frozenset(
    {
        ("", "pods"),
        ("", "podtemplates"),
        ("", "services"),
        ("", "serviceaccounts"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("storage.k8s.io", "storageclasses"),
        ("storage.k8s.io", "csidrivers"),
        ("storage.k8s.io", "csinodes"),
        ("storage.k8s.io", "volumeattachments"),
        ("storage.k8s.io", "volumeattributesclasses"),
    }
)


_FIELDS: dict[type, tuple[msgspec.structs.FieldInfo, ...]] = {}


def _fields(cls: type) -> tuple[msgspec.structs.FieldInfo, ...]:
    """The fields of a model class (computed once per class: this runs on every write)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = msgspec.structs.fields(cls)
    return found


def _copy(value: Any) -> Any:
    """A deep copy of a field of a stored object.

    A model struct goes through msgspec's JSON codec, some fifteen times faster
    than ``copy.deepcopy`` on a pod spec, which every status write copies. It
    is exact: the value was itself decoded from the stored JSON.
    """
    if isinstance(value, msgspec.Struct):
        return msgspec.json.decode(msgspec.json.encode(value), type=type(value))
    return copy.deepcopy(value)


def tracks_generation(res: Resource) -> bool:
    return (res.group, res.plural) in GENERATION_TRACKED


def has_status(res: Resource) -> bool:
    return "status" in res.subresources


def _fresh(obj: Any, attr: str) -> Any:
    """A new empty value of the field ``attr`` of ``obj``'s type."""
    for f in _fields(type(obj)):
        if f.name == attr:
            if f.default_factory is not msgspec.NODEFAULT:
                return f.default_factory()
            return None if f.default is msgspec.NODEFAULT else f.default
    return None


def _spec_key(obj: Any) -> bytes:
    """Everything but metadata and status: what a generation counts."""
    fields = [
        f.name for f in _fields(type(obj)) if f.name not in ("metadata", "status", "kind", "apiVersion")
    ]
    return msgspec.json.encode([getattr(obj, f) for f in fields])


def prepare_for_create(res: Resource, obj: Any, user: Any = None) -> None:
    """``user`` is who asks (an authn ``UserInfo``; None when unknown)."""
    if has_status(res) and hasattr(obj, "status") and (res.group, res.plural) not in STATUS_KEPT_ON_CREATE:
        obj.status = _fresh(obj, "status")
    if tracks_generation(res):
        obj.metadata.generation = 1
    key = (res.group, res.plural)
    if key == ("", "pods"):
        obj.status.phase = "Pending"
        obj.status.qosClass = pod_qos_class(obj)
    elif key == ("", "namespaces"):
        obj.status.phase = "Active"
    elif key in (("", "persistentvolumeclaims"), ("", "persistentvolumes")):
        obj.status.phase = "Pending"
    elif key == _CSR:
        csr_strategy.prepare_for_create(obj, user)


def prepare_for_update(res: Resource, new: Any, old: Any) -> None:
    """An update of the main resource: status stays as stored; generation counts spec changes."""
    if has_status(res) and hasattr(new, "status"):
        new.status = _copy(old.status)
    if (res.group, res.plural) == _CSR:
        new.spec = _copy(old.spec)  # a request changes only through its subresources
    if (res.group, res.plural) == ("", "namespaces"):
        # Only the finalize subresource changes a namespace's finalizers.
        new.spec.finalizers = list(old.spec.finalizers)
    if tracks_generation(res):
        generation = old.metadata.generation or 1
        if _spec_key(new) != _spec_key(old):
            generation += 1
        new.metadata.generation = generation


def prepare_for_status_update(res: Resource, new: Any, old: Any) -> None:
    """An update of /status: only status (and metadata) changes."""
    for f in _fields(type(new)):
        if f.name not in ("metadata", "status", "kind", "apiVersion"):
            setattr(new, f.name, _copy(getattr(old, f.name)))
    new.metadata.generation = old.metadata.generation
    if (res.group, res.plural) == _CSR:
        csr_strategy.prepare_for_status_update(new, old)


def prepare_for_approval_update(res: Resource, new: Any, old: Any) -> None:
    """An update of a CertificateSigningRequest's /approval: only its conditions change."""
    csr_strategy.prepare_for_approval_update(new, old)


def prepare_for_finalize(res: Resource, new: Any, old: Any) -> None:
    """An update of a namespace's /finalize: only spec.finalizers changes."""
    finalizers = list(new.spec.finalizers)
    for f in _fields(type(new)):
        if f.name not in ("metadata", "kind", "apiVersion"):
            setattr(new, f.name, _copy(getattr(old, f.name)))
    new.spec.finalizers = finalizers


def blocks_deletion(res: Resource, obj: Any) -> bool:
    """Whether something other than metadata.finalizers still holds a deleted object."""
    key = (res.group, res.plural)
    if key == ("", "namespaces"):
        return bool(obj.spec.finalizers)
    if key == ("", "pods"):
        # A pod deleted gracefully waits for its node agent to confirm with grace 0.
        return bool(obj.metadata.deletionGracePeriodSeconds)
    return False


def _quantity(text: str) -> Any:
    try:
        return parse_quantity(text)
    except ValueError:
        return text


def pod_qos_class(pod: Any) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = list(pod.spec.containers) + list(pod.spec.initContainers)
    requests_any = False
    guaranteed = True
    for c in containers:
        req = c.resources.requests if c.resources else {}
        lim = c.resources.limits if c.resources else {}
        if any(k in ("cpu", "memory") for k in req) or any(k in ("cpu", "memory") for k in lim):
            requests_any = True
        for resource in ("cpu", "memory"):
            if resource not in lim:
                guaranteed = False
            elif resource in req and _quantity(req[resource]) != _quantity(lim[resource]):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
