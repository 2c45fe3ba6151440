"""What several plugins share: the reason for an untolerated taint, score normalization
(``default_normalize_score``: scale scores to 0..100 by the highest one). Node selectors,
node affinity and tolerations are in ``kubelite.api.nodematch`` (the kubelet checks them too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubelite.api.core_v1 import Taint
from kubelite.scheduler.interface import MAX_NODE_SCORE


def untolerated_taint_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


# ---------------------------------------------------------------- scores


def default_normalize_score(
    scores: list[int], reverse: bool = False, max_priority: int = MAX_NODE_SCORE
) -> None:
    """Scale ``scores`` in place so the highest is ``max_priority`` (reversed: lowest is best)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    for i, s in enumerate(scores):
        s = max_priority * s // top
        scores[i] = max_priority - s if reverse else s


def default_normalize_array(scores: Any, reverse: bool = False, max_priority: int = MAX_NODE_SCORE) -> Any:
    """``default_normalize_score`` on a numpy array of scores; returns the normalized array."""
    top = int(scores.max()) if len(scores) else 0
    if top == 0:
        if reverse:
            return np.full(len(scores), max_priority, np.int64)
        return scores
    scaled = scores * max_priority // top
    return max_priority - scaled if reverse else scaled
