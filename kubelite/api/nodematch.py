"""Whether a pod may run on a node by its labels and taints: node selectors, required node
affinity, taints and tolerations. The scheduler filters nodes with them and the kubelet
checks them again when it admits a pod (Kubernetes keeps them in component-helpers).

- ``NodeSelectorMatcher``: a compiled ``NodeSelector`` (terms ORed,
  requirements ANDed; In/NotIn/Exists/DoesNotExist/Gt/Lt on labels, In/NotIn
  on the ``metadata.name`` field).
- ``RequiredNodeAffinity``: a pod's ``nodeSelector`` plus its required node
  affinity, as one ``match(node)``.
- ``tolerates``/``find_untolerated_taint``: Kubernetes' toleration rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kubelite.api.core_v1 import Node, Pod, Taint, Toleration

_LABEL_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def _go_int(text: str) -> int | None:
    t = text.strip()
    if not t or t != text:
        return None
    body = t[1:] if t[0] in "+-" else t
    if not body.isdigit():
        return None
    n = int(t)
    return n if -(2**63) <= n < 2**63 else None


Requirement = tuple[str, str, frozenset[str], int]  # key, operator, values, int value (Gt/Lt)


def _compile_requirements(reqs: Iterable[Any], fields: bool) -> list[Requirement] | None:
    """Requirements as tuples; None when one is invalid (the term then matches nothing)."""
    out: list[Requirement] = []
    for r in reqs:
        op = r.operator
        values = list(r.values)
        if fields:
            if r.key != "metadata.name" or op not in ("In", "NotIn") or len(values) != 1:
                return None
            out.append((r.key, op, frozenset(values), 0))
            continue
        if op not in _LABEL_OPS:
            return None
        number = 0
        if op in ("In", "NotIn") and not values:
            return None
        if op in ("Exists", "DoesNotExist") and values:
            return None
        if op in ("Gt", "Lt"):
            if len(values) != 1:
                return None
            parsed = _go_int(values[0])
            if parsed is None:
                return None
            number = parsed
        out.append((r.key, op, frozenset(values), number))
    return out


def _labels_match(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    for key, op, values, number in reqs:
        if op == "In":
            v = labels.get(key)
            if v is None or v not in values:
                return False
        elif op == "NotIn":
            v = labels.get(key)
            if v is not None and v in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            v = labels.get(key)
            if v is None:
                return False
            have = _go_int(v)
            if have is None:
                return False
            if op == "Gt" and not have > number:
                return False
            if op == "Lt" and not have < number:
                return False
    return True


def _fields_match(reqs: list[Requirement], name: str) -> bool:
    for _, op, values, _ in reqs:
        if op == "In" and name not in values:
            return False
        if op == "NotIn" and name in values:
            return False
    return True


class NodeSelectorTermMatcher:
    __slots__ = ("fields", "labels", "valid")

    def __init__(self, term: Any) -> None:
        labels = _compile_requirements(term.matchExpressions, fields=False)
        fields = _compile_requirements(term.matchFields, fields=True)
        self.valid = labels is not None and fields is not None and bool(labels or fields)
        self.labels = labels or []
        self.fields = fields or []

    def matches(self, node: Node) -> bool:
        if not self.valid:
            return False
        if self.labels and not _labels_match(self.labels, node.metadata.labels):
            return False
        return not self.fields or _fields_match(self.fields, node.metadata.name)


class NodeSelectorMatcher:
    """A compiled NodeSelector: any term matching matches (no terms: nothing matches)."""

    __slots__ = ("terms",)

    def __init__(self, selector: Any) -> None:
        self.terms = [NodeSelectorTermMatcher(t) for t in selector.nodeSelectorTerms]

    def matches(self, node: Node) -> bool:
        return any(t.matches(node) for t in self.terms)


class RequiredNodeAffinity:
    """A pod's ``nodeSelector`` and required node affinity as one check."""

    __slots__ = ("node_selector", "required")

    def __init__(self, pod: Pod) -> None:
        self.node_selector: dict[str, str] = pod.spec.nodeSelector
        self.required: NodeSelectorMatcher | None = None
        aff = pod.spec.affinity
        if aff is not None and aff.nodeAffinity is not None:
            req = aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
            if req is not None:
                self.required = NodeSelectorMatcher(req)

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.required is None

    def match(self, node: Node) -> bool:
        if self.node_selector:
            labels = node.metadata.labels
            for k, v in self.node_selector.items():
                if labels.get(k) != v:
                    return False
        return self.required is None or self.required.matches(node)


# ---------------------------------------------------------------- taints


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Whether ``toleration`` tolerates ``taint`` (Kubernetes' ToleratesTaint)."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    op = toleration.operator or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return toleration.value == taint.value
    return False


def tolerations_tolerate(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[Taint],
    tolerations: list[Toleration],
    include: Callable[[Taint], bool] | None = None,
) -> Taint | None:
    """The first taint (of those ``include`` accepts) no toleration tolerates."""
    for taint in taints:
        if include is not None and not include(taint):
            continue
        if not tolerations_tolerate(tolerations, taint):
            return taint
    return None
