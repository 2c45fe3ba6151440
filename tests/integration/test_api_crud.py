"""CRUD on every served kind, through the official ``kubernetes`` client.

For each kind: create, read, list (namespaced and across namespaces), patch
(merge), replace with the read object, delete, and 404 afterwards. The
client decodes every answer into its typed models, so a body that is not
wire-compatible (a missing required field, a wrong type) fails here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NS = "crud"

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
}
SELECTOR = {"matchLabels": {"app": "web"}}


@dataclass
class Kind:
    api: str  # client class name, e.g. "CoreV1Api"
    snake: str  # the method suffix, e.g. "config_map"
    api_version: str
    kind: str
    namespaced: bool
    body: dict[str, Any]  # everything but apiVersion, kind, metadata.name
    patch: dict[str, Any]  # a merge patch that changes something visible
    check: Any  # (patched typed object) -> bool

    @property
    def id(self) -> str:
        return f"{self.api_version}/{self.kind}"


def _labels_patch() -> dict[str, Any]:
    return {"metadata": {"labels": {"patched": "yes"}}}


def _labelled(obj: Any) -> bool:
    return (obj.metadata.labels or {}).get("patched") == "yes"


KINDS = [
    Kind("CoreV1Api", "pod", "v1", "Pod", True, {"spec": POD_TEMPLATE["spec"]}, _labels_patch(), _labelled),
    Kind(
        "CoreV1Api",
        "node",
        "v1",
        "Node",
        False,
        {"spec": {"podCIDR": "10.42.1.0/24"}},
        {"spec": {"unschedulable": True}},
        lambda o: o.spec.unschedulable is True,
    ),
    Kind(
        "CoreV1Api",
        "service",
        "v1",
        "Service",
        True,
        {"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "CoreV1Api",
        "endpoints",
        "v1",
        "Endpoints",
        True,
        {"subsets": [{"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 8080}]}]},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "CoreV1Api",
        "config_map",
        "v1",
        "ConfigMap",
        True,
        {"data": {"k": "v"}},
        {"data": {"k": "v2", "new": "x"}},
        lambda o: o.data == {"k": "v2", "new": "x"},
    ),
    Kind(
        "CoreV1Api",
        "secret",
        "v1",
        "Secret",
        True,
        {"type": "Opaque", "data": {"password": "c2VjcmV0"}},
        {"stringData": {"user": "admin"}},
        lambda o: o.data.get("user") == "YWRtaW4=" and o.data.get("password") == "c2VjcmV0",
    ),
    Kind(
        "CoreV1Api",
        "event",
        "v1",
        "Event",
        True,
        {
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": NS},
            "reason": "Started",
            "message": "started",
            "type": "Normal",
            "source": {"component": "kubelet"},
        },
        {"message": "started again"},
        lambda o: o.message == "started again",
    ),
    Kind(
        "CoreV1Api",
        "replication_controller",
        "v1",
        "ReplicationController",
        True,
        {"spec": {"replicas": 1, "selector": {"app": "web"}, "template": POD_TEMPLATE}},
        {"spec": {"replicas": 3}},
        lambda o: o.spec.replicas == 3,
    ),
    Kind("CoreV1Api", "service_account", "v1", "ServiceAccount", True, {}, _labels_patch(), _labelled),
    Kind(
        "CoreV1Api",
        "limit_range",
        "v1",
        "LimitRange",
        True,
        {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "CoreV1Api",
        "resource_quota",
        "v1",
        "ResourceQuota",
        True,
        {"spec": {"hard": {"pods": "10"}}},
        {"spec": {"hard": {"pods": "20"}}},
        lambda o: o.spec.hard["pods"] == "20",
    ),
    Kind(
        "CoreV1Api",
        "persistent_volume",
        "v1",
        "PersistentVolume",
        False,
        {
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/pv"},
            }
        },
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "CoreV1Api",
        "persistent_volume_claim",
        "v1",
        "PersistentVolumeClaim",
        True,
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "AppsV1Api",
        "deployment",
        "apps/v1",
        "Deployment",
        True,
        {"spec": {"replicas": 1, "selector": SELECTOR, "template": POD_TEMPLATE}},
        {"spec": {"replicas": 2}},
        lambda o: o.spec.replicas == 2,
    ),
    Kind(
        "AppsV1Api",
        "replica_set",
        "apps/v1",
        "ReplicaSet",
        True,
        {"spec": {"replicas": 1, "selector": SELECTOR, "template": POD_TEMPLATE}},
        {"spec": {"replicas": 2}},
        lambda o: o.spec.replicas == 2,
    ),
    Kind(
        "AppsV1Api",
        "stateful_set",
        "apps/v1",
        "StatefulSet",
        True,
        {"spec": {"replicas": 1, "serviceName": "web", "selector": SELECTOR, "template": POD_TEMPLATE}},
        {"spec": {"replicas": 2}},
        lambda o: o.spec.replicas == 2,
    ),
    Kind(
        "AppsV1Api",
        "daemon_set",
        "apps/v1",
        "DaemonSet",
        True,
        {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "AppsV1Api",
        "controller_revision",
        "apps/v1",
        "ControllerRevision",
        True,
        {"revision": 1, "data": {"spec": {"template": {}}}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "BatchV1Api",
        "job",
        "batch/v1",
        "Job",
        True,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                        "restartPolicy": "Never",
                    }
                }
            }
        },
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "BatchV1Api",
        "cron_job",
        "batch/v1",
        "CronJob",
        True,
        {
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [{"name": "c", "image": "busybox"}],
                                "restartPolicy": "OnFailure",
                            }
                        }
                    }
                },
            }
        },
        {"spec": {"suspend": True}},
        lambda o: o.spec.suspend is True,
    ),
    Kind(
        "AutoscalingV1Api",
        "horizontal_pod_autoscaler",
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        True,
        {
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
                "targetCPUUtilizationPercentage": 70,
            }
        },
        {"spec": {"maxReplicas": 7}},
        lambda o: o.spec.max_replicas == 7 and o.spec.target_cpu_utilization_percentage == 70,
    ),
    Kind(
        "AutoscalingV2Api",
        "horizontal_pod_autoscaler",
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        True,
        {
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 60},
                        },
                    }
                ],
            }
        },
        {"spec": {"maxReplicas": 9}},
        lambda o: o.spec.max_replicas == 9,
    ),
    Kind(
        "CoordinationV1Api",
        "lease",
        "coordination.k8s.io/v1",
        "Lease",
        True,
        {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
        {"spec": {"holderIdentity": "you"}},
        lambda o: o.spec.holder_identity == "you",
    ),
    Kind(
        "DiscoveryV1Api",
        "endpoint_slice",
        "discovery.k8s.io/v1",
        "EndpointSlice",
        True,
        {
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        },
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "EventsV1Api",
        "event",
        "events.k8s.io/v1",
        "Event",
        True,
        {
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingController": "kubelite.io/test",
            "reportingInstance": "test-1",
            "action": "Testing",
            "reason": "Tested",
            "type": "Normal",
            "regarding": {"kind": "Pod", "name": "p", "namespace": NS},
            "note": "a note",
        },
        {"note": "another note"},
        lambda o: o.note == "another note",
    ),
    Kind(
        "NetworkingV1Api",
        "ingress",
        "networking.k8s.io/v1",
        "Ingress",
        True,
        {
            "spec": {
                "rules": [
                    {
                        "host": "example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            }
        },
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "NetworkingV1Api",
        "ingress_class",
        "networking.k8s.io/v1",
        "IngressClass",
        False,
        {"spec": {"controller": "kubelite.io/ingress"}},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "StorageV1Api",
        "storage_class",
        "storage.k8s.io/v1",
        "StorageClass",
        False,
        {"provisioner": "kubelite.io/hostpath"},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "SchedulingV1Api",
        "priority_class",
        "scheduling.k8s.io/v1",
        "PriorityClass",
        False,
        {"value": 1000, "description": "high"},
        {"description": "higher"},
        lambda o: o.description == "higher",
    ),
    Kind(
        "RbacAuthorizationV1Api",
        "role",
        "rbac.authorization.k8s.io/v1",
        "Role",
        True,
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "RbacAuthorizationV1Api",
        "cluster_role",
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        False,
        {"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "RbacAuthorizationV1Api",
        "role_binding",
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        True,
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": NS}],
        },
        _labels_patch(),
        _labelled,
    ),
    Kind(
        "RbacAuthorizationV1Api",
        "cluster_role_binding",
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        False,
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}],
        },
        _labels_patch(),
        _labelled,
    ),
]


class Ops:
    """The client's typed methods of one kind, called alike for both scopes."""

    def __init__(self, k8s: client.ApiClient, kind: Kind) -> None:
        self.api = getattr(client, kind.api)(k8s)
        self.kind = kind
        self.scope = "namespaced_" if kind.namespaced else ""

    def _call(self, verb: str, *args: Any, **kw: Any) -> Any:
        method = getattr(self.api, f"{verb}_{self.scope}{self.kind.snake}")
        if self.kind.namespaced:
            return method(*args[:1], NS, *args[1:], **kw) if verb != "create" else method(NS, *args, **kw)
        return method(*args, **kw)

    def create(self, body: Any) -> Any:
        return self._call("create", body)

    def read(self, name: str) -> Any:
        return self._call("read", name)

    def list(self, **kw: Any) -> Any:
        if self.kind.namespaced:
            return getattr(self.api, f"list_namespaced_{self.kind.snake}")(NS, **kw)
        return getattr(self.api, f"list_{self.kind.snake}")(**kw)

    def list_all(self) -> Any:
        suffix = "_for_all_namespaces" if self.kind.namespaced else ""
        return getattr(self.api, f"list_{self.kind.snake}{suffix}")()

    def patch(self, name: str, body: Any) -> Any:
        return self._call("patch", name, body)

    def replace(self, name: str, body: Any) -> Any:
        return self._call("replace", name, body)

    def delete(self, name: str) -> Any:
        return self._call("delete", name)


@pytest.fixture(scope="module", autouse=True)
def namespace(k8s: client.ApiClient) -> None:
    client.CoreV1Api(k8s).create_namespace({"metadata": {"name": NS}})


def _manifest(kind: Kind, name: str) -> dict[str, Any]:
    body = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": name}}
    body.update(kind.body)
    return body


def _param(kind: Kind) -> Any:
    return pytest.param(kind, id=kind.id)


@pytest.mark.parametrize("kind", [_param(k) for k in KINDS])
def test_crud(k8s: client.ApiClient, kind: Kind) -> None:
    ops = Ops(k8s, kind)
    name = kind.id.replace("/", "-").replace(".", "-").lower()

    created = ops.create(_manifest(kind, name))
    assert created.kind == kind.kind
    assert created.api_version == kind.api_version
    assert created.metadata.name == name
    assert created.metadata.namespace == (NS if kind.namespaced else None)
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert int(created.metadata.resource_version) > 0

    got = ops.read(name)
    assert got.metadata.uid == created.metadata.uid
    assert got.metadata.resource_version == created.metadata.resource_version

    listed = ops.list()
    assert name in [o.metadata.name for o in listed.items]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    assert name in [o.metadata.name for o in ops.list_all().items]

    patched = ops.patch(name, kind.patch)
    assert kind.check(patched), patched
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    assert patched.metadata.uid == created.metadata.uid
    assert kind.check(ops.read(name))

    # A replace of what was read, with one more label, keeps everything else.
    current = ops.read(name)
    current.metadata.labels = {**(current.metadata.labels or {}), "replaced": "yes"}
    replaced = ops.replace(name, current)
    assert replaced.metadata.labels["replaced"] == "yes"
    assert kind.check(replaced)
    assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)

    with pytest.raises(ApiException) as exc:
        ops.create(_manifest(kind, name))
    assert exc.value.status == 409

    ops.delete(name)
    with pytest.raises(ApiException) as exc:
        ops.read(name)
    assert exc.value.status == 404
    assert name not in [o.metadata.name for o in ops.list().items]
    with pytest.raises(ApiException) as exc:
        ops.delete(name)
    assert exc.value.status == 404


def test_every_kind_is_served(api_server: Any) -> None:
    """Every kind of issue 2 is in the server's registry (and so in discovery)."""
    served = {(r.api_version, r.kind) for r in api_server.server.registry.all()}
    assert {(k.api_version, k.kind) for k in KINDS} <= served


def test_namespace_crud(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    ns = core.create_namespace({"metadata": {"name": "crud-ns", "labels": {"team": "a"}}})
    assert ns.status.phase == "Active"
    assert ns.spec.finalizers == ["kubernetes"]
    assert core.read_namespace("crud-ns").metadata.labels["team"] == "a"
    patched = core.patch_namespace("crud-ns", {"metadata": {"labels": {"team": "b"}}})
    assert patched.metadata.labels["team"] == "b"
    assert "crud-ns" in [n.metadata.name for n in core.list_namespace().items]
    core.delete_namespace("crud-ns")  # emptied and removed in the background: see test_api_namespaces


def test_pod_defaults_and_delete_answer(k8s: client.ApiClient) -> None:
    """A pod comes back defaulted and its DELETE answers with the pod (not a Status)."""
    core = client.CoreV1Api(k8s)
    pod = core.create_namespaced_pod(
        NS, {"metadata": {"name": "defaults"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    )
    assert pod.status.phase == "Pending"
    assert pod.status.qos_class == "BestEffort"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.containers[0].image_pull_policy == "Always"  # :latest implied
    assert pod.spec.termination_grace_period_seconds == 30
    deleted = core.delete_namespaced_pod("defaults", NS)
    assert isinstance(deleted, client.V1Pod)
    assert deleted.metadata.name == "defaults"
