"""Selectable fields per kind: what they read from an object and which are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.fields import (
    META_FIELDS,
    convert_field_label,
    field_label_error,
    field_set,
    supported_fields,
)
from kubelite.api.selectors import parse_field_selector

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {
        "nodeName": "node-a",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "web",
        "hostNetwork": True,
    },
    "status": {
        "phase": "Running",
        "podIP": "10.42.0.7",
        "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
        "nominatedNodeName": "node-b",
    },
}


def test_pod_fields() -> None:
    assert field_set("Pod", POD) == {
        "metadata.name": "web-1",
        "metadata.namespace": "shop",
        "spec.nodeName": "node-a",
        "spec.host": "node-a",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "web",
        "spec.hostNetwork": "true",
        "status.phase": "Running",
        "status.podIP": "10.42.0.7",
        "status.nominatedNodeName": "node-b",
    }


def test_pod_fields_of_a_bare_pod() -> None:
    fields = field_set("Pod", {"metadata": {"name": "p"}})
    assert fields["metadata.namespace"] == ""
    assert fields["spec.nodeName"] == "" and fields["status.phase"] == "" and fields["status.podIP"] == ""
    assert fields["spec.hostNetwork"] == "false"


def test_pod_ip_falls_back_to_the_singular_field() -> None:
    assert field_set("Pod", {"status": {"podIP": "10.0.0.1"}})["status.podIP"] == "10.0.0.1"
    assert (
        field_set("Pod", {"status": {"podIPs": [{"ip": "10.0.0.2"}], "podIP": "x"}})["status.podIP"]
        == "10.0.0.2"
    )


def test_core_event_fields() -> None:
    event = {
        "metadata": {"name": "web-1.17a", "namespace": "shop"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "shop",
            "name": "web-1",
            "uid": "u-1",
            "apiVersion": "v1",
            "resourceVersion": "42",
            "fieldPath": "spec.containers{web}",
        },
        "reason": "Scheduled",
        "reportingComponent": "default-scheduler",
        "source": {"component": "kubelet"},
        "type": "Normal",
    }
    assert field_set("Event", event) == {
        "metadata.name": "web-1.17a",
        "metadata.namespace": "shop",
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "shop",
        "involvedObject.name": "web-1",
        "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "42",
        "involvedObject.fieldPath": "spec.containers{web}",
        "reason": "Scheduled",
        "reportingComponent": "default-scheduler",
        "source": "kubelet",
        "type": "Normal",
    }


def test_event_source_falls_back_to_the_reporting_controller() -> None:
    assert field_set("Event", {"reportingComponent": "ctrl"})["source"] == "ctrl"
    # an events.k8s.io/v1 Event reads the same way
    new_style = {
        "regarding": {"kind": "Node", "name": "n1"},
        "reportingController": "node-controller",
        "reason": "NodeReady",
    }
    fields = field_set("Event", new_style)
    assert fields["involvedObject.kind"] == "Node" and fields["involvedObject.name"] == "n1"
    assert fields["reportingComponent"] == "node-controller" and fields["source"] == "node-controller"
    assert field_set("Event", {"deprecatedSource": {"component": "kubelet"}})["source"] == "kubelet"


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        ("Secret", {"type": "kubernetes.io/tls"}, {"type": "kubernetes.io/tls"}),
        ("Secret", {}, {"type": ""}),
        ("Node", {"spec": {"unschedulable": True}}, {"spec.unschedulable": "true"}),
        ("Node", {}, {"spec.unschedulable": "false"}),
        ("Namespace", {"status": {"phase": "Terminating"}}, {"status.phase": "Terminating"}),
        ("Namespace", {}, {"status.phase": ""}),
        (
            "Service",
            {"spec": {"clusterIP": "10.43.0.10", "type": "ClusterIP"}},
            {"spec.clusterIP": "10.43.0.10", "spec.type": "ClusterIP"},
        ),
        ("ReplicaSet", {"status": {"replicas": 3}}, {"status.replicas": "3"}),
        ("ReplicaSet", {}, {"status.replicas": "0"}),
        ("ReplicationController", {"status": {"replicas": 2}}, {"status.replicas": "2"}),
        ("Job", {"status": {"succeeded": 1}}, {"status.successful": "1"}),
        ("Job", {"status": {}}, {"status.successful": "0"}),
        ("ConfigMap", {"data": {"a": "b"}}, {}),
    ],
)
def test_kind_specific_fields(kind: str, obj: dict[str, Any], expected: dict[str, str]) -> None:
    obj = {"metadata": {"name": "x", "namespace": "ns"}, **obj}
    assert field_set(kind, obj) == {"metadata.name": "x", "metadata.namespace": "ns", **expected}


def test_every_supported_field_is_readable() -> None:
    for kind in [
        "Pod",
        "Event",
        "Secret",
        "Node",
        "Namespace",
        "Service",
        "ReplicaSet",
        "ReplicationController",
        "Job",
    ]:
        readable = set(field_set(kind, {}))
        missing = supported_fields(kind) - readable - {"status.podIPs"}
        assert not missing, (kind, missing)


def test_malformed_objects_read_as_empty() -> None:
    assert (
        field_set("Pod", {"metadata": "x", "spec": ["y"], "status": {"podIPs": ["z"]}})["spec.nodeName"] == ""
    )
    assert field_set("Event", {"involvedObject": "x"})["involvedObject.kind"] == ""
    assert field_set("ReplicaSet", {"status": {"replicas": True}})["status.replicas"] == "0"


@pytest.mark.parametrize(
    ("kind", "label", "message"),
    [
        ("Pod", "spec.nodeName", None),
        ("Pod", "status.podIPs", None),
        ("Pod", "status.hostIP", "field label not supported: status.hostIP"),
        ("Node", "metadata.namespace", "field label not supported: metadata.namespace"),
        ("Node", "spec.unschedulable", None),
        ("Namespace", "status.phase", None),
        ("Event", "involvedObject.name", None),
        ("Event", "message", "field label not supported: message"),
        ("Secret", "type", None),
        ("Service", "spec.type", None),
        ("ReplicaSet", "status.replicas", None),
        ("ReplicationController", "spec.replicas", "field label not supported: spec.replicas"),
        ("Job", "status.succeeded", 'field label "status.succeeded" not supported for batchv1.Job'),
        ("ConfigMap", "metadata.name", None),
        ("ConfigMap", "metadata.namespace", None),
        (
            "Ingress",
            "foo.bar",
            '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
    ],
)
def test_field_label_errors(kind: str, label: str, message: str | None) -> None:
    assert field_label_error(kind, label) == message
    assert (label in supported_fields(kind)) is (message is None)


def test_supported_fields_defaults_to_metadata() -> None:
    assert supported_fields("Deployment") == META_FIELDS
    assert "spec.nodeName" in supported_fields("Pod")


def test_convert_field_label() -> None:
    assert convert_field_label("Pod", "spec.host") == "spec.nodeName"
    assert convert_field_label("Pod", "status.phase") == "status.phase"
    with pytest.raises(ValueError, match=r"^field label not supported: spec\.containers$"):
        convert_field_label("Pod", "spec.containers")


def test_fields_work_with_field_selectors() -> None:
    fields = field_set("Pod", POD)
    assert parse_field_selector("spec.nodeName=node-a,status.phase!=Succeeded").matches(fields)
    assert parse_field_selector("spec.host=node-a").matches(fields)
    assert not parse_field_selector("metadata.namespace=default").matches(fields)
