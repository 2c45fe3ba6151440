"""The OpenAPI v3 and v2 documents generated from the typed model, checked the way kubectl reads them."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest

from kubelite.api import descriptions
from kubelite.api.coordination_v1 import Lease
from kubelite.api.meta import Info
from kubelite.api.resources import RESOURCES, Registry
from kubelite.apiserver import openapi

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
V3_REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.fixture(scope="module")
def core(registry: Registry) -> dict[str, Any]:
    doc = openapi.v3_document(registry, "api/v1")
    assert doc is not None
    return doc


@pytest.fixture(scope="module")
def apps(registry: Registry) -> dict[str, Any]:
    doc = openapi.v3_document(registry, "apis/apps/v1")
    assert doc is not None
    return doc


def _group_version(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _prop(doc: dict[str, Any], schema: str, field: str) -> dict[str, Any]:
    prop: dict[str, Any] = doc["components"]["schemas"][schema]["properties"][field]
    return prop


# --------------------------------------------------------------------------- index


def test_index_lists_every_group_version_with_a_content_hash(registry: Registry) -> None:
    index = openapi.v3_index(registry)
    paths = index["paths"]
    for want in (
        "api",
        "apis",
        "api/v1",
        "apis/apps",
        "apis/apps/v1",
        "apis/autoscaling/v1",
        "apis/autoscaling/v2",
    ):
        assert want in paths
    for path, entry in paths.items():
        url = entry["serverRelativeURL"]
        m = re.fullmatch(r"/openapi/v3/(.+)\?hash=([0-9A-F]{128})", url)
        assert m and m.group(1) == path
        body = openapi.v3_document_bytes(registry, path)
        assert body is not None
        assert m.group(2) == hashlib.sha512(body).hexdigest().upper() == openapi.v3_hash(registry, path)
        assert orjson.loads(body) == openapi.v3_document(registry, path)


def test_hashes_are_stable_across_registries() -> None:
    # A fresh registry (as after a restart) gives byte-identical documents, so client caches stay valid.
    assert openapi.v3_index(Registry()) == openapi.v3_index(Registry(tuple(reversed(RESOURCES))))


def test_unknown_documents_are_none(registry: Registry) -> None:
    assert openapi.v3_document(registry, "apis/nope/v1") is None
    assert openapi.v3_document(registry, "api/v2") is None
    assert openapi.v3_document(registry, "apis/apps/v9") is None
    assert openapi.v3_document_bytes(registry, "nonsense") is None


# --------------------------------------------------------------------------- structure


def _check_v3(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.0.")
    assert doc["info"]["title"] and doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith(V3_REF), ref
        assert ref[len(V3_REF) :] in schemas, f"dangling {ref}"
    for name, schema in schemas.items():
        assert name.startswith("io.k8s."), name
        for field, prop in schema.get("properties", {}).items():
            # Kubernetes wraps a referenced type in allOf so that siblings (description...) stay valid in 3.0.
            assert "$ref" not in prop, f"{name}.{field}"
            assert "allOf" in prop or "type" in prop, f"{name}.{field}"
        for field in schema.get("required", []):
            assert field in schema["properties"], f"{name} requires unknown {field}"
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        params = {p["name"] for p in item.get("parameters", [])}
        for name in re.findall(r"\{(\w+)\}", path):
            assert name in params, f"{path} lacks path parameter {name}"
        for method, op in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "put", "post", "delete", "patch", "head", "options"}
            assert op["operationId"] and op["responses"]
            for p in op.get("parameters", []):
                assert p["in"] in {"query", "path"} and "schema" in p
            for response in op["responses"].values():
                assert "description" in response


@pytest.mark.parametrize("path", sorted(openapi.v3_index(Registry())["paths"]))
def test_every_v3_document_is_well_formed(registry: Registry, path: str) -> None:
    doc = openapi.v3_document(registry, path)
    assert doc is not None
    _check_v3(doc)


def test_operation_ids_are_unique(registry: Registry) -> None:
    doc = openapi.v2_document(registry)
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m != "parameters"]
    assert len(ids) == len(set(ids))


def test_every_served_kind_has_a_schema_with_its_group_version_kind(registry: Registry) -> None:
    for r in registry.all():
        doc = openapi.v3_document(registry, _group_version(r.group, r.version))
        assert doc is not None
        gvks = [
            gvk
            for schema in doc["components"]["schemas"].values()
            for gvk in schema.get("x-kubernetes-group-version-kind", [])
        ]
        for kind in (r.kind, r.list_kind) if "list" in r.verbs else (r.kind,):
            assert {"group": r.group, "kind": kind, "version": r.version} in gvks, (r.group, r.version, kind)


def test_schema_names_follow_kubernetes(core: dict[str, Any], apps: dict[str, Any]) -> None:
    schemas = core["components"]["schemas"]
    for name in (CORE + "Pod", CORE + "PodSpec", META + "ObjectMeta", META + "Time", META + "Status"):
        assert name in schemas
    assert APPS + "Deployment" in apps["components"]["schemas"]
    rbac = openapi.v3_document(Registry(), "apis/rbac.authorization.k8s.io/v1")
    assert rbac is not None and "io.k8s.api.rbac.v1.ClusterRole" in rbac["components"]["schemas"]
    assert openapi.schema_name(Lease) == "io.k8s.api.coordination.v1.Lease"
    assert openapi.schema_name(Info) == "io.k8s.apimachinery.pkg.version.Info"


# --------------------------------------------------------------------------- schemas


def test_wire_facts_become_extensions(core: dict[str, Any]) -> None:
    ports = _prop(core, CORE + "Container", "ports")
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["x-kubernetes-patch-strategy"] == "merge"
    assert ports["items"] == {"$ref": V3_REF + CORE + "ContainerPort"}
    containers = _prop(core, CORE + "PodSpec", "containers")
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["type"] == "array"
    volumes = _prop(core, CORE + "PodSpec", "volumes")
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    finalizers = _prop(core, META + "ObjectMeta", "finalizers")
    assert finalizers["x-kubernetes-list-type"] == "set"


def test_required_fields(core: dict[str, Any], apps: dict[str, Any]) -> None:
    schemas = core["components"]["schemas"]
    assert schemas[CORE + "Container"]["required"] == ["name"]
    assert schemas[CORE + "PodSpec"]["required"] == ["containers"]
    assert "required" not in schemas[META + "ObjectMeta"]
    assert "required" not in schemas[CORE + "Pod"]
    assert schemas[CORE + "ContainerPort"]["required"] == ["containerPort"]
    assert set(apps["components"]["schemas"][APPS + "DeploymentSpec"]["required"]) == {"selector", "template"}


def test_special_types(core: dict[str, Any], apps: dict[str, Any], registry: Registry) -> None:
    schemas = core["components"]["schemas"]
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string"
    assert {t["type"] for t in int_or_string["oneOf"]} == {"integer", "string"}
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert {"type": "string"} in quantity["oneOf"]
    assert {k: v for k, v in schemas[META + "Time"].items() if k != "description"} == {
        "type": "string",
        "format": "date-time",
    }
    assert _prop(core, CORE + "ServicePort", "targetPort")["allOf"] == [
        {"$ref": V3_REF + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    ]
    surge = _prop(apps, APPS + "RollingUpdateDeployment", "maxSurge")
    assert surge["allOf"][0]["$ref"].endswith("intstr.IntOrString")
    limits = _prop(core, CORE + "ResourceRequirements", "limits")
    assert limits["additionalProperties"] == {
        "$ref": V3_REF + "io.k8s.apimachinery.pkg.api.resource.Quantity"
    }
    assert _prop(core, CORE + "EmptyDirVolumeSource", "sizeLimit")["allOf"][0]["$ref"].endswith("Quantity")
    assert _prop(core, META + "ObjectMeta", "creationTimestamp")["allOf"][0]["$ref"] == V3_REF + META + "Time"
    assert _prop(core, CORE + "Secret", "data")["additionalProperties"] == {
        "type": "string",
        "format": "byte",
    }
    # Swagger 2.0 has no oneOf: the classic forms.
    v2 = openapi.v2_document(registry)["definitions"]
    assert v2["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert v2["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert v2["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"


def test_kinds_and_top_fields_are_described(core: dict[str, Any], registry: Registry) -> None:
    for r in registry.all():
        assert descriptions.type_description(r.model.__name__), r.kind
    pod = core["components"]["schemas"][CORE + "Pod"]
    assert pod["description"]
    for field in ("apiVersion", "kind", "metadata", "spec", "status"):
        assert pod["properties"][field]["description"], field
    for field in ("name", "image", "command", "ports", "env", "resources"):
        assert _prop(core, CORE + "Container", field)["description"], field


# --------------------------------------------------------------------------- paths


def test_configmap_paths_and_patch_parameters(core: dict[str, Any]) -> None:
    paths = core["paths"]
    item = paths["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    patch = item["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "ConfigMap", "version": "v1"}
    names = {p["name"] for p in patch["parameters"] if p["in"] == "query"}
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= names
    assert set(patch["requestBody"]["content"]) == {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    }
    for method in ("put",):
        assert {"dryRun", "fieldManager", "fieldValidation"} <= {
            p["name"] for p in item[method]["parameters"]
        }
    collection = paths["/api/v1/namespaces/{namespace}/configmaps"]
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert {"dryRun", "fieldManager", "fieldValidation"} <= {
        p["name"] for p in collection["post"]["parameters"]
    }
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert paths["/api/v1/configmaps"]["get"]["operationId"] == "listCoreV1ConfigMapForAllNamespaces"
    assert (
        paths["/api/v1/watch/namespaces/{namespace}/configmaps/{name}"]["get"]["x-kubernetes-action"]
        == "watch"
    )


def test_every_patch_of_a_kind_declares_field_validation(registry: Registry) -> None:
    # kubectl takes the first PATCH operation it finds for the kind: all of them must agree.
    for path in openapi.v3_index(registry)["paths"]:
        doc = openapi.v3_document(registry, path)
        assert doc is not None
        for url, item in doc["paths"].items():
            op = item.get("patch")
            if op is None or op.get("x-kubernetes-action") != "patch":
                continue
            assert "fieldValidation" in {p["name"] for p in op["parameters"]}, url


def test_verbs_and_subresources(core: dict[str, Any], apps: dict[str, Any]) -> None:
    paths = core["paths"]
    # Namespaces have no deletecollection; nodes are cluster-scoped.
    assert "delete" not in paths["/api/v1/namespaces"]
    assert "/api/v1/nodes/{name}" in paths
    assert "/api/v1/nodes/{name}/status" in paths
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]["responses"]["200"]["content"]
    binding = paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]
    assert binding["x-kubernetes-group-version-kind"]["kind"] == "Binding"
    assert "post" in paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]


def test_group_and_root_documents(registry: Registry) -> None:
    group = openapi.v3_document(registry, "apis/apps")
    assert group is not None and "/apis/apps/" in group["paths"]
    assert META + "APIGroup" in group["components"]["schemas"]
    assert openapi.v3_document(registry, "api") is not None
    assert openapi.v3_document(registry, "apis") is not None


# --------------------------------------------------------------------------- v2


def test_v2_document(registry: Registry) -> None:
    doc = openapi.v2_document(registry)
    assert doc["swagger"] == "2.0"
    definitions = doc["definitions"]
    for ref in _refs(doc):
        assert ref.startswith("#/definitions/") and ref[len("#/definitions/") :] in definitions, ref
    containers = definitions[CORE + "PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert definitions[CORE + "PodSpec"]["properties"]["securityContext"]["$ref"].startswith("#/definitions/")
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    params = {p["name"]: p for p in patch["parameters"]}
    assert {"fieldValidation", "force", "body"} <= set(params)
    assert params["body"]["in"] == "body"
    for item in doc["paths"].values():
        for method, op in item.items():
            if method != "parameters":
                for p in op.get("parameters", []):
                    assert "schema" in p if p["in"] == "body" else "type" in p
    assert orjson.loads(openapi.v2_document_bytes(registry)) == doc
