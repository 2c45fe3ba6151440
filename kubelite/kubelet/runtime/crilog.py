"""Kubernetes' CRI container log format, as the shims write it and ``kubectl logs`` reads it.

One record per line: ``<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>``,
``F`` for a full line (its newline dropped) and ``P`` for a piece of a line
longer than 16 KiB (the rest follows in later records; the last piece is ``F``).
The writer lives in ``shim.py`` (stdlib only); this module re-exports it and
adds the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kubelite.kubelet.runtime.shimio import LineWriter, format_log_line

__all__ = ["LineWriter", "LogRecord", "format_log_line", "parse_log_line", "parse_timestamp"]


@dataclass
class LogRecord:
    timestamp: str  # as written, RFC3339 with nanoseconds
    stream: str  # "stdout" or "stderr"
    partial: bool
    content: bytes  # without the newline


def parse_log_line(line: bytes) -> LogRecord:
    """One record (with or without its trailing newline); ValueError if it is not one."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        raise ValueError(f"not a CRI log record: {line[:80]!r}")
    return LogRecord(
        timestamp=parts[0].decode(),
        stream=parts[1].decode(),
        partial=parts[2] == b"P",
        content=parts[3] if len(parts) > 3 else b"",
    )


def parse_timestamp(stamp: str) -> float:
    """Seconds since the epoch of an RFC3339(Nano) timestamp (sub-microsecond digits dropped)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    offset = ""
    for sign in ("+", "-"):
        if sign in frac:
            frac, _, rest = frac.partition(sign)
            offset = sign + rest
    if not offset and len(head) > 19:
        head, offset = head[:19], head[19:]
    dt = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    if offset:
        hours, _, minutes = offset[1:].partition(":")
        delta = (int(hours) * 3600 + int(minutes or 0) * 60) * (1 if offset[0] == "+" else -1)
    else:
        delta = 0
    seconds = dt.replace(tzinfo=UTC).timestamp() - delta
    return seconds + (float("0." + frac) if frac else 0.0)
