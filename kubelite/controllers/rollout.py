"""The two rollout strategies of a Deployment, as steps of the Deployment controller.

RollingUpdate (``rollout_rolling``), one step per sync, as Kubernetes'
``rolling.go``: grow the new ReplicaSet as far as maxSurge allows; else
shrink old ReplicaSets as far as maxUnavailable allows (unhealthy replicas
first, then the oldest ReplicaSets first); when the rollout is complete,
clean up old ReplicaSets beyond the revision history limit. Every step
ends by reporting status with the Progressing condition.

``sync_rollout_status`` reports the Progressing condition as
``progress.go`` does: complete, progressing (the update time moves on) or
past ``progressDeadlineSeconds`` (ProgressDeadlineExceeded, looked at again
when the deadline would pass).

Recreate (``rollout_recreate``), as ``recreate.go``: scale every old
ReplicaSet to 0, wait until none of their pods is left running, then create
or scale up the new ReplicaSet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api import apps_v1
from kubelite.api.timestamps import parse_time
from kubelite.client.objects import meta_namespace_key
from kubelite.controllers import deployment_util as du

if TYPE_CHECKING:
    from kubelite.controllers.deployment import DeploymentController

RS = apps_v1.ReplicaSet


# ------------------------------------------------------------ rolling update


async def rollout_rolling(dc: DeploymentController, d: apps_v1.Deployment, rss: list[RS]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, True)
    assert new_rs is not None  # created when missing
    all_rss: list[RS | None] = [*old_rss, new_rs]

    scaled_up, new_rs = await reconcile_new_rs(dc, d, all_rss, new_rs)
    if scaled_up:
        await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)
        return
    scaled_down, old_rss = await reconcile_old_rss(dc, d, old_rss, new_rs)
    if scaled_down:
        await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)
        return
    if du.deployment_complete(d, d.status):
        await dc.cleanup(d, old_rss)
    await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)


async def reconcile_new_rs(
    dc: DeploymentController, d: apps_v1.Deployment, all_rss: list[RS | None], new_rs: RS
) -> tuple[bool, RS]:
    """Grow (within maxSurge) or shrink the new ReplicaSet towards ``spec.replicas``."""
    replicas = du.replicas_of(d)
    if du.replicas_of(new_rs) == replicas:
        return False, new_rs
    if du.replicas_of(new_rs) > replicas:
        return await dc.scale_rs_and_record(d, new_rs, replicas)
    return await dc.scale_rs_and_record(d, new_rs, du.new_rs_new_replicas(d, all_rss, new_rs))


async def reconcile_old_rss(
    dc: DeploymentController, d: apps_v1.Deployment, old_rss: list[RS], new_rs: RS
) -> tuple[bool, list[RS]]:
    """Shrink old ReplicaSets as far as maxUnavailable allows; (scaled any, old ReplicaSets now)."""
    if du.spec_replicas(du.active(old_rss)) == 0:
        return False, old_rss
    all_pods = du.spec_replicas([*old_rss, new_rs])
    min_available = du.replicas_of(d) - du.max_unavailable(d)
    new_unavailable = du.replicas_of(new_rs) - du.available_lower_bound(new_rs)
    # Old replicas beyond these can go without anyone becoming unavailable who was not yet:
    # the new ReplicaSet's not-yet-available replicas already use up part of the budget.
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False, old_rss
    old_rss, cleaned = await cleanup_unhealthy_replicas(dc, d, old_rss, max_scaled_down)
    old_rss, scaled = await scale_down_old_rss(dc, d, old_rss, new_rs)
    return cleaned + scaled > 0, old_rss


async def cleanup_unhealthy_replicas(
    dc: DeploymentController, d: apps_v1.Deployment, old_rss: list[RS], max_cleanup: int
) -> tuple[list[RS], int]:
    """Drop old replicas that are not available anyway (oldest ReplicaSets first), at most ``max_cleanup``."""
    result = du.by_creation(old_rss)
    total = 0
    for i, rs in enumerate(result):
        if total >= max_cleanup:
            break
        replicas = du.replicas_of(rs)
        unhealthy = replicas - du.available_lower_bound(rs)
        if replicas == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        _, result[i] = await dc.scale_rs_and_record(d, rs, replicas - count)
        total += count
    return result, total


async def scale_down_old_rss(
    dc: DeploymentController, d: apps_v1.Deployment, old_rss: list[RS], new_rs: RS
) -> tuple[list[RS], int]:
    """Scale old ReplicaSets down (oldest first) by as many as are available beyond the minimum."""
    min_available = du.replicas_of(d) - du.max_unavailable(d)
    available = sum(du.available_lower_bound(rs) for rs in [*old_rss, new_rs])
    if available <= min_available:
        return old_rss, 0
    budget = available - min_available
    result = du.by_creation(old_rss)
    total = 0
    for i, rs in enumerate(result):
        if total >= budget:
            break
        replicas = du.replicas_of(rs)
        if replicas == 0:
            continue
        count = min(replicas, budget - total)
        _, result[i] = await dc.scale_rs_and_record(d, rs, replicas - count)
        total += count
    return result, total


# -------------------------------------------------------------------- status


async def sync_rollout_status(
    dc: DeploymentController,
    d: apps_v1.Deployment,
    all_rss: list[RS | None],
    new_rs: RS | None,
) -> None:
    """Status with the Progressing condition: complete, progressing, or past its deadline."""
    now = dc.clock.now()
    status = du.calculate_status(all_rss, new_rs, d, now)
    if not du.has_progress_deadline(d):
        du.remove_condition(status, du.PROGRESSING)
    current = du.get_condition(d.status, du.PROGRESSING)
    complete = (
        status.replicas == status.updatedReplicas
        and current is not None
        and current.reason == du.NEW_RS_AVAILABLE
    )
    if du.has_progress_deadline(d) and not complete:
        name = new_rs.metadata.name if new_rs is not None else ""
        if du.deployment_complete(d, status):
            msg = (
                f'ReplicaSet "{name}" has successfully progressed.'
                if name
                else "Deployment has successfully progressed."
            )
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE, msg, now))
        elif du.deployment_progressing(d, status):
            msg = f'ReplicaSet "{name}" is progressing.' if name else "Deployment is progressing."
            cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, msg, now)
            if current is not None and current.status == "True":
                cond.lastTransitionTime = current.lastTransitionTime
            du.remove_condition(status, du.PROGRESSING)  # so the update time moves on
            du.set_condition(status, cond)
        elif du.deployment_timed_out(d, status, now):
            msg = (
                f'ReplicaSet "{name}" has timed out progressing.'
                if name
                else f'Deployment "{d.metadata.name}" has timed out progressing.'
            )
            du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT, msg, now))
    failures = du.replica_failures(all_rss, new_rs)
    if failures:
        du.set_condition(status, failures[0])
    else:
        du.remove_condition(status, du.REPLICA_FAILURE)
    if status == d.status:
        _requeue_stuck(dc, d, status, now)
        return
    d.status = status
    await dc.update_status(meta_namespace_key(d), d)


def _requeue_stuck(
    dc: DeploymentController, d: apps_v1.Deployment, status: apps_v1.DeploymentStatus, now: float
) -> None:
    """Look again when the progress deadline would pass, to report it on time."""
    current = du.get_condition(d.status, du.PROGRESSING)
    if not du.has_progress_deadline(d) or current is None:
        return
    if du.deployment_complete(d, status) or current.reason == du.TIMED_OUT:
        return
    since = parse_time(current.lastUpdateTime)
    if since is None:
        return
    after = since + (d.spec.progressDeadlineSeconds or 0) - now
    if after < 1:
        dc.queue.add_rate_limited(meta_namespace_key(d))
    else:
        dc.enqueue_after(d, after + 1)


# ------------------------------------------------------------------ recreate


async def rollout_recreate(
    dc: DeploymentController, d: apps_v1.Deployment, rss: list[RS], pod_map: dict[str, list[Any]]
) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, False)
    scaled = False
    for i, rs in enumerate(old_rss):
        if du.replicas_of(rs) == 0:
            continue
        did, old_rss[i] = await dc.scale_rs_and_record(d, rs, 0)
        scaled = scaled or did
    if scaled:
        await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)
        return
    if old_pods_running(new_rs, old_rss, pod_map):
        await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)
        return
    if new_rs is None:
        new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, True)
        assert new_rs is not None
    _, new_rs = await dc.scale_rs_and_record(d, new_rs, du.replicas_of(d))
    if du.deployment_complete(d, d.status):
        await dc.cleanup(d, old_rss)
    await dc.sync_rollout_status(d, [*old_rss, new_rs], new_rs)


def old_pods_running(new_rs: RS | None, old_rss: list[RS], pod_map: dict[str, list[Any]]) -> bool:
    """Whether an old ReplicaSet still reports pods, or has a pod that has not finished."""
    if du.actual_replicas(old_rss) > 0:
        return True
    for uid, pods in pod_map.items():
        if new_rs is not None and new_rs.metadata.uid == uid:
            continue
        for pod in pods:
            if pod.status.phase not in ("Failed", "Succeeded"):
                return True
    return False
