"""Small accessors that work on typed API objects and on plain dicts alike.

The client hands out typed models (``msgspec`` Structs) by default and plain
dicts for raw/custom resources; informers, the event recorder and
controllers read the same few metadata fields from both through these.
"""

from __future__ import annotations

from typing import Any

import msgspec


def metadata_of(obj: Any) -> Any:
    """``obj.metadata`` (typed) or ``obj["metadata"]`` (dict); an empty dict when absent."""
    if isinstance(obj, dict):
        return obj.get("metadata") or {}
    return getattr(obj, "metadata", None) or {}


def _field(meta: Any, name: str, default: Any = "") -> Any:
    if isinstance(meta, dict):
        value = meta.get(name, default)
    else:
        value = getattr(meta, name, default)
    return default if value is None else value


def name_of(obj: Any) -> str:
    return str(_field(metadata_of(obj), "name"))


def namespace_of(obj: Any) -> str:
    return str(_field(metadata_of(obj), "namespace"))


def uid_of(obj: Any) -> str:
    return str(_field(metadata_of(obj), "uid"))


def resource_version_of(obj: Any) -> str:
    return str(_field(metadata_of(obj), "resourceVersion"))


def kind_of(obj: Any) -> str:
    return str(obj.get("kind", "") if isinstance(obj, dict) else getattr(obj, "kind", ""))


def api_version_of(obj: Any) -> str:
    return str(obj.get("apiVersion", "") if isinstance(obj, dict) else getattr(obj, "apiVersion", ""))


def meta_namespace_key(obj: Any) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` when it has no namespace.

    Also accepts a key string (returned as is), so code can pass either.
    """
    if isinstance(obj, str):
        return obj
    meta = metadata_of(obj)
    namespace = _field(meta, "namespace")
    name = _field(meta, "name")
    return f"{namespace}/{name}" if namespace else str(name)


def split_key(key: str) -> tuple[str, str]:
    """``"ns/name"`` -> ``("ns", "name")``; ``"name"`` -> ``("", "name")``.

    Raises ValueError for a key with more than one slash or an empty name.
    """
    parts = key.split("/")
    if len(parts) == 1 and parts[0]:
        return "", parts[0]
    if len(parts) == 2 and parts[1]:
        return parts[0], parts[1]
    raise ValueError(f"unexpected key format: {key!r}")


def to_builtins(obj: Any) -> Any:
    """A typed object as plain data (dicts/lists); dicts pass through."""
    if isinstance(obj, msgspec.Struct):
        return msgspec.to_builtins(obj)
    return obj
