"""Server-side apply: merge a configuration into an object and track who owns what.

A manager applies a partial object, its configuration: the fields it has an
opinion about. :func:`server_side_apply` merges it into the live object
(maps by key, associative lists by item key, sets by value; atomic values
replaced), removes the fields this manager applied last time and no longer
does (unless another manager owns them), and records the manager's
``Apply`` entry in ``metadata.managedFields`` as exactly the configuration's
fields. A configured value that differs from the live one and is owned by
another manager is a conflict: :class:`ApplyConflict`, the 409 Kubernetes
answers, unless ``force`` moves the ownership. Equal values are shared.

As in Kubernetes, ``kubectl`` (the manager ``kubectl apply --server-side``
uses) may take over, without conflicts, the fields a client-side apply
recorded in the ``kubectl.kubernetes.io/last-applied-configuration``
annotation, and keeps that annotation in step with what it applies.

Pure functions on JSON dicts; the schema comes from the typed model as in
:mod:`kubelite.api.managedfields`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from kubelite.api.errors import StatusError
from kubelite.api.fielddiff import compare, empty_object, ensure_named_fields, fields_of_object, raw_field_set
from kubelite.api.fieldpath import FieldSet, Path, go_json, path_string, path_trie
from kubelite.api.fieldschema import (
    Schema,
    child_schema,
    index_items,
    is_granular,
    item_element,
    resolve,
    schema_for,
)
from kubelite.api.managedfields import (
    BEFORE_FIRST_APPLY_MANAGER,
    LAST_APPLIED_ANNOTATION,
    Managed,
    ManagedEntry,
    ManagerKey,
    decode_managed_fields,
    encode_managed_fields,
    manager_key,
    record_update,
    without_managed_fields,
)
from kubelite.api.model import Model
from kubelite.api.patch import json_copy

_ABSENT: Final = object()


class ApplyError(StatusError):
    """A malformed apply request (400 BadRequest)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


@dataclass(frozen=True, slots=True)
class Conflict:
    """One field of the configuration that another manager owns with another value."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    path: Path

    @property
    def field(self) -> str:
        return path_string(self.path)

    def describe_manager(self) -> str:
        """How Kubernetes names the manager: ``"kubectl-edit" using v1`` for updaters."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def identity(self) -> str:
        # The JSON identity Kubernetes sorts managers by.
        parts = [f'"manager":{go_json(self.manager)}', f'"operation":{go_json(self.operation)}']
        if self.operation != "Apply":
            parts.append(f'"apiVersion":{go_json(self.api_version)}')
        if self.subresource:
            parts.append(f'"subresource":{go_json(self.subresource)}')
        return "{" + ",".join(parts) + "}"


class ApplyConflict(StatusError):
    """Fields owned by other managers would change: 409 Conflict, one cause per field.

    ``conflicts`` lists ``(manager, field path)`` pairs, e.g.
    ``("kubectl-client-side-apply", ".data.a")``; ``details`` holds the
    ``FieldManagerConflict`` causes of the Status.
    """

    def __init__(self, conflicts: list[Conflict]) -> None:
        ordered = sorted(conflicts, key=lambda c: c.identity())
        self.conflict_list = ordered
        self.conflicts = [(c.manager, c.field) for c in ordered]
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {c.describe_manager()}",
                "field": c.field,
            }
            for c in ordered
        ]
        super().__init__(409, "Conflict", _conflict_message(ordered), {"causes": causes})


def _conflict_message(conflicts: list[Conflict]) -> str:
    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {c.describe_manager()}: {c.field}"
    lines: list[str] = []
    current = None
    for c in conflicts:
        if c.identity() != current:
            current = c.identity()
            lines.append(f"conflicts with {c.describe_manager()}:")
        lines.append(f"- {c.field}")
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


class _Conflicts(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


# -- merging ---------------------------------------------------------------------------


def merge(live: Any, config: Any, cls: type[Model] | None) -> Any:
    """The live object with the configuration merged in (inputs untouched)."""
    return _merge(live, config, schema_for(cls))


def _merge(lhs: Any, rhs: Any, schema: Schema) -> Any:
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT:
        return rhs
    schema = resolve(schema, rhs)
    if not is_granular(schema):
        return rhs
    container = dict if schema.kind in ("struct", "map") else list
    if not all(v is None or isinstance(v, container) for v in (lhs, rhs)):
        return rhs
    if not lhs and not rhs:
        return rhs
    if rhs is None:
        return lhs  # a null granular value keeps what is there
    if container is dict:
        out = dict(lhs) if isinstance(lhs, dict) else {}
        for key, value in rhs.items():
            sub, _ = child_schema(schema, key)
            out[key] = _merge(out.get(key, _ABSENT), value, sub)
        return out
    return _merge_list(lhs if isinstance(lhs, list) else [], rhs, schema)


def _merge_list(lhs: list[Any], rhs: list[Any], schema: Schema) -> list[Any]:
    # Live items keep their order; configured items are placed in the
    # configuration's order, so an item the configuration moves moves.
    assert schema.elem is not None
    elem = schema.elem
    left = [(item_element(schema, item), item) for item in lhs]
    right = [(pe, items[0]) for pe, items in index_items(schema, rhs).items()]
    live_by_pe = {pe: item for pe, item in reversed(left) if pe is not None}
    conf_by_pe = dict(right)
    shared = [pe for pe, _ in right if pe in live_by_pe]
    shared_at = 0
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(left) or ri < len(right):
        next_shared = shared[shared_at] if shared_at < len(shared) else None
        if li < len(left) and ri < len(right):
            lpe = left[li][0]
            if lpe is not None and lpe == right[ri][0]:
                out.append(_merge(live_by_pe[lpe], conf_by_pe[lpe], elem))
                done.add(lpe)
                li, ri, shared_at = li + 1, ri + 1, shared_at + 1
                continue
            if lpe in conf_by_pe and next_shared is not None and next_shared != lpe:
                li += 1  # the configuration places this item later
                continue
        if li < len(left):
            lpe, item = left[li]
            if lpe is None or lpe not in conf_by_pe:
                out.append(item)
                li += 1
                continue
            if lpe in done:
                li += 1
        if ri < len(right):
            rpe, item = right[ri]
            done.add(rpe)
            out.append(_merge(live_by_pe.get(rpe, _ABSENT), item, elem))
            ri += 1
            if next_shared == rpe:
                shared_at += 1
    return out


# -- removing --------------------------------------------------------------------------


def remove_fields(obj: Any, fs: FieldSet, cls: type[Model] | None) -> Any:
    """The object without the given paths (each with everything under it)."""
    result = _remove(obj, path_trie(fs.paths), schema_for(cls))
    return {} if result is _ABSENT else result


def _remove(value: Any, node: Any, schema: Schema) -> Any:
    schema = resolve(schema, value)
    if isinstance(value, dict) and schema.kind in ("struct", "map"):
        out = {}
        for key, child in value.items():
            pe = "f:" + key
            if pe in node.members:
                continue
            if pe in node.children:
                child = _remove(child, node.children[pe], child_schema(schema, key)[0])
                if child is _ABSENT:
                    continue
            out[key] = child
        return out
    if isinstance(value, list) and schema.kind in ("list-map", "set"):
        assert schema.elem is not None
        items = []
        for item in value:
            pe = item_element(schema, item)
            if pe in node.members:
                continue
            if pe is not None and pe in node.children:
                item = _remove(item, node.children[pe], schema.elem)
            items.append(item)
        return items if items else _ABSENT
    return value


def _prune(
    merged: dict[str, Any],
    last: FieldSet,
    owned: FieldSet,
    cls: type[Model] | None,
) -> dict[str, Any]:
    # Remove what the manager applied last time, does not apply now and no
    # one else owns; a struct counts as owned when anything inside it is.
    present = ensure_named_fields(raw_field_set(merged, cls), cls)
    doomed = (present & ensure_named_fields(last, cls)) - ensure_named_fields(owned, cls)
    if not doomed:
        return merged
    topmost = [p for p in doomed.paths if not any(p[:i] in doomed for i in range(1, len(p)))]
    result = remove_fields(merged, FieldSet(topmost), cls)
    assert isinstance(result, dict)
    return result


# -- applying --------------------------------------------------------------------------


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _check_request(config: Any, api_version: str, kind: str | None) -> None:
    if not isinstance(config, dict):
        raise ApplyError("apply patch must be an object")
    config_version = str(config.get("apiVersion") or "")
    config_kind = str(config.get("kind") or "")
    if config_version != api_version or (kind is not None and config_kind != kind):
        raise ApplyError(f"invalid object type: {_gvk_string(config_version, config_kind)}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise ApplyError("metadata.managedFields must be nil")


def _apply_once(
    live: dict[str, Any],
    config: dict[str, Any],
    managed: Managed,
    key: ManagerKey,
    force: bool,
    cls: type[Model] | None,
    api_version: str,
    now: str,
    creating: bool,
) -> tuple[dict[str, Any], Managed]:
    managed = {k: ManagedEntry(e.fields, e.api_version, e.time, e.wire) for k, e in managed.items()}
    merged = merge(live, config, cls)
    config_fields = raw_field_set(config, cls)
    previous = managed.pop(key, None)
    if previous is not None and previous.fields:
        owned = config_fields
        for entry in managed.values():
            owned = owned | entry.fields
        merged = _prune(merged, previous.fields, owned, cls)

    diff = compare(live, merged, cls)
    changed = diff.modified | diff.added
    conflicts = [
        Conflict(k.manager, k.operation, e.api_version, k.subresource, path)
        for k, e in managed.items()
        for path in e.fields & changed
    ]
    if conflicts and not force:
        raise _Conflicts(conflicts)
    for k in list(managed):
        fields = managed[k].fields
        if fields.paths.isdisjoint(changed.paths) and fields.paths.isdisjoint(diff.removed.paths):
            continue  # untouched: its FieldsV1 is kept as it is
        managed[k].fields = fields - changed - diff.removed
        if not managed[k].fields:
            del managed[k]

    own = fields_of_object(config, cls)
    if own:
        object_changed = creating or diff != (FieldSet(), FieldSet(), FieldSet())
        time = now if object_changed or previous is None else previous.time
        managed[key] = ManagedEntry(own, api_version, time)
    return merged, managed


def _allowed_by_last_applied(live: dict[str, Any], cls: type[Model] | None, api_version: str) -> FieldSet:
    # The fields a client-side apply recorded and that still hold their recorded values.
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED_ANNOTATION)
    if not text:
        return FieldSet()
    try:
        last_applied = json.loads(text)
    except ValueError:
        return FieldSet()
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != api_version:
        return FieldSet()
    diff = compare(last_applied, without_managed_fields(live), cls)
    return raw_field_set(last_applied, cls) - diff.modified - diff.added - diff.removed


def _last_applied_value(config: dict[str, Any]) -> str:
    copy = dict(config)
    meta = copy.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED_ANNOTATION}
        copy["metadata"] = {**meta, "annotations": annotations}
    return go_json(copy) + "\n"


def server_side_apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    force: bool,
    cls: type[Model] | None,
    api_version: str,
    now: str,
    *,
    kind: str | None = None,
    subresource: str = "",
) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: create).

    The result carries the new ``metadata.managedFields``; it is neither
    defaulted nor validated (the caller does both, then stores it). Raises
    :class:`ApplyConflict` (409) on conflicts and :class:`ApplyError` (400)
    when the configuration is not of this kind and version or sets
    managedFields. Inputs are left untouched.
    """
    _check_request(config, api_version, kind)
    creating = live is None
    base = {} if live is None else without_managed_fields(live)
    try:
        managed = (
            {} if live is None else decode_managed_fields((live.get("metadata") or {}).get("managedFields"))
        )
    except ValueError as exc:
        raise StatusError(500, "InternalError", f"failed to decode managed fields: {exc}") from exc
    if live is not None and not managed:
        # An object nobody tracked yet: its fields belong to a placeholder updater.
        placeholder = manager_key(BEFORE_FIRST_APPLY_MANAGER, "Update", api_version)
        record_update(managed, empty_object(cls), base, placeholder, api_version, cls, now)

    key = manager_key(manager, "Apply", api_version, subresource)
    try:
        result, managed = _apply_once(base, config, managed, key, force, cls, api_version, now, creating)
    except _Conflicts as exc:
        conflicts = exc.conflicts
        if manager == "kubectl" and live is not None:
            allowed = _allowed_by_last_applied(live, cls, api_version)
            conflicts = [c for c in conflicts if c.path not in allowed]
        if conflicts:
            raise ApplyConflict(conflicts) from None
        result, managed = _apply_once(base, config, managed, key, True, cls, api_version, now, creating)

    meta = dict(result.get("metadata") or {})
    annotations = meta.get("annotations")
    if manager == "kubectl" and isinstance(annotations, dict) and annotations.get(LAST_APPLIED_ANNOTATION):
        meta["annotations"] = {**annotations, LAST_APPLIED_ANNOTATION: _last_applied_value(config)}
    entries = encode_managed_fields(managed)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    out: dict[str, Any] = json_copy({**result, "metadata": meta})
    return out
