from __future__ import annotations

from kubelite.api.timestamps import micro_time, parse_time, rfc3339


def test_time_is_whole_seconds_in_utc() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1700000000.9) == "2023-11-14T22:13:20Z"


def test_micro_time_keeps_six_digits() -> None:
    assert micro_time(1700000000.25) == "2023-11-14T22:13:20.250000Z"


def test_parse_reads_both_and_refuses_garbage() -> None:
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    assert parse_time("2023-11-14T22:13:20.250000Z") == 1700000000.25
    assert parse_time("2023-11-14T22:13:20") == 1700000000.0  # no zone: UTC
    assert parse_time("") is None and parse_time(None) is None and parse_time("soon") is None
