"""Kubernetes ``resource.Quantity``: parse, compare, add and format "100m", "1Gi", "1e3".

A quantity is an exact number (never a float) with one of three formats that
decides how it is written back: ``BinarySI`` (Ki Mi Gi Ti Pi Ei), ``DecimalSI``
(n u m "" k M G T P E) and ``DecimalExponent`` (1e3, 1E-3). Parsing rounds a
value up (away from zero) to a whole number of nano-units, as Kubernetes
does, so we hold the value as an integer count of nanos: arithmetic and
comparison are exact and cheap.

Writing follows Kubernetes' ``Quantity.String()``: the canonical form (no
fractional digits, the largest suffix that loses nothing: "1.5Gi" ->
"1536Mi", "0.1" -> "100m"), except that a parsed string Kubernetes would
have kept as-is is echoed back unchanged, because the API server returns
what clients sent ("+1" stays "+1"). ``Quantity.canonical()`` always
computes the canonical form.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import Final

BINARY_SI: Final = "BinarySI"
DECIMAL_SI: Final = "DecimalSI"
DECIMAL_EXPONENT: Final = "DecimalExponent"
FORMATS: Final = frozenset({BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT})

QUANTITY_PATTERN: Final = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG: Final = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"
ERR_NUMERIC: Final = "unable to parse numeric part of quantity"
ERR_SUFFIX: Final = "unable to parse quantity's suffix"

_NANO: Final = 10**9
_MAX_INT64: Final = 2**63 - 1
# Kubernetes accepts any int32 exponent; we stop at a size no real quantity
# reaches so that "1e999999999" cannot make us build a billion-digit integer.
_MAX_EXPONENT: Final = 1000
_MAX_DIGITS: Final = 1000

_DIGITS: Final = frozenset("0123456789")
_SUFFIX_CHARS: Final = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_BY_EXPONENT: Final = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_POWER: Final = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _div_away_from_zero(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0), rounded away from zero."""
    quotient = -(-abs(numerator) // denominator)
    return quotient if numerator >= 0 else -quotient


class Quantity:
    """An exact, immutable resource quantity.

    Build one with :func:`parse_quantity` or the ``from_*`` class methods.
    Equality, hashing and ordering use the value only ("1Gi" == "1024Mi");
    the format is kept for writing the value back.
    """

    __slots__ = ("_nanos", "_text", "format")

    def __init__(self, nanos: int = 0, format: str = DECIMAL_SI, *, _text: str | None = None) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown quantity format {format!r}")
        self._nanos = nanos
        self.format = format
        self._text = _text

    # -- construction -------------------------------------------------------

    @classmethod
    def from_int(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """``value`` whole units (Kubernetes' NewQuantity)."""
        return cls(value * _NANO, format)

    @classmethod
    def from_milli(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """``value`` thousandths (Kubernetes' NewMilliQuantity)."""
        return cls(value * 10**6, format)

    @classmethod
    def from_scaled(cls, value: int, scale: int) -> Quantity:
        """``value * 10**scale`` in DecimalSI, rounded up to a whole nano."""
        if scale >= -9:
            return cls(value * 10 ** (scale + 9), DECIMAL_SI)
        return cls(_div_away_from_zero(value, 10 ** (-9 - scale)), DECIMAL_SI)

    # -- reading --------------------------------------------------------------

    @property
    def nanos(self) -> int:
        """The exact value in units of 10**-9."""
        return self._nanos

    def as_fraction(self) -> Fraction:
        return Fraction(self._nanos, _NANO)

    def __float__(self) -> float:
        return self._nanos / _NANO

    def is_zero(self) -> bool:
        return self._nanos == 0

    def sign(self) -> int:
        return (self._nanos > 0) - (self._nanos < 0)

    def scaled_value(self, scale: int) -> int:
        """The value in units of ``10**scale``, rounded away from zero."""
        if scale <= -9:
            return self._nanos * 10 ** (-9 - scale)
        return _div_away_from_zero(self._nanos, 10 ** (scale + 9))

    def value(self) -> int:
        """Whole units, rounded away from zero ("100m" -> 1)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """Thousandths, rounded away from zero ("1" -> 1000, "1n" -> 1)."""
        return self.scaled_value(-3)

    # -- arithmetic and comparison ------------------------------------------

    def cmp(self, other: Quantity) -> int:
        """-1, 0 or 1 as Kubernetes' Quantity.Cmp."""
        return (self._nanos > other._nanos) - (self._nanos < other._nanos)

    def __add__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        # Adding to zero takes the other side's format (Kubernetes' Add).
        fmt = other.format if self._nanos == 0 else self.format
        return Quantity(self._nanos + other._nanos, fmt)

    def __sub__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = other.format if self._nanos == 0 else self.format
        return Quantity(self._nanos - other._nanos, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self._nanos, self.format)

    def __abs__(self) -> Quantity:
        return Quantity(abs(self._nanos), self.format)

    def __mul__(self, factor: object) -> Quantity:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Quantity(self._nanos * factor, self.format)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self._nanos != 0

    def _other_nanos(self, other: object) -> int | None:
        if isinstance(other, Quantity):
            return other._nanos
        if isinstance(other, int) and not isinstance(other, bool):
            return other * _NANO
        return None

    def __eq__(self, other: object) -> bool:
        nanos = self._other_nanos(other)
        if nanos is None:
            return NotImplemented
        return self._nanos == nanos

    def __hash__(self) -> int:
        # Hash as the number itself, so that a Quantity equal to an int hashes like it.
        whole, rest = divmod(self._nanos, _NANO)
        return hash(whole) if rest == 0 else hash(Fraction(self._nanos, _NANO))

    def __lt__(self, other: object) -> bool:
        nanos = self._other_nanos(other)
        if nanos is None:
            return NotImplemented
        return self._nanos < nanos

    def __le__(self, other: object) -> bool:
        nanos = self._other_nanos(other)
        if nanos is None:
            return NotImplemented
        return self._nanos <= nanos

    def __gt__(self, other: object) -> bool:
        nanos = self._other_nanos(other)
        if nanos is None:
            return NotImplemented
        return self._nanos > nanos

    def __ge__(self, other: object) -> bool:
        nanos = self._other_nanos(other)
        if nanos is None:
            return NotImplemented
        return self._nanos >= nanos

    # -- writing ----------------------------------------------------------------

    def canonical(self) -> str:
        """The canonical form (Kubernetes' CanonicalizeBytes)."""
        return _canonical(self._nanos, self.format)

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        return _canonical(self._nanos, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _canonical(nanos: int, fmt: str) -> str:
    if nanos == 0:
        return "0"
    sign = "-" if nanos < 0 else ""
    magnitude = abs(nanos)
    # BinarySI is only used for whole values of at least 1Ki; anything
    # else would round or read oddly ("0.5Ki"), so it is written in DecimalSI.
    if fmt == BINARY_SI and (magnitude < 1024 * _NANO or magnitude % _NANO):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        whole, power = magnitude // _NANO, 0
        while whole % 1024 == 0 and power < len(_BINARY_BY_POWER) - 1:
            whole //= 1024
            power += 1
        return f"{sign}{whole}{_BINARY_BY_POWER[power]}"
    mantissa, exponent = magnitude, -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # move down to a multiple of three
    mantissa *= 10**shift
    exponent -= shift
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent > 18:  # beyond "E" there is no suffix; keep the value exact
        mantissa *= 10 ** (exponent - 18)
        exponent = 18
    return f"{sign}{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


def _scan(text: str) -> tuple[bool, str, str, str]:
    """Split a quantity into (positive, digits before '.', digits after, suffix).

    Mirrors Kubernetes' scanner, including its leniency: leading zeros are
    dropped, "." and "-" alone read as zero and "1.G" is accepted.
    """
    end = len(text)
    pos = 0
    positive = True
    if pos < end and text[pos] in "+-":
        positive = text[pos] == "+"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(ERR_FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, or ValueError."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _GO_INT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError(ERR_NUMERIC)
        return 10, exponent, DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _keeps_text(fmt: str, exponent: int, num: str, denom: str) -> bool:
    """Whether Kubernetes would remember the input string and echo it back.

    Kubernetes' fast parsing path caches the input when it is already in
    canonical form by a cheap test; the test lets a few non-canonical
    spellings through ("+1", "01", "1.100"), and clients see them echoed.
    """
    if fmt == BINARY_SI:
        if denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        value = int(num)
        return precision >= 0 and (value << exponent) <= _MAX_INT64 and value & 0x07 != 0
    if 18 - (len(num) + len(denom)) < 0:
        return False
    scale = exponent - len(denom)
    shifted = num + denom
    return scale >= -9 and scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse a quantity as Kubernetes does; ValueError with its message otherwise.

    Ints and floats are read from their JSON spelling (a quantity may be a
    JSON number). No surrounding whitespace is allowed.
    """
    if isinstance(text, bool):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(text, int):
        text = str(text)
    elif isinstance(text, float):
        text = repr(text)
    if not isinstance(text, str) or not text:
        raise ValueError(ERR_FORMAT_WRONG)
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity:
    # Quantities are immutable and the same few spellings ("100m", "500Mi") come back on every
    # pod write, its validation and the scheduler's reading, so each is parsed once.
    if text == "0":
        return Quantity(0, DECIMAL_SI, _text="0")
    positive, num, denom, suffix = _scan(text)
    if len(num) + len(denom) > _MAX_DIGITS:
        raise ValueError(ERR_NUMERIC)
    base, exponent, fmt = _interpret_suffix(suffix)
    keep = _keeps_text(fmt, exponent, num, denom)

    digits = int(num + denom)
    if base == 2:
        numerator, denominator = (digits << exponent) * _NANO, 10 ** len(denom)
    else:
        power = exponent - len(denom) + 9
        numerator, denominator = (digits * 10**power, 1) if power >= 0 else (digits, 10**-power)
    # Anything finer than a nano rounds up: who asks for a little gets some.
    nanos = -(-numerator // denominator)
    if fmt == BINARY_SI and nanos > _MAX_INT64 * _NANO:
        nanos = _MAX_INT64 * _NANO
    if fmt == BINARY_SI and 0 < nanos < _NANO:
        fmt = DECIMAL_SI
    if not positive:
        nanos = -nanos
    return Quantity(nanos, fmt, _text=text if keep else None)


def is_valid_quantity(text: object) -> bool:
    """Whether ``text`` parses as a quantity."""
    if not isinstance(text, str | int | float):
        return False
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True
