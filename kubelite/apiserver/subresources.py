"""The ``scale`` subresource: an autoscaling/v1 Scale view of a workload.

``kubectl scale`` and autoscalers read and write a workload's replica
count through it without touching the rest of the object. Reading builds a
Scale from the parent (spec.replicas, status.replicas, the selector as a
string); writing changes only the parent's ``spec.replicas``, with the
Scale's resourceVersion as the precondition.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.api.autoscaling_v1 import Scale, ScaleSpec, ScaleStatus
from kubelite.api.meta import ObjectMeta
from kubelite.api.patch import PatchError, apply_json_patch, apply_merge_patch
from kubelite.api.resources import Resource
from kubelite.api.selectors import selector_from_api, selector_to_string
from kubelite.apiserver import codec
from kubelite.apiserver.rest import REST, WriteOptions


def _selector_string(obj: Any) -> str:
    sel = obj.spec.selector
    if sel is None:
        return ""
    if isinstance(sel, dict):  # ReplicationController: a plain map
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    return selector_to_string(selector_from_api(msgspec.to_builtins(sel)))


def scale_of(obj: Any, revision: int) -> Scale:
    meta = obj.metadata
    return Scale(
        kind="Scale",
        apiVersion="autoscaling/v1",
        metadata=ObjectMeta(
            name=meta.name,
            namespace=meta.namespace,
            uid=meta.uid,
            resourceVersion=str(revision),
            creationTimestamp=meta.creationTimestamp,
        ),
        spec=ScaleSpec(replicas=obj.spec.replicas if obj.spec.replicas is not None else 1),
        status=ScaleStatus(replicas=obj.status.replicas or 0, selector=_selector_string(obj)),
    )


class ScaleHandler:
    def __init__(self, rest: REST) -> None:
        self.rest = rest

    async def handle(
        self, request: web.Request, res: Resource, ns: str | None, name: str, user: Any
    ) -> web.Response:
        method = request.method
        if method == "GET":
            obj, rev = await self.rest._read(res, ns, name)
            return web.Response(body=msgspec.json.encode(scale_of(obj, rev)), content_type="application/json")
        if method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(f"method {method} is not allowed on scale")
        body = await request.read()
        data = codec.decode_body(body, request.headers.get("Content-Type"))
        dry_run = request.query.get("dryRun") == "All"
        for _ in range(5):
            obj, rev = await self.rest._read(res, ns, name)
            current = scale_of(obj, rev)
            if method == "PUT":
                wanted = codec.to_model(data, Scale, "Scale", "autoscaling/v1")
                precondition = wanted.metadata.resourceVersion
            else:
                doc = orjson.loads(msgspec.json.encode(current))
                kind = codec.media_type(request.headers.get("Content-Type"))
                try:
                    patched = (
                        apply_json_patch(doc, data)
                        if kind == codec.JSON_PATCH
                        else apply_merge_patch(doc, data)
                    )
                except PatchError as e:
                    raise errors.StatusError(422, "Invalid", str(e)) from None
                wanted = codec.to_model(patched, Scale, "Scale", "autoscaling/v1")
                precondition = (
                    (data.get("metadata") or {}).get("resourceVersion") if isinstance(data, dict) else None
                )
            if precondition and precondition != str(rev):
                raise errors.conflict(res.plural, name, res.group)
            if wanted.spec.replicas < 0:
                raise errors.invalid(
                    "Scale",
                    name,
                    [
                        errors.invalid_value(
                            "spec.replicas", wanted.spec.replicas, "must be greater than or equal to 0"
                        )
                    ],
                    "autoscaling",
                )
            new = copy.deepcopy(obj)
            new.spec.replicas = wanted.spec.replicas
            try:
                result = await self.rest._update_object(
                    res, new, obj, rev, WriteOptions(dry_run=dry_run, user=user), ""
                )
            except errors.StatusError as e:
                if e.reason == "Conflict" and not precondition:
                    continue
                raise
            stored = msgspec.json.decode(result.body, type=res.model)
            new_rev = int(stored.metadata.resourceVersion or rev)
            return web.Response(
                body=msgspec.json.encode(scale_of(stored, new_rev)), content_type="application/json"
            )
        raise errors.conflict(res.plural, name, res.group)
