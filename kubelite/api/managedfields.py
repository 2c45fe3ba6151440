"""Managed fields: which field manager owns which fields of an object.

Kubernetes records, in ``metadata.managedFields``, one entry per field
manager (a client name such as ``kubectl-create`` or ``kube-scheduler``),
operation (``Apply`` or ``Update``), apiVersion and subresource, each with a
set of field paths encoded as ``FieldsV1`` JSON. This module is that
bookkeeping, as pure functions on plain JSON dicts:

- :class:`FieldSet`, a set of paths; a path is a tuple of path elements in
  their serialized form: ``f:<name>`` (a struct field or map key),
  ``k:{"name":"x"}`` (the element of a list keyed by its key fields),
  ``v:<json>`` (the element of a set) and ``i:<n>`` (a list index, only
  ever read from the wire).
- :func:`fields_of_object`, :func:`to_fields_v1`, :func:`from_fields_v1`.
- :func:`compare`, the field-level diff of two objects that every write
  uses to move ownership (fields that changed go to the writer).
- :func:`update_managed_fields` for create, update and patch, and the
  decoding/encoding of the entries that :mod:`kubelite.api.apply` shares.

The schema comes from the typed model (``fields_of``): structs, maps,
associative lists (keyed by ``listMapKeys``, or by ``patchMergeKey`` when a
list has a merge strategy and no ``listType``), sets and atomic values.
``Any`` fields and custom resources (``cls=None``) use deduced structure:
dicts are maps whose every key is a field, lists and scalars are atomic.

The semantics follow sigs.k8s.io/structured-merge-diff as the API server
uses it; known simplifications: all apiVersions of a kind share one schema
(no conversion between a manager's version and the request's), and
duplicate keys in associative lists are tolerated rather than tracked.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Final, NamedTuple

import msgspec

from kubelite.api.model import Model, fields_of

Path = tuple[str, ...]

LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS: Final = 10
ANCIENT_CHANGES_MANAGER: Final = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER: Final = "before-first-apply"

# Fields no manager ever owns: identity and bookkeeping of the object itself.
_NEVER_OWNED: Final = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:clusterName"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:resourceVersion"),
    }
)

_ABSENT: Final = object()


# -- path elements ---------------------------------------------------------------------


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoder writes it: sorted keys, HTML characters escaped."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        value = int(value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def key_element(fields: dict[str, Any]) -> str:
    """The path element of an associative list item with these key fields."""
    return "k:{" + ",".join(f"{go_json(k)}:{go_json(fields[k])}" for k in sorted(fields)) + "}"


def value_element(value: Any) -> str:
    """The path element of a set item."""
    return "v:" + go_json(value)


def canonical_element(pe: str) -> str:
    """A path element read from the wire, rewritten in the form this module produces."""
    kind = pe[:2]
    if kind == "f:":
        return pe
    if kind == "k:":
        fields = json.loads(pe[2:])
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key path element {pe!r}")
        return key_element(fields)
    if kind == "v:":
        return value_element(json.loads(pe[2:]))
    if kind == "i:":
        return f"i:{int(pe[2:])}"
    raise ValueError(f"unknown path element type in {pe!r}")


def _value_order(value: Any) -> tuple[Any, ...]:
    # structured-merge-diff orders values: numbers, strings, booleans, lists, maps, null.
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


@functools.lru_cache(maxsize=65536)
def element_order(pe: str) -> tuple[Any, ...]:
    """The sort key of a path element: fields, then keys, then values, then indexes."""
    kind, rest = pe[:2], pe[2:]
    if kind == "f:":
        return (0, rest)
    if kind == "k:":
        fields = json.loads(rest)
        return (1, tuple((k, _value_order(fields[k])) for k in sorted(fields)))
    if kind == "v:":
        return (2, _value_order(json.loads(rest)))
    return (3, int(rest))


def _go_value_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_value_string(v)}" for k, v in value.items())
    return str(value)


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: ``.spec.containers[name="x"].image``."""
    out = []
    for pe in path:
        kind, rest = pe[:2], pe[2:]
        if kind == "f:":
            out.append("." + rest)
        elif kind == "k:":
            fields = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_go_value_string(v)}" for k, v in fields.items()) + "]")
        elif kind == "v:":
            out.append("[=" + _go_value_string(json.loads(rest)) + "]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


# -- field sets ------------------------------------------------------------------------


class FieldSet:
    """An immutable set of field paths; iteration is in Kubernetes' order (preorder)."""

    __slots__ = ("paths",)

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self.paths: frozenset[Path] = frozenset(paths)

    def __contains__(self, path: object) -> bool:
        return path in self.paths

    def __len__(self) -> int:
        return len(self.paths)

    def __bool__(self) -> bool:
        return bool(self.paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.paths == other.paths

    def __hash__(self) -> int:
        return hash(self.paths)

    def __or__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths | other.paths)

    def __and__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths & other.paths)

    def __sub__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths - other.paths)

    def __iter__(self) -> Iterator[Path]:
        """Members of a node before its children, each group in element order."""
        return iter(_preorder(self.paths))

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"

    def strings(self) -> list[str]:
        """The paths as Kubernetes prints them, in order."""
        return [path_string(p) for p in self]


def _preorder(paths: frozenset[Path]) -> list[Path]:
    root = path_trie(paths)
    out: list[Path] = []

    def walk(node: PathNode, prefix: Path) -> None:
        for pe in sorted(node.members, key=element_order):
            out.append((*prefix, pe))
        for pe in sorted(node.children, key=element_order):
            walk(node.children[pe], (*prefix, pe))

    walk(root, ())
    return out


@dataclass(slots=True)
class PathNode:
    members: set[str]
    children: dict[str, PathNode]


def path_trie(paths: Iterable[Path]) -> PathNode:
    root = PathNode(set(), {})
    for path in paths:
        if not path:
            continue
        node = root
        for pe in path[:-1]:
            node = node.children.setdefault(pe, PathNode(set(), {}))
        node.members.add(path[-1])
    return root


def to_fields_v1(fs: FieldSet) -> dict[str, Any]:
    """The FieldsV1 JSON of a set, with keys in the order Kubernetes writes them."""

    def emit(node: PathNode, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and (node.members or node.children):
            out["."] = {}
        for pe in sorted(node.members | node.children.keys(), key=element_order):
            child = node.children.get(pe)
            out[pe] = {} if child is None else emit(child, pe in node.members)
        return out

    return emit(path_trie(fs.paths), False)


def from_fields_v1(fields: dict[str, Any]) -> FieldSet:
    """The set a FieldsV1 JSON object encodes; ValueError if it is malformed."""
    paths: list[Path] = []

    def read(obj: Any, prefix: Path) -> None:
        if not isinstance(obj, dict):
            raise ValueError(f"FieldsV1 expects an object, got {obj!r}")
        for key, value in obj.items():
            if key == ".":
                if prefix:
                    paths.append(prefix)
                continue
            path = (*prefix, canonical_element(key))
            if isinstance(value, dict) and not value:
                paths.append(path)
            else:
                read(value, path)

    read(fields, ())
    return FieldSet(paths)


# -- schema ----------------------------------------------------------------------------

# Structs Kubernetes declares +structType=atomic, and maps declared +mapType=atomic.
_ATOMIC_STRUCTS: Final = frozenset(
    {
        "LabelSelector",
        "OwnerReference",
        "CrossVersionObjectReference",
        "SecretReference",
        "FileKeySelector",
        "ObjectFieldSelector",
        "ResourceFieldSelector",
        "ConfigMapKeySelector",
        "SecretKeySelector",
        "NodeSelector",
        "NodeSelectorTerm",
        "TopologySelectorTerm",
        "EndpointAddress",
        "EndpointPort",
        "ObjectReference",
        "LocalObjectReference",
        "TypedLocalObjectReference",
        "ScopeSelector",
        "ServiceBackendPort",
        "Subject",
        "RoleRef",
    }
)
_ATOMIC_MAPS: Final = frozenset(
    {("PodSpec", "nodeSelector"), ("ReplicationControllerSpec", "selector"), ("ServiceSpec", "selector")}
)
# Defaults of list map keys that the schema declares, used when an item omits the key.
_KEY_DEFAULTS: Final = {"protocol": "TCP"}


class Schema(NamedTuple):
    """What the model says about one node of an object.

    ``kind`` is one of ``scalar``, ``atomic`` (a leaf whatever its value),
    ``struct`` (``cls`` set), ``map`` (``elem``), ``list-map`` (``elem`` and
    ``keys``), ``set`` and ``deduced`` (shape taken from the value).
    """

    kind: str
    cls: type[Model] | None = None
    elem: Schema | None = None
    keys: tuple[str, ...] = ()


SCALAR: Final = Schema("scalar")
ATOMIC: Final = Schema("atomic")
DEDUCED: Final = Schema("deduced")


def schema_for(cls: type[Model] | None) -> Schema:
    """The schema of a kind's objects; ``None`` (custom resources) is deduced."""
    return DEDUCED if cls is None else _schema_of_type(cls)


def _strip_optional(tp: Any) -> Any:
    if isinstance(tp, UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not NoneType]
        return args[0] if len(args) == 1 else tp
    return tp


@functools.cache
def _schema_of_type(tp: Any, list_type: str = "", keys: tuple[str, ...] = (), strategy: str = "") -> Schema:
    tp = _strip_optional(tp)
    if tp is Any:
        return DEDUCED
    if isinstance(tp, type) and issubclass(tp, Model):
        return ATOMIC if tp.__name__ in _ATOMIC_STRUCTS else Schema("struct", cls=tp)
    origin = typing.get_origin(tp)
    if origin is dict:
        return Schema("map", elem=_schema_of_type(typing.get_args(tp)[1]))
    if origin is list:
        elem = _schema_of_type(typing.get_args(tp)[0])
        if list_type == "map" or (not list_type and keys and "merge" in strategy):
            return Schema("list-map", elem=elem, keys=keys)
        if elem.kind == "scalar" and (list_type == "set" or (not list_type and "merge" in strategy)):
            return Schema("set", elem=elem)
        return ATOMIC
    if isinstance(tp, UnionType) or typing.get_origin(tp) is typing.Union:
        return SCALAR  # int | str (IntOrString)
    return SCALAR


@functools.cache
def struct_fields(cls: type[Model]) -> dict[str, Schema]:
    """The schema of each JSON field of a struct."""
    out: dict[str, Schema] = {}
    for name, info in fields_of(cls).items():
        wire = info.wire
        keys = wire.map_keys or ((wire.key,) if wire.key else ())
        schema = _schema_of_type(info.type, wire.list_type, keys, wire.strategy)
        if schema.kind == "map" and (cls.__name__, name) in _ATOMIC_MAPS:
            schema = ATOMIC
        out[name] = schema
    return out


def child_schema(schema: Schema, key: str) -> tuple[Schema, bool]:
    """The schema of a dict's member ``key``, and whether it is a declared struct field."""
    if schema.kind == "struct":
        assert schema.cls is not None
        field = struct_fields(schema.cls).get(key)
        return (field, True) if field is not None else (DEDUCED, False)
    if schema.kind == "map":
        assert schema.elem is not None
        return schema.elem, False
    return DEDUCED, False


def resolve(schema: Schema, value: Any) -> Schema:
    """A deduced schema made concrete by the value it describes."""
    if schema.kind != "deduced":
        return schema
    if isinstance(value, dict):
        return Schema("map", elem=DEDUCED)
    return ATOMIC if isinstance(value, list) else SCALAR


def is_granular(schema: Schema) -> bool:
    return schema.kind in ("struct", "map", "list-map", "set")


def item_element(schema: Schema, item: Any) -> str | None:
    """The path element of an item of an associative list (None if it has none)."""
    if schema.kind == "set":
        return None if isinstance(item, dict | list) or item is None else value_element(item)
    if not isinstance(item, dict):
        return None
    fields = {}
    for k in schema.keys:
        if k in item:
            fields[k] = item[k]
        elif k in _KEY_DEFAULTS:
            fields[k] = _KEY_DEFAULTS[k]
    return key_element(fields) if fields else None


def index_items(schema: Schema, items: Any) -> dict[str, list[Any]]:
    """The items of an associative list grouped by path element, in list order."""
    out: dict[str, list[Any]] = {}
    if isinstance(items, list):
        for item in items:
            pe = item_element(schema, item)
            if pe is not None:
                out.setdefault(pe, []).append(item)
    return out


# -- field sets of objects -------------------------------------------------------------


def fields_of_object(obj: dict[str, Any], cls: type[Model] | None) -> FieldSet:
    """The fields an object sets, as an applied configuration claims them.

    Leaves, atomic values, associative list items (the item itself and its
    fields), map keys, and null or empty values; identity and bookkeeping
    fields (``apiVersion``, ``kind``, ``metadata.name``, ...) are left out.
    """
    return FieldSet(raw_field_set(obj, cls).paths - _NEVER_OWNED)


def raw_field_set(obj: dict[str, Any], cls: type[Model] | None) -> FieldSet:
    """Like :func:`fields_of_object`, identity fields included."""
    out: set[Path] = set()
    _collect(obj, schema_for(cls), (), out)
    return FieldSet(out)


def _collect(value: Any, schema: Schema, path: Path, out: set[Path]) -> None:
    schema = resolve(schema, value)
    if schema.kind in ("struct", "map"):
        if not isinstance(value, dict):
            if path:
                out.add(path)
            return
        for key, child in value.items():
            sub, declared = child_schema(schema, key)
            child_path = (*path, "f:" + key)
            _collect(child, sub, child_path, out)
            if child is None or child == {} or not declared:
                out.add(child_path)
    elif schema.kind in ("list-map", "set"):
        if not isinstance(value, list):
            out.add(path)
            return
        assert schema.elem is not None
        for pe, items in index_items(schema, value).items():
            item_path = (*path, pe)
            if len(items) == 1:
                _collect(items[0], schema.elem, item_path, out)
            out.add(item_path)
    elif path:
        out.add(path)


def ensure_named_fields(fs: FieldSet, cls: type[Model] | None) -> FieldSet:
    """The set plus every struct field on the way to its paths (so a struct counts as owned)."""
    root = schema_for(cls)
    out = set(fs.paths)
    for path in fs.paths:
        schema = root
        for i, pe in enumerate(path[:-1]):
            if pe.startswith("f:"):
                sub, declared = child_schema(resolve(schema, {}), pe[2:])
                if declared:
                    out.add(path[: i + 1])
                schema = sub
            else:
                schema = schema.elem or DEDUCED
    return FieldSet(out)


# -- comparing objects -----------------------------------------------------------------


class Comparison(NamedTuple):
    """Fields ``added``, ``modified`` (leaves whose value changed) and ``removed``."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet


def compare(old: Any, new: Any, cls: type[Model] | None) -> Comparison:
    """The field-level difference between two versions of an object."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()

    def empty(v: Any) -> bool:
        return v is _ABSENT or v is None or v == {} or v == []

    def walk(lhs: Any, rhs: Any, schema: Schema, path: Path) -> None:
        schema = resolve(schema, rhs if rhs is not _ABSENT else lhs)
        container = dict if schema.kind in ("struct", "map") else list
        shapes_ok = all(v is _ABSENT or v is None or isinstance(v, container) for v in (lhs, rhs))
        if not is_granular(schema) or (empty(lhs) and empty(rhs)) or not shapes_ok:
            if lhs is _ABSENT:
                added.add(path)
            elif rhs is _ABSENT:
                removed.add(path)
            elif not _json_equal(lhs, rhs):
                modified.add(path)
            return
        if container is dict:
            left = lhs if isinstance(lhs, dict) else {}
            right = rhs if isinstance(rhs, dict) else {}
            for key in {**left, **right}:
                sub, _ = child_schema(schema, key)
                walk(left.get(key, _ABSENT), right.get(key, _ABSENT), sub, (*path, "f:" + key))
        else:
            assert schema.elem is not None
            left_items = index_items(schema, lhs)
            right_items = index_items(schema, rhs)
            for pe in {**left_items, **right_items}:
                ls, rs = left_items.get(pe, []), right_items.get(pe, [])
                item_path = (*path, pe)
                if len(ls) <= 1 and len(rs) <= 1:
                    walk(ls[0] if ls else _ABSENT, rs[0] if rs else _ABSENT, schema.elem, item_path)
                elif len(ls) >= 2 and len(rs) >= 2:
                    if not _json_equal(ls, rs):
                        modified.add(item_path)
                elif len(ls) >= 2:
                    if rs:
                        walk(_ABSENT, rs[0], schema.elem, item_path)
                    removed.add(item_path)
                else:
                    if ls:
                        walk(ls[0], _ABSENT, schema.elem, item_path)
                    added.add(item_path)
        if path and lhs is _ABSENT:
            added.add(path)
        elif path and rhs is _ABSENT:
            removed.add(path)

    walk(old, new, schema_for(cls), ())
    return Comparison(FieldSet(added), FieldSet(modified), FieldSet(removed))


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def empty_object(cls: type[Model] | None) -> dict[str, Any]:
    """The zero value of a kind as Go encodes it: the base a create is compared with."""
    if cls is None:
        return {}
    encoded = msgspec.to_builtins(cls())
    return encoded if isinstance(encoded, dict) else {}


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
    fields: FieldSet
    api_version: str
    time: str | None


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
        managed[key] = ManagedEntry(
            from_fields_v1(entry.get("fieldsV1") or {}), api_version, entry.get("time")
        )
    return managed


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
        encoded["fieldsV1"] = to_fields_v1(entry.fields)
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
    diff = compare(without_managed_fields(old), without_managed_fields(new), cls)
    changed = diff.modified | diff.added
    for other in list(managed):
        entry = managed[other]
        entry.fields = entry.fields - changed - diff.removed
        if not entry.fields:
            del managed[other]
    taken = FieldSet(changed.paths - _NEVER_OWNED)
    if not taken:
        return False
    previous = managed.get(key)
    fields = taken | previous.fields if previous else taken
    managed[key] = ManagedEntry(fields, api_version, now)
    return True


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
    base = old if old is not None else empty_object(cls)
    key = manager_key(manager, "Update", version, subresource)
    record_update(managed, base, new, key, version, cls, now)
    cap_update_managers(managed)
    return encode_managed_fields(managed)


def default_manager(user_agent: str) -> str:
    """The manager of a write that names none: the User-Agent up to its first ``/``."""
    out: list[str] = []
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        if len(out) > 128:
            break
        out.append(ch)
    return "".join(out)
