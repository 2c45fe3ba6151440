"""Field validation: finding fields a body has but its kind does not.

Kubernetes decodes leniently (unknown fields are dropped) unless the client
asks for ``fieldValidation=Strict`` (an error naming each unknown or
duplicated field) or ``Warn`` (the same findings as ``Warning`` headers).
This module finds them; the API server decides what to do with them.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from kubelite.api.model import Model, fields_of, strip_optional


def unknown_fields(data: Any, cls: Any, path: str = "") -> list[str]:
    """Paths (``spec.containers[0].foo``) of members ``cls`` does not declare."""
    tp = strip_optional(cls)
    found: list[str] = []
    if isinstance(tp, type) and issubclass(tp, Model):
        if not isinstance(data, dict):
            return found
        known = fields_of(tp)
        for key, value in data.items():
            child = f"{path}.{key}" if path else key
            info = known.get(key)
            if info is None:
                found.append(child)
            else:
                found.extend(unknown_fields(value, info.type, child))
        return found
    origin = typing.get_origin(tp)
    if origin is list and isinstance(data, list):
        (item,) = typing.get_args(tp)
        for i, value in enumerate(data):
            found.extend(unknown_fields(value, item, f"{path}[{i}]"))
    elif origin is dict and isinstance(data, dict):
        _, item = typing.get_args(tp)
        for key, value in data.items():
            found.extend(unknown_fields(value, item, f"{path}.{key}" if path else key))
    return found


class _Duplicates:
    """An ``object_pairs_hook`` that records keys seen twice in one object."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                self.found.append(key)
            seen[key] = value
        return seen


def duplicate_fields(body: bytes) -> list[str]:
    """Member names that appear twice in one JSON object of ``body``."""
    hook = _Duplicates()
    try:
        json.loads(body, object_pairs_hook=hook)
    except ValueError:
        return []
    return hook.found
