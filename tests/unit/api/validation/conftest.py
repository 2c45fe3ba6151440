"""Helpers for the validation tests: build typed objects from dicts, default them, and read the errors."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kubelite.api.defaults import apply_defaults
from kubelite.api.validation import validate_create, validate_status_update, validate_update


def build(cls: type, data: dict[str, Any], defaults: bool = True) -> Any:
    obj = msgspec.convert(data, cls)
    if defaults:
        apply_defaults(obj)
    return obj


def errors_of(obj: Any, old: Any = None, status: bool = False) -> list[tuple[str, str]]:
    if status:
        errs = validate_status_update(obj, old)
    elif old is not None:
        errs = validate_update(obj, old)
    else:
        errs = validate_create(obj)
    return [(e.type, e.field) for e in errs]


class V:
    build = staticmethod(build)
    errors = staticmethod(errors_of)


@pytest.fixture
def v() -> type[V]:
    return V
