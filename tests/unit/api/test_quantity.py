"""resource.Quantity: parsing, rounding, formats, canonical writing and arithmetic.

Most tables restate the cases of Kubernetes' own quantity tests; the
expected values are given as (nanos, format) because we hold quantities
as exact integer nano counts.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubelite.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    Quantity,
    is_valid_quantity,
    parse_quantity,
)

N = 10**9  # nanos per unit
KI, MI, GI, TI, PI, EI = (1024**i for i in range(1, 7))
MAX_INT64 = 2**63 - 1


def value(n: int | Fraction, exponent: int = 0) -> int:
    """n * 10**exponent units, as nanos."""
    return int(Fraction(n) * Fraction(10) ** exponent * N)


PARSE_CASES = [
    # zero in every suffix keeps the suffix's format
    ("0", 0, DECIMAL_SI),
    ("0n", 0, DECIMAL_SI),
    ("0u", 0, DECIMAL_SI),
    ("0m", 0, DECIMAL_SI),
    ("0Ki", 0, BINARY_SI),
    ("0k", 0, DECIMAL_SI),
    ("0Mi", 0, BINARY_SI),
    ("0M", 0, DECIMAL_SI),
    ("0Gi", 0, BINARY_SI),
    ("0G", 0, DECIMAL_SI),
    ("0Ti", 0, BINARY_SI),
    ("0T", 0, DECIMAL_SI),
    ("1", value(1), DECIMAL_SI),
    # binary suffixes
    ("1Ki", value(KI), BINARY_SI),
    ("8Ki", value(8 * KI), BINARY_SI),
    ("7Mi", value(7 * MI), BINARY_SI),
    ("6Gi", value(6 * GI), BINARY_SI),
    ("5Ti", value(5 * TI), BINARY_SI),
    ("4Pi", value(4 * PI), BINARY_SI),
    ("3Ei", value(3 * EI), BINARY_SI),
    ("10Ti", value(10 * TI), BINARY_SI),
    ("100Ti", value(100 * TI), BINARY_SI),
    # decimal suffixes
    ("5n", value(5, -9), DECIMAL_SI),
    ("4u", value(4, -6), DECIMAL_SI),
    ("3m", value(3, -3), DECIMAL_SI),
    ("9", value(9), DECIMAL_SI),
    ("8k", value(8, 3), DECIMAL_SI),
    ("50k", value(5, 4), DECIMAL_SI),
    ("7M", value(7, 6), DECIMAL_SI),
    ("6G", value(6, 9), DECIMAL_SI),
    ("5T", value(5, 12), DECIMAL_SI),
    ("40T", value(4, 13), DECIMAL_SI),
    ("300T", value(3, 14), DECIMAL_SI),
    ("2P", value(2, 15), DECIMAL_SI),
    ("1E", value(1, 18), DECIMAL_SI),
    # decimal exponents
    ("1E-3", value(1, -3), DECIMAL_EXPONENT),
    ("1e3", value(1, 3), DECIMAL_EXPONENT),
    ("1E6", value(1, 6), DECIMAL_EXPONENT),
    ("1e9", value(1, 9), DECIMAL_EXPONENT),
    ("1E12", value(1, 12), DECIMAL_EXPONENT),
    ("1e15", value(1, 15), DECIMAL_EXPONENT),
    ("1E18", value(1, 18), DECIMAL_EXPONENT),
    ("1e14", value(1, 14), DECIMAL_EXPONENT),
    ("1e13", value(1, 13), DECIMAL_EXPONENT),
    ("100.035k", value(100035), DECIMAL_SI),
    # things that look like floating point
    ("0.001", value(1, -3), DECIMAL_SI),
    ("0.0005k", value(5, -1), DECIMAL_SI),
    ("0.005", value(5, -3), DECIMAL_SI),
    ("0.05", value(5, -2), DECIMAL_SI),
    ("0.5", value(5, -1), DECIMAL_SI),
    ("0.00050k", value(5, -1), DECIMAL_SI),
    ("0.00500", value(5, -3), DECIMAL_SI),
    ("0.05000", value(5, -2), DECIMAL_SI),
    ("0.50000", value(5, -1), DECIMAL_SI),
    ("0.5e0", value(5, -1), DECIMAL_EXPONENT),
    ("0.5e-1", value(5, -2), DECIMAL_EXPONENT),
    ("0.5e-2", value(5, -3), DECIMAL_EXPONENT),
    ("10.035M", value(10035, 3), DECIMAL_SI),
    ("1.2e3", value(12, 2), DECIMAL_EXPONENT),
    ("1.3E+6", value(13, 5), DECIMAL_EXPONENT),
    ("1.40e9", value(14, 8), DECIMAL_EXPONENT),
    ("1.53E12", value(153, 10), DECIMAL_EXPONENT),
    ("1.6e15", value(16, 14), DECIMAL_EXPONENT),
    ("1.7E18", value(17, 17), DECIMAL_EXPONENT),
    ("9.01", value(901, -2), DECIMAL_SI),
    ("8.1k", value(81, 2), DECIMAL_SI),
    ("7.123456M", value(7123456), DECIMAL_SI),
    ("6.987654321G", value(6987654321), DECIMAL_SI),
    ("5.444T", value(5444, 9), DECIMAL_SI),
    ("40.1T", value(401, 11), DECIMAL_SI),
    ("300.2T", value(3002, 11), DECIMAL_SI),
    ("2.5P", value(25, 14), DECIMAL_SI),
    ("1.01E", value(101, 16), DECIMAL_SI),
    # below a nano rounds up; binary saturates at the int64 maximum
    ("3.001n", value(4, -9), DECIMAL_SI),
    ("1.1E-9", value(2, -9), DECIMAL_EXPONENT),
    ("0.0000000001", value(1, -9), DECIMAL_SI),
    ("0.0000000005", value(1, -9), DECIMAL_SI),
    ("0.00000000050", value(1, -9), DECIMAL_SI),
    ("0.5e-9", value(1, -9), DECIMAL_EXPONENT),
    ("0.9n", value(1, -9), DECIMAL_SI),
    ("0.00000012345", value(124, -9), DECIMAL_SI),
    ("0.00000012354", value(124, -9), DECIMAL_SI),
    ("9Ei", value(MAX_INT64), BINARY_SI),
    ("9223372036854775807Ki", value(MAX_INT64), BINARY_SI),
    ("12E", value(12, 18), DECIMAL_SI),
    # fractional binary values
    ("100.035Ki", value(10243584, -2), BINARY_SI),
    ("0.5Mi", value(MI // 2), BINARY_SI),
    ("0.05Gi", value(536870912, -1), BINARY_SI),
    ("0.025Ti", value(274877906944, -1), BINARY_SI),
    # odd spellings that Kubernetes accepts
    ("0.000000000001Ki", value(2, -9), DECIMAL_SI),  # rounds up, becomes decimal
    (".001", value(1, -3), DECIMAL_SI),
    (".0001k", value(100, -3), DECIMAL_SI),
    ("1.", value(1), DECIMAL_SI),
    ("1.G", value(1, 9), DECIMAL_SI),
    (".", 0, DECIMAL_SI),
]


@pytest.mark.parametrize(("text", "nanos", "fmt"), PARSE_CASES)
def test_parse(text: str, nanos: int, fmt: str) -> None:
    q = parse_quantity(text)
    assert (q.nanos, q.format) == (nanos, fmt)


@pytest.mark.parametrize(("text", "nanos", "fmt"), PARSE_CASES)
def test_parse_with_explicit_sign(text: str, nanos: int, fmt: str) -> None:
    negative = parse_quantity("-" + text)
    assert (negative.nanos, negative.format) == (-nanos, fmt)
    positive = parse_quantity("+" + text)
    assert (positive.nanos, positive.format) == (nanos, fmt)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        " 1",
        "1 ",
        "Non-Numeric",
        "1e",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
    assert not is_valid_quantity(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
        ("0.1mi", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
    ],
)
def test_parse_error_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_format_error_message_is_kubernetes_text() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


# (nanos, format) -> canonical string, and an alternate spelling of the same value
CANONICAL_CASES = [
    (value(GI), BINARY_SI, "1Gi", "1024Mi"),
    (value(300 * MI), BINARY_SI, "300Mi", "307200Ki"),
    (value(6 * KI), BINARY_SI, "6Ki", ""),
    (value(1001 * GI), BINARY_SI, "1001Gi", "1025024Mi"),
    (value(TI), BINARY_SI, "1Ti", "1024Gi"),
    (value(5), BINARY_SI, "5", "5000m"),
    (value(500, -3), BINARY_SI, "500m", "0.5"),
    (value(1, 9), DECIMAL_SI, "1G", "1000M"),
    (value(1000, 6), DECIMAL_SI, "1G", "0.001T"),
    (value(1000000, 3), DECIMAL_SI, "1G", ""),
    (value(1000000000), DECIMAL_SI, "1G", ""),
    (value(1, -3), DECIMAL_SI, "1m", "1000u"),
    (value(80, -3), DECIMAL_SI, "80m", ""),
    (value(1080, -3), DECIMAL_SI, "1080m", "1.08"),
    (value(108, -2), DECIMAL_SI, "1080m", "1080000000n"),
    (value(10800, -4), DECIMAL_SI, "1080m", ""),
    (value(300, 6), DECIMAL_SI, "300M", ""),
    (value(1, 12), DECIMAL_SI, "1T", ""),
    (value(1234567, 6), DECIMAL_SI, "1234567M", ""),
    (value(1234567, -3), BINARY_SI, "1234567m", ""),
    (value(3, 3), DECIMAL_SI, "3k", ""),
    (value(1025), BINARY_SI, "1025", ""),
    (0, DECIMAL_SI, "0", ""),
    (0, BINARY_SI, "0", ""),
    (value(1, 9), DECIMAL_EXPONENT, "1e9", ".001e12"),
    (value(1, -3), DECIMAL_EXPONENT, "1e-3", "0.001e0"),
    (value(1, -9), DECIMAL_EXPONENT, "1e-9", "1000e-12"),
    (value(80, -3), DECIMAL_EXPONENT, "80e-3", ""),
    (value(300, 6), DECIMAL_EXPONENT, "300e6", ""),
    (value(1, 12), DECIMAL_EXPONENT, "1e12", ""),
    (value(1, 3), DECIMAL_EXPONENT, "1e3", ""),
    (value(3, 3), DECIMAL_EXPONENT, "3e3", ""),
    (0, DECIMAL_EXPONENT, "0", "00"),
    (value(1, -9), DECIMAL_SI, "1n", ""),
    (value(80, -9), DECIMAL_SI, "80n", ""),
    (value(1080, -9), DECIMAL_SI, "1080n", ""),
    (value(1, -6), DECIMAL_SI, "1u", ""),
    (value(80, -6), DECIMAL_SI, "80u", ""),
    (value(1080, -6), DECIMAL_SI, "1080u", ""),
]


@pytest.mark.parametrize(("nanos", "fmt", "expect", "alternate"), CANONICAL_CASES)
def test_canonical_form(nanos: int, fmt: str, expect: str, alternate: str) -> None:
    q = Quantity(nanos, fmt)
    assert str(q) == expect
    assert q.canonical() == expect
    assert str(parse_quantity(expect)) == expect
    if alternate:
        assert str(parse_quantity(alternate)) == expect
    if nanos:
        assert str(Quantity(-nanos, fmt)) == "-" + expect


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        # the examples every Kubernetes user meets
        ("1000m", "1"),
        ("1.5Gi", "1536Mi"),
        ("0.1", "100m"),
        ("1024Ki", "1Mi"),
        ("1.5", "1500m"),
        ("2000Mi", "2000Mi"),
        ("1e3", "1e3"),
        ("1000e0", "1e3"),
        ("-0", "0"),
        ("1000E", "1000E"),  # beyond the largest suffix the value stays exact
    ],
)
def test_parse_then_write(text: str, expect: str) -> None:
    assert str(parse_quantity(text)) == expect
    if expect != "0":
        assert str(parse_quantity("-" + text)) == "-" + expect


@pytest.mark.parametrize("text", ["+1", "01", "1.100", "+5Ki", "-1"])
def test_text_kubernetes_keeps_is_echoed(text: str) -> None:
    # Kubernetes remembers these spellings on parse and writes them back.
    q = parse_quantity(text)
    assert str(q) == text
    assert q.canonical() != text or text == "-1"


def test_numbers_parse_from_their_json_spelling() -> None:
    assert parse_quantity(2).nanos == 2 * N
    assert parse_quantity(0.5).nanos == N // 2
    assert parse_quantity(1e-05).nanos == 10_000
    assert str(parse_quantity(1.5)) == "1500m"
    with pytest.raises(ValueError):
        parse_quantity(True)
    with pytest.raises(ValueError):
        parse_quantity(float("nan"))


@pytest.mark.parametrize(
    ("text", "value_", "milli"),
    [
        ("1", 1, 1000),
        ("100m", 1, 100),
        ("1500m", 2, 1500),
        ("1n", 1, 1),
        ("1Ki", 1024, 1024000),
        ("9.01", 10, 9010),
        ("-9.01", -10, -9010),
        ("-1n", -1, -1),
        ("0", 0, 0),
    ],
)
def test_value_and_milli_value_round_away_from_zero(text: str, value_: int, milli: int) -> None:
    q = parse_quantity(text)
    assert q.value() == value_
    assert q.milli_value() == milli


@pytest.mark.parametrize(
    ("from_scale", "to_scale", "expected"),
    [
        (-9, -9, 1),
        (-9, -6, 1),
        (-9, -3, 1),
        (-9, 0, 1),
        (-6, -9, 1000),
        (-6, -6, 1),
        (-6, -3, 1),
        (-6, 0, 1),
        (-3, -9, 1000 * 1000),
        (-3, -6, 1000),
        (-3, -3, 1),
        (-3, 0, 1),
        (0, -9, 1000 * 1000 * 1000),
        (0, -6, 1000 * 1000),
        (0, -3, 1000),
        (0, 0, 1),
        (2, -2, 100 * 100),
    ],
)
def test_scaled_value(from_scale: int, to_scale: int, expected: int) -> None:
    assert Quantity.from_scaled(1, from_scale).scaled_value(to_scale) == expected


@pytest.mark.parametrize(
    ("milli", "fmt", "expect"),
    [
        (1, DECIMAL_SI, "1m"),
        (1000, DECIMAL_SI, "1"),
        (1234000, DECIMAL_SI, "1234"),
        (1024, BINARY_SI, "1024m"),
        (1000000, DECIMAL_EXPONENT, "1e3"),
        (1024 * 1024, BINARY_SI, "1048576m"),
    ],
)
def test_from_milli(milli: int, fmt: str, expect: str) -> None:
    assert str(Quantity.from_milli(milli, fmt)) == expect


@pytest.mark.parametrize(
    ("whole", "fmt", "expect"),
    [
        (1, DECIMAL_SI, "1"),
        (1000, DECIMAL_SI, "1k"),
        (1234000, DECIMAL_SI, "1234k"),
        (1024, BINARY_SI, "1Ki"),
        (1000000, DECIMAL_EXPONENT, "1e6"),
        (1024 * 1024, BINARY_SI, "1Mi"),
    ],
)
def test_from_int_round_trips(whole: int, fmt: str, expect: str) -> None:
    q = Quantity.from_int(whole, fmt)
    assert str(q) == expect
    assert parse_quantity(str(q)).value() == whole


@pytest.mark.parametrize(
    ("whole", "scale", "expect"),
    [
        (1, -9, "1n"),
        (1000, -9, "1u"),
        (1, -6, "1u"),
        (1000, -6, "1m"),
        (1, -3, "1m"),
        (1000, -3, "1"),
        (1, 0, "1"),
        (0, -9, "0"),
        (0, 0, "0"),
    ],
)
def test_from_scaled(whole: int, scale: int, expect: str) -> None:
    q = Quantity.from_scaled(whole, scale)
    assert str(q) == expect
    assert parse_quantity(str(q)).scaled_value(scale) == whole


@pytest.mark.parametrize(
    ("x", "y", "expect"),
    [("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1), ("1Gi", "1024Mi", 0)],
)
def test_compare(x: str, y: str, expect: int) -> None:
    a, b = parse_quantity(x), parse_quantity(y)
    assert a.cmp(b) == expect
    assert b.cmp(a) == -expect
    assert (a == b) is (expect == 0)
    assert (a < b) is (expect < 0)
    assert (a > b) is (expect > 0)
    assert (a <= b) is (expect <= 0)
    assert (a >= b) is (expect >= 0)


def test_equal_values_hash_alike_and_sort() -> None:
    assert hash(parse_quantity("1Gi")) == hash(parse_quantity("1073741824"))
    assert sorted(parse_quantity(t) for t in ["1Gi", "1", "500m", "1Mi"]) == [
        parse_quantity(t) for t in ["500m", "1", "1Mi", "1Gi"]
    ]
    assert parse_quantity("2") == 2
    assert hash(parse_quantity("2")) == hash(2)
    assert 2 in {parse_quantity("2000m")}
    assert parse_quantity("1500m") > 1
    assert parse_quantity("1") != "1"


@pytest.mark.parametrize(
    ("a", "b", "total", "fmt"),
    [
        (Quantity.from_int(10), Quantity.from_int(10), value(20), DECIMAL_SI),
        (Quantity.from_int(10), Quantity.from_int(1, BINARY_SI), value(11), DECIMAL_SI),
        (Quantity.from_int(10, BINARY_SI), Quantity.from_int(1), value(11), BINARY_SI),
        (Quantity(0, DECIMAL_SI), Quantity.from_int(50, BINARY_SI), value(50), BINARY_SI),
        (Quantity.from_int(50), Quantity(0, BINARY_SI), value(50), DECIMAL_SI),
    ],
)
def test_add(a: Quantity, b: Quantity, total: int, fmt: str) -> None:
    result = a + b
    assert (result.nanos, result.format) == (total, fmt)


@pytest.mark.parametrize(
    ("a", "b", "difference", "fmt"),
    [
        (Quantity.from_int(10), Quantity.from_int(10), 0, DECIMAL_SI),
        (Quantity.from_int(10), Quantity.from_int(1, BINARY_SI), value(9), DECIMAL_SI),
        (Quantity.from_int(10, BINARY_SI), Quantity.from_int(1), value(9), BINARY_SI),
        (Quantity(0, DECIMAL_SI), Quantity.from_int(50, BINARY_SI), value(-50), BINARY_SI),
        (Quantity.from_int(50), Quantity(0, DECIMAL_SI), value(50), DECIMAL_SI),
    ],
)
def test_sub(a: Quantity, b: Quantity, difference: int, fmt: str) -> None:
    result = a - b
    assert (result.nanos, result.format) == (difference, fmt)


@pytest.mark.parametrize("text", ["100m", "1Gi"])
def test_adding_or_subtracting_zero_keeps_the_suffix(text: str) -> None:
    q, zero = parse_quantity(text), parse_quantity("0")
    assert str(q + zero) == text
    assert str(zero + q) == text
    assert str(q - zero) == text
    assert str(zero - q) == str(-q) == "-" + text


def test_arithmetic_does_not_mutate_and_drops_remembered_text() -> None:
    q = parse_quantity("+1")
    total = q + parse_quantity("0")
    assert str(q) == "+1"
    assert str(total) == "1"
    assert str(-parse_quantity("9.01")) == "-9010m"
    assert str(parse_quantity("1Gi") * 2) == "2Gi"
    assert str(3 * parse_quantity("100m")) == "300m"
    assert str(abs(parse_quantity("-1Ki"))) == "1Ki"


def test_helpers() -> None:
    q = parse_quantity("1500m")
    assert q.as_fraction() == Fraction(3, 2)
    assert float(q) == 1.5
    assert q.sign() == 1 and (-q).sign() == -1 and parse_quantity("0").sign() == 0
    assert parse_quantity("0Ki").is_zero() and not parse_quantity("0Ki")
    assert repr(parse_quantity("1Gi")) == "Quantity('1Gi')"
    assert is_valid_quantity("250m") and is_valid_quantity(3) and not is_valid_quantity(None)
    with pytest.raises(ValueError):
        Quantity(1, "Bogus")


def test_absurd_exponents_are_refused_not_computed() -> None:
    with pytest.raises(ValueError):
        parse_quantity("1e999999999")
    assert parse_quantity("1e-900").nanos == 1
    with pytest.raises(ValueError):
        parse_quantity("1" * 5000)
