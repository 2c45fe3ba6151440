"""API errors: every failure a client can cause, as a Kubernetes ``Status``.

``StatusError`` carries what the API server writes back: the HTTP code, a
reason, a message and details, encoded exactly as Kubernetes encodes a
Status (compact JSON, fields in the order kind, apiVersion, metadata,
status, message, reason, details, code, then a newline) because clients
compare these bodies.

``FieldError`` is one validation failure at a field path; ``invalid()``
aggregates them into the 422 that ``kubectl`` prints as
``ConfigMap "x" is invalid: metadata.name: Invalid value: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# field.ErrorType in Kubernetes: the cause reason and the words it prints.
FIELD_ERROR_WORDS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}
_NO_VALUE = object()


def _go_value(value: Any) -> str:
    """How Go's %#v-ish formatting in field errors prints a bad value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True)
class FieldError:
    """One bad field. ``type`` is a key of FIELD_ERROR_WORDS."""

    type: str
    field: str
    value: Any = _NO_VALUE
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (a cause's ``message``)."""
        words = FIELD_ERROR_WORDS.get(self.type, self.type)
        shows_value = self.type not in (
            "FieldValueRequired",
            "FieldValueForbidden",
            "FieldValueTooLong",
            "InternalError",
        )
        text = words
        if shows_value and self.value is not _NO_VALUE:
            text += ": " + _go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


# Constructors named as in k8s.io/apimachinery/pkg/util/validation/field.
def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, detail=detail)


def invalid_value(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(_go_value(s) for s in supported) if supported else ""
    return FieldError("FieldValueNotSupported", path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", path, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail=detail)


def too_long(path: str, value: Any, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, value, f"must have at most {max_length} bytes")


def too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError("FieldValueTooMany", path, actual, f"must have at most {limit} items")


def not_found(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueNotFound", path, value)


class StatusError(Exception):
    """An error the API server answers with a ``Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The Status object, keys in Kubernetes' order."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.status()) + b"\n"

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details.update(extra)
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found_error(resource: str, name: str, group: str = "") -> StatusError:
    msg = (
        f'{_qualified(resource, group)} "{name}" not found'
        if name
        else f"{_qualified(resource, group)} not found"
    )
    return StatusError(404, "NotFound", msg, _details(name, group, resource))


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> StatusError:
    """422 Invalid, as NewInvalid builds it (details.kind is the Kind here)."""
    qualified = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        agg = str(errors[0])
    else:
        agg = "[" + ", ".join(str(e) for e in errors) + "]"
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    return StatusError(
        422, "Invalid", f'{qualified} "{name}" is invalid: {agg}', _details(name, group, kind, causes=causes)
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def forbidden_error(message: str, resource: str = "", name: str = "", group: str = "") -> StatusError:
    return StatusError(403, "Forbidden", message, _details(name, group, resource) or None)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def gone(message: str) -> StatusError:
    """410 Expired: a resourceVersion or continue token that is too old."""
    return StatusError(410, "Expired", message)


def too_large(message: str = "Request entity too large: limit is 3145728") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got "{content_type}"',
    )


def not_acceptable(accept: str) -> StatusError:
    return StatusError(
        406,
        "NotAcceptable",
        f'only the following media types are accepted: application/json, application/yaml; got "{accept}"',
    )


def too_many_requests(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(
        429, "TooManyRequests", message, {"retryAfterSeconds": retry_after}, {"Retry-After": str(retry_after)}
    )


def internal_error(message: str) -> StatusError:
    return StatusError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )


def timeout_error(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


@dataclass(slots=True)
class FieldErrors:
    """A growing list of field errors with a path helper."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, err: FieldError) -> None:
        self.errors.append(err)

    def extend(self, errs: list[FieldError]) -> None:
        self.errors.extend(errs)

    def __bool__(self) -> bool:
        return bool(self.errors)
