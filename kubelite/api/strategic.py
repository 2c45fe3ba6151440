"""Strategic merge patch: Kubernetes' JSON merge patch that knows about lists.

A strategic merge patch looks like a JSON merge patch, but the typed model
says how each list merges: the Go tags ``patchStrategy`` and
``patchMergeKey`` that the generated models carry in each field's ``Wire``.
Containers merge by ``name``, ports by ``containerPort``, finalizers as a set
of strings; lists without a strategy (args, tolerations) are replaced.
Directives in the patch ask for more: ``$patch`` (replace, delete, merge),
``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>`` and
``$retainKeys``.

The behaviour follows apimachinery's ``strategicpatch`` package, including
its ordering rule for merged lists: elements named by the patch take the
patch's order, elements only the server has keep theirs, and an element new
to the list goes before the server-only elements that follow it (a new
container lands first unless ``$setElementOrder`` says otherwise). Where the
Go code keeps a directive or a null in the result by accident, this module
drops it; nothing it returns contains a ``$`` key or a null that the patch
meant as a deletion. ``$patch: delete`` on a map leaves an empty map, as in
Kubernetes; ``$patch: merge`` (the default) is accepted where Go rejects it.

Values typed ``Any`` or ``dict`` in the model (and any field the model does
not know) merge as in a JSON merge patch: maps recursively, lists replaced.

:func:`create_two_way_merge_patch` and :func:`create_three_way_merge_patch`
build patches, the latter as ``kubectl apply`` does.
"""

from __future__ import annotations

import decimal
import functools
import types
import typing
from typing import Any, Final, NamedTuple

from kubelite.api.model import Model, fields_of
from kubelite.api.patch import PatchError, json_copy, json_equal

_PATCH: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_DELETE_FROM: Final = "$deleteFromPrimitiveList"
_SET_ORDER: Final = "$setElementOrder"

_BAD_PRIMITIVE_LIST: Final = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS: Final = "invalid patch format of retainKeys"
_BAD_SET_ORDER: Final = "invalid patch format of setElementOrder list"


class StrategicMergePatchError(PatchError):
    """A strategic merge patch that cannot be applied or built.

    ``code`` is the HTTP status Kubernetes answers with: 400 for a malformed
    directive, 422 for lists of lists, and 500 for the rest (a missing merge
    key, an unknown ``$patch`` value, mismatched types), which Kubernetes
    passes through with the bare message and an empty reason.
    """

    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message)
        self.code = code


# -- how Go prints values in its messages -----------------------------------------------


def _go_float(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    exact = decimal.Decimal(repr(value)).normalize()
    exponent = exact.adjusted()
    if -4 <= exponent < 6:  # %v is %g with the shortest digits: 1e+06, 123456
        return format(exact, "f")
    sign, digits, _ = exact.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _go_fmt(value: Any) -> str:
    """``value`` as Go's ``%v`` prints a decoded JSON value (maps with sorted keys)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_fmt(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if value is None:
        return "%!s(<nil>)"
    return {bool: "bool", int: "int64", float: "float64"}.get(type(value), "string")


def _no_merge_key(element: Any, key: str) -> StrategicMergePatchError:
    return StrategicMergePatchError(f"map: {_go_fmt(element)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> StrategicMergePatchError:
    return StrategicMergePatchError(f"expected a {expected}, but received a {_go_type(actual)}")


# -- what the model says about a field ------------------------------------------------------


class _Meta(NamedTuple):
    strategy: str = ""  # "merge", "replace" or ""
    retain_keys: bool = False
    key: str = ""


_NO_META: Final = _Meta()


def _unwrap(tp: Any) -> Any:
    """``tp`` without Annotated and Optional; None for anything that is not one type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return None
            tp = args[0]
        else:
            return tp


def _element(tp: Any) -> Any:
    """The element type if ``tp`` is a list type, else ``tp``."""
    tp = _unwrap(tp)
    if typing.get_origin(tp) is list:
        return typing.get_args(tp)[0] if typing.get_args(tp) else None
    return tp


@functools.cache
def _lookup(tp: Any, name: str) -> tuple[Any, _Meta]:
    """The schema of field ``name`` of a map typed ``tp`` (element type for lists), and its tags.

    Unknown fields and untyped values yield ``(None, _NO_META)``: JSON merge semantics.
    """
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, Model):
        info = fields_of(tp).get(name)
        if info is None:
            return None, _NO_META
        parts = [p.strip() for p in info.wire.strategy.split(",") if p.strip()]
        strategy = next((p for p in parts if p != "retainKeys"), "")
        return _element(info.type), _Meta(strategy, "retainKeys" in parts, info.wire.key)
    if typing.get_origin(tp) is dict and len(typing.get_args(tp)) == 2:
        return _element(typing.get_args(tp)[1]), _NO_META
    return None, _NO_META


def _schema_name(tp: Any) -> str:
    tp = _unwrap(tp)
    return tp.__name__ if isinstance(tp, type) else str(tp)


# -- identities and element kinds -----------------------------------------------------------


def _ident(value: Any) -> tuple[str, Any]:
    """A hashable identity with JSON equality (true is not 1)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    return ("j", _go_fmt(value))


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "nil"


def _element_kind(*lists: list[Any]) -> str | None:
    """The common kind of the elements of ``lists``; None when all are empty."""
    found: str | None = None
    for items in lists:
        for item in items:
            kind = _kind(item)
            if found is None:
                if kind == "slice":
                    raise StrategicMergePatchError("lists of lists are not supported", 422)
                found = kind
            elif kind != found:
                shown = "[" + " ".join(_go_fmt(i) for i in lists) + "]"
                raise StrategicMergePatchError(f"list element types are not identical: {shown}")
    return found


class _Identify:
    """Identity of list elements: by merge key for maps, by value otherwise."""

    def __init__(self, key: str, keyed: bool) -> None:
        self.key, self.keyed = key, keyed

    def __call__(self, element: Any) -> tuple[str, Any]:
        if not self.keyed:
            return _ident(element)
        if not isinstance(element, dict):
            raise _bad_arg_type("map[string]interface {}", element)
        if self.key not in element:
            raise _no_merge_key(element, self.key)
        return _ident(element[self.key])


def _is_delete(element: Any) -> bool:
    return isinstance(element, dict) and element.get(_PATCH) == "delete"


def _ordered(
    patch_items: list[Any],
    server_items: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    ident: _Identify,
) -> list[Any]:
    """Merge the elements the patch names with those only the server has.

    Each group is sorted by its own reference order (patch or setElementOrder
    list for the first, the live list for the second); then the two are
    interleaved, taking a server element first only when both are in the live
    list and the server one comes earlier. Delete directives (only present
    while combining patches) go last in their group.
    """

    def sort_by(items: list[Any], order: list[Any]) -> list[Any]:
        position: dict[tuple[str, Any], int] = {}
        for i, item in enumerate(order):
            position.setdefault(ident(item), i)
        kept = [i for i in items if not _is_delete(i)]
        kept.sort(key=lambda item: position.get(ident(item), len(order)))
        return kept + [i for i in items if _is_delete(i)]

    for item in patch_order:
        ident(item)
    patch_items = sort_by(patch_items, patch_order)
    server_items = sort_by(server_items, server_order)
    live: dict[tuple[str, Any], int] = {}
    for i, item in enumerate(server_order):
        live.setdefault(ident(item), i)
    result: list[Any] = []
    i = j = 0
    while i < len(server_items) and j < len(patch_items):
        left, right = live.get(ident(server_items[i])), live.get(ident(patch_items[j]))
        if left is not None and right is not None and left < right:
            result.append(server_items[i])
            i += 1
        else:
            result.append(patch_items[j])
            j += 1
    return result + server_items[i:] + patch_items[j:]


def _partition(merged: list[Any], named: list[Any], ident: _Identify) -> tuple[list[Any], list[Any]]:
    wanted = {ident(item) for item in named if not (ident.keyed and not isinstance(item, dict))}
    inside: list[Any] = []
    outside: list[Any] = []
    for item in merged:
        (inside if ident(item) in wanted else outside).append(item)
    return inside, outside


# -- applying -------------------------------------------------------------------------------

_OMIT: Final = object()


def _strip_prefix(name: str, prefix: str, message: str) -> str:
    head, sep, rest = name.partition("/")
    if head != prefix or not sep:
        raise StrategicMergePatchError(message, 400)
    return rest


def _without_directives(value: Any) -> Any:
    """What Go keeps of a patch value copied while combining patches: maps with $patch go."""
    if isinstance(value, dict):
        if _PATCH in value:
            return _OMIT
        return {k: v for k, v in ((k, _without_directives(v)) for k, v in value.items()) if v is not _OMIT}
    if isinstance(value, list):
        return [v for v in (_without_directives(v) for v in value) if v is not _OMIT]
    return value


class _Merger:
    """One application of a patch. ``combine`` merges two patches (for the three-way patch):
    nulls, parallel lists and ordering directives are kept instead of acted on."""

    def __init__(self, combine: bool) -> None:
        self.combine = combine

    def fresh(self, value: Any, tp: Any, meta: _Meta) -> Any:
        """A patch value for a field that has nothing to merge with."""
        if self.combine:
            return _without_directives(value)
        if isinstance(value, dict):
            if value.get(_PATCH) == "delete":
                return _OMIT
            return self.merge_map({}, value, tp)
        if isinstance(value, list):
            if meta.strategy == "merge":
                return self.merge_list([], value, tp, meta, deleting=False)
            return [r for r in (self.fresh(v, tp, _NO_META) for v in value) if r is not _OMIT]
        return value

    def put_fresh(self, target: dict[str, Any], name: str, value: Any, tp: Any, meta: _Meta) -> None:
        result = self.fresh(value, tp, meta)
        if result is _OMIT:
            target.pop(name, None)
        else:
            target[name] = result

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], tp: Any) -> dict[str, Any]:
        """Merge ``patch`` into ``original``; both are private copies and may be changed."""
        if _PATCH in patch:
            directive = patch[_PATCH]
            if directive == "replace":
                return self.merge_map({}, {k: v for k, v in patch.items() if k != _PATCH}, tp)
            if directive == "delete":
                return {}
            if directive != "merge":
                raise StrategicMergePatchError(
                    f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(patch)}"
                )
            del patch[_PATCH]
        self._retain_keys(original, patch)
        self._set_element_orders(original, patch, tp)
        for name in list(patch):
            value = patch[name]
            deleting = False
            if name.startswith(_DELETE_FROM):
                if self.combine:
                    original[name] = value
                    continue
                name = _strip_prefix(name, _DELETE_FROM, _BAD_PRIMITIVE_LIST)
                deleting = True
            if value is None:
                original.pop(name, None)
                if not self.combine:
                    continue
            current = original.get(name, _OMIT)
            if current is _OMIT or _kind(current) != _kind(value):
                if not deleting:
                    self.put_fresh(original, name, value, *_lookup(tp, name))
                continue
            if isinstance(current, dict):
                child, meta = _lookup(tp, name)
                if meta.strategy == "replace":
                    self.put_fresh(original, name, value, child, meta)
                else:
                    original[name] = self.merge_map(current, value, child)
            elif isinstance(current, list):
                original[name] = self.merge_list(current, value, *_lookup(tp, name), deleting=deleting)
            else:
                original[name] = value
        return original

    def _retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        if _RETAIN_KEYS not in patch:
            return
        keep = patch.pop(_RETAIN_KEYS)
        if self.combine:
            if _RETAIN_KEYS in original and not json_equal(original[_RETAIN_KEYS], keep):
                raise StrategicMergePatchError(
                    f"{_go_fmt(original[_RETAIN_KEYS])} and {_go_fmt(keep)} are not deep equal: "
                    "this may happen when calculating the 3-way diff patch"
                )
            original[_RETAIN_KEYS] = keep
            return
        if not isinstance(keep, list):
            raise StrategicMergePatchError(_BAD_RETAIN_KEYS, 400)
        for name, value in patch.items():
            if value is None or name.startswith((_DELETE_FROM, _SET_ORDER)):
                continue
            if name not in keep:
                raise StrategicMergePatchError(_BAD_RETAIN_KEYS, 400)
        for name in [n for n in original if n not in keep]:
            del original[name]

    def _set_element_orders(self, original: dict[str, Any], patch: dict[str, Any], tp: Any) -> None:
        for directive in [n for n in patch if n.startswith(_SET_ORDER)]:
            order = patch.pop(directive)
            if self.combine:
                if directive in original and not json_equal(original[directive], order):
                    raise StrategicMergePatchError(_BAD_SET_ORDER, 400)
                original[directive] = order
            if not isinstance(order, list):
                raise _bad_arg_type("[]interface {}", order)
            name = _strip_prefix(directive, _SET_ORDER, _BAD_SET_ORDER)
            live, change = original.get(name, _OMIT), patch.get(name, _OMIT)
            for value in (live, change):
                if value is not _OMIT and not isinstance(value, list):
                    raise _bad_arg_type("[]interface {}", value)
            if live is _OMIT and change is _OMIT:
                continue
            child, meta = _lookup(tp, name)
            kind = _element_kind(live if live is not _OMIT else [], change if change is not _OMIT else [])
            ident = _Identify(meta.key, kind == "map" and bool(meta.key))
            _check_order(change if change is not _OMIT else [], order, ident)
            if change is _OMIT:
                merged = live
            elif live is _OMIT:
                merged = self.fresh(change, child, meta)
            else:
                merged = self.merge_list(list(live), change, child, meta, deleting=False)
            patch.pop(name, None)
            if merged is _OMIT:
                continue
            named, server_only = _partition(merged, order, ident)
            original[name] = _ordered(named, server_only, order, live if live is not _OMIT else [], ident)

    def merge_list(
        self, original: list[Any], patch: list[Any], tp: Any, meta: _Meta, *, deleting: bool
    ) -> Any:
        if meta.strategy != "merge" and not deleting:
            return self.fresh(patch, tp, meta)
        if not original and not patch:
            return original
        kind = _element_kind(original, patch)
        if kind != "map":
            if deleting and not self.combine:
                gone = {_ident(v) for v in patch}
                return [v for v in original if _ident(v) not in gone]
            merged: list[Any] = []
            seen: set[tuple[str, Any]] = set()
            for value in original + patch:
                if _ident(value) not in seen:
                    seen.add(_ident(value))
                    merged.append(value)
            ident = _Identify("", keyed=False)
            named, server_only = _partition(merged, patch, ident)
            return _ordered(named, server_only, patch, original, ident)
        if not meta.key:
            raise StrategicMergePatchError(f"cannot merge lists without merge key for {_schema_name(tp)}")
        ident = _Identify(meta.key, keyed=True)
        original, items = self._list_directives(original, patch, tp, ident)
        merged = list(original)
        for item in items:
            wanted = ident(item)
            index = next(
                (
                    i
                    for i, v in enumerate(merged)
                    if isinstance(v, dict) and meta.key in v and ident(v) == wanted
                ),
                None,
            )
            if index is not None:
                merged[index] = self.merge_map(merged[index], item, tp)
            elif self.combine:
                merged.append(item)
            else:
                merged.append(self.merge_map({}, item, tp))
        named, server_only = _partition(merged, items, ident)
        return _ordered(named, server_only, items, original, ident)

    def _list_directives(
        self, original: list[Any], patch: list[Any], tp: Any, ident: _Identify
    ) -> tuple[list[Any], list[Any]]:
        """Act on the ``$patch`` elements of a merge list; return the live list and the rest of the patch."""
        items: list[Any] = []
        replace = False
        for element in patch:
            if _PATCH not in element:
                items.append(element)
                continue
            directive = element[_PATCH]
            if directive == "delete":
                gone = ident(element)
                original = [v for v in original if not (ident.key in v and ident(v) == gone)]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                rest = {k: v for k, v in element.items() if k != _PATCH}
                if rest:
                    items.append(rest)
            else:
                raise StrategicMergePatchError(
                    f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(element)}"
                )
        if replace:
            if self.combine:
                return items, []
            return [self.merge_map({}, item, tp) for item in items], []
        return original, items


def _check_order(patch_list: list[Any], order: list[Any], ident: _Identify) -> None:
    """The patch list's elements must appear in the setElementOrder list, in the same order."""
    if not order or not patch_list:
        return
    items = [item for item in patch_list if not _is_delete(item)] if ident.keyed else patch_list
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and _PATCH in items[i]:
            i += 1
            continue
        if ident(items[i]) == ident(order[j]):
            i += 1
        j += 1
    if i < len(items) and j >= len(order):
        raise StrategicMergePatchError(
            f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match {_SET_ORDER} list:\n{_go_fmt(order)}\n"
        )


# -- building patches -----------------------------------------------------------------------


class _DiffOptions(NamedTuple):
    set_order: bool = True  # emit $setElementOrder for merge lists
    no_changes: bool = False  # leave out additions and changes (deletions only)
    no_deletions: bool = False  # leave out deletions (additions and changes only)
    retain_keys: bool = False  # emit $retainKeys (the map's field has a retainKeys strategy)


def _go_sorted(values: list[Any]) -> list[Any]:
    return sorted(values, key=_go_fmt)


def _diff_maps(
    original: dict[str, Any], modified: dict[str, Any], tp: Any, opts: _DiffOptions
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for name, new in modified.items():
        if name not in original:
            if not opts.no_changes:
                patch[name] = json_copy(new)
            continue
        old = original[name]
        if name == _PATCH:
            if not isinstance(old, str) or not isinstance(new, str):
                raise StrategicMergePatchError(f"invalid value for special key: {_PATCH}")
            if old != new:
                patch[name] = new
        elif isinstance(old, dict) and isinstance(new, dict):
            child, meta = _lookup(tp, name)
            if meta.strategy == "replace":
                if not opts.no_changes and not json_equal(old, new):
                    patch[name] = json_copy(new)
            else:
                nested = _diff_maps(old, new, child, opts._replace(retain_keys=meta.retain_keys))
                if nested:
                    patch[name] = nested
        elif isinstance(old, list) and isinstance(new, list):
            child, meta = _lookup(tp, name)
            if meta.strategy == "merge":
                sub = opts._replace(retain_keys=meta.retain_keys)
                changes, deletions, order = _diff_lists(old, new, child, meta.key, sub)
                if changes:
                    patch[name] = changes
                if deletions:
                    patch[f"{_DELETE_FROM}/{name}"] = deletions
                if order:
                    patch[f"{_SET_ORDER}/{name}"] = order
            elif not opts.no_changes and not json_equal(old, new):
                patch[name] = json_copy(new)
        elif not opts.no_changes and not json_equal(old, new):
            patch[name] = json_copy(new)
    if not opts.no_deletions:
        for name in original:
            if name not in modified:
                patch[name] = None
    if opts.retain_keys:
        keep = [name for name, value in modified.items() if value is not None]
        dropped = any(value is not None and name not in modified for name, value in original.items())
        if keep and (patch or dropped):
            patch[_RETAIN_KEYS] = _go_sorted(keep)
    return patch


def _diff_lists(
    original: list[Any], modified: list[Any], tp: Any, key: str, opts: _DiffOptions
) -> tuple[list[Any], list[Any], list[Any]]:
    """The patch list, the $deleteFromPrimitiveList list and the $setElementOrder list."""
    if not original:
        if not modified or opts.no_changes:
            return [], [], []
        return json_copy(modified), [], []
    kind = _element_kind(original, modified)
    if kind == "map":
        if not key:
            raise StrategicMergePatchError(f"cannot merge lists without merge key for {_schema_name(tp)}")
        ident = _Identify(key, keyed=True)
        old_by_key: dict[tuple[str, Any], Any] = {}
        for item in original:
            old_by_key.setdefault(ident(item), item)
        new_keys = {ident(item) for item in modified}
        changes: list[Any] = []
        for item in modified:
            old = old_by_key.get(ident(item), _OMIT)
            if old is _OMIT:
                if not opts.no_changes:
                    changes.append(json_copy(item))
                continue
            nested = _diff_maps(old, item, tp, opts)
            if nested:
                nested[key] = json_copy(item[key])
                changes.append(nested)
        if not opts.no_deletions:
            gone = {ident(item): item[key] for item in original if ident(item) not in new_keys}
            changes += [{_PATCH: "delete", key: value} for value in _go_sorted(list(gone.values()))]
        same_order = len(original) == len(modified) and all(
            ident(a) == ident(b) for a, b in zip(original, modified, strict=True)
        )
        order: list[Any] = []
        if opts.set_order and (
            (not opts.no_changes and (changes or not same_order)) or (not opts.no_deletions and changes)
        ):
            order = [{key: json_copy(item[key])} for item in modified]
        return changes, [], order
    old_values = {_ident(v) for v in original}
    new_values = {_ident(v) for v in modified}
    added: list[Any] = []
    removed: list[Any] = []
    if not opts.no_changes:
        seen: set[tuple[str, Any]] = set()
        for value in modified:
            if _ident(value) not in old_values and _ident(value) not in seen:
                seen.add(_ident(value))
                added.append(value)
    if not opts.no_deletions:
        gone = {_ident(v): v for v in original if _ident(v) not in new_values}
        removed = _go_sorted(list(gone.values()))
    order = []
    if opts.set_order and (
        (not opts.no_deletions and removed) or (not opts.no_changes and not json_equal(original, modified))
    ):
        order = json_copy(modified)
    return added, removed, order


# -- the public functions -------------------------------------------------------------------


def _check_schema(cls: type | None) -> None:
    if cls is not None and not (isinstance(cls, type) and issubclass(cls, Model)):
        raise StrategicMergePatchError("strategic merge patch format is not supported", 400)


def _as_map(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else _kind(value)
        raise StrategicMergePatchError(
            f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}} ({what})", 400
        )
    return value


def apply_strategic_merge_patch(
    doc: dict[str, Any], patch: dict[str, Any], cls: type | None
) -> dict[str, Any]:
    """Apply a strategic merge patch to a copy of ``doc``, an object of the model ``cls``.

    ``cls`` is the Model class of the whole document (``apps_v1.Deployment``);
    None merges without any list knowledge (maps merge, lists are replaced)
    while still honouring the directives. The inputs are left untouched.
    Raises :class:`StrategicMergePatchError` (a PatchError) with Kubernetes'
    message and HTTP status code.
    """
    _check_schema(cls)
    original = json_copy(_as_map(doc, "document"))
    return _Merger(combine=False).merge_map(original, json_copy(_as_map(patch, "patch")), cls)


def create_two_way_merge_patch(
    original: dict[str, Any], modified: dict[str, Any], cls: type | None
) -> dict[str, Any]:
    """The strategic merge patch that turns ``original`` into ``modified``.

    Removed fields map to null, removed elements of merge lists become
    ``$patch: delete`` elements (maps) or ``$deleteFromPrimitiveList``
    entries (primitives), and changed merge lists carry ``$setElementOrder``.
    """
    _check_schema(cls)
    return _diff_maps(_as_map(original, "original"), _as_map(modified, "modified"), cls, _DiffOptions())


def create_three_way_merge_patch(
    original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any], cls: type | None
) -> dict[str, Any]:
    """The patch ``kubectl apply`` sends: from the live object to the new configuration.

    ``original`` is the last applied configuration (None if there is none),
    ``modified`` the new configuration and ``current`` the live object. The
    patch sets what ``modified`` says where ``current`` differs, deletes what
    ``original`` had and ``modified`` dropped (fields others added to the live
    object are left alone), and orders merge lists as ``modified`` does.
    Conflicts are not checked (kubectl applies with overwrite).
    """
    _check_schema(cls)
    live, wanted = _as_map(current, "current"), _as_map(modified, "modified")
    changes = _diff_maps(live, wanted, cls, _DiffOptions(no_deletions=True))
    deletions = _diff_maps(_as_map(original, "original"), wanted, cls, _DiffOptions(no_changes=True))
    return _Merger(combine=True).merge_map(deletions, changes, cls)
