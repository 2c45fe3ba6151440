"""Deployments, ReplicaSets, StatefulSets, DaemonSets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import apps_v1
from kubelite.api.validation import validate_create


def workload(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    }
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": base}


def tmpl(labels: dict[str, str] | None = None, **pod: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    spec.update(pod)
    return {"metadata": {"labels": labels if labels is not None else {"app": "web"}}, "spec": spec}


DEPLOYMENT_CASES = [
    ("valid", workload(), []),
    ("replicas", workload(replicas=-1), [("FieldValueInvalid", "spec.replicas")]),
    ("selector required", workload(selector=None), [("FieldValueRequired", "spec.selector")]),
    ("selector empty", workload(selector={}), [("FieldValueInvalid", "spec.selector")]),
    (
        "selector mismatch",
        workload(template=tmpl({"app": "api"})),
        [("FieldValueInvalid", "spec.template.metadata.labels")],
    ),
    (
        "template restartPolicy",
        workload(template=tmpl(restartPolicy="Never")),
        [("FieldValueNotSupported", "spec.template.spec.restartPolicy")],
    ),
    (
        "template container errors",
        workload(
            template=tmpl(containers=[{"name": "c", "image": "nginx"}, {"name": "c", "image": "nginx"}])
        ),
        [("FieldValueDuplicate", "spec.template.spec.containers[1].name")],
    ),
    (
        "template labels",
        workload(template=tmpl({"app": "web", "x": "bad value!"})),
        [("FieldValueInvalid", "spec.template.labels")],
    ),
    (
        "surge and unavailable both 0",
        workload(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        [("FieldValueInvalid", "spec.strategy.rollingUpdate.maxUnavailable")],
    ),
    (
        "percent syntax",
        workload(
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25", "maxUnavailable": 1}}
        ),
        [("FieldValueInvalid", "spec.strategy.rollingUpdate.maxSurge")],
    ),
    (
        "over 100%",
        workload(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}),
        [("FieldValueInvalid", "spec.strategy.rollingUpdate.maxUnavailable")],
    ),
    (
        "recreate with rollingUpdate",
        workload(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
        [("FieldValueForbidden", "spec.strategy.rollingUpdate")],
    ),
    (
        "strategy type",
        workload(strategy={"type": "BlueGreen"}),
        [("FieldValueNotSupported", "spec.strategy.type")],
    ),
    ("minReadySeconds", workload(minReadySeconds=-1), [("FieldValueInvalid", "spec.minReadySeconds")]),
    (
        "progress deadline",
        workload(minReadySeconds=30, progressDeadlineSeconds=10),
        [("FieldValueInvalid", "spec.progressDeadlineSeconds")],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), DEPLOYMENT_CASES, ids=[c[0] for c in DEPLOYMENT_CASES])
def test_deployment(v, name, data, expected):
    assert v.errors(v.build(apps_v1.Deployment, data)) == expected


def test_selector_mismatch_message(v):
    (err,) = validate_create(v.build(apps_v1.Deployment, workload(template=tmpl({"app": "api"}))))
    assert err.detail == "`selector` does not match template `labels`"


def _stored(cls, data):
    import msgspec

    from kubelite.api.defaults import apply_defaults

    obj = msgspec.convert(data, cls)
    apply_defaults(obj)
    obj.metadata.uid = "u"
    obj.metadata.resourceVersion = "1"
    return obj


@pytest.mark.parametrize("cls", [apps_v1.Deployment, apps_v1.ReplicaSet, apps_v1.DaemonSet])
def test_selector_immutable(v, cls):
    old = _stored(cls, workload())
    new = copy.deepcopy(old)
    new.spec.selector.matchLabels["tier"] = "x"
    new.spec.template.metadata.labels["tier"] = "x"
    assert v.errors(new, old) == [("FieldValueInvalid", "spec.selector")]
    scaled = copy.deepcopy(old)
    scaled.spec.template.spec.containers[0].image = "nginx:2"
    assert v.errors(scaled, old) == []


@pytest.mark.parametrize("cls", [apps_v1.ReplicaSet, apps_v1.StatefulSet, apps_v1.DaemonSet])
def test_other_workloads_selector(v, cls):
    assert v.errors(v.build(cls, workload())) == []
    assert v.errors(v.build(cls, workload(template=tmpl({"app": "x"})))) == [
        ("FieldValueInvalid", "spec.template.metadata.labels")
    ]
    assert v.errors(v.build(cls, workload(selector={}))) == [("FieldValueInvalid", "spec.selector")]


def test_stateful_set_fields(v):
    assert v.errors(v.build(apps_v1.StatefulSet, workload(podManagementPolicy="Random"))) == [
        ("FieldValueInvalid", "spec.podManagementPolicy")
    ]
    assert v.errors(v.build(apps_v1.StatefulSet, workload(serviceName="Bad.Name"))) == [
        ("FieldValueInvalid", "spec.serviceName")
    ]
    bad_partition = workload(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}})
    assert v.errors(v.build(apps_v1.StatefulSet, bad_partition)) == [
        ("FieldValueInvalid", "spec.updateStrategy.rollingUpdate.partition")
    ]


def test_stateful_set_update_forbids_other_fields(v):
    old = _stored(apps_v1.StatefulSet, workload(serviceName="web"))
    new = copy.deepcopy(old)
    new.spec.serviceName = "other"
    assert v.errors(new, old) == [("FieldValueForbidden", "spec")]
    scaled = copy.deepcopy(old)
    scaled.spec.replicas = 5
    assert v.errors(scaled, old) == []


def test_daemon_set_rolling_update(v):
    bad = workload(
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
    )
    assert v.errors(v.build(apps_v1.DaemonSet, bad)) == [
        ("FieldValueInvalid", "spec.updateStrategy.rollingUpdate.maxUnavailable")
    ]


def test_status_update_counts(v):
    old = _stored(apps_v1.Deployment, workload())
    new = copy.deepcopy(old)
    new.status.replicas = -1
    assert v.errors(new, old, status=True) == [("FieldValueInvalid", "status.replicas")]
