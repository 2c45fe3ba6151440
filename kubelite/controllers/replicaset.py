"""The ReplicaSet controller, and the ReplicationController controller as the same
code behind an adapter.

For each ReplicaSet (``sync``): take the active pods of its namespace,
claim the ones its selector matches (adopt matching orphans, release owned
pods that stopped matching), then, when its expectations are met and it is
not being deleted, create or delete the difference to ``spec.replicas``:
creations in slow-start batches, deletions picking the pods Kubernetes
would (``podcontrol.pods_to_delete``). Finally the status (replicas,
fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration
and a ReplicaFailure condition while creating or deleting fails) is written
through the status subresource, only when it changed. With
``minReadySeconds``, the ReplicaSet is looked at again when its next ready
pod becomes available.

Pod events feed the expectations and the queue: an add is a creation
observed for its controller (an orphan wakes every ReplicaSet that matches
it), a label or controllerRef change wakes the old and the new owners, a
deletion (or the start of one) is a deletion observed.

A ReplicationController is a ReplicaSet with a plain-map selector. Instead
of a second controller, ``ReplicationControllerController`` is this class
with another ``OwnerKind``: it reads ReplicationControllers, converts each
to the ReplicaSet shape for the sync, and writes status back to the
ReplicationController resource; pods get a ``v1/ReplicationController``
controllerRef and events name the ReplicationController.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import msgspec

from kubelite.api import apps_v1, core_v1
from kubelite.api.errors import StatusError
from kubelite.api.meta import LabelSelector as APILabelSelector
from kubelite.api.resources import Resource
from kubelite.api.selectors import LabelSelector, selector_from_api, selector_from_set
from kubelite.api.timestamps import rfc3339
from kubelite.client import lookup, split_key
from kubelite.client.objects import meta_namespace_key
from kubelite.controllers.base import (
    Controller,
    ControllerContext,
    Expectations,
    controller_ref,
    new_controller_ref,
    resolve_controller_ref,
)
from kubelite.controllers.podcontrol import (
    BURST_REPLICAS,
    CONTROLLER_UID_INDEX,
    NAMESPACE_TERMINATING_CAUSE,
    PODS,
    ControllerRefManager,
    PodControl,
    available_in,
    controller_uid_index,
    has_cause,
    is_not_found,
    is_pod_active,
    is_pod_ready,
    orphan_index_key,
    pod_key,
    pods_to_delete,
    recheck_owner,
    slow_start_batch,
)

REPLICA_FAILURE = "ReplicaFailure"
NAMESPACE_INDEX = "namespace"


class OwnerKind:
    """How the controller sees the kind it manages: ReplicaSets as they are."""

    group: ClassVar[str] = "apps"
    version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "ReplicaSet"

    def __init__(self) -> None:
        self.resource: Resource = lookup(self.group, self.version, self.kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def to_replica_set(self, obj: Any) -> apps_v1.ReplicaSet:
        """The object in ReplicaSet shape (shares, not copies, the parts it can)."""
        rs: apps_v1.ReplicaSet = obj
        return rs

    def with_status(self, obj: Any, status: apps_v1.ReplicaSetStatus) -> Any:
        """``obj`` (of this kind) with ``status`` (ReplicaSet shape) in its own shape."""
        return msgspec.structs.replace(obj, status=status)


class ReplicationControllerKind(OwnerKind):
    """ReplicationControllers, converted to and from the ReplicaSet shape."""

    group = ""
    version = "v1"
    kind = "ReplicationController"

    def to_replica_set(self, obj: Any) -> apps_v1.ReplicaSet:
        rc: core_v1.ReplicationController = obj
        # An RC's selector is a map; an empty one matches nothing here (the API server
        # defaults it to the template's labels, so only a broken object has none).
        selector = APILabelSelector(matchLabels=dict(rc.spec.selector)) if rc.spec.selector else None
        status = rc.status
        return apps_v1.ReplicaSet(
            kind="ReplicaSet",
            apiVersion="apps/v1",
            metadata=rc.metadata,
            spec=apps_v1.ReplicaSetSpec(
                replicas=rc.spec.replicas,
                minReadySeconds=rc.spec.minReadySeconds,
                selector=selector,
                template=rc.spec.template or core_v1.PodTemplateSpec(),
            ),
            status=apps_v1.ReplicaSetStatus(
                replicas=status.replicas,
                fullyLabeledReplicas=status.fullyLabeledReplicas,
                readyReplicas=status.readyReplicas,
                availableReplicas=status.availableReplicas,
                observedGeneration=status.observedGeneration,
                conditions=[
                    msgspec.convert(msgspec.to_builtins(c), apps_v1.ReplicaSetCondition)
                    for c in status.conditions
                ],
            ),
        )

    def with_status(self, obj: Any, status: apps_v1.ReplicaSetStatus) -> Any:
        rc_status = core_v1.ReplicationControllerStatus(
            replicas=status.replicas,
            fullyLabeledReplicas=status.fullyLabeledReplicas,
            readyReplicas=status.readyReplicas,
            availableReplicas=status.availableReplicas,
            observedGeneration=status.observedGeneration,
            conditions=[
                msgspec.convert(msgspec.to_builtins(c), core_v1.ReplicationControllerCondition)
                for c in status.conditions
            ],
        )
        return msgspec.structs.replace(obj, status=rc_status)


def _selector_of(rs: apps_v1.ReplicaSet) -> LabelSelector:
    """The pod selector (ValueError when it cannot be parsed)."""
    if rs.spec.selector is None:
        return LabelSelector.nothing()
    return selector_from_api(msgspec.to_builtins(rs.spec.selector))


def _status_equal(a: apps_v1.ReplicaSetStatus, b: apps_v1.ReplicaSetStatus) -> bool:
    return msgspec.to_builtins(a) == msgspec.to_builtins(b)


class ReplicaSetController(Controller):
    """Keeps ``spec.replicas`` pods running for every ReplicaSet (see the module docstring)."""

    NAME = "replicaset"
    OWNER_KIND: ClassVar[type[OwnerKind]] = OwnerKind

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.owner_kind = self.OWNER_KIND()
        self.owners_api = ctx.client.resource(self.owner_kind.resource)
        self.pods_api = ctx.client.resource(PODS)
        self.owners = ctx.informers.informer_for(self.owner_kind.resource)
        self.pods = ctx.informers.informer_for(PODS)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.expectations = Expectations(ctx.clock)
        self.pod_control = PodControl(self.pods_api, ctx.recorder)
        self.owners.add_handler(self._owner_added, self._owner_updated, self._owner_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # ------------------------------------------------------------- owner events

    def _owner_added(self, obj: Any) -> None:
        self.enqueue(obj)

    def _owner_updated(self, old: Any, cur: Any) -> None:
        if old.metadata.uid != cur.metadata.uid:
            self._owner_deleted(old)  # deleted and recreated under the same name
        self.enqueue(cur)

    def _owner_deleted(self, obj: Any) -> None:
        key = meta_namespace_key(obj)
        self.expectations.forget(key)
        self.enqueue(key)

    # --------------------------------------------------------------- pod events

    def _resolve(self, pod: core_v1.Pod, ref: Any) -> Any | None:
        return resolve_controller_ref(self.owners, pod.metadata.namespace, ref, self.owner_kind.kind)

    def _matching_owners(self, pod: core_v1.Pod) -> Iterator[Any]:
        """Owners in the pod's namespace whose selector matches it (empty selectors match nothing)."""
        for owner in self.owners.by_index(NAMESPACE_INDEX, pod.metadata.namespace):
            try:
                selector = _selector_of(self.owner_kind.to_replica_set(owner))
            except ValueError:
                continue
            if not selector.empty and selector.matches(pod.metadata.labels):
                yield owner

    def _pod_added(self, pod: core_v1.Pod) -> None:
        if pod.metadata.deletionTimestamp is not None:
            self._pod_deleted(pod)  # seen for the first time already terminating
            return
        ref = controller_ref(pod)
        if ref is not None:
            owner = self._resolve(pod, ref)
            if owner is not None:
                key = meta_namespace_key(owner)
                self.expectations.creation_observed(key)
                self.enqueue(key)
            return
        for owner in self._matching_owners(pod):  # an orphan: whoever matches may adopt it
            self.enqueue(owner)

    def _pod_updated(self, old: core_v1.Pod, cur: core_v1.Pod) -> None:
        if old.metadata.resourceVersion == cur.metadata.resourceVersion:
            return  # a resync: nothing changed
        labels_changed = old.metadata.labels != cur.metadata.labels
        if cur.metadata.deletionTimestamp is not None:
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = (cur_ref.uid if cur_ref else None) != (old_ref.uid if old_ref else None)
        if ref_changed and old_ref is not None:
            old_owner = self._resolve(old, old_ref)
            if old_owner is not None:
                self.enqueue(old_owner)
        if cur_ref is not None:
            owner = self._resolve(cur, cur_ref)
            if owner is None:
                return
            self.enqueue(owner)
            min_ready = self.owner_kind.to_replica_set(owner).spec.minReadySeconds
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                self.enqueue_after(owner, min_ready)
            return
        if labels_changed or ref_changed:
            for owner in self._matching_owners(cur):
                self.enqueue(owner)

    def _pod_deleted(self, pod: core_v1.Pod) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        owner = self._resolve(pod, ref)
        if owner is None:
            return
        key = meta_namespace_key(owner)
        self.expectations.deletion_observed(key, pod_key(pod))
        self.enqueue(key)

    # --------------------------------------------------------------------- sync

    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        native = self.owners.get(key)
        if native is None:
            self.expectations.forget(key)
            return
        rs = self.owner_kind.to_replica_set(native)
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = _selector_of(rs)
        except ValueError as e:
            self.log.warning("%s %s: invalid selector: %s", self.owner_kind.kind, key, e)
            return

        # The pods it may claim: its own (to keep or release) and the namespace's orphans (to
        # adopt); pods of other controllers are never touched, so they need not be scanned.
        candidates = self.pods.by_index(CONTROLLER_UID_INDEX, native.metadata.uid)
        candidates += self.pods.by_index(CONTROLLER_UID_INDEX, orphan_index_key(namespace))
        active = sorted((p for p in candidates if is_pod_active(p)), key=lambda p: p.metadata.name)
        pods = await self._claim(native, selector, active)

        error: BaseException | None = None
        if needs_sync and native.metadata.deletionTimestamp is None:
            try:
                await self._manage_replicas(key, native, rs, pods)
            except Exception as e:
                error = e
        now = self.clock.now()
        status = calculate_status(rs, pods, error, now)
        await self._update_status(native, rs, status)

        if error is None and rs.spec.minReadySeconds > 0:
            waits = [w for p in pods if (w := available_in(p, rs.spec.minReadySeconds, now))]
            if waits:
                self.enqueue_after(key, min(waits))
        if error is not None:
            raise error

    async def _claim(
        self, native: Any, selector: LabelSelector, pods: list[core_v1.Pod]
    ) -> list[core_v1.Pod]:
        ref = new_controller_ref(native, self.owner_kind.api_version, self.owner_kind.kind)

        async def fresh() -> Any:
            return await self.owners_api.get(native.metadata.name, native.metadata.namespace)

        manager = ControllerRefManager(self.pods_api, native, ref, selector, recheck_owner(fresh, native))
        claimed: list[core_v1.Pod] = await manager.claim(pods)
        return claimed

    async def _manage_replicas(
        self, key: str, native: Any, rs: apps_v1.ReplicaSet, pods: list[core_v1.Pod]
    ) -> None:
        """Create or delete pods towards ``spec.replicas``; raises the first write error."""
        replicas = rs.spec.replicas if rs.spec.replicas is not None else 1
        diff = len(pods) - replicas
        namespace = native.metadata.namespace
        if diff < 0:
            wanted = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, wanted)
            ref = new_controller_ref(native, self.owner_kind.api_version, self.owner_kind.kind)

            async def create() -> None:
                try:
                    await self.pod_control.create_pod(namespace, rs.spec.template, native, ref)
                except StatusError as e:
                    if has_cause(e, NAMESPACE_TERMINATING_CAUSE):
                        # The namespace is going away: nothing to create, nothing to wait for.
                        self.expectations.creation_observed(key)
                        return
                    raise

            self.log.debug(
                "%s %s: creating %d pods (%d/%d)", self.owner_kind.kind, key, wanted, len(pods), replicas
            )
            created, error = await slow_start_batch(wanted, create)
            for _ in range(wanted - created):  # failed or never tried: no add event will come
                self.expectations.creation_observed(key)
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pods_to_delete(pods, count, self._related_pods(native, pods), self.clock.now())
            self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
            self.log.debug(
                "%s %s: deleting %d pods (%d/%d)", self.owner_kind.kind, key, count, len(pods), replicas
            )
            results = await _gather_deletes(self.pod_control, native, victims)
            first: BaseException | None = None
            for pod, err in zip(victims, results, strict=True):
                if err is None:
                    continue
                self.expectations.deletion_observed(key, pod_key(pod))
                if not is_not_found(err):
                    first = first or err
            if first is not None:
                raise first

    def _related_pods(self, native: Any, pods: list[core_v1.Pod]) -> list[core_v1.Pod]:
        """This owner's pods plus those of its siblings under the same controller (a Deployment's
        ReplicaSets), for ranking pods that share a node."""
        parent = controller_ref(native)
        if parent is None:
            return pods
        related: list[core_v1.Pod] = []
        for sibling in self.owners.by_index(NAMESPACE_INDEX, native.metadata.namespace):
            ref = controller_ref(sibling)
            if ref is not None and ref.uid == parent.uid:
                related.extend(self.pods.by_index(CONTROLLER_UID_INDEX, sibling.metadata.uid))
        return related

    async def _update_status(
        self, native: Any, rs: apps_v1.ReplicaSet, status: apps_v1.ReplicaSetStatus
    ) -> None:
        """Write ``status`` (with observedGeneration) unless it is what is stored; one retry on conflict."""
        generation = native.metadata.generation
        status = msgspec.structs.replace(status, observedGeneration=rs.status.observedGeneration)
        if rs.status.observedGeneration == generation and _status_equal(rs.status, status):
            return
        status = msgspec.structs.replace(status, observedGeneration=generation)
        obj = self.owner_kind.with_status(native, status)
        try:
            await self.owners_api.update_status(obj)
            return
        except StatusError as e:
            if e.code == 404:
                return  # deleted meanwhile: its delete event ends the story
            if e.code != 409:
                raise
        fresh = await self.owners_api.get(native.metadata.name, native.metadata.namespace)
        if fresh.metadata.uid != native.metadata.uid:
            return
        status = msgspec.structs.replace(status, observedGeneration=fresh.metadata.generation)
        await self.owners_api.update_status(self.owner_kind.with_status(fresh, status))


async def _gather_deletes(
    pod_control: PodControl, owner: Any, victims: list[core_v1.Pod]
) -> list[BaseException | None]:
    async def delete(pod: core_v1.Pod) -> None:
        await pod_control.delete_pod(pod.metadata.namespace, pod.metadata.name, owner, pod.metadata.uid)

    results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
    out: list[BaseException | None] = []
    for r in results:
        if isinstance(r, asyncio.CancelledError):
            raise r
        out.append(r if isinstance(r, BaseException) else None)
    return out


def calculate_status(
    rs: apps_v1.ReplicaSet, pods: list[core_v1.Pod], error: BaseException | None, now: float
) -> apps_v1.ReplicaSetStatus:
    """The status ``pods`` (the claimed active pods) give ``rs``; observedGeneration left as is.

    A ReplicaFailure condition (FailedCreate/FailedDelete, the error's
    message) is added when managing replicas failed and there is none yet,
    and removed once a sync succeeds.
    """
    template_selector = selector_from_set(rs.spec.template.metadata.labels)
    fully_labeled = ready = available = 0
    for pod in pods:
        if template_selector.matches(pod.metadata.labels):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if available_in(pod, rs.spec.minReadySeconds, now) == 0.0:
                available += 1
    conditions = list(rs.status.conditions)
    failure = next((c for c in conditions if c.type == REPLICA_FAILURE), None)
    if error is not None and failure is None:
        replicas = rs.spec.replicas if rs.spec.replicas is not None else 1
        reason = "FailedCreate" if len(pods) < replicas else "FailedDelete"
        message = error.message if isinstance(error, StatusError) else str(error)
        conditions.append(
            apps_v1.ReplicaSetCondition(
                type=REPLICA_FAILURE,
                status="True",
                reason=reason,
                message=message,
                lastTransitionTime=rfc3339(now),
            )
        )
    elif error is None and failure is not None:
        conditions = [c for c in conditions if c.type != REPLICA_FAILURE]
    return apps_v1.ReplicaSetStatus(
        replicas=len(pods),
        fullyLabeledReplicas=fully_labeled,
        readyReplicas=ready,
        availableReplicas=available,
        terminatingReplicas=rs.status.terminatingReplicas,
        observedGeneration=rs.status.observedGeneration,
        conditions=conditions,
    )


class ReplicationControllerController(ReplicaSetController):
    """The ReplicaSet controller for ReplicationControllers (the adapter does the rest)."""

    NAME = "replicationcontroller"
    OWNER_KIND = ReplicationControllerKind
