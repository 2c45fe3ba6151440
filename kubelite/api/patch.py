"""Patches on JSON documents: JSON patch (RFC 6902) and JSON merge patch (RFC 7386).

Documents are plain JSON values (dict, list, str, int, float, bool, None).
Every function returns a new document and leaves its inputs untouched.
Failures raise :class:`PatchError` with messages close to those of
evanphx/json-patch, the library Kubernetes uses, since clients show them
as is ("testing value /data/a failed: test failed").

The module is organised by patch type: a section per type and
:func:`apply_patch` dispatching on the request's content type. Strategic
merge patch lives in :mod:`kubelite.api.strategic` (it needs the typed
model); this module re-exports its entry points. Server-side apply is to be
added as a further section.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

JSON_PATCH: Final = "application/json-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
APPLY_PATCH: Final = "application/apply-patch+yaml"


class PatchError(ValueError):
    """The patch cannot be applied to the document (or is malformed)."""


class UnsupportedPatchType(PatchError):
    """No patcher for this content type."""


# -- helpers shared by every patch type -----------------------------------------------


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (faster than copy.deepcopy for dicts and lists)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality: true is not 1, and 1 is not 1.0."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- JSON patch (RFC 6902) ------------------------------------------------------------

_MISSING: Final = "missing value"
_BAD_INDEX: Final = "invalid index referenced"
_GO_INT = re.compile(r"[+-]?[0-9]+")
_ABSENT: Final = object()


def _decode_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _atoi(token: str) -> int:
    if not _GO_INT.fullmatch(token) or not -(2**63) <= int(token) < 2**63:
        raise PatchError(f"strconv.Atoi: parsing {json.dumps(token)}: invalid syntax")
    return int(token)


def _index(array: list[Any], token: str) -> int:
    """An existing index of ``array``; negative counts from the end (as Kubernetes allows)."""
    idx = _atoi(token)
    if idx < 0:
        if idx < -len(array):
            raise PatchError(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
        idx += len(array)
    if idx >= len(array):
        raise PatchError(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    return idx


def _find_parent(doc: Any, path: str) -> tuple[dict[str, Any] | list[Any], str] | None:
    """The container holding ``path``'s last token, and that token; None if absent."""
    if not path.startswith("/"):
        return None
    tokens = [_decode_token(t) for t in path.split("/")[1:]]
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list):
            try:
                node = node[_index(node, token)]
            except PatchError:
                return None
        if not isinstance(node, dict | list):
            return None
    if not isinstance(node, dict | list):
        return None
    return node, tokens[-1]


def _get(container: dict[str, Any] | list[Any], key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"unable to get nonexistent key: {key}: {_MISSING}")
        return container[key]
    return container[_index(container, key)]


def _add(container: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        idx = _atoi(key)
    except PatchError as err:
        raise PatchError(f"value was not a proper array index: '{key}': {err}") from None
    size = len(container) + 1
    if idx >= size or idx < -size:
        raise PatchError(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    container.insert(idx + size if idx < 0 else idx, value)


def _remove(container: dict[str, Any] | list[Any], key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"unable to remove nonexistent key: {key}: {_MISSING}")
        return container.pop(key)
    return container.pop(_index(container, key))


def _check_operation(op: Any) -> None:
    if not isinstance(op, dict):
        raise PatchError(f"invalid operation {_compact(op)}: an operation must be an object")
    kind = op.get("op")
    problem = None
    if kind in ("add", "replace"):
        if "value" not in op:
            problem = "failed to decode 'value': operation, missing value field: missing value"
    elif kind in ("move", "copy"):
        if "from" not in op:
            problem = "failed to decode 'from': operation, missing from field: missing value"
        elif not isinstance(op["from"], str):
            problem = "failed to decode 'from': from must be a string"
    elif kind not in ("remove", "test"):
        problem = "unsupported operation"
    if problem is None and "path" not in op:
        problem = "failed to decode 'path': operation missing path field: missing value"
    elif problem is None and not isinstance(op["path"], str):
        problem = "failed to decode 'path': path must be a string"
    if problem is not None:
        raise PatchError(f"invalid operation {_compact(op)}: {problem}")


def _op_add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return json_copy(value)
    found = _find_parent(doc, path)
    if found is None:
        raise PatchError(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _add(*found, json_copy(value))
    except PatchError as err:
        raise PatchError(f"error in add for path: '{path}': {err}") from None
    return doc


def _op_remove(doc: Any, path: str) -> Any:
    found = _find_parent(doc, path)
    if found is None:
        raise PatchError(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _remove(*found)
    except PatchError as err:
        raise PatchError(f"error in remove for path: '{path}': {err}") from None
    return doc


def _op_replace(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        if not isinstance(value, dict | list):
            raise PatchError("replace operation value must be object or array")
        return json_copy(value)
    found = _find_parent(doc, path)
    if found is None:
        raise PatchError(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
    container, key = found
    try:
        _get(container, key)
    except PatchError:
        raise PatchError(
            f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
        ) from None
    if isinstance(container, dict):
        container[key] = json_copy(value)
    else:
        container[_index(container, key)] = json_copy(value)
    return doc


def _op_move(doc: Any, source: str, path: str) -> Any:
    if source == "":
        raise PatchError("unable to move entire document to another path: invalid state detected")
    found = _find_parent(doc, source)
    if found is None:
        raise PatchError(f"move operation does not apply: doc is missing from path: {source}: {_MISSING}")
    container, key = found
    try:
        value = _get(container, key)
    except PatchError as err:
        raise PatchError(f"error in move for path: '{key}': {err}") from None
    _remove(container, key)
    if path == "":
        return value
    target = _find_parent(doc, path)
    if target is None:
        raise PatchError(
            f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}"
        )
    try:
        _add(*target, value)
    except PatchError as err:
        raise PatchError(f"error in move for path: '{path}': {err}") from None
    return doc


def _op_copy(doc: Any, source: str, path: str) -> Any:
    if source == "":
        value = doc
    else:
        found = _find_parent(doc, source)
        if found is None:
            raise PatchError(
                f'copy operation does not apply: doc is missing from path: "{source}": {_MISSING}'
            )
        try:
            value = _get(*found)
        except PatchError as err:
            raise PatchError(f"error in copy for from: '{source}': {err}") from None
    if path == "":
        return json_copy(value)
    target = _find_parent(doc, path)
    if target is None:
        raise PatchError(
            f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}"
        )
    try:
        _add(*target, json_copy(value))
    except PatchError as err:
        raise PatchError(f"error while adding value during copy: {err}") from None
    return doc


def _op_test(doc: Any, path: str, expected: Any) -> Any:
    failed = PatchError(f"testing value {path} failed: test failed")
    if path == "":
        if not json_equal(doc, expected):
            raise failed
        return doc
    found = _find_parent(doc, path)
    if found is None:
        raise PatchError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
    container, key = found
    if isinstance(container, dict):
        actual = container.get(key, _ABSENT)
    else:
        try:
            actual = container[_index(container, key)]
        except PatchError as err:
            raise PatchError(f"error in test for path: '{path}': {err}") from None
    # As in Kubernetes, a missing member tests equal to null.
    if actual is _ABSENT or actual is None:
        if expected is None:
            return doc
        raise failed
    if expected is None or not json_equal(actual, expected):
        raise failed
    return doc


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 6902 patch (a list of operations) to a copy of ``doc``.

    Operations apply in order; the first failure raises PatchError and
    nothing is returned. Pointers use ``~0``/``~1`` escapes, ``-`` appends to
    an array, and negative indices count from the end, as in Kubernetes.
    """
    if not isinstance(patch, list):
        kind = "object" if isinstance(patch, dict) else type(patch).__name__
        raise PatchError(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    for op in patch:
        _check_operation(op)
    result = json_copy(doc)
    for op in patch:
        kind, path = op["op"], op["path"]
        if kind == "add":
            result = _op_add(result, path, op["value"])
        elif kind == "remove":
            result = _op_remove(result, path)
        elif kind == "replace":
            result = _op_replace(result, path, op["value"])
        elif kind == "move":
            result = _op_move(result, op["from"], path)
        elif kind == "copy":
            result = _op_copy(result, op["from"], path)
        else:
            result = _op_test(result, path, op.get("value"))
    return result


# -- JSON merge patch (RFC 7386) ----------------------------------------------------------


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch to a copy of ``doc``.

    Objects merge recursively, a null member deletes, anything else
    (arrays included) replaces.
    """
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = {k: json_copy(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = apply_merge_patch(result.get(key), value)
        else:
            result[key] = json_copy(value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The merge patch that turns ``original`` into ``modified``.

    For two objects: removed members map to null, changed members to their
    new value (objects recursively), unchanged members are left out. Any
    other pair yields ``modified`` itself, which replaces the document.
    A null *value* in ``modified`` cannot be expressed by a merge patch; it
    reads as a deletion when the patch is applied.
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return json_copy(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, new in modified.items():
        if key not in original:
            patch[key] = json_copy(new)
            continue
        old = original[key]
        if isinstance(old, dict) and isinstance(new, dict):
            nested = create_merge_patch(old, new)
            if nested:
                patch[key] = nested
        elif not json_equal(old, new):
            patch[key] = json_copy(new)
    return patch


# -- strategic merge patch (kubelite.api.strategic) ----------------------------------------
# Thin wrappers: strategic.py builds on this module, so it is imported when first used.


def apply_strategic_merge_patch(doc: Any, patch: Any, cls: type | None) -> Any:
    """Apply a strategic merge patch to ``doc``, an object of the model ``cls``.

    See :func:`kubelite.api.strategic.apply_strategic_merge_patch`; errors are
    ``StrategicMergePatchError`` (a PatchError) with an HTTP ``code``.
    """
    from kubelite.api import strategic

    return strategic.apply_strategic_merge_patch(doc, patch, cls)


def create_two_way_merge_patch(original: Any, modified: Any, cls: type | None) -> Any:
    """The strategic merge patch from ``original`` to ``modified`` (see kubelite.api.strategic)."""
    from kubelite.api import strategic

    return strategic.create_two_way_merge_patch(original, modified, cls)


def create_three_way_merge_patch(original: Any, modified: Any, current: Any, cls: type | None) -> Any:
    """The strategic merge patch ``kubectl apply`` sends (see kubelite.api.strategic)."""
    from kubelite.api import strategic

    return strategic.create_three_way_merge_patch(original, modified, current, cls)


# -- dispatch by content type -------------------------------------------------------------

_APPLIERS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    JSON_PATCH: apply_json_patch,
    MERGE_PATCH: apply_merge_patch,
}


def supported_patch_types(typed: bool = False) -> frozenset[str]:
    """The content types :func:`apply_patch` accepts; ``typed``: for a kind with a model."""
    return frozenset(_APPLIERS) | ({STRATEGIC_MERGE_PATCH} if typed else frozenset())


def apply_patch(patch_type: str, doc: Any, patch: Any, cls: type | None = None) -> Any:
    """Apply ``patch`` of the given content type (``application/json-patch+json``, ...).

    Strategic merge patch needs the model class ``cls`` of the document; without
    one (custom resources) it is unsupported, as in Kubernetes.
    """
    media_type = patch_type.split(";", 1)[0].strip()
    if media_type == STRATEGIC_MERGE_PATCH and cls is not None:
        return apply_strategic_merge_patch(doc, patch, cls)
    applier = _APPLIERS.get(media_type)
    if applier is None:
        raise UnsupportedPatchType(f"the patch type {patch_type!r} is not supported")
    return applier(doc, patch)
