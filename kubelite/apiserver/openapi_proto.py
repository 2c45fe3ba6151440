"""``/openapi/v2`` as protobuf: the Swagger 2.0 document in gnostic's wire form.

kubectl validates on the client whatever the server's OpenAPI v3 documents
do not cover with a ``fieldValidation`` parameter (a ``kind: List``, kinds
the server does not serve, older kubectl for everything). For that it asks
for ``/openapi/v2`` with ``Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and parses the
body as gnostic's ``openapi.v2.Document`` message (github.com/google/
gnostic-models, ``openapiv2/OpenAPIv2.proto``); a JSON body fails there with
``proto: cannot parse invalid wire-format data``.

Kubernetes builds these bytes by parsing its JSON document with gnostic and
marshalling the result; this module does the same walk over the dict that
``openapi.v2_document`` builds, with the field numbers of the .proto in the
tables below. gnostic's shapes: every map is a repeated ``Named<X>`` entry
``{1: name, 2: value}``; ``x-*`` keys are vendor extensions, ``NamedAny``
whose ``Any`` carries the value as YAML text (field 2); ``type`` is a
``TypeItem`` list, ``items`` an ``ItemsItem`` list, ``additionalProperties``
a schema-or-boolean oneof; a parameter is a body parameter or one of four
non-body kinds picked by ``in``. Fields are written in field-number order,
as Go's marshaller does, and a key the .proto has no field for is an error
(gnostic rejects such documents too), so the tables cannot silently drift
from ``openapi.py``.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable
from typing import Any

import orjson
import yaml

from kubelite.api.resources import Registry
from kubelite.apiserver import openapi
from kubelite.apiserver.codec import accept_clauses

# What kubectl (client-go) asks for; Kubernetes also accepts the newer spelling
# and always answers with that one.
PROTO_MEDIA_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
PROTO_CONTENT_TYPE = PROTO_MEDIA_TYPES[1]

_VARINT, _I64, _LEN = 0, 1, 2

Writer = Callable[[bytearray, int, Any], None]


class EncodeError(ValueError):
    """The document has a key or value gnostic's ``openapi.v2`` message cannot hold."""


# --------------------------------------------------------------------------- wire primitives


def _varint(out: bytearray, value: int) -> None:
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64: ten bytes of two's complement
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _tag(out: bytearray, num: int, wire_type: int) -> None:
    _varint(out, num << 3 | wire_type)


def _put_len(out: bytearray, num: int, data: bytes | bytearray) -> None:
    _tag(out, num, _LEN)
    _varint(out, len(data))
    out += data


def _string(out: bytearray, num: int, value: Any) -> None:
    if not isinstance(value, str):
        raise EncodeError(f"field {num}: expected a string, got {value!r}")
    if value:  # proto3: the zero value is not written
        _put_len(out, num, value.encode())


def _bool(out: bytearray, num: int, value: Any) -> None:
    if value:
        _tag(out, num, _VARINT)
        out.append(1)


def _int64(out: bytearray, num: int, value: Any) -> None:
    if value:
        _tag(out, num, _VARINT)
        _varint(out, int(value))


def _double(out: bytearray, num: int, value: Any) -> None:
    if value:
        _tag(out, num, _I64)
        out += struct.pack("<d", float(value))


def _strings(out: bytearray, num: int, value: Any) -> None:
    for item in value:
        _tag(out, num, _LEN)  # repeated: empty strings are written too
        data = str(item).encode()
        _varint(out, len(data))
        out += data


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml_text(value: Any) -> str:
    text: str = yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=True, width=1 << 30)
    return text.removesuffix("...\n")  # PyYAML's document end after a lone scalar


def _any(out: bytearray, num: int, value: Any) -> None:
    """``Any{yaml: <text>}``, as gnostic keeps extensions, defaults, enums and examples."""
    body = bytearray()
    _string(body, 2, _yaml_text(value))
    _put_len(out, num, body)


def _anys(out: bytearray, num: int, value: Any) -> None:
    for item in value:
        _any(out, num, item)


# --------------------------------------------------------------------------- message writers


class _Message:
    """A writer of one message: ``fields`` maps a JSON key to (field number, writer).

    ``x-*`` keys go to the ``extensions`` field as ``NamedAny`` (0: none allowed).
    """

    __slots__ = ("extensions", "fields")

    def __init__(self, fields: dict[str, tuple[int, Writer]], extensions: int = 0) -> None:
        self.fields = fields
        self.extensions = extensions

    def __call__(self, out: bytearray, num: int, value: Any) -> None:
        _put_len(out, num, self.body(value))

    def body(self, value: Any) -> bytearray:
        if not isinstance(value, dict):
            raise EncodeError(f"expected an object, got {value!r}")
        found: list[tuple[int, int, str]] = []
        for index, key in enumerate(value):
            if key in self.fields:
                found.append((self.fields[key][0], index, key))
            elif self.extensions and key.startswith("x-"):
                found.append((self.extensions, index, key))
            else:
                raise EncodeError(f"no field for {key!r} (keys: {', '.join(self.fields)})")
        body = bytearray()
        for field_num, _, key in sorted(found):
            if key in self.fields:
                self.fields[key][1](body, field_num, value[key])
            else:
                _put_len(body, field_num, _named_bytes(key, _any, value[key]))
        return body


def _named_bytes(name: str, writer: Writer, value: Any) -> bytearray:
    entry = bytearray()
    _string(entry, 1, name)
    writer(entry, 2, value)
    return entry


def _named(writer: Writer) -> Writer:
    """A map as the repeated ``Named<X>{1: name, 2: value}`` entries gnostic uses."""

    def write(out: bytearray, num: int, value: Any) -> None:
        for name, item in value.items():
            _put_len(out, num, _named_bytes(name, writer, item))

    return write


def _wrapped(num_inside: int, writer: Writer) -> Writer:
    """A message whose only field ``num_inside`` holds ``value`` (``Definitions``, ``TypeItem``, ...)."""

    def write(out: bytearray, num: int, value: Any) -> None:
        body = bytearray()
        writer(body, num_inside, value)
        _put_len(out, num, body)

    return write


def _repeated(writer: Writer) -> Writer:
    def write(out: bytearray, num: int, value: Any) -> None:
        for item in value:
            writer(out, num, item)

    return write


def _oneof(choose: Callable[[Any], tuple[int, Writer]]) -> Writer:
    """A message with a oneof: ``choose`` picks the case's field number and writer."""

    def write(out: bytearray, num: int, value: Any) -> None:
        inner_num, writer = choose(value)
        _wrapped(inner_num, writer)(out, num, value)

    return write


def _lazy(get: Callable[[], Writer]) -> Writer:
    """A writer defined later (the recursive ``Schema`` and ``PrimitivesItems``)."""
    return lambda out, num, value: get()(out, num, value)


_EXTERNAL_DOCS = _Message({"description": (1, _string), "url": (2, _string)}, 3)
_XML = _Message(
    {
        "name": (1, _string),
        "namespace": (2, _string),
        "prefix": (3, _string),
        "attribute": (4, _bool),
        "wrapped": (5, _bool),
    },
    6,
)
_SCHEMA: Writer = _lazy(lambda: _SCHEMA_MESSAGE)


def _type_item(out: bytearray, num: int, value: Any) -> None:
    _wrapped(1, _strings)(out, num, [value] if isinstance(value, str) else value)


def _items_item(out: bytearray, num: int, value: Any) -> None:
    _wrapped(1, _repeated(_SCHEMA))(out, num, value if isinstance(value, list) else [value])


_ADDITIONAL_PROPERTIES = _oneof(lambda v: (2, _bool_present) if isinstance(v, bool) else (1, _SCHEMA))


def _bool_present(out: bytearray, num: int, value: Any) -> None:
    """A bool in a oneof: written even when false, the case itself is the information."""
    _tag(out, num, _VARINT)
    out.append(1 if value else 0)


_SCHEMA_MESSAGE: Writer = _Message(
    {
        "$ref": (1, _string),
        "format": (2, _string),
        "title": (3, _string),
        "description": (4, _string),
        "default": (5, _any),
        "multipleOf": (6, _double),
        "maximum": (7, _double),
        "exclusiveMaximum": (8, _bool),
        "minimum": (9, _double),
        "exclusiveMinimum": (10, _bool),
        "maxLength": (11, _int64),
        "minLength": (12, _int64),
        "pattern": (13, _string),
        "maxItems": (14, _int64),
        "minItems": (15, _int64),
        "uniqueItems": (16, _bool),
        "maxProperties": (17, _int64),
        "minProperties": (18, _int64),
        "required": (19, _strings),
        "enum": (20, _anys),
        "additionalProperties": (21, _ADDITIONAL_PROPERTIES),
        "type": (22, _type_item),
        "items": (23, _items_item),
        "allOf": (24, _repeated(_SCHEMA)),
        "properties": (25, _wrapped(1, _named(_SCHEMA))),
        "discriminator": (26, _string),
        "readOnly": (27, _bool),
        "xml": (28, _XML),
        "externalDocs": (29, _EXTERNAL_DOCS),
        "example": (30, _any),
    },
    31,
)

# The validation keywords shared by PrimitivesItems, Header and the non-body
# parameters, numbered from ``first`` in the order all of them list them.
_VALIDATIONS: tuple[tuple[str, Writer], ...] = (
    ("collectionFormat", _string),
    ("default", _any),
    ("maximum", _double),
    ("exclusiveMaximum", _bool),
    ("minimum", _double),
    ("exclusiveMinimum", _bool),
    ("maxLength", _int64),
    ("minLength", _int64),
    ("pattern", _string),
    ("maxItems", _int64),
    ("minItems", _int64),
    ("uniqueItems", _bool),
    ("enum", _anys),
    ("multipleOf", _double),
)


def _simple(lead: tuple[tuple[str, Writer], ...], tail: tuple[tuple[str, Writer], ...] = ()) -> Writer:
    """``lead`` fields, then ``type``/``format``/``items``, the validations, ``tail``, extensions."""
    names = [*lead, ("type", _string), ("format", _string), ("items", _PRIMITIVES_ITEMS)]
    names += [*_VALIDATIONS, *tail]
    fields = {name: (num, writer) for num, (name, writer) in enumerate(names, start=1)}
    return _Message(fields, len(names) + 1)


_PRIMITIVES_ITEMS: Writer = _lazy(lambda: _PRIMITIVES_ITEMS_MESSAGE)
_PRIMITIVES_ITEMS_MESSAGE: Writer = _simple(())
_HEADER = _simple((), (("description", _string),))
_NAMED_FIRST = (("required", _bool), ("in", _string), ("description", _string), ("name", _string))
_ALLOW_EMPTY = (("allowEmptyValue", _bool),)
_NON_BODY_KINDS: dict[str, tuple[int, Writer]] = {
    "header": (1, _simple(_NAMED_FIRST)),
    "formData": (2, _simple((*_NAMED_FIRST, *_ALLOW_EMPTY))),
    "query": (3, _simple((*_NAMED_FIRST, *_ALLOW_EMPTY))),
    "path": (4, _simple(_NAMED_FIRST)),
}
_BODY_PARAMETER = _Message(
    {
        "description": (1, _string),
        "name": (2, _string),
        "in": (3, _string),
        "required": (4, _bool),
        "schema": (5, _SCHEMA),
    },
    6,
)


def _non_body_kind(value: Any) -> tuple[int, Writer]:
    where = value.get("in")
    if where not in _NON_BODY_KINDS:
        raise EncodeError(f"parameter {value.get('name')!r}: unknown location {where!r}")
    return _NON_BODY_KINDS[where]


_PARAMETER = _oneof(lambda v: (1, _BODY_PARAMETER) if v.get("in") == "body" else (2, _oneof(_non_body_kind)))
_JSON_REFERENCE = _Message({"$ref": (1, _string), "description": (2, _string)})
_PARAMETERS_ITEM = _oneof(lambda v: (2, _JSON_REFERENCE) if "$ref" in v else (1, _PARAMETER))
_FILE_SCHEMA = _Message(
    {
        "format": (1, _string),
        "title": (2, _string),
        "description": (3, _string),
        "default": (4, _any),
        "required": (5, _strings),
        "type": (6, _string),
        "readOnly": (7, _bool),
        "externalDocs": (8, _EXTERNAL_DOCS),
        "example": (9, _any),
    },
    10,
)
_SCHEMA_ITEM = _oneof(lambda v: (2, _FILE_SCHEMA) if v.get("type") == "file" else (1, _SCHEMA))
_RESPONSE = _Message(
    {
        "description": (1, _string),
        "schema": (2, _SCHEMA_ITEM),
        "headers": (3, _wrapped(1, _named(_HEADER))),
        "examples": (4, _wrapped(1, _named(_any))),
    },
    5,
)
_RESPONSE_VALUE = _oneof(lambda v: (2, _JSON_REFERENCE) if "$ref" in v else (1, _RESPONSE))
_SECURITY_REQUIREMENT = _wrapped(1, _named(_wrapped(1, _strings)))


def _responses(out: bytearray, num: int, value: Any) -> None:
    codes = {k: v for k, v in value.items() if not k.startswith("x-")}
    extensions = {k: v for k, v in value.items() if k.startswith("x-")}
    body = bytearray()
    _named(_RESPONSE_VALUE)(body, 1, codes)
    _named(_any)(body, 2, extensions)
    _put_len(out, num, body)


_OPERATION = _Message(
    {
        "tags": (1, _strings),
        "summary": (2, _string),
        "description": (3, _string),
        "externalDocs": (4, _EXTERNAL_DOCS),
        "operationId": (5, _string),
        "produces": (6, _strings),
        "consumes": (7, _strings),
        "parameters": (8, _repeated(_PARAMETERS_ITEM)),
        "responses": (9, _responses),
        "schemes": (10, _strings),
        "deprecated": (11, _bool),
        "security": (12, _repeated(_SECURITY_REQUIREMENT)),
    },
    13,
)
_PATH_ITEM = _Message(
    {
        "$ref": (1, _string),
        "get": (2, _OPERATION),
        "put": (3, _OPERATION),
        "post": (4, _OPERATION),
        "delete": (5, _OPERATION),
        "options": (6, _OPERATION),
        "head": (7, _OPERATION),
        "patch": (8, _OPERATION),
        "parameters": (9, _repeated(_PARAMETERS_ITEM)),
    },
    10,
)


def _paths(out: bytearray, num: int, value: Any) -> None:
    body = bytearray()
    _named(_any)(body, 1, {k: v for k, v in value.items() if k.startswith("x-")})
    _named(_PATH_ITEM)(body, 2, {k: v for k, v in value.items() if not k.startswith("x-")})
    _put_len(out, num, body)


_SCOPES = _wrapped(1, _named(_string))
_FLOWS = {"implicit": 3, "password": 4, "application": 5, "accessCode": 6}
_OAUTH2_URLS = {
    "authorizationUrl": ("implicit", "accessCode"),
    "tokenUrl": ("password", "application", "accessCode"),
}


def _security_scheme(value: Any) -> tuple[int, Writer]:
    kind = value.get("type")
    if kind == "basic":
        return 1, _Message({"type": (1, _string), "description": (2, _string)}, 3)
    if kind == "apiKey":
        numbers = {"type": 1, "name": 2, "in": 3, "description": 4}
        return 2, _Message({k: (n, _string) for k, n in numbers.items()}, 5)
    if kind == "oauth2" and value.get("flow") in _FLOWS:
        flow = value["flow"]
        names = ["type", "flow", "scopes"]
        names += [n for n in ("authorizationUrl", "tokenUrl") if flow in _OAUTH2_URLS[n]]
        fields = {n: (i, _SCOPES if n == "scopes" else _string) for i, n in enumerate(names, 1)}
        fields["description"] = (len(names) + 1, _string)
        return _FLOWS[flow], _Message(fields, len(names) + 2)
    raise EncodeError(f"unknown security scheme {value!r}")


_OAUTH2_URLS = {
    "authorizationUrl": ("implicit", "accessCode"),
    "tokenUrl": ("password", "application", "accessCode"),
}
_CONTACT = _Message({"name": (1, _string), "url": (2, _string), "email": (3, _string)}, 4)
_LICENSE = _Message({"name": (1, _string), "url": (2, _string)}, 3)
_INFO = _Message(
    {
        "title": (1, _string),
        "version": (2, _string),
        "description": (3, _string),
        "termsOfService": (4, _string),
        "contact": (5, _CONTACT),
        "license": (6, _LICENSE),
    },
    7,
)
_TAG = _Message({"name": (1, _string), "description": (2, _string), "externalDocs": (3, _EXTERNAL_DOCS)}, 4)
_DOCUMENT = _Message(
    {
        "swagger": (1, _string),
        "info": (2, _INFO),
        "host": (3, _string),
        "basePath": (4, _string),
        "schemes": (5, _strings),
        "consumes": (6, _strings),
        "produces": (7, _strings),
        "paths": (8, _paths),
        "definitions": (9, _wrapped(1, _named(_SCHEMA))),
        "parameters": (10, _wrapped(1, _named(_PARAMETER))),
        "responses": (11, _wrapped(1, _named(_RESPONSE))),
        "security": (12, _repeated(_SECURITY_REQUIREMENT)),
        "securityDefinitions": (13, _wrapped(1, _named(_oneof(_security_scheme)))),
        "tags": (14, _repeated(_TAG)),
        "externalDocs": (15, _EXTERNAL_DOCS),
    },
    16,
)


def encode_document(doc: dict[str, Any]) -> bytes:
    """A Swagger 2.0 document (JSON form) as an ``openapi.v2.Document`` message."""
    return bytes(_DOCUMENT.body(doc))


# --------------------------------------------------------------------------- serving


class V2Body:
    """One representation of ``/openapi/v2``: its bytes, Content-Type and ETag."""

    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha512(body).hexdigest().upper() + '"'


def wants_proto(accept: str) -> bool:
    """Whether the best media range of ``accept`` that we serve is the protobuf form.

    JSON wins ties (``*/*``, ``application/*``), as in Kubernetes' handler.
    """
    for media, _ in accept_clauses(accept or "*/*"):
        if media in PROTO_MEDIA_TYPES:
            return True
        if media in ("application/json", "application/*", "*/*"):
            return False
    return False


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak or strong) or is ``*``."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def v2_body(registry: Registry, proto: bool) -> V2Body:
    """The served ``/openapi/v2``: JSON, or protobuf when ``proto``; built once per model."""
    json_body = openapi.v2_document_bytes(registry)
    return _bodies(json_body)[1 if proto else 0]


@functools.lru_cache(maxsize=4)
def _bodies(json_body: bytes) -> tuple[V2Body, V2Body]:
    # Keyed by the cached JSON bytes (their hash is cached too), encoded from
    # them exactly as Kubernetes does (gnostic parses its JSON document).
    proto_body = encode_document(orjson.loads(json_body))
    return V2Body(json_body, "application/json"), V2Body(proto_body, PROTO_CONTENT_TYPE)
