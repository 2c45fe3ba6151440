"""Discovery, version, health and metrics, as the official client and its
DynamicClient use them."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

GROUPS = {
    "apps": "v1",
    "batch": "v1",
    "autoscaling": "v2",
    "coordination.k8s.io": "v1",
    "discovery.k8s.io": "v1",
    "events.k8s.io": "v1",
    "networking.k8s.io": "v1",
    "storage.k8s.io": "v1",
    "scheduling.k8s.io": "v1",
    "rbac.authorization.k8s.io": "v1",
}


def _get(api_server: Any, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(api_server.url + path, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_version(k8s: client.ApiClient) -> None:
    info = client.VersionApi(k8s).get_code()
    assert info.major == "1"
    assert info.minor == "32"
    assert info.git_version.startswith("v1.32.")
    assert info.platform


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health(api_server: Any, path: str) -> None:
    assert _get(api_server, path) == (200, "ok")


def test_metrics_count_requests(api_server: Any, k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    core.list_namespaced_config_map("default")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("absent", "default")
    code, text = _get(api_server, "/metrics")
    assert code == 200
    assert "# TYPE apiserver_request_total counter" in text
    lines = [line for line in text.splitlines() if line.startswith("apiserver_request_total{")]
    assert any('resource="configmaps"' in line and 'code="200"' in line for line in lines)
    assert any('resource="configmaps"' in line and 'code="404"' in line for line in lines)
    for line in lines:
        assert float(line.rsplit(" ", 1)[1]) >= 1


def test_metrics_tell_lists_from_gets(api_server: Any, k8s: client.ApiClient) -> None:
    client.CoreV1Api(k8s).list_namespaced_secret("default")
    lines = _get(api_server, "/metrics")[1].splitlines()
    assert any(
        line.startswith("apiserver_request_total{") and 'verb="LIST"' in line and 'resource="secrets"' in line
        for line in lines
    )


def test_core_api_versions(k8s: client.ApiClient) -> None:
    versions = client.CoreApi(k8s).get_api_versions()
    assert versions.versions == ["v1"]
    assert versions.server_address_by_client_cidrs


def test_api_groups(k8s: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(k8s).get_api_versions().groups}
    for name, preferred in GROUPS.items():
        assert name in groups, name
        assert groups[name].preferred_version.version == preferred
        assert groups[name].preferred_version.group_version == f"{name}/{preferred}"
    assert {v.version for v in groups["autoscaling"].versions} >= {"v1", "v2"}
    assert "" not in groups


def test_api_group(k8s: client.ApiClient) -> None:
    group = client.AppsApi(k8s).get_api_group()
    assert group.name == "apps"
    assert group.preferred_version.group_version == "apps/v1"


def test_core_v1_resources(k8s: client.ApiClient) -> None:
    lst = client.CoreV1Api(k8s).get_api_resources()
    assert lst.group_version == "v1"
    by_name = {r.name: r for r in lst.resources}
    for name, kind, namespaced in [
        ("namespaces", "Namespace", False),
        ("pods", "Pod", True),
        ("nodes", "Node", False),
        ("services", "Service", True),
        ("endpoints", "Endpoints", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("events", "Event", True),
        ("replicationcontrollers", "ReplicationController", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("limitranges", "LimitRange", True),
        ("resourcequotas", "ResourceQuota", True),
        ("persistentvolumes", "PersistentVolume", False),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
    ]:
        assert by_name[name].kind == kind
        assert by_name[name].namespaced is namespaced
        assert "list" in by_name[name].verbs
    assert by_name["pods"].short_names == ["po"]
    assert "pods/status" in by_name
    assert by_name["replicationcontrollers/scale"].kind == "Scale"
    assert by_name["replicationcontrollers/scale"].group == "autoscaling"


def test_apps_v1_resources(k8s: client.ApiClient) -> None:
    lst = client.AppsV1Api(k8s).get_api_resources()
    assert lst.group_version == "apps/v1"
    by_name = {r.name: r for r in lst.resources}
    for name in ("deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"):
        assert by_name[name].namespaced
    assert by_name["deployments"].short_names == ["deploy"]
    assert by_name["deployments/scale"].kind == "Scale"
    assert "deployments/status" in by_name


@pytest.mark.parametrize(
    ("api", "group_version", "plural"),
    [
        ("BatchV1Api", "batch/v1", "cronjobs"),
        ("AutoscalingV1Api", "autoscaling/v1", "horizontalpodautoscalers"),
        ("AutoscalingV2Api", "autoscaling/v2", "horizontalpodautoscalers"),
        ("CoordinationV1Api", "coordination.k8s.io/v1", "leases"),
        ("DiscoveryV1Api", "discovery.k8s.io/v1", "endpointslices"),
        ("EventsV1Api", "events.k8s.io/v1", "events"),
        ("NetworkingV1Api", "networking.k8s.io/v1", "ingressclasses"),
        ("StorageV1Api", "storage.k8s.io/v1", "storageclasses"),
        ("SchedulingV1Api", "scheduling.k8s.io/v1", "priorityclasses"),
        ("RbacAuthorizationV1Api", "rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    ],
)
def test_group_version_resources(k8s: client.ApiClient, api: str, group_version: str, plural: str) -> None:
    lst = getattr(client, api)(k8s).get_api_resources()
    assert lst.group_version == group_version
    assert plural in {r.name for r in lst.resources}


def test_unknown_group_version_is_404(api_server: Any) -> None:
    assert _get(api_server, "/apis/example.com")[0] == 404
    assert _get(api_server, "/apis/apps/v7")[0] == 404
    assert _get(api_server, "/api/v2")[0] == 404


def test_dynamic_client(k8s: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(k8s)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dyn"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "dyn"}},
            "template": {
                "metadata": {"labels": {"app": "dyn"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    created = deployments.create(body=body, namespace="default")
    assert created.metadata.name == "dyn"
    got = deployments.get(name="dyn", namespace="default")
    assert got.spec.replicas == 1
    listed = deployments.get(namespace="default")
    assert "dyn" in [item.metadata.name for item in listed.items]
    patched = deployments.patch(
        name="dyn",
        namespace="default",
        body={"spec": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.replicas == 2
    scale = dyn.resources.get(api_version="apps/v1", kind="Deployment").subresources["scale"]
    assert scale.get(name="dyn", namespace="default").spec.replicas == 2
    deployments.delete(name="dyn", namespace="default")

    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(body={"metadata": {"name": "dyn-cm"}, "data": {"a": "b"}}, namespace="default")
    assert configmaps.get(name="dyn-cm", namespace="default").data.a == "b"
    configmaps.delete(name="dyn-cm", namespace="default")

    nodes = dyn.resources.get(api_version="v1", kind="Node")
    assert not nodes.namespaced
    classes = dyn.resources.get(api_version="storage.k8s.io/v1", kind="StorageClass")
    assert not classes.namespaced
    hpa_v1 = dyn.resources.get(api_version="autoscaling/v1", kind="HorizontalPodAutoscaler")
    assert hpa_v1.group_version == "autoscaling/v1"


def test_dynamic_client_finds_resources_by_short_name(k8s: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(k8s)
    assert dyn.resources.get(short_names=["deploy"]).kind == "Deployment"
    assert dyn.resources.get(short_names=["cm"]).kind == "ConfigMap"
