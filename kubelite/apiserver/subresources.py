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


def _scale_body(data: Any, ns: str | None, name: str) -> Scale:
    """A PUT body as a Scale, refused (400) as Kubernetes does when it names another kind or object."""
    if isinstance(data, dict):
        kind, api_version = data.get("kind"), data.get("apiVersion")
        if kind and kind != "Scale":
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind (Scale)"
            )
        if api_version and api_version != "autoscaling/v1":
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                "(autoscaling/v1)"
            )
    scale: Scale = codec.to_model(data, Scale, "Scale", "autoscaling/v1")
    meta = scale.metadata
    if meta.name and meta.name != name:
        raise errors.bad_request(
            f"the name of the object ({meta.name}) does not match the name on the URL ({name})"
        )
    if ns and meta.namespace and meta.namespace != ns:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return scale


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
            precondition: str | None
            if method == "PUT":
                wanted = _scale_body(data, ns, name)
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
