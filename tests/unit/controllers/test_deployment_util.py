"""The arithmetic of Deployments (kubelite.controllers.deployment_util), case by case
against what Kubernetes' deployment controller computes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kubelite.api.apps_v1 import Deployment, DeploymentStatus, ReplicaSet
from kubelite.api.timestamps import rfc3339
from kubelite.controllers import deployment_util as du

NOW = 1_704_067_200.0


def deploy(
    replicas: int = 10,
    surge: int | str | None = "25%",
    unavailable: int | str | None = "25%",
    strategy: str = "RollingUpdate",
    **extra: Any,
) -> Deployment:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
        "strategy": {"type": strategy},
        "progressDeadlineSeconds": 600,
        **extra.pop("spec", {}),
    }
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return msgspec.convert(
        {
            "metadata": {"name": "web", "namespace": "ns", "generation": 1, **extra.pop("metadata", {})},
            "spec": spec,
            **extra,
        },
        Deployment,
    )


def rs(
    name: str,
    replicas: int,
    available: int | None = None,
    actual: int | None = None,
    created: str = "2024-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
    image: str = "x",
) -> ReplicaSet:
    return msgspec.convert(
        {
            "metadata": {
                "name": name,
                "uid": f"uid-{name}",
                "creationTimestamp": created,
                "annotations": annotations or {},
            },
            "spec": {
                "replicas": replicas,
                "template": {
                    "metadata": {"labels": {"app": "web", du.UNIQUE_LABEL_KEY: name}},
                    "spec": {"containers": [{"name": "c", "image": image}]},
                },
            },
            "status": {
                "replicas": replicas if actual is None else actual,
                "availableReplicas": replicas if available is None else available,
                "readyReplicas": replicas if available is None else available,
            },
        },
        ReplicaSet,
    )


# -------------------------------------------------------------------- hashing


def test_safe_encode_uses_kubernetes_alphabet() -> None:
    assert du.safe_encode("0123456789") == "456789bcdf"  # digit d -> alphabet[(48 + d) % 27]
    assert du.fnv32a(b"") == 0x811C9DC5
    assert du.fnv32a(b"a") == 0xE40C292C  # the published FNV-1a test vector


def test_hash_is_stable_and_changes_with_template_and_collision_count() -> None:
    d = deploy()
    h = du.compute_hash(d.spec.template, None)
    assert h == du.compute_hash(msgspec.to_builtins(d.spec.template), None)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert du.compute_hash(d.spec.template, 1) != h
    assert du.compute_hash(d.spec.template, 1) != du.compute_hash(d.spec.template, 2)
    other = deploy()
    other.spec.template.spec.containers[0].image = "y"
    assert du.compute_hash(other.spec.template, None) != h


def test_equal_ignore_hash() -> None:
    d = deploy()
    a = rs("a", 1)
    assert du.equal_ignore_hash(a.spec.template, d.spec.template)
    assert not du.equal_ignore_hash(rs("b", 1, image="y").spec.template, d.spec.template)
    assert du.find_new_rs(d, [rs("b", 1, image="y"), a]) is a


# --------------------------------------------------------- surge, unavailable


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        (0, 0, 5, (0, 1)),  # never both zero
        ("0%", "0%", 3, (0, 1)),
        (2, "50%", 5, (2, 2)),
        ("10%", 3, 4, (1, 3)),
        ("100%", "100%", 7, (7, 7)),
    ],
)
def test_resolve_fenceposts(surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(surge, unavailable, replicas) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert du.max_unavailable(deploy(replicas=3, surge=0, unavailable=5)) == 3
    assert du.max_unavailable(deploy(replicas=0)) == 0
    assert du.max_surge(deploy(strategy="Recreate")) == 0
    assert du.max_unavailable(deploy(strategy="Recreate")) == 0


def test_scaled_value_refuses_strings_that_are_not_percentages() -> None:
    with pytest.raises(ValueError):
        du.scaled_value("3", 10, True)


# ---------------------------------------------------------------- revisions


def test_new_rs_annotations_on_create() -> None:
    d = deploy(replicas=4, surge=1, metadata={"annotations": {"team": "a", du.LAST_APPLIED_ANNOTATION: "{}"}})
    got = du.new_rs_annotations(d, {}, 3, exists=False)
    assert got == {
        "team": "a",
        du.REVISION_ANNOTATION: "3",
        du.DESIRED_REPLICAS_ANNOTATION: "4",
        du.MAX_REPLICAS_ANNOTATION: "5",
    }


def test_new_rs_annotations_on_rollback_keep_revision_history() -> None:
    d = deploy()
    got = du.new_rs_annotations(d, {du.REVISION_ANNOTATION: "1"}, 3, exists=True)
    assert got[du.REVISION_ANNOTATION] == "3" and got[du.REVISION_HISTORY_ANNOTATION] == "1"
    again = du.new_rs_annotations(d, got, 5, exists=True)
    assert again[du.REVISION_ANNOTATION] == "5" and again[du.REVISION_HISTORY_ANNOTATION] == "1,3"
    # a revision is never lowered
    assert (
        du.new_rs_annotations(d, {du.REVISION_ANNOTATION: "7"}, 3, exists=True)[du.REVISION_ANNOTATION] == "7"
    )


def test_revision_history_is_bounded_in_characters() -> None:
    long = ",".join(str(i) for i in range(1000, 1400))  # 1999 characters
    got = du.new_rs_annotations(
        deploy(), {du.REVISION_ANNOTATION: "2000", du.REVISION_HISTORY_ANNOTATION: long}, 2001, True
    )
    history = got[du.REVISION_HISTORY_ANNOTATION]
    assert (
        len(history) <= du.MAX_REV_HISTORY_CHARS
        and history.endswith(",2000")
        and not history.startswith("1000,")
    )


def test_sort_orders() -> None:
    a = rs("a", 2, created="2024-01-01T00:00:01Z", annotations={du.REVISION_ANNOTATION: "3"})
    b = rs("b", 5, created="2024-01-01T00:00:02Z", annotations={du.REVISION_ANNOTATION: "1"})
    c = rs("c", 2, created="2024-01-01T00:00:03Z", annotations={du.REVISION_ANNOTATION: "2"})
    assert [x.metadata.name for x in du.by_size_older([a, b, c])] == ["b", "a", "c"]
    assert [x.metadata.name for x in du.by_size_newer([a, b, c])] == ["b", "c", "a"]
    assert [x.metadata.name for x in du.by_revision([a, b, c])] == ["b", "c", "a"]
    assert du.max_revision([a, b, c]) == 3


# ----------------------------------------------------------------- replicas


def test_new_rs_new_replicas_within_surge() -> None:
    d = deploy(replicas=10, surge=3, unavailable=2)
    old, new = rs("old", 10), rs("new", 0)
    assert du.new_rs_new_replicas(d, [old, new], new) == 3
    # an old ReplicaSet scaled down but still reporting its pods counts them
    shrinking = rs("old", 8, actual=10)
    assert du.new_rs_new_replicas(d, [shrinking, rs("new", 3)], rs("new", 3)) == 3
    assert du.new_rs_new_replicas(d, [rs("old", 8), rs("new", 3)], rs("new", 3)) == 5
    # never beyond spec.replicas
    assert du.new_rs_new_replicas(d, [rs("old", 0), rs("new", 9)], rs("new", 9)) == 10
    assert du.new_rs_new_replicas(deploy(strategy="Recreate", replicas=4), [new], new) == 4


def test_is_saturated() -> None:
    d = deploy(replicas=3)
    full = rs("new", 3, annotations={du.DESIRED_REPLICAS_ANNOTATION: "3"})
    assert du.is_saturated(d, full)
    assert not du.is_saturated(
        d, rs("new", 3, available=2, annotations={du.DESIRED_REPLICAS_ANNOTATION: "3"})
    )
    assert not du.is_saturated(d, rs("new", 3))
    assert not du.is_saturated(d, None)


def test_proportions_when_scaling_during_a_rollout() -> None:
    # 10 replicas, maxSurge 3: old 8 + new 5 = 13 annotated max; scaled to 30 (33 with surge)
    d = deploy(replicas=30, surge=3, unavailable=2)
    ann = {du.MAX_REPLICAS_ANNOTATION: "13", du.DESIRED_REPLICAS_ANNOTATION: "10"}
    old, new = rs("old", 8, annotations=ann), rs("new", 5, annotations=ann)
    assert du.rs_fraction(old, d) == 12  # round(8 * 33 / 13) - 8
    assert du.rs_fraction(new, d) == 8  # round(5 * 33 / 13) - 5 = 12.69 -> 13
    assert du.proportion(old, d, 20, 0) == 12
    assert du.proportion(new, d, 20, 12) == 8
    # scaling down: negative shares, bounded by what is left to remove
    down = deploy(replicas=5, surge=1, unavailable=0)
    ann2 = {du.MAX_REPLICAS_ANNOTATION: "11"}
    big = rs("big", 6, annotations=ann2)
    assert du.rs_fraction(big, down) == -3  # round(6 * 6 / 11) = 3
    assert du.proportion(big, down, -5, 0) == -3
    assert du.proportion(big, down, -5, -4) == -1
    assert du.rs_fraction(big, deploy(replicas=0)) == -6


# --------------------------------------------------------------- conditions


def test_set_condition_keeps_transition_time_and_skips_no_change() -> None:
    status = DeploymentStatus()
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, "m", NOW))
    first = status.conditions[0]
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, "other", NOW + 10))
    assert status.conditions[0] is first  # same status and reason: untouched
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, "m2", NOW + 20))
    cond = status.conditions[0]
    assert cond.reason == du.RS_UPDATED
    assert cond.lastTransitionTime == rfc3339(NOW) and cond.lastUpdateTime == rfc3339(NOW + 20)
    du.remove_condition(status, du.PROGRESSING)
    assert status.conditions == []


def test_timed_out() -> None:
    d = deploy(spec={"progressDeadlineSeconds": 30})
    status = DeploymentStatus()
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, "", NOW))
    assert not du.deployment_timed_out(d, status, NOW + 30)
    assert du.deployment_timed_out(d, status, NOW + 31)
    assert not du.deployment_timed_out(
        deploy(spec={"progressDeadlineSeconds": du.NO_DEADLINE}), status, NOW + 99
    )
    done = DeploymentStatus()
    du.set_condition(done, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE, "", NOW))
    assert not du.deployment_timed_out(d, done, NOW + 1000)


def test_calculate_status_and_completeness() -> None:
    d = deploy(replicas=4, surge=1, unavailable=1, metadata={"generation": 3})
    old, new = rs("old", 1), rs("new", 4, available=2, actual=4)
    status = du.calculate_status([old, new], new, d, NOW)
    assert (status.replicas, status.updatedReplicas, status.readyReplicas, status.availableReplicas) == (
        5,
        4,
        3,
        3,
    )
    assert status.unavailableReplicas == 2 and status.observedGeneration == 3
    available = du.get_condition(status, du.AVAILABLE)
    assert available is not None and available.reason == du.MIN_REPLICAS_AVAILABLE  # 3 >= 4 - 1
    assert not du.deployment_complete(d, status)
    low = du.calculate_status([rs("new", 4, available=2)], None, d, NOW)
    unavailable = du.get_condition(low, du.AVAILABLE)
    assert unavailable is not None and unavailable.status == "False"
    finished = du.calculate_status([rs("new", 4)], rs("new", 4), d, NOW)
    assert du.deployment_complete(d, finished)


def test_progressing_compares_with_stored_status() -> None:
    d = deploy(replicas=4)
    d.status = DeploymentStatus(replicas=5, updatedReplicas=2, readyReplicas=3, availableReplicas=3)
    same = DeploymentStatus(replicas=5, updatedReplicas=2, readyReplicas=3, availableReplicas=3)
    assert not du.deployment_progressing(d, same)
    assert du.deployment_progressing(
        d, DeploymentStatus(replicas=5, updatedReplicas=3, readyReplicas=3, availableReplicas=3)
    )
    assert du.deployment_progressing(
        d, DeploymentStatus(replicas=4, updatedReplicas=2, readyReplicas=3, availableReplicas=3)
    )
    assert du.deployment_progressing(
        d, DeploymentStatus(replicas=5, updatedReplicas=2, readyReplicas=4, availableReplicas=3)
    )
