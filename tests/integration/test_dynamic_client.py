"""The official client's ``DynamicClient`` against the in-process server (issue 3):
discovery of resources and subresources, server-side apply with field managers (create,
update, a conflict between two managers, force), and get, list, patch, watch and delete."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, ResourceNotFoundError

NS = "dynamic"


@pytest.fixture(scope="module")
def dyn(k8s: client.ApiClient) -> Iterator[dynamic.DynamicClient]:
    client_ = dynamic.DynamicClient(k8s)
    namespaces = client_.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    yield client_


def managers(obj: Any) -> dict[str, dict[str, Any]]:
    """managedFields by manager name, as plain dicts."""
    return {m["manager"]: m for m in obj.to_dict()["metadata"].get("managedFields", [])}


def configmaps(dyn: dynamic.DynamicClient) -> Any:
    return dyn.resources.get(api_version="v1", kind="ConfigMap")


# -- discovery ------------------------------------------------------------------------------


def test_discovery_finds_resources_by_kind_group_and_name(dyn: dynamic.DynamicClient) -> None:
    cm = configmaps(dyn)
    assert cm.name == "configmaps" and cm.namespaced and cm.group == "" and cm.api_version == "v1"
    assert {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} <= set(
        cm.verbs
    )
    assert "cm" in cm.short_names

    deployments = dyn.resources.get(group="apps", kind="Deployment")
    assert deployments.group_version == "apps/v1" and deployments.name == "deployments"
    assert {"scale", "status"} <= set(deployments.subresources)
    assert deployments.subresources["scale"].kind == "Scale"
    assert "all" in deployments.categories

    assert dyn.resources.get(api_version="v1", name="pods").kind == "Pod"
    assert not dyn.resources.get(api_version="v1", kind="Namespace").namespaced
    found = dyn.resources.search(kind="Event")
    assert {r.group_version for r in found} >= {"v1", "events.k8s.io/v1"}
    # autoscaling serves v2 and v1
    hpas = dyn.resources.search(group="autoscaling", kind="HorizontalPodAutoscaler")
    assert {r.api_version for r in hpas} == {"v1", "v2"}
    with pytest.raises(ResourceNotFoundError):
        dyn.resources.get(api_version="v1", kind="NoSuchKind")


def test_discovery_lists_every_core_kind(dyn: dynamic.DynamicClient) -> None:
    kinds = {r.kind for r in dyn.resources.search(api_version="v1")}
    assert {
        "Pod",
        "Service",
        "Namespace",
        "Node",
        "ConfigMap",
        "Secret",
        "Event",
        "ServiceAccount",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Endpoints",
        "ReplicationController",
    } <= kinds


# -- server-side apply ----------------------------------------------------------------------


def test_server_side_apply_create_update_conflict_force(dyn: dynamic.DynamicClient) -> None:
    cm = configmaps(dyn)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "labels": {"team": "a"}},
        "data": {"owner": "alpha", "kept": "1", "dropped": "2"},
    }
    created = cm.server_side_apply(body=body, namespace=NS, field_manager="alpha")
    assert created.data.owner == "alpha"
    assert created.metadata.resourceVersion
    alpha = managers(created)["alpha"]
    assert alpha["operation"] == "Apply"
    assert alpha["apiVersion"] == "v1"
    assert alpha["fieldsType"] == "FieldsV1"
    assert alpha["fieldsV1"]["f:data"] == {"f:owner": {}, "f:kept": {}, "f:dropped": {}}
    assert alpha["fieldsV1"]["f:metadata"] == {"f:labels": {"f:team": {}}}

    # the same apply again changes nothing, not even the resourceVersion
    same = cm.server_side_apply(body=body, namespace=NS, field_manager="alpha")
    assert same.metadata.resourceVersion == created.metadata.resourceVersion

    # an update that drops a field the manager owned removes it
    body["data"] = {"owner": "alpha", "kept": "1b"}
    updated = cm.server_side_apply(body=body, namespace=NS, field_manager="alpha")
    assert updated.data.to_dict() == {"owner": "alpha", "kept": "1b"}
    assert int(updated.metadata.resourceVersion) > int(created.metadata.resourceVersion)

    # a second manager setting a field alpha owns to another value: 409 naming the field
    beta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"owner": "beta"}}
    with pytest.raises(ConflictError) as conflict:
        cm.server_side_apply(body=beta, namespace=NS, field_manager="beta")
    assert conflict.value.status == 409
    status = json.loads(conflict.value.body)
    assert status["kind"] == "Status" and status["reason"] == "Conflict" and status["code"] == 409
    causes = status["details"]["causes"]
    # as Kubernetes words it (a StatusCause's type is "reason" on the wire); an applier is
    # named without its apiVersion
    assert causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alpha"', "field": ".data.owner"}
    ]
    assert 'conflict with "alpha": .data.owner' in status["message"]
    assert cm.get(name="ssa", namespace=NS).data.owner == "alpha"

    # gamma applying alpha's value co-owns it without a conflict
    shared = cm.server_side_apply(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"kept": "1b"}},
        namespace=NS,
        field_manager="gamma",
    )
    owners = managers(shared)
    assert "f:kept" in owners["gamma"]["fieldsV1"]["f:data"]
    assert "f:kept" in owners["alpha"]["fieldsV1"]["f:data"]

    # force: beta takes the field over, alpha loses it
    forced = cm.server_side_apply(body=beta, namespace=NS, field_manager="beta", force_conflicts=True)
    assert forced.data.owner == "beta"
    owners = managers(forced)
    assert "f:owner" in owners["beta"]["fieldsV1"]["f:data"]
    assert "f:owner" not in owners["alpha"]["fieldsV1"]["f:data"]
    # alpha applying without the field no longer removes it: beta owns it now
    cm.server_side_apply(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa", "labels": {"team": "a"}},
            "data": {"kept": "1b"},
        },
        namespace=NS,
        field_manager="alpha",
    )
    assert cm.get(name="ssa", namespace=NS).data.owner == "beta"


def test_server_side_apply_merges_lists_by_key_between_managers(dyn: dynamic.DynamicClient) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")

    def deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "shared"},
            "spec": {
                "selector": {"matchLabels": {"app": "shared"}},
                "template": {"metadata": {"labels": {"app": "shared"}}, "spec": {"containers": containers}},
            },
        }

    deployments.server_side_apply(
        body=deployment([{"name": "app", "image": "app:1"}]), namespace=NS, field_manager="team-app"
    )
    # a sidecar injector applies only its own container: the lists merge by name
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shared"}}
    sidecar["spec"] = {"template": {"spec": {"containers": [{"name": "proxy", "image": "proxy:1"}]}}}
    merged = deployments.server_side_apply(body=sidecar, namespace=NS, field_manager="injector")
    names = [c.name for c in merged.spec.template.spec.containers]
    assert sorted(names) == ["app", "proxy"]
    # the app team updates its image; the sidecar stays
    updated = deployments.server_side_apply(
        body=deployment([{"name": "app", "image": "app:2"}]), namespace=NS, field_manager="team-app"
    )
    images = {c.name: c.image for c in updated.spec.template.spec.containers}
    assert images == {"app": "app:2", "proxy": "proxy:1"}
    # and changing the sidecar's image conflicts
    with pytest.raises(ConflictError):
        deployments.server_side_apply(
            body=deployment([{"name": "app", "image": "app:2"}, {"name": "proxy", "image": "proxy:2"}]),
            namespace=NS,
            field_manager="team-app",
        )
    deployments.delete(name="shared", namespace=NS)


def test_server_side_apply_dry_run_stores_nothing(dyn: dynamic.DynamicClient) -> None:
    cm = configmaps(dyn)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "1"}}
    answer = cm.server_side_apply(body=body, namespace=NS, field_manager="alpha", dry_run="All")
    assert answer.data.a == "1"
    with pytest.raises(NotFoundError):
        cm.get(name="dry", namespace=NS)


# -- get, list, patch, watch, delete --------------------------------------------------------


def test_get_list_patch_delete(dyn: dynamic.DynamicClient) -> None:
    cm = configmaps(dyn)
    for i in range(3):
        cm.create(
            body={
                "metadata": {"name": f"crud-{i}", "labels": {"set": "crud", "i": str(i)}},
                "data": {"i": str(i)},
            },
            namespace=NS,
        )
    got = cm.get(name="crud-1", namespace=NS)
    assert got.kind == "ConfigMap" and got.data.i == "1"
    listed = cm.get(namespace=NS, label_selector="set=crud")
    assert listed.kind == "ConfigMapList"
    assert [item.metadata.name for item in listed.items] == ["crud-0", "crud-1", "crud-2"]
    assert listed.metadata.resourceVersion
    assert [i.metadata.name for i in cm.get(namespace=NS, label_selector="i in (0,2)").items] == [
        "crud-0",
        "crud-2",
    ]
    assert [i.metadata.name for i in cm.get(namespace=NS, field_selector="metadata.name=crud-2").items] == [
        "crud-2"
    ]
    page = cm.get(namespace=NS, label_selector="set=crud", limit=2)
    assert len(page.items) == 2 and page.metadata["continue"]
    rest = cm.get(namespace=NS, label_selector="set=crud", limit=2, _continue=page.metadata["continue"])
    assert [i.metadata.name for i in rest.items] == ["crud-2"]
    across = dyn.resources.get(api_version="v1", kind="ConfigMap").get(label_selector="set=crud")
    assert len(across.items) == 3

    merged = cm.patch(
        name="crud-0", namespace=NS, body={"data": {"j": "x"}}, content_type="application/merge-patch+json"
    )
    assert merged.data.to_dict() == {"i": "0", "j": "x"}
    strategic = cm.patch(name="crud-0", namespace=NS, body={"metadata": {"labels": {"extra": "y"}}})
    assert strategic.metadata.labels.extra == "y"
    json_patched = cm.patch(
        name="crud-0",
        namespace=NS,
        body=[{"op": "remove", "path": "/data/j"}, {"op": "add", "path": "/data/k", "value": "z"}],
        content_type="application/json-patch+json",
    )
    assert json_patched.data.to_dict() == {"i": "0", "k": "z"}
    # an update carrying a stale resourceVersion is a 409
    stale = got.to_dict()
    cm.patch(name="crud-1", namespace=NS, body={"data": {"i": "changed"}})
    stale["data"] = {"i": "stale"}
    with pytest.raises(ConflictError):
        cm.replace(body=stale, namespace=NS)
    assert cm.get(name="crud-1", namespace=NS).data.i == "changed"

    cm.delete(name="crud-0", namespace=NS)
    with pytest.raises(NotFoundError):
        cm.get(name="crud-0", namespace=NS)
    with pytest.raises(NotFoundError):
        cm.delete(name="crud-0", namespace=NS)
    cm.delete(namespace=NS, label_selector="set=crud")
    assert cm.get(namespace=NS, label_selector="set=crud").items == []


def test_watch(dyn: dynamic.DynamicClient) -> None:
    cm = configmaps(dyn)
    start = cm.get(namespace=NS).metadata.resourceVersion
    events: list[tuple[str, str, str | None]] = []

    def consume() -> None:
        for event in dyn.watch(cm, namespace=NS, resource_version=start, timeout=10):
            obj = event["object"]
            events.append((event["type"], obj.metadata.name, (obj.data or {}).get("v") if obj.data else None))
            if event["type"] == "DELETED":
                return

    watcher = threading.Thread(target=consume)
    watcher.start()
    cm.create(body={"metadata": {"name": "watched"}, "data": {"v": "1"}}, namespace=NS)
    cm.patch(name="watched", namespace=NS, body={"data": {"v": "2"}})
    cm.delete(name="watched", namespace=NS)
    watcher.join(15)
    assert not watcher.is_alive()
    assert [(t, n) for t, n, _ in events] == [
        ("ADDED", "watched"),
        ("MODIFIED", "watched"),
        ("DELETED", "watched"),
    ]
    assert events[1][2] == "2"


def test_status_and_scale_subresources(dyn: dynamic.DynamicClient) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(
        body={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "sub"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "sub"}},
                "template": {
                    "metadata": {"labels": {"app": "sub"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
        namespace=NS,
    )
    scale = deployments.subresources["scale"]
    assert scale.get(name="sub", namespace=NS).spec.replicas == 1
    scale.patch(
        name="sub", namespace=NS, body={"spec": {"replicas": 3}}, content_type="application/merge-patch+json"
    )
    assert deployments.get(name="sub", namespace=NS).spec.replicas == 3
    status = deployments.subresources["status"]
    patched = status.patch(
        name="sub",
        namespace=NS,
        body={"status": {"replicas": 3, "readyReplicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert patched.status.readyReplicas == 2
    # a write to the main resource does not change status, and vice versa
    after = deployments.patch(
        name="sub", namespace=NS, body={"status": {"readyReplicas": 0}, "spec": {"paused": True}}
    )
    assert after.status.readyReplicas == 2 and after.spec.paused is True
    deployments.delete(name="sub", namespace=NS)
