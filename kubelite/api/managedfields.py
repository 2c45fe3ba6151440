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
from types import UnionType
from typing import Any, Final, NamedTuple

import msgspec
import orjson

from kubelite.api.model import Model, fields_of, strip_optional

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
    names = tuple(sorted(fields))
    values = tuple(fields[k] for k in names)
    if all(type(v) is str or type(v) is int for v in values):
        return _key_element_of(names, values)
    return "k:{" + ",".join(f"{go_json(k)}:{go_json(fields[k])}" for k in names) + "}"


@functools.lru_cache(maxsize=65536)
def _key_element_of(names: tuple[str, ...], values: tuple[str | int, ...]) -> str:
    # Only str and int values (exactly those types) come here, so equal keys mean equal elements.
    return "k:{" + ",".join(f"{go_json(k)}:{go_json(v)}" for k, v in zip(names, values, strict=True)) + "}"


def value_element(value: Any) -> str:
    """The path element of a set item."""
    if type(value) is str:
        return _string_value_element(value)
    return "v:" + go_json(value)


@functools.lru_cache(maxsize=65536)
def _string_value_element(value: str) -> str:
    return "v:" + go_json(value)


def canonical_element(pe: str) -> str:
    """A path element read from the wire, rewritten in the form this module produces."""
    if pe[:2] == "f:":
        return pe
    return _canonical_element(pe)


@functools.lru_cache(maxsize=65536)
def _canonical_element(pe: str) -> str:
    kind = pe[:2]
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
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = PathNode(set(), {})
            node = child
        node.members.add(path[-1])
    return root


def to_fields_v1(fs: FieldSet) -> dict[str, Any]:
    """The FieldsV1 JSON of a set, with keys in the order Kubernetes writes them."""
    # A trie of [is member, children] lists, then emitted in element order.
    root: dict[str, list[Any]] = {}
    for path in fs.paths:
        if not path:
            continue
        children = root
        for pe in path[:-1]:
            node = children.get(pe)
            if node is None:
                node = children[pe] = [False, {}]
            children = node[1]
        node = children.get(path[-1])
        if node is None:
            children[path[-1]] = [True, {}]
        else:
            node[0] = True
    return _emit_trie(root)


def _emit_trie(children: dict[str, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pe in sort_elements(children):
        member, grandchildren = children[pe]
        if not grandchildren:
            out[pe] = {}
        elif member:
            out[pe] = {".": {}, **_emit_trie(grandchildren)}
        else:
            out[pe] = _emit_trie(grandchildren)
    return out


def sort_elements(elements: Iterable[str]) -> list[str]:
    """Path elements in Kubernetes' order (:func:`element_order`)."""
    ordered = sorted(elements)
    # Field elements alone sort as plain strings ("f:" prefixes all alike).
    if ordered and (ordered[0][0] != "f" or ordered[-1][0] != "f"):
        ordered.sort(key=element_order)
    return ordered


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


@functools.cache
def _schema_of_type(tp: Any, list_type: str = "", keys: tuple[str, ...] = (), strategy: str = "") -> Schema:
    tp = strip_optional(tp)
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
    if len(schema.keys) == 1:
        name = schema.keys[0]
        value = item.get(name, _ABSENT)
        if value is _ABSENT:
            if name not in _KEY_DEFAULTS:
                return None
            value = _KEY_DEFAULTS[name]
        if type(value) is str or type(value) is int:
            return _key_element_of(schema.keys, (value,))
        return key_element({name: value})
    names: list[str] = []
    values: list[Any] = []
    simple = True
    for k in sorted(schema.keys):
        value = item.get(k, _ABSENT)
        if value is _ABSENT:
            if k not in _KEY_DEFAULTS:
                continue
            value = _KEY_DEFAULTS[k]
        names.append(k)
        values.append(value)
        simple = simple and (type(value) is str or type(value) is int)
    if not names:
        return None
    if simple:
        return _key_element_of(tuple(names), tuple(values))
    return key_element(dict(zip(names, values, strict=True)))


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
    """The field-level difference between two versions of an object.

    Equal subtrees are skipped whole, so the cost follows the size of the change
    more than the size of the object.
    """
    diff = _Diff()
    diff.walk(old, new, _root_node(cls), ())
    return Comparison(FieldSet(diff.added), FieldSet(diff.modified), FieldSet(diff.removed))


_CONTAINERS: Final = (dict, list)


class _Node:
    """A :class:`Schema` prepared for the walks below (one per schema, cached).

    A struct's ``fields`` are filled on first use, since types may be recursive.
    """

    __slots__ = (
        "deduced",
        "elem",
        "fields",
        "key_name",
        "leaf",
        "listish",
        "mapish",
        "other",
        "scalar_members",
        "schema",
    )

    def __init__(self, schema: Schema) -> None:
        kind = schema.kind
        self.schema = schema
        self.deduced = kind == "deduced"
        self.mapish = kind in ("struct", "map")
        self.listish = kind in ("list-map", "set")
        self.leaf = kind in ("scalar", "atomic")
        self.fields: dict[str, _Node] | None = None
        self.other: _Node | None = None
        self.elem: _Node | None = None
        self.scalar_members = False
        # The one key field of a list map keyed by a single field.
        self.key_name = schema.keys[0] if kind == "list-map" and len(schema.keys) == 1 else None
        if kind == "map":
            assert schema.elem is not None
            self.other = _node_of(schema.elem)
            self.scalar_members = self.other.leaf
        elif kind == "struct":
            self.other = _node_of(DEDUCED)
        elif self.listish:
            assert schema.elem is not None
            self.elem = _node_of(schema.elem)

    def members(self) -> dict[str, _Node] | None:
        """The nodes of a struct's fields; None for a map (every key is ``other``)."""
        if self.fields is None and self.schema.kind == "struct":
            assert self.schema.cls is not None
            self.fields = {k: _node_of(v) for k, v in struct_fields(self.schema.cls).items()}
        return self.fields

    def resolve(self, value: Any) -> _Node:
        """A deduced node made concrete by its value."""
        if not self.deduced:
            return self
        if isinstance(value, dict):
            return _DEDUCED_MAP_NODE
        return _ATOMIC_NODE if isinstance(value, list) else _SCALAR_NODE

    def child(self, key: str) -> _Node:
        fields = self.members()
        if fields is None:
            assert self.other is not None
            return self.other
        return fields.get(key) or _DEDUCED_NODE


@functools.cache
def _node_of(schema: Schema) -> _Node:
    return _Node(schema)


_DEDUCED_NODE: Final = _node_of(DEDUCED)
_DEDUCED_MAP_NODE: Final = _node_of(Schema("map", elem=DEDUCED))
_ATOMIC_NODE: Final = _node_of(ATOMIC)
_SCALAR_NODE: Final = _node_of(SCALAR)


@functools.cache
def _root_node(cls: type[Model] | None) -> _Node:
    return _node_of(schema_for(cls))


def _shapes_ok(node: _Node, lhs: Any, rhs: Any) -> bool:
    # Whether both sides (present) are null or of the node's container type.
    if node.mapish:
        return (lhs is None or isinstance(lhs, dict)) and (rhs is None or isinstance(rhs, dict))
    if node.listish:
        return (lhs is None or isinstance(lhs, list)) and (rhs is None or isinstance(rhs, list))
    return False


def _same_json(a: Any, b: Any) -> bool:
    """Whether two values Python finds equal are also equal as JSON (``true`` is not ``1``).

    True means :func:`_json_equal` holds; False may be a false alarm (maps in
    another key order, ``1`` against ``1.0``), which only costs a closer look.
    """
    try:
        return orjson.dumps(a) == orjson.dumps(b)
    except (orjson.JSONEncodeError, TypeError):
        return _json_equal(a, b)


class _Diff:
    """The walk behind :func:`compare`: paths added, modified and removed.

    Equal subtrees are skipped whole; a value on one side only goes to :func:`_all`.
    """

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def walk(self, lhs: Any, rhs: Any, node: _Node, path: Path) -> None:
        node = node.resolve(rhs)
        if not _shapes_ok(node, lhs, rhs) or (not lhs and not rhs):
            if not _json_equal(lhs, rhs):
                self.modified.add(path)
            return
        if lhs == rhs and _same_json(lhs, rhs):
            return
        if node.mapish:
            left = lhs or {}
            right = rhs or {}
            for key, rv in right.items():
                lv = left.get(key, _ABSENT)
                if lv is _ABSENT:
                    _all(rv, node.child(key), (*path, "f:" + key), self.added)
                elif lv.__class__ is not rv.__class__ or isinstance(rv, _CONTAINERS) or lv != rv:
                    self.walk(lv, rv, node.child(key), (*path, "f:" + key))
            if not left.keys() <= right.keys():
                for key, lv in left.items():
                    if key not in right:
                        _all(lv, node.child(key), (*path, "f:" + key), self.removed)
            return
        elem = node.elem
        assert elem is not None
        left_items = _index_items(node, lhs) if lhs else {}
        right_items = _index_items(node, rhs) if rhs else {}
        for pe, rs in right_items.items():
            ls = left_items.get(pe)
            item_path = (*path, pe)
            if ls is None:
                if len(rs) == 1:
                    _all(rs[0], elem, item_path, self.added)
                else:
                    self.added.add(item_path)
            elif len(ls) == 1 and len(rs) == 1:
                self.walk(ls[0], rs[0], elem, item_path)
            elif len(ls) >= 2 and len(rs) >= 2:
                if not _json_equal(ls, rs):
                    self.modified.add(item_path)
            elif len(ls) >= 2:
                _all(rs[0], elem, item_path, self.added)
                self.removed.add(item_path)
            else:
                _all(ls[0], elem, item_path, self.removed)
                self.added.add(item_path)
        for pe, ls in left_items.items():
            if pe not in right_items:
                if len(ls) == 1:
                    _all(ls[0], elem, (*path, pe), self.removed)
                else:
                    self.removed.add((*path, pe))


def _all(value: Any, node: _Node, path: Path, out: set[Path]) -> None:
    """Every path of a value present on one side only (added or removed whole)."""
    if value and isinstance(value, _CONTAINERS):
        node = node.resolve(value)
        if node.mapish:
            if isinstance(value, dict):
                for key, child in value.items():
                    if not child or not isinstance(child, _CONTAINERS):
                        out.add((*path, "f:" + key))
                    else:
                        _all(child, node.child(key), (*path, "f:" + key), out)
        elif node.listish and isinstance(value, list):
            assert node.elem is not None
            for pe, items in _index_items(node, value).items():
                if len(items) == 1:
                    _all(items[0], node.elem, (*path, pe), out)
                else:
                    out.add((*path, pe))
    out.add(path)


# The fields no manager owns as a trie: path element -> (never owned itself, children).
_Excluded = tuple[bool, dict[str, Any]]


def _excluded_trie(paths: Iterable[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths, key=len):
        children = root
        for pe in path[:-1]:
            children = children.setdefault(pe, (False, {}))[1]
        children[path[-1]] = (True, children.get(path[-1], (True, {}))[1])
    return root


_NEVER_OWNED_TRIE: Final = _excluded_trie(_NEVER_OWNED)


def _created_fields_v1(new: dict[str, Any], cls: type[Model] | None) -> dict[str, Any] | None:
    """The FieldsV1 of a create's writer when no other manager is involved.

    The same as ``to_fields_v1`` of what :func:`compare` finds added or modified
    from :func:`empty_object` to ``new``, never-owned fields left out, but
    written straight from the object. None when the general path must decide
    (the object itself would be the changed field).
    """
    node = _emit_changed(_empty_object(cls), new, _root_node(cls), (False, _NEVER_OWNED_TRIE))
    if node is None:
        return {}
    return node or None


def _emit_changed(lhs: Any, rhs: Any, node: _Node, excl: _Excluded | None) -> dict[str, Any] | None:
    # `_Diff.walk` writing the FieldsV1 node of what was added or modified (None: nothing).
    node = node.resolve(rhs)
    excluded = excl is not None and excl[0]
    if not _shapes_ok(node, lhs, rhs) or (not lhs and not rhs):
        return None if _json_equal(lhs, rhs) or excluded else {}
    if lhs == rhs and _same_json(lhs, rhs):
        return None
    below = excl[1] if excl is not None else None
    out: dict[str, Any] = {}
    if node.mapish:
        left = lhs or {}
        right = rhs or {}
        for key in sorted(right):
            pe = "f:" + key
            sub_excl = below.get(pe) if below else None
            lv = left.get(key, _ABSENT)
            if lv is _ABSENT:
                sub = _emit_all_excluding(right[key], node.child(key), sub_excl)
            else:
                sub = _emit_changed(lv, right[key], node.child(key), sub_excl)
            if sub is not None:
                out[pe] = sub
        return out or None
    elem = node.elem
    assert elem is not None
    left_items = index_items(node.schema, lhs)
    right_items = index_items(node.schema, rhs)
    for pe in sort_elements(right_items):
        rs = right_items[pe]
        ls = left_items.get(pe)
        sub_excl = below.get(pe) if below else None
        leaf: dict[str, Any] | None = None if sub_excl is not None and sub_excl[0] else {}
        if ls is None or len(ls) >= 2:
            if len(rs) == 1:
                sub = _emit_all_excluding(rs[0], elem, sub_excl)
            elif ls is None or not _json_equal(ls, rs):
                sub = leaf
            else:
                sub = None
        elif len(rs) == 1:
            sub = _emit_changed(ls[0], rs[0], elem, sub_excl)
        else:
            sub = leaf
        if sub is not None:
            out[pe] = sub
    return out or None


def _emit_all_excluding(value: Any, node: _Node, excl: _Excluded | None) -> dict[str, Any] | None:
    # `_emit_all` where some fields below may be never owned.
    if excl is None:
        return _emit_all(value, node) if value and isinstance(value, _CONTAINERS) else {}
    member = not excl[0]
    out: dict[str, Any] = {".": {}} if member else {}
    if value and isinstance(value, _CONTAINERS):
        node = node.resolve(value)
        below = excl[1]
        if node.mapish and isinstance(value, dict):
            for key in sorted(value):
                pe = "f:" + key
                sub = _emit_all_excluding(value[key], node.child(key), below.get(pe))
                if sub is not None:
                    out[pe] = sub
        elif node.listish and isinstance(value, list):
            assert node.elem is not None
            groups = index_items(node.schema, value)
            for pe in sort_elements(groups):
                items = groups[pe]
                if len(items) == 1:
                    sub = _emit_all_excluding(items[0], node.elem, below.get(pe))
                else:
                    sub = None if pe in below and below[pe][0] else {}
                if sub is not None:
                    out[pe] = sub
    if member:
        return out if len(out) > 1 else {}
    return out or None


def _index_items(node: _Node, items: list[Any]) -> dict[str, list[Any]]:
    # index_items, with the common list keyed by one string field done inline.
    name = node.key_name
    if name is None:
        return index_items(node.schema, items)
    out: dict[str, list[Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        value = item.get(name, _ABSENT)
        if type(value) is str:
            pe = _key_element_of(node.schema.keys, (value,))
        else:
            found = item_element(node.schema, item)
            if found is None:
                continue
            pe = found
        group = out.get(pe)
        if group is None:
            out[pe] = [item]
        else:
            group.append(item)
    return out


def _emit_all(value: Any, node: _Node) -> dict[str, Any]:
    # `_all` writing the FieldsV1 node of a non-empty dict or list added whole.
    if node.deduced:
        node = node.resolve(value)
    if node.mapish:
        if not isinstance(value, dict):
            return {}
        out: dict[str, Any] = {".": {}}
        if node.scalar_members:
            for key in sorted(value):
                out["f:" + key] = {}
            return out
        fields = node.fields if node.fields is not None else node.members()
        other = node.other
        assert other is not None
        if fields is None:
            for key in sorted(value):
                child = value[key]
                if other.leaf or not child or not isinstance(child, _CONTAINERS):
                    out["f:" + key] = {}
                else:
                    out["f:" + key] = _emit_all(child, other)
            return out
        for key, child in sorted(value.items()):
            if not child or not isinstance(child, _CONTAINERS):
                out["f:" + key] = {}
                continue
            sub = fields.get(key) or other
            out["f:" + key] = {} if sub.leaf else _emit_all(child, sub)
        return out
    if node.listish and isinstance(value, list):
        elem = node.elem
        assert elem is not None
        out = {".": {}}
        groups = _index_items(node, value)
        for pe in sort_elements(groups):
            items = groups[pe]
            item = items[0]
            if len(items) == 1 and item and not elem.leaf and isinstance(item, _CONTAINERS):
                out[pe] = _emit_all(item, elem)
            else:
                out[pe] = {}
        return out if len(out) > 1 else {}
    return {}


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


@functools.cache
def _empty_object(cls: type[Model] | None) -> dict[str, Any]:
    # Shared: only ever read.
    return empty_object(cls)


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
    diff = _Diff()
    diff.walk(without_managed_fields(old), without_managed_fields(new), _root_node(cls), ())
    changed = diff.modified | diff.added
    removed = diff.removed
    previous = managed.get(key)
    for other in list(managed):
        entry = managed[other]
        paths = entry.fields.paths
        if paths.isdisjoint(changed) and paths.isdisjoint(removed):
            continue  # the same set, so its FieldsV1 is kept as it is
        _replace_fields(entry, FieldSet(paths - changed - removed))
        if not entry.fields:
            del managed[other]
    taken = changed - _NEVER_OWNED
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
        created = _created_fields_v1(without_managed_fields(new), cls)
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
    base = old if old is not None else _empty_object(cls)
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
