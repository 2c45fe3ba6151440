"""What the typed model says about each node of an object, for field ownership.

The schema comes from the typed model (``fields_of``): structs, maps,
associative lists (keyed by ``listMapKeys``, or by ``patchMergeKey`` when a
list has a merge strategy and no ``listType``), sets and atomic values.
``Any`` fields and custom resources (``cls=None``) use deduced structure:
dicts are maps whose every key is a field, lists and scalars are atomic.
The walks of fielddiff.py and apply.py read objects through it.
"""

from __future__ import annotations

import functools
import typing
from types import UnionType
from typing import Any, Final, NamedTuple

from kubelite.api.fieldpath import key_element, key_element_of, value_element
from kubelite.api.model import Model, fields_of, strip_optional, subclasses

_ABSENT: Final = object()

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


def prepare_schemas() -> int:
    """Work out ``struct_fields`` (and ``fields_of``) of every model class loaded so far, now;
    the number of classes. Both are cached per class but computed at first use, which
    evaluates the class's annotations (~0.3 ms a class, ~75 ms for all): without this, the
    first creates and updates of each kind after a start pay for it, in the requests that a
    burst of work after a start (kubectl creating pods) waits on."""
    done = 0
    for cls in subclasses(Model):
        try:
            struct_fields(cls)
        except (NameError, TypeError):  # annotations that do not resolve (a test's model):
            continue  # its first use will say so, as it always did
        done += 1
    return done


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
            return key_element_of(schema.keys, (value,))
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
        return key_element_of(tuple(names), tuple(values))
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
