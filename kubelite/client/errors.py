"""Client-side errors: turning an error answer into ``StatusError``.

Every answer >= 400 (and every watch ERROR event) becomes a ``StatusError``
carrying the server's Status: code, reason, message and details. A 410 is
``ResourceExpired``, the signal for informers (and anyone holding a
resourceVersion or continue token) to list afresh.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.api.errors import StatusError


class ResourceExpired(StatusError):
    """410 Gone/Expired: the resourceVersion asked for is compacted away. Relist."""

    def __init__(self, message: str, reason: str = "Expired", details: dict[str, Any] | None = None) -> None:
        super().__init__(410, reason, message, details)


def status_error(code: int, body: bytes, http_reason: str = "") -> StatusError:
    """The error for an answer with HTTP ``code`` and ``body`` (a Status, usually)."""
    status: Any = None
    try:
        status = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        pass
    if isinstance(status, dict) and status.get("kind") == "Status":
        code = int(status.get("code") or code)
        reason = str(status.get("reason") or http_reason or "Unknown")
        message = str(status.get("message") or "")
        details = status.get("details")
    else:
        reason = http_reason or "Unknown"
        message = body.decode(errors="replace").strip() or f"the server responded with code {code}"
        details = None
    if code == 410:
        return ResourceExpired(message, reason, details)
    return StatusError(code, reason, message, details)
