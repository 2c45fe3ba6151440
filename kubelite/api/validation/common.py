"""Validation primitives shared by every group: names, labels, metadata, selectors, ports, quantities.

The ``is_*`` checks return a list of messages (empty when the value is fine),
as apimachinery's ``IsDNS1123Subdomain`` and friends do; the ``validate_*``
functions return ``FieldError``s at a field path. The messages are the ones
Kubernetes prints, because clients and users match on them.

Paths are plain strings written as Kubernetes writes them:
``child(p, "spec")`` is ``p.spec``, ``index(p, 0)`` is ``p[0]``, and
``key(p, "app")`` is ``p[app]``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from kubelite.api.errors import (
    FieldError,
    forbidden,
    invalid_value,
    not_supported,
    required,
    too_long,
)
from kubelite.api.quantity import ERR_FORMAT_WRONG, Quantity, parse_quantity

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than zero"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

NameFn = Callable[[str, bool], list[str]]


# -- paths ------------------------------------------------------------------


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


# -- message builders (apimachinery's wording) --------------------------------


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def max_len_bytes_error(n: int) -> str:
    return f"must be no more than {n} bytes"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"

# -- DNS names ----------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
WILDCARD_DNS1123_SUBDOMAIN_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
WILDCARD_DNS1123_SUBDOMAIN_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character"
)

_dns1123_label_re = re.compile(f"^{DNS1123_LABEL_FMT}$")
_dns1123_subdomain_re = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_dns1035_label_re = re.compile(f"^{DNS1035_LABEL_FMT}$")
_wildcard_re = re.compile(f"^{WILDCARD_DNS1123_SUBDOMAIN_FMT}$")


def _full(regex: re.Pattern[str], value: str) -> bool:
    # Go's $ does not match before a trailing newline; fullmatch is the same.
    return regex.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    if len(value) <= 63 and _dns1123_label_re.fullmatch(value) is not None:
        return []  # the common case, without building anything
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_dns1123_label_re, value):
        if _full(_dns1123_subdomain_re, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    if len(value) <= 253 and _dns1123_subdomain_re.fullmatch(value) is not None:
        return []
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_dns1123_subdomain_re, value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_dns1035_label_re, value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_wildcard_re, value):
        errs.append(
            regex_error(WILDCARD_DNS1123_SUBDOMAIN_MSG, WILDCARD_DNS1123_SUBDOMAIN_FMT, "*.example.com")
        )
    return errs


# -- labels and qualified names -------------------------------------------------

LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
LABEL_VALUE_FMT = f"({LABEL_KEY_FMT})?"
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_label_key_re = re.compile(f"^{LABEL_KEY_FMT}$")
_label_value_re = re.compile(f"^{LABEL_VALUE_FMT}$")


def is_qualified_name(value: str) -> list[str]:
    """A label key, annotation key or finalizer: ``[prefix/]name``."""
    if len(value) <= 63 and _label_key_re.fullmatch(value) is not None:
        return []  # a name without prefix, as most are
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > 63:
        errs.append("name part " + max_len_bytes_error(63))
    if not _full(_label_key_re, name):
        errs.append("name part " + regex_error(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    if len(value) <= 63 and _label_value_re.fullmatch(value) is not None:
        return []
    errs = []
    if len(value) > 63:
        errs.append(max_len_bytes_error(63))
    if not _full(_label_value_re, value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# -- other formats ----------------------------------------------------------------

C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_c_identifier_re = re.compile(f"^{C_IDENTIFIER_FMT}$")
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_env_var_name_re = re.compile(f"^{ENV_VAR_NAME_FMT}$")
CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_config_map_key_re = re.compile(f"^{CONFIG_MAP_KEY_FMT}$")
PERCENT_FMT = "[0-9]+%"
_percent_re = re.compile(f"^{PERCENT_FMT}$")
HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"
_http_header_re = re.compile(f"^{HTTP_HEADER_NAME_FMT}$")


def is_c_identifier(value: str) -> list[str]:
    if _full(_c_identifier_re, value):
        return []
    msg = (
        "a valid C identifier must start with alphabetic character or '_', "
        "followed by a string of alphanumeric characters or '_'"
    )
    return [regex_error(msg, C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]


def _has_chdir_prefix(value: str) -> list[str]:
    if value[:1] != ".":
        return []
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _full(_env_var_name_re, value):
        msg = (
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
            "and must not start with a digit"
        )
        errs.append(regex_error(msg, ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _has_chdir_prefix(value)


def is_config_map_key(value: str) -> list[str]:
    if len(value) <= 253 and _config_map_key_re.fullmatch(value) is not None and not _has_chdir_prefix(value):
        return []
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_config_map_key_re, value):
        msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        errs.append(regex_error(msg, CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _has_chdir_prefix(value)


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not re.fullmatch("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _full(_percent_re, value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [regex_error(msg, PERCENT_FMT, "1%", "93%")]


def is_http_header_name(value: str) -> list[str]:
    if _full(_http_header_re, value):
        return []
    msg = "a valid HTTP header must consist of alphanumeric characters or '-'"
    return [regex_error(msg, HTTP_HEADER_NAME_FMT, "X-Header-Name")]


def is_path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return is_path_segment_prefix(name)


def is_path_segment_prefix(name: str) -> list[str]:
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def is_valid_ip(value: str) -> bool:
    try:
        # Dotted IPv4 as inet_pton reads it (four decimal octets, no leading zeros) is
        # valid for ipaddress too, at a twentieth of the cost (pod status writes carry IPs).
        socket.inet_pton(socket.AF_INET, value)
        return True
    except (OSError, ValueError, TypeError):
        pass
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_ip(value: str, path: str) -> list[FieldError]:
    if is_valid_ip(value):
        return []
    return [invalid_value(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]


# -- object names ------------------------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    return is_path_segment_prefix(name) if prefix else is_path_segment_name(name)


# -- field helpers -------------------------------------------------------------------


def messages(path: str, value: Any, msgs: Iterable[str]) -> list[FieldError]:
    """One Invalid error per message, as Kubernetes' loops over ``Is*`` results do."""
    if not msgs:
        return []
    return [invalid_value(path, value, m) for m in msgs]


def nonnegative(value: int | None, path: str) -> list[FieldError]:
    if value is not None and value < 0:
        return [invalid_value(path, value, NEGATIVE)]
    return []


def positive(value: int | None, path: str) -> list[FieldError]:
    if value is not None and value <= 0:
        return [invalid_value(path, value, NOT_POSITIVE)]
    return []


def immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    if new != old:
        return [invalid_value(path, _plain(new), IMMUTABLE)]
    return []


def _plain(value: Any) -> Any:
    """A value as JSON-ish data, for printing in an error."""
    try:
        import msgspec

        if isinstance(value, msgspec.Struct):
            return msgspec.to_builtins(value)
        if isinstance(value, list | dict):
            return msgspec.to_builtins(value)
    except TypeError:
        return str(value)
    return value


plain = _plain


def one_of(value: str, supported: list[str], path: str, allow_empty: bool = False) -> list[FieldError]:
    """``Required`` when empty (unless allowed), ``NotSupported`` when not in ``supported``."""
    if not value:
        return [] if allow_empty else [required(path, "")]
    if value not in supported:
        return [not_supported(path, value, supported)]
    return []


# -- metadata ----------------------------------------------------------------------


def validate_label_name(name: str, path: str) -> list[FieldError]:
    return messages(path, name, is_qualified_name(name))


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in labels.items():
        key_problems = is_qualified_name(k)
        value_problems = is_label_value(v)
        if key_problems or value_problems:
            errs += messages(path, k, key_problems)
            errs += messages(path, v, value_problems)
    return errs


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in annotations.items():
        errs += messages(path, k, is_qualified_name(k.lower()))
        total += len(k.encode()) + len(v.encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _parse_group_version(api_version: str) -> tuple[str, str] | None:
    if not api_version:
        return None
    if api_version == "v1":
        return "", "v1"
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def validate_owner_references(refs: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    first_controller = ""
    for i, ref in enumerate(refs):
        p = index(path, i)
        gv = _parse_group_version(ref.apiVersion)
        if not ref.apiVersion:
            errs.append(required(child(p, "apiVersion"), "must not be empty"))
        elif gv is None or not gv[1]:
            errs.append(
                invalid_value(
                    child(p, "apiVersion"), ref.apiVersion, "must be <group>/<version> or <version>"
                )
            )
        if not ref.kind:
            errs.append(required(child(p, "kind"), "must not be empty"))
        if not ref.name:
            errs.append(required(child(p, "name"), "must not be empty"))
        if not ref.uid:
            errs.append(required(child(p, "uid"), "must not be empty"))
        if gv == ("", "v1") and ref.kind == "Event":
            errs.append(invalid_value(p, _plain(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if first_controller:
                errs.append(
                    invalid_value(
                        path,
                        _plain(refs),
                        'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in finalizers:
        errs += messages(path, f, is_qualified_name(f))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            invalid_value(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return errs


def validate_object_meta(
    meta: Any, namespaced: bool, name_fn: NameFn, path: str = "metadata"
) -> list[FieldError]:
    """ObjectMeta on create. A generateName alone is fine: the API server makes the name from it."""
    errs: list[FieldError] = []
    if meta.generateName:
        errs += messages(child(path, "generateName"), meta.generateName, name_fn(meta.generateName, True))
    if not meta.name:
        if not meta.generateName:
            errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs += messages(child(path, "name"), meta.name, name_fn(meta.name, False))
    errs += _meta_common(meta, namespaced, path)
    return errs


def _meta_common(meta: Any, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ns_path = child(path, "namespace")
    if namespaced:
        if not meta.namespace:
            errs.append(required(ns_path, ""))
        else:
            errs += messages(ns_path, meta.namespace, name_is_dns_label(meta.namespace, False))
    elif meta.namespace:
        errs.append(forbidden(ns_path, "not allowed on this type"))
    errs += nonnegative(meta.generation, child(path, "generation"))
    errs += validate_labels(meta.labels, child(path, "labels"))
    errs += validate_annotations(meta.annotations, child(path, "annotations"))
    errs += validate_owner_references(meta.ownerReferences, child(path, "ownerReferences"))
    errs += validate_finalizers(meta.finalizers, child(path, "finalizers"))
    return errs


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[FieldError]:
    errs: list[FieldError] = []
    if old.deletionTimestamp is not None:
        extra = sorted(set(new.finalizers) - set(old.finalizers))
        if extra:
            shown = "[]string{" + ", ".join(f'"{f}"' for f in extra) + "}"
            errs.append(
                forbidden(
                    child(path, "finalizers"),
                    f"no new finalizers can be added if the object is being deleted, found new finalizers {shown}",
                )
            )
    # An empty resourceVersion is an unconditional update; the API server decides whether it is allowed.
    errs += nonnegative(new.generation, child(path, "generation"))
    if (new.generation or 0) < (old.generation or 0):
        errs.append(invalid_value(child(path, "generation"), new.generation, "must not be decremented"))
    for name in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        errs += immutable(getattr(new, name), getattr(old, name), child(path, name))
    errs += validate_labels(new.labels, child(path, "labels"))
    errs += validate_annotations(new.annotations, child(path, "annotations"))
    errs += validate_owner_references(new.ownerReferences, child(path, "ownerReferences"))
    return errs


# -- label selectors -----------------------------------------------------------------

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """A metav1.LabelSelector (``matchLabels`` + ``matchExpressions``); ``None`` is fine."""
    if selector is None:
        return []
    errs = validate_labels(selector.matchLabels, child(path, "matchLabels"))
    for i, expr in enumerate(selector.matchExpressions):
        p = index(child(path, "matchExpressions"), i)
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                errs.append(
                    required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                errs.append(
                    forbidden(
                        child(p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errs.append(invalid_value(child(p, "operator"), expr.operator, "not a valid selector operator"))
        errs += validate_label_name(expr.key, child(p, "key"))
        for j, v in enumerate(expr.values):
            errs += messages(index(child(p, "values"), j), v, is_label_value(v))
    return errs


def selector_is_empty(selector: Any) -> bool:
    return selector is None or (not selector.matchLabels and not selector.matchExpressions)


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector selects ``labels`` (an empty selector selects everything)."""
    if selector is None:
        return False
    for k, v in selector.matchLabels.items():
        if labels.get(k) != v:
            return False
    for expr in selector.matchExpressions:
        op, values = expr.operator, expr.values
        if op == "In":
            if expr.key not in labels or labels[expr.key] not in values:
                return False
        elif op == "NotIn":
            if expr.key in labels and labels[expr.key] in values:
                return False
        elif op == "Exists":
            if expr.key not in labels:
                return False
        elif op == "DoesNotExist":
            if expr.key in labels:
                return False
        else:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# -- quantities ------------------------------------------------------------------------


def quantity_value(text: Any) -> Fraction | None:
    """The exact value of a quantity (string, number or Quantity), or None when it does not parse."""
    if isinstance(text, Quantity):
        return text.as_fraction()
    try:
        return parse_quantity(text).as_fraction()
    except (ValueError, TypeError):
        return None


def quantity_string(text: Any) -> str:
    """A quantity as Kubernetes prints it back (its canonical form), or the text itself when it does not parse."""
    try:
        return str(parse_quantity(text))
    except (ValueError, TypeError):
        return str(text)


def validate_quantity(text: Any, path: str) -> list[FieldError]:
    try:
        parse_quantity(text)
    except (ValueError, TypeError) as e:
        return [invalid_value(path, str(text), str(e) or ERR_FORMAT_WRONG)]
    return []


def validate_nonnegative_quantity(text: Any, path: str) -> list[FieldError]:
    value = quantity_value(text)
    if value is None:
        return validate_quantity(text, path)
    if value < 0:
        return [invalid_value(path, quantity_string(text), NEGATIVE)]
    return []


# -- int-or-string ----------------------------------------------------------------------


def int_or_percent(value: Any, path: str) -> list[FieldError]:
    """An IntOrString that must be a non-negative int or a valid percent (maxSurge, maxUnavailable, ...)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return [invalid_value(path, _plain(value), "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return nonnegative(value, path)
    return messages(path, value, is_valid_percent(value))


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    pct = percent_value(value)
    if pct is not None and pct > 100:
        return [invalid_value(path, value, "must not be greater than 100%")]
    return []


def percent_value(value: Any) -> int | None:
    if isinstance(value, str) and _full(_percent_re, value):
        return int(value[:-1])
    return None


def is_zero_int_or_percent(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 0
    return percent_value(value) == 0
