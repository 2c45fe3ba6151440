"""The formats the container shim speaks: CRI log records, JSON state files, attach frames.

Stdlib only and cheap to import (no ``json``, no ``enum``): ``shim.py`` imports
it on every container start. Shared with the runtime side (``shimclient``,
``crilog``) so both ends agree.
"""

from __future__ import annotations

import os
import struct
import time

# attach frames
STDIN, STDOUT, STDERR, CLOSE_STDIN, RESIZE, EXIT = 0, 1, 2, 3, 4, 5
HEADER = struct.Struct("!BI")
MAX_LINE = 16 * 1024  # longer lines are split into "P" (partial) records, as containerd does


def format_log_line(stream: str, line: bytes, partial: bool, now_ns: int | None = None) -> bytes:
    """One record of Kubernetes' CRI log format: ``<RFC3339Nano> <stream> <P|F> <line>\\n``.

    ``line`` is without its newline; ``partial`` marks a piece of a longer line.
    """
    if now_ns is None:
        now_ns = time.time_ns()
    secs, nanos = divmod(now_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return b"%s.%09dZ %s %s %s\n" % (
        stamp.encode(),
        nanos,
        stream.encode(),
        b"P" if partial else b"F",
        line,
    )


class LineWriter:
    """Splits one stream's output into CRI log records."""

    def __init__(self, stream: str, out: int) -> None:
        self.stream = stream
        self.out = out
        self.pending = b""

    def feed(self, data: bytes) -> None:
        buf = self.pending + data
        records = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = buf[start:nl]
            while len(line) > MAX_LINE:
                records.append(format_log_line(self.stream, line[:MAX_LINE], True))
                line = line[MAX_LINE:]
            records.append(format_log_line(self.stream, line, False))
            start = nl + 1
        rest = buf[start:]
        while len(rest) >= MAX_LINE:
            records.append(format_log_line(self.stream, rest[:MAX_LINE], True))
            rest = rest[MAX_LINE:]
        self.pending = rest
        if records:
            _write_all(self.out, b"".join(records))

    def close(self) -> None:
        if self.pending:
            _write_all(self.out, format_log_line(self.stream, self.pending, False))
            self.pending = b""


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def dump_json(value: object) -> str:
    """JSON of flat values (str, int, float, bool, None, lists and dicts of them), without
    importing ``json`` (it imports ``re``, which costs more than the rest of the shim)."""
    if isinstance(value, str):
        return '"' + "".join(c if " " <= c and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(dump_json(str(k)) + ": " + dump_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def _write_json(path: str, value: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(dump_json(value))
    os.replace(tmp, path)
