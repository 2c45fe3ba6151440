"""The pure rules of the StatefulSet controller: identity, storage, revisions, health, status.

Nothing here does I/O. ``statefulset.py`` reads the caches, asks these
functions what a pod or claim of a set should look like, and writes the
difference. Rules follow Kubernetes' StatefulSet controller:

- pod ``<set>-<ordinal>`` for ordinals ``start .. start+replicas-1``, with
  ``spec.hostname`` = its name and ``spec.subdomain`` = ``serviceName`` (set
  only at creation, they are immutable), labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index``
  and ``controller-revision-hash`` (the name of the revision it was made from);
- a claim ``<template>-<set>-<ordinal>`` per volumeClaimTemplate, which the
  pod mounts under the template's name;
- revisions record ``{"spec": {"template": ..., "$patch": "replace"}}``, a
  strategic merge patch that restores the template.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import msgspec

from kubelite.api import apps_v1, core_v1, meta
from kubelite.api.strategic import apply_strategic_merge_patch
from kubelite.api.timestamps import parse_time
from kubelite.controllers import history
from kubelite.controllers.base import new_controller_ref

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"

API_VERSION = "apps/v1"
KIND = "StatefulSet"
ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
RETAIN = "Retain"
DELETE = "Delete"

_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")
_INT32_MAX = 2**31 - 1


# ------------------------------------------------------------------ identity


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``("web", 3)`` for ``web-3``; ``("", -1)`` for a name that carries no ordinal."""
    m = _ORDINAL_RE.match(name)
    if m is None:
        return "", -1
    ordinal = int(m.group(2))
    if ordinal > _INT32_MAX:
        return m.group(1), -1
    return m.group(1), ordinal


def ordinal_of(pod: Any) -> int:
    return parent_and_ordinal(pod.metadata.name)[1]


def replicas_of(ss: apps_v1.StatefulSet) -> int:
    return 1 if ss.spec.replicas is None else ss.spec.replicas


def start_ordinal(ss: apps_v1.StatefulSet) -> int:
    return ss.spec.ordinals.start if ss.spec.ordinals is not None else 0


def end_ordinal(ss: apps_v1.StatefulSet) -> int:
    """The last ordinal the set wants (inclusive); below ``start_ordinal`` when it wants none."""
    return start_ordinal(ss) + replicas_of(ss) - 1


def in_ordinal_range(pod: Any, ss: apps_v1.StatefulSet) -> bool:
    ordinal = ordinal_of(pod)
    return start_ordinal(ss) <= ordinal <= end_ordinal(ss)


def pod_name(ss: apps_v1.StatefulSet, ordinal: int) -> str:
    return f"{ss.metadata.name}-{ordinal}"


def claim_name(ss: apps_v1.StatefulSet, template: core_v1.PersistentVolumeClaim, ordinal: int) -> str:
    return f"{template.metadata.name}-{ss.metadata.name}-{ordinal}"


def is_member(ss: apps_v1.StatefulSet, pod: Any) -> bool:
    """Whether the pod's name makes it one of the set's (``<set>-<ordinal>``)."""
    parent, ordinal = parent_and_ordinal(pod.metadata.name)
    return ordinal >= 0 and parent == ss.metadata.name


def identity_matches(ss: apps_v1.StatefulSet, pod: Any) -> bool:
    parent, ordinal = parent_and_ordinal(pod.metadata.name)
    return (
        ordinal >= 0
        and parent == ss.metadata.name
        and pod.metadata.namespace == ss.metadata.namespace
        and pod.metadata.labels.get(POD_NAME_LABEL) == pod.metadata.name
    )


def update_identity(ss: apps_v1.StatefulSet, pod: Any) -> None:
    """Put the identity labels on ``pod`` (the mutable part of its identity)."""
    ordinal = ordinal_of(pod)
    pod.metadata.name = pod_name(ss, ordinal)
    pod.metadata.namespace = ss.metadata.namespace
    pod.metadata.labels[POD_NAME_LABEL] = pod.metadata.name
    pod.metadata.labels[POD_INDEX_LABEL] = str(ordinal)


def claims_for(ss: apps_v1.StatefulSet, ordinal: int) -> dict[str, core_v1.PersistentVolumeClaim]:
    """The claims the pod of ``ordinal`` uses, by template name, as they would be created."""
    match_labels = ss.spec.selector.matchLabels if ss.spec.selector is not None else {}
    claims: dict[str, core_v1.PersistentVolumeClaim] = {}
    for template in ss.spec.volumeClaimTemplates:
        claim = copy.deepcopy(template)
        claim.apiVersion, claim.kind = "v1", "PersistentVolumeClaim"
        claim.metadata.name = claim_name(ss, template, ordinal)
        claim.metadata.namespace = ss.metadata.namespace
        claim.metadata.labels.update(match_labels)
        claim.status = core_v1.PersistentVolumeClaimStatus()
        claims[template.metadata.name] = claim
    return claims


def storage_matches(ss: apps_v1.StatefulSet, pod: Any) -> bool:
    """Whether every claim template is mounted from this ordinal's claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.name: v for v in pod.spec.volumes}
    for template in ss.spec.volumeClaimTemplates:
        volume = volumes.get(template.metadata.name)
        if (
            volume is None
            or volume.persistentVolumeClaim is None
            or volume.persistentVolumeClaim.claimName != claim_name(ss, template, ordinal)
        ):
            return False
    return True


def update_storage(ss: apps_v1.StatefulSet, pod: Any) -> None:
    """Mount this ordinal's claims, replacing template volumes of the same names."""
    claims = claims_for(ss, ordinal_of(pod))
    volumes = [
        core_v1.Volume(
            name=name,
            persistentVolumeClaim=core_v1.PersistentVolumeClaimVolumeSource(claimName=claim.metadata.name),
        )
        for name, claim in claims.items()
    ]
    volumes += [v for v in pod.spec.volumes if v.name not in claims]
    pod.spec.volumes = volumes


def controller_reference(ss: apps_v1.StatefulSet) -> meta.OwnerReference:
    return new_controller_ref(ss, API_VERSION, KIND)


def new_pod(ss: apps_v1.StatefulSet, ordinal: int) -> core_v1.Pod:
    """The pod of ``ordinal`` as ``ss``'s template describes it (no revision label yet)."""
    template = ss.spec.template
    pod = core_v1.Pod(
        apiVersion="v1",
        kind="Pod",
        metadata=meta.ObjectMeta(
            name=pod_name(ss, ordinal),
            namespace=ss.metadata.namespace,
            labels=dict(template.metadata.labels),
            annotations=dict(template.metadata.annotations),
            finalizers=list(template.metadata.finalizers),
            ownerReferences=[controller_reference(ss)],
        ),
        spec=copy.deepcopy(template.spec),
    )
    update_identity(ss, pod)
    # Immutable once the pod exists, so only set here.
    pod.spec.hostname = pod.metadata.name
    pod.spec.subdomain = ss.spec.serviceName
    update_storage(ss, pod)
    return pod


def partition_of(ss: apps_v1.StatefulSet) -> int:
    ru = ss.spec.updateStrategy.rollingUpdate
    return (ru.partition or 0) if ru is not None else 0


def new_versioned_pod(
    current_set: apps_v1.StatefulSet,
    update_set: apps_v1.StatefulSet,
    current_revision: str,
    update_revision: str,
    ordinal: int,
) -> core_v1.Pod:
    """A pod for a missing ordinal: below the partition it keeps the current revision."""
    strategy = current_set.spec.updateStrategy
    start = start_ordinal(current_set)
    keep_current = (
        strategy.type == ROLLING_UPDATE
        and strategy.rollingUpdate is None
        and ordinal < start + current_set.status.currentReplicas
    ) or (strategy.rollingUpdate is not None and ordinal < start + partition_of(current_set))
    if keep_current:
        pod = new_pod(current_set, ordinal)
        pod.metadata.labels[REVISION_LABEL] = current_revision
    else:
        pod = new_pod(update_set, ordinal)
        pod.metadata.labels[REVISION_LABEL] = update_revision
    return pod


def pod_revision(pod: Any) -> str:
    return str(pod.metadata.labels.get(REVISION_LABEL, ""))


# ----------------------------------------------------------------- revisions


def revision_patch(ss: apps_v1.StatefulSet) -> dict[str, Any]:
    """What a revision records: a patch that puts this template back."""
    template = msgspec.to_builtins(ss.spec.template)
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_set_revision(
    ss: apps_v1.StatefulSet, number: int, collision_count: int
) -> apps_v1.ControllerRevision:
    revision = history.new_revision(
        ss,
        API_VERSION,
        KIND,
        ss.spec.template.metadata.labels,
        revision_patch(ss),
        number,
        collision_count,
    )
    revision.metadata.annotations.update(ss.metadata.annotations)
    return revision


def apply_revision(ss: apps_v1.StatefulSet, revision: apps_v1.ControllerRevision) -> apps_v1.StatefulSet:
    """``ss`` as it was at ``revision`` (its recorded patch applied to a copy)."""
    doc = msgspec.to_builtins(ss)
    patched = apply_strategic_merge_patch(doc, revision.data or {}, apps_v1.StatefulSet)
    return msgspec.convert(patched, apps_v1.StatefulSet)


# -------------------------------------------------------------------- health


def ready_condition(pod: Any) -> Any | None:
    for c in pod.status.conditions:
        if c.type == "Ready":
            return c
    return None


def is_created(pod: Any) -> bool:
    """Whether the pod exists in the API (a pod not yet created has no phase)."""
    return bool(pod.status.phase)


def is_pending(pod: Any) -> bool:
    return bool(pod.status.phase == "Pending")


def is_failed(pod: Any) -> bool:
    return bool(pod.status.phase == "Failed")


def is_succeeded(pod: Any) -> bool:
    return bool(pod.status.phase == "Succeeded")


def is_terminating(pod: Any) -> bool:
    return pod.metadata.deletionTimestamp is not None


def is_pod_ready(pod: Any) -> bool:
    c = ready_condition(pod)
    return c is not None and c.status == "True"


def is_running_and_ready(pod: Any) -> bool:
    return bool(pod.status.phase == "Running") and is_pod_ready(pod)


def is_running_and_available(pod: Any, min_ready_seconds: int, now: float) -> bool:
    """Running, Ready, and Ready for longer than ``min_ready_seconds`` at ``now``."""
    if not is_running_and_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(ready_condition(pod).lastTransitionTime)  # type: ignore[union-attr]
    return since is not None and since + min_ready_seconds < now


def is_healthy(pod: Any) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def is_unavailable(pod: Any, min_ready_seconds: int, now: float) -> bool:
    return not is_healthy(pod) or not is_running_and_available(pod, min_ready_seconds, now)


def seconds_until_available(pod: Any, min_ready_seconds: int, now: float) -> float | None:
    """How long until a ready pod counts as available; None when that does not apply."""
    if min_ready_seconds <= 0 or not is_running_and_ready(pod):
        return None
    since = parse_time(ready_condition(pod).lastTransitionTime)  # type: ignore[union-attr]
    if since is None:
        return None
    left = since + min_ready_seconds - now
    return left if left >= 0 else None


# -------------------------------------------------------------------- status


def replica_counts(
    pods: list[Any], min_ready_seconds: int, now: float, current_revision: str, update_revision: str
) -> dict[str, int]:
    """replicas, readyReplicas, availableReplicas, currentReplicas, updatedReplicas of ``pods``."""
    counts = dict.fromkeys(
        ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"), 0
    )
    for pod in pods:
        if not is_created(pod):
            continue
        counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_running_and_available(pod, min_ready_seconds, now):
                counts["availableReplicas"] += 1
        if not is_terminating(pod):
            revision = pod_revision(pod)
            if revision == current_revision:
                counts["currentReplicas"] += 1
            if revision == update_revision:
                counts["updatedReplicas"] += 1
    return counts


def complete_rolling_update(ss: apps_v1.StatefulSet, status: apps_v1.StatefulSetStatus) -> None:
    """Once every wanted pod is updated and ready, the update revision becomes the current one."""
    want = replicas_of(ss)
    if (
        ss.spec.updateStrategy.type == ROLLING_UPDATE
        and status.updatedReplicas == want
        and status.readyReplicas == want
        and status.replicas == want
    ):
        status.currentReplicas = status.updatedReplicas
        status.currentRevision = status.updateRevision


def status_differs(ss: apps_v1.StatefulSet, status: apps_v1.StatefulSetStatus) -> bool:
    old = ss.status
    return (
        status.observedGeneration > old.observedGeneration
        or status.replicas != old.replicas
        or status.readyReplicas != old.readyReplicas
        or status.availableReplicas != old.availableReplicas
        or status.currentReplicas != old.currentReplicas
        or status.updatedReplicas != old.updatedReplicas
        or status.currentRevision != old.currentRevision
        or status.updateRevision != old.updateRevision
        or status.collisionCount != old.collisionCount
    )


def max_unavailable(ss: apps_v1.StatefulSet) -> int:
    """``rollingUpdate.maxUnavailable`` as a count (percentages round down, never below 1)."""
    ru = ss.spec.updateStrategy.rollingUpdate
    value = ru.maxUnavailable if ru is not None else None
    if value is None:
        return 1
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            n = math.floor(int(text[:-1]) * replicas_of(ss) / 100)
        else:
            n = int(text)
    else:
        n = int(value)
    return max(n, 1)


def pods_to_update(
    ss: apps_v1.StatefulSet, replicas: list[Any], update_revision: str, now: float
) -> list[Any]:
    """The pods a RollingUpdate deletes now, to come back at the update revision.

    From the highest ordinal down to the partition. Without ``maxUnavailable``:
    the first outdated pod, unless a pod above it is still unavailable (then
    nothing). With it: outdated pods up to the budget left by those already
    unavailable anywhere in the set.
    """
    min_ready = ss.spec.minReadySeconds
    candidates = list(reversed(replicas[partition_of(ss) :]))
    ru = ss.spec.updateStrategy.rollingUpdate
    if ru is None or ru.maxUnavailable is None:
        for pod in candidates:
            if pod_revision(pod) != update_revision and not is_terminating(pod):
                return [pod]
            if is_unavailable(pod, min_ready, now):
                return []
        return []
    outdated = [p for p in candidates if pod_revision(p) != update_revision and not is_terminating(p)]
    unavailable = sum(1 for pod in replicas if is_unavailable(pod, min_ready, now))
    budget = max_unavailable(ss) - unavailable
    return outdated[:budget] if budget > 0 else []


# ------------------------------------------------------- claim retention policy


def retention_policy(ss: apps_v1.StatefulSet) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain where unset."""
    policy = ss.spec.persistentVolumeClaimRetentionPolicy
    if policy is None:
        return RETAIN, RETAIN
    return policy.whenDeleted or RETAIN, policy.whenScaled or RETAIN


def _matches_ref(ref: meta.OwnerReference, obj: Any, api_version: str, kind: str) -> bool:
    return ref.apiVersion == api_version and ref.kind == kind and ref.name == obj.metadata.name


def _has_ref(claim: Any, owner: Any) -> bool:
    uid = owner.metadata.uid
    return any(ref.uid == uid for ref in claim.metadata.ownerReferences)


def _has_stale_ref(claim: Any, owner: Any, api_version: str, kind: str) -> bool:
    for ref in claim.metadata.ownerReferences:
        if _matches_ref(ref, owner, api_version, kind):
            return bool(ref.uid != owner.metadata.uid)
    return False


def claim_is_stale_for(claim: Any, pod: Any) -> bool:
    """A claim being deleted, or owned by an earlier pod of the same name (to be collected)."""
    return claim.metadata.deletionTimestamp is not None or _has_stale_ref(claim, pod, "v1", "Pod")


def _unexpected_controller(claim: Any, ss: apps_v1.StatefulSet, pod: Any) -> bool:
    if retention_policy(ss) == (RETAIN, RETAIN):
        return False  # under Retain another controller managing the claim is fine
    for ref in claim.metadata.ownerReferences:
        if _matches_ref(ref, ss, API_VERSION, KIND):
            if ref.uid != ss.metadata.uid:
                return True
            continue
        if _matches_ref(ref, pod, "v1", "Pod"):
            if ref.uid != pod.metadata.uid:
                return True
            continue
        if ref.controller:
            return True
    return False


def _non_controller_owner(claim: Any, ss: apps_v1.StatefulSet, pod: Any) -> bool:
    uids = {ss.metadata.uid, pod.metadata.uid}
    return any(ref.uid in uids and not ref.controller for ref in claim.metadata.ownerReferences)


def claim_owners_up_to_date(claim: Any, ss: apps_v1.StatefulSet, pod: Any) -> bool:
    """Whether the claim's owners say what the retention policy asks.

    Delete on set deletion: the set owns the claim. Delete on scale-down: the
    pod owns the claim of an ordinal the set no longer wants. Stale or foreign
    controllers are left alone (reported as up to date).
    """
    if _has_stale_ref(claim, ss, API_VERSION, KIND) or _has_stale_ref(claim, pod, "v1", "Pod"):
        return True
    if _unexpected_controller(claim, ss, pod):
        return not (_has_ref(claim, ss) or _has_ref(claim, pod))
    if _non_controller_owner(claim, ss, pod):
        return False
    when_deleted, when_scaled = retention_policy(ss)
    scaled_down = not in_ordinal_range(pod, ss)
    want_set = (when_deleted == DELETE and when_scaled != DELETE) or (
        when_deleted == DELETE and when_scaled == DELETE and not scaled_down
    )
    want_pod = when_scaled == DELETE and scaled_down
    return _has_ref(claim, ss) == want_set and _has_ref(claim, pod) == want_pod


def update_claim_owners(claim: Any, ss: apps_v1.StatefulSet, pod: Any) -> None:
    """Rewrite the claim's references to the set and pod as the retention policy asks."""
    unexpected = _unexpected_controller(claim, ss, pod)
    refs = [
        ref
        for ref in claim.metadata.ownerReferences
        if not (_matches_ref(ref, ss, API_VERSION, KIND) or _matches_ref(ref, pod, "v1", "Pod"))
    ]
    if not unexpected:
        when_deleted, when_scaled = retention_policy(ss)
        scaled_down = not in_ordinal_range(pod, ss)
        if when_scaled == DELETE and scaled_down:
            refs.append(new_controller_ref(pod, "v1", "Pod"))
        elif when_deleted == DELETE:
            refs.append(controller_reference(ss))
    claim.metadata.ownerReferences = refs
