"""Pod priority through the official client: the system PriorityClasses exist from the
first start, a pod's priority and preemption policy come from its PriorityClass (or
the global default class), and the Priority admission plugin refuses what Kubernetes
refuses (an unknown class, a priority that disagrees with the class, a second
global default), each a 403 Forbidden Status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NS = "default"


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s)


@pytest.fixture(scope="module")
def scheduling(k8s: client.ApiClient) -> client.SchedulingV1Api:
    return client.SchedulingV1Api(k8s)


@pytest.fixture
def classes(scheduling: client.SchedulingV1Api) -> Iterator[list[str]]:
    """Names of the classes a test creates, deleted after it."""
    names: list[str] = []
    yield names
    for name in names:
        scheduling.delete_priority_class(name)


def _class(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **extra,
    }


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def _forbidden(exc: pytest.ExceptionInfo[ApiException]) -> str:
    assert exc.value.status == 403
    body = json.loads(exc.value.body)
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Forbidden", 403)
    return str(body["message"])


def test_system_priority_classes_exist(scheduling: client.SchedulingV1Api) -> None:
    node = scheduling.read_priority_class("system-node-critical")
    cluster = scheduling.read_priority_class("system-cluster-critical")
    assert (node.value, cluster.value) == (2000001000, 2000000000)
    assert (node.preemption_policy, node.global_default) == ("PreemptLowerPriority", None)
    assert cluster.description


def test_pod_without_a_class_gets_priority_zero(core: client.CoreV1Api) -> None:
    pod = core.create_namespaced_pod(NS, _pod("prio-none"))
    assert (pod.spec.priority, pod.spec.preemption_policy, pod.spec.priority_class_name) == (
        0,
        "PreemptLowerPriority",
        None,
    )


def test_pod_takes_priority_and_policy_from_its_class(
    core: client.CoreV1Api, scheduling: client.SchedulingV1Api, classes: list[str]
) -> None:
    scheduling.create_priority_class(_class("high", 1000, preemptionPolicy="Never"))
    classes.append("high")
    pod = core.create_namespaced_pod(NS, _pod("prio-high", priorityClassName="high"))
    assert (pod.spec.priority, pod.spec.preemption_policy) == (1000, "Never")
    # An update leaving them out keeps them; changing them is refused by validation.
    stored = core.read_namespaced_pod("prio-high", NS)
    body = client.ApiClient().sanitize_for_serialization(stored)
    del body["spec"]["priority"], body["spec"]["preemptionPolicy"]
    body["metadata"]["labels"] = {"touched": "yes"}
    updated = core.replace_namespaced_pod("prio-high", NS, body)
    assert (updated.spec.priority, updated.spec.preemption_policy) == (1000, "Never")
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod("prio-high", NS, {"spec": {"priority": 5}})
    assert exc.value.status == 422


def test_system_class_resolves(core: client.CoreV1Api) -> None:
    pod = core.create_namespaced_pod(NS, _pod("prio-system", priorityClassName="system-node-critical"))
    assert pod.spec.priority == 2000001000


def test_unknown_class_is_forbidden(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("prio-unknown", priorityClassName="no-such-class"))
    assert (
        _forbidden(exc)
        == 'pods "prio-unknown" is forbidden: no PriorityClass with name no-such-class was found'
    )
    with pytest.raises(ApiException):
        core.read_namespaced_pod("prio-unknown", NS)


def test_priority_disagreeing_with_the_class_is_forbidden(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("prio-set", priority=10))
    assert _forbidden(exc) == (
        'pods "prio-set" is forbidden: the integer value of priority (10) must not be provided in pod spec; '
        "priority admission controller computed 0 from the given PriorityClass name"
    )
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("prio-policy", preemptionPolicy="Never"))
    assert "the string value of PreemptionPolicy (Never) must not be provided" in _forbidden(exc)
    # Stating exactly what the class gives is allowed.
    pod = core.create_namespaced_pod(
        NS, _pod("prio-same", priority=0, preemptionPolicy="PreemptLowerPriority")
    )
    assert pod.spec.priority == 0


def test_global_default_class(
    core: client.CoreV1Api, scheduling: client.SchedulingV1Api, classes: list[str]
) -> None:
    scheduling.create_priority_class(_class("everyday", 100, globalDefault=True))
    classes.append("everyday")
    pod = core.create_namespaced_pod(NS, _pod("prio-default"))
    assert (pod.spec.priority, pod.spec.priority_class_name) == (100, "everyday")
    with pytest.raises(ApiException) as exc:
        scheduling.create_priority_class(_class("another-default", 200, globalDefault=True))
    assert _forbidden(exc) == (
        'priorityclasses.scheduling.k8s.io "another-default" is forbidden: '
        "PriorityClass everyday is already marked as default. Only one default can exist"
    )
    # The default itself may be updated; another class may not become a second default.
    scheduling.patch_priority_class("everyday", {"description": "the default"})
    scheduling.create_priority_class(_class("other", 5))
    classes.append("other")
    with pytest.raises(ApiException) as exc:
        scheduling.patch_priority_class("other", {"globalDefault": True})
    assert "is already marked as default" in _forbidden(exc)
