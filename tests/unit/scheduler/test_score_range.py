"""score_range_error: normalized scores must stay within [0, 100], as Kubernetes' framework checks."""

from __future__ import annotations

from kubelite.scheduler.interface import MAX_NODE_SCORE, MIN_NODE_SCORE, Code, score_range_error


def test_scores_in_range_are_no_error() -> None:
    assert score_range_error("P", MIN_NODE_SCORE, MAX_NODE_SCORE) is None
    assert score_range_error("P", 0, 0) is None


def test_a_score_above_or_below_is_an_error_naming_it() -> None:
    high = score_range_error("P", 3, 101)
    assert high is not None and high.code == Code.ERROR and high.plugin == "P"
    assert high.reasons == [
        "plugin 'P' returns an invalid score 101, it should in the range of [0, 100] after normalizing"
    ]
    low = score_range_error("P", -1, 50)
    assert low is not None and "invalid score -1" in low.reasons[0]
