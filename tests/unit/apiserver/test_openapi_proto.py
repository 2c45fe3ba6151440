"""``/openapi/v2`` as gnostic's ``openapi.v2.Document`` protobuf, read back the way kubectl reads it.

The reader below knows only the wire format; the field numbers in the checks
come from gnostic-models' ``openapiv2/OpenAPIv2.proto``.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from kubelite.api.resources import Registry
from kubelite.apiserver import openapi, openapi_proto
from kubelite.apiserver.app import APIServer
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.openapi_proto import EncodeError, encode_document, etag_matches, wants_proto
from kubelite.apiserver.servertask import ServerTask

CORE = "io.k8s.api.core.v1."
PROTO = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

# --------------------------------------------------------------------------- a tiny protobuf reader


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def read(buf: bytes) -> list[tuple[int, Any]]:
    """The fields of a message in wire order: (number, int | bytes | float)."""
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire_type = key >> 3, key & 7
        value: Any
        if wire_type == 0:
            value, pos = _varint(buf, pos)
        elif wire_type == 1:
            value = struct.unpack("<d", buf[pos : pos + 8])[0]
            pos += 8
        elif wire_type == 2:
            size, pos = _varint(buf, pos)
            value = buf[pos : pos + size]
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
        out.append((num, value))
    assert pos == len(buf), "a field runs past the end of its message"
    return out


def all_of(buf: bytes, num: int) -> list[Any]:
    return [v for n, v in read(buf) if n == num]


def one(buf: bytes, num: int) -> Any:
    values = all_of(buf, num)
    assert len(values) == 1, f"field {num}: {len(values)} values"
    return values[0]


def text(buf: bytes, num: int) -> str:
    values = all_of(buf, num)
    return values[0].decode() if values else ""


def named(buf: bytes, num: int) -> dict[str, bytes]:
    """A repeated ``Named<X>{1: name, 2: value}`` field as a dict (order kept)."""
    return {text(entry, 1): one(entry, 2) for entry in all_of(buf, num)}


def extensions(buf: bytes, num: int) -> dict[str, Any]:
    """Vendor extensions (``NamedAny`` with ``Any{2: yaml}``) parsed as kubectl does."""
    return {name: yaml.safe_load(text(value, 2)) for name, value in named(buf, num).items()}


def numbers_ascend(buf: bytes) -> bool:
    nums = [n for n, _ in read(buf)]
    return nums == sorted(nums)


# Field numbers of OpenAPIv2.proto used below.
DOC_SWAGGER, DOC_INFO, DOC_PATHS, DOC_DEFINITIONS, DOC_SECURITY, DOC_SECURITY_DEFS = 1, 2, 8, 9, 12, 13
S_REF, S_DESCRIPTION, S_REQUIRED, S_ADDITIONAL, S_TYPE, S_ITEMS, S_PROPERTIES, S_EXT = (
    1,
    4,
    19,
    21,
    22,
    23,
    25,
    31,
)


# --------------------------------------------------------------------------- the served document


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.fixture(scope="module")
def doc(registry: Registry) -> dict[str, Any]:
    return openapi.v2_document(registry)


@pytest.fixture(scope="module")
def pb(registry: Registry) -> bytes:
    return openapi_proto.v2_body(registry, proto=True).body


@pytest.fixture(scope="module")
def definitions(pb: bytes) -> dict[str, bytes]:
    return named(one(pb, DOC_DEFINITIONS), 1)


def schema_type(schema: bytes) -> list[str]:
    return [v.decode() for v in all_of(one(schema, S_TYPE), 1)]


def properties(schema: bytes) -> dict[str, bytes]:
    return named(one(schema, S_PROPERTIES), 1)


def test_document_header(pb: bytes) -> None:
    assert text(pb, DOC_SWAGGER) == "2.0"
    info = one(pb, DOC_INFO)
    assert text(info, 1) == "Kubernetes" and text(info, 2).startswith("v1.")
    assert numbers_ascend(pb), "fields are written in field-number order, as Go does"


def test_every_definition_and_path_is_there(
    pb: bytes, doc: dict[str, Any], definitions: dict[str, bytes]
) -> None:
    assert list(definitions) == list(doc["definitions"])
    paths = one(pb, DOC_PATHS)
    assert list(named(paths, 2)) == list(doc["paths"])


def test_kind_schema(definitions: dict[str, bytes]) -> None:
    cm = definitions[CORE + "ConfigMap"]
    assert numbers_ascend(cm)
    assert schema_type(cm) == ["object"]
    assert text(cm, S_DESCRIPTION)
    assert extensions(cm, S_EXT)["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}
    ]
    props = properties(cm)
    assert {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"} <= set(props)
    # a map of strings: additionalProperties is the schema case of the oneof
    data = props["data"]
    assert schema_type(data) == ["object"]
    assert schema_type(one(one(data, S_ADDITIONAL), 1)) == ["string"]
    assert schema_type(props["immutable"]) == ["boolean"]
    assert text(props["metadata"], S_REF) == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def test_lists_refs_required_and_patch_extensions(definitions: dict[str, bytes], doc: dict[str, Any]) -> None:
    spec = definitions[CORE + "PodSpec"]
    assert [v.decode() for v in all_of(spec, S_REQUIRED)] == doc["definitions"][CORE + "PodSpec"]["required"]
    containers = properties(spec)["containers"]
    assert schema_type(containers) == ["array"]
    items = all_of(one(containers, S_ITEMS), 1)
    assert len(items) == 1 and text(items[0], S_REF) == "#/definitions/" + CORE + "Container"
    ext = extensions(containers, S_EXT)
    assert ext["x-kubernetes-patch-merge-key"] == "name"
    assert ext["x-kubernetes-patch-strategy"] == "merge"
    assert ext["x-kubernetes-list-type"] == "map"
    assert ext["x-kubernetes-list-map-keys"] == ["name"]
    assert all(text(one(entry, 2), 2).count("\n") == 1 for entry in all_of(containers, S_EXT)), "Go's YAML"


def test_operation_parameters_and_responses(pb: bytes) -> None:
    path_item = named(one(pb, DOC_PATHS), 2)["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    # path-level parameters: ParametersItem{1: Parameter{2: NonBodyParameter{3: query, 4: path}}}
    non_body = [one(one(item, 1), 2) for item in all_of(path_item, 9)]
    by_name = {text(p, 4): p for p in (one(kind, 4) for kind in non_body if all_of(kind, 4))}
    assert set(by_name) == {"name", "namespace"}
    assert "pretty" in [text(one(kind, 3), 4) for kind in non_body if all_of(kind, 3)]
    assert one(by_name["name"], 1) == 1 and text(by_name["name"], 2) == "path"
    assert text(by_name["name"], 5) == "string"

    patch = one(path_item, 8)
    assert numbers_ascend(patch)
    assert "application/strategic-merge-patch+json" in [v.decode() for v in all_of(patch, 7)]
    ext = extensions(patch, 13)
    assert ext["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert ext["x-kubernetes-action"] == "patch"
    params = [one(item, 1) for item in all_of(patch, 8)]
    bodies = [one(p, 1) for p in params if all_of(p, 1)]
    assert len(bodies) == 1
    body = bodies[0]
    assert (text(body, 2), text(body, 3), one(body, 4)) == ("body", "body", 1)
    assert text(one(body, 5), S_REF) == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    queries = {text(q, 4): q for q in (one(one(p, 2), 3) for p in params if all_of(p, 2))}
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= set(queries)
    validation = queries["fieldValidation"]
    assert (text(validation, 2), text(validation, 6), one(validation, 20)) == ("query", "string", 1)
    assert text(queries["force"], 6) == "boolean"

    responses = named(one(patch, 9), 1)
    assert set(responses) == {"200", "201", "401"}
    ok = one(responses["200"], 1)
    assert text(ok, 1) == "OK"
    assert text(one(one(ok, 2), 1), S_REF) == "#/definitions/io.k8s.api.apps.v1.Deployment"
    assert not all_of(one(responses["401"], 1), 2)


def test_security(pb: bytes) -> None:
    requirement = named(one(pb, DOC_SECURITY), 1)
    assert list(requirement) == ["BearerToken"] and requirement["BearerToken"] == b""
    schemes = named(one(pb, DOC_SECURITY_DEFS), 1)
    api_key = one(schemes["BearerToken"], 2)
    assert (text(api_key, 1), text(api_key, 2), text(api_key, 3)) == ("apiKey", "authorization", "header")


# --------------------------------------------------------------------------- the encoder's corners


def test_scalars_oneofs_and_presence() -> None:
    schema = {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
        "minimum": -1.5,
        "maxLength": 10,
        "minLength": 0,
        "enum": ["a", 1],
        "x-kubernetes-preserve-unknown-fields": True,
        "allOf": [{"$ref": "#/definitions/A"}, {"type": ["string", "null"]}],
    }
    pb = encode_document({"swagger": "2.0", "definitions": {"S": schema}})
    s = named(one(pb, DOC_DEFINITIONS), 1)["S"]
    assert one(s, S_PROPERTIES) == b"", "an empty properties map is still present (kubectl: a kind)"
    assert read(one(s, S_ADDITIONAL)) == [(2, 0)], "the boolean case is written even when false"
    assert one(s, 9) == -1.5 and one(s, 11) == 10 and not all_of(s, 12)
    assert [yaml.safe_load(text(a, 2)) for a in all_of(s, 20)] == ["a", 1]
    assert extensions(s, S_EXT) == {"x-kubernetes-preserve-unknown-fields": True}
    refs = all_of(s, 24)
    assert text(refs[0], S_REF) == "#/definitions/A" and schema_type(refs[1]) == ["string", "null"]
    negative = encode_document({"definitions": {"N": {"minItems": -1}}})
    assert one(named(one(negative, DOC_DEFINITIONS), 1)["N"], 15) == 2**64 - 1


def test_a_key_without_a_field_is_an_error() -> None:
    with pytest.raises(EncodeError, match="nullable"):
        encode_document({"definitions": {"S": {"type": "string", "nullable": True}}})
    with pytest.raises(EncodeError, match="cookie"):
        encode_document({"paths": {"/x": {"get": {"parameters": [{"in": "cookie", "name": "c"}]}}}})


@pytest.mark.parametrize(
    ("accept", "proto"),
    [
        (PROTO, True),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", True),
        (f"{PROTO}, application/json;q=0.9", True),
        (f"application/json, {PROTO}", False),
        (f"application/json;q=0.5, {PROTO}", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("text/html", False),
    ],
)
def test_content_negotiation(accept: str, proto: bool) -> None:
    assert wants_proto(accept) is proto


def test_bodies_are_cached_with_their_own_etags(registry: Registry) -> None:
    json_body = openapi_proto.v2_body(registry, proto=False)
    proto_body = openapi_proto.v2_body(registry, proto=True)
    assert json_body.body is openapi.v2_document_bytes(registry)
    assert json_body.content_type == "application/json"
    assert proto_body.content_type == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert proto_body is openapi_proto.v2_body(registry, proto=True)
    assert json_body.etag != proto_body.etag and proto_body.etag.startswith('"')
    assert etag_matches(proto_body.etag, proto_body.etag)
    assert etag_matches(f'"x", W/{proto_body.etag}', proto_body.etag)
    assert etag_matches("*", proto_body.etag)
    assert not etag_matches(json_body.etag, proto_body.etag)
    assert not etag_matches("", proto_body.etag)


def test_security_schemes_and_parameter_kinds() -> None:
    pb = encode_document(
        {
            "securityDefinitions": {
                "basic": {"type": "basic"},
                "code": {
                    "type": "oauth2",
                    "flow": "accessCode",
                    "scopes": {"read": "Read it."},
                    "authorizationUrl": "https://a",
                    "tokenUrl": "https://t",
                },
                "implicit": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://a"},
            },
            "parameters": {
                "h": {"in": "header", "name": "X-H", "type": "string"},
                "f": {
                    "in": "formData",
                    "name": "f",
                    "allowEmptyValue": True,
                    "type": "array",
                    "items": {"type": "integer"},
                },
            },
        }
    )
    schemes = named(one(pb, DOC_SECURITY_DEFS), 1)
    assert read(schemes["basic"]) == [(1, b"\n\x05basic")]
    code = one(schemes["code"], 6)
    assert (text(code, 2), text(code, 4), text(code, 5)) == ("accessCode", "https://a", "https://t")
    assert named(one(code, 3), 1) == {"read": b"Read it."}
    assert text(one(schemes["implicit"], 3), 4) == "https://a"
    params = named(one(pb, 10), 1)
    header = one(one(params["h"], 2), 1)
    assert (text(header, 2), text(header, 4), text(header, 5)) == ("header", "X-H", "string")
    form = one(one(params["f"], 2), 2)
    assert one(form, 5) == 1 and text(form, 6) == "array" and text(one(form, 8), 1) == "integer"


async def test_a_server_told_to_warm_up_has_v2_ready_before_the_first_request(tmp_path: Path) -> None:
    openapi_proto._bodies.cache_clear()
    config = ServerConfig(
        data_dir=tmp_path, port=0, store="memory", tls=False, bind_address="127.0.0.1", warm_openapi=True
    )
    server = ServerTask(APIServer(config))
    assert await server.started()
    try:
        warmups = [t for t in asyncio.all_tasks() if t.get_name() == "openapi-warmup"]
        assert len(warmups) == 1
        await asyncio.wait_for(warmups[0], 60)
        misses = openapi_proto._bodies.cache_info().misses
        headers = {"Accept": openapi_proto.PROTO_CONTENT_TYPE}
        async with aiohttp.ClientSession() as s, s.get(f"{server.url}/openapi/v2", headers=headers) as r:
            assert r.status == 200 and r.content_type == openapi_proto.PROTO_CONTENT_TYPE.split(";")[0]
            await r.read()
        assert openapi_proto._bodies.cache_info().misses == misses  # built by the warm-up
    finally:
        server.stop()
        await server.finished()
