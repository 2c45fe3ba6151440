"""Bytes in and out of the API server.

Request bodies arrive as JSON, YAML or (later) protobuf; a missing
Content-Type means JSON, as the Kubernetes clients assume. Objects are stored
as compact JSON *without* ``metadata.resourceVersion``: the store's revision
is the resourceVersion, and ``with_resource_version`` writes it into the
bytes on the way out without decoding the object.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import yaml

from kubelite.api import errors

JSON = "application/json"
YAML = "application/yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"

_METADATA = b'"metadata":{'


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header ("" when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


class NullFree(dict[str, Any]):
    """A JSON object body with no null anywhere in it (its text has no ``null``):
    ``to_model`` converts it as it is, without a copy that drops nulls first."""


def decode_body(body: bytes, content_type: str | None) -> Any:
    """Parse a request body into plain data (dicts and lists).

    Raises 415 for encodings we do not read and 400 for malformed input.
    """
    kind = media_type(content_type)
    if kind in ("", JSON, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, "text/plain"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise errors.bad_request(f"error decoding JSON body: {e}") from None
        if type(data) is dict and b"null" not in body:
            return NullFree(data)
        return data
    if kind in (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML body: {e}") from None
    raise errors.unsupported_media_type(content_type or "")


def to_model(data: Any, cls: type, kind: str, api_version: str) -> Any:
    """Convert plain data into the typed model, or 400 as Kubernetes words it."""
    if not isinstance(data, dict):
        raise errors.bad_request(f"the body of the request was not a JSON object; expected a {kind}")
    try:
        return msgspec.convert(data if type(data) is NullFree else _drop_nulls(data), cls, strict=False)
    except msgspec.ValidationError as e:
        raise errors.bad_request(
            f'{kind} in version "{api_version}" cannot be handled as a {kind}: {_describe(e)}'
        ) from None


def _drop_nulls(data: Any) -> Any:
    """Remove null members: Go decodes them as "unset", msgspec would refuse them for lists and maps."""
    if isinstance(data, dict):
        return {k: _drop_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_nulls(v) for v in data]
    return data


def _describe(e: msgspec.ValidationError) -> str:
    text = str(e)
    # msgspec says "Expected `int`, got `str` - at `$.spec.replicas`"; say it as a field path.
    if " - at `$." in text:
        what, _, where = text.partition(" - at `$.")
        return f"{where.rstrip('`')}: {what.replace('`', '')}"
    return text.replace("`", "")


def encode(obj: Any) -> bytes:
    """Compact JSON of a typed object or plain data."""
    if isinstance(obj, msgspec.Struct):
        return msgspec.json.encode(obj)
    return orjson.dumps(obj)


def with_resource_version(data: bytes, revision: int) -> bytes:
    """Insert ``metadata.resourceVersion`` into stored object bytes.

    Stored objects are encoded with ``kind`` and ``apiVersion`` first, so the
    first ``"metadata":{`` is the object's own (neither of those values can
    contain a quote).
    """
    at = data.find(_METADATA)
    if at < 0:
        return data
    at += len(_METADATA)
    rv = b'"resourceVersion":"%d"' % revision
    if data[at : at + 1] == b"}":
        return data[:at] + rv + data[at:]
    return data[:at] + rv + b"," + data[at:]


def accept_clauses(accept: str) -> list[tuple[str, dict[str, str]]]:
    """The media ranges of an Accept header, best quality first (stable), q=0 dropped."""
    clauses: list[tuple[float, int, str, dict[str, str]]] = []
    for index, raw in enumerate(accept.split(",")):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality <= 0:
            continue
        clauses.append((-quality, index, media, params))
    clauses.sort(key=lambda c: (c[0], c[1]))
    return [(media, params) for _, _, media, params in clauses]
