"""OpenAPI v3 and v2 documents of the served API, generated from the typed model.

kubectl reads these: ``kubectl explain`` walks the schemas, client-side
``apply`` takes patch strategies and merge keys from them, and every write
first checks that the PATCH operation of the kind declares the
``fieldValidation`` query parameter (then it leaves field validation to the
server instead of asking for ``/openapi/v2`` as protobuf).

The documents follow the layout Kubernetes serves: ``/openapi/v3`` is an
index of one document per group version (plus ``api``, ``apis`` and
``apis/<group>``), each referenced with a content hash; a document has the
``components.schemas`` reachable from its kinds, named after their Go
packages (``io.k8s.api.core.v1.Pod``), with ``x-kubernetes-*`` extensions
from the models' ``Wire`` facts, and ``paths`` with one operation per verb.
``/openapi/v2`` is the same in Swagger 2.0 form for the whole API.

Everything is pure and cached per set of served resources: the model does
not change while the server runs. Returned dicts are shared; do not mutate
them (serve the ``*_bytes`` forms, whose SHA-512 is the published hash).

What the model does not say and Kubernetes' schemas do is kept in the small
tables below: which string fields are times or quantities, and where the Go
``required`` rule (no ``omitempty``, no ``+optional``) differs from what the
model's defaults imply. They were checked field by field against the Go
sources the models were generated from.
"""

from __future__ import annotations

import functools
import hashlib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.api import descriptions
from kubelite.api.model import FieldInfo, Model, fields_of
from kubelite.api.resources import Registry, Resource

OPENAPI_VERSION = "3.0.0"
INFO = {"title": "Kubernetes", "version": "v1.32.0+kubelite"}

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
TIME = META + "Time"
MICRO_TIME = META + "MicroTime"
FIELDS_V1 = META + "FieldsV1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# Schemas of types whose JSON form is not a struct (Swagger 2.0 form).
_SPECIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    TIME: {"type": "string", "format": "date-time"},
    MICRO_TIME: {"type": "string", "format": "date-time"},
    QUANTITY: {"type": "string"},
    INT_OR_STRING: {"type": "string", "format": "int-or-string"},
    RAW_EXTENSION: {"type": "object"},
    FIELDS_V1: {"type": "object"},
}
# OpenAPI v3 can say "either" as Kubernetes' v3 documents do; kubectl explain then shows <IntOrString>, <Quantity>.
_SPECIAL_SCHEMAS_V3: dict[str, dict[str, Any]] = {
    **_SPECIAL_SCHEMAS,
    QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}]},
    INT_OR_STRING: {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
}


def _table(text: str) -> dict[str, tuple[str, ...]]:
    """Parse lines of ``module.Class field field ...``."""
    return {line.split()[0]: tuple(line.split()[1:]) for line in text.strip().splitlines()}


# Fields typed ``str | None`` that are metav1.Time / MicroTime (the names are unambiguous in the model).
_TIME_FIELDS = frozenset(
    "creationTimestamp deletionTimestamp time lastTransitionTime sinceTime firstTimestamp lastTimestamp "
    "deprecatedFirstTimestamp deprecatedLastTimestamp lastPhaseTransitionTime startTime completionTime "
    "lastScheduleTime lastSuccessfulTime lastScaleTime expirationTimestamp lastProbeTime timeAdded "
    "lastHeartbeatTime lastUpdateTime startedAt finishedAt".split()
)
_MICRO_TIME_FIELDS = frozenset({"eventTime", "lastObservedTime", "acquireTime", "renewTime"})
# ``dict[str, str]`` fields that are ResourceLists (maps of quantities).
_RESOURCE_LIST_FIELDS = frozenset(
    "capacity allocatedResources overhead allocatable hard used limits requests max min default "
    "defaultRequest maxLimitRequestRatio".split()
)
# Single quantities, by class and field.
_QUANTITY_FIELDS = frozenset(
    tuple(pair.split("."))
    for pair in """
CSIStorageCapacity.capacity
CSIStorageCapacity.maximumVolumeSize
EmptyDirVolumeSource.sizeLimit
NodeAllocatableMappedResources.quantity
NodeAllocatableOverheadResources.perPod
NodeAllocatableOverheadResources.perContainer
HPAScalingRules.tolerance
MetricTarget.value
MetricTarget.averageValue
MetricValueStatus.value
MetricValueStatus.averageValue
ResourceFieldSelector.divisor
""".split()
)

# Required fields the model's defaults do not reveal (struct values and pointers), by "module.Class".
_ALSO_REQUIRED = _table(
    """
apps_v1.ControllerRevision data
apps_v1.DaemonSetSpec selector template
apps_v1.DeploymentSpec selector template
apps_v1.ReplicaSetSpec selector
apps_v1.StatefulSetSpec selector template
authentication_v1.TokenReview spec
authorization_v1.LocalSubjectAccessReview spec
authorization_v1.SelfSubjectAccessReview spec
authorization_v1.SelfSubjectRulesReview spec
authorization_v1.SubjectAccessReview spec
autoscaling_v1.HorizontalPodAutoscalerSpec scaleTargetRef
autoscaling_v2.ContainerResourceMetricSource target
autoscaling_v2.ContainerResourceMetricStatus current
autoscaling_v2.ExternalMetricSource metric target
autoscaling_v2.ExternalMetricStatus metric current
autoscaling_v2.HorizontalPodAutoscalerSpec scaleTargetRef
autoscaling_v2.ObjectMetricSource describedObject target metric
autoscaling_v2.ObjectMetricStatus metric current describedObject
autoscaling_v2.PodsMetricSource metric target
autoscaling_v2.PodsMetricStatus metric current
autoscaling_v2.ResourceMetricSource target
autoscaling_v2.ResourceMetricStatus current
batch_v1.CronJobSpec jobTemplate
batch_v1.JobSpec template
core_v1.Binding target
core_v1.Event metadata involvedObject
core_v1.EvictionResponder priority
core_v1.HTTPGetAction port
core_v1.NodeAllocatableMappedResources quantity
core_v1.PersistentVolumeClaimTemplate spec
core_v1.PreferredSchedulingTerm preference
core_v1.ScaleIOPersistentVolumeSource secretRef
core_v1.ScaleIOVolumeSource secretRef
core_v1.TCPSocketAction port
core_v1.WeightedPodAffinityTerm podAffinityTerm
events_v1.Event eventTime
events_v1.EventSeries lastObservedTime
meta.Condition lastTransitionTime
meta.WatchEvent object
networking_v1.HTTPIngressPath pathType backend
rbac_v1.ClusterRoleBinding roleRef
rbac_v1.RoleBinding roleRef
storage_v1.CSIDriver spec
storage_v1.CSINode spec
storage_v1.VolumeAttachment spec
storage_v1.VolumeAttachmentSpec source
"""
)
# Always-encoded fields that Kubernetes nevertheless marks optional.
_NOT_REQUIRED = _table(
    """
apps_v1.ControllerRevision revision
apps_v1.DaemonSetCondition type status
apps_v1.DeploymentCondition type status
apps_v1.ReplicaSetCondition type status
apps_v1.StatefulSetCondition type status
apps_v1.StatefulSetOrdinals start
apps_v1.StatefulSetSpec serviceName
apps_v1.StatefulSetStatus availableReplicas
authentication_v1.TokenRequestSpec audiences
authentication_v1.TokenRequestStatus token
autoscaling_v2.HorizontalPodAutoscalerStatus currentMetrics
batch_v1.PodFailurePolicyOnPodConditionsPattern status
core_v1.ContainerImage names
core_v1.Event reportingComponent reportingInstance
core_v1.NodeRuntimeHandler name
core_v1.ProjectedVolumeSource sources
discovery_v1.EndpointSlice endpoints ports
policy_v1.PodDisruptionBudgetStatus disruptionsAllowed currentHealthy desiredHealthy expectedPods
rbac_v1.ClusterRole rules
rbac_v1.Role rules
rbac_v1.RoleRef apiGroup
scheduling_v1.PriorityClass value
storage_v1.CSINodeDriver topologyKeys
"""
)

# Subresources whose body is another kind: subresource -> (model "module:Class", group, version, kind).
_SUBRESOURCE_KINDS: dict[str, tuple[str, str, str, str]] = {
    "scale": ("autoscaling_v1:Scale", "autoscaling", "v1", "Scale"),
    "binding": ("core_v1:Binding", "", "v1", "Binding"),
    "eviction": ("policy_v1:Eviction", "policy", "v1", "Eviction"),
    "token": ("authentication_v1:TokenRequest", "authentication.k8s.io", "v1", "TokenRequest"),
}
_CONNECT_KINDS = {
    ("pods", "exec"): "PodExecOptions",
    ("pods", "attach"): "PodAttachOptions",
    ("pods", "portforward"): "PodPortForwardOptions",
    ("pods", "proxy"): "PodProxyOptions",
    ("services", "proxy"): "ServiceProxyOptions",
    ("nodes", "proxy"): "NodeProxyOptions",
}

_NONE = type(None)
_LABEL = re.compile(r"\(([^()]+)\)\.?\s*$")

# --------------------------------------------------------------------------- schema names


@functools.cache
def schema_name(cls: type[Model]) -> str:
    """The Kubernetes name of the schema of ``cls``, such as ``io.k8s.api.core.v1.Pod``."""
    module = cls.__module__.rsplit(".", 1)[-1]
    if module == "meta":
        return ("io.k8s.apimachinery.pkg.version." if cls.__name__ == "Info" else META) + cls.__name__
    # The generator writes the Go package (or group/version) in the class docstring: "Pod (core/v1)."
    m = _LABEL.search(cls.__doc__ or "")
    if m and "/" in m.group(1):
        group, version = m.group(1).rsplit("/", 1)
        package = group.split(".")[0]
    else:
        package, _, version = module.rpartition("_")
    return f"io.k8s.api.{package}.{version}.{cls.__name__}"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _key(cls: type[Model]) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _is_model(t: Any) -> typing.TypeGuard[type[Model]]:
    return isinstance(t, type) and issubclass(t, Model)


# --------------------------------------------------------------------------- schemas

# A neutral schema uses {"$ref": "<schema name>"}; rendering turns it into the v2 or v3 form.


def _required(cls: type[Model]) -> list[str]:
    import msgspec

    key = _key(cls)
    also, drop = set(_ALSO_REQUIRED.get(key, ())), set(_NOT_REQUIRED.get(key, ()))
    out = []
    for f in msgspec.structs.fields(cls):
        df = f.default_factory
        # A factory default marks a field Go always encodes (no omitempty): required unless Kubernetes says optional.
        always = df in (str, int, bool, float, bytes) or getattr(df, "__name__", "") == "<lambda>"
        if (always and f.encode_name not in drop) or f.encode_name in also:
            out.append(f.encode_name)
    return out


def _type_schema(t: Any, owner: type[Model], field: str) -> dict[str, Any]:
    """The neutral schema of annotation ``t`` of ``owner.field``."""
    origin = typing.get_origin(t)
    if origin in (types.UnionType, typing.Union):
        args = set(typing.get_args(t)) - {_NONE}
        if args == {int, str}:
            return {"$ref": INT_OR_STRING}
        if len(args) == 1:
            inner = args.pop()
            if inner is str:
                if field in _TIME_FIELDS:
                    return {"$ref": TIME}
                if field in _MICRO_TIME_FIELDS:
                    return {"$ref": MICRO_TIME}
            return _type_schema(inner, owner, field)
        return {}
    if origin is list:
        (item,) = typing.get_args(t)
        return {"type": "array", "items": _type_schema(item, owner, field)}
    if origin is dict:
        _, value = typing.get_args(t)
        if value is str and field in _RESOURCE_LIST_FIELDS:
            return {"type": "object", "additionalProperties": {"$ref": QUANTITY}}
        if value == (str | None):  # a map of times (PodDisruptionBudgetStatus.disruptedPods)
            return {"type": "object", "additionalProperties": {"$ref": TIME}}
        return {"type": "object", "additionalProperties": _type_schema(value, owner, field)}
    if _is_model(t):
        return {"$ref": schema_name(t)}
    if t is str:
        if (owner.__name__, field) in _QUANTITY_FIELDS:
            return {"$ref": QUANTITY}
        return {"type": "string"}
    if t is bool:
        return {"type": "boolean"}
    if t is int:
        return {"type": "integer"}
    if t is float:
        return {"type": "number", "format": "double"}
    if t is bytes:
        return {"type": "string", "format": "byte"}
    if t is typing.Any:
        return {"$ref": FIELDS_V1 if field == "fieldsV1" else RAW_EXTENSION}
    return {}


def _property(owner: type[Model], info: FieldInfo, kind: bool) -> dict[str, Any]:
    t = info.type
    if (owner.__name__, info.name) in _QUANTITY_FIELDS and t == (str | None):
        schema: dict[str, Any] = {"$ref": QUANTITY}
    else:
        schema = _type_schema(t, owner, info.name)
    text = descriptions.field_description(owner.__name__, info.name, kind=kind)
    if text:
        schema["description"] = text
    w = info.wire
    if w.key:
        schema["x-kubernetes-patch-merge-key"] = w.key
    if w.strategy:
        schema["x-kubernetes-patch-strategy"] = w.strategy
    if w.list_type:
        schema["x-kubernetes-list-type"] = w.list_type
    if w.map_keys:
        schema["x-kubernetes-list-map-keys"] = list(w.map_keys)
    return schema


def _struct_schema(cls: type[Model], gvks: list[dict[str, str]]) -> dict[str, Any]:
    kind = bool(gvks) or cls.__name__.endswith("List")
    schema: dict[str, Any] = {}
    text = descriptions.type_description(cls.__name__)
    if text:
        schema["description"] = text
    props = {name: _property(cls, info, kind) for name, info in fields_of(cls).items()}
    if props:
        schema["properties"] = props
    required = _required(cls)
    if required:
        schema["required"] = required
    schema["type"] = "object"
    if gvks:
        schema["x-kubernetes-group-version-kind"] = gvks
    return schema


def _refs(schema: Any) -> list[str]:
    out: list[str] = []
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "$ref":
                out.append(v)
            else:
                out += _refs(v)
    elif isinstance(schema, list):
        for v in schema:
            out += _refs(v)
    return out


class _Model:
    """Every schema reachable from the served kinds, in neutral form."""

    def __init__(self, resources: tuple[Resource, ...]) -> None:
        self.classes: dict[str, type[Model]] = {}
        self.gvks: dict[str, list[dict[str, str]]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        from kubelite.api import meta

        served = sorted({(r.group, r.version) for r in resources})
        for cls in (meta.DeleteOptions, meta.WatchEvent):  # shared by every group version, as in Kubernetes
            for group, version in served:
                self._gvk(cls, group, version, cls.__name__)
        self._gvk(meta.Status, "", "v1", "Status")
        for r in resources:
            model = _model_of(r)
            if model is None:
                continue
            self._gvk(model, r.group, r.version, r.kind)
            lst = getattr(_module_of(model), r.list_kind, None)
            if _is_model(lst):
                self._gvk(lst, r.group, r.version, r.list_kind)
            for sub in r.subresources:
                if sub in _SUBRESOURCE_KINDS:
                    path, g, v, k = _SUBRESOURCE_KINDS[sub]
                    self._gvk(_load(path), g, v, k)
        for other in (meta.Patch, meta.APIVersions, meta.APIGroupList, meta.APIGroup, meta.APIResourceList):
            self._add(other)
        self._walk()

    def _gvk(self, cls: type[Model], group: str, version: str, kind: str) -> None:
        name = self._add(cls)
        entry = {"group": group, "kind": kind, "version": version}
        if entry not in self.gvks.setdefault(name, []):
            self.gvks[name].append(entry)
            self.schemas.pop(name, None)

    def _add(self, cls: type[Model]) -> str:
        name = schema_name(cls)
        self.classes.setdefault(name, cls)
        return name

    def schema(self, name: str, v3: bool = False) -> dict[str, Any]:
        if name in _SPECIAL_SCHEMAS:
            out = dict((_SPECIAL_SCHEMAS_V3 if v3 else _SPECIAL_SCHEMAS)[name])
            text = descriptions.type_description(_short(name))
            if text:
                out["description"] = text
            return out
        if name not in self.schemas:
            self.schemas[name] = _struct_schema(self.classes[name], self.gvks.get(name, []))
        return self.schemas[name]

    def closure(self, roots: list[str], v3: bool) -> dict[str, dict[str, Any]]:
        """The schemas named by ``roots`` and everything they reference, sorted by name."""
        seen: dict[str, dict[str, Any]] = {}
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen[name] = self.schema(name, v3)
                todo += [ref for ref in _refs(seen[name]) if ref not in seen]
        return dict(sorted(seen.items()))

    def _walk(self) -> None:
        """Add every class reachable from the ones already known."""
        todo = list(self.classes.values())
        while todo:
            cls = todo.pop()
            for info in fields_of(cls).values():
                for t in _model_types(info.type):
                    name = schema_name(t)
                    if name not in self.classes:
                        self.classes[name] = t
                        todo.append(t)


def _model_types(t: Any) -> list[type[Model]]:
    if _is_model(t):
        return [t]
    out: list[type[Model]] = []
    for a in typing.get_args(t):
        out += _model_types(a)
    return out


def _module_of(cls: type[Model]) -> Any:
    import sys

    return sys.modules[cls.__module__]


def _load(path: str) -> type[Model]:
    import importlib

    module, _, name = path.partition(":")
    cls: type[Model] = getattr(importlib.import_module(f"kubelite.api.{module}"), name)
    return cls


def _model_of(r: Resource) -> type[Model] | None:
    try:
        model = r.model
    except (ImportError, AttributeError, ValueError):
        return None
    return model if _is_model(model) else None


# --------------------------------------------------------------------------- rendering v2 / v3


def _render(schema: Any, prefix: str, v3: bool, top: bool = True) -> Any:
    """Turn neutral refs into ``prefix``-qualified ones; in v3 wrap property refs in ``allOf``."""
    if isinstance(schema, list):
        return [_render(v, prefix, v3, False) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "$ref":
            out[k] = prefix + v
        elif k == "properties":
            out[k] = {
                name: (_wrap(p, prefix) if v3 else _render(p, prefix, v3, False)) for name, p in v.items()
            }
        elif k.startswith("x-kubernetes-") or k in ("required", "description", "type", "format"):
            out[k] = v
        else:
            out[k] = _render(v, prefix, v3, False)
    return out


def _wrap(prop: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A v3 property: a reference with siblings goes inside ``allOf``, as Kubernetes writes it."""
    if "$ref" not in prop:
        return typing.cast(dict[str, Any], _render(prop, prefix, True, False))
    out: dict[str, Any] = {"allOf": [{"$ref": prefix + prop["$ref"]}]}
    for k, v in prop.items():
        if k != "$ref":
            out[k] = v
    return out


# --------------------------------------------------------------------------- paths

# Query and path parameters: name -> (in, type, description).
_PARAMS: dict[str, tuple[str, str, str]] = {
    "pretty": ("query", "string", "If 'true', the output is indented."),
    "dryRun": ("query", "string", "When All, the request is checked but nothing is persisted."),
    "fieldManager": ("query", "string", "The name of the actor making the change, for field ownership."),
    "fieldValidation": (
        "query",
        "string",
        "What to do with unknown or duplicate fields: Ignore, Warn or Strict.",
    ),
    "force": ("query", "boolean", "On apply, take over fields that other managers own."),
    "allowWatchBookmarks": (
        "query",
        "boolean",
        "Ask for BOOKMARK events carrying the latest resource version.",
    ),
    "continue": ("query", "string", "The token of a previous page of a list, to fetch the next one."),
    "fieldSelector": ("query", "string", "Restrict the objects by their fields."),
    "labelSelector": ("query", "string", "Restrict the objects by their labels."),
    "limit": ("query", "integer", "The most objects to return; fetch the rest with continue."),
    "resourceVersion": ("query", "string", "Which version of the data the answer may come from."),
    "resourceVersionMatch": ("query", "string", "How resourceVersion applies: Exact or NotOlderThan."),
    "sendInitialEvents": ("query", "boolean", "Begin a watch with synthetic events for the current objects."),
    "timeoutSeconds": ("query", "integer", "End the list or watch call after this many seconds."),
    "watch": ("query", "boolean", "Watch for changes instead of listing."),
    "gracePeriodSeconds": ("query", "integer", "Seconds the object gets to terminate; 0 deletes at once."),
    "orphanDependents": (
        "query",
        "boolean",
        "Deprecated: whether dependents are orphaned; see propagationPolicy.",
    ),
    "propagationPolicy": (
        "query",
        "string",
        "How dependents are collected: Orphan, Background or Foreground.",
    ),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "query",
        "boolean",
        "Delete an object that cannot be read from storage; may break the cluster.",
    ),
    "namespace": ("path", "string", "The namespace of the objects."),
    "path": ("path", "string", "The path to forward to."),
    "container": ("query", "string", "The container; may be left out when the pod has only one."),
    "follow": ("query", "boolean", "Keep streaming the log as it grows."),
    "previous": ("query", "boolean", "Show the log of the previous, terminated container."),
    "tailLines": ("query", "integer", "Show only this many lines from the end."),
    "sinceSeconds": ("query", "integer", "Show only lines newer than this many seconds."),
    "sinceTime": ("query", "string", "Show only lines newer than this RFC 3339 time."),
    "timestamps": ("query", "boolean", "Prefix every line with its timestamp."),
    "limitBytes": ("query", "integer", "Stop after this many bytes of log."),
    "command": ("query", "string", "The command to run, one argument per parameter."),
    "stdin": ("query", "boolean", "Attach standard input."),
    "stdout": ("query", "boolean", "Attach standard output."),
    "stderr": ("query", "boolean", "Attach standard error."),
    "tty": ("query", "boolean", "Allocate a terminal."),
    "ports": ("query", "integer", "The ports to forward."),
}

_LIST = (
    "allowWatchBookmarks continue fieldSelector labelSelector limit resourceVersion resourceVersionMatch "
    "sendInitialEvents timeoutSeconds watch"
).split()
_WRITE = ["dryRun", "fieldManager", "fieldValidation"]
_PATCH = [*_WRITE, "force"]
_DELETE = "dryRun gracePeriodSeconds ignoreStoreReadErrorWithClusterBreakingPotential orphanDependents propagationPolicy"
_DELETE_ONE = _DELETE.split()
_DELETE_MANY = sorted({*_DELETE_ONE, *_LIST} - {"watch", "allowWatchBookmarks"}, key=str.lower)
_LOG = "container follow limitBytes previous sinceSeconds sinceTime tailLines timestamps".split()
_EXEC = "command container stderr stdin stdout tty".split()
_CONNECT_QUERY = {"exec": _EXEC, "attach": _EXEC[1:], "portforward": ["ports"]}

_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_OBJECT_TYPES = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
_STREAM_TYPES = (
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
)
_LOG_TYPES = ("text/plain", *_OBJECT_TYPES)
_OK = (("200", "OK"),)
_CREATED = (*_OK, ("201", "Created"))
_ACCEPTED = (*_CREATED, ("202", "Accepted"))
_DELETED = (*_OK, ("202", "Accepted"))
_STRING = "string"  # a result that is plain text, not a schema


@dataclass(frozen=True)
class _Op:
    """One operation in neutral form; ``render`` makes the v2 or v3 object."""

    method: str
    op_id: str
    text: str
    action: str
    gvk: tuple[str, str, str]  # (group, version, kind); empty kind: none
    tag: str
    params: tuple[str, ...] | list[str] = ()
    body: str = ""  # schema name of the request body
    body_types: tuple[str, ...] = ("*/*",)
    body_required: bool = True
    result: str = ""  # schema name of the response, or _STRING
    result_types: tuple[str, ...] = _OBJECT_TYPES
    codes: tuple[tuple[str, str], ...] = _OK

    def render(self, prefix: str, v3: bool) -> dict[str, Any]:
        op: dict[str, Any] = {"description": self.text, "operationId": self.op_id}
        params = [_render_param(p, v3) for p in self.params]
        body_ref = {"$ref": prefix + self.body}
        if not v3:
            op["consumes"] = list(self.body_types) if self.body else ["*/*"]
            op["produces"] = list(self.result_types) if self.result else ["*/*"]
            op["schemes"] = ["https"]
            if self.body:
                params.append(
                    {"in": "body", "name": "body", "required": self.body_required, "schema": body_ref}
                )
        if params:
            op["parameters"] = params
        if v3 and self.body:
            op["requestBody"] = {"content": {t: {"schema": body_ref} for t in self.body_types}}
            if self.body_required:
                op["requestBody"]["required"] = True
        responses: dict[str, Any] = {}
        for code, text in self.codes:
            response: dict[str, Any] = {"description": text}
            if self.result:
                schema = {"type": "string"} if self.result == _STRING else {"$ref": prefix + self.result}
                if v3:
                    response["content"] = {t: {"schema": schema} for t in self.result_types}
                else:
                    response["schema"] = schema
            responses[code] = response
        responses["401"] = {"description": "Unauthorized"}
        op["responses"] = responses
        op["tags"] = [self.tag]
        if self.action:
            op["x-kubernetes-action"] = self.action
        if self.gvk[2]:
            group, version, kind = self.gvk
            op["x-kubernetes-group-version-kind"] = {"group": group, "kind": kind, "version": version}
        return op


def _render_param(name: str, v3: bool) -> dict[str, Any]:
    if name.startswith("name:"):  # the object name, described with its kind
        where, kind, text = "path", "string", f"The name of the {name[5:]}."
        name = "name"
    else:
        where, kind, text = _PARAMS[name]
    out: dict[str, Any] = {"description": text, "in": where, "name": name}
    if where == "path":
        out["required"] = True
    if v3:
        out["schema"] = {"type": kind, "uniqueItems": True}
    else:
        out.update({"type": kind, "uniqueItems": True})
    return out


def _group_words(group: str, version: str) -> tuple[str, str]:
    """``("AppsV1", "apps_v1")``, ``("RbacAuthorizationV1", "rbacAuthorization_v1")``, ``("CoreV1", "core_v1")``."""
    words = [w for w in (group.removesuffix(".k8s.io") or "core").split(".") if w]
    title = [w[:1].upper() + w[1:] for w in words]
    return "".join(title) + version[:1].upper() + version[1:], words[0] + "".join(title[1:]) + "_" + version


_Paths = dict[str, tuple[list[str], list[_Op]]]  # path -> (path-level parameters, operations)


def _resource_paths(r: Resource) -> _Paths:
    """The paths of one resource and its subresources, as Kubernetes lays them out."""
    model = _model_of(r)
    if model is None:
        return {}
    obj = schema_name(model)
    lst = getattr(_module_of(model), r.list_kind, None)
    objs = schema_name(lst) if _is_model(lst) else obj
    gvk = (r.group, r.version, r.kind)
    words, tag = _group_words(r.group, r.version)
    ns = "Namespaced" if r.namespaced else ""
    root = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    base = f"{root}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{root}/{r.plural}"
    watch = (
        f"{root}/watch/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{root}/watch/{r.plural}"
    )
    scope = ["namespace", "pretty"] if r.namespaced else ["pretty"]
    named = [f"name:{r.kind}", *scope]
    verbs = set(r.verbs)
    status, options, patch = META + "Status", META + "DeleteOptions", META + "Patch"
    event = META + "WatchEvent"

    def op(
        verb: str, method: str, op_id: str, text: str, action: str, params: list[str], **kw: Any
    ) -> _Op | None:
        return _Op(method, op_id, text, action, gvk, tag, params, **kw) if verb in verbs else None

    def name(prefix: str, suffix: str = "") -> str:
        return f"{prefix}{words}{ns}{r.kind}{suffix}"

    k = r.kind
    table: list[tuple[str, list[str], list[_Op | None]]] = [
        (
            base,
            scope,
            [
                op("list", "get", name("list"), f"list or watch objects of kind {k}", "list", _LIST,
                   result=objs, result_types=_STREAM_TYPES),
                op("create", "post", name("create"), f"create a {k}", "post", _WRITE,
                   body=obj, result=obj, codes=_ACCEPTED),
                op("deletecollection", "delete", f"delete{words}Collection{ns}{k}", f"delete a collection of {k}",
                   "deletecollection", _DELETE_MANY, body=options, body_required=False, result=status),
            ],
        ),
        (
            f"{base}/{{name}}",
            named,
            [
                op("get", "get", name("read"), f"read the specified {k}", "get", [], result=obj),
                op("update", "put", name("replace"), f"replace the specified {k}", "put", _WRITE,
                   body=obj, result=obj, codes=_CREATED),
                op("patch", "patch", name("patch"), f"partially update the specified {k}", "patch", _PATCH,
                   body=patch, body_types=_PATCH_TYPES, result=obj, codes=_CREATED),
                op("delete", "delete", name("delete"), f"delete a {k}", "delete", _DELETE_ONE,
                   body=options, body_required=False, result=status, codes=_DELETED),
            ],
        ),
        (
            watch,
            scope,
            [op("watch", "get", name("watch", "List"), f"watch changes to a list of {k}", "watchlist", _LIST,
                result=event, result_types=_STREAM_TYPES)],
        ),
        (
            f"{watch}/{{name}}",
            named,
            [op("watch", "get", name("watch"), f"watch changes to an object of kind {k}", "watch", _LIST,
                result=event, result_types=_STREAM_TYPES)],
        ),
    ]  # fmt: skip
    if r.namespaced:
        table.append(
            (
                f"{root}/{r.plural}",
                ["pretty"],
                [op("list", "get", f"list{words}{k}ForAllNamespaces", f"list or watch objects of kind {k}", "list",
                    _LIST, result=objs, result_types=_STREAM_TYPES)],
            )
        )  # fmt: skip
        table.append(
            (
                f"{root}/watch/{r.plural}",
                ["pretty"],
                [op("watch", "get", f"watch{words}{k}ListForAllNamespaces", f"watch changes to a list of {k}",
                    "watchlist", _LIST, result=event, result_types=_STREAM_TYPES)],
            )
        )  # fmt: skip
    paths: _Paths = {}
    for path, params, maybe in table:
        ops = [o for o in maybe if o is not None]
        if ops:
            paths[path] = (params, ops)
    for sub in r.subresources:
        paths.update(_subresource_paths(r, sub, f"{base}/{{name}}/{sub}", named, obj, words, tag))
    return paths


def _subresource_paths(
    r: Resource, sub: str, path: str, named: list[str], obj: str, words: str, tag: str
) -> _Paths:
    ns = "Namespaced" if r.namespaced else ""
    title = {"ephemeralcontainers": "EphemeralContainers"}.get(sub, sub[:1].upper() + sub[1:])
    op_id = f"{words}{ns}{r.kind}{title}"
    gvk = (r.group, r.version, r.kind)
    k = r.kind
    if sub in ("status", "scale", "ephemeralcontainers", "approval"):
        target = obj
        if sub == "scale":
            model, *sub_gvk = _SUBRESOURCE_KINDS["scale"]
            target, gvk = schema_name(_load(model)), (sub_gvk[0], sub_gvk[1], sub_gvk[2])
        ops = [
            _Op("get", f"read{op_id}", f"read {sub} of the specified {k}", "get", gvk, tag, result=target),
            _Op("put", f"replace{op_id}", f"replace {sub} of the specified {k}", "put", gvk, tag, _WRITE,
                body=target, result=target, codes=_CREATED),
            _Op("patch", f"patch{op_id}", f"partially update {sub} of the specified {k}", "patch", gvk, tag,
                _PATCH, body=META + "Patch", body_types=_PATCH_TYPES, result=target, codes=_CREATED),
        ]  # fmt: skip
        return {path: (named, ops)}
    if sub in ("binding", "eviction", "token"):
        model, group, version, kind = _SUBRESOURCE_KINDS[sub]
        target = schema_name(_load(model))
        post = _Op("post", f"create{op_id}", f"create {kind} of a {k}", "post", (group, version, kind), tag, _WRITE,
                   body=target, result=target, codes=_ACCEPTED)  # fmt: skip
        return {path: (named, [post])}
    if sub == "finalize":
        put = _Op("put", f"replace{op_id}", f"replace finalize of the specified {k}", "put", gvk, tag, _WRITE,
                  body=obj, result=obj, codes=_CREATED)  # fmt: skip
        return {path: (named, [put])}
    if sub == "log":
        log = _Op("get", f"read{op_id}", f"read log of the specified {k}", "get", gvk, tag, _LOG,
                  result=_STRING, result_types=_LOG_TYPES)  # fmt: skip
        return {path: (named, [log])}
    connect = _CONNECT_KINDS.get((r.plural, sub))
    if connect is None:
        return {}
    scope = [named[0], *(["namespace"] if r.namespaced else [])]
    methods = (
        ("delete", "get", "head", "options", "patch", "post", "put") if sub == "proxy" else ("get", "post")
    )
    variants = (("", []), ("/{path}", ["path"])) if sub == "proxy" else (("", []),)
    out: _Paths = {}
    for suffix, extra in variants:
        with_path = "WithPath" if extra else ""
        ops = [
            _Op(m, f"connect{words}{m.capitalize()}{ns}{k}{title}{with_path}", f"connect {m.upper()} requests to "
                f"{sub} of {k}", "connect", ("", "v1", connect), tag, _CONNECT_QUERY.get(sub, []),
                result=_STRING, result_types=("*/*",))
            for m in methods
        ]  # fmt: skip
        out[path + suffix] = ([*scope, *extra], ops)
    return out


def _render_paths(paths: _Paths, prefix: str, v3: bool) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(paths):
        scope, ops = paths[path]
        entry: dict[str, Any] = {o.method: o.render(prefix, v3) for o in ops}
        if scope:
            entry["parameters"] = [_render_param(p, v3) for p in scope]
        out[path] = dict(sorted(entry.items()))
    return out


def _discovery(path: str, op_id: str, result: str, tag: str) -> _Paths:
    op = _Op("get", op_id, "get discovery information", "", ("", "", ""), tag, result=result)
    return {path: ([], [op])}


# --------------------------------------------------------------------------- documents


@functools.lru_cache(maxsize=4)
def _model(resources: tuple[Resource, ...]) -> _Model:
    return _Model(resources)


def _served(registry: Registry) -> tuple[Resource, ...]:
    return tuple(sorted(registry.all(), key=lambda r: (r.group, r.version, r.plural)))


def _doc_paths(resources: tuple[Resource, ...], path: str) -> tuple[_Paths, list[str]] | None:
    """The neutral paths of the v3 document ``path`` and the schemas they need, or None if unknown."""
    parts = path.strip("/").split("/")
    if parts == ["api"]:
        return _discovery("/api/", "getCoreAPIVersions", META + "APIVersions", "core"), [META + "APIVersions"]
    if parts == ["apis"]:
        return _discovery("/apis/", "getAPIVersions", META + "APIGroupList", "apis"), [META + "APIGroupList"]
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in {r.group for r in resources if r.group}:
        words, tag = _group_words(parts[1], "")
        paths = _discovery(f"/apis/{parts[1]}/", f"get{words}APIGroup", META + "APIGroup", tag.rstrip("_"))
        return paths, [META + "APIGroup"]
    if len(parts) == 2 and parts[0] == "api":
        group, version = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis" and parts[1]:
        group, version = parts[1], parts[2]
    else:
        return None
    served = [r for r in resources if (r.group, r.version) == (group, version) and _model_of(r) is not None]
    if not served:
        return None
    words, tag = _group_words(group, version)
    root = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
    paths = _discovery(root, f"get{words}APIResources", META + "APIResourceList", tag)
    for r in served:
        paths.update(_resource_paths(r))
    roots = [META + n for n in ("DeleteOptions", "Status", "WatchEvent", "Patch")]
    roots += [
        ref for _, ops in paths.values() for o in ops for ref in (o.body, o.result) if ref and ref != _STRING
    ]
    return paths, roots


_SECURITY = {
    "BearerToken": {
        "description": "A bearer token.",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}


@functools.lru_cache(maxsize=64)
def _v3(resources: tuple[Resource, ...], path: str) -> tuple[dict[str, Any], bytes] | None:
    found = _doc_paths(resources, path)
    if found is None:
        return None
    paths, roots = found
    m = _model(resources)
    prefix = "#/components/schemas/"
    schemas = {name: _render(s, prefix, True) for name, s in m.closure(roots, True).items()}
    doc = {
        "components": {"schemas": schemas, "securitySchemes": _SECURITY},
        "info": INFO,
        "openapi": OPENAPI_VERSION,
        "paths": _render_paths(paths, prefix, True),
        "security": [{"BearerToken": []}],
    }
    return doc, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _v3_paths(resources: tuple[Resource, ...]) -> list[str]:
    out = ["api", "apis"]
    for group, version in sorted({(r.group, r.version) for r in resources}):
        if group:
            if f"apis/{group}" not in out:
                out.append(f"apis/{group}")
            out.append(f"apis/{group}/{version}")
        else:
            out.append(f"api/{version}")
    return out


@functools.lru_cache(maxsize=4)
def _index(resources: tuple[Resource, ...]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path in _v3_paths(resources):
        built = _v3(resources, path)
        if built is None:
            continue
        digest = hashlib.sha512(built[1]).hexdigest().upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": dict(sorted(paths.items()))}


def v3_index(registry: Registry) -> dict[str, Any]:
    """The body of ``GET /openapi/v3``: every document with its content hash."""
    return _index(_served(registry))


def v3_document(registry: Registry, path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document ``path`` (``api/v1``, ``apis/apps/v1``, ``apis/apps``, ``api``, ``apis``).

    None when there is no such document (answer 404).
    """
    built = _v3(_served(registry), path.strip("/"))
    return None if built is None else built[0]


def v3_document_bytes(registry: Registry, path: str) -> bytes | None:
    """``v3_document`` encoded as served; the index's hash is the SHA-512 of these bytes."""
    built = _v3(_served(registry), path.strip("/"))
    return None if built is None else built[1]


def v3_hash(registry: Registry, path: str) -> str | None:
    """The upper-case hex SHA-512 of ``v3_document_bytes`` (the ``hash`` query of the index)."""
    body = v3_document_bytes(registry, path)
    return None if body is None else hashlib.sha512(body).hexdigest().upper()


@functools.lru_cache(maxsize=4)
def _v2(resources: tuple[Resource, ...]) -> tuple[dict[str, Any], bytes]:
    m = _model(resources)
    prefix = "#/definitions/"
    paths: _Paths = {}
    roots: list[str] = []
    for path in _v3_paths(resources):
        found = _doc_paths(resources, path)
        if found is not None:
            paths.update(found[0])
            roots += found[1]
    doc = {
        "definitions": {name: _render(s, prefix, False) for name, s in m.closure(roots, False).items()},
        "info": INFO,
        "paths": _render_paths(paths, prefix, False),
        "security": [{"BearerToken": []}],
        "securityDefinitions": _SECURITY,
        "swagger": "2.0",
    }
    return doc, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def v2_document(registry: Registry) -> dict[str, Any]:
    """The Swagger 2.0 document of the whole API (``GET /openapi/v2``)."""
    return _v2(_served(registry))[0]


def v2_document_bytes(registry: Registry) -> bytes:
    """``v2_document`` encoded as served."""
    return _v2(_served(registry))[1]
