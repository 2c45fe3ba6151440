"""The base of every typed API object, and the wire facts declared per field.

API types are ``msgspec.Struct`` subclasses of ``Model`` whose attribute
names are Kubernetes' JSON names (``pod.spec.restartPolicy`` reads like the
API reference). The defaults follow Go's encoding so that JSON round trips
match what Kubernetes prints:

- a Go pointer field is ``T | None = None`` (absent unless set);
- a Go slice or map is ``list``/``dict`` with an empty default (omitted when
  empty, as ``omitempty`` does);
- a Go struct value is always present (``default_factory``);
- a Go scalar value defaults to its zero value and is omitted when zero.

Each field carries a ``Wire`` in its ``Annotated`` metadata: the protobuf
field number, and the strategic-merge-patch facts (``patchStrategy``,
``patchMergeKey``) and list semantics (``listType``, ``listMapKeys``) that
Kubernetes declares on the same Go field. One model then drives JSON,
protobuf, OpenAPI and strategic merge patch.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec


class Wire(NamedTuple):
    """Facts about one field on the wire, as Kubernetes' Go tags state them."""

    proto: int = 0
    strategy: str = ""  # patchStrategy: "merge", "replace", "retainKeys", "merge,retainKeys"
    key: str = ""  # patchMergeKey
    list_type: str = ""  # +listType: atomic, set, map
    map_keys: tuple[str, ...] = ()  # +listMapKey


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """Base class of every API struct."""


class FieldInfo(NamedTuple):
    """What ``fields_of`` reports about one field of a model."""

    attr: str  # the Python attribute name
    name: str  # the JSON name
    type: Any  # the annotation without its Annotated wrapper (``T | None`` stays; see strip_optional)
    wire: Wire


@functools.cache
def fields_of(cls: type[Model]) -> dict[str, FieldInfo]:
    """The fields of ``cls`` keyed by JSON name, with their ``Wire`` facts."""
    hints = typing.get_type_hints(cls, include_extras=True)
    result: dict[str, FieldInfo] = {}
    for f in msgspec.structs.fields(cls):
        hint = hints[f.name]
        wire = Wire()
        if typing.get_origin(hint) is typing.Annotated:
            for extra in hint.__metadata__:
                if isinstance(extra, Wire):
                    wire = extra
            hint = typing.get_args(hint)[0]
        result[f.encode_name] = FieldInfo(f.name, f.encode_name, hint, wire)
    return result


def strip_optional(tp: Any) -> Any:
    """``T`` for ``T | None``; anything else (``int | str | None`` too) as it is."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def subclasses(base: type) -> Iterator[type]:
    """Every class loaded so far that derives from ``base`` (directly or not), once each."""
    pending: list[type] = list(base.__subclasses__())
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        yield cls


def prepare_struct_types() -> int:
    """Build msgspec's decoding information of every kubelite Struct class loaded so far, here
    and now; the number of classes prepared.

    msgspec builds a Struct class's decoding information lazily, at its first decode or
    convert, and two threads doing that at once for the same class can crash the interpreter
    (msgspec 0.22: a NULL read in its C core; reproduced with four threads decoding new
    classes). Called before a second thread starts decoding (the API server on a thread of
    its own, the node agent's worker threads), it leaves them only reads of what is built.
    Classes already prepared cost a lookup.
    """
    prepared = 0
    for cls in subclasses(msgspec.Struct):
        if not cls.__module__.startswith("kubelite."):
            continue
        try:
            msgspec.json.Decoder(cls)
        except TypeError:  # a class msgspec cannot decode is never decoded: nothing to build
            continue
        prepared += 1
    return prepared


_NOT_DECODED = " (not decoded)"  # appended to the wire name of a field a read-only variant skips


def read_only_variant(cls: type[Model], skip: frozenset[str] = frozenset()) -> type[Model]:
    """A subclass of ``cls`` (and of the struct types it holds, all the way down) to decode
    objects into that are only ever read, never changed in place.

    Decoding fills every absent list field with a new empty list (a Go slice is ``list``
    with an empty default, see above): some 40 per Pod, each a container the interpreter's
    cycle collector tracks and walks until it is freed. In the variant an absent list is
    the shared empty tuple instead, which reads the same (iterates, is falsy, has length
    0) and is not tracked; a decoded Pod then holds a few tracked objects instead of ~50.
    The cost is that such a field cannot be appended to in place, and an absent list
    compares unequal to a present empty one (``() != []``; the API server omits empty
    lists, so decoded objects agree with each other). Use it where objects are decoded in
    bulk and read only, as an informer's cache is (the scheduler's pods and nodes).

    ``skip`` names fields (``Class.field``, attribute names) left undecoded: their JSON is
    skipped as an unknown field's would be (unparsed) and they read as their empty default.
    ``ObjectMeta.managedFields``, dozens of nested objects per object, is the usual one.

    Variants are subclasses: ``isinstance`` and attribute access work as for ``cls``,
    ``msgspec.structs.replace`` keeps the variant, and encoding gives the same JSON but for
    the order of the fields a variant redeclares (they come last). Built once per
    ``(cls, skip)``.
    """
    return _read_only_variant(cls, skip)


@functools.cache
def _read_only_variant(cls: type[Model], skip: frozenset[str]) -> type[Model]:
    built: dict[type, type] = {}
    return _variant_of(cls, skip, built, set())


def _variant_of(cls: type, skip: frozenset[str], built: dict[type, type], busy: set[type]) -> type:
    done = built.get(cls)
    if done is not None:
        return done
    if cls in busy:  # a type holding itself (none under Pod or Node): the original there
        return cls
    busy.add(cls)
    redeclared: list[tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(cls):
        tp = _variant_type(f.type, skip, built, busy)
        factory = f.default_factory
        if f"{cls.__name__}.{f.name}" in skip:
            redeclared.append((f.name, tp, msgspec.field(default=(), name=f.encode_name + _NOT_DECODED)))
            continue
        if factory is list or (factory is not msgspec.NODEFAULT and _makes_empty_list(factory)):
            redeclared.append((f.name, tp, msgspec.field(default=(), name=f.encode_name)))
        elif isinstance(factory, type) and issubclass(factory, Model):
            variant = _variant_of(factory, skip, built, busy)
            if variant is not factory:
                redeclared.append((f.name, tp, msgspec.field(default_factory=variant, name=f.encode_name)))
        elif tp is not f.type:
            default = msgspec.field(default=f.default, name=f.encode_name)
            if factory is not msgspec.NODEFAULT:
                default = msgspec.field(default_factory=factory, name=f.encode_name)
            redeclared.append((f.name, tp, default))
    busy.discard(cls)
    variant = (
        msgspec.defstruct(cls.__name__, redeclared, bases=(cls,), module=cls.__module__)
        if redeclared
        else cls
    )
    if variant is not cls:
        variant.__doc__ = f"{cls.__name__}, read-only variant (see kubelite.api.model.read_only_variant)."
    built[cls] = variant
    return variant


def _makes_empty_list(factory: Any) -> bool:
    if isinstance(factory, type):
        return False  # a class: dict, str, a Model; list is checked by the caller
    try:
        made = factory()
    except Exception:
        return False
    return type(made) is list and not made


def _variant_type(tp: Any, skip: frozenset[str], built: dict[type, type], busy: set[type]) -> Any:
    """``tp`` with every Model class in it replaced by its variant (the same object when none is)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner = typing.get_args(tp)[0]
        new = _variant_type(inner, skip, built, busy)
        return tp if new is inner else typing.Annotated[(new, *tp.__metadata__)]  # type: ignore[misc]
    if origin is None:
        if isinstance(tp, type) and issubclass(tp, Model):
            return _variant_of(tp, skip, built, busy)
        return tp
    args = typing.get_args(tp)
    new_args = tuple(_variant_type(a, skip, built, busy) for a in args)
    if all(a is b for a, b in zip(args, new_args, strict=True)):
        return tp
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, new_args)
    return origin[new_args if len(new_args) > 1 else new_args[0]]
