"""metav1.Time and metav1.MicroTime: the RFC 3339 strings API objects carry.

Kubernetes writes ``Time`` with whole seconds (``2006-01-02T15:04:05Z``) and
``MicroTime`` with six fraction digits, always in UTC. Every layer stamps
and reads these (the API server on create and delete, controllers in
conditions, the leader elector in Leases), so they are written once here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["micro_time", "parse_time", "rfc3339"]


def rfc3339(ts: float) -> str:
    """A UTC timestamp as Kubernetes writes metav1.Time (seconds precision).

    time.gmtime with %-formatting: strftime on a datetime consults the local
    time zone file on every call, which showed in the create path's profile.
    """
    t = time.gmtime(ts)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


def micro_time(ts: float) -> str:
    """A Kubernetes MicroTime string: ``2006-01-02T15:04:05.000000Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp; None when unset or unreadable.

    A time without a zone is taken as UTC, as the API writes nothing else.
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
