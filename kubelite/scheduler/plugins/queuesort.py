"""PrioritySort: higher ``spec.priority`` first, then the one queued earlier."""

from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework import QueuedPodInfo, pod_priority

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = pod_priority(a.pod), pod_priority(b.pod)
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)

    @staticmethod
    def sort_key(q: QueuedPodInfo) -> tuple[int, float]:
        """The same order as ``less``, as a key (lets the queue compare tuples)."""
        return (-pod_priority(q.pod), q.timestamp)


def new(args: dict[str, Any], handle: Any) -> PrioritySort:
    return PrioritySort()
