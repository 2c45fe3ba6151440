"""Walking objects by their schema: the fields an object sets, and what changed.

``fields_of_object`` lists the fields an applied configuration claims;
``compare`` is the field-level diff of two versions of an object that every
write uses to move ownership (fields that changed go to the writer); and
``created_fields_v1`` writes the FieldsV1 of a create in one pass, without
building the set first (the common write, so it has its own fast walk).
Equal subtrees are skipped whole, so the cost follows the size of a change
more than the size of the object.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

import msgspec
import orjson

from kubelite.api.fieldpath import FieldSet, Path, key_element_of, sort_elements
from kubelite.api.fieldschema import (
    ATOMIC,
    DEDUCED,
    SCALAR,
    Schema,
    child_schema,
    index_items,
    item_element,
    resolve,
    schema_for,
    struct_fields,
)
from kubelite.api.model import Model

# Fields no manager ever owns: identity and bookkeeping of the object itself.
NEVER_OWNED: Final = frozenset(
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


# -- field sets of objects -------------------------------------------------------------


def fields_of_object(obj: dict[str, Any], cls: type[Model] | None) -> FieldSet:
    """The fields an object sets, as an applied configuration claims them.

    Leaves, atomic values, associative list items (the item itself and its
    fields), map keys, and null or empty values; identity and bookkeeping
    fields (``apiVersion``, ``kind``, ``metadata.name``, ...) are left out.
    """
    return FieldSet(raw_field_set(obj, cls).paths - NEVER_OWNED)


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
    added, modified, removed = diff_paths(old, new, cls)
    return Comparison(FieldSet(added), FieldSet(modified), FieldSet(removed))


def diff_paths(old: Any, new: Any, cls: type[Model] | None) -> tuple[set[Path], set[Path], set[Path]]:
    """:func:`compare` as plain sets ``(added, modified, removed)``, for the write path,
    which only takes them apart again."""
    diff = _Diff()
    diff.walk(old, new, _root_node(cls), ())
    return diff.added, diff.modified, diff.removed


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


_NEVER_OWNED_TRIE: Final = _excluded_trie(NEVER_OWNED)


def created_fields_v1(new: dict[str, Any], cls: type[Model] | None) -> dict[str, Any] | None:
    """The FieldsV1 of a create's writer when no other manager is involved.

    The same as ``to_fields_v1`` of what :func:`compare` finds added or modified
    from :func:`empty_object` to ``new``, never-owned fields left out, but
    written straight from the object. None when the general path must decide
    (the object itself would be the changed field).

    Objects created from one template (a ReplicaSet's pods, a component's
    events) differ in values the answer does not depend on (names, uids,
    timestamps, messages): the answer is remembered per :func:`_skeleton` of
    the object, which keeps exactly what the walk reads, and a new dict is
    returned each time (the caller may change it).
    """
    empty = shared_empty_object(cls)
    shape = _skeleton_of(new, empty)
    key = None if shape is None else (cls, shape)
    if key is not None:
        known = _CREATED.get(key, _ABSENT)
        if known is not _ABSENT:
            return None if known is None else orjson.loads(known)  # type: ignore[arg-type]
    node = _emit_changed(empty, new, _root_node(cls), (False, _NEVER_OWNED_TRIE))
    out = {} if node is None else (node or None)
    if key is not None:
        if len(_CREATED) >= _CREATED_MAX:
            _CREATED.clear()
        _CREATED[key] = None if out is None else orjson.dumps(out)
    return out


# created_fields_v1's answers (FieldsV1 as JSON, or None) by (model, skeleton of the object).
_CREATED: dict[tuple[Any, ...], bytes | None] = {}
_CREATED_MAX: Final = 512
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
# The most memory (roughly, in bytes) a remembered skeleton may hold: larger objects (a big
# list, thousands of keys) are walked each time rather than kept in a cache.
SKELETON_BUDGET: Final = 32768


def skeleton(value: dict[str, Any]) -> tuple[Any, ...] | None:
    """A hashable key of a JSON object's shape: the keys of its maps, the types of their
    members and its lists whole. Objects with one skeleton differ only in the values of
    scalars outside lists. None for data that is not JSON's, or too large to be worth
    remembering (see SKELETON_BUDGET)."""
    return _skeleton_of(value, _ABSENT)


def _skeleton_of(value: dict[str, Any], base: Any) -> tuple[Any, ...] | None:
    out: list[Any] = []
    try:
        _skeleton(value, base, out)
    except (orjson.JSONEncodeError, TypeError):  # not plain JSON data
        return None
    size = 0
    for part in out:
        kind = type(part)
        if kind is tuple:  # a map's keys, or the types of its members
            size += 64 * len(part)
            if part and type(part[0]) is str:
                size += sum(map(len, part))
        elif kind is bytes or kind is str:
            size += len(part)
        else:
            size += 32
    if size > SKELETON_BUDGET:
        return None
    return tuple(out)


def _skeleton(value: dict[str, Any], base: Any, out: list[Any]) -> None:
    """Append to ``out`` what :func:`_emit_changed` reads of the map ``value`` compared with
    ``base`` (the empty object at the same place): its keys and the types of its members
    (an added scalar's value does not count), each list member whole (its items' keys and
    values name the paths), and exactly the scalars where ``base`` has one (the walk
    compares them). Which members are maps, lists or compared scalars follows from the keys
    and types before them, so equal keys mean equal objects as the walk sees them.
    Raises TypeError for data that is not JSON's.
    """
    out.append(tuple(value))
    out.append(tuple(map(type, value.values())))
    compared = base if type(base) is dict and base else None
    for key, member in value.items():
        kind = type(member)
        if kind is dict:
            _skeleton(member, compared.get(key, _ABSENT) if compared else _ABSENT, out)
        elif kind is list:
            out.append(orjson.dumps(member))
        elif kind not in _SCALARS:
            raise TypeError(f"not a JSON value: {kind.__name__}")
        elif compared and key in compared and type(compared[key]) not in _CONTAINERS:
            out.append(member)


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
            pe = key_element_of(node.schema.keys, (value,))
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
def shared_empty_object(cls: type[Model] | None) -> dict[str, Any]:
    """:func:`empty_object`, one per kind: the caller must only read it."""
    return empty_object(cls)
