"""Admission: checks and changes every write passes after authorization.

A plugin is a plain class with ``NAME`` and ``async def admit(attrs)``; it
may change ``attrs.obj`` (mutating admission) or raise a ``StatusError``
(validating admission). The API server runs the configured chain in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kubelite.api.resources import Resource

# The plugins a server may be told to leave out (``--disable-admission-plugins``), by NAME.
OPTIONAL_PLUGINS = ("NamespaceLifecycle", "Priority")


@dataclass
class AdmissionAttributes:
    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    resource: Resource
    subresource: str
    namespace: str
    name: str
    obj: Any  # the typed object being written (None for DELETE)
    old_obj: Any  # the stored object (None for CREATE)
    user: Any
    dry_run: bool


class AdmissionPlugin(Protocol):
    NAME: str

    async def admit(self, attrs: AdmissionAttributes) -> None: ...
