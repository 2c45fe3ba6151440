"""The per-node work of a scheduling cycle over arrays indexed by snapshot position.

At 5000 nodes a cycle filters and scores ~500 of them (Kubernetes' adaptive
percentage). Done node by node in Python, each cycle touched ~500 NodeInfo
objects spread over the heap, looked their answers up in dicts and summed
lists: most of the cycle was memory traffic, not decisions. Here a cycle
works on numpy arrays instead, and touches a NodeInfo only when it needs one
of its facts afresh.

The trick is the same memo as before, laid out by position: a run of pods
alike (same profile, same spec) get the same node-local answers from a
NodeInfo as long as its state (``NodeInfo.memo_token``, mirrored in
``Snapshot.tokens``) is the same. ``KindMemo`` keeps, per position, the token
its answers were computed for, the node-local Filter verdict and the raw
score of each node-local Score plugin; a cycle compares token arrays and
recomputes only the positions whose node changed (typically the one node
the previous pod went to).

Plugins opt in with class attributes (see ``docs`` of each):

- ``node_local_filter``: Filter's answer depends only on the pod's spec and
  that NodeInfo's own state.
- ``node_local_score``: Score's raw score (``score_nodes``) depends only on
  the pod's spec and that NodeInfo's own state, and ``pre_score`` reads
  nothing of the nodes it is given but whether there are any.
- ``pre_score_reads_nodes = False``: ``pre_score`` reads nothing of the nodes
  but whether there are any (implied by ``node_local_score``); or a method
  ``pre_score_reads_nodes(state, pod)`` saying so for this cycle.
- ``score_positions(state, pod, snapshot, positions)``: the raw scores as an
  array, or None to be asked node by node (``score_nodes``) this time.
- ``filter_positions(state, pod, snapshot, positions)``: a Filter that is not
  node-local answering by position: a pass mask and a function giving the
  status of the i-th position that fails; or None to be asked node by node.
- ``normalize_scores_array(state, pod, scores)``: NormalizeScore on an array
  (returns the normalized array), for plugins whose normalization reads
  only the scores.

Anything else runs as before, on a list of the NodeInfos concerned, built
only when some plugin needs it. The decisions are those of the plain path
(``tests/unit/scheduler/test_fast_paths.py`` checks it): the same nodes in
the same order, the same statuses, the same scores and the same random
choice among ties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.interface import Code, CycleState, Status, score_range_error
from kubelite.scheduler.nodeinfo import NodeInfo, Snapshot

MIN_FILTER_CHUNK = 16

Positions = npt.NDArray[np.int64]

PASS = object()  # a node-local verdict: every filter passed


def run_filters(
    filters: list[tuple[str, Any]], state: CycleState, pod: Pod, nodes: list[NodeInfo]
) -> list[Any]:
    """Per node, the status of the first filter that fails it, or ``PASS``."""
    out: list[Any] = [PASS] * len(nodes)
    index = list(range(len(nodes)))
    candidates = nodes
    for name, fn in filters:
        results = fn(state, pod, candidates)
        if not any(results):
            continue
        kept_index, kept = [], []
        for i, ni, r in zip(index, candidates, results, strict=True):
            if r is None or r.code == Code.SUCCESS:
                kept_index.append(i)
                kept.append(ni)
                continue
            if r.code == Code.ERROR:
                raise RuntimeError(r.message() or f"filter plugin {name} failed")
            out[i] = r if r.plugin else r.with_plugin(name)
        index, candidates = kept_index, kept
        if not candidates:
            break
    return out


def infos_at(snapshot: Snapshot, positions: Positions) -> list[NodeInfo]:
    infos = snapshot.infos
    return [infos[i] for i in positions.tolist()]


class KindMemo:
    """Node-local answers for one kind of pod, by snapshot position (see the module docstring).

    Bound to one layout of the snapshot (``Snapshot.layout``): nodes coming or
    going move positions, and the caller then starts a new memo.
    """

    __slots__ = ("answers", "layout", "ok", "scores", "seen", "sums")

    def __init__(self, layout: int, n: int) -> None:
        self.layout = layout
        self.seen = np.zeros(n, np.int64)  # tokens start at 1: 0 is "never answered"
        self.ok = np.zeros(n, np.bool_)
        self.answers: dict[int, Status] = {}  # the failing status of each position not ok
        self.scores: dict[str, tuple[Positions, Positions]] = {}  # plugin -> (seen tokens, raw scores)
        # (plugin, weight) pairs -> (seen tokens, the weighted sum of their raw scores); see summed_scores
        self.sums: dict[tuple[tuple[str, int], ...], tuple[Positions, Positions]] = {}

    def verdicts(
        self,
        local: list[tuple[str, Any]],
        state: CycleState,
        pod: Pod,
        snapshot: Snapshot,
        positions: Positions,
    ) -> npt.NDArray[np.bool_]:
        """Whether each of ``positions`` passes the node-local filters ``local``."""
        tokens = snapshot.tokens[positions]
        stale = positions[self.seen[positions] != tokens]
        if stale.size:
            fresh = run_filters(local, state, pod, infos_at(snapshot, stale))
            answers = self.answers
            passed = []
            for i, answer in zip(stale.tolist(), fresh, strict=True):
                if answer is PASS:
                    answers.pop(i, None)
                    passed.append(True)
                else:
                    answers[i] = answer
                    passed.append(False)
            self.ok[stale] = passed
            self.seen[stale] = snapshot.tokens[stale]
        return self.ok[positions]

    def local_scores(
        self,
        plugin: Any,
        state: CycleState,
        pod: Pod,
        snapshot: Snapshot,
        positions: Positions,
        tokens: Positions | None = None,
    ) -> tuple[Positions, Status | None]:
        """The raw scores of a ``node_local_score`` plugin at ``positions`` (``tokens``: the
        snapshot's tokens there, when the caller has them)."""
        entry = self.scores.get(plugin.name)
        if entry is None:
            n = len(self.seen)
            entry = self.scores[plugin.name] = (np.zeros(n, np.int64), np.zeros(n, np.int64))
        seen, values = entry
        if tokens is None:
            tokens = snapshot.tokens[positions]
        changed = seen[positions] != tokens
        if changed.any():
            stale = positions[changed]
            scores, st = score_nodes(plugin, state, pod, infos_at(snapshot, stale))
            if st is not None:
                return values[positions], st
            values[stale] = scores
            seen[stale] = tokens[changed]
        return values[positions], None

    def summed_scores(
        self,
        plugins: list[tuple[Any, int]],
        state: CycleState,
        pod: Pod,
        snapshot: Snapshot,
        positions: Positions,
        tokens: Positions,
    ) -> Positions | None:
        """The weighted sum of the raw scores of ``plugins`` (``(plugin, weight)``, each
        ``node_local_score`` and without NormalizeScore) at ``positions``: one table for them
        all, so a cycle looks up one array instead of one per plugin, and range-checks only
        the scores it computes afresh (the others were checked when computed). None when a
        plugin fails or gives a score out of range: the caller then asks plugin by plugin,
        which reports it as it always did."""
        key = tuple((pl.name, weight) for pl, weight in plugins)
        entry = self.sums.get(key)
        if entry is None:
            n = len(self.seen)
            entry = self.sums[key] = (np.zeros(n, np.int64), np.zeros(n, np.int64))
        seen, sums = entry
        changed = seen[positions] != tokens
        if changed.any():
            stale = positions[changed]
            nodes = infos_at(snapshot, stale)
            total = [0] * len(nodes)
            for pl, weight in plugins:
                scores, st = score_nodes(pl, state, pod, nodes)
                if st is not None or len(scores) != len(nodes):
                    return None
                if score_range_error(pl.name, min(scores), max(scores)) is not None:
                    return None
                total = [t + s * weight for t, s in zip(total, scores, strict=True)]
            sums[stale] = total
            seen[stale] = tokens[changed]
        return sums[positions]


def score_nodes(
    plugin: Any, state: CycleState, pod: Pod, nodes: list[NodeInfo]
) -> tuple[list[int], Status | None]:
    """A plugin's raw scores for ``nodes``: its batch method, or Score node by node."""
    batch = getattr(plugin, "score_nodes", None)
    if batch is not None:
        scores, st = batch(state, pod, nodes)
        if st is not None and st.code != Code.SUCCESS:
            return [], st
        return scores, None
    out = []
    score = plugin.score
    for ni in nodes:
        s, st = score(state, pod, ni)
        if st is not None and st.code != Code.SUCCESS:
            return [], st
        out.append(s)
    return out, None


class Rejections:
    """The statuses of the nodes a Filter pass rejected, in the order it rejected them, written
    out (``write``) only when wanted: a pod that fits never reads them, and under a spread
    constraint a cycle may reject hundreds of nodes."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        # (positions, the status of the i-th of them, the filter's name for statuses naming none)
        self._parts: list[tuple[Positions, Callable[[int], Status], str]] = []

    def add(self, positions: Positions, status_at: Callable[[int], Status], name: str = "") -> None:
        self._parts.append((positions, status_at, name))

    def write(self, snapshot: Snapshot, statuses: dict[str, Status], failed_plugins: set[str]) -> None:
        """Into a Diagnosis: each rejected node's status by name, and the plugins that rejected."""
        infos = snapshot.infos
        for positions, status_at, name in self._parts:
            for i, p in enumerate(positions.tolist()):
                st = status_at(i)
                if not st.plugin:
                    st = st.with_plugin(name)
                statuses[infos[p].name] = st
                failed_plugins.add(st.plugin)


def _looked_up(keys: list[int], table: dict[int, Status]) -> Callable[[int], Status]:
    """The status of the i-th rejected node, from a table by position."""

    def status_at(i: int) -> Status:
        return table[keys[i]]

    return status_at


def _picked(where: list[int], status_at: Callable[[int], Status]) -> Callable[[int], Status]:
    """The status of the i-th rejected node, the ``where[i]``-th of a filter's answers."""

    def picked(i: int) -> Status:
        return status_at(where[i])

    return picked


class Feasible:
    """What a Filter pass over positions found: the feasible positions, how many were looked at,
    and the statuses of those rejected."""

    __slots__ = ("positions", "processed", "rejections")

    def __init__(self, positions: Positions, processed: int, rejections: Rejections) -> None:
        self.positions = positions
        self.processed = processed
        self.rejections = rejections


def find_feasible(
    memo: KindMemo,
    local: list[tuple[str, Any]],
    rest: list[tuple[str, Any, Any]],
    state: CycleState,
    pod: Pod,
    snapshot: Snapshot,
    order: Positions,
    start: int,
    to_find: int,
) -> Feasible:
    """The first ``to_find`` positions of ``order`` (from index ``start``, round the end) that pass
    every filter, chunk by chunk as the plain path goes (so that the same nodes are looked at and
    the next cycle starts where the plain path would): a chunk is as large as the number of
    feasible nodes still wanted, at least ``MIN_FILTER_CHUNK``."""
    n = len(order)
    rejections = Rejections()
    found: list[Positions] = []
    count_found = 0
    processed = 0
    while processed < n and count_found < to_find:
        count = min(max(to_find - count_found, MIN_FILTER_CHUNK), n - processed)
        first = start + processed
        if first >= n:
            first -= n
        if first + count <= n:
            chunk = order[first : first + count]
        else:
            chunk = np.concatenate((order[first:], order[: first + count - n]))
        processed += count
        ok = memo.verdicts(local, state, pod, snapshot, chunk)
        if ok.all():
            candidates = chunk
        else:
            candidates = chunk[ok]
            # The answers of this cycle's positions stay as they are until the cycle ends.
            rejected = chunk[~ok]
            rejections.add(rejected, _looked_up(rejected.tolist(), memo.answers))
        if rest and candidates.size:
            candidates = _run_rest(rest, state, pod, snapshot, candidates, rejections)
        found.append(candidates)
        count_found += candidates.size
    feasible = np.concatenate(found) if len(found) != 1 else found[0]
    if count_found > to_find:
        # The last chunk found more than needed: give the extra nodes back to the next cycle.
        processed -= count_found - to_find
        feasible = feasible[:to_find]
    return Feasible(feasible, processed, rejections)


def _run_rest(
    rest: list[tuple[str, Any, Any]],
    state: CycleState,
    pod: Pod,
    snapshot: Snapshot,
    candidates: Positions,
    rejections: Rejections,
) -> Positions:
    """The filters after the node-local ones (name, batch function, ``filter_positions`` or None),
    on ``candidates``; their NodeInfos listed only for a filter that has no answer by position."""
    nodes: list[NodeInfo] | None = None
    for name, fn, by_positions in rest:
        answer = by_positions(state, pod, snapshot, candidates) if by_positions is not None else None
        if answer is not None:
            ok, status_at = answer
            if not ok.all():
                rejections.add(candidates[~ok], _picked(np.flatnonzero(~ok).tolist(), status_at), name)
                candidates = candidates[ok]
                nodes = None
                if not candidates.size:
                    break
            continue
        if nodes is None:
            nodes = infos_at(snapshot, candidates)
        results = fn(state, pod, nodes)
        if not any(results):  # all None (a Status is truthy; count(None) would call __eq__)
            continue
        kept = []
        keep = []
        failed: list[Status] = []
        for ni, r in zip(nodes, results, strict=True):
            if r is None or r.code == Code.SUCCESS:
                kept.append(ni)
                keep.append(True)
                continue
            if r.code == Code.ERROR:
                raise RuntimeError(r.message() or f"filter plugin {name} failed")
            failed.append(r)
            keep.append(False)
        passed = np.array(keep, np.bool_)
        rejections.add(candidates[~passed], failed.__getitem__, name)
        candidates = candidates[passed]
        nodes = kept
        if not nodes:
            break
    return candidates


def total_scores(
    fwk: Any, memo: KindMemo, state: CycleState, pod: Pod, snapshot: Snapshot, positions: Positions
) -> tuple[Positions, Status | None]:
    """The weighted total score of each of ``positions``, as ``Framework.run_score_plugins`` sums it."""
    listed: list[NodeInfo] | None = None

    def nodes() -> list[NodeInfo]:
        nonlocal listed
        if listed is None:
            listed = infos_at(snapshot, positions)
        return listed

    n = positions.size
    totals = np.zeros(n, np.int64)
    skip = state.skip_score_plugins
    tokens = snapshot.tokens[positions]
    # The node-local plugins whose raw scores are their final ones add up in one table.
    summed = [
        (pl, fwk.score_weights.get(pl.name, 1))
        for pl in fwk.score_plugins
        if pl.name not in skip and _summable(pl)
    ]
    if n and len(summed) > 1:
        sums = memo.summed_scores(summed, state, pod, snapshot, positions, tokens)
        if sums is not None:
            totals += sums
            skip = skip | {pl.name for pl, _ in summed}
    for pl in fwk.score_plugins:
        name = pl.name
        if name in skip:
            continue
        scores: Any = None
        if getattr(pl, "node_local_score", False):
            scores, st = memo.local_scores(pl, state, pod, snapshot, positions, tokens)
            if st is not None:
                return totals, Status(Code.ERROR, st.reasons, name)
        else:
            by_positions = getattr(pl, "score_positions", None)
            if by_positions is not None:
                scores = by_positions(state, pod, snapshot, positions)
            if scores is None:
                raw, st = score_nodes(pl, state, pod, nodes())
                if st is not None:
                    return totals, Status(Code.ERROR, st.reasons, name)
                scores = np.array(raw, np.int64)
        if len(scores) != n:
            raise ValueError(f"plugin {name!r} returned {len(scores)} scores for {n} nodes")
        normalize_array: Callable[..., Any] | None = getattr(pl, "normalize_scores_array", None)
        if normalize_array is not None:
            scores = normalize_array(state, pod, scores)
        else:
            normalize = getattr(pl, "normalize_score", None)
            if normalize is not None:
                as_list = scores.tolist()
                st = normalize(state, pod, nodes(), as_list)
                if st is not None and st.code != Code.SUCCESS:
                    return totals, Status(Code.ERROR, st.reasons, name)
                scores = np.array(as_list, np.int64)
        if not n:
            continue
        low, high = int(scores.min()), int(scores.max())
        out_of_range = score_range_error(name, low, high)
        if out_of_range is not None:
            return totals, out_of_range
        if high == 0:
            continue
        weight = fwk.score_weights.get(name, 1)
        totals += scores if weight == 1 else scores * weight
    return totals, None


def _summable(plugin: Any) -> bool:
    """A Score plugin whose raw scores depend on the node alone and are its final scores."""
    return (
        getattr(plugin, "node_local_score", False)
        and getattr(plugin, "normalize_scores_array", None) is None
        and getattr(plugin, "normalize_score", None) is None
    )


def pre_score_nodes(
    fwk: Any, state: CycleState, pod: Pod, snapshot: Snapshot, positions: Positions
) -> list[NodeInfo]:
    """The nodes to give PreScore: all of them when a plugin reads them, else only the first
    (the plugins that opted out read only whether there are any)."""
    for pl in fwk.pre_score_plugins:
        reads = getattr(pl, "pre_score_reads_nodes", None)
        if reads is None:
            reads = not getattr(pl, "node_local_score", False)
        elif callable(reads):
            reads = reads(state, pod)
        if reads:
            return infos_at(snapshot, positions)
    return infos_at(snapshot, positions[:1])
