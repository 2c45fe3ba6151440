"""The generated models decode what Kubernetes prints and encode it back unchanged."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from kubelite.api import apps_v1, batch_v1, core_v1, meta
from kubelite.api.model import Model, fields_of
from kubelite.api.resources import RESOURCES

POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-7d4b9c6f5-x2x9k",
        "generateName": "web-7d4b9c6f5-",
        "namespace": "default",
        "uid": "0c1d5a5e-7f3b-4f0e-9a8b-3f4d2c1b0a99",
        "resourceVersion": "1234",
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"},
        "annotations": {"note": "x"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c6f5",
                "uid": "5b7e3c1a-1111-2222-3333-444455556666",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "finalizers": ["example.com/keep"],
    },
    "spec": {
        "volumes": [
            {"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "cfg", "configMap": {"name": "web-config", "defaultMode": 420}},
            {
                "name": "kube-api-access-abcde",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            },
        ],
        "initContainers": [
            {"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"], "resources": {}}
        ],
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "args": ["-g", "daemon off;"],
                "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 53, "protocol": "UDP", "hostPort": 5353},
                ],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {
                        "name": "POD_IP",
                        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
                    },
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                ],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                },
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "cfg", "readOnly": True, "mountPath": "/etc/web"},
                ],
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                    "initialDelaySeconds": 5,
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "readinessProbe": {
                    "tcpSocket": {"port": "http"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 5,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "nodeName": "node-1",
        "hostIPC": True,
        "securityContext": {"fsGroup": 2000},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2024-05-01T10:00:05Z",
            }
        ],
        "hostIP": "10.0.0.5",
        "hostIPs": [{"ip": "10.0.0.5"}],
        "podIP": "10.42.0.7",
        "podIPs": [{"ip": "10.42.0.7"}],
        "startTime": "2024-05-01T10:00:00Z",
        "containerStatuses": [
            {
                "name": "web",
                "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": "docker.io/library/nginx:1.25",
                "imageID": "docker.io/library/nginx@sha256:abc",
                "containerID": "containerd://abc",
                "started": True,
            }
        ],
        "qosClass": "Burstable",
    },
}

DEPLOYMENT: dict[str, Any] = {
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web", "namespace": "default", "generation": 2, "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}],
        },
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "frontend"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "resources": {}}]},
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    },
    "status": {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastUpdateTime": "2024-05-01T10:00:00Z",
                "lastTransitionTime": "2024-05-01T10:00:00Z",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        ],
    },
}

SERVICE: dict[str, Any] = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 30443},
        ],
        "selector": {"app": "web"},
        "clusterIP": "10.43.0.17",
        "clusterIPs": ["10.43.0.17"],
        "type": "NodePort",
        "sessionAffinity": "None",
        "externalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    },
    "status": {"loadBalancer": {}},
}

SECRET: dict[str, Any] = {
    "kind": "Secret",
    "apiVersion": "v1",
    "metadata": {"name": "db", "namespace": "default"},
    "data": {"password": base64.b64encode(b"s3cr3t\x00\xff").decode(), "user": "YWRtaW4="},
    "type": "Opaque",
}

NODE: dict[str, Any] = {
    "kind": "Node",
    "apiVersion": "v1",
    "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
    "spec": {
        "podCIDR": "10.42.0.0/24",
        "podCIDRs": ["10.42.0.0/24"],
        "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    },
    "status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "3800m", "memory": "7Gi", "pods": "110"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": "2024-05-01T10:00:00Z",
                "lastTransitionTime": "2024-05-01T09:00:00Z",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "10.0.0.5"},
            {"type": "Hostname", "address": "node-1"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "m",
            "systemUUID": "s",
            "bootID": "b",
            "kernelVersion": "6.1.0",
            "osImage": "Debian",
            "containerRuntimeVersion": "runc://1.1",
            "kubeletVersion": "v1.30.0",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": [{"names": ["docker.io/library/nginx:1.25"], "sizeBytes": 70000000}],
    },
}

JOB: dict[str, Any] = {
    "kind": "Job",
    "apiVersion": "batch/v1",
    "metadata": {"name": "pi", "namespace": "default"},
    "spec": {
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 4,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
        "manualSelector": False,
        "template": {
            "metadata": {"labels": {"job-name": "pi"}},
            "spec": {
                "containers": [
                    {"name": "pi", "image": "perl:5", "command": ["perl", "-e", "print 1"], "resources": {}}
                ],
                "restartPolicy": "Never",
            },
        },
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
    },
    "status": {
        "startTime": "2024-05-01T10:00:00Z",
        "completionTime": "2024-05-01T10:00:30Z",
        "succeeded": 1,
        "uncountedTerminatedPods": {},
        "ready": 0,
        "terminating": 0,
        "conditions": [
            {
                "type": "Complete",
                "status": "True",
                "lastProbeTime": "2024-05-01T10:00:30Z",
                "lastTransitionTime": "2024-05-01T10:00:30Z",
            }
        ],
    },
}

SAMPLES = [
    (core_v1.Pod, POD),
    (apps_v1.Deployment, DEPLOYMENT),
    (core_v1.Service, SERVICE),
    (core_v1.Secret, SECRET),
    (core_v1.Node, NODE),
    (batch_v1.Job, JOB),
]


def _strip_nulls(value: Any) -> Any:
    """Drop null members, which Go prints for a zero Time and we omit."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.version}/{r.kind}")
def test_every_resource_has_a_model_and_a_list(res: Any) -> None:
    cls = res.model
    assert issubclass(cls, Model)
    assert cls.__name__ == res.kind
    names = fields_of(cls)
    assert list(names)[:2] == ["kind", "apiVersion"]
    assert "metadata" in names
    if "list" in res.verbs:  # the create-only review kinds have no List
        module = __import__(cls.__module__, fromlist=["_"])
        list_cls = getattr(module, res.list_kind)
        items = fields_of(list_cls)["items"]
        assert items.type == list[cls]  # type: ignore[valid-type]
    obj = msgspec.json.decode(b'{"kind": "%s", "metadata": {"name": "x"}}' % res.kind.encode(), type=cls)
    assert obj.metadata.name == "x"


@pytest.mark.parametrize(("cls", "sample"), SAMPLES, ids=lambda v: getattr(v, "__name__", ""))
def test_round_trip(cls: type[Model], sample: dict[str, Any]) -> None:
    data = msgspec.json.encode(sample)
    obj = msgspec.json.decode(data, type=cls)
    assert msgspec.json.decode(msgspec.json.encode(obj)) == _strip_nulls(sample)


def test_typed_access() -> None:
    pod = msgspec.json.decode(msgspec.json.encode(POD), type=core_v1.Pod)
    c = pod.spec.containers[0]
    assert c.ports[0].containerPort == 80
    assert c.resources.limits["cpu"] == "500m"
    assert c.livenessProbe is not None and c.livenessProbe.httpGet is not None
    assert c.livenessProbe.httpGet.port == 80
    assert c.readinessProbe is not None and c.readinessProbe.tcpSocket is not None
    assert c.readinessProbe.tcpSocket.port == "http"
    assert pod.spec.volumes[0].emptyDir is not None  # VolumeSource is flattened into Volume
    assert pod.spec.hostIPC is True and pod.status.podIP == "10.42.0.7"
    assert pod.metadata.creationTimestamp == "2024-05-01T10:00:00Z"
    svc = msgspec.json.decode(msgspec.json.encode(SERVICE), type=core_v1.Service)
    assert [p.targetPort for p in svc.spec.ports] == [8080, "https"]
    secret = msgspec.json.decode(msgspec.json.encode(SECRET), type=core_v1.Secret)
    assert secret.data["password"] == b"s3cr3t\x00\xff"


def test_zero_values_follow_go() -> None:
    # Go always prints struct values and non-omitempty fields; omitempty zeros and nil pointers are absent.
    assert msgspec.json.decode(msgspec.json.encode(core_v1.Pod())) == {
        "metadata": {},
        "spec": {"containers": []},
        "status": {},
    }
    status = core_v1.ContainerStatus(name="web")
    assert msgspec.json.decode(msgspec.json.encode(status)) == {
        "name": "web",
        "state": {},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": "",
        "imageID": "",
    }
    assert msgspec.json.decode(msgspec.json.encode(core_v1.Service())) == {
        "metadata": {},
        "spec": {},
        "status": {"loadBalancer": {}},
    }


def test_unknown_fields_are_dropped() -> None:
    data = msgspec.json.encode({**SECRET, "bogus": 1, "metadata": {"name": "db", "extra": {"a": 1}}})
    secret = msgspec.json.decode(data, type=core_v1.Secret)
    out = msgspec.json.decode(msgspec.json.encode(secret))
    assert "bogus" not in out and out["metadata"] == {"name": "db"}


def test_keyword_json_names() -> None:
    lm = msgspec.json.decode(b'{"resourceVersion": "5", "continue": "tok"}', type=meta.ListMeta)
    assert lm.continue_ == "tok"
    assert msgspec.json.decode(msgspec.json.encode(lm)) == {"resourceVersion": "5", "continue": "tok"}


def test_wire_facts() -> None:
    containers = fields_of(core_v1.PodSpec)["containers"].wire
    assert (containers.proto, containers.strategy, containers.key) == (2, "merge", "name")
    assert containers.list_type == "map" and containers.map_keys == ("name",)
    ports = fields_of(core_v1.Container)["ports"].wire
    assert ports.list_type == "map" and ports.map_keys == ("containerPort", "protocol")
    assert ports.strategy == "merge" and ports.key == "containerPort"
    assert fields_of(meta.ObjectMeta)["finalizers"].wire.list_type == "set"
    assert fields_of(core_v1.Pod)["kind"].wire.proto == 0  # TypeMeta is not in the protobuf message


def test_table_and_version_info() -> None:
    table = meta.Table(
        kind="Table",
        apiVersion="meta.k8s.io/v1",
        columnDefinitions=[meta.TableColumnDefinition(name="Name", type="string", format="name")],
        rows=[meta.TableRow(cells=["web", 3, None], object={"kind": "PartialObjectMetadata"})],
    )
    out = msgspec.json.decode(msgspec.json.encode(table))
    assert out["rows"] == [{"cells": ["web", 3, None], "object": {"kind": "PartialObjectMetadata"}}]
    assert out["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "",
        "priority": 0,
    }
    assert msgspec.json.decode(msgspec.json.encode(meta.Table()))["rows"] == []
    info = meta.Info(major="1", minor="30", gitVersion="v1.30.0")
    assert msgspec.json.decode(msgspec.json.encode(info))["gitVersion"] == "v1.30.0"
