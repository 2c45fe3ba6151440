"""Prometheus metrics of the API server, in the text exposition format.

Small on purpose: counters and histograms keyed by label tuples, rendered
on demand. Names follow kube-apiserver's where one exists
(``apiserver_request_total``, ``apiserver_request_duration_seconds``,
``apiserver_registered_watchers``, ``apiserver_storage_*``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{v}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for key, value in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, key)} {value:g}")
        return lines


class Histogram:
    def __init__(
        self, name: str, help_text: str, labels: tuple[str, ...], buckets: tuple[float, ...] = LATENCY_BUCKETS
    ) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help_text, labels, buckets
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        names = (*self.label_names, "le")
        for key, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f"{self.name}_bucket{_labels(names, (*key, le))} {running}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {self.sums[key]:g}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return lines


class Gauges:
    """Gauges read at render time from a callback returning {labels: value}."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: tuple[str, ...],
        read: Callable[[], dict[tuple[str, ...], float]],
    ) -> None:
        self.name, self.help, self.label_names, self.read = name, help_text, labels, read

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        for key, value in sorted(self.read().items()):
            lines.append(f"{self.name}{_labels(self.label_names, key)} {value:g}")
        return lines


class APIServerMetrics:
    def __init__(self) -> None:
        self.requests = Counter(
            "apiserver_request_total",
            "Requests by verb, resource and HTTP code.",
            ("verb", "group", "resource", "code"),
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "Request latency by verb and resource.",
            ("verb", "group", "resource"),
        )
        self.extra: list[Gauges] = []

    def add_gauges(self, gauges: Gauges) -> None:
        self.extra.append(gauges)

    def observe(self, verb: str, group: str, resource: str, code: int, seconds: float) -> None:
        self.requests.inc(verb, group, resource, str(code))
        if verb != "WATCH":
            self.latency.observe(seconds, verb, group, resource)

    def render(self) -> str:
        lines: list[str] = [*self.requests.render(), *self.latency.render()]
        for gauges in self.extra:
            lines.extend(gauges.render())
        return "\n".join(lines) + "\n"
