"""The StatefulSet controller: pods with stable names, storage and order.

A sync of one StatefulSet (Kubernetes' semantics):

1. adopt orphaned ControllerRevisions and pods the selector matches (pods
   only when their name is ``<set>-<ordinal>``), release owned ones it no
   longer matches;
2. work out the current and update revisions: the set's template is
   recorded as a ControllerRevision (created, or an equal old one renumbered
   to roll back);
3. bring the pods to the wanted ordinals: missing ones are created (claims
   first), failed ones deleted to be recreated, ordinals beyond the wanted
   range deleted from the highest down. Under ``OrderedReady`` each step waits
   until every lower ordinal is Running and Ready (and available after
   ``minReadySeconds``); ``Parallel`` does all of it at once;
4. roll out the update revision (``RollingUpdate``): delete the highest pod
   at ordinal >= partition not yet updated, one at a time (or up to
   ``maxUnavailable``), waiting for it to come back ready; ``OnDelete``
   leaves that to the user;
5. write the status and drop revisions beyond ``revisionHistoryLimit``.

The pure rules live in ``statefulset_util``; revisions in ``history``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from kubelite.api import apps_v1, core_v1
from kubelite.api.errors import StatusError
from kubelite.api.selectors import LabelSelector, selector_from_api
from kubelite.client import lookup, split_key
from kubelite.controllers import history
from kubelite.controllers import statefulset_util as u
from kubelite.controllers.base import Controller, ControllerContext, controller_ref

SETS = lookup("apps", "v1", "StatefulSet")
PODS = lookup("", "v1", "Pod")
CLAIMS = lookup("", "v1", "PersistentVolumeClaim")

DEFAULT_HISTORY_LIMIT = 10
STATUS_RETRIES = 10
MAX_BATCH = 500


def label_selector(ss: apps_v1.StatefulSet) -> LabelSelector:
    """The set's selector (ValueError when it does not parse)."""
    return selector_from_api(None if ss.spec.selector is None else msgspec.to_builtins(ss.spec.selector))


class StatefulPodControl:
    """The writes the controller makes for pods and claims, with their Events."""

    def __init__(self, ctl: StatefulSetController) -> None:
        self.ctl = ctl
        self.pods = ctl.client.resource(PODS)
        self.claims = ctl.client.resource(CLAIMS)
        self.recorder = ctl.recorder

    def _pod_event(self, verb: str, ss: Any, pod: Any, err: Exception | None) -> None:
        name, set_name = pod.metadata.name, ss.metadata.name
        if err is None:
            self.recorder.event(
                ss,
                "Normal",
                f"Successful{verb}",
                f"{verb.lower()} Pod {name} in StatefulSet {set_name} successful",
            )
        else:
            self.recorder.event(
                ss,
                "Warning",
                f"Failed{verb}",
                f"{verb.lower()} Pod {name} in StatefulSet {set_name} failed error: {_message(err)}",
            )

    def _claim_event(self, ss: Any, pod: Any, claim: Any, err: Exception | None) -> None:
        names = (claim.metadata.name, pod.metadata.name, ss.metadata.name)
        if err is None:
            self.recorder.event(
                ss,
                "Normal",
                "SuccessfulCreate",
                "create Claim {} Pod {} in StatefulSet {} success".format(*names),
            )
        else:
            self.recorder.event(
                ss,
                "Warning",
                "FailedCreate",
                "create Claim {} for Pod {} in StatefulSet {} failed error: {}".format(*names, _message(err)),
            )

    async def create_claims(self, ss: apps_v1.StatefulSet, pod: Any) -> None:
        """Create the pod's missing claims; an error when one is being deleted."""
        problems: list[str] = []
        for claim in u.claims_for(ss, u.ordinal_of(pod)).values():
            existing = self.ctl.claim_informer.get_by(claim.metadata.namespace, claim.metadata.name)
            if existing is not None:
                if existing.metadata.deletionTimestamp is not None:
                    problems.append(f"pvc {claim.metadata.name} is being deleted")
                continue
            u.update_claim_owners(claim, ss, pod)
            try:
                await self.claims.create(claim, claim.metadata.namespace)
            except StatusError as e:
                if e.code == 409 and e.reason == "AlreadyExists":
                    continue  # our cache is behind
                self._claim_event(ss, pod, claim, e)
                problems.append(f"failed to create PVC {claim.metadata.name}: {_message(e)}")
                continue
            self._claim_event(ss, pod, claim, None)
        if problems:
            raise RuntimeError("; ".join(problems))

    def claims_stale(self, ss: apps_v1.StatefulSet, pod: Any) -> bool:
        """Whether a claim of a pod not yet created still belongs to an earlier pod (or is going)."""
        for claim in u.claims_for(ss, u.ordinal_of(pod)).values():
            existing = self.ctl.claim_informer.get_by(claim.metadata.namespace, claim.metadata.name)
            if existing is not None and u.claim_is_stale_for(existing, pod):
                return True
        return False

    async def create_pod(self, ss: apps_v1.StatefulSet, pod: core_v1.Pod) -> None:
        try:
            await self.create_claims(ss, pod)
        except Exception as e:
            self._pod_event("Create", ss, pod, e)
            raise
        try:
            await self.pods.create(pod, pod.metadata.namespace)
        except StatusError as e:
            if not (e.code == 409 and e.reason == "AlreadyExists"):
                self._pod_event("Create", ss, pod, e)
            raise
        self._pod_event("Create", ss, pod, None)

    async def delete_pod(self, ss: apps_v1.StatefulSet, pod: Any) -> None:
        try:
            await self.pods.delete(pod.metadata.name, pod.metadata.namespace)
        except StatusError as e:
            if e.code == 404:
                return
            self._pod_event("Delete", ss, pod, e)
            raise
        self._pod_event("Delete", ss, pod, None)

    async def update_pod(self, ss: apps_v1.StatefulSet, pod: Any) -> None:
        """Restore the identity labels, create missing claims, and fix claim ownership."""
        if not u.identity_matches(ss, pod):
            fixed = copy.deepcopy(pod)
            u.update_identity(ss, fixed)
            try:
                await self.pods.patch(
                    pod.metadata.name,
                    {"metadata": {"labels": fixed.metadata.labels, "uid": pod.metadata.uid}},
                    "strategic",
                    namespace=pod.metadata.namespace,
                )
            except StatusError as e:
                self._pod_event("Update", ss, pod, e)
                raise
            self._pod_event("Update", ss, pod, None)
        if not u.storage_matches(ss, pod) or self.claims_missing(ss, pod):
            await self.create_claims(ss, pod)
        await self.fix_claim_owners(ss, pod)

    def claims_missing(self, ss: apps_v1.StatefulSet, pod: Any) -> bool:
        return any(
            self.ctl.claim_informer.get_by(c.metadata.namespace, c.metadata.name) is None
            for c in u.claims_for(ss, u.ordinal_of(pod)).values()
        )

    def claim_owners_match(self, ss: apps_v1.StatefulSet, pod: Any) -> bool:
        for claim in u.claims_for(ss, u.ordinal_of(pod)).values():
            existing = self.ctl.claim_informer.get_by(claim.metadata.namespace, claim.metadata.name)
            if existing is not None and not u.claim_owners_up_to_date(existing, ss, pod):
                return False
        return True

    async def fix_claim_owners(self, ss: apps_v1.StatefulSet, pod: Any) -> None:
        for claim in u.claims_for(ss, u.ordinal_of(pod)).values():
            existing = self.ctl.claim_informer.get_by(claim.metadata.namespace, claim.metadata.name)
            if existing is None or u.claim_owners_up_to_date(existing, ss, pod):
                continue
            fixed = copy.deepcopy(existing)
            u.update_claim_owners(fixed, ss, pod)
            try:
                await self.claims.update(fixed, namespace=fixed.metadata.namespace)
            except StatusError as e:
                if e.code != 404:
                    raise


def _message(err: Exception) -> str:
    return err.message if isinstance(err, StatusError) else str(err)


class StatefulSetController(Controller):
    """Keeps each StatefulSet's ordinal pods, claims, revisions and status in line with its spec."""

    NAME = "statefulset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.set_informer = ctx.informers.informer_for(SETS)
        self.pod_informer = ctx.informers.informer_for(PODS)
        self.claim_informer = ctx.informers.informer_for(CLAIMS)
        self.revision_informer = ctx.informers.informer_for(history.REVISIONS)
        self.sets = self.client.resource(SETS)
        self.history = history.ControllerHistory(self.client, self.revision_informer)
        self.pod_control = StatefulPodControl(self)
        self.set_informer.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pod_informer.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # ------------------------------------------------------------ pod events

    def _resolve(self, namespace: str, ref: Any) -> apps_v1.StatefulSet | None:
        if ref.kind != u.KIND or not ref.apiVersion.startswith("apps/"):
            return None
        ss = self.set_informer.get_by(namespace, ref.name)
        if ss is None or ss.metadata.uid != ref.uid:
            return None
        return ss  # type: ignore[no-any-return]

    def _sets_selecting(self, pod: Any) -> list[apps_v1.StatefulSet]:
        found = []
        for ss in self.set_informer.by_index("namespace", pod.metadata.namespace):
            try:
                selector = label_selector(ss)
            except ValueError:
                continue
            if not selector.empty and selector.matches(pod.metadata.labels):
                found.append(ss)
        return found

    def _pod_added(self, pod: Any) -> None:
        if pod.metadata.deletionTimestamp is not None:
            self._pod_deleted(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            ss = self._resolve(pod.metadata.namespace, ref)
            if ss is not None:
                self.enqueue(ss)
            return
        for ss in self._sets_selecting(pod):
            self.enqueue(ss)

    def _pod_updated(self, old: Any, new: Any) -> None:
        if old.metadata.resourceVersion == new.metadata.resourceVersion:
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref is not None and (new_ref is None or old_ref.uid != new_ref.uid):
            ss = self._resolve(old.metadata.namespace, old_ref)
            if ss is not None:
                self.enqueue(ss)
        if new_ref is not None:
            ss = self._resolve(new.metadata.namespace, new_ref)
            if ss is not None:
                self.enqueue(ss)
            return
        if old.metadata.labels != new.metadata.labels or old_ref is not None:
            for ss in self._sets_selecting(new):
                self.enqueue(ss)

    def _pod_deleted(self, pod: Any) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        ss = self._resolve(pod.metadata.namespace, ref)
        if ss is not None:
            self.enqueue(ss)

    # ------------------------------------------------------------------ sync

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        ss = self.set_informer.get_by(namespace, name)
        if ss is None:
            return
        try:
            selector = label_selector(ss)
        except ValueError as e:
            self.recorder.event(ss, "Warning", "InvalidSelector", f"Error parsing selector: {e}")
            return
        await self._adopt_orphan_revisions(ss, selector)
        pods = await self._claim_pods(ss, selector)
        status = await self._update_stateful_set(ss, selector, pods)
        if ss.spec.minReadySeconds > 0 and status.availableReplicas != u.replicas_of(ss):
            self.enqueue_after(key, self._next_availability_check(ss, pods))

    def _next_availability_check(self, ss: apps_v1.StatefulSet, pods: Sequence[Any]) -> float:
        now = self.clock.now()
        waits = [
            w for p in pods if (w := u.seconds_until_available(p, ss.spec.minReadySeconds, now)) is not None
        ]
        return (min(waits) + 1.0) if waits else float(ss.spec.minReadySeconds)

    async def _can_adopt(self, ss: apps_v1.StatefulSet) -> bool:
        """Whether a fresh read still shows this set alive (so a deleted set adopts nothing)."""
        try:
            fresh = await self.sets.get(ss.metadata.name, ss.metadata.namespace)
        except StatusError as e:
            if e.code == 404:
                return False
            raise
        return bool(fresh.metadata.uid == ss.metadata.uid and fresh.metadata.deletionTimestamp is None)

    async def _adopt_orphan_revisions(self, ss: apps_v1.StatefulSet, selector: LabelSelector) -> None:
        orphans = [r for r in self.history.list(ss, selector) if controller_ref(r) is None]
        if not orphans or ss.metadata.deletionTimestamp is not None:
            return
        if not await self._can_adopt(ss):
            return
        for revision in orphans:
            await self.history.adopt(ss, u.API_VERSION, u.KIND, revision)

    async def _claim_pods(self, ss: apps_v1.StatefulSet, selector: LabelSelector) -> list[Any]:
        """The set's pods: owned and matching, plus orphans it adopts; releases owned misfits."""
        owned: list[Any] = []
        uid = ss.metadata.uid
        deleting = ss.metadata.deletionTimestamp is not None
        can_adopt: bool | None = None
        pods = self.pod_control.pods
        for pod in self.pod_informer.by_index("namespace", ss.metadata.namespace):
            matches = selector.matches(pod.metadata.labels) and u.is_member(ss, pod)
            ref = controller_ref(pod)
            if ref is not None:
                if ref.uid != uid:
                    continue
                if matches:
                    owned.append(pod)
                elif not deleting:
                    await self._patch_owner(pods, pod, {"$patch": "delete", "uid": uid})
                continue
            if not matches or deleting or pod.metadata.deletionTimestamp is not None:
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(ss)
            if not can_adopt:
                continue
            ref_doc = msgspec.to_builtins(u.controller_reference(ss))
            adopted = await self._patch_owner(pods, pod, ref_doc)
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _patch_owner(self, resource: Any, obj: Any, ref: dict[str, Any]) -> Any | None:
        patch = {"metadata": {"ownerReferences": [ref], "uid": obj.metadata.uid}}
        try:
            return await resource.patch(
                obj.metadata.name, patch, "strategic", namespace=obj.metadata.namespace
            )
        except StatusError as e:
            if e.code in (404, 409, 422):
                return None  # gone or replaced meanwhile: the next sync sees the truth
            raise

    # ----------------------------------------------------------- revisions

    async def _revisions_of(
        self, ss: apps_v1.StatefulSet, revisions: list[apps_v1.ControllerRevision]
    ) -> tuple[apps_v1.ControllerRevision, apps_v1.ControllerRevision, int]:
        """(current, update, collisionCount); creates or renumbers the update revision as needed."""
        collision_count = ss.status.collisionCount or 0
        update = u.new_set_revision(ss, history.next_revision_number(revisions), collision_count)
        equal = history.find_equal_revisions(revisions, update)
        if equal and history.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.history.update_revision_number(equal[-1], update.revision)
        else:
            update, collision_count = await self.history.create(ss, update, collision_count)
        current = next((r for r in revisions if r.metadata.name == ss.status.currentRevision), None)
        return current or update, update, collision_count

    async def _truncate_history(
        self,
        ss: apps_v1.StatefulSet,
        pods: Sequence[Any],
        revisions: list[apps_v1.ControllerRevision],
        live: set[str],
    ) -> None:
        live = (
            live | {u.pod_revision(p) for p in pods} | {ss.status.currentRevision, ss.status.updateRevision}
        )
        limit = ss.spec.revisionHistoryLimit
        for revision in history.revisions_to_truncate(
            revisions, live, DEFAULT_HISTORY_LIMIT if limit is None else limit
        ):
            await self.history.delete(revision)

    # ------------------------------------------------------------ the update

    async def _update_stateful_set(
        self, ss: apps_v1.StatefulSet, selector: LabelSelector, pods: list[Any]
    ) -> apps_v1.StatefulSetStatus:
        ss = copy.deepcopy(ss)
        revisions = history.sort_revisions(self.history.list(ss, selector))
        live: set[str] = set()
        try:
            current, update, collision_count = await self._revisions_of(ss, revisions)
            live = {current.metadata.name, update.metadata.name}
            status = apps_v1.StatefulSetStatus(
                observedGeneration=ss.metadata.generation,
                currentRevision=current.metadata.name,
                updateRevision=update.metadata.name,
                collisionCount=collision_count,
            )
            failure: Exception | None = None
            try:
                await self._reconcile_pods(ss, current, update, pods, status)
            except Exception as e:
                failure = e
            await self._write_status(ss, status)
            if failure is not None:
                raise failure
            return status
        finally:
            await self._truncate_history(ss, pods, revisions, live)

    def _count(self, ss: apps_v1.StatefulSet, status: apps_v1.StatefulSetStatus, pods: Sequence[Any]) -> None:
        counts = u.replica_counts(
            list(pods),
            ss.spec.minReadySeconds,
            self.clock.now(),
            status.currentRevision,
            status.updateRevision,
        )
        for field, value in counts.items():
            setattr(status, field, value)

    async def _reconcile_pods(
        self,
        ss: apps_v1.StatefulSet,
        current: apps_v1.ControllerRevision,
        update: apps_v1.ControllerRevision,
        pods: list[Any],
        status: apps_v1.StatefulSetStatus,
    ) -> None:
        current_set = u.apply_revision(ss, current)
        update_set = u.apply_revision(ss, update)
        min_ready = ss.spec.minReadySeconds
        now = self.clock.now()
        self._count(ss, status, pods)

        start, count = u.start_ordinal(ss), u.replicas_of(ss)
        slots: list[Any | None] = [None] * count
        condemned: list[Any] = []
        for pod in pods:
            ordinal = u.ordinal_of(pod)
            if u.in_ordinal_range(pod, ss):
                slots[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        replicas: list[Any] = [
            pod
            if pod is not None
            else u.new_versioned_pod(
                current_set, update_set, current.metadata.name, update.metadata.name, start + i
            )
            for i, pod in enumerate(slots)
        ]
        condemned.sort(key=u.ordinal_of, reverse=True)

        first_unhealthy: Any | None = None
        for pod in [*replicas, *reversed(condemned)]:
            if u.is_unavailable(pod, min_ready, now):
                first_unhealthy = pod
                break

        if ss.metadata.deletionTimestamp is not None:
            return
        monotonic = ss.spec.podManagementPolicy != u.PARALLEL
        everything = [*replicas, *condemned]

        async def replica(i: int) -> bool:
            return await self._process_replica(ss, update_set, monotonic, replicas[i], now)

        if await self._run_for_all(len(replicas), replica, monotonic):
            self._count(ss, status, everything)
            return

        async def fix_claims(i: int) -> bool:
            if not self.pod_control.claim_owners_match(update_set, condemned[i]):
                await self.pod_control.fix_claim_owners(update_set, condemned[i])
            return False

        if await self._run_for_all(len(condemned), fix_claims, monotonic):
            self._count(ss, status, everything)
            return

        async def condemn(i: int) -> bool:
            return await self._process_condemned(ss, first_unhealthy, monotonic, condemned[i], now)

        if await self._run_for_all(len(condemned), condemn, monotonic):
            self._count(ss, status, everything)
            return

        self._count(ss, status, everything)
        if ss.spec.updateStrategy.type == u.ON_DELETE:
            return
        for pod in u.pods_to_update(ss, replicas, update.metadata.name, now):
            await self.pod_control.delete_pod(ss, pod)
            # Only a pod that was counted as current (one without a revision label was not).
            if u.pod_revision(pod) == status.currentRevision and status.currentReplicas > 0:
                status.currentReplicas -= 1

    async def _run_for_all(self, n: int, fn: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
        """Run ``fn`` over 0..n-1: in order, stopping when it says so (monotonic), or in slow-start batches.

        Returns True when the caller should stop this sync. In parallel mode
        every item runs; the first failure of a batch is raised after it.
        """
        if monotonic:
            for i in range(n):
                if await fn(i):
                    return True
            return False
        done, batch = 0, 1
        while done < n:
            size = min(batch, n - done)
            results = await asyncio.gather(*(fn(i) for i in range(done, done + size)), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r
            done += size
            batch = min(batch * 2, MAX_BATCH)
        return False

    async def _process_replica(
        self, ss: apps_v1.StatefulSet, update_set: apps_v1.StatefulSet, monotonic: bool, pod: Any, now: float
    ) -> bool:
        """Bring one wanted ordinal along; True when a monotonic sync must stop here."""
        if u.is_failed(pod) or u.is_succeeded(pod):
            # A finished pod is replaced (whatever its exit code) once its deletion is observed.
            if not u.is_terminating(pod):
                await self.pod_control.delete_pod(ss, pod)
            return True
        if not u.is_created(pod):
            if self.pod_control.claims_stale(ss, pod):
                return True
            await self.pod_control.create_pod(ss, pod)
            return monotonic
        if u.is_pending(pod):
            await self.pod_control.create_claims(ss, pod)
        if monotonic and (
            u.is_terminating(pod)
            or not u.is_running_and_ready(pod)
            or not u.is_running_and_available(pod, ss.spec.minReadySeconds, now)
        ):
            return True
        if (
            u.identity_matches(ss, pod)
            and u.storage_matches(ss, pod)
            and self.pod_control.claim_owners_match(update_set, pod)
        ):
            return False
        await self.pod_control.update_pod(update_set, pod)
        return False

    async def _process_condemned(
        self, ss: apps_v1.StatefulSet, first_unhealthy: Any | None, monotonic: bool, pod: Any, now: float
    ) -> bool:
        """Delete one pod beyond the wanted ordinals; monotonic syncs wait for the others' health."""
        if u.is_terminating(pod):
            return monotonic
        # An unhealthy pod goes first only if it is the lowest unhealthy one; others wait for it.
        if monotonic and pod is not first_unhealthy and u.is_unavailable(pod, ss.spec.minReadySeconds, now):
            return True
        await self.pod_control.delete_pod(ss, pod)
        return True

    # ---------------------------------------------------------------- status

    async def _write_status(self, ss: apps_v1.StatefulSet, status: apps_v1.StatefulSetStatus) -> None:
        u.complete_rolling_update(ss, status)
        if not u.status_differs(ss, status):
            return
        obj = copy.deepcopy(ss)
        for _ in range(STATUS_RETRIES):
            obj.status = copy.deepcopy(status)
            try:
                await self.sets.update_status(obj, obj.metadata.namespace)
                return
            except StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
            obj = await self.sets.get(ss.metadata.name, ss.metadata.namespace)
            if obj.metadata.uid != ss.metadata.uid:
                return
        raise RuntimeError(f"status of StatefulSet {ss.metadata.name}: too many conflicts")
