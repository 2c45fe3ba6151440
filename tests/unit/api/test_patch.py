"""JSON patch (RFC 6902), merge patch (RFC 7386) and the content-type dispatch."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    UnsupportedPatchType,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    create_merge_patch,
    json_copy,
    json_equal,
    supported_patch_types,
)

# -- JSON patch: the examples of RFC 6902 appendix A, and Kubernetes' extras --------------

JSON_PATCH_CASES: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    (
        "add object member",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "add array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (
        "remove object member",
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (
        "remove array element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "replace a value",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "move a value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "move an array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "test then add",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "add a nested member object",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "unknown members of an operation are ignored",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "add an array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    (
        "tilde escapes",
        {"a/b": 1, "m~n": 2},
        [{"op": "replace", "path": "/a~1b", "value": 3}, {"op": "remove", "path": "/m~0n"}],
        {"a/b": 3},
    ),
    ("~01 is ~1, not /", {"~1": 1}, [{"op": "remove", "path": "/~01"}], {}),
    ("append with -", {"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3]}),
    ("add at the end index", {"a": [1, 2]}, [{"op": "add", "path": "/a/2", "value": 3}], {"a": [1, 2, 3]}),
    (
        "negative index counts from the end",
        {"a": [1, 2, 3]},
        [{"op": "remove", "path": "/a/-1"}],
        {"a": [1, 2]},
    ),
    ("replace the whole document", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("add the whole document", {"a": 1}, [{"op": "add", "path": "", "value": [1]}], [1]),
    ("add null", {}, [{"op": "add", "path": "/a", "value": None}], {"a": None}),
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    (
        "copy",
        {"a": {"b": [1]}},
        [{"op": "copy", "from": "/a", "path": "/c"}],
        {"a": {"b": [1]}, "c": {"b": [1]}},
    ),
    ("copy the root", {"a": 1}, [{"op": "copy", "from": "", "path": "/b"}], {"a": 1, "b": {"a": 1}}),
    ("test a missing member against null", {}, [{"op": "test", "path": "/a", "value": None}], {}),
    (
        "test an object",
        {"a": {"b": [1, {"c": True}]}},
        [{"op": "test", "path": "/a", "value": {"b": [1, {"c": True}]}}],
        {"a": {"b": [1, {"c": True}]}},
    ),
    ("test the whole document", [1, 2], [{"op": "test", "path": "", "value": [1, 2]}], [1, 2]),
    ("empty patch", {"a": 1}, [], {"a": 1}),
    (
        "a kubectl-style label patch",
        {"metadata": {"name": "p", "labels": {"app": "web"}}},
        [
            {"op": "test", "path": "/metadata/labels/app", "value": "web"},
            {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
            {"op": "remove", "path": "/metadata/labels/app"},
        ],
        {"metadata": {"name": "p", "labels": {"tier": "fe"}}},
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "patch", "expected"), JSON_PATCH_CASES, ids=[c[0] for c in JSON_PATCH_CASES]
)
def test_apply_json_patch(name: str, doc: Any, patch: list[dict[str, Any]], expected: Any) -> None:
    before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    assert apply_json_patch(doc, patch) == expected
    assert doc == before and patch == patch_before  # inputs untouched


JSON_PATCH_ERRORS: list[tuple[str, Any, Any, str]] = [
    (
        "test fails",
        {"data": {"a": "1"}},
        [{"op": "test", "path": "/data/a", "value": "2"}],
        "testing value /data/a failed: test failed",
    ),
    (
        "test of a string against a number",
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": 1}],
        "testing value /baz failed: test failed",
    ),
    (
        "test true against 1",
        {"a": True},
        [{"op": "test", "path": "/a", "value": 1}],
        "testing value /a failed: test failed",
    ),
    (
        "test a missing member against a value",
        {},
        [{"op": "test", "path": "/a", "value": 1}],
        "testing value /a failed: test failed",
    ),
    (
        "test null against a value",
        {"a": None},
        [{"op": "test", "path": "/a", "value": 0}],
        "testing value /a failed: test failed",
    ),
    (
        "test a value against null",
        {"a": 0},
        [{"op": "test", "path": "/a", "value": None}],
        "testing value /a failed: test failed",
    ),
    (
        "test under a missing parent",
        {},
        [{"op": "test", "path": "/a/b", "value": 1}],
        "test operation does not apply: is missing path: /a/b: missing value",
    ),
    (
        "test the root",
        {"a": 1},
        [{"op": "test", "path": "", "value": {"a": 2}}],
        "testing value  failed: test failed",
    ),
    (
        "add under a missing parent",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    ),
    (
        "add under a scalar",
        {"foo": "bar"},
        [{"op": "add", "path": "/foo/bar", "value": 1}],
        'add operation does not apply: doc is missing path: "/foo/bar": missing value',
    ),
    (
        "path without slash",
        {},
        [{"op": "add", "path": "a", "value": 1}],
        'add operation does not apply: doc is missing path: "a": missing value',
    ),
    (
        "add past the end",
        {"a": [1]},
        [{"op": "add", "path": "/a/5", "value": 1}],
        "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced",
    ),
    (
        "add with a word index",
        {"a": [1]},
        [{"op": "add", "path": "/a/x", "value": 1}],
        "error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
    ),
    (
        "remove a missing member",
        {"a": {}},
        [{"op": "remove", "path": "/a/b"}],
        "error in remove for path: '/a/b': unable to remove nonexistent key: b: missing value",
    ),
    (
        "remove under a missing parent",
        {},
        [{"op": "remove", "path": "/a/b"}],
        'remove operation does not apply: doc is missing path: "/a/b": missing value',
    ),
    (
        "remove past the end",
        {"a": [1]},
        [{"op": "remove", "path": "/a/1"}],
        "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index referenced",
    ),
    (
        "remove with -",
        {"a": [1]},
        [{"op": "remove", "path": "/a/-"}],
        "error in remove for path: '/a/-': strconv.Atoi: parsing \"-\": invalid syntax",
    ),
    (
        "replace a missing member",
        {"a": 1},
        [{"op": "replace", "path": "/b", "value": 2}],
        "replace operation does not apply: doc is missing key: /b: missing value",
    ),
    (
        "replace under a missing parent",
        {},
        [{"op": "replace", "path": "/a/b", "value": 2}],
        "replace operation does not apply: doc is missing path: /a/b: missing value",
    ),
    (
        "replace the root with a scalar",
        {},
        [{"op": "replace", "path": "", "value": 2}],
        "replace operation value must be object or array",
    ),
    (
        "move a missing member",
        {"a": {}},
        [{"op": "move", "from": "/a/b", "path": "/c"}],
        "error in move for path: 'b': unable to get nonexistent key: b: missing value",
    ),
    (
        "move from a missing parent",
        {},
        [{"op": "move", "from": "/a/b", "path": "/c"}],
        "move operation does not apply: doc is missing from path: /a/b: missing value",
    ),
    (
        "move into itself",
        {"a": {"b": 1}},
        [{"op": "move", "from": "/a", "path": "/a/c"}],
        "move operation does not apply: doc is missing destination path: /a/c: missing value",
    ),
    (
        "move the root",
        {"a": 1},
        [{"op": "move", "from": "", "path": "/b"}],
        "unable to move entire document to another path: invalid state detected",
    ),
    (
        "copy a missing member",
        {},
        [{"op": "copy", "from": "/a", "path": "/b"}],
        "error in copy for from: '/a': unable to get nonexistent key: a: missing value",
    ),
    (
        "copy to a missing parent",
        {"a": 1},
        [{"op": "copy", "from": "/a", "path": "/x/y"}],
        "copy operation does not apply: doc is missing destination path: /x/y: missing value",
    ),
    (
        "unknown op",
        {},
        [{"op": "frob", "path": "/a"}],
        'invalid operation {"op":"frob","path":"/a"}: unsupported operation',
    ),
    (
        "add without value",
        {},
        [{"op": "add", "path": "/a"}],
        'invalid operation {"op":"add","path":"/a"}: failed to decode \'value\': operation, missing value field: missing value',
    ),
    (
        "move without from",
        {},
        [{"op": "move", "path": "/a"}],
        'invalid operation {"op":"move","path":"/a"}: failed to decode \'from\': operation, missing from field: missing value',
    ),
    (
        "remove without path",
        {},
        [{"op": "remove"}],
        'invalid operation {"op":"remove"}: failed to decode \'path\': operation missing path field: missing value',
    ),
    (
        "path not a string",
        {},
        [{"op": "remove", "path": 1}],
        'invalid operation {"op":"remove","path":1}: failed to decode \'path\': path must be a string',
    ),
    ("operation not an object", {}, ["add"], 'invalid operation "add": an operation must be an object'),
    (
        "patch not a list",
        {},
        {"op": "add"},
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "patch", "message"), JSON_PATCH_ERRORS, ids=[c[0] for c in JSON_PATCH_ERRORS]
)
def test_json_patch_errors(name: str, doc: Any, patch: Any, message: str) -> None:
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError) as err:
        apply_json_patch(doc, patch)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)
    assert doc == before


def test_a_failing_operation_leaves_nothing_half_applied() -> None:
    doc = {"a": 1}
    with pytest.raises(PatchError):
        apply_json_patch(
            doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 9}]
        )
    assert doc == {"a": 1}


def test_results_do_not_alias_the_patch() -> None:
    value = {"x": [1]}
    result = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["x"].append(2)
    assert value == {"x": [1]}
    copied = apply_json_patch({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}])
    copied["c"]["b"] = 2
    assert copied["a"] == {"b": 1}


# -- merge patch: RFC 7386 appendix A --------------------------------------------------------

MERGE_CASES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # arrays are replaced whole, nulls inside them kept
    ({"a": [1, 2]}, {"a": [None]}, {"a": [None]}),
    (
        {"metadata": {"labels": {"app": "web", "tier": "fe"}, "name": "p"}, "spec": {"replicas": 1}},
        {"metadata": {"labels": {"tier": None, "env": "prod"}}, "spec": {"replicas": 3}},
        {"metadata": {"labels": {"app": "web", "env": "prod"}, "name": "p"}, "spec": {"replicas": 3}},
    ),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), MERGE_CASES)
def test_apply_merge_patch(doc: Any, patch: Any, expected: Any) -> None:
    before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    assert apply_merge_patch(doc, patch) == expected
    assert doc == before and patch == patch_before


def test_merge_result_does_not_alias_inputs() -> None:
    doc = {"keep": {"x": [1]}}
    patch = {"new": {"y": [2]}}
    result = apply_merge_patch(doc, patch)
    result["keep"]["x"].append(9)
    result["new"]["y"].append(9)
    assert doc == {"keep": {"x": [1]}} and patch == {"new": {"y": [2]}}


CREATE_CASES: list[tuple[Any, Any, Any]] = [
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {}, {"a": None}),
    ({}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
    ({"a": {"b": 1}}, {"a": {"b": 1}}, {}),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, {"a": [1, 2, 3]}),
    ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ({"a": 5}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ({"a": 1}, {"a": 1.0}, {"a": 1.0}),
    ({"a": True}, {"a": 1}, {"a": 1}),
    ([1], [2], [2]),
    ({"a": 1}, [2], [2]),
]


@pytest.mark.parametrize(("original", "modified", "expected"), CREATE_CASES)
def test_create_merge_patch(original: Any, modified: Any, expected: Any) -> None:
    patch = create_merge_patch(original, modified)
    assert json_equal(patch, expected)
    assert json_equal(apply_merge_patch(original, patch), modified)


def test_create_merge_patch_does_not_alias() -> None:
    modified = {"a": {"b": [1]}}
    patch = create_merge_patch({}, modified)
    patch["a"]["b"].append(2)
    assert modified == {"a": {"b": [1]}}


# -- helpers and dispatch ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (1, 1.0, False),
        (True, 1, False),
        (0, False, False),
        ("1", 1, False),
        ([1, 2], [2, 1], False),
        ({"x": 1, "y": 2}, {"y": 2, "x": 1}, True),
        (None, None, True),
    ],
)
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


def test_json_copy_is_deep() -> None:
    doc = {"a": [{"b": 1}]}
    dup = json_copy(doc)
    dup["a"][0]["b"] = 2
    assert doc == {"a": [{"b": 1}]}


def test_apply_patch_dispatches_on_content_type() -> None:
    doc = {"a": 1}
    assert apply_patch(JSON_PATCH, doc, [{"op": "replace", "path": "/a", "value": 2}]) == {"a": 2}
    assert apply_patch(MERGE_PATCH + "; charset=utf-8", doc, {"b": 2}) == {"a": 1, "b": 2}
    assert supported_patch_types() == {JSON_PATCH, MERGE_PATCH}
    with pytest.raises(UnsupportedPatchType):
        apply_patch(STRATEGIC_MERGE_PATCH, doc, {})
    with pytest.raises(PatchError):
        apply_patch("text/plain", doc, {})
