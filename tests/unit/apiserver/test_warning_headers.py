"""Warning headers as Kubernetes' warning recorder writes them: deduplicated, without control
characters, and cut down once they grow too long."""

from __future__ import annotations

import pytest

from kubelite.apiserver import handlers
from kubelite.apiserver.handlers import warning_headers


def test_quoted_deduplicated_and_empty_ones_left_out() -> None:
    assert warning_headers(["a", "", 'say "hi" \\ bye', "a"]) == [
        '299 - "a"',
        '299 - "say \\"hi\\" \\\\ bye"',
    ]


def test_texts_with_control_characters_are_left_out() -> None:
    assert warning_headers(['unknown field "x\r\nX-Injected: yes"', "tab\there", "c1\x85", "fine"]) == [
        '299 - "fine"'
    ]


def test_past_the_total_every_warning_is_cut_and_then_the_rest_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers, "WARNINGS_TOTAL_CHARS", 25)
    monkeypatch.setattr(handlers, "WARNING_ITEM_CHARS", 5)
    # 10 + 2 + 3 + 10 = 25 characters fit whole (a repeated text counts once)
    first = ["a" * 10, "a" * 10, "bb", "ccc", "Iñtërnâtiô"]
    assert warning_headers(first) == [f'299 - "{t}"' for t in ("a" * 10, "bb", "ccc", "Iñtërnâtiô")]
    # "e" passes 25: all are written again cut to 5, then more until 25 is reached, then none
    more = [*first, "e", "f" * 10, "f" * 10, "g" * 10, "h"]
    assert warning_headers(more) == [
        f'299 - "{t}"' for t in ("aaaaa", "bb", "ccc", "Iñtër", "e", "fffff", "ggggg")
    ]


def test_a_control_character_past_the_cut_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "WARNINGS_TOTAL_CHARS", 8)
    monkeypatch.setattr(handlers, "WARNING_ITEM_CHARS", 3)
    assert warning_headers(["abcdef", "xyz\nz", "0123"]) == ['299 - "abc"', '299 - "xyz"', '299 - "012"']
