"""Pod plumbing shared by the controllers that own pods (and, for claiming, any kind).

What lives here, and who should use it:

- **Pod predicates**: ``is_pod_active`` (not Succeeded/Failed, not being
  deleted), ``is_pod_ready``, ``pod_ready_since`` and ``is_pod_available``
  (ready for at least ``minReadySeconds``), ``available_in`` (how long until
  a ready pod becomes available: what to ``enqueue_after``).
- **Making pods**: ``pod_from_template(template, owner, controller_ref)``
  builds the Pod Kubernetes' controllers create: the template's labels,
  annotations, finalizers and spec, ``generateName: <owner name>-`` and the
  owner's controllerRef. ``PodControl.create_pod`` creates it and records
  ``SuccessfulCreate``/``FailedCreate`` events on the owner;
  ``PodControl.delete_pod`` deletes one (``SuccessfulDelete``/``FailedDelete``).
  A StatefulSet passes ``name=`` to get a fixed name instead of a generated one.
- **Slow start**: ``slow_start_batch(count, fn)`` calls ``fn`` ``count``
  times in batches of 1, 2, 4, ... concurrently, and stops at the first batch
  with a failure, so a controller that cannot create pods (quota, admission,
  a bad template) fails after one request instead of hundreds. It returns
  how many calls succeeded; the caller gives the expectations of the calls
  never made back.
- **Claiming** (``ControllerRefManager``): adopt orphans that match the
  owner's selector (patch in a controllerRef, only while the owner is not
  being deleted, re-checked against the API server once per claim) and
  release owned objects that no longer match (patch the ownerReference out).
  Works for any kind through a ``ResourceClient``: the Deployment controller
  claims ReplicaSets with it, the ReplicaSet and StatefulSet controllers pods.
- **Scale-down order**: ``pods_to_delete(pods, count, related, now)`` picks
  the pods Kubernetes' ``ActivePodsWithRanks`` ordering deletes first.
- **Index**: ``CONTROLLER_UID_INDEX`` / ``controller_uid_index`` for an
  informer: objects by the uid of their controller.

All writes go through the API (DESIGN.md section 1); nothing here reads a
store or keeps state between calls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import msgspec

from kubelite.api.core_v1 import Pod, PodTemplateSpec
from kubelite.api.errors import StatusError
from kubelite.api.meta import ObjectMeta, OwnerReference
from kubelite.api.selectors import LabelSelector
from kubelite.api.timestamps import parse_time
from kubelite.client import EventRecorder, ResourceClient, lookup
from kubelite.client.objects import meta_namespace_key
from kubelite.controllers.base import controller_ref

log = logging.getLogger("kubelite.controllers.podcontrol")

PODS = lookup("", "v1", "Pod")

BURST_REPLICAS = 500  # at most this many creations or deletions per sync (as Kubernetes)
SLOW_START_INITIAL_BATCH_SIZE = 1

# Event reasons, as Kubernetes' controllers word them.
SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
MAX_GENERATE_NAME = 58  # 63 - the 5 random characters the API server appends

CONTROLLER_UID_INDEX = "controllerUID"


def controller_uid_index(obj: Any) -> list[str]:
    """Index function: the uid of the object's controller, or for an orphan
    ``orphan_index_key(namespace)`` (what a controller may adopt), as Kubernetes'
    controller-uid pod index does."""
    ref = controller_ref(obj)
    if ref is None:
        return [orphan_index_key(obj.metadata.namespace or "")]
    return [ref.uid] if ref.uid else []


def orphan_index_key(namespace: str) -> str:
    """The ``controller_uid_index`` value of the orphans of ``namespace`` (no uid looks like it)."""
    return f"orphan:{namespace}"


# ------------------------------------------------------------------ time and pod state


def is_pod_active(pod: Pod) -> bool:
    """Counts towards replicas: not Succeeded or Failed, and not being deleted."""
    return pod.status.phase not in ("Succeeded", "Failed") and pod.metadata.deletionTimestamp is None


def is_pod_terminating(pod: Pod) -> bool:
    return pod.metadata.deletionTimestamp is not None and pod.status.phase not in ("Succeeded", "Failed")


def _ready_condition(pod: Pod) -> Any | None:
    for cond in pod.status.conditions:
        if cond.type == "Ready":
            return cond
    return None


def is_pod_ready(pod: Pod) -> bool:
    cond = _ready_condition(pod)
    return cond is not None and cond.status == "True"


def pod_ready_since(pod: Pod) -> float | None:
    """When the pod last became Ready (None when not ready or not recorded)."""
    cond = _ready_condition(pod)
    if cond is None or cond.status != "True":
        return None
    return parse_time(cond.lastTransitionTime)


def available_in(pod: Pod, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until the pod is available: 0 when it is, None when it is not ready at all.

    Available means ready for at least ``min_ready_seconds``. A ready pod
    whose Ready condition has no transition time counts as available only
    when ``min_ready_seconds`` is 0 (as Kubernetes).
    """
    if not is_pod_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = pod_ready_since(pod)
    if since is None:
        return float(min_ready_seconds)
    return max(since + min_ready_seconds - now, 0.0)


def is_pod_available(pod: Pod, min_ready_seconds: int, now: float) -> bool:
    return available_in(pod, min_ready_seconds, now) == 0.0


# ------------------------------------------------------------------------- creating


def pod_from_template(
    template: PodTemplateSpec | None,
    owner: Any,
    ref: OwnerReference | None,
    *,
    name: str = "",
    namespace: str = "",
) -> Pod:
    """The Pod a controller creates from ``template`` for ``owner``.

    Labels, annotations and finalizers are copied from the template's
    metadata (the template's name and other metadata are not); the spec is
    the template's (shared, not copied: do not change the result's spec in
    place). Without ``name`` the pod gets ``generateName: <owner name>-``.
    """
    template = template or PodTemplateSpec()
    tmeta = template.metadata
    prefix = f"{owner.metadata.name}-"[:MAX_GENERATE_NAME]
    metadata = ObjectMeta(
        name=name,
        generateName="" if name else prefix,
        namespace=namespace or owner.metadata.namespace,
        labels=dict(tmeta.labels),
        annotations=dict(tmeta.annotations),
        finalizers=list(tmeta.finalizers),
        ownerReferences=[ref] if ref is not None else [],
    )
    return Pod(kind="Pod", apiVersion="v1", metadata=metadata, spec=template.spec)


def has_cause(err: BaseException, reason: str) -> bool:
    """Whether an API error carries a cause with ``reason`` (e.g. NamespaceTerminating)."""
    if not isinstance(err, StatusError) or not err.details:
        return False
    return any(c.get("reason") == reason for c in err.details.get("causes") or [] if isinstance(c, dict))


def is_not_found(err: BaseException) -> bool:
    return isinstance(err, StatusError) and err.code == 404


class PodControl:
    """Creates and deletes pods for a controller, recording events on the owner.

    Events follow Kubernetes: ``SuccessfulCreate`` "Created pod: NAME",
    ``FailedCreate`` "Error creating: ERROR", ``SuccessfulDelete`` "Deleted
    pod: NAME", ``FailedDelete`` "Error deleting: ERROR" (none for a pod that
    was already gone). Errors propagate as ``StatusError`` (or connection
    errors) after the event is recorded.
    """

    def __init__(self, pods: ResourceClient, recorder: EventRecorder) -> None:
        self.pods = pods
        self.recorder = recorder

    async def create_pod(
        self,
        namespace: str,
        template: PodTemplateSpec | None,
        owner: Any,
        ref: OwnerReference | None,
        *,
        name: str = "",
        node_name: str = "",
    ) -> Pod:
        """Create one pod from ``template`` owned by ``owner``; returns the created pod."""
        pod = pod_from_template(template, owner, ref, name=name, namespace=namespace)
        if node_name:
            pod.spec = msgspec.structs.replace(pod.spec, nodeName=node_name)
        if not pod.metadata.labels:
            raise ValueError("unable to create pods, no labels")
        try:
            created: Pod = await self.pods.create(pod, namespace)
        except StatusError as e:
            if not has_cause(e, NAMESPACE_TERMINATING_CAUSE):
                self.recorder.event(owner, "Warning", FAILED_CREATE, f"Error creating: {e.message}")
            raise
        except Exception as e:
            self.recorder.event(owner, "Warning", FAILED_CREATE, f"Error creating: {e}")
            raise
        self.recorder.event(owner, "Normal", SUCCESSFUL_CREATE, f"Created pod: {created.metadata.name}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Any, uid: str = "") -> None:
        """Delete pod ``name`` (only if its uid is still ``uid``, when given).

        Raises ``StatusError`` 404 when it is already gone (no event), which
        callers usually treat as done.
        """
        try:
            await self.pods.delete(name, namespace, preconditions_uid=uid or None)
        except StatusError as e:
            if e.code == 404:
                raise
            if e.code == 409 and uid:  # the uid precondition failed: our pod is gone
                raise StatusError(404, "NotFound", f'pods "{name}" not found') from e
            self.recorder.event(owner, "Warning", FAILED_DELETE, f"Error deleting: {e.message}")
            raise
        except Exception as e:
            self.recorder.event(owner, "Warning", FAILED_DELETE, f"Error deleting: {e}")
            raise
        self.recorder.event(owner, "Normal", SUCCESSFUL_DELETE, f"Deleted pod: {name}")


async def slow_start_batch(
    count: int,
    fn: Callable[[], Awaitable[object]],
    initial_batch_size: int = SLOW_START_INITIAL_BATCH_SIZE,
) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in growing concurrent batches; ``(successes, first error)``.

    Batches are 1, 2, 4, ... (from ``initial_batch_size``, doubling, never
    more than what is left). After a batch with any failure no further batch
    starts: the error is returned with the number of calls that succeeded,
    and ``count - successes`` calls either failed or never happened.
    """
    remaining = count
    successes = 0
    batch = min(remaining, max(initial_batch_size, 1))
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        if errors:
            for err in errors:
                if isinstance(err, asyncio.CancelledError):
                    raise err
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# -------------------------------------------------------------------------- claiming


class ControllerRefManager:
    """Adopts matching orphans and releases non-matching children of one owner.

    ``claim(objs)`` returns the objects the owner controls afterwards: those
    with its controllerRef that match ``selector``, plus orphans it adopted.
    Objects controlled by someone else are left alone. Orphans are adopted
    only while the owner is not being deleted, and ``can_adopt`` (called at
    most once per manager, before the first adoption) re-reads the owner from
    the API server to make sure of it, since the cache may lag. Children are
    not released while the owner is being deleted (the garbage collector
    handles them).

    Adoption and release are strategic merge patches of
    ``metadata.ownerReferences`` that also carry the child's uid, so a
    replaced child (same name, new uid) is not touched. A child that is gone
    (404) or no longer valid (422) is skipped; other errors are collected and
    the first is raised after every object was tried.
    """

    def __init__(
        self,
        resource: ResourceClient,
        owner: Any,
        ref: OwnerReference,
        selector: LabelSelector,
        can_adopt: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.resource = resource
        self.owner = owner
        self.ref = ref
        self.selector = selector
        self._can_adopt = can_adopt
        self._adopt_checked: BaseException | bool = False

    @property
    def owner_deleting(self) -> bool:
        return self.owner.metadata.deletionTimestamp is not None

    async def _check_adopt(self) -> None:
        if self._adopt_checked is True:
            return
        if isinstance(self._adopt_checked, BaseException):
            raise self._adopt_checked
        try:
            if self._can_adopt is not None:
                await self._can_adopt()
        except Exception as e:
            self._adopt_checked = e
            raise
        self._adopt_checked = True

    async def claim(self, objs: Iterable[Any]) -> list[Any]:
        claimed: list[Any] = []
        first_error: BaseException | None = None
        uid = self.owner.metadata.uid
        for obj in objs:
            ref = controller_ref(obj)
            matches = self.selector.matches(obj.metadata.labels)
            try:
                if ref is not None:
                    if ref.uid != uid:
                        continue  # someone else's
                    if matches:
                        claimed.append(obj)
                    elif not self.owner_deleting:
                        await self.release(obj)
                    continue
                if self.owner_deleting or not matches or obj.metadata.deletionTimestamp is not None:
                    continue
                await self._check_adopt()
                claimed.append(await self.adopt(obj))
            except StatusError as e:
                if e.code in (404, 422):
                    continue
                first_error = first_error or e
            except Exception as e:
                if isinstance(e, asyncio.CancelledError):
                    raise
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return claimed

    async def adopt(self, obj: Any) -> Any:
        """Make ``owner`` the controller of ``obj``; returns the patched object."""
        patch = {
            "metadata": {
                "ownerReferences": [msgspec.to_builtins(self.ref)],
                "uid": obj.metadata.uid,
            }
        }
        return await self.resource.patch(obj.metadata.name, patch, "strategic", obj.metadata.namespace)

    async def release(self, obj: Any) -> Any:
        """Remove ``owner``'s ownerReference from ``obj``."""
        patch = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": self.owner.metadata.uid}],
                "uid": obj.metadata.uid,
            }
        }
        return await self.resource.patch(obj.metadata.name, patch, "strategic", obj.metadata.namespace)


def recheck_owner(get_fresh: Callable[[], Awaitable[Any]], owner: Any) -> Callable[[], Awaitable[None]]:
    """A ``can_adopt`` check: the owner, read from the API server, is the same object
    (uid) and not being deleted. Raises an error explaining why adoption is refused."""

    async def check() -> None:
        fresh = await get_fresh()
        if fresh.metadata.uid != owner.metadata.uid:
            raise RuntimeError(
                f"original {owner.metadata.namespace}/{owner.metadata.name} is gone: "
                f"got uid {fresh.metadata.uid}, wanted {owner.metadata.uid}"
            )
        if fresh.metadata.deletionTimestamp is not None:
            raise RuntimeError(
                f"{owner.metadata.namespace}/{owner.metadata.name} has just been deleted at "
                f"{fresh.metadata.deletionTimestamp}"
            )

    return check


# ------------------------------------------------------------------ scale-down order

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _deletion_cost(pod: Pod) -> int:
    value = pod.metadata.annotations.get(POD_DELETION_COST)
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _max_restarts(pod: Pod) -> int:
    return max((c.restartCount for c in pod.status.containerStatuses), default=0)


def _log_rank(t: float, now: float) -> int:
    age_ns = (now - t) * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _cmp_times(t1: float | None, t2: float | None, now: float) -> int:
    """Negative when the pod of ``t1`` goes first: no time, then younger, in power-of-two buckets."""
    if t1 == t2:
        return 0
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1
    r1, r2 = _log_rank(t1, now), _log_rank(t2, now)
    return (r1 > r2) - (r1 < r2)


def _compare_for_deletion(a: tuple[Pod, int], b: tuple[Pod, int], now: float) -> int:
    """Negative when pod ``a`` should be deleted before pod ``b`` (ActivePodsWithRanks)."""
    pa, rank_a = a
    pb, rank_b = b
    # 1. not yet scheduled before scheduled
    na, nb = pa.spec.nodeName or "", pb.spec.nodeName or ""
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    # 2. Pending < Unknown < Running
    oa, ob = _PHASE_ORDER.get(pa.status.phase, -1), _PHASE_ORDER.get(pb.status.phase, -1)
    if oa != ob:
        return -1 if oa < ob else 1
    # 3. not ready before ready
    ra, rb = is_pod_ready(pa), is_pod_ready(pb)
    if ra != rb:
        return -1 if not ra else 1
    # 4. lower deletion cost first
    ca, cb = _deletion_cost(pa), _deletion_cost(pb)
    if ca != cb:
        return -1 if ca < cb else 1
    # 5. more pods of the same family on its node first (doubled up)
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    # 6. ready for a shorter time first
    if ra and rb:
        c = _cmp_times(pod_ready_since(pa), pod_ready_since(pb), now)
        if c:
            return c
    # 7. more container restarts first
    xa, xb = _max_restarts(pa), _max_restarts(pb)
    if xa != xb:
        return -1 if xa > xb else 1
    # 8. newer first
    c = _cmp_times(parse_time(pa.metadata.creationTimestamp), parse_time(pb.metadata.creationTimestamp), now)
    if c:
        return c
    # then something stable, so that equal pods are picked the same way every time
    ka, kb = (pa.metadata.uid, pa.metadata.name), (pb.metadata.uid, pb.metadata.name)
    return (ka > kb) - (ka < kb)


def rank_pods_for_deletion(pods: Sequence[Pod], related: Iterable[Pod], now: float) -> list[Pod]:
    """``pods`` ordered as Kubernetes deletes them when scaling down, first victim first.

    ``related`` are the active pods of the same family (this owner's and,
    for a ReplicaSet of a Deployment, its siblings'); a pod whose node runs
    more of them ranks as doubled up and goes before one that is alone.
    """
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = p.spec.nodeName or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get(p.spec.nodeName or "", 0)) for p in pods]
    ranked.sort(key=functools.cmp_to_key(functools.partial(_compare_for_deletion, now=now)))
    return [p for p, _ in ranked]


def pods_to_delete(pods: Sequence[Pod], count: int, related: Iterable[Pod] | None, now: float) -> list[Pod]:
    """The ``count`` pods to delete first (all of them when ``count`` covers them)."""
    if count >= len(pods):
        return list(pods)
    return rank_pods_for_deletion(pods, pods if related is None else related, now)[:count]


def pod_key(pod: Pod) -> str:
    return meta_namespace_key(pod)
