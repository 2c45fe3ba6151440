"""Server-side tables: the ``meta.k8s.io`` Table answer kubectl's human output asks for.

kubectl's ``get`` (plain, ``-o wide``, ``-w``) sends ``Accept:
application/json;as=Table;v=v1;g=meta.k8s.io,...`` and prints the columns the
server returns. This module negotiates the Table version and builds the Table
around the rows; the columns and cells of each built-in kind, Kubernetes' own
printers, are printers.py's, so that ``kubectl get pods`` reads the same
against kubelite as against a real cluster.

Everything here is a pure function over dicts. As Kubernetes does, the server
always renders the wide cells; kubectl hides the columns whose ``priority`` is
above 0 unless asked for ``-o wide``. Kinds without a printer get Kubernetes'
default table (Name, Created At); custom resources get their CRD's
``additionalPrinterColumns`` (or Name, Age) through ``printer_columns``.

A watch answers one one-row Table per event; only the first carries
``columnDefinitions`` (``include_columns=False`` afterwards), the way the API
server saves bandwidth and kubectl reuses the header it already printed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubelite.apiserver.codec import accept_clauses
from kubelite.apiserver.printcells import (
    Obj,
    _meta,
    _name,
    _parse_time,
    since,
)
from kubelite.apiserver.printers import (
    NAME_DOC,
    column_definitions,
    pod_row_conditions,
    row_cells,
)

TABLE_V1 = "meta.k8s.io/v1"
TABLE_V1BETA1 = "meta.k8s.io/v1beta1"
INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")


# -- content negotiation ----------------------------------------------------------


def table_version(accept: str) -> str:
    """``meta.k8s.io/v1`` or ``meta.k8s.io/v1beta1`` when the first acceptable type asks
    for a Table in that version, else "" (answer the plain object or list).

    A Table clause of a version we do not serve, or in protobuf, is skipped like any
    media type we cannot produce; the first clause we can produce decides.
    """
    for media, params in accept_clauses(accept or ""):
        if media not in ("application/json", "application/*", "*/*"):
            if media == "application/vnd.kubernetes.protobuf" and "as" not in params:
                return ""
            continue
        target = params.get("as")
        if target is None:
            return ""
        if target == "Table" and params.get("g") == "meta.k8s.io":
            if params.get("v") == "v1":
                return TABLE_V1
            if params.get("v") == "v1beta1":
                return TABLE_V1BETA1
            continue
        if target == "Table":
            continue
        return ""  # another transformation (PartialObjectMetadata...): not ours
    return ""


def wants_table(accept: str) -> bool:
    """True when the Accept header's first acceptable type is a meta.k8s.io Table."""
    return bool(table_version(accept))


# -- custom resources -------------------------------------------------------------

_CRD_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _crd_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return list(printer_columns) if printer_columns else [_CRD_AGE]


_PATH_STEP = re.compile(
    r"""\.(?P<field>[^.\[\]]+)"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*(?P<quote>['"])(?P<key>.*?)(?P=quote)\s*\]"""
    r"""|\[\s*\?\(\s*@\.(?P<test>[^=!\s)]+)\s*==\s*(?P<q2>['"]?)(?P<want>[^'")]*)(?P=q2)\s*\)\s*\]"""
    r"""|\[\s*(?P<all>\*)\s*\]"""
)


def _json_path_value(obj: Any, path: str) -> tuple[bool, Any]:
    """The first value a simple JSONPath selects, as a CRD printer column shows it.

    Supports ``.field``, ``['field']``, ``[n]``, ``[*]`` and ``[?(@.a.b=="v")]``;
    returns (False, None) when nothing matches or the path is beyond that.
    """
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    candidates: list[Any] = [obj]
    position = 0
    while position < len(text):
        step = _PATH_STEP.match(text, position)
        if step is None:
            return False, None
        position = step.end()
        following: list[Any] = []
        for current in candidates:
            if step["field"] is not None or step["quote"] is not None:
                key = step["field"] if step["field"] is not None else step["key"]
                if isinstance(current, Mapping) and key in current:
                    following.append(current[key])
            elif step["index"] is not None:
                if isinstance(current, list) and -len(current) <= int(step["index"]) < len(current):
                    following.append(current[int(step["index"])])
            elif step["all"] is not None:
                if isinstance(current, list):
                    following.extend(current)
                elif isinstance(current, Mapping):
                    following.extend(current.values())
            elif isinstance(current, list):
                for item in current:
                    found, value = _json_path_value(item, "." + step["test"])
                    if found and _jsonpath_text(value) == step["want"]:
                        following.append(item)
        candidates = following
        if not candidates:
            return False, None
    return True, candidates[0]


def _jsonpath_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _crd_cell(kind: str, found: bool, value: Any, now: float) -> Any:
    if not found or value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return _jsonpath_text(value)
    if kind == "integer" and number:
        return int(value)
    if kind == "number" and number:
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return "<invalid>" if _parse_time(value) is None else since(value, now)
    return None


def custom_resource_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Table columns of a custom resource from its CRD version's additionalPrinterColumns."""
    columns = [{"name": "Name", "type": "string", "format": "name", "description": NAME_DOC, "priority": 0}]
    for column in _crd_columns(printer_columns):
        columns.append(
            {
                "name": str(column.get("name", "")),
                "type": str(column.get("type", "")),
                "format": str(column.get("format", "")),
                "description": str(column.get("description", "")),
                "priority": int(column.get("priority", 0) or 0),
            }
        )
    return columns


def custom_resource_cells(printer_columns: Sequence[Mapping[str, Any]], obj: Obj, now: float) -> list[Any]:
    """The cells of one custom resource: its name, then each printer column's value."""
    cells: list[Any] = [_name(obj)]
    for column in _crd_columns(printer_columns):
        found, value = _json_path_value(obj, str(column.get("jsonPath", "")))
        cells.append(_crd_cell(str(column.get("type", "")), found, value, now))
    return cells


# -- the Table --------------------------------------------------------------------


def _row_object(obj: Obj, include_object: str, version: str) -> Any:
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": version, "metadata": _meta(obj)}


def build_table(
    group: str,
    plural: str,
    objects: Iterable[Obj],
    resource_version: str = "",
    include_object: str = "Metadata",
    now: float | None = None,
    *,
    continue_token: str = "",
    remaining: int | None = None,
    table_version: str = TABLE_V1,
    include_columns: bool = True,
    printer_columns: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io Table of ``objects``.

    ``resource_version`` is the list's (for GET: the object's own). ``include_object``
    is the ``includeObject`` query parameter ("" means Metadata); any other value
    raises ValueError, which the API answers with 406 as Kubernetes does.
    ``include_columns=False`` leaves ``columnDefinitions`` null, for every watch event
    after the first. ``printer_columns`` (a CRD version's additionalPrinterColumns,
    possibly empty) selects the custom resource layout.
    """
    include_object = include_object or "Metadata"
    if include_object not in INCLUDE_OBJECT_VALUES:
        raise ValueError(f'unrecognized includeObject value: "{include_object}"')
    moment = time.time() if now is None else now
    rows = []
    for obj in objects:
        if printer_columns is not None:
            cells = custom_resource_cells(printer_columns, obj, moment)
            conditions = None
        else:
            cells = row_cells(group, plural, obj, moment)
            conditions = pod_row_conditions(obj) if (group, plural) == ("", "pods") else None
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object != "None":
            row["object"] = _row_object(obj, include_object, table_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    columns: list[dict[str, Any]] | None = None
    if include_columns:
        columns = (
            custom_resource_columns(printer_columns)
            if printer_columns is not None
            else column_definitions(group, plural)
        )
    return {
        "kind": "Table",
        "apiVersion": table_version,
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }
