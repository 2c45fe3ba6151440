"""Field paths, sets of them, and their FieldsV1 JSON form.

A path is a tuple of path elements in their serialized form, as
sigs.k8s.io/structured-merge-diff writes them: ``f:<name>`` (a struct field
or map key), ``k:{"name":"x"}`` (the element of a list keyed by its key
fields), ``v:<json>`` (the element of a set) and ``i:<n>`` (a list index,
only ever read from the wire). ``FieldSet`` is an immutable set of paths
that iterates in Kubernetes' order; ``to_fields_v1`` and ``from_fields_v1``
convert it to and from the JSON kept in ``metadata.managedFields``.
Managed fields (managedfields.py) and apply (apply.py) build on these.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]


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
        return key_element_of(names, values)
    return "k:{" + ",".join(f"{go_json(k)}:{go_json(fields[k])}" for k in names) + "}"


@functools.lru_cache(maxsize=65536)
def key_element_of(names: tuple[str, ...], values: tuple[str | int, ...]) -> str:
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
