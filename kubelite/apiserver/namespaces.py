"""Namespaces that always exist: created at start-up when missing.

Emptying a namespace being deleted is not the server's job: deleting one
marks it Terminating (the REST layer does that, since its
``spec.finalizers`` holds ``kubernetes``), and the namespace controller of
the controller manager (``kubelite.controllers.namespace``) deletes its
content and then removes the finalizer.
"""

from __future__ import annotations

from kubelite.api import errors
from kubelite.api.resources import Registry
from kubelite.apiserver.rest import REST, WriteOptions

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure_system_namespaces(rest: REST, registry: Registry) -> None:
    res = registry.get("", "v1", "namespaces")
    assert res is not None
    for name in SYSTEM_NAMESPACES:
        if await rest.store.get(res.key(None, name)) is None:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            try:
                await rest.create(res, None, body, WriteOptions())
            except errors.StatusError as e:
                if e.reason != "AlreadyExists":
                    raise
