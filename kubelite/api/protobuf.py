"""Kubernetes protobuf bodies, read and written through the typed model.

kubectl sends ``application/vnd.kubernetes.protobuf`` bodies for most
``kubectl create <kind>`` commands: the four bytes ``k8s\\x00`` and then a
``runtime.Unknown`` message whose ``raw`` field holds the object's own
protobuf encoding. This module turns such a body into the JSON form of the
object (a dict with JSON names, exactly what a JSON body would have parsed
to), so the API server handles both content types with one code path; and it
encodes such a dict back to protobuf, for tests and for protobuf responses.

The field numbers come from the models' ``Wire(proto=...)``. Two facts the
models do not carry are in the tables of prototables.py, both read once from
Kubernetes' ``generated.proto`` files:

- ``SPECIAL``: fields whose Go type has its own wire message while the model
  holds its JSON form: ``resource.Quantity`` (``{1: string}``),
  ``intstr.IntOrString``, ``metav1.Time``/``MicroTime`` (seconds and nanos),
  ``metav1.Duration``, ``runtime.RawExtension`` and ``FieldsV1`` (raw JSON)
  and named string slices such as ``ExtraValue`` (``{1: repeated string}``).
- ``INLINE``: structs that Go embeds inline (``VolumeSource`` in ``Volume``,
  ``ProbeHandler`` in ``Probe``, ``LocalObjectReference`` in
  ``ConfigMapKeySelector``, ...). The models flatten them, as JSON does; on the
  protobuf wire they stay a nested message at the parent's field number.

Unknown field numbers are skipped, as protobuf readers do. Go writes every
non-pointer scalar, even when zero; the decoder drops zero values of fields
that JSON would omit (``omitempty``), so the dict reads like kubectl's JSON.
"""

from __future__ import annotations

import base64
import datetime
import functools
import re
import struct
import types
import typing
from typing import Any

import msgspec
import orjson

from kubelite.api.model import Model, fields_of
from kubelite.api.prototables import INLINE, SPECIAL

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """A body that is not a well-formed Kubernetes protobuf encoding."""


# Value kinds. The scalars first; then the types with their own wire message.
_STRING, _BYTES, _INT, _BOOL, _DOUBLE, _MESSAGE, _INLINE_GROUP = range(7)
_QUANTITY, _INTSTR, _TIME, _MICROTIME, _DURATION, _RAW, _STRINGS = range(7, 14)
_SPECIAL_KINDS = {
    "quantity": _QUANTITY,
    "intstr": _INTSTR,
    "time": _TIME,
    "microtime": _MICROTIME,
    "duration": _DURATION,
    "raw": _RAW,
    "fieldsv1": _RAW,  # FieldsV1 {1: Raw bytes} has the same shape as RawExtension
    "strings": _STRINGS,
}
_SINGLE, _LIST, _MAP = range(3)

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _Field:
    """One field of a compiled message schema."""

    __slots__ = ("kind", "name", "num", "omit_zero", "ptr", "shape", "sub", "tag")

    def __init__(
        self, name: str, num: int, kind: int, shape: int, sub: Any, omit_zero: Any, ptr: bool
    ) -> None:
        self.name = name
        self.num = num
        self.kind = kind
        self.shape = shape
        self.sub = sub  # _Schema of a message, inline group or map value
        self.omit_zero = omit_zero  # the zero value that JSON omits, or _KEEP
        self.ptr = ptr
        wt = _wire_type(kind) if shape != _MAP else _LEN
        self.tag = _varint_bytes(num << 3 | wt)


class _Schema:
    """The fields of one message by number (decoding) and in number order (encoding)."""

    __slots__ = ("by_num", "name", "ordered")

    def __init__(self, name: str) -> None:
        self.name = name
        self.by_num: dict[int, _Field] = {}
        self.ordered: list[_Field] = []

    def add(self, f: _Field) -> None:
        if f.num in self.by_num:
            raise TypeError(
                f"{self.name}: fields {self.by_num[f.num].name!r} and {f.name!r} share number {f.num}"
            )
        self.by_num[f.num] = f
        self.ordered.append(f)


_KEEP = object()


def _wire_type(kind: int) -> int:
    if kind in (_INT, _BOOL):
        return _VARINT
    if kind == _DOUBLE:
        return _I64
    return _LEN


# ---------------------------------------------------------------- schemas


def _qualified(cls: type) -> str:
    return f"{cls.__module__.rpartition('.')[2]}.{cls.__name__}"


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """``(tp without None, whether it was a Go pointer)``; unlike model.strip_optional this
    also opens ``int | str | None`` (IntOrString), since a pointer is framed differently."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), True  # noqa: UP007
    return tp, False


def _scalar_kind(tp: Any, where: str) -> tuple[int, Any]:
    if tp is str:
        return _STRING, None
    if tp is bool:
        return _BOOL, None
    if tp is int:
        return _INT, None
    if tp is bytes:
        return _BYTES, None
    if tp is float:
        return _DOUBLE, None
    if isinstance(tp, type) and issubclass(tp, Model):
        return _MESSAGE, tp
    raise TypeError(f"{where}: no protobuf encoding for {tp!r}")


_ZERO = {_STRING: "", _INT: 0, _BOOL: False, _DOUBLE: 0.0}


@functools.cache
def _schema(cls: type) -> _Schema:
    """Compile the schema of a model class (once; schemas of nested classes are compiled lazily)."""
    qual = _qualified(cls)
    special = SPECIAL.get(qual, {})
    inline = INLINE.get(qual, ())
    schema = _Schema(qual)
    groups: dict[str, _Schema] = {}
    for num, names in inline:
        group = _Schema(f"{qual}#{num}")
        groups.update(dict.fromkeys(names.split(), group))
        schema.add(_Field(f"<inline {num}>", num, _INLINE_GROUP, _SINGLE, group, _KEEP, False))
    defaults = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    for name, info in fields_of(cls).items():
        num = info.wire.proto
        if not num:
            continue  # TypeMeta's kind/apiVersion, and types without protobuf (Table)
        where = f"{qual}.{name}"
        tp, ptr = _split_optional(info.type)
        shape = _SINGLE
        sp = special.get(name)
        origin = typing.get_origin(tp)
        if origin is dict:
            shape, (tp, _) = _MAP, _split_optional(typing.get_args(tp)[1])
        elif origin is list and sp != "strings":
            shape, tp = _LIST, typing.get_args(tp)[0]
        if sp is not None:
            kind, sub = _SPECIAL_KINDS[sp], None
        else:
            kind, sub = _scalar_kind(tp, where)
        d = defaults[name]
        omit_zero: Any = _KEEP
        if shape == _SINGLE and d.default_factory is msgspec.NODEFAULT and d.default is not None:
            omit_zero = d.default
        field = _Field(name, num, kind, shape, sub, omit_zero, ptr)
        groups.get(name, schema).add(field)
    for group in set(groups.values()):
        group.ordered.sort(key=lambda f: f.num)
    schema.ordered.sort(key=lambda f: f.num)
    return schema


def _sub_schema(f: _Field) -> _Schema:
    sub = f.sub
    if not isinstance(sub, _Schema):
        sub = f.sub = _schema(sub)
    return sub


# ---------------------------------------------------------------- decoding


def decode_unknown(body: bytes) -> tuple[str, str, bytes]:
    """Split a protobuf body into (apiVersion, kind, raw object bytes).

    ``body`` must start with the ``k8s\\x00`` magic; a ``contentEncoding`` or
    a ``contentType`` other than protobuf is refused.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic")
    api_version = kind = encoding = content_type = ""
    raw = b""
    try:
        for num, wt, value in _iter_fields(body, len(MAGIC), len(body)):
            if wt != _LEN:
                continue
            if num == 1:
                for n2, wt2, v2 in _iter_fields(body, value[0], value[1]):
                    if wt2 == _LEN and n2 in (1, 2):
                        s = body[v2[0] : v2[1]].decode()
                        if n2 == 1:
                            api_version = s
                        else:
                            kind = s
            elif num == 2:
                raw = body[value[0] : value[1]]
            elif num == 3:
                encoding = body[value[0] : value[1]].decode()
            elif num == 4:
                content_type = body[value[0] : value[1]].decode()
    except (IndexError, UnicodeDecodeError) as e:
        raise ProtobufError(f"malformed runtime.Unknown: {e}") from None
    if encoding:
        raise ProtobufError(f"unsupported contentEncoding {encoding!r}")
    if content_type and content_type != CONTENT_TYPE:
        raise ProtobufError(f"unsupported contentType {content_type!r}")
    return api_version, kind, raw


def decode_message(raw: bytes, cls: type) -> dict[str, Any]:
    """The JSON form (JSON names, JSON values) of ``raw``, a protobuf-encoded ``cls``.

    ``kind`` and ``apiVersion`` are not part of an object's message (they
    travel in ``runtime.Unknown``); see ``decode_object``.
    """
    out: dict[str, Any] = {}
    try:
        _decode_into(raw, 0, len(raw), _schema(cls), out)
    except (IndexError, UnicodeDecodeError, struct.error) as e:
        raise ProtobufError(f"malformed {cls.__name__}: {e}") from None
    return out


def decode_object(body: bytes, cls: type) -> dict[str, Any]:
    """Decode a whole protobuf request body into the JSON form of a ``cls``, kind and apiVersion first."""
    api_version, kind, raw = decode_unknown(body)
    out: dict[str, Any] = {}
    if kind:
        out["kind"] = kind
    if api_version:
        out["apiVersion"] = api_version
    out.update(decode_message(raw, cls))
    return out


def _iter_fields(buf: bytes, pos: int, end: int) -> typing.Iterator[tuple[int, int, Any]]:
    """(number, wire type, value) of each field; a LEN value is its (start, end)."""
    while pos < end:
        key, pos = _read_varint(buf, pos)
        wt = key & 7
        if wt == _VARINT:
            value, pos = _read_varint(buf, pos)
            yield key >> 3, wt, value
        elif wt == _LEN:
            n, pos = _read_varint(buf, pos)
            if pos + n > end:
                raise ProtobufError("length runs past the end of the message")
            yield key >> 3, wt, (pos, pos + n)
            pos += n
        else:
            pos = _skip(buf, pos, end, wt)
    if pos != end:
        raise ProtobufError("truncated message")


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _skip(buf: bytes, pos: int, end: int, wt: int) -> int:
    if wt == _VARINT:
        return _read_varint(buf, pos)[1]
    if wt == _I64:
        pos += 8
    elif wt == _LEN:
        n, pos = _read_varint(buf, pos)
        pos += n
    elif wt == _I32:
        pos += 4
    else:
        raise ProtobufError(f"unsupported wire type {wt}")
    if pos > end:
        raise ProtobufError("field runs past the end of the message")
    return pos


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _decode_into(buf: bytes, pos: int, end: int, schema: _Schema, out: dict[str, Any]) -> None:
    by_num = schema.by_num
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _read_varint(buf, pos)
        f = by_num.get(key >> 3)
        wt = key & 7
        if f is None:
            pos = _skip(buf, pos, end, wt)
            continue
        if wt == _LEN:
            n = buf[pos]
            if n < 0x80:
                pos += 1
            else:
                n, pos = _read_varint(buf, pos)
            start, pos = pos, pos + n
            if pos > end:
                raise ProtobufError(f"{schema.name}.{f.name}: length runs past the end of the message")
            shape = f.shape
            if shape == _SINGLE:
                kind = f.kind
                if kind == _STRING:
                    value: Any = buf[start:pos].decode()
                elif kind == _MESSAGE:
                    sub = out.get(f.name)
                    if sub is None:
                        sub = out[f.name] = {}
                    _decode_into(buf, start, pos, _sub_schema(f), sub)
                    continue
                elif kind == _INLINE_GROUP:
                    _decode_into(buf, start, pos, f.sub, out)
                    continue
                else:
                    value = _decode_len(buf, start, pos, f)
                if value == f.omit_zero and type(value) is type(f.omit_zero):
                    continue
                out[f.name] = value
            elif shape == _LIST:
                lst = out.get(f.name)
                if lst is None:
                    lst = out[f.name] = []
                kind = f.kind
                if kind == _STRING:
                    lst.append(buf[start:pos].decode())
                elif kind == _MESSAGE:
                    item: dict[str, Any] = {}
                    _decode_into(buf, start, pos, _sub_schema(f), item)
                    lst.append(item)
                elif kind in (_INT, _BOOL):  # packed
                    p = start
                    while p < pos:
                        v, p = _read_varint(buf, p)
                        lst.append(_signed(v) if kind == _INT else v != 0)
                elif kind == _DOUBLE:  # packed
                    lst.extend(x[0] for x in struct.iter_unpack("<d", buf[start:pos]))
                else:
                    lst.append(_decode_len(buf, start, pos, f))
            else:
                m = out.get(f.name)
                if m is None:
                    m = out[f.name] = {}
                k, v = _decode_entry(buf, start, pos, f)
                m[k] = v
        elif wt == _VARINT:
            v, pos = _read_varint(buf, pos)
            kind = f.kind
            if kind == _INT:
                value = _signed(v)
            elif kind == _BOOL:
                value = v != 0
            else:
                raise ProtobufError(f"{schema.name}.{f.name}: unexpected varint")
            if f.shape == _LIST:
                out.setdefault(f.name, []).append(value)
            elif value != f.omit_zero or type(value) is not type(f.omit_zero):
                out[f.name] = value
        elif wt == _I64 or wt == _I32:
            if f.kind != _DOUBLE:
                raise ProtobufError(f"{schema.name}.{f.name}: unexpected fixed-width value")
            fmt, size = ("<d", 8) if wt == _I64 else ("<f", 4)
            if pos + size > end:
                raise ProtobufError(f"{schema.name}.{f.name}: truncated")
            value = struct.unpack_from(fmt, buf, pos)[0]
            pos += size
            if f.shape == _LIST:
                out.setdefault(f.name, []).append(value)
            elif value != f.omit_zero:
                out[f.name] = value
        else:
            raise ProtobufError(f"{schema.name}.{f.name}: unsupported wire type {wt}")
    if pos != end:
        raise ProtobufError(f"{schema.name}: truncated message")


def _decode_len(buf: bytes, start: int, end: int, f: _Field) -> Any:
    """A length-delimited value of a kind other than string or message."""
    kind = f.kind
    if kind == _BYTES:
        return base64.b64encode(buf[start:end]).decode("ascii")
    if kind == _QUANTITY:
        q = ""
        for num, wt, v in _iter_fields(buf, start, end):
            if num == 1 and wt == _LEN:
                q = buf[v[0] : v[1]].decode()
        return q
    if kind == _TIME or kind == _MICROTIME:
        if start == end:
            return None  # Go's zero Time: JSON null
        seconds = nanos = 0
        for num, wt, v in _iter_fields(buf, start, end):
            if wt == _VARINT:
                if num == 1:
                    seconds = _signed(v)
                elif num == 2:
                    nanos = _signed(v)
        return _format_time(seconds, nanos, kind == _MICROTIME)
    if kind == _INTSTR:
        is_str = 0
        int_val = 0
        str_val = ""
        for num, wt, v in _iter_fields(buf, start, end):
            if num == 1 and wt == _VARINT:
                is_str = v
            elif num == 2 and wt == _VARINT:
                int_val = _signed(v)
            elif num == 3 and wt == _LEN:
                str_val = buf[v[0] : v[1]].decode()
        return str_val if is_str == 1 else int_val
    if kind == _DURATION:
        ns = 0
        for num, wt, v in _iter_fields(buf, start, end):
            if num == 1 and wt == _VARINT:
                ns = _signed(v)
        return format_duration(ns)
    if kind == _RAW:
        for num, wt, v in _iter_fields(buf, start, end):
            if num == 1 and wt == _LEN:
                return _decode_raw(buf[v[0] : v[1]])
        return None
    if kind == _STRINGS:
        return [
            buf[v[0] : v[1]].decode()
            for num, wt, v in _iter_fields(buf, start, end)
            if num == 1 and wt == _LEN
        ]
    if kind in (_INT, _BOOL, _DOUBLE):
        raise ProtobufError(f"{f.name}: unexpected length-delimited value")
    raise ProtobufError(f"{f.name}: cannot decode kind {kind}")  # pragma: no cover


def _decode_entry(buf: bytes, start: int, end: int, f: _Field) -> tuple[str, Any]:
    """One map entry {1: key, 2: value}; a missing value is the value type's zero."""
    key = ""
    value: Any = _MISSING
    kind = f.kind
    for num, wt, v in _iter_fields(buf, start, end):
        if num == 1 and wt == _LEN:
            key = buf[v[0] : v[1]].decode()
        elif num == 2:
            if wt == _LEN:
                if kind == _STRING:
                    value = buf[v[0] : v[1]].decode()
                elif kind == _MESSAGE:
                    value = {}
                    _decode_into(buf, v[0], v[1], _sub_schema(f), value)
                else:
                    value = _decode_len(buf, v[0], v[1], f)
            elif wt == _VARINT and kind == _INT:
                value = _signed(v)
            elif wt == _VARINT and kind == _BOOL:
                value = v != 0
            else:
                raise ProtobufError(f"{f.name}: unexpected map value")
    if value is _MISSING:
        value = _decode_len(buf, 0, 0, f) if kind not in _ZERO and kind != _MESSAGE else _ZERO.get(kind, {})
    return key, value


_MISSING = object()


def _decode_raw(raw: bytes) -> Any:
    """The object in a RawExtension or FieldsV1: JSON, or a nested protobuf object."""
    if not raw:
        return None
    if raw.startswith(MAGIC):
        api_version, kind, inner = decode_unknown(raw)
        cls = _model_for(api_version, kind)
        if cls is None:
            raise ProtobufError(f"embedded object of unknown kind {api_version}/{kind}")
        return {"kind": kind, "apiVersion": api_version} | decode_message(inner, cls)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufError(f"embedded object is neither JSON nor protobuf: {e}") from None


def _model_for(api_version: str, kind: str) -> type | None:
    from kubelite.api.resources import RESOURCES

    for res in RESOURCES:
        if res.api_version == api_version and res.kind == kind:
            return typing.cast(type, res.model)
    return None


# ---------------------------------------------------------------- encoding


def encode_unknown(api_version: str, kind: str, raw: bytes, content_type: str = "") -> bytes:
    """A protobuf body: the magic and a runtime.Unknown around an object's encoding."""
    type_meta = bytearray()
    _put_len(type_meta, b"\x0a", api_version.encode())
    _put_len(type_meta, b"\x12", kind.encode())
    out = bytearray(MAGIC)
    _put_len(out, b"\x0a", type_meta)
    _put_len(out, b"\x12", raw)
    _put_len(out, b"\x1a", b"")
    _put_len(out, b"\x22", content_type.encode())
    return bytes(out)


def encode_message(obj: dict[str, Any] | Model, cls: type) -> bytes:
    """The protobuf encoding of ``obj``, the JSON form (or a model instance) of a ``cls``.

    Fields are written in number order; map entries in key order, as Go
    does. Fields absent from ``obj`` (or ``None``) are not written.
    """
    doc: dict[str, Any] = msgspec.to_builtins(obj) if isinstance(obj, msgspec.Struct) else obj
    out = bytearray()
    try:
        _encode_into(out, doc, _schema(cls))
    except (TypeError, ValueError, AttributeError, OverflowError) as e:
        if isinstance(e, ProtobufError):
            raise
        raise ProtobufError(f"cannot encode {cls.__name__}: {e}") from None
    return bytes(out)


def encode_object(obj: dict[str, Any] | Model, cls: type) -> bytes:
    """A whole protobuf body for ``obj``, whose kind and apiVersion go into runtime.Unknown."""
    doc: dict[str, Any] = msgspec.to_builtins(obj) if isinstance(obj, msgspec.Struct) else obj
    return encode_unknown(doc.get("apiVersion", ""), doc.get("kind", ""), encode_message(doc, cls))


def _varint_bytes(v: int) -> bytes:
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _put_len(out: bytearray, tag: bytes, data: bytes | bytearray) -> None:
    out += tag
    n = len(data)
    if n < 0x80:
        out.append(n)
    else:
        out += _varint_bytes(n)
    out += data


def _encode_into(out: bytearray, obj: dict[str, Any], schema: _Schema) -> None:
    for f in schema.ordered:
        if f.kind == _INLINE_GROUP:
            sub = bytearray()
            _encode_into(sub, obj, f.sub)
            _put_len(out, f.tag, sub)
            continue
        value = obj.get(f.name, _MISSING)
        if value is None and f.shape == _SINGLE and f.kind in (_TIME, _MICROTIME):
            _put_len(out, f.tag, b"")  # a zero Time: JSON null, protobuf an empty message
            continue
        if value is None or value is _MISSING:
            continue
        if f.shape == _SINGLE:
            _encode_value(out, f, value)
        elif f.shape == _LIST:
            for item in value:
                _encode_value(out, f, item)
        else:
            for k in sorted(value):
                entry = bytearray()
                _put_len(entry, b"\x0a", k.encode())
                v = value[k]
                if v is not None or f.kind in (_TIME, _MICROTIME):
                    _encode_value(entry, f, v, b"\x12" if _wire_type(f.kind) == _LEN else b"\x10")
                _put_len(out, f.tag, entry)


def _encode_value(out: bytearray, f: _Field, value: Any, tag: bytes | None = None) -> None:
    tag = f.tag if tag is None else tag
    kind = f.kind
    if kind == _STRING:
        if not isinstance(value, str):
            raise ProtobufError(f"{f.name}: expected a string, got {value!r}")
        _put_len(out, tag, value.encode())
    elif kind == _MESSAGE:
        if not isinstance(value, dict):
            raise ProtobufError(f"{f.name}: expected an object, got {value!r}")
        sub = bytearray()
        _encode_into(sub, value, _sub_schema(f))
        _put_len(out, tag, sub)
    elif kind == _INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtobufError(f"{f.name}: expected an integer, got {value!r}")
        out += tag
        out += _varint_bytes(value)
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise ProtobufError(f"{f.name}: expected a boolean, got {value!r}")
        out += tag
        out.append(1 if value else 0)
    elif kind == _DOUBLE:
        out += tag
        out += struct.pack("<d", value)
    elif kind == _BYTES:
        _put_len(out, tag, value if isinstance(value, bytes) else base64.b64decode(value, validate=True))
    elif kind == _QUANTITY:
        _put_len(out, tag, _len_field(b"\x0a", str(value).encode()))
    elif kind == _INTSTR:
        body = bytearray()
        if isinstance(value, str):
            body += b"\x08\x01\x10\x00"
            _put_len(body, b"\x1a", value.encode())
        elif isinstance(value, int) and not isinstance(value, bool):
            body += b"\x08\x00\x10" + _varint_bytes(value) + b"\x1a\x00"
        else:
            raise ProtobufError(f"{f.name}: expected an integer or a string, got {value!r}")
        _put_len(out, tag, body)
    elif kind == _TIME or kind == _MICROTIME:
        body = bytearray()
        if value is not None:
            seconds, nanos = parse_time(value)
            body += b"\x08" + _varint_bytes(seconds) + b"\x10" + _varint_bytes(nanos)
        _put_len(out, tag, body)
    elif kind == _DURATION:
        _put_len(out, tag, b"\x08" + _varint_bytes(parse_duration(value)))
    elif kind == _RAW:
        _put_len(out, tag, _len_field(b"\x0a", orjson.dumps(value)))
    elif kind == _STRINGS:
        body = bytearray()
        for s in value:
            _put_len(body, b"\x0a", s.encode())
        _put_len(out, tag, body)
    else:  # pragma: no cover
        raise ProtobufError(f"{f.name}: cannot encode kind {kind}")


def _len_field(tag: bytes, data: bytes) -> bytearray:
    out = bytearray()
    _put_len(out, tag, data)
    return out


# ---------------------------------------------------------------- time and duration

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _format_time(seconds: int, nanos: int, micro: bool) -> str:
    """metav1.Time as RFC 3339 in UTC, whole seconds; MicroTime with six fraction digits."""
    try:
        t = _EPOCH + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufError(f"time out of range: {seconds}s") from None
    s = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if micro:
        return f"{s}.{nanos // 1000:06d}Z"
    return s + "Z"


def parse_time(value: str) -> tuple[int, int]:
    """(seconds, nanos) since the epoch of an RFC 3339 time."""
    try:
        t = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ProtobufError(f"not an RFC 3339 time: {value!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    delta = t - _EPOCH
    nanos = delta.microseconds * 1000
    m = re.search(r"\.(\d{7,9})", value)
    if m:  # datetime keeps microseconds only
        nanos = int(m.group(1).ljust(9, "0"))
    return delta.days * 86400 + delta.seconds, nanos


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def format_duration(ns: int) -> str:
    """A Go ``time.Duration`` as Go prints it: ``1h2m3.5s``, ``150ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < 1_000:
        text = f"{u}ns"
    elif u < 1_000_000:
        text = _fraction(u, 1_000) + "\u00b5s"
    elif u < 1_000_000_000:
        text = _fraction(u, 1_000_000) + "ms"
    else:
        hours, rest = divmod(u, 3_600_000_000_000)
        minutes, rest = divmod(rest, 60_000_000_000)
        text = _fraction(rest, 1_000_000_000) + "s"
        if hours:
            text = f"{hours}h{minutes}m{text}"
        elif minutes:
            text = f"{minutes}m{text}"
    return sign + text


def _fraction(v: int, unit: int) -> str:
    whole, frac = divmod(v, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def parse_duration(value: str) -> int:
    """Nanoseconds of a Go duration string (``"1h30m"``, ``"-1.5s"``, ``"0"``)."""
    s = value
    sign = 1
    if s[:1] in ("-", "+"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or not (m.group(1) or m.group(2)):
            raise ProtobufError(f"not a duration: {value!r}")
        unit = _DURATION_UNITS[m.group(3)]
        total += int(m.group(1) or 0) * unit
        if m.group(2):
            total += int(m.group(2)) * unit // 10 ** len(m.group(2))
        pos = m.end()
    if not s:
        raise ProtobufError(f"not a duration: {value!r}")
    return sign * total
