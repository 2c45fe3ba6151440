"""The ``pods/binding`` subresource: how a scheduler assigns a pod to a node.

``POST /api/v1/namespaces/<ns>/pods/<name>/binding`` with a core/v1 Binding
(``metadata.name`` the pod, ``target`` the Node) sets the pod's
``spec.nodeName`` exactly once, copies the Binding's annotations onto the pod
and marks the ``PodScheduled`` condition True, as Kubernetes' BindingREST
does. The write goes to the store directly, compare-and-swap on the pod's
revision, because ``spec.nodeName`` is immutable through ordinary updates.
A pod that is already assigned, being deleted or still gated is a 409
Conflict; the answer to a successful binding is a Success Status (201).

The pod is read from the watch cache, as Kubernetes' cacher hands its cached
object to GuaranteedUpdate: the compare-and-swap catches a stale copy, and
the store's conflict answer carries the current pod for the next attempt.
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
from kubelite.storage.interface import ConflictError, KeyNotFoundError, KeyValue

_RETRIES = 10
_SUCCESS = orjson.dumps(
    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
)


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
    cached = rest.cache.get(sres.storage_prefix, key)
    current: KeyValue | None = None
    for _ in range(_RETRIES):
        if cached is not None:
            value, revision = cached.data, cached.revision
        else:
            if current is None:
                current = await rest.store.get(key)
                if current is None:
                    raise errors.not_found_error("pods", name)
            value, revision = current.value, current.mod_revision
        pod = msgspec.json.decode(value, type=sres.model)
        try:
            _assign(pod, binding, rest.clock())
        except errors.StatusError:
            if cached is None:
                raise
            cached = None  # the cached copy may be behind: the stored pod decides
            continue
        pod.metadata.resourceVersion = ""
        new_value = msgspec.json.encode(pod)
        if cached is not None:
            # Only spec.nodeName of the selectable fields changed: the cache need not decode the pod.
            node = pod.spec.nodeName
            fields = {**cached.fields, "spec.nodeName": node, "spec.host": node}
            rest.cache.expect(key, new_value, cached.labels, fields)
        try:
            await rest.store.update(key, new_value, expected_revision=revision)
        except ConflictError as e:
            rest.cache.unexpect(key, new_value)
            cached, current = None, e.current
            continue
        except KeyNotFoundError:
            rest.cache.unexpect(key, new_value)
            raise errors.not_found_error("pods", name) from None
        except BaseException:
            rest.cache.unexpect(key, new_value)
            raise
        return web.Response(body=_SUCCESS, status=201, content_type="application/json")
    raise errors.conflict("pods", name)
