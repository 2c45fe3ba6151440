"""Kubernetes' CRI log format as the shims write it."""

from __future__ import annotations

import os
import re

from kubelite.kubelet.runtime import shimio as shim
from kubelite.kubelet.runtime.crilog import LineWriter, format_log_line, parse_log_line, parse_timestamp

STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def test_format_log_line() -> None:
    line = format_log_line("stdout", b"hello world", False, now_ns=1_700_000_000_123_456_789)
    assert line == b"2023-11-14T22:13:20.123456789Z stdout F hello world\n"
    assert format_log_line("stderr", b"", True, now_ns=0) == b"1970-01-01T00:00:00.000000000Z stderr P \n"


def test_parse_round_trip() -> None:
    record = parse_log_line(format_log_line("stderr", b"a b  c", False))
    assert (record.stream, record.partial, record.content) == ("stderr", False, b"a b  c")
    assert STAMP.match(record.timestamp.encode())
    assert parse_log_line(b"2023-11-14T22:13:20.5Z stdout P x").partial
    assert parse_timestamp("2023-11-14T22:13:20.123456789Z") == 1_700_000_000.123456789
    assert parse_timestamp("2023-11-14T23:13:20+01:00") == 1_700_000_000.0


def read(fd_path: str) -> list[bytes]:
    with open(fd_path, "rb") as f:
        return f.read().splitlines(keepends=True)


def test_line_writer_splits_lines_and_keeps_partial_ones(tmp_path) -> None:
    path = str(tmp_path / "log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    writer = LineWriter("stdout", fd)
    writer.feed(b"one\ntw")
    writer.feed(b"o\n\nthree")
    assert [parse_log_line(r).content for r in read(path)] == [b"one", b"two", b""]
    writer.close()  # the unterminated rest is written as a full line at the end
    records = [parse_log_line(r) for r in read(path)]
    assert [(r.content, r.partial) for r in records][-1] == (b"three", False)
    os.close(fd)


def test_long_lines_become_partial_records(tmp_path) -> None:
    path = str(tmp_path / "log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    writer = LineWriter("stderr", fd)
    writer.feed(b"x" * (shim.MAX_LINE * 2 + 10) + b"\n")
    writer.close()
    os.close(fd)
    records = [parse_log_line(r) for r in read(path)]
    assert [r.partial for r in records] == [True, True, False]
    assert b"".join(r.content for r in records) == b"x" * (shim.MAX_LINE * 2 + 10)
    assert {r.stream for r in records} == {"stderr"}


def test_dump_json_is_json() -> None:
    import json

    value = {"a": 'q"\\\n\x01é', "b": [1, 2.5, True, False, None], "c": {"d": -3}}
    assert json.loads(shim.dump_json(value)) == value
