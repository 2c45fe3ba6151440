"""The arithmetic of Deployments: hashes, revisions, surge and unavailability, status.

Pure functions over typed ``Deployment`` and ``ReplicaSet`` objects, no I/O,
so that every rule of a rollout can be unit tested on its own. They follow
Kubernetes' ``pkg/controller/deployment/util`` (the reference for
behaviour), with two deliberate differences:

- ``compute_hash``: Kubernetes hashes Go's ``spew`` dump of the template
  (type names, field order and zero values of the Go structs), which cannot
  be reproduced outside Go. kubelite feeds FNV-32a with the template's JSON
  with sorted keys, adds the collision count the way Kubernetes does
  (little-endian uint32 in an 8-byte buffer) and encodes the sum with the
  same alphabet, so hashes look alike and behave alike (stable, collision
  count changes them) but differ in value from a real cluster's.
- ``pods_upper_bound``: when deciding how far the new ReplicaSet may grow,
  an old ReplicaSet counts ``max(spec.replicas, status.replicas)`` pods, not
  only its spec, and a ReplicaSet's availability counts at most its spec.
  Old pods that are still being deleted then keep the total within
  ``replicas + maxSurge`` at every moment, not only once deletions land.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import orjson

from kubelite.api.apps_v1 import (
    Deployment,
    DeploymentCondition,
    DeploymentStatus,
    ReplicaSet,
)
from kubelite.api.core_v1 import PodTemplateSpec
from kubelite.api.timestamps import parse_time, rfc3339

UNIQUE_LABEL_KEY = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# Deployment annotations a ReplicaSet does not inherit (and kubectl's rollback keeps).
ANNOTATIONS_TO_SKIP = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        ROLLBACK_TO_ANNOTATION,
    }
)
MAX_REV_HISTORY_CHARS = 2000

# Condition types and reasons, as kubectl and users read them.
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MIN_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

RECREATE = "Recreate"
ROLLING_UPDATE = "RollingUpdate"
NO_DEADLINE = 2**31 - 1  # math.MaxInt32: progressDeadlineSeconds that means "never"

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


# ---------------------------------------------------------------- templates


def _canonical(template: Any) -> Any:
    return msgspec.to_builtins(template) if isinstance(template, msgspec.Struct) else template


def fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Kubernetes' ``rand.SafeEncodeString``: no vowels, no look-alike digits."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def compute_hash(template: PodTemplateSpec | dict[str, Any], collision_count: int | None) -> str:
    """The ``pod-template-hash`` of a template (see the module docstring)."""
    h = fnv32a(orjson.dumps(_canonical(template), option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0", h)
    return safe_encode(str(h))


def _without_hash(template: Any) -> Any:
    data = _canonical(template) or {}
    labels = (data.get("metadata") or {}).get("labels")
    if labels and UNIQUE_LABEL_KEY in labels:
        data = {**data, "metadata": {**data["metadata"], "labels": dict(labels)}}
        del data["metadata"]["labels"][UNIQUE_LABEL_KEY]
        if not data["metadata"]["labels"]:
            del data["metadata"]["labels"]
    return data


def equal_ignore_hash(a: Any, b: Any) -> bool:
    """Whether two pod templates are equal apart from the ``pod-template-hash`` label."""
    return bool(_without_hash(a) == _without_hash(b))


# ------------------------------------------------------- surge, unavailable


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString of ``total``: ints as they are, ``"25%"`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(
            f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}"
        )
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: {value!r}") from None
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for ``desired`` replicas; never both 0 (then unavailable is 1)."""
    s = scaled_value(surge, desired, True)
    u = scaled_value(unavailable, desired, False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def replicas_of(obj: Deployment | ReplicaSet | None) -> int:
    if obj is None:
        return 0
    r = obj.spec.replicas
    return 1 if r is None else r


def is_rolling_update(d: Deployment) -> bool:
    return (d.spec.strategy.type or ROLLING_UPDATE) == ROLLING_UPDATE


def _rolling_params(d: Deployment) -> tuple[int | str | None, int | str | None]:
    ru = d.spec.strategy.rollingUpdate
    if ru is None:
        return "25%", "25%"
    return ru.maxSurge, ru.maxUnavailable


def max_surge(d: Deployment) -> int:
    if not is_rolling_update(d):
        return 0
    surge, unavailable = _rolling_params(d)
    return resolve_fenceposts(surge, unavailable, replicas_of(d))[0]


def max_unavailable(d: Deployment) -> int:
    if not is_rolling_update(d) or replicas_of(d) == 0:
        return 0
    surge, unavailable = _rolling_params(d)
    return min(resolve_fenceposts(surge, unavailable, replicas_of(d))[1], replicas_of(d))


# ---------------------------------------------------------- replica sets


def _created(rs: ReplicaSet) -> tuple[str, str]:
    return (rs.metadata.creationTimestamp or "", rs.metadata.name)


def by_creation(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Oldest first (ties by name)."""
    return sorted(rss, key=_created)


def by_size_older(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first; among equals the older first."""
    return sorted(by_creation(rss), key=lambda rs: -replicas_of(rs))


def by_size_newer(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first; among equals the newer first."""
    return sorted(list(reversed(by_creation(rss))), key=lambda rs: -replicas_of(rs))


def revision_of(obj: Any) -> int:
    """The revision annotation as a number (0 when absent or not a number)."""
    try:
        return int(obj.metadata.annotations.get(REVISION_ANNOTATION, ""))
    except ValueError:
        return 0


def by_revision(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Lowest revision first (ties by creation)."""
    return sorted(by_creation(rss), key=revision_of)


def max_revision(rss: Iterable[ReplicaSet]) -> int:
    return max((revision_of(rs) for rs in rss), default=0)


def active(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    """ReplicaSets that want pods."""
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def spec_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def actual_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.replicas for rs in rss if rs is not None)


def ready_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.readyReplicas for rs in rss if rs is not None)


def available_replicas(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.availableReplicas for rs in rss if rs is not None)


def pods_upper_bound(rss: Iterable[ReplicaSet | None]) -> int:
    """Pods that exist or may still exist: a ReplicaSet scaled down keeps pods until it reports them gone."""
    return sum(max(replicas_of(rs), rs.status.replicas) for rs in rss if rs is not None)


def available_lower_bound(rs: ReplicaSet | None) -> int:
    """Available pods a ReplicaSet will keep: no more than its spec, whatever its status says yet."""
    if rs is None:
        return 0
    return min(replicas_of(rs), rs.status.availableReplicas)


def find_new_rs(d: Deployment, rss: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template is the Deployment's (hash label aside)."""
    for rs in by_creation(rss):
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            return rs
    return None


def find_old_rss(d: Deployment, rss: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    """Every ReplicaSet of ``rss`` but the new one."""
    new = find_new_rs(d, rss)
    return [rs for rs in rss if new is None or rs.metadata.uid != new.metadata.uid]


# ------------------------------------------------------------ annotations


def _int_annotation(rs: ReplicaSet, key: str) -> int | None:
    try:
        return int(rs.metadata.annotations[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)


def max_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS_ANNOTATION)


def replicas_annotations(d: Deployment) -> dict[str, str]:
    """The desired/max replicas annotations a ReplicaSet of ``d`` carries."""
    return {
        DESIRED_REPLICAS_ANNOTATION: str(replicas_of(d)),
        MAX_REPLICAS_ANNOTATION: str(replicas_of(d) + max_surge(d)),
    }


def replicas_annotations_need_update(rs: ReplicaSet, d: Deployment) -> bool:
    have = rs.metadata.annotations
    return any(have.get(k) != v for k, v in replicas_annotations(d).items())


def new_rs_annotations(
    d: Deployment, annotations: dict[str, str], new_revision: int, exists: bool
) -> dict[str, str]:
    """The annotations the new ReplicaSet should have, starting from ``annotations`` (its own).

    Copies the Deployment's annotations (but the skipped ones), raises the
    revision to ``new_revision`` when it is lower (a ReplicaSet brought back
    by a rollback keeps its former revisions in the revision history), and
    for a ReplicaSet about to be created adds the replicas annotations.
    """
    out = dict(annotations)
    for k, v in d.metadata.annotations.items():
        if k not in ANNOTATIONS_TO_SKIP:
            out[k] = v
    old = out.get(REVISION_ANNOTATION)
    try:
        old_revision = int(old) if old else 0
    except ValueError:
        return out  # someone else's revision scheme: leave it
    if old_revision < new_revision:
        out[REVISION_ANNOTATION] = str(new_revision)
        if old:
            history = out.get(REVISION_HISTORY_ANNOTATION, "")
            if not history:
                out[REVISION_HISTORY_ANNOTATION] = old
            else:
                revisions = history.split(",")
                total = len(history) + len(old) + 1
                start = 0
                while total > MAX_REV_HISTORY_CHARS and start < len(revisions):
                    total -= len(revisions[start]) + 1
                    start += 1
                if total <= MAX_REV_HISTORY_CHARS:
                    out[REVISION_HISTORY_ANNOTATION] = ",".join([*revisions[start:], old])
    if not exists:
        out.update(replicas_annotations(d))
    return out


# -------------------------------------------------------------- replicas


def new_rs_new_replicas(d: Deployment, all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet) -> int:
    """How many replicas the new ReplicaSet may have now."""
    if not is_rolling_update(d):
        return replicas_of(d)
    surge = scaled_value(_rolling_params(d)[0], replicas_of(d), True)
    current = pods_upper_bound(all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + max(scale_up, 0)


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    """The new ReplicaSet has all the Deployment's replicas, and all are available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    if desired is None:
        return False
    n = replicas_of(d)
    return replicas_of(rs) == n and desired == n and rs.status.availableReplicas == n


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def rs_fraction(rs: ReplicaSet, d: Deployment) -> int:
    """How many replicas ``rs`` gains (or loses) for its share of a resized Deployment."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = d.status.replicas
    if annotated == 0:
        return 0  # nothing to be proportional to (Go would divide by zero here)
    return _round_half_away(replicas_of(rs) * deployment_replicas / annotated) - replicas_of(rs)


def proportion(rs: ReplicaSet | None, d: Deployment, to_add: int, added: int) -> int:
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# ------------------------------------------------------------- conditions


def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> DeploymentCondition:
    stamp = rfc3339(now)
    return DeploymentCondition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        lastUpdateTime=stamp,
        lastTransitionTime=stamp,
    )


def get_condition(status: DeploymentStatus, type_: str) -> DeploymentCondition | None:
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def set_condition(status: DeploymentStatus, cond: DeploymentCondition) -> None:
    """Set ``cond``; unchanged when status and reason are the same, the transition time kept when only the reason changed."""
    current = get_condition(status, cond.type)
    if current is not None and current.status == cond.status and current.reason == cond.reason:
        return
    if current is not None and current.status == cond.status:
        cond = msgspec.structs.replace(cond, lastTransitionTime=current.lastTransitionTime)
    status.conditions = [c for c in status.conditions if c.type != cond.type] + [cond]


def remove_condition(status: DeploymentStatus, type_: str) -> None:
    status.conditions = [c for c in status.conditions if c.type != type_]


def has_progress_deadline(d: Deployment) -> bool:
    p = d.spec.progressDeadlineSeconds
    return p is not None and p != NO_DEADLINE


def deployment_complete(d: Deployment, status: DeploymentStatus) -> bool:
    """Every replica updated and available, and the latest spec observed."""
    n = replicas_of(d)
    return (
        status.updatedReplicas == n
        and status.replicas == n
        and status.availableReplicas == n
        and status.observedGeneration >= d.metadata.generation
    )


def deployment_progressing(d: Deployment, status: DeploymentStatus) -> bool:
    """Something moved since the stored status: more updated, fewer old, more ready or available."""
    old = d.status
    return (
        status.updatedReplicas > old.updatedReplicas
        or (status.replicas - status.updatedReplicas) < (old.replicas - old.updatedReplicas)
        or status.readyReplicas > old.readyReplicas
        or status.availableReplicas > old.availableReplicas
    )


def deployment_timed_out(d: Deployment, status: DeploymentStatus, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.reason == NEW_RS_AVAILABLE:
        return False
    if cond.reason == TIMED_OUT:
        return True
    since = parse_time(cond.lastUpdateTime)
    if since is None:
        return False
    return since + (d.spec.progressDeadlineSeconds or 0) < now


def calculate_status(
    all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet | None, d: Deployment, now: float
) -> DeploymentStatus:
    """The Deployment's status from its ReplicaSets (conditions copied, Available recomputed)."""
    rss = [rs for rs in all_rss if rs is not None]
    available = available_replicas(rss)
    unavailable = max(spec_replicas(rss) - available, 0)
    status = DeploymentStatus(
        observedGeneration=d.metadata.generation,
        replicas=actual_replicas(rss),
        updatedReplicas=actual_replicas([new_rs]),
        readyReplicas=ready_replicas(rss),
        availableReplicas=available,
        unavailableReplicas=unavailable,
        conditions=list(d.status.conditions),
        collisionCount=d.status.collisionCount,
    )
    if available >= replicas_of(d) - max_unavailable(d):
        cond = new_condition(
            AVAILABLE, "True", MIN_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        cond = new_condition(
            AVAILABLE,
            "False",
            MIN_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, cond)
    return status


def replica_failures(
    all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet | None
) -> list[DeploymentCondition]:
    """ReplicaFailure conditions of the new ReplicaSet, else of the others, as Deployment conditions."""

    def of(rs: ReplicaSet) -> list[DeploymentCondition]:
        return [
            DeploymentCondition(
                type=REPLICA_FAILURE,
                status=c.status,
                reason=c.reason,
                message=c.message,
                lastTransitionTime=c.lastTransitionTime,
                lastUpdateTime=c.lastTransitionTime,
            )
            for c in rs.status.conditions
            if c.type == REPLICA_FAILURE
        ]

    if new_rs is not None and (found := of(new_rs)):
        return found
    return [c for rs in all_rss if rs is not None for c in of(rs)]
