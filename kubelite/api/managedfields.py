"""Managed fields: which field manager owns which fields of an object.

Kubernetes records, in ``metadata.managedFields``, one entry per field
manager (a client name such as ``kubectl-create`` or ``kube-scheduler``),
operation (``Apply`` or ``Update``), apiVersion and subresource, each with a
set of field paths encoded as ``FieldsV1`` JSON. This module is that
bookkeeping, as pure functions on plain JSON dicts: decoding and encoding
the entries (shared with :mod:`kubelite.api.apply`), capping the number of
Update managers, and :func:`update_managed_fields` for create, update and
patch, which moves the fields a write changed to its manager.

The pieces below it: field paths, ``FieldSet`` and the FieldsV1 form in
fieldpath.py; what the model says about each node in fieldschema.py; the
walks (fields an object sets, the diff of two versions) in fielddiff.py.

The semantics follow sigs.k8s.io/structured-merge-diff as the API server
uses it; known simplifications: all apiVersions of a kind share one schema
(no conversion between a manager's version and the request's), and
duplicate keys in associative lists are tolerated rather than tracked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from kubelite.api.fielddiff import NEVER_OWNED, created_fields_v1, diff_paths, shared_empty_object
from kubelite.api.fieldpath import FieldSet, from_fields_v1, sort_elements, to_fields_v1
from kubelite.api.model import Model

LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS: Final = 10
ANCIENT_CHANGES_MANAGER: Final = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER: Final = "before-first-apply"


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of an object without ``metadata.managedFields``."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


# -- managed fields entries ------------------------------------------------------------


class ManagerKey(NamedTuple):
    """Who an entry belongs to; Apply entries do not include their apiVersion."""

    manager: str
    operation: str
    api_version: str
    subresource: str


@dataclass(slots=True)
class ManagedEntry:
    """One manager's fields. ``wire`` is a FieldsV1 already written for a set:
    :func:`encode_managed_fields` reuses it while ``fields`` is still that set."""

    fields: FieldSet
    api_version: str
    time: str | None
    wire: tuple[FieldSet, dict[str, Any]] | None = None


Managed = dict[ManagerKey, ManagedEntry]


def manager_key(manager: str, operation: str, api_version: str, subresource: str = "") -> ManagerKey:
    return ManagerKey(manager, operation, "" if operation == "Apply" else api_version, subresource)


def decode_managed_fields(entries: Any) -> Managed:
    """The entries of ``metadata.managedFields``; ValueError if one is invalid."""
    managed: Managed = {}
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            if not fields_type:
                raise ValueError(f"missing fieldsType in managed fields entry {i}")
            raise ValueError(f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        key = manager_key(entry.get("manager") or "", operation, api_version, entry.get("subresource") or "")
        wire = entry.get("fieldsV1") or {}
        fields, canonical = _decode_fields_v1(wire)
        managed[key] = ManagedEntry(
            fields, api_version, entry.get("time"), (fields, wire) if canonical else None
        )
    return managed


def _decode_fields_v1(wire: Any) -> tuple[FieldSet, bool]:
    # The set, and whether `wire` is exactly how to_fields_v1 writes it (so it can be kept).
    try:
        blob = orjson.dumps(wire)
    except (orjson.JSONEncodeError, TypeError):
        return from_fields_v1(wire), False
    return _decode_fields_v1_blob(blob)


@functools.lru_cache(maxsize=4096)
def _decode_fields_v1_blob(blob: bytes) -> tuple[FieldSet, bool]:
    # Objects of one shape carry the same FieldsV1, written by this module: decode each once.
    fields = from_fields_v1(orjson.loads(blob))
    return fields, orjson.dumps(to_fields_v1(fields)) == blob


def _time_order(time: str | None) -> str:
    # RFC 3339 UTC timestamps with second precision sort as strings; no time sorts first.
    return (time or "")[:19]


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]]:
    """``metadata.managedFields`` in Kubernetes' order: Apply first, then oldest first."""
    order = sorted(
        managed.items(),
        key=lambda kv: (
            kv[0].operation,
            _time_order(kv[1].time),
            kv[0].manager,
            kv[1].api_version,
            kv[0].subresource,
        ),
    )
    out = []
    for key, entry in order:
        encoded: dict[str, Any] = {"manager": key.manager, "operation": key.operation}
        encoded["apiVersion"] = entry.api_version
        if entry.time is not None:
            encoded["time"] = entry.time
        encoded["fieldsType"] = "FieldsV1"
        wire = entry.wire
        encoded["fieldsV1"] = (
            wire[1] if wire is not None and wire[0] is entry.fields else to_fields_v1(entry.fields)
        )
        if key.subresource:
            encoded["subresource"] = key.subresource
        out.append(encoded)
    return out


def _is_reset(entries: Any) -> bool:
    return isinstance(entries, list) and (entries == [] or entries == [{}])


def _managed_of(obj: dict[str, Any] | None) -> Managed:
    try:
        return decode_managed_fields(((obj or {}).get("metadata") or {}).get("managedFields"))
    except ValueError:
        return {}


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Merge the oldest Update entries into per-version ``ancient-changes`` entries."""
    updaters = [k for k in managed if k.operation == "Update"]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda k: (_time_order(managed[k].time), k))
    first_of_version: dict[str, ManagerKey] = {}
    count = len(updaters)
    for key in updaters:
        if count <= limit:
            break
        entry = managed[key]
        version = entry.api_version
        bucket = manager_key(ANCIENT_CHANGES_MANAGER, "Update", version)
        if version not in first_of_version:
            first_of_version[version] = key
            continue
        if bucket not in managed:
            managed[bucket] = managed.pop(first_of_version[version])
        managed[bucket] = ManagedEntry(entry.fields | managed[bucket].fields, version, entry.time)
        del managed[key]
        count -= 1


def record_update(
    managed: Managed,
    old: dict[str, Any],
    new: dict[str, Any],
    key: ManagerKey,
    api_version: str,
    cls: type[Model] | None,
    now: str,
) -> bool:
    """Give the fields that changed from ``old`` to ``new`` to ``key``, in place.

    Other managers lose the fields that changed or disappeared; entries
    left empty are dropped. Returns whether the writer took any field.
    """
    added, modified, removed = diff_paths(without_managed_fields(old), without_managed_fields(new), cls)
    changed = modified | added
    previous = managed.get(key)
    for other in list(managed):
        entry = managed[other]
        paths = entry.fields.paths
        if paths.isdisjoint(changed) and paths.isdisjoint(removed):
            continue  # the same set, so its FieldsV1 is kept as it is
        _replace_fields(entry, FieldSet(paths - changed - removed))
        if not entry.fields:
            del managed[other]
    taken = changed - NEVER_OWNED
    if not taken:
        return False
    if previous is None:
        managed[key] = ManagedEntry(FieldSet(taken), api_version, now)
        return True
    entry = ManagedEntry(previous.fields, api_version, now, previous.wire)
    if not taken <= previous.fields.paths:
        _replace_fields(entry, FieldSet(taken | previous.fields.paths))
    managed[key] = entry
    return True


def _replace_fields(entry: ManagedEntry, fields: FieldSet) -> None:
    """Give an entry a new set, its FieldsV1 patched where it changed (if it had one)."""
    wire = entry.wire
    if wire is not None and wire[0] is entry.fields:
        old = entry.fields.paths
        changes: dict[str, list[Any]] = {}
        for paths, op in ((fields.paths - old, 1), (old - fields.paths, -1)):
            for path in paths:
                if not path:
                    continue
                children = changes
                for pe in path[:-1]:
                    node = children.get(pe)
                    if node is None:
                        node = children[pe] = [0, {}]
                    children = node[1]
                node = children.get(path[-1])
                if node is None:
                    children[path[-1]] = [op, {}]
                else:
                    node[0] = op
        entry.wire = (fields, _patch_fields_v1(wire[1], changes))
    entry.fields = fields


def _patch_fields_v1(children: dict[str, Any], changes: dict[str, list[Any]]) -> dict[str, Any]:
    # The members of a FieldsV1 node with paths added (+1) or removed (-1) below it,
    # copied only along the changed paths; "." is left to the caller.
    out = {pe: node for pe, node in children.items() if pe != "."}
    new_key = False
    for pe, (op, below) in changes.items():
        current = out.get(pe)
        if current is None:
            member = False
            new_key = True
            grandchildren: dict[str, Any] = {}
        else:
            member = not current or "." in current
            grandchildren = current
        if op:
            member = op > 0
        if below:
            grandchildren = _patch_fields_v1(grandchildren, below)
        elif "." in grandchildren:
            grandchildren = {k: v for k, v in grandchildren.items() if k != "."}
        if grandchildren:
            out[pe] = {".": {}, **grandchildren} if member else grandchildren
        elif member:
            out[pe] = {}
        else:
            out.pop(pe, None)
    if new_key:
        out = {pe: out[pe] for pe in sort_elements(out)}
    return out


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str = "Update",
    cls: type[Model] | None = None,
    now: str = "",
    subresource: str = "",
    *,
    api_version: str | None = None,
) -> list[dict[str, Any]]:
    """The ``metadata.managedFields`` to store after a create, update or patch.

    ``old`` is the stored object (None on create) and ``new`` the object about
    to be stored, defaulted, carrying the managedFields of the request (or of
    the patched object). As Kubernetes does: a request that sets
    managedFields to ``[]`` clears them (and tracking stops); valid
    managedFields in the request replace the stored ones (kubectl's
    client-side to server-side apply migration relies on this); a
    subresource write always starts from the stored entries; an existing
    object without managedFields is not tracked.
    """
    if operation != "Update":
        raise ValueError("update_managed_fields records Update operations; use server_side_apply")
    version = api_version or str(new.get("apiVersion") or "")
    requested = (new.get("metadata") or {}).get("managedFields")
    if subresource:
        managed = _managed_of(old)
    elif _is_reset(requested):
        managed = {}
    else:
        managed = _managed_of(new) or _managed_of(old)
    if old is not None and not managed:
        return []
    key = manager_key(manager, "Update", version, subresource)
    if old is None and not managed:
        created = created_fields_v1(without_managed_fields(new), cls)
        if created is not None:
            if not created:
                return []
            # encode_managed_fields of this one entry
            entry: dict[str, Any] = {"manager": manager, "operation": "Update", "apiVersion": version}
            if now is not None:
                entry["time"] = now
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = created
            if subresource:
                entry["subresource"] = subresource
            return [entry]
    base = old if old is not None else shared_empty_object(cls)
    record_update(managed, base, new, key, version, cls, now)
    cap_update_managers(managed)
    return encode_managed_fields(managed)


@functools.lru_cache(maxsize=256)
def default_manager(user_agent: str) -> str:
    """The manager of a write that names none: the User-Agent up to its first ``/``.

    Remembered per User-Agent: a few clients send every write, each time the same header.
    """
    out: list[str] = []
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        if len(out) > 128:
            break
        out.append(ch)
    return "".join(out)
