"""Label and field selectors: parse the query-string syntax, convert the API form, match.

Label selectors follow Kubernetes' ``labels.Parse``: ``a=b``, ``a==b``,
``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``,
comma-separated and whitespace tolerant. Requirements are kept sorted by key
so that equal selectors print equally, and parse errors carry Kubernetes'
words ("unable to parse requirement: ...") because kubectl shows them as is.

Field selectors follow ``fields.ParseSelector``: only ``=``, ``==`` and
``!=``, terms split on unescaped commas, values unescaped (``\\,``, ``\\=``,
``\\\\``). Which fields a kind supports lives in :mod:`kubelite.api.fields`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# selection.Operator values, as Kubernetes spells them.
IN: Final = "in"
NOT_IN: Final = "notin"
EQUALS: Final = "="
DOUBLE_EQUALS: Final = "=="
NOT_EQUALS: Final = "!="
EXISTS: Final = "exists"
DOES_NOT_EXIST: Final = "!"
GREATER_THAN: Final = "gt"
LESS_THAN: Final = "lt"
_BINARY_OPERATORS: Final = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_ALL_OPERATORS: Final = (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST)

# metav1.LabelSelectorRequirement operators and what they mean here.
_API_OPERATORS: Final = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

# -- label key and value rules (validation.IsQualifiedName / IsValidLabelValue)

_NAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE: Final = re.compile(_NAME_FMT)
_NAME_MSG: Final = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_VALUE_FMT: Final = f"({_NAME_FMT})?"
_VALUE_RE: Final = re.compile(_VALUE_FMT)
_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT: Final = _DNS_LABEL_FMT + "(\\." + _DNS_LABEL_FMT + ")*"
_DNS_SUBDOMAIN_RE: Final = re.compile(_DNS_SUBDOMAIN_FMT)
_DNS_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_INT64_RE: Final = re.compile(r"[+-]?[0-9]+")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Kubernetes' wording, odd spacing included: "(e.g. 'a',  or 'b', regex ...)".
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _byte_len(text: str) -> int:
    return len(text.encode())


def label_key_errors(key: str) -> list[str]:
    """Why ``key`` is not a valid label key (qualified name), or [] if it is."""
    errors: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if _byte_len(prefix) > 253:
                errors.append("prefix part must be no more than 253 bytes")
            if not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
                errors.append(
                    "prefix part " + _regex_error(_DNS_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com")
                )
    else:
        return [
            "a valid label key "
            + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errors.append("name part must be no more than 63 bytes")
    if not _NAME_RE.fullmatch(name):
        errors.append("name part " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc"))
    return errors


def label_value_errors(value: str) -> list[str]:
    """Why ``value`` is not a valid label value, or [] if it is."""
    errors: list[str] = []
    if _byte_len(value) > 63:
        errors.append("must be no more than 63 bytes")
    if not _VALUE_RE.fullmatch(value):
        errors.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _go_quote(value: Any) -> str:
    """A bad value as Kubernetes' field errors print it (%q for strings, JSON else)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list) and not value:
        return "null"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _aggregate(errors: list[str]) -> str:
    # utilerrors.Aggregate: one error reads as itself, several as "[a, b]".
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# -- label requirements and selectors ------------------------------------------


def _go_int(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector: ``key``, an operator and its values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = _go_int(labels[self.key]), _go_int(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"


def new_requirement(key: str, operator: str, values: Iterable[str] = (), *, path: str = "") -> Requirement:
    """A validated requirement (Kubernetes' NewRequirement); ValueError if invalid.

    ``path`` prefixes the field paths in error messages.
    """
    vals = tuple(values)
    prefix = f"{path}." if path else ""
    errors: list[str] = []
    key_problems = label_key_errors(key)
    if key_problems:
        errors.append(_invalid(prefix + "key", key, "; ".join(key_problems)))
    values_path = prefix + "values"
    if operator in (IN, NOT_IN):
        if not vals:
            errors.append(
                _invalid(values_path, vals, "for 'in', 'notin' operators, values set can't be empty")
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errors.append(_invalid(values_path, vals, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errors.append(
                _invalid(values_path, vals, "values set must be empty for exists and does not exist")
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errors.append(
                _invalid(values_path, vals, "for 'Gt', 'Lt' operators, exactly one value is required")
            )
        for i, v in enumerate(vals):
            if _go_int(v) is None:
                errors.append(
                    _invalid(
                        f"{values_path}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    else:
        supported = ", ".join(json.dumps(o) for o in _ALL_OPERATORS)
        errors.append(
            f"{prefix}operator: Unsupported value: {_go_quote(operator)}: supported values: {supported}"
        )
    for i, v in enumerate(vals):
        problems = label_value_errors(v)
        if problems:
            errors.append(_invalid(f"{values_path}[{i}][{key}]", v, "; ".join(problems)))
    if errors:
        raise ValueError(_aggregate(errors))
    return Requirement(key, operator, vals)


class LabelSelector:
    """An AND of requirements; matches a label mapping.

    ``LabelSelector.everything()`` (no requirements) matches every object and
    is ``empty``; ``LabelSelector.nothing()`` matches none (a nil
    metav1.LabelSelector).
    """

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (selects everything)."""
        return not self._nothing and not self.requirements

    @property
    def selects_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def add(self, *requirements: Requirement) -> LabelSelector:
        """A new selector with ``requirements`` added."""
        return LabelSelector((*self.requirements, *requirements), nothing=self._nothing)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the selector pins it (for indexes)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self._nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """A selector matching exactly ``labels`` (unvalidated, as labels.SelectorFromSet)."""
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items())


# -- the label selector string syntax ----------------------------------------------

_ERROR, _END, _CLOSE, _COMMA, _BANG, _DOUBLE_EQ, _EQ, _GT, _ID, _IN, _LT, _NOT_EQ, _NOT_IN, _OPEN = range(14)
_SYMBOL_TOKENS: Final = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _BANG,
    "==": _DOUBLE_EQ,
    "=": _EQ,
    ">": _GT,
    "<": _LT,
    "!=": _NOT_EQ,
    "(": _OPEN,
}
_KEYWORDS: Final = {"in": _IN, "notin": _NOT_IN}
_SPECIAL: Final = frozenset("=!(),><")
_SPACE: Final = frozenset(" \t\r\n")
_OPERATOR_TOKENS: Final = {
    _IN: IN,
    _EQ: EQUALS,
    _DOUBLE_EQ: DOUBLE_EQUALS,
    _GT: GREATER_THAN,
    _LT: LESS_THAN,
    _NOT_IN: NOT_IN,
    _NOT_EQ: NOT_EQUALS,
}


def _tokens(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _SPACE:
            pos += 1
        if pos >= end:
            out.append((_END, ""))
            return out
        if text[pos] in _SPECIAL:
            two = text[pos : pos + 2]
            lit = two if two in ("==", "!=") else text[pos]
            out.append((_SYMBOL_TOKENS[lit], lit))
            pos += len(lit)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _SPACE:
            pos += 1
        word = text[start:pos]
        out.append((_KEYWORDS.get(word, _ID), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self.position = 0

    def lookahead(self, as_values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.position]
        # Inside values "in" and "notin" are plain words: "x in (in)".
        if as_values and tok in (_IN, _NOT_IN):
            tok = _ID
        return tok, lit

    def consume(self, as_values: bool = True) -> tuple[int, str]:
        item = self.lookahead(as_values)
        self.position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, _BANG):
                try:
                    requirements.append(self.requirement())
                except ValueError as err:
                    raise ValueError(f"unable to parse requirement: {err}") from None
                tok, lit = self.consume()
                if tok == _END:
                    return requirements
                if tok != _COMMA:
                    raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
                tok, lit = self.lookahead()
                if tok not in (_ID, _BANG):
                    raise ValueError(f"found '{lit}', expected: identifier after ','")
            elif tok == _END:
                return requirements
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator)
        operator = self.operator()
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self.consume()
        if tok == _BANG:
            operator = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        problems = label_key_errors(lit)
        if problems:
            # Kubernetes prints the nil field path here as "<nil>".
            raise ValueError(_invalid("<nil>", lit, "; ".join(problems)))
        if self.lookahead()[0] in (_END, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return lit, operator

    def operator(self) -> str:
        tok, lit = self.consume(as_values=False)
        if tok not in _OPERATOR_TOKENS:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return _OPERATOR_TOKENS[tok]

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, _COMMA):
            values = self.identifiers()
            self.consume()  # the ')' identifiers() stopped at
            return values
        if tok == _CLOSE:  # "()" is the empty string
            self.consume()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _CLOSE:
                    return values
                if tok2 != _COMMA:
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _COMMA:
                # Commas with nothing between them stand for empty strings.
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 == _CLOSE:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    values.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_END, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the ``labelSelector`` query syntax; ValueError with Kubernetes' message."""
    return LabelSelector(_Parser(text).parse())


def selector_from_api(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector dict: None selects nothing, {} everything."""
    if selector is None:
        return LabelSelector.nothing()
    if not isinstance(selector, Mapping):
        raise ValueError("a label selector must be an object")
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise ValueError("matchLabels must be an object and matchExpressions a list")
    if not match_labels and not expressions:
        return LabelSelector.everything()
    requirements: list[Requirement] = []
    for key in sorted(match_labels):
        value = match_labels[key]
        if not isinstance(value, str):
            raise ValueError(f"matchLabels[{key}] must be a string")
        requirements.append(new_requirement(key, EQUALS, [value]))
    for expression in expressions:
        if not isinstance(expression, Mapping):
            raise ValueError("a matchExpressions entry must be an object")
        api_operator = expression.get("operator", "")
        if api_operator not in _API_OPERATORS:
            raise ValueError(f"{_go_quote(api_operator)} is not a valid label selector operator")
        values = expression.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("matchExpressions values must be a list of strings")
        key = expression.get("key", "")
        if not isinstance(key, str):
            raise ValueError("matchExpressions key must be a string")
        requirements.append(new_requirement(key, _API_OPERATORS[api_operator], values))
    return LabelSelector(requirements)


def selector_to_string(selector: LabelSelector | Mapping[str, Any] | None) -> str:
    """The query-string form of a selector or of a metav1.LabelSelector dict."""
    if not isinstance(selector, LabelSelector):
        selector = selector_from_api(selector)
    return str(selector)


# -- field selectors ------------------------------------------------------------------


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` in a field selector value."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(value: str) -> str:
    """Undo :func:`escape_field_value`; ValueError with Kubernetes' message."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Kubernetes prints the rune as its number.
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


class FieldSelector:
    """An AND of ``field = value`` / ``field != value`` terms."""

    __slots__ = ("requirements",)

    def __init__(self, requirements: Iterable[tuple[str, str, str]] = ()) -> None:
        #: (field, "=" or "!=", value) in the order Kubernetes keeps them (sorted terms).
        self.requirements: tuple[tuple[str, str, str], ...] = tuple(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        for field, op, value in self.requirements:
            have = fields.get(field, "")
            if (have == value) != (op == EQUALS):
                return False
        return True

    def exact_value(self, field: str) -> str | None:
        """The value ``field`` must equal, if some term pins it (for indexes)."""
        for name, op, value in self.requirements:
            if name == field and op == EQUALS:
                return value
        return None

    def fields(self) -> frozenset[str]:
        return frozenset(name for name, _, _ in self.requirements)

    def __str__(self) -> str:
        return ",".join(f"{name}{op}{escape_field_value(value)}" for name, op, value in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the ``fieldSelector`` query syntax; ValueError with Kubernetes' message."""
    requirements: list[tuple[str, str, str]] = []
    for term in sorted(_split_terms(text)) if text else []:
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = split
        requirements.append((field, NOT_EQUALS if op == "!=" else EQUALS, unescape_field_value(value)))
    return FieldSelector(requirements)
