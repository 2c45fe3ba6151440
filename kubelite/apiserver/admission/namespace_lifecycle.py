"""NamespaceLifecycle: no new content in missing or terminating namespaces,
and the system namespaces cannot be deleted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.admission import AdmissionAttributes

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})

# Reads a namespace (plain JSON data) fresh enough to include every write so far.
NamespaceGetter = Callable[[str], Awaitable[dict[str, Any] | None]]


class NamespaceLifecycle:
    NAME = "NamespaceLifecycle"

    def __init__(self, get_namespace: NamespaceGetter) -> None:
        self._get_namespace = get_namespace

    async def admit(self, attrs: AdmissionAttributes) -> None:
        res = attrs.resource
        if res.plural == "namespaces" and res.group == "" and attrs.operation == "DELETE":
            if attrs.name in IMMORTAL_NAMESPACES:
                raise errors.StatusError(
                    403,
                    "Forbidden",
                    f'namespaces "{attrs.name}" is forbidden: this namespace may not be deleted',
                    {"name": attrs.name, "kind": "namespaces"},
                )
            return
        if not res.namespaced or attrs.operation != "CREATE":
            return
        ns = await self._get_namespace(attrs.namespace)
        if ns is None:
            raise errors.not_found_error("namespaces", attrs.namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating" or (ns.get("metadata") or {}).get(
            "deletionTimestamp"
        ):
            what = f'{res.group_resource} "{attrs.name}"' if attrs.name else res.group_resource
            message = (
                f"{what} is forbidden: unable to create new content in namespace {attrs.namespace} "
                "because it is being terminated"
            )
            raise errors.StatusError(
                403,
                "Forbidden",
                message,
                {
                    "name": attrs.name,
                    "kind": res.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {attrs.namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )
