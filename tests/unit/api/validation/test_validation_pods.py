"""Pods and pod specs: containers, ports, env, volumes, probes, resources, scheduling fields, updates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import core_v1


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    base.update(spec)
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": base}


def ctr(**kw: Any) -> dict[str, Any]:
    base = {"name": "app", "image": "nginx:1.25"}
    base.update(kw)
    return base


CASES = [
    ("valid", pod(), []),
    ("no containers", pod(containers=[]), [("FieldValueRequired", "spec.containers")]),
    (
        "container name required",
        pod(containers=[ctr(name="")]),
        [("FieldValueRequired", "spec.containers[0].name")],
    ),
    (
        "container name label",
        pod(containers=[ctr(name="App")]),
        [("FieldValueInvalid", "spec.containers[0].name")],
    ),
    ("image required", pod(containers=[ctr(image="")]), [("FieldValueRequired", "spec.containers[0].image")]),
    (
        "image whitespace",
        pod(containers=[ctr(image=" nginx")]),
        [("FieldValueInvalid", "spec.containers[0].image")],
    ),
    (
        "duplicate container",
        pod(containers=[ctr(), ctr()]),
        [("FieldValueDuplicate", "spec.containers[1].name")],
    ),
    (
        "init container name clashes",
        pod(initContainers=[ctr()]),
        [("FieldValueDuplicate", "spec.initContainers[0].name")],
    ),
    ("init ok", pod(initContainers=[ctr(name="init")]), []),
    (
        "port range",
        pod(containers=[ctr(ports=[{"containerPort": 70000}])]),
        [("FieldValueInvalid", "spec.containers[0].ports[0].containerPort")],
    ),
    (
        "port required",
        pod(containers=[ctr(ports=[{"name": "http"}])]),
        [("FieldValueRequired", "spec.containers[0].ports[0].containerPort")],
    ),
    (
        "host port range",
        pod(containers=[ctr(ports=[{"containerPort": 80, "hostPort": 70000}])]),
        [("FieldValueInvalid", "spec.containers[0].ports[0].hostPort")],
    ),
    (
        "protocol",
        pod(containers=[ctr(ports=[{"containerPort": 80, "protocol": "ICMP"}])]),
        [("FieldValueNotSupported", "spec.containers[0].ports[0].protocol")],
    ),
    (
        "duplicate port name",
        pod(
            containers=[
                ctr(ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}])
            ]
        ),
        [("FieldValueDuplicate", "spec.containers[0].ports[1].name")],
    ),
    (
        "bad port name",
        pod(containers=[ctr(ports=[{"containerPort": 80, "name": "Web_1"}])]),
        [("FieldValueInvalid", "spec.containers[0].ports[0].name")],
    ),
    (
        "duplicate host port",
        pod(
            containers=[
                ctr(ports=[{"containerPort": 80, "hostPort": 8080}]),
                ctr(name="b", ports=[{"containerPort": 81, "hostPort": 8080}]),
            ]
        ),
        [("FieldValueDuplicate", "spec.containers[1].ports[0].hostPort")],
    ),
    (
        "env name",
        pod(containers=[ctr(env=[{"name": "1BAD", "value": "x"}])]),
        [("FieldValueInvalid", "spec.containers[0].env[0].name")],
    ),
    (
        "env name required",
        pod(containers=[ctr(env=[{"value": "x"}])]),
        [("FieldValueRequired", "spec.containers[0].env[0].name")],
    ),
    (
        "env valueFrom with value",
        pod(
            containers=[
                ctr(
                    env=[
                        {"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                    ]
                )
            ]
        ),
        [("FieldValueInvalid", "spec.containers[0].env[0].valueFrom")],
    ),
    (
        "env fieldRef path",
        pod(containers=[ctr(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}])]),
        [("FieldValueNotSupported", "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")],
    ),
    (
        "env secret key",
        pod(containers=[ctr(env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": ""}}}])]),
        [("FieldValueRequired", "spec.containers[0].env[0].valueFrom.secretKeyRef.key")],
    ),
    (
        "mount of missing volume",
        pod(containers=[ctr(volumeMounts=[{"name": "data", "mountPath": "/data"}])]),
        [("FieldValueNotFound", "spec.containers[0].volumeMounts[0].name")],
    ),
    (
        "mount ok",
        pod(
            containers=[ctr(volumeMounts=[{"name": "data", "mountPath": "/data"}])],
            volumes=[{"name": "data"}],
        ),
        [],
    ),
    (
        "mount path required",
        pod(containers=[ctr(volumeMounts=[{"name": "data"}])], volumes=[{"name": "data"}]),
        [("FieldValueRequired", "spec.containers[0].volumeMounts[0].mountPath")],
    ),
    (
        "duplicate volume",
        pod(volumes=[{"name": "data"}, {"name": "data"}]),
        [("FieldValueDuplicate", "spec.volumes[1].name")],
    ),
    ("volume name", pod(volumes=[{"name": "Data"}]), [("FieldValueInvalid", "spec.volumes[0].name")]),
    (
        "two volume sources",
        pod(volumes=[{"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}]),
        [("FieldValueForbidden", "spec.volumes[0].configMap")],
    ),
    (
        "configMap name required",
        pod(volumes=[{"name": "v", "configMap": {}}]),
        [("FieldValueRequired", "spec.volumes[0].configMap.name")],
    ),
    (
        "secret defaultMode",
        pod(volumes=[{"name": "v", "secret": {"secretName": "s", "defaultMode": 1000}}]),
        [("FieldValueInvalid", "spec.volumes[0].secret.defaultMode")],
    ),
    (
        "pvc claimName",
        pod(volumes=[{"name": "v", "persistentVolumeClaim": {}}]),
        [("FieldValueRequired", "spec.volumes[0].persistentVolumeClaim.claimName")],
    ),
    (
        "item path escapes",
        pod(volumes=[{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}]),
        [("FieldValueInvalid", "spec.volumes[0].configMap.items[0].path")],
    ),
    (
        "requests above limits",
        pod(containers=[ctr(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]),
        [("FieldValueInvalid", "spec.containers[0].resources.requests")],
    ),
    (
        "requests within limits",
        pod(
            containers=[
                ctr(
                    resources={
                        "requests": {"cpu": "500m", "memory": "64Mi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    }
                )
            ]
        ),
        [],
    ),
    (
        "bad quantity",
        pod(containers=[ctr(resources={"limits": {"memory": "1GB"}})]),
        [
            ("FieldValueInvalid", "spec.containers[0].resources.limits[memory]"),
            ("FieldValueInvalid", "spec.containers[0].resources.requests[memory]"),
        ],
    ),
    (
        "negative quantity",
        pod(containers=[ctr(resources={"requests": {"cpu": "-1"}})]),
        [("FieldValueInvalid", "spec.containers[0].resources.requests[cpu]")],
    ),
    (
        "unknown resource name",
        pod(containers=[ctr(resources={"requests": {"gpu": "1"}})]),
        [("FieldValueInvalid", "spec.containers[0].resources.requests[gpu]")],
    ),
    (
        "extended resource needs limit",
        pod(containers=[ctr(resources={"requests": {"example.com/gpu": "1"}})]),
        [("FieldValueRequired", "spec.containers[0].resources.limits")],
    ),
    (
        "probe without handler",
        pod(containers=[ctr(livenessProbe={"initialDelaySeconds": 1})]),
        [("FieldValueRequired", "spec.containers[0].livenessProbe")],
    ),
    (
        "probe two handlers",
        pod(containers=[ctr(readinessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})]),
        [("FieldValueForbidden", "spec.containers[0].readinessProbe.tcpSocket")],
    ),
    (
        "probe negative delay",
        pod(containers=[ctr(livenessProbe={"tcpSocket": {"port": 80}, "initialDelaySeconds": -1})]),
        [("FieldValueInvalid", "spec.containers[0].livenessProbe.initialDelaySeconds")],
    ),
    (
        "liveness successThreshold",
        pod(containers=[ctr(livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2})]),
        [("FieldValueInvalid", "spec.containers[0].livenessProbe.successThreshold")],
    ),
    (
        "probe port",
        pod(containers=[ctr(readinessProbe={"httpGet": {"port": 0}})]),
        [("FieldValueInvalid", "spec.containers[0].readinessProbe.httpGet.port")],
    ),
    (
        "probe named port",
        pod(containers=[ctr(readinessProbe={"httpGet": {"port": "http"}})]),
        [],
    ),
    (
        "exec command required",
        pod(containers=[ctr(livenessProbe={"exec": {}})]),
        [("FieldValueRequired", "spec.containers[0].livenessProbe.exec.command")],
    ),
    (
        "init container probe",
        pod(initContainers=[ctr(name="init", readinessProbe={"exec": {"command": ["x"]}})]),
        [("FieldValueForbidden", "spec.initContainers[0].readinessProbe")],
    ),
    (
        "sidecar probe ok",
        pod(
            initContainers=[
                ctr(name="init", restartPolicy="Always", readinessProbe={"exec": {"command": ["x"]}})
            ]
        ),
        [],
    ),
    ("restartPolicy", pod(restartPolicy="Sometimes"), [("FieldValueNotSupported", "spec.restartPolicy")]),
    ("dnsPolicy", pod(dnsPolicy="Google"), [("FieldValueNotSupported", "spec.dnsPolicy")]),
    ("dns None needs config", pod(dnsPolicy="None"), [("FieldValueRequired", "spec.dnsConfig")]),
    (
        "container restartPolicy",
        pod(containers=[ctr(restartPolicy="Always")]),
        [("FieldValueForbidden", "spec.containers[0].restartPolicy")],
    ),
    (
        "pull policy",
        pod(containers=[ctr(imagePullPolicy="Sometimes")]),
        [("FieldValueNotSupported", "spec.containers[0].imagePullPolicy")],
    ),
    ("nodeSelector", pod(nodeSelector={"k": "bad value!"}), [("FieldValueInvalid", "spec.nodeSelector")]),
    ("hostname", pod(hostname="a.b"), [("FieldValueInvalid", "spec.hostname")]),
    (
        "activeDeadlineSeconds",
        pod(activeDeadlineSeconds=0),
        [("FieldValueInvalid", "spec.activeDeadlineSeconds")],
    ),
    ("serviceAccountName", pod(serviceAccountName="Bad"), [("FieldValueInvalid", "spec.serviceAccountName")]),
    (
        "toleration operator",
        pod(tolerations=[{"key": "k", "operator": "Maybe"}]),
        [("FieldValueNotSupported", "spec.tolerations[0].operator")],
    ),
    (
        "toleration empty key needs Exists",
        pod(tolerations=[{"operator": "Equal", "value": "v"}]),
        [("FieldValueInvalid", "spec.tolerations[0].operator")],
    ),
    (
        "toleration effect",
        pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "Nope"}]),
        [("FieldValueNotSupported", "spec.tolerations[0].effect")],
    ),
    (
        "toleration seconds need NoExecute",
        pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
        [("FieldValueInvalid", "spec.tolerations[0].effect")],
    ),
    (
        "ephemeral on create",
        pod(ephemeralContainers=[{"name": "dbg", "image": "busybox"}]),
        [("FieldValueForbidden", "spec.ephemeralContainers")],
    ),
    (
        "hostNetwork port mismatch",
        pod(hostNetwork=True, containers=[ctr(ports=[{"containerPort": 80, "hostPort": 81}])]),
        [("FieldValueInvalid", "spec.containers[0].ports[0].hostPort")],
    ),
    (
        "affinity topologyKey",
        pod(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"a": "b"}}}
                    ]
                }
            }
        ),
        [
            (
                "FieldValueRequired",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
            )
        ],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pod_create(v, name, data, expected):
    assert v.errors(v.build(core_v1.Pod, data)) == expected


def test_requests_above_limits_message(v):
    from kubelite.api.validation import validate_create

    p = v.build(
        core_v1.Pod, pod(containers=[ctr(resources={"requests": {"cpu": "1.5"}, "limits": {"cpu": "1"}})])
    )
    (err,) = validate_create(p)
    assert (
        str(err)
        == 'spec.containers[0].resources.requests: Invalid value: "1500m": must be less than or equal to cpu limit of 1'
    )


def _stored(data):
    import msgspec

    from kubelite.api.defaults import apply_defaults

    obj = msgspec.convert(data, core_v1.Pod)
    apply_defaults(obj)
    obj.metadata.uid = "u1"
    obj.metadata.resourceVersion = "1"
    obj.metadata.creationTimestamp = "2024-01-01T00:00:00Z"
    return obj


def test_pod_update_image_allowed(v):
    old = _stored(pod())
    new = copy.deepcopy(old)
    new.spec.containers[0].image = "nginx:1.26"
    assert v.errors(new, old) == []


def test_pod_update_other_fields_forbidden(v):
    from kubelite.api.validation import validate_update

    old = _stored(pod())
    new = copy.deepcopy(old)
    new.spec.containers[0].ports = [core_v1.ContainerPort(containerPort=80, protocol="TCP")]
    errs = validate_update(new, old)
    assert [(e.type, e.field) for e in errs] == [("FieldValueForbidden", "spec")]
    assert errs[0].detail.startswith(
        "pod updates may not change fields other than `spec.containers[*].image`,"
    )


def test_pod_update_add_container_forbidden(v):
    old = _stored(pod())
    new = copy.deepcopy(old)
    new.spec.containers.append(
        core_v1.Container(name="b", image="x", terminationMessagePolicy="File", imagePullPolicy="Always")
    )
    assert v.errors(new, old) == [("FieldValueForbidden", "spec.containers")]


def test_pod_update_tolerations_only_added(v):
    old = _stored(pod(tolerations=[{"key": "a", "operator": "Exists"}]))
    added = copy.deepcopy(old)
    added.spec.tolerations.append(core_v1.Toleration(key="b", operator="Exists"))
    assert v.errors(added, old) == []
    removed = copy.deepcopy(old)
    removed.spec.tolerations = []
    assert v.errors(removed, old) == [("FieldValueForbidden", "spec.tolerations")]


def test_pod_update_active_deadline(v):
    old = _stored(pod(activeDeadlineSeconds=100))
    lower = copy.deepcopy(old)
    lower.spec.activeDeadlineSeconds = 50
    assert v.errors(lower, old) == []
    higher = copy.deepcopy(old)
    higher.spec.activeDeadlineSeconds = 200
    assert v.errors(higher, old) == [("FieldValueInvalid", "spec.activeDeadlineSeconds")]


def test_pod_update_metadata_immutable(v):
    old = _stored(pod())
    new = copy.deepcopy(old)
    new.metadata.uid = "other"
    assert v.errors(new, old) == [("FieldValueInvalid", "metadata.uid")]


def test_pod_status_update(v):
    old = _stored(pod())
    new = copy.deepcopy(old)
    new.status.podIP = "10.0.0.1"
    new.status.podIPs = [core_v1.PodIP(ip="10.0.0.1")]
    assert v.errors(new, old, status=True) == []
    bad = copy.deepcopy(old)
    bad.status.podIPs = [core_v1.PodIP(ip="nope")]
    assert v.errors(bad, old, status=True) == [("FieldValueInvalid", "status.podIPs[0]")]
    moved = copy.deepcopy(old)
    moved.spec.nodeName = "n1"
    assert v.errors(moved, old, status=True) == [("FieldValueForbidden", "status.nodeName")]
