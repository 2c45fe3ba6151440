"""ImageLocality: prefer nodes that already have the pod's images, weighted by image
size and by how widely the image is spread (so pods don't pile onto one node)."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import numpy as np

from kubelite.api.core_v1 import Pod
from kubelite.scheduler.cache import normalized_image_name
from kubelite.scheduler.framework import (
    NODE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    NodeInfo,
    Status,
)

NAME = "ImageLocality"
_KEY = "PreScore" + NAME
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_IMAGE_STATES = attrgetter("image_states")


def _images(pod: Pod) -> list[str]:
    names = [normalized_image_name(c.image) for c in pod.spec.initContainers if c.image]
    names += [normalized_image_name(c.image) for c in pod.spec.containers if c.image]
    return names


class ImageLocality:
    name = NAME
    pre_score_reads_nodes = False  # it reads the snapshot instead

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        state[_KEY] = (_images(pod), max(1, self.handle.snapshot_shared_lister().num_nodes()))
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        images, total_nodes = state.get(_KEY) or (_images(pod), 1)
        states = node_info.image_states
        total = 0
        if states:
            for name in images:
                s = states.get(name)
                if s is not None:
                    total += int(s.size * (s.num_nodes / total_nodes))
        max_threshold = MAX_CONTAINER_THRESHOLD * max(
            1, len(pod.spec.containers) + len(pod.spec.initContainers)
        )
        if total < MIN_THRESHOLD:
            total = MIN_THRESHOLD
        elif total > max_threshold:
            total = max_threshold
        return 100 * (total - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD), None

    def score_nodes(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status | None]:
        # Nodes without any of the pod's images all score the minimum (0): only score the others.
        images = (state.get(_KEY) or (_images(pod), 1))[0]
        out = [0] * len(nodes)
        if not any(map(_IMAGE_STATES, nodes)):  # no node reports images (simulated nodes)
            return out, None
        for i, ni in enumerate(nodes):
            states = ni.image_states
            if states and any(name in states for name in images):
                out[i] = self.score(state, pod, ni)[0]
        return out, None

    def score_positions(self, state: CycleState, pod: Pod, snapshot: Any, positions: Any) -> Any:
        """All zero when no node reports images (simulated nodes); else None: ask ``score_nodes``."""
        if snapshot.num_nodes_with_images():
            return None
        return np.zeros(len(positions), np.int64)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE))]


def new(args: dict[str, Any], handle: Any) -> ImageLocality:
    return ImageLocality(handle)
