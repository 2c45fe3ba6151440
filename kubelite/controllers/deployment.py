"""The Deployment controller: ReplicaSets per pod template, rolled out by strategy.

For each Deployment (``sync``), as Kubernetes' deployment controller does:

1. claim ReplicaSets: adopt orphans its selector matches, release owned
   ones that stopped matching;
2. being deleted: only report status; paused, or ``spec.replicas`` changed
   (a ReplicaSet's ``desired-replicas`` annotation differs): scale the
   ReplicaSets proportionally (``scale``) and report status; otherwise
3. roll out by strategy (``rollout.py``): RollingUpdate within maxSurge and
   maxUnavailable, or Recreate (old pods gone before new ones start).

The *new* ReplicaSet is the one whose template equals the Deployment's
(``pod-template-hash`` label aside), so a rollback (kubectl patches the old
template back) finds the old ReplicaSet again and gives it the next
revision. ReplicaSets are named ``<deployment>-<hash>`` and carry the hash
in their selector and template labels; the ReplicaSet controller makes the
pods.

Its own writes are never acted on twice: after writing a ReplicaSet or the
Deployment it waits until the informer cache holds that version (or a later
one) before the next sync of that Deployment, so decisions are never made
from a cache older than what it wrote. Scaling writes are merge patches of
``spec.replicas`` and the replicas annotations, which cannot conflict with
the ReplicaSet controller's status writes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kubelite.api import apps_v1
from kubelite.api.errors import StatusError
from kubelite.api.meta import LabelSelector as APILabelSelector
from kubelite.api.meta import ObjectMeta
from kubelite.api.selectors import selector_from_api
from kubelite.client import lookup
from kubelite.client.objects import meta_namespace_key
from kubelite.controllers import deployment_util as du
from kubelite.controllers import rollout
from kubelite.controllers.base import (
    Controller,
    ControllerContext,
    controller_ref,
    new_controller_ref,
    resolve_controller_ref,
)
from kubelite.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    PODS,
    ControllerRefManager,
    controller_uid_index,
    recheck_owner,
)

DEPLOYMENTS = lookup("apps", "v1", "Deployment")
REPLICA_SETS = lookup("apps", "v1", "ReplicaSet")
NAMESPACE_INDEX = "namespace"
OWN_WRITE_WAIT = 30.0  # seconds to wait for the cache to show our own write before acting anyway
PATCH_TRIES = 5
RECHECK_AFTER = 5.0  # a sync that waits for the cache looks again this soon even without an event


def clone(obj: Any) -> Any:
    """A deep copy of a typed object (cached objects are shared and read-only)."""
    return msgspec.json.decode(msgspec.json.encode(obj), type=type(obj))


def _rv(obj: Any) -> int:
    try:
        return int(obj.metadata.resourceVersion)
    except (TypeError, ValueError):
        return 0


class DeploymentController(Controller):
    """Drives Deployments through their ReplicaSets (see the module docstring)."""

    NAME = "deployment"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.deployments_api = ctx.client.resource(DEPLOYMENTS)
        self.rs_api = ctx.client.resource(REPLICA_SETS)
        self.deployments = ctx.informers.informer_for(DEPLOYMENTS)
        self.replica_sets = ctx.informers.informer_for(REPLICA_SETS)
        self.pods = ctx.informers.informer_for(PODS)
        self.replica_sets.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        # deployment key -> {object key -> resourceVersion we wrote, since}
        self._written: dict[str, dict[str, tuple[int, float]]] = {}
        self.deployments.add_handler(self.enqueue, self._deployment_updated, self._deployment_deleted)
        self.replica_sets.add_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pods.add_handler(on_delete=self._pod_deleted)

    # ------------------------------------------------------------------ events

    def _deployment_updated(self, old: Any, cur: Any) -> None:
        self.enqueue(cur)

    def _deployment_deleted(self, obj: Any) -> None:
        key = meta_namespace_key(obj)
        self._written.pop(key, None)
        self.enqueue(key)

    def _owner_of(self, rs: Any) -> Any | None:
        return resolve_controller_ref(
            self.deployments, rs.metadata.namespace, controller_ref(rs), "Deployment"
        )

    def _matching_deployments(self, rs: Any) -> list[Any]:
        found = []
        for d in self.deployments.by_index(NAMESPACE_INDEX, rs.metadata.namespace):
            try:
                selector = selector_from_api(_selector_dict(d.spec.selector))
            except ValueError:
                continue
            if not selector.empty and selector.matches(rs.metadata.labels):
                found.append(d)
        return found

    def _rs_added(self, rs: Any) -> None:
        if rs.metadata.deletionTimestamp is not None:
            self._rs_deleted(rs)
            return
        ref = controller_ref(rs)
        if ref is not None:
            owner = self._owner_of(rs)
            if owner is not None:
                self.enqueue(owner)
            return
        for d in self._matching_deployments(rs):  # an orphan: whoever matches may adopt it
            self.enqueue(d)

    def _rs_updated(self, old: Any, cur: Any) -> None:
        if old.metadata.resourceVersion == cur.metadata.resourceVersion:
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = (cur_ref.uid if cur_ref else None) != (old_ref.uid if old_ref else None)
        if ref_changed and old_ref is not None:
            owner = self._owner_of(old)
            if owner is not None:
                self.enqueue(owner)
        if cur_ref is not None:
            owner = self._owner_of(cur)
            if owner is not None:
                self.enqueue(owner)
            return
        if ref_changed or old.metadata.labels != cur.metadata.labels:
            for d in self._matching_deployments(cur):
                self.enqueue(d)

    def _rs_deleted(self, rs: Any) -> None:
        rs_key = meta_namespace_key(rs)
        for written in self._written.values():
            written.pop(rs_key, None)
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)

    def _pod_deleted(self, pod: Any) -> None:
        # Only Recreate waits for pods to be gone; every other change reaches us through ReplicaSet status.
        ref = controller_ref(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.replica_sets.get_by(pod.metadata.namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return
        d = self._owner_of(rs)
        if d is not None and d.spec.strategy.type == du.RECREATE:
            self.enqueue(d)

    # --------------------------------------------------------- our own writes

    def _remember(self, dkey: str, obj: Any) -> None:
        self._written.setdefault(dkey, {})[meta_namespace_key(obj)] = (_rv(obj), self.clock.monotonic())

    def _cache_caught_up(self, dkey: str) -> bool:
        """Whether the caches show every write this controller made for ``dkey``."""
        written = self._written.get(dkey)
        if not written:
            return True
        now = self.clock.monotonic()
        for key, (rv, since) in list(written.items()):
            informer = self.deployments if key == dkey else self.replica_sets
            cached = informer.get(key)
            if (cached is not None and _rv(cached) >= rv) or now - since > OWN_WRITE_WAIT:
                del written[key]
        return not written

    # -------------------------------------------------------------------- sync

    async def sync(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            self._written.pop(key, None)
            return
        if not self._cache_caught_up(key):
            self.log.debug("%s: waiting for the caches to show this controller's own writes", key)
            self.enqueue_after(key, RECHECK_AFTER)
            return
        d: apps_v1.Deployment = clone(cached)
        selector = d.spec.selector
        if selector is None or (not selector.matchLabels and not selector.matchExpressions):
            self.recorder.event(
                d,
                "Warning",
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            if d.status.observedGeneration < d.metadata.generation:
                d.status.observedGeneration = d.metadata.generation
                await self.update_status(key, d)
            return
        rss = await self._claim_replica_sets(d)
        if d.metadata.deletionTimestamp is not None:
            await self.sync_status_only(d, rss)
            return
        await self._check_paused_conditions(d)
        if d.spec.paused or await self._is_scaling_event(d, rss):
            await self.sync_scale(d, rss)
            return
        if d.spec.strategy.type == du.RECREATE:
            await rollout.rollout_recreate(self, d, rss, self._pod_map(d, rss))
        else:
            await rollout.rollout_rolling(self, d, rss)

    async def _claim_replica_sets(self, d: apps_v1.Deployment) -> list[apps_v1.ReplicaSet]:
        selector = selector_from_api(_selector_dict(d.spec.selector))
        ns = d.metadata.namespace

        async def fresh() -> Any:
            return await self.deployments_api.get(d.metadata.name, ns)

        manager = ControllerRefManager(
            self.rs_api,
            d,
            new_controller_ref(d, "apps/v1", "Deployment"),
            selector,
            recheck_owner(fresh, d),
        )
        claimed: list[apps_v1.ReplicaSet] = await manager.claim(
            self.replica_sets.by_index(NAMESPACE_INDEX, ns)
        )
        return claimed

    def _pod_map(self, d: apps_v1.Deployment, rss: list[apps_v1.ReplicaSet]) -> dict[str, list[Any]]:
        """Pods of each claimed ReplicaSet (by its uid), from the cache."""
        return {rs.metadata.uid: self.pods.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid) for rs in rss}

    # ------------------------------------------------------------------ writes

    async def update_status(self, key: str, d: apps_v1.Deployment) -> None:
        """Write ``d``'s status (and metadata: the revision annotation travels with it, as in Kubernetes)."""
        written = await self.deployments_api.update_status(d)
        d.metadata.resourceVersion = written.metadata.resourceVersion
        self._remember(key, written)

    async def _patch_rs(self, rs: apps_v1.ReplicaSet, patch: dict[str, Any]) -> apps_v1.ReplicaSet:
        """Merge-patch ``rs``. The patch has no resourceVersion, so a 409 only means the server
        lost a race with another writer (the ReplicaSet controller's status): try again."""
        for attempt in range(PATCH_TRIES):
            try:
                updated: apps_v1.ReplicaSet = await self.rs_api.patch(
                    rs.metadata.name, patch, "merge", rs.metadata.namespace
                )
                return updated
            except StatusError as e:
                if e.code != 409 or attempt == PATCH_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def scale_rs(
        self, d: apps_v1.Deployment, rs: apps_v1.ReplicaSet, new_scale: int, operation: str
    ) -> tuple[bool, apps_v1.ReplicaSet]:
        """Set ``rs`` to ``new_scale`` replicas and its replicas annotations to ``d``'s; (scaled, rs)."""
        size_changes = du.replicas_of(rs) != new_scale
        if not size_changes and not du.replicas_annotations_need_update(rs, d):
            return False, rs
        old = du.replicas_of(rs)
        patch = {"metadata": {"annotations": du.replicas_annotations(d)}, "spec": {"replicas": new_scale}}
        updated = await self._patch_rs(rs, patch)
        self._remember(meta_namespace_key(d), updated)
        if size_changes:
            self.log.debug(
                "%s: scaled %s %s from %d to %d", d.metadata.name, operation, rs.metadata.name, old, new_scale
            )
            self.recorder.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {rs.metadata.name} from {old} to {new_scale}",
            )
        return size_changes, updated

    async def scale_rs_and_record(
        self, d: apps_v1.Deployment, rs: apps_v1.ReplicaSet, new_scale: int
    ) -> tuple[bool, apps_v1.ReplicaSet]:
        if du.replicas_of(rs) == new_scale:
            return False, rs
        operation = "up" if du.replicas_of(rs) < new_scale else "down"
        return await self.scale_rs(d, rs, new_scale, operation)

    # ------------------------------------------------- new and old ReplicaSets

    async def get_all_rss_and_sync_revision(
        self, d: apps_v1.Deployment, rss: list[apps_v1.ReplicaSet], create: bool
    ) -> tuple[apps_v1.ReplicaSet | None, list[apps_v1.ReplicaSet]]:
        """(new ReplicaSet or None, old ones); the new one gets the next revision, created if asked."""
        old_rss = du.find_old_rss(d, rss)
        new_rs = await self._get_new_rs(d, rss, old_rss, create)
        return new_rs, old_rss

    async def _get_new_rs(
        self,
        d: apps_v1.Deployment,
        rss: list[apps_v1.ReplicaSet],
        old_rss: list[apps_v1.ReplicaSet],
        create: bool,
    ) -> apps_v1.ReplicaSet | None:
        key = meta_namespace_key(d)
        existing = du.find_new_rs(d, rss)
        new_revision = du.max_revision(old_rss) + 1
        if existing is not None:
            annotations = du.new_rs_annotations(d, existing.metadata.annotations, new_revision, exists=True)
            if (
                annotations != existing.metadata.annotations
                or existing.spec.minReadySeconds != d.spec.minReadySeconds
            ):
                patch = {
                    "metadata": {"annotations": annotations},
                    "spec": {"minReadySeconds": d.spec.minReadySeconds},
                }
                updated = await self._patch_rs(existing, patch)
                self._remember(key, updated)
                return updated
            needs_update = _set_revision(d, existing.metadata.annotations.get(du.REVISION_ANNOTATION, ""))
            if du.has_progress_deadline(d) and du.get_condition(d.status, du.PROGRESSING) is None:
                msg = f'Found new replica set "{existing.metadata.name}"'
                du.set_condition(
                    d.status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, msg, self.clock.now())
                )
                needs_update = True
            if needs_update:
                await self.update_status(key, d)
            return existing
        if not create:
            return None
        return await self._create_new_rs(d, old_rss, new_revision)

    async def _create_new_rs(
        self, d: apps_v1.Deployment, old_rss: list[apps_v1.ReplicaSet], new_revision: int
    ) -> apps_v1.ReplicaSet:
        key = meta_namespace_key(d)
        template = clone(d.spec.template)
        pod_hash = du.compute_hash(d.spec.template, d.status.collisionCount)
        template.metadata.labels = {**template.metadata.labels, du.UNIQUE_LABEL_KEY: pod_hash}
        selector = clone(d.spec.selector) if d.spec.selector is not None else APILabelSelector()
        selector.matchLabels = {**selector.matchLabels, du.UNIQUE_LABEL_KEY: pod_hash}
        new_rs = apps_v1.ReplicaSet(
            metadata=ObjectMeta(
                name=f"{d.metadata.name}-{pod_hash}",
                namespace=d.metadata.namespace,
                ownerReferences=[new_controller_ref(d, "apps/v1", "Deployment")],
                labels=dict(template.metadata.labels),
            ),
            spec=apps_v1.ReplicaSetSpec(
                replicas=0, minReadySeconds=d.spec.minReadySeconds, selector=selector, template=template
            ),
        )
        replicas = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs.spec.replicas = replicas
        new_rs.metadata.annotations = du.new_rs_annotations(d, {}, new_revision, exists=False)
        already_exists = False
        try:
            created: apps_v1.ReplicaSet = await self.rs_api.create(new_rs)
        except StatusError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                found = await self.rs_api.get(new_rs.metadata.name, d.metadata.namespace)
                ref = controller_ref(found)
                if (
                    ref is not None
                    and ref.uid == d.metadata.uid
                    and du.equal_ignore_hash(found.spec.template, d.spec.template)
                ):
                    created, already_exists = found, True
                else:
                    # A different template hashed to a taken name: count it and try another hash.
                    d.status.collisionCount = (d.status.collisionCount or 0) + 1
                    await self.update_status(key, d)
                    raise
            else:
                msg = f'Failed to create new replica set "{new_rs.metadata.name}": {e.message}'
                if du.has_progress_deadline(d):
                    du.set_condition(
                        d.status,
                        du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE, msg, self.clock.now()),
                    )
                    await self.update_status(key, d)
                self.recorder.event(d, "Warning", "FailedCreate", msg)
                raise
        self._remember(key, created)
        if not already_exists and replicas > 0:
            self.recorder.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {created.metadata.name} from 0 to {replicas}",
            )
        needs_update = _set_revision(d, str(new_revision))
        if not already_exists and du.has_progress_deadline(d):
            msg = f'Created new replica set "{created.metadata.name}"'
            du.set_condition(
                d.status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, msg, self.clock.now())
            )
            needs_update = True
        if needs_update:
            await self.update_status(key, d)
        return created

    # ---------------------------------------------------------- scaling, paused

    async def _is_scaling_event(self, d: apps_v1.Deployment, rss: list[apps_v1.ReplicaSet]) -> bool:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        for rs in du.active([*old_rss, new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas_of(d):
                return True
        return False

    async def _check_paused_conditions(self, d: apps_v1.Deployment) -> None:
        if not du.has_progress_deadline(d):
            return
        cond = du.get_condition(d.status, du.PROGRESSING)
        if cond is not None and cond.reason == du.TIMED_OUT:
            return  # a reported lack of progress stays
        paused_cond = cond is not None and cond.reason == du.PAUSED
        now = self.clock.now()
        if d.spec.paused and not paused_cond:
            du.set_condition(
                d.status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", now)
            )
        elif not d.spec.paused and paused_cond:
            du.set_condition(
                d.status,
                du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed", now),
            )
        else:
            return
        await self.update_status(meta_namespace_key(d), d)

    async def sync_scale(self, d: apps_v1.Deployment, rss: list[apps_v1.ReplicaSet]) -> None:
        """Paused or resized: scale proportionally, clean up, report status; no new ReplicaSet."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        new_rs, old_rss = await self.scale(d, new_rs, old_rss)
        await self.cleanup(d, old_rss)
        await self.sync_status(d, [*old_rss, new_rs], new_rs)

    async def sync_status_only(self, d: apps_v1.Deployment, rss: list[apps_v1.ReplicaSet]) -> None:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        await self.sync_status(d, [*old_rss, new_rs], new_rs)

    async def scale(
        self, d: apps_v1.Deployment, new_rs: apps_v1.ReplicaSet | None, old_rss: list[apps_v1.ReplicaSet]
    ) -> tuple[apps_v1.ReplicaSet | None, list[apps_v1.ReplicaSet]]:
        """Bring the ReplicaSets to ``spec.replicas`` (+ surge), sharing a change in proportion to their sizes."""
        replicas = du.replicas_of(d)
        only = _active_or_latest(new_rs, old_rss)
        if only is not None:
            if du.replicas_of(only) != replicas:
                _, updated = await self.scale_rs_and_record(d, only, replicas)
                return _replace(new_rs, old_rss, updated)
            return new_rs, old_rss
        if du.is_saturated(d, new_rs):
            for rs in du.active(old_rss):
                _, updated = await self.scale_rs_and_record(d, rs, 0)
                new_rs, old_rss = _replace(new_rs, old_rss, updated)
            return new_rs, old_rss
        if not du.is_rolling_update(d):
            return new_rs, old_rss
        all_rss = du.active([*old_rss, new_rs])
        allowed = replicas + du.max_surge(d) if replicas > 0 else 0
        to_add = allowed - du.spec_replicas(all_rss)
        if to_add > 0:
            all_rss, operation = du.by_size_newer(all_rss), "up"
        elif to_add < 0:
            all_rss, operation = du.by_size_older(all_rss), "down"
        else:
            operation = ""
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            share = du.proportion(rs, d, to_add, added) if to_add != 0 else 0
            sizes[rs.metadata.name] = du.replicas_of(rs) + share
            added += share
        if to_add != 0 and all_rss:
            first = all_rss[0].metadata.name
            sizes[first] = max(sizes[first] + to_add - added, 0)
        for rs in all_rss:
            _, updated = await self.scale_rs(d, rs, sizes[rs.metadata.name], operation)
            new_rs, old_rss = _replace(new_rs, old_rss, updated)
        return new_rs, old_rss

    async def cleanup(self, d: apps_v1.Deployment, old_rss: list[apps_v1.ReplicaSet]) -> None:
        """Delete the oldest scaled-down ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = d.spec.revisionHistoryLimit
        if limit is None:
            return
        alive = [rs for rs in old_rss if rs.metadata.deletionTimestamp is None]
        excess = len(alive) - limit
        if excess <= 0:
            return
        for rs in du.by_revision(alive)[:excess]:
            if (
                rs.status.replicas != 0
                or du.replicas_of(rs) != 0
                or rs.metadata.generation > rs.status.observedGeneration
            ):
                continue
            try:
                await self.rs_api.delete(
                    rs.metadata.name, rs.metadata.namespace, preconditions_uid=rs.metadata.uid or None
                )
            except StatusError as e:
                if e.code != 404:
                    raise

    # ------------------------------------------------------------------ status

    async def sync_rollout_status(
        self,
        d: apps_v1.Deployment,
        all_rss: list[apps_v1.ReplicaSet | None],
        new_rs: apps_v1.ReplicaSet | None,
    ) -> None:
        """Status with the Progressing condition (see ``rollout.sync_rollout_status``)."""
        await rollout.sync_rollout_status(self, d, all_rss, new_rs)

    async def sync_status(
        self,
        d: apps_v1.Deployment,
        all_rss: list[apps_v1.ReplicaSet | None],
        new_rs: apps_v1.ReplicaSet | None,
    ) -> None:
        status = du.calculate_status(all_rss, new_rs, d, self.clock.now())
        if status == d.status:
            return
        d.status = status
        await self.update_status(meta_namespace_key(d), d)


def _selector_dict(selector: APILabelSelector | None) -> dict[str, Any] | None:
    return None if selector is None else msgspec.to_builtins(selector)


def _set_revision(d: apps_v1.Deployment, revision: str) -> bool:
    if d.metadata.annotations.get(du.REVISION_ANNOTATION) == revision:
        return False
    d.metadata.annotations = {**d.metadata.annotations, du.REVISION_ANNOTATION: revision}
    return True


def _active_or_latest(
    new_rs: apps_v1.ReplicaSet | None, old_rss: list[apps_v1.ReplicaSet]
) -> apps_v1.ReplicaSet | None:
    """The one ReplicaSet with pods, or the newest when none has any; None when several have pods."""
    newest_first = list(reversed(du.by_creation(old_rss)))
    running = du.active([new_rs, *newest_first])
    if not running and new_rs is None:
        return newest_first[0] if newest_first else None
    if not running:
        return new_rs
    if len(running) == 1:
        return running[0]
    return None


def replace_rs(
    new_rs: apps_v1.ReplicaSet | None, old_rss: list[apps_v1.ReplicaSet], updated: apps_v1.ReplicaSet
) -> tuple[apps_v1.ReplicaSet | None, list[apps_v1.ReplicaSet]]:
    """(new, old) with ``updated`` in place of the ReplicaSet of the same uid."""
    uid = updated.metadata.uid
    if new_rs is not None and new_rs.metadata.uid == uid:
        return updated, old_rss
    return new_rs, [updated if rs.metadata.uid == uid else rs for rs in old_rss]


_replace = replace_rs
