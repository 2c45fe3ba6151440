"""Namespaces: the ones that always exist, and emptying one being deleted.

Deleting a namespace marks it Terminating (the REST layer does that, since
its ``spec.finalizers`` holds ``kubernetes``). This loop then deletes every
namespaced object in it, and once nothing is left removes the
``kubernetes`` finalizer so the namespace itself goes away. It is the
in-server stand-in for the namespace controller of the controller manager,
which takes this over in a later step.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from kubelite.api import errors
from kubelite.api.resources import Registry, Resource
from kubelite.apiserver.rest import REST, DeleteOptions, WriteOptions

log = logging.getLogger("kubelite.apiserver.namespaces")

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


class NamespaceFinalizer:
    """Empties namespaces that are being deleted, then lets them go."""

    def __init__(self, rest: REST, registry: Registry, interval: float = 1.0) -> None:
        self.rest = rest
        self.registry = registry
        self.interval = interval
        self.namespaces = registry.get("", "v1", "namespaces")

    def _content_resources(self) -> list[Resource]:
        seen: set[str] = set()
        out: list[Resource] = []
        for res in self.registry.all():
            if res.namespaced and res.storage_prefix not in seen and res.storage_of is None:
                seen.add(res.storage_prefix)
                out.append(res)
        return out

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("namespace clean-up failed; retrying")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> None:
        assert self.namespaces is not None
        await self.rest.cache.wait_ready()
        for obj in self.rest.cache.objects(self.namespaces.storage_prefix, self.namespaces.storage_prefix):
            doc = orjson.loads(obj.data)
            if (doc.get("metadata") or {}).get("deletionTimestamp"):
                await self.finalize(obj.name, doc)

    async def finalize(self, name: str, doc: dict) -> None:
        remaining = 0
        for res in self._content_resources():
            for obj in self.rest.cache.objects(res.storage_prefix, res.prefix(name)):
                remaining += 1
                meta = orjson.loads(obj.data)["metadata"]
                if meta.get("deletionTimestamp"):
                    continue  # already going; finalizers or a node agent will finish it
                try:
                    await self.rest.delete(
                        res, name, obj.name, DeleteOptions(propagation_policy="Background")
                    )
                except errors.StatusError as e:
                    if e.code not in (404, 409):
                        log.warning("deleting %s/%s in namespace %s: %s", res.plural, obj.name, name, e)
        if remaining:
            return
        spec_finalizers = (doc.get("spec") or {}).get("finalizers") or []
        if "kubernetes" in spec_finalizers:
            doc["spec"]["finalizers"] = [f for f in spec_finalizers if f != "kubernetes"]
            assert self.namespaces is not None
            try:
                await self.rest.update(self.namespaces, None, name, doc, WriteOptions(), "finalize")
            except errors.StatusError as e:
                if e.code not in (404, 409):
                    raise
