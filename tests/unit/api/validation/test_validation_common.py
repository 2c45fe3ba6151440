"""Names, labels, annotations, ObjectMeta, selectors and quantities."""

from __future__ import annotations

import ipaddress

import pytest

from kubelite.api import meta
from kubelite.api.validation import common as c

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    ("fn", "value", "ok"),
    [
        (c.is_dns1123_subdomain, "example.com", True),
        (c.is_dns1123_subdomain, "Example.com", False),
        (c.is_dns1123_subdomain, "a" * 254, False),
        (c.is_dns1123_subdomain, "-a", False),
        (c.is_dns1123_label, "my-name", True),
        (c.is_dns1123_label, "my.name", False),
        (c.is_dns1123_label, "a" * 64, False),
        (c.is_dns1035_label, "abc-1", True),
        (c.is_dns1035_label, "1abc", False),
        (c.is_qualified_name, "app", True),
        (c.is_qualified_name, "example.com/app_Name.1", True),
        (c.is_qualified_name, "/app", False),
        (c.is_qualified_name, "a/b/c", False),
        (c.is_qualified_name, "Example.com/app", False),
        (c.is_qualified_name, "a" * 64, False),
        (c.is_label_value, "", True),
        (c.is_label_value, "v1.2_x", True),
        (c.is_label_value, "-bad", False),
        (c.is_config_map_key, "key.name", True),
        (c.is_config_map_key, "..key", False),
        (c.is_config_map_key, "a/b", False),
        (c.is_env_var_name, "MY_ENV.NAME", True),
        (c.is_env_var_name, "1abc", False),
        (c.is_valid_port_name, "http", True),
        (c.is_valid_port_name, "123", False),
        (c.is_valid_port_name, "a--b", False),
        (c.is_valid_port_name, "sixteen-chars-xx", False),
        (c.is_valid_percent, "25%", True),
        (c.is_valid_percent, "25", False),
        (c.is_path_segment_name, "ok:name", True),
        (c.is_path_segment_name, "..", False),
        (c.is_path_segment_name, "a/b", False),
        (c.is_wildcard_dns1123_subdomain, "*.example.com", True),
        (c.is_wildcard_dns1123_subdomain, "*example.com", False),
    ],
)
def test_formats(fn, value, ok):
    assert (fn(value) == []) is ok


def test_subdomain_message_is_kubernetes_wording():
    assert c.is_dns1123_subdomain("Bad_Name") == [SUBDOMAIN_MSG]


def test_label_message_says_must_not_contain_dots():
    assert c.is_dns1123_label("a.b") == ["must not contain dots"]


def test_generate_name_prefix_may_end_with_dash():
    assert c.name_is_dns_subdomain("web-", True) == []
    assert c.name_is_dns_subdomain("web-", False) != []


def _meta(**kw):
    return meta.ObjectMeta(**kw)


@pytest.mark.parametrize(
    ("kw", "namespaced", "expected"),
    [
        ({"name": "ok", "namespace": "default"}, True, []),
        ({"generateName": "ok-", "namespace": "default"}, True, []),
        ({"namespace": "default"}, True, [("FieldValueRequired", "metadata.name")]),
        ({"name": "Bad", "namespace": "default"}, True, [("FieldValueInvalid", "metadata.name")]),
        (
            {"generateName": "Bad-", "namespace": "default"},
            True,
            [("FieldValueInvalid", "metadata.generateName")],
        ),
        ({"name": "ok"}, True, [("FieldValueRequired", "metadata.namespace")]),
        ({"name": "ok", "namespace": "a.b"}, True, [("FieldValueInvalid", "metadata.namespace")]),
        ({"name": "ok", "namespace": "default"}, False, [("FieldValueForbidden", "metadata.namespace")]),
        ({"name": "ok", "labels": {"bad key!": "v"}}, False, [("FieldValueInvalid", "metadata.labels")]),
        ({"name": "ok", "labels": {"k": "bad value!"}}, False, [("FieldValueInvalid", "metadata.labels")]),
        ({"name": "ok", "annotations": {"example.com/Fine": "x"}}, False, []),
        (
            {"name": "ok", "annotations": {"a/b/c": "x"}},
            False,
            [("FieldValueInvalid", "metadata.annotations")],
        ),
        (
            {"name": "ok", "annotations": {"big": "x" * (256 * 1024)}},
            False,
            [("FieldValueTooLong", "metadata.annotations")],
        ),
        ({"name": "ok", "finalizers": ["example.com/f", "kubernetes"]}, False, []),
        (
            {"name": "ok", "finalizers": ["bad finalizer"]},
            False,
            [("FieldValueInvalid", "metadata.finalizers")],
        ),
        ({"name": "ok", "generation": -1}, False, [("FieldValueInvalid", "metadata.generation")]),
    ],
)
def test_object_meta(kw, namespaced, expected):
    errs = c.validate_object_meta(_meta(**kw), namespaced, c.name_is_dns_subdomain)
    assert [(e.type, e.field) for e in errs] == expected


def test_required_name_detail():
    (err,) = c.validate_object_meta(_meta(namespace="x"), True, c.name_is_dns_subdomain)
    assert str(err) == "metadata.name: Required value: name or generateName is required"


def _ref(**kw):
    base = {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"}
    base.update(kw)
    return meta.OwnerReference(**base)


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([_ref()], []),
        ([_ref(apiVersion="")], [("FieldValueRequired", "metadata.ownerReferences[0].apiVersion")]),
        ([_ref(apiVersion="a/b/c")], [("FieldValueInvalid", "metadata.ownerReferences[0].apiVersion")]),
        ([_ref(kind="")], [("FieldValueRequired", "metadata.ownerReferences[0].kind")]),
        ([_ref(name="")], [("FieldValueRequired", "metadata.ownerReferences[0].name")]),
        ([_ref(uid="")], [("FieldValueRequired", "metadata.ownerReferences[0].uid")]),
        ([_ref(kind="Event")], [("FieldValueInvalid", "metadata.ownerReferences[0]")]),
        (
            [_ref(controller=True), _ref(uid="v", controller=True)],
            [("FieldValueInvalid", "metadata.ownerReferences")],
        ),
        ([_ref(controller=True), _ref(uid="v", controller=False)], []),
    ],
)
def test_owner_references(refs, expected):
    errs = c.validate_owner_references(refs, "metadata.ownerReferences")
    assert [(e.type, e.field) for e in errs] == expected


def test_object_meta_update_immutables():
    old = _meta(
        name="a", namespace="n", uid="1", creationTimestamp="2024-01-01T00:00:00Z", resourceVersion="5"
    )
    new = _meta(
        name="b", namespace="m", uid="2", creationTimestamp="2024-01-02T00:00:00Z", resourceVersion="5"
    )
    errs = c.validate_object_meta_update(new, old)
    assert [(e.type, e.field) for e in errs] == [
        ("FieldValueInvalid", "metadata.name"),
        ("FieldValueInvalid", "metadata.namespace"),
        ("FieldValueInvalid", "metadata.uid"),
        ("FieldValueInvalid", "metadata.creationTimestamp"),
    ]
    assert errs[0].detail == "field is immutable"


def test_no_new_finalizers_while_deleting():
    old = _meta(name="a", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["a/x"])
    new = _meta(name="a", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["a/x", "a/y"])
    errs = c.validate_object_meta_update(new, old)
    assert [(e.type, e.field) for e in errs] == [("FieldValueForbidden", "metadata.finalizers")]


def _sel(match_labels=None, exprs=None):
    return meta.LabelSelector(
        matchLabels=match_labels or {},
        matchExpressions=[meta.LabelSelectorRequirement(**e) for e in exprs or []],
    )


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        (_sel({"a": "b"}), []),
        (_sel(exprs=[{"key": "a", "operator": "In", "values": ["x"]}]), []),
        (
            _sel(exprs=[{"key": "a", "operator": "In"}]),
            [("FieldValueRequired", "s.matchExpressions[0].values")],
        ),
        (
            _sel(exprs=[{"key": "a", "operator": "Exists", "values": ["x"]}]),
            [("FieldValueForbidden", "s.matchExpressions[0].values")],
        ),
        (
            _sel(exprs=[{"key": "a", "operator": "Near"}]),
            [("FieldValueInvalid", "s.matchExpressions[0].operator")],
        ),
        (
            _sel(exprs=[{"key": "bad key", "operator": "Exists"}]),
            [("FieldValueInvalid", "s.matchExpressions[0].key")],
        ),
        (_sel({"a": "bad value!"}), [("FieldValueInvalid", "s.matchLabels")]),
    ],
)
def test_label_selector(sel, expected):
    assert [(e.type, e.field) for e in c.validate_label_selector(sel, "s")] == expected


def test_selector_matching():
    sel = _sel({"app": "x"}, [{"key": "tier", "operator": "NotIn", "values": ["db"]}])
    assert c.selector_matches(sel, {"app": "x", "tier": "web"})
    assert not c.selector_matches(sel, {"app": "x", "tier": "db"})
    assert not c.selector_matches(sel, {"app": "y"})


@pytest.mark.parametrize(
    ("value", "ok"),
    [("100m", True), ("1Gi", True), ("1e3", True), ("1.5", True), ("abc", False), ("1GB", False)],
)
def test_quantity(value, ok):
    assert (c.validate_quantity(value, "q") == []) is ok


def test_negative_quantity():
    (err,) = c.validate_nonnegative_quantity("-1", "q")
    assert err.detail == "must be greater than or equal to 0"


@pytest.mark.parametrize(
    ("value", "ok"), [(0, True), (3, True), ("25%", True), (-1, False), ("25", False), ("x%", False)]
)
def test_int_or_percent(value, ok):
    assert (c.int_or_percent(value, "p") == []) is ok


@pytest.mark.parametrize(
    "value",
    [
        "10.42.0.7",
        "0.0.0.0",
        "255.255.255.255",
        "010.1.1.1",
        "1.2.3.04",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4\x00",
        "0x1.2.3.4",
        "١.٢.٣.٤",
        "",
        "::1",
        "fe80::1%eth0",
        "::ffff:1.2.3.4",
        "2001:db8::zz",
    ],
)
def test_is_valid_ip_agrees_with_ipaddress(value: str) -> None:
    try:
        ipaddress.ip_address(value)
        expected = True
    except ValueError:
        expected = False
    assert c.is_valid_ip(value) is expected
