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
import types
import typing
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
    pending: list[type] = list(msgspec.Struct.__subclasses__())
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith("kubelite."):
            continue
        try:
            msgspec.json.Decoder(cls)
        except TypeError:  # a class msgspec cannot decode is never decoded: nothing to build
            continue
        prepared += 1
    return prepared
