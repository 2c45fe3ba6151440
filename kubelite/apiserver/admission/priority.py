"""Priority: a new pod's ``spec.priority`` and ``spec.preemptionPolicy`` come from its PriorityClass.

As Kubernetes' Priority admission plugin does:

- Pod CREATE: ``priorityClassName`` names a PriorityClass (403 Forbidden when there
  is none); without one the global default class applies (the lowest-valued one,
  should several claim to be the default), whose name is then written into the pod,
  and with no default the priority is 0 and the policy PreemptLowerPriority. A
  ``spec.priority`` or ``spec.preemptionPolicy`` the client set must equal what the
  class gives (else 403); then both are written into the pod.
- Pod UPDATE: an update that leaves them out keeps the stored ones (validation
  refuses changing them).
- PriorityClass CREATE and UPDATE: at most one class may be ``globalDefault``.

Subresources (status, binding, ...) are not its business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.admission import AdmissionAttributes

PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
PRIORITY_WHEN_NO_DEFAULT_CLASS = 0

# Every PriorityClass (plain JSON data); with fresh=True after a consistent read, so that it
# includes every write so far (pods are many and classes rarely change: only a miss pays for it).
PriorityClassLister = Callable[[bool], Awaitable[Iterable[dict[str, Any]]]]


class Priority:
    NAME = "Priority"

    def __init__(self, list_classes: PriorityClassLister) -> None:
        self._list_classes = list_classes

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if attrs.subresource or attrs.resource.group_resource not in (
            "pods",
            "priorityclasses.scheduling.k8s.io",
        ):
            return
        if attrs.resource.plural == "pods":
            if attrs.operation == "CREATE":
                await self._resolve(attrs)
            elif attrs.operation == "UPDATE":
                _keep_stored(attrs.obj.spec, attrs.old_obj.spec)
        elif attrs.operation in ("CREATE", "UPDATE") and attrs.obj.globalDefault:
            await self._only_one_default(attrs)

    async def _resolve(self, attrs: AdmissionAttributes) -> None:
        spec = attrs.obj.spec
        classes = await self._list_classes(False)
        if spec.priorityClassName:
            pc = _named(classes, spec.priorityClassName)
            if pc is None:
                pc = _named(await self._list_classes(True), spec.priorityClassName)
            if pc is None:
                raise _forbidden(attrs, f"no PriorityClass with name {spec.priorityClassName} was found")
            priority, policy = _value(pc), pc.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
        else:
            default = _default_class(classes)
            if default is None:
                priority, policy = PRIORITY_WHEN_NO_DEFAULT_CLASS, PREEMPT_LOWER_PRIORITY
            else:
                spec.priorityClassName = _name(default)
                priority = _value(default)
                policy = default.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
        if spec.priority is not None and spec.priority != priority:
            raise _forbidden(
                attrs,
                f"the integer value of priority ({spec.priority}) must not be provided in pod spec; "
                f"priority admission controller computed {priority} from the given PriorityClass name",
            )
        if spec.preemptionPolicy is not None and spec.preemptionPolicy != policy:
            raise _forbidden(
                attrs,
                f"the string value of PreemptionPolicy ({spec.preemptionPolicy}) must not be provided in "
                f"pod spec; priority admission controller computed {policy} from the given PriorityClass name",
            )
        spec.priority = priority
        spec.preemptionPolicy = policy

    async def _only_one_default(self, attrs: AdmissionAttributes) -> None:
        default = _default_class(await self._list_classes(True))
        if default is None:
            return
        if attrs.operation == "CREATE" or _name(default) != attrs.obj.metadata.name:
            raise _forbidden(
                attrs,
                f"PriorityClass {_name(default)} is already marked as default. Only one default can exist",
            )


def _keep_stored(spec: Any, old_spec: Any) -> None:
    if spec.priority is None:
        spec.priority = old_spec.priority
    if spec.preemptionPolicy is None:
        spec.preemptionPolicy = old_spec.preemptionPolicy


def _default_class(classes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The global default class; of several (a race between two writers), the lowest-valued."""
    defaults = [c for c in classes if c.get("globalDefault")]
    return min(defaults, key=_value) if defaults else None


def _named(classes: Iterable[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((c for c in classes if _name(c) == name), None)


def _name(pc: dict[str, Any]) -> str:
    return str((pc.get("metadata") or {}).get("name", ""))


def _value(pc: dict[str, Any]) -> int:
    return int(pc.get("value") or 0)


def _forbidden(attrs: AdmissionAttributes, why: str) -> errors.StatusError:
    """403 as Kubernetes' admission.NewForbidden words it: ``<resource> "<name>" is forbidden: <why>``."""
    res = attrs.resource
    name = attrs.name or attrs.obj.metadata.name or ""
    what = f'{res.group_resource} "{name}"' if name else res.group_resource
    return errors.forbidden_error(f"{what} is forbidden: {why}", res.plural, name, res.group)
