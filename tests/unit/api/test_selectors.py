"""Label and field selectors: syntax, errors, matching, the metav1 form.

The tables restate the cases of Kubernetes' labels and fields selector
tests, plus the messages kubectl users see.
"""

from __future__ import annotations

import pytest

from kubelite.api.selectors import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_EQUALS,
    NOT_IN,
    FieldSelector,
    LabelSelector,
    Requirement,
    escape_field_value,
    label_key_errors,
    label_value_errors,
    new_requirement,
    parse_field_selector,
    parse_label_selector,
    selector_from_api,
    selector_from_set,
    selector_to_string,
    unescape_field_value,
)

# -- label selector syntax ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"]
)
def test_good_selectors_print_back_without_spaces(text: str) -> None:
    assert str(parse_label_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x,,y",
        ",x,y",
        "x nott in (y)",
        "a in (xyz),",
        "a in (xyz)b notin ()",
        "a in (xyz abc)",
        "a notin(",
        "a (",
        "(",
        "x=a b",
        "-x",
        "x=-a",
        "a/b/c",
    ],
)
def test_bad_selectors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_label_selector(text)


def test_parse_is_deterministic() -> None:
    assert str(parse_label_selector("x=a,a=x")) == str(parse_label_selector("a=x,x=a")) == "a=x,x=a"


def R(key: str, op: str, *values: str) -> Requirement:
    return new_requirement(key, op, sorted(set(values)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("\rx", [R("x", EXISTS)]),
        ("this-is-a-dns.domain.com/key-with-dash", [R("this-is-a-dns.domain.com/key-with-dash", EXISTS)]),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            [R("this-is-another-dns.domain.com/key-with-dash", IN, "so", "what")],
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            [R("0.1.2.domain/99", NOT_IN, "10.10.100.1", "tick.tack.clock")],
        ),
        ("foo  in\t (abc)", [R("foo", IN, "abc")]),
        ("x notin\n (abc)", [R("x", NOT_IN, "abc")]),
        ("x  notin\t\t\t(abc,def)", [R("x", NOT_IN, "abc", "def")]),
        ("x in (abc,def)", [R("x", IN, "abc", "def")]),
        ("x in (abc,)", [R("x", IN, "abc", "")]),
        ("x in (abc,abc)", [R("x", IN, "abc")]),
        ("x in ()", [R("x", IN, "")]),
        ("x in (a,,)", [R("x", IN, "a", "")]),
        ("x in (a,,,)", [R("x", IN, "a", "")]),
        ("x in (a,,,,,,)", [R("x", IN, "a", "")]),
        ("x in (a,,a,,a,,a,,)", [R("x", IN, "a", "")]),
        (
            "x notin (abc,,def),bar,z in (),w",
            [R("bar", EXISTS), R("w", EXISTS), R("x", NOT_IN, "abc", "", "def"), R("z", IN, "")],
        ),
        ("x,y in (a)", [R("x", EXISTS), R("y", IN, "a")]),
        ("x=a", [R("x", EQUALS, "a")]),
        ("x==a", [R("x", DOUBLE_EQUALS, "a")]),
        ("x>1", [R("x", GREATER_THAN, "1")]),
        ("x<7", [R("x", LESS_THAN, "7")]),
        ("x=a,y!=b", [R("x", EQUALS, "a"), R("y", NOT_EQUALS, "b")]),
        ("x=a,y!=b,z in (h,i,j)", [R("x", EQUALS, "a"), R("y", NOT_EQUALS, "b"), R("z", IN, "h", "i", "j")]),
        ("x notin ( )", [R("x", NOT_IN, "")]),
        ("x notin (, a)", [R("x", NOT_IN, "", "a")]),
        ("a ", [R("a", EXISTS)]),
        ("a in (x,y,notin, z,in)", [R("a", IN, "in", "notin", "x", "y", "z")]),
        ("notin=in", [R("notin", EQUALS, "in")]),
        ("!x", [R("x", DOES_NOT_EXIST)]),
        ("x=", [R("x", EQUALS, "")]),
    ],
)
def test_parse_requirements(text: str, expected: list[Requirement]) -> None:
    assert list(parse_label_selector(text).requirements) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("x b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("x !", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("x (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("x,", "found '', expected: identifier after ','"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("!=x", "found '!=', expected: !, identifier, or 'end of string'"),
        ("!!x", "unable to parse requirement: found '!', expected: identifier"),
        ("x in y", "unable to parse requirement: found 'y' expected: '('"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("x in (a,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("x=(", "unable to parse requirement: found '(', expected: identifier"),
        (
            "x<a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "-x",
            'unable to parse requirement: <nil>: Invalid value: "-x": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "app=a%b",
            'unable to parse requirement: values[0][app]: Invalid value: "a%b": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_parse_error_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_label_selector(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("selector", "labels", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x<1", {"x": "2"}, False),
        ("x>1", {"x": "v2"}, False),
        ("x>1", {}, False),
        ("foo=bar", {"foo": "bar", "baz": "blah"}, True),
        ("baz=blah", {"foo": "bar", "baz": "blah"}, True),
        ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
        ("foo=blah", {"foo": "bar", "baz": "blah"}, False),
        ("baz=bar", {"foo": "bar", "baz": "blah"}, False),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
        ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
        ("x in (foo),y in (alpha)", {"x": "foo", "y": "baz"}, False),
        ("x notin (),y", {"y": ""}, True),
        ("!x,y", {"y": ""}, True),
        ("x notin (),!y", {"y": ""}, False),
        ("x in ()", {"y": "baz"}, False),
        ("x in ()", {"x": ""}, True),
        ("x notin (a)", {}, True),
    ],
)
def test_matches(selector: str, labels: dict[str, str], match: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is match


@pytest.mark.parametrize(
    ("requirements", "text"),
    [
        ([R("x", IN, "abc", "def"), R("y", NOT_IN, "jkl"), R("z", EXISTS)], "x in (abc,def),y notin (jkl),z"),
        (
            [R("x", NOT_IN, "abc", "def"), R("y", NOT_EQUALS, "jkl"), R("z", DOES_NOT_EXIST)],
            "x notin (abc,def),y!=jkl,!z",
        ),
        (
            [R("x", NOT_IN, "abc"), R("y", IN, "jkl", "mno"), R("z", NOT_IN, "")],
            "x notin (abc),y in (jkl,mno),z notin ()",
        ),
        (
            [R("x", EQUALS, "abc"), R("y", DOUBLE_EQUALS, "jkl"), R("z", NOT_EQUALS, "a"), R("z", EXISTS)],
            "x=abc,y==jkl,z!=a,z",
        ),
        ([R("x", GREATER_THAN, "2"), R("y", LESS_THAN, "8"), R("z", EXISTS)], "x>2,y<8,z"),
    ],
)
def test_to_string(requirements: list[Requirement], text: str) -> None:
    assert str(LabelSelector(requirements)) == text


def test_value_order_is_normalised_when_printing() -> None:
    assert str(Requirement("x", IN, ("b", "a"))) == "x in (a,b)"


@pytest.mark.parametrize(
    ("key", "op", "values", "message"),
    [
        ("x1", IN, [], "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
        (
            "x2",
            NOT_IN,
            [],
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        ("x3", IN, ["foo"], None),
        ("x4", NOT_IN, ["foo"], None),
        (
            "x5",
            EQUALS,
            ["bar", "foo"],
            'values: Invalid value: ["bar","foo"]: exact-match compatibility requires one single value',
        ),
        ("x6", EXISTS, [], None),
        ("x7", DOES_NOT_EXIST, [], None),
        (
            "x8",
            EXISTS,
            ["foo"],
            'values: Invalid value: ["foo"]: values set must be empty for exists and does not exist',
        ),
        ("x11", GREATER_THAN, ["1"], None),
        ("x12", LESS_THAN, ["6"], None),
        (
            "x13",
            GREATER_THAN,
            [],
            "values: Invalid value: null: for 'Gt', 'Lt' operators, exactly one value is required",
        ),
        (
            "x14",
            GREATER_THAN,
            ["bar"],
            "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("x16", EQUALS, ["a" * 254], None),  # checked below: two problems
        (
            "x18",
            "unsupportedOp",
            [],
            'operator: Unsupported value: "unsupportedOp": supported values: "in", "notin", "=", "==", "!=", '
            '"gt", "lt", "exists", "!"',
        ),
    ],
)
def test_new_requirement(key: str, op: str, values: list[str], message: str | None) -> None:
    if key == "x16":
        with pytest.raises(
            ValueError, match=r'^values\[0\]\[x16\]: Invalid value: "a{254}": must be no more than 63 bytes$'
        ):
            new_requirement(key, op, values)
        return
    if message is None:
        assert new_requirement(key, op, values) == Requirement(key, op, tuple(values))
        return
    with pytest.raises(ValueError) as err:
        new_requirement(key, op, values)
    assert str(err.value) == message


def test_new_requirement_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as err:
        new_requirement("a" * 254, EQUALS, ["a b"], path="spec.selector")
    text = str(err.value)
    assert text.startswith("[spec.selector.key: Invalid value: ")
    assert "name part must be no more than 63 bytes" in text
    assert "spec.selector.values[0][" in text
    assert text.endswith("]")


@pytest.mark.parametrize(
    ("key", "problems"),
    [
        ("app", []),
        ("example.com/app", []),
        ("a.b-c.d/E.f_G-9", []),
        ("a_b/c", ["prefix part a lowercase RFC 1123 subdomain must consist of"]),
        ("/app", ["prefix part must be non-empty"]),
        ("app/", ["name part must be non-empty", "name part must consist of"]),
        ("Example.com/app", ["prefix part a lowercase RFC 1123 subdomain must consist of"]),
        ("a/b/c", ["a valid label key must consist of"]),
        ("a" * 64, ["name part must be no more than 63 bytes"]),
        ("-a", ["name part must consist of"]),
        ("", ["name part must be non-empty", "name part must consist of"]),
    ],
)
def test_label_key_rules(key: str, problems: list[str]) -> None:
    found = label_key_errors(key)
    assert len(found) == len(problems)
    for got, want in zip(found, problems, strict=True):
        assert got.startswith(want)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("a", True),
        ("a.b_c-d", True),
        ("A1", True),
        ("-a", False),
        ("a-", False),
        ("a b", False),
        ("a" * 63, True),
        ("a" * 64, False),
        ("é", False),
    ],
)
def test_label_value_rules(value: str, valid: bool) -> None:
    assert (not label_value_errors(value)) is valid


# -- selector objects -----------------------------------------------------------------


def test_everything_and_nothing() -> None:
    everything = LabelSelector.everything()
    assert everything.empty and everything.matches({"x": "y"}) and everything.matches(None)
    assert str(everything) == ""
    nothing = LabelSelector.nothing()
    assert not nothing.empty and nothing.selects_nothing and not nothing.matches({})
    assert str(nothing) == ""
    assert nothing != everything
    assert parse_label_selector("") == everything
    assert not parse_label_selector("a").empty


def test_selector_from_set() -> None:
    labels = {"foo": "bar", "baz": "blah"}
    assert selector_from_set({}).matches(labels) and selector_from_set(None).empty
    assert selector_from_set({"foo": "bar"}).matches(labels)
    assert selector_from_set(labels).matches(labels)
    assert not selector_from_set({"foo": "bar", "foobar": "bar"}).matches(labels)
    assert str(selector_from_set({"app": "foo", "a": "b"})) == "a=b,app=foo"


def test_add_keeps_keys_sorted_and_copies() -> None:
    base = LabelSelector([Requirement("key", IN, ("value",))])
    added = base.add(Requirement("a", EQUALS, ("b",)))
    assert str(added) == "a=b,key in (value)"
    assert str(base) == "key in (value)"


@pytest.mark.parametrize(
    ("requirements", "key", "value"),
    [
        ([Requirement("key", IN, ("value",))], "key", "value"),
        ([Requirement("key", IN, ("value", "value2"))], "key", None),
        (
            [Requirement("key", IN, ("value", "value1")), Requirement("key2", IN, ("value2",))],
            "key2",
            "value2",
        ),
        ([Requirement("key", EQUALS, ("value",))], "key", "value"),
        ([Requirement("key", DOUBLE_EQUALS, ("value",))], "key", "value"),
        ([Requirement("key", NOT_EQUALS, ("value",))], "key", None),
        ([Requirement("key", IN, ("value",)), Requirement("key2", IN, ("value2",))], "key", "value"),
        ([], "key", None),
    ],
)
def test_requires_exact_match(requirements: list[Requirement], key: str, value: str | None) -> None:
    assert LabelSelector(requirements).requires_exact_match(key) == value


# -- metav1.LabelSelector -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "text", "labels", "match"),
    [
        (None, "", {"a": "b"}, False),
        ({}, "", {"a": "b"}, True),
        ({"matchLabels": {}, "matchExpressions": []}, "", {}, True),
        (
            {"matchLabels": {"app": "web", "tier": "fe"}},
            "app=web,tier=fe",
            {"app": "web", "tier": "fe", "x": "y"},
            True,
        ),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "db"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
            "env in (dev,prod)",
            {"env": "dev"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
            "env notin (prod)",
            {},
            True,
        ),
        ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, "gpu", {"gpu": ""}, True),
        ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, "!gpu", {"gpu": ""}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}],
            },
            "app=web,env in (prod)",
            {"app": "web", "env": "prod"},
            True,
        ),
    ],
)
def test_selector_from_api(api: dict | None, text: str, labels: dict[str, str], match: bool) -> None:
    selector = selector_from_api(api)
    assert str(selector) == text
    assert selector_to_string(api) == text
    assert selector.matches(labels) is match


@pytest.mark.parametrize(
    ("api", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
            '"Equals" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
        ),
        ({"matchLabels": {"app": "a b"}}, 'values[0][app]: Invalid value: "a b": a valid label must be'),
        ({"matchLabels": {"-app": "a"}}, 'key: Invalid value: "-app": name part must consist'),
        ({"matchLabels": {"app": 1}}, "matchLabels[app] must be a string"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "must be a list of strings"),
        ({"matchLabels": ["a"]}, "matchLabels must be an object"),
        ("a=b", "a label selector must be an object"),
    ],
)
def test_selector_from_api_errors(api: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        selector_from_api(api)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_selector_to_string_of_a_parsed_selector() -> None:
    assert selector_to_string(parse_label_selector("b=1, a in (y,x)")) == "a in (x,y),b=1"


# -- field selectors -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=a||y\\=b", "x=a\\=\\=b"])
def test_field_selector_prints_back(text: str) -> None:
    assert str(parse_field_selector(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
        ("x==a==b", "invalid field selector: unescaped character in value: 61"),
        ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
        ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
        ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),
        ("x", "invalid selector: 'x'; can't understand 'x'"),
        ("x=\\a", "invalid field selector: invalid escape sequence: \\a"),
        ("x=\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_field_selector(text)
    assert str(err.value) == message


def test_field_selector_parse_is_deterministic() -> None:
    assert str(parse_field_selector("x=a,a=x")) == str(parse_field_selector("a=x,x=a")) == "a=x,x=a"


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("a=avalue", (("a", "=", "avalue"),)),
        ("a=avalue,b==bvalue,c!=cvalue", (("a", "=", "avalue"), ("b", "=", "bvalue"), ("c", "!=", "cvalue"))),
        ("a=a,", (("a", "=", "a"),)),
        (",a=a", (("a", "=", "a"),)),
        # terms are sorted as strings, so "k2=..." comes before "k=..."
        ("k=\\,,k2=v2", (("k2", "=", "v2"), ("k", "=", ","))),
        ("k=\\\\,k2=v2", (("k2", "=", "v2"), ("k", "=", "\\"))),
        ("k=\\\\\\,,k2=v2", (("k2", "=", "v2"), ("k", "=", "\\,"))),
        ("함=수,목=록", (("목", "=", "록"), ("함", "=", "수"))),
        ("metadata.name=", (("metadata.name", "=", ""),)),
        ("a = b", (("a ", "=", " b"),)),  # no trimming, as in Kubernetes
        (
            "spec.nodeName!=,status.phase=Running",
            (("spec.nodeName", "!=", ""), ("status.phase", "=", "Running")),
        ),
    ],
)
def test_field_selector_terms(text: str, requirements: tuple[tuple[str, str, str], ...]) -> None:
    assert parse_field_selector(text).requirements == requirements


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("", ""), ("a", "a"), ("=", "\\="), (",", "\\,"), ("\\", "\\\\"), ("\\=\\,\\", "\\\\\\=\\\\\\,\\\\")],
)
def test_escape_round_trip(value: str, escaped: str) -> None:
    assert escape_field_value(value) == escaped
    assert unescape_field_value(escaped) == value


@pytest.mark.parametrize("bad", ["\\", "\\\\\\", "\\a"])
def test_unescape_rejects_bad_sequences(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid escape sequence"):
        unescape_field_value(bad)


FIELDS = {"foo": "bar", "baz": "blah", "complex": "=value\\,\\"}


@pytest.mark.parametrize(
    ("text", "fields", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("foo=bar", FIELDS, True),
        ("baz=blah", FIELDS, True),
        ("foo=bar,baz=blah", FIELDS, True),
        ("foo=bar,baz=blah,complex=\\=value\\\\\\,\\\\", FIELDS, True),
        ("foo=blah", FIELDS, False),
        ("baz=bar", FIELDS, False),
        ("foo=bar,foobar=bar,baz=blah", FIELDS, False),
        ("spec.nodeName=", {}, True),  # a missing field reads as ""
        ("spec.nodeName!=", {}, False),
        ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
    ],
)
def test_field_selector_matches(text: str, fields: dict[str, str], match: bool) -> None:
    assert parse_field_selector(text).matches(fields) is match


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("", "test", None),
        ("a=b", "test", None),
        ("test=b", "test", "b"),
        ("test=", "test", ""),
        ("test==b", "test", "b"),
        ("test!=b", "test", None),
        ("test!=", "test", None),
        ("a=x,test=b", "test", "b"),
        ("test!=c,test=b", "test", "b"),
    ],
)
def test_field_exact_value(text: str, field: str, value: str | None) -> None:
    assert parse_field_selector(text).exact_value(field) == value


def test_field_selector_object() -> None:
    selector = parse_field_selector("metadata.name=x,spec.nodeName!=n")
    assert not selector.empty and FieldSelector().empty
    assert selector.fields() == frozenset({"metadata.name", "spec.nodeName"})
    assert selector == FieldSelector([("metadata.name", "=", "x"), ("spec.nodeName", "!=", "n")])
    assert hash(selector) == hash(parse_field_selector("spec.nodeName!=n,metadata.name=x"))
    assert repr(selector) == "FieldSelector('metadata.name=x,spec.nodeName!=n')"
