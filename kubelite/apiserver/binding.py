"""The ``pods/binding`` subresource: how a scheduler assigns a pod to a node.

``POST /api/v1/namespaces/<ns>/pods/<name>/binding`` with a core/v1 Binding
(``metadata.name`` the pod, ``target`` the Node) sets the pod's
``spec.nodeName`` exactly once, copies the Binding's annotations onto the pod
and marks the ``PodScheduled`` condition True, as Kubernetes' BindingREST
does. The write goes to the store directly, compare-and-swap on the pod's
revision, because ``spec.nodeName`` is immutable through ordinary updates.
A pod that is already assigned, being deleted or still gated is a 409
Conflict; the answer to a successful binding is a Success Status (201).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.api.core_v1 import Binding, PodCondition
from kubelite.api.resources import Resource
from kubelite.api.timestamps import rfc3339
from kubelite.apiserver import codec
from kubelite.apiserver.rest import REST
from kubelite.storage.interface import ConflictError, KeyNotFoundError

_RETRIES = 10


def _binding_body(data: Any, name: str) -> Binding:
    if not isinstance(data, dict):
        raise errors.bad_request("the body of the request was not a JSON object; expected a Binding")
    kind = data.get("kind")
    if kind and kind != "Binding":
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind (Binding)")
    binding: Binding = codec.to_model(data, Binding, "Binding", "v1")
    if binding.metadata.name != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    errs: list[errors.FieldError] = []
    if binding.target.kind not in ("", "Node"):
        errs.append(errors.not_supported("target.kind", binding.target.kind, ["Node", "<empty>"]))
    if not binding.target.name:
        errs.append(errors.required("target.name"))
    if errs:
        raise errors.invalid("Binding", name, errs)
    return binding


def _assign(pod: Any, binding: Binding, now: float) -> None:
    """Set the node, annotations and PodScheduled condition, or raise 409 as Kubernetes does."""
    name = pod.metadata.name
    if pod.metadata.deletionTimestamp:
        raise errors.conflict(
            "binding", name, "", f"pod {name} is being deleted, cannot be assigned to a host"
        )
    if pod.spec.nodeName:
        raise errors.conflict(
            "binding", name, "", f'pod {name} is already assigned to node "{pod.spec.nodeName}"'
        )
    if pod.spec.schedulingGates:
        raise errors.conflict("binding", name, "", f"pod {name} has non-empty .spec.schedulingGates")
    pod.spec.nodeName = binding.target.name
    if binding.metadata.annotations:
        pod.metadata.annotations = {**pod.metadata.annotations, **binding.metadata.annotations}
    stamp = rfc3339(now)
    for cond in pod.status.conditions:
        if cond.type == "PodScheduled":
            if cond.status != "True":
                cond.lastTransitionTime = stamp
            cond.status = "True"
            cond.reason = ""
            cond.message = ""
            break
    else:
        pod.status.conditions.append(
            PodCondition(type="PodScheduled", status="True", lastTransitionTime=stamp)
        )


async def create_binding(rest: REST, res: Resource, ns: str | None, name: str, data: Any) -> web.Response:
    """Bind pod ``ns/name`` to the Binding's target node; the HTTP answer is a Status."""
    binding = _binding_body(data, name)
    if binding.metadata.namespace and ns and binding.metadata.namespace != ns:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    sres = rest.stored(res)
    key = sres.key(ns, name)
    for _ in range(_RETRIES):
        kv = await rest.store.get(key)
        if kv is None:
            raise errors.not_found_error("pods", name)
        pod = msgspec.json.decode(kv.value, type=sres.model)
        _assign(pod, binding, rest.clock())
        pod.metadata.resourceVersion = ""
        try:
            await rest.store.update(key, msgspec.json.encode(pod), expected_revision=kv.mod_revision)
        except ConflictError:
            continue
        except KeyNotFoundError:
            raise errors.not_found_error("pods", name) from None
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return web.Response(body=orjson.dumps(status), status=201, content_type="application/json")
    raise errors.conflict("pods", name)
