"""What every printer's cells are made of: ages and timestamps, and small readers.

Kubernetes' printers format ages as ``human_duration`` does (``5m``, ``3d4h``)
and read nested fields leniently (a missing or mistyped field reads as
empty). The per-kind printers (printers.py) and the custom resource columns
(tables.py) share these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from kubelite.api.quantity import parse_quantity
from kubelite.api.selectors import selector_from_api
from kubelite.api.timestamps import parse_time, rfc3339

Obj = Mapping[str, Any]


# -- time -------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: about two significant figures of a span.

    Up to a second of clock skew into the future reads as "0s"; more is "<invalid>".
    """
    whole = math.trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


# Every row of a list reads the same few timestamps (creation, conditions) again and again.
_parse_time = lru_cache(maxsize=4096)(parse_time)


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 API timestamp; None when unset or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_time(value)


def since(value: Any, now: float) -> str:
    """Age of an API timestamp as a human duration, "<unknown>" when it is unset."""
    ts = timestamp(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def _created_at(obj: Obj) -> str:
    ts = timestamp(_meta(obj).get("creationTimestamp"))
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return rfc3339(math.floor(ts))


# -- small readers ----------------------------------------------------------------


def _d(obj: Any, *path: str) -> Any:
    """obj[path...] through nested dicts, None where a step is missing."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _m(obj: Any, *path: str) -> Mapping[str, Any]:
    value = _d(obj, *path)
    return value if isinstance(value, Mapping) else {}


def _l(obj: Any, *path: str) -> list[Any]:
    value = _d(obj, *path)
    return value if isinstance(value, list) else []


def _s(obj: Any, *path: str) -> str:
    value = _d(obj, *path)
    return value if isinstance(value, str) else ""


def _i(obj: Any, *path: str, default: int = 0) -> int:
    value = _d(obj, *path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _meta(obj: Obj) -> Mapping[str, Any]:
    return _m(obj, "metadata")


def _name(obj: Obj) -> str:
    return _s(obj, "metadata", "name")


def _age(obj: Obj, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _format_labels(labels: Any) -> str:
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(selector: Any, on_error: str) -> str:
    try:
        return str(selector_from_api(selector if isinstance(selector, Mapping) else None))
    except ValueError:
        return on_error


def _format_label_selector(selector: Any) -> str:
    return _selector_string(selector, "<error>") or "<none>"


def _quantity(value: Any) -> str:
    if value is None:
        return "0"
    try:
        return str(parse_quantity(value))
    except (ValueError, TypeError):
        return str(value)


def _int_or_string(value: Any) -> str:
    return str(int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _bool_word(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _containers_cells(pod_spec: Any) -> list[str]:
    containers = _l(pod_spec, "containers")
    names = ",".join(_s(c, "name") for c in containers)
    images = ",".join(_s(c, "image") for c in containers)
    return [names, images]


def _list_with_more(items: list[str], total: int, limit: int, empty: str) -> str:
    text = ",".join(items)
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty
