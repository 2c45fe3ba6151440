"""Write semantics through the official client: optimistic concurrency,
finalizers and graceful deletion, dryRun, the status and scale
subresources, metadata.generation, generateName and patch types."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NS = "writes"

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
}


def deployment(name: str, replicas: int = 1, **extra: Any) -> dict[str, Any]:
    body = {
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
    }
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(k8s)
    api.create_namespace({"metadata": {"name": NS}})
    return api


@pytest.fixture(scope="module")
def apps(k8s: client.ApiClient, core: client.CoreV1Api) -> client.AppsV1Api:
    return client.AppsV1Api(k8s)


def _status(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == exc.value.status
    return body


def _raw(
    url: str, method: str = "GET", body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _gone(read: Any, *args: Any) -> bool:
    try:
        read(*args)
    except ApiException as e:
        return e.status == 404
    return False


# ------------------------------------------------------ optimistic concurrency


def test_update_with_a_stale_resource_version_conflicts(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "occ"}, "data": {"v": "0"}})
    first = core.read_namespaced_config_map("occ", NS)
    second = core.read_namespaced_config_map("occ", NS)
    first.data = {"v": "1"}
    updated = core.replace_namespaced_config_map("occ", NS, first)
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    second.data = {"v": "2"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("occ", NS, second)
    assert exc.value.status == 409
    body = _status(exc)
    assert body["reason"] == "Conflict"
    assert body["details"] == {"name": "occ", "kind": "configmaps"}
    assert "the object has been modified" in body["message"]
    assert core.read_namespaced_config_map("occ", NS).data == {"v": "1"}


def test_update_without_resource_version_is_unconditional(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "uncond"}, "data": {"v": "0"}})
    core.patch_namespaced_config_map("uncond", NS, {"data": {"v": "1"}})
    out = core.replace_namespaced_config_map(
        "uncond", NS, {"metadata": {"name": "uncond"}, "data": {"v": "mine"}}
    )
    assert out.data == {"v": "mine"}


def test_patch_with_a_stale_resource_version_conflicts(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "occ-patch"}, "data": {"v": "0"}})
    core.patch_namespaced_config_map("occ-patch", NS, {"data": {"v": "1"}})
    stale = {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"v": "2"}}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("occ-patch", NS, stale)
    assert exc.value.status == 409
    assert _status(exc)["reason"] == "Conflict"
    current = core.read_namespaced_config_map("occ-patch", NS).metadata.resource_version
    fresh = {"metadata": {"resourceVersion": current}, "data": {"v": "3"}}
    assert core.patch_namespaced_config_map("occ-patch", NS, fresh).data == {"v": "3"}


def test_no_op_update_keeps_the_resource_version(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "noop"}, "data": {"v": "0"}})
    same = core.patch_namespaced_config_map("noop", NS, {"data": {"v": "0"}})
    assert same.metadata.resource_version == cm.metadata.resource_version


def test_managed_fields_survive_writes_of_bodies_without_api_version(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "managed"}, "data": {"v": "0"}})
    assert [(m.operation, m.api_version) for m in cm.metadata.managed_fields] == [("Update", "v1")]
    out = core.patch_namespaced_config_map("managed", NS, {"data": {"w": "1"}})
    assert out.metadata.managed_fields
    assert all(m.api_version == "v1" for m in out.metadata.managed_fields)


def test_delete_preconditions(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "precond"}})
    core.patch_namespaced_config_map("precond", NS, {"data": {"a": "b"}})
    stale = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=cm.metadata.resource_version)
    )
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map("precond", NS, body=stale)
    assert exc.value.status == 409
    assert _status(exc)["reason"] == "Conflict"
    wrong_uid = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid"))
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map("precond", NS, body=wrong_uid)
    assert exc.value.status == 409
    right = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=cm.metadata.uid))
    core.delete_namespaced_config_map("precond", NS, body=right)
    assert _gone(core.read_namespaced_config_map, "precond", NS)


def test_server_owned_metadata_is_kept(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "owned"}})
    body = {
        "metadata": {"name": "owned", "creationTimestamp": "2000-01-01T00:00:00Z"},
        "data": {"a": "b"},
    }
    out = core.replace_namespaced_config_map("owned", NS, body)
    assert out.metadata.uid == cm.metadata.uid
    assert out.metadata.creation_timestamp == cm.metadata.creation_timestamp


def test_changing_the_uid_is_invalid(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "uid-change"}})
    body = {"metadata": {"name": "uid-change", "uid": "11111111-2222-3333-4444-555555555555"}}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("uid-change", NS, body)
    assert exc.value.status == 422
    causes = _status(exc)["details"]["causes"]
    assert [c["field"] for c in causes] == ["metadata.uid"]


def test_update_of_a_missing_object_is_404_but_creates_a_lease(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("nothing", NS, {"metadata": {"name": "nothing"}})
    assert exc.value.status == 404
    leases = client.CoordinationV1Api(k8s)
    lease = leases.replace_namespaced_lease(
        "upserted", NS, {"metadata": {"name": "upserted"}, "spec": {"holderIdentity": "me"}}
    )
    assert lease.metadata.uid
    assert leases.read_namespaced_lease("upserted", NS).spec.holder_identity == "me"


# ------------------------------------------------------------------ finalizers


def test_finalizer_holds_deletion_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {"v": "1"}}
    )
    answer = core.delete_namespaced_config_map("held", NS)
    held = core.read_namespaced_config_map("held", NS)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    assert held.metadata.finalizers == ["example.com/hold"]
    # The answer to a deferred delete is the object, marked for deletion.
    assert answer["kind"] == "ConfigMap"
    assert answer["metadata"]["deletionTimestamp"]

    # Deleting again changes nothing; updates still work; new finalizers may not be added.
    core.delete_namespaced_config_map("held", NS)
    assert core.patch_namespaced_config_map("held", NS, {"data": {"v": "2"}}).data == {"v": "2"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "held", NS, {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
        )
    assert exc.value.status == 422
    assert _status(exc)["details"]["causes"][0]["field"] == "metadata.finalizers"
    # A deleted object's deletionTimestamp cannot be taken back.
    again = core.read_namespaced_config_map("held", NS)
    again.metadata.deletion_timestamp = None
    assert core.replace_namespaced_config_map("held", NS, again).metadata.deletion_timestamp is not None

    core.patch_namespaced_config_map("held", NS, {"metadata": {"finalizers": None}})
    assert _gone(core.read_namespaced_config_map, "held", NS)


def test_finalizer_removal_by_json_patch(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(NS, {"metadata": {"name": "held-secret", "finalizers": ["a/b", "c/d"]}})
    core.delete_namespaced_secret("held-secret", NS)
    core.patch_namespaced_secret("held-secret", NS, [{"op": "remove", "path": "/metadata/finalizers/0"}])
    assert core.read_namespaced_secret("held-secret", NS).metadata.finalizers == ["c/d"]
    core.patch_namespaced_secret("held-secret", NS, [{"op": "remove", "path": "/metadata/finalizers"}])
    assert _gone(core.read_namespaced_secret, "held-secret", NS)


def test_propagation_policies_add_their_finalizers(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("fg"))
    apps.delete_namespaced_deployment("fg", NS, propagation_policy="Foreground")
    fg = apps.read_namespaced_deployment("fg", NS)
    assert fg.metadata.finalizers == ["foregroundDeletion"]
    assert fg.metadata.deletion_timestamp is not None

    apps.create_namespaced_deployment(NS, deployment("orphaned"))
    apps.delete_namespaced_deployment(
        "orphaned", NS, body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    assert apps.read_namespaced_deployment("orphaned", NS).metadata.finalizers == ["orphan"]

    for name in ("fg", "orphaned"):
        # The update that removes the last finalizer deletes, and answers with the object.
        last = apps.patch_namespaced_deployment(name, NS, {"metadata": {"finalizers": None}})
        assert last.metadata.name == name
        assert not last.metadata.finalizers
        assert _gone(apps.read_namespaced_deployment, name, NS)


def test_bad_propagation_policy_is_rejected(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "badpolicy"}})
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map("badpolicy", NS, propagation_policy="Sometimes")
    assert exc.value.status == 422
    assert core.read_namespaced_config_map("badpolicy", NS)


def test_graceful_pod_deletion(core: client.CoreV1Api) -> None:
    spec = {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]}
    core.create_namespaced_pod(NS, {"metadata": {"name": "graceful"}, "spec": spec})
    deleted = core.delete_namespaced_pod("graceful", NS)
    assert deleted.metadata.deletion_grace_period_seconds == 30
    pod = core.read_namespaced_pod("graceful", NS)
    assert pod.metadata.deletion_timestamp is not None
    # A shorter grace period shortens it; grace 0 (what the node agent sends) removes the pod.
    core.delete_namespaced_pod("graceful", NS, grace_period_seconds=5)
    assert core.read_namespaced_pod("graceful", NS).metadata.deletion_grace_period_seconds == 5
    core.delete_namespaced_pod("graceful", NS, grace_period_seconds=0)
    assert _gone(core.read_namespaced_pod, "graceful", NS)
    # A pod on no node goes at once.
    core.create_namespaced_pod(
        NS, {"metadata": {"name": "unbound"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    )
    core.delete_namespaced_pod("unbound", NS)
    assert _gone(core.read_namespaced_pod, "unbound", NS)


# ---------------------------------------------------------------------- dryRun


def test_dry_run_create_stores_nothing(core: client.CoreV1Api) -> None:
    out = core.create_namespaced_config_map(
        NS, {"metadata": {"name": "dry"}, "data": {"a": "b"}}, dry_run="All"
    )
    assert out.metadata.name == "dry"
    assert out.data == {"a": "b"}
    assert not out.metadata.resource_version
    assert _gone(core.read_namespaced_config_map, "dry", NS)
    gen = core.create_namespaced_config_map(NS, {"metadata": {"generateName": "dry-"}}, dry_run="All")
    assert gen.metadata.name.startswith("dry-")
    assert _gone(core.read_namespaced_config_map, gen.metadata.name, NS)


def test_dry_run_create_still_validates_and_conflicts(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "dry-exists"}})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "dry-exists"}}, dry_run="All")
    assert exc.value.status == 409
    assert _status(exc)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "Not_Valid"}}, dry_run="All")
    assert exc.value.status == 422


def test_dry_run_update_patch_and_delete_change_nothing(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "dry-upd"}, "data": {"v": "0"}})
    cm.data = {"v": "1"}
    out = core.replace_namespaced_config_map("dry-upd", NS, cm, dry_run="All")
    assert out.data == {"v": "1"}
    patched = core.patch_namespaced_config_map("dry-upd", NS, {"data": {"v": "2"}}, dry_run="All")
    assert patched.data == {"v": "2"}
    core.delete_namespaced_config_map("dry-upd", NS, dry_run="All")
    now = core.read_namespaced_config_map("dry-upd", NS)
    assert now.data == {"v": "0"}
    assert now.metadata.resource_version == cm.metadata.resource_version


def test_dry_run_with_a_bad_value_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "dry-bad"}}, dry_run="Some")
    assert exc.value.status == 400
    assert _gone(core.read_namespaced_config_map, "dry-bad", NS)


# ---------------------------------------------------------------- generateName


def test_generate_name(core: client.CoreV1Api) -> None:
    made = {
        core.create_namespaced_config_map(NS, {"metadata": {"generateName": "gen-"}}).metadata.name
        for _ in range(3)
    }
    assert len(made) == 3
    for name in made:
        assert name.startswith("gen-") and len(name) == len("gen-") + 5
        got = core.read_namespaced_config_map(name, NS)
        assert got.metadata.generate_name == "gen-"


def test_name_or_generate_name_is_required(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, {"metadata": {"labels": {"a": "b"}}})
    assert exc.value.status == 422
    assert _status(exc)["details"]["causes"][0]["field"] == "metadata.name"


# ------------------------------------------------------------------ generation


def test_generation_counts_spec_changes_only(apps: client.AppsV1Api) -> None:
    d = apps.create_namespaced_deployment(NS, deployment("gen"))
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment("gen", NS, {"metadata": {"labels": {"x": "y"}}})
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment("gen", NS, {"spec": {"replicas": 4}})
    assert d.metadata.generation == 2
    d = apps.patch_namespaced_deployment_status(
        "gen", NS, {"status": {"replicas": 4, "observedGeneration": 2}}
    )
    assert d.metadata.generation == 2
    d = apps.patch_namespaced_deployment(
        "gen", NS, {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}
    )
    assert d.metadata.generation == 3
    # A client cannot set the generation itself.
    d = apps.patch_namespaced_deployment("gen", NS, {"metadata": {"generation": 42}})
    assert d.metadata.generation == 3
    assert apps.read_namespaced_deployment("gen", NS).metadata.generation == 3


# ------------------------------------------------------------ status subresource


def test_status_is_reset_on_create_and_ignored_by_the_main_resource(apps: client.AppsV1Api) -> None:
    d = apps.create_namespaced_deployment(NS, deployment("st", status={"replicas": 7, "readyReplicas": 7}))
    assert not d.status or not d.status.replicas
    d = apps.patch_namespaced_deployment(
        "st", NS, {"status": {"replicas": 9}, "metadata": {"labels": {"a": "b"}}}
    )
    assert not d.status or not d.status.replicas
    assert d.metadata.labels == {"a": "b"}
    cur = apps.read_namespaced_deployment("st", NS)
    cur.status = client.V1DeploymentStatus(replicas=3)
    assert not apps.replace_namespaced_deployment("st", NS, cur).status.replicas


def test_status_subresource_changes_only_status(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("st2", replicas=2))
    d = apps.patch_namespaced_deployment_status(
        "st2", NS, {"spec": {"replicas": 5}, "status": {"replicas": 2, "availableReplicas": 1}}
    )
    assert d.spec.replicas == 2
    assert d.status.replicas == 2
    assert d.status.available_replicas == 1
    read = apps.read_namespaced_deployment_status("st2", NS)
    assert read.status.available_replicas == 1
    read.status.ready_replicas = 2
    read.spec.replicas = 9
    out = apps.replace_namespaced_deployment_status("st2", NS, read)
    assert out.status.ready_replicas == 2
    assert out.spec.replicas == 2
    assert apps.read_namespaced_deployment("st2", NS).status.ready_replicas == 2


def test_status_subresource_of_core_kinds(core: client.CoreV1Api) -> None:
    pod = {"metadata": {"name": "st-pod"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    core.create_namespaced_pod(NS, pod)
    out = core.patch_namespaced_pod_status(
        "st-pod", NS, {"status": {"phase": "Running", "podIP": "10.42.0.9"}}
    )
    assert out.status.phase == "Running"
    assert out.status.pod_ip == "10.42.0.9"
    # The main resource keeps what the status writer wrote.
    out = core.patch_namespaced_pod(
        "st-pod", NS, {"metadata": {"labels": {"a": "b"}}, "status": {"phase": "Failed"}}
    )
    assert out.status.phase == "Running"
    node = core.create_node(
        {"metadata": {"name": "st-node"}, "status": {"capacity": {"cpu": "4", "pods": "110"}}}
    )
    assert node.status.capacity == {"cpu": "4", "pods": "110"}  # a kubelet registers with status
    node = core.patch_node_status("st-node", {"status": {"capacity": {"cpu": "8"}}})
    assert node.status.capacity["cpu"] == "8"
    core.delete_node("st-node")


def test_status_of_a_kind_without_one_is_404(api_server: Any, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "nostatus"}})
    code, body = _raw(f"{api_server.url}/api/v1/namespaces/{NS}/configmaps/nostatus/status")
    assert code == 404
    assert body["kind"] == "Status" and body["reason"] == "NotFound"


# ------------------------------------------------------------- scale subresource


def test_scale_of_a_deployment(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("sc", replicas=2))
    scale = apps.read_namespaced_deployment_scale("sc", NS)
    assert isinstance(scale, client.V1Scale)
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web"
    assert scale.metadata.name == "sc"

    scale.spec.replicas = 5
    out = apps.replace_namespaced_deployment_scale("sc", NS, scale)
    assert out.spec.replicas == 5
    d = apps.read_namespaced_deployment("sc", NS)
    assert d.spec.replicas == 5
    assert d.metadata.generation == 2
    assert out.metadata.resource_version == d.metadata.resource_version

    out = apps.patch_namespaced_deployment_scale("sc", NS, {"spec": {"replicas": 0}})
    assert not out.spec.replicas  # omitted when 0, as Kubernetes encodes a Scale
    assert apps.read_namespaced_deployment("sc", NS).spec.replicas == 0

    # The Scale's resourceVersion is a precondition.
    scale.spec.replicas = 7
    with pytest.raises(ApiException) as exc:
        apps.replace_namespaced_deployment_scale("sc", NS, scale)
    assert exc.value.status == 409
    assert apps.read_namespaced_deployment("sc", NS).spec.replicas == 0


def test_scale_put_must_name_the_same_object(api_server: Any, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("sc-name"))
    url = f"{api_server.url}/apis/apps/v1/namespaces/{NS}/deployments/sc-name/scale"
    other = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "other"},
        "spec": {"replicas": 3},
    }
    code, body = _raw(url, "PUT", other)
    assert code == 400
    assert body["reason"] == "BadRequest"
    not_scale = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sc-name"},
        "spec": {"replicas": 3},
    }
    assert _raw(url, "PUT", not_scale)[0] == 400
    assert apps.read_namespaced_deployment("sc-name", NS).spec.replicas == 1


def test_scale_rejects_negative_replicas(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("sc-neg"))
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment_scale("sc-neg", NS, {"spec": {"replicas": -1}})
    assert exc.value.status == 422
    assert _status(exc)["reason"] == "Invalid"
    assert apps.read_namespaced_deployment("sc-neg", NS).spec.replicas == 1


def test_scale_dry_run(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("sc-dry"))
    out = apps.patch_namespaced_deployment_scale("sc-dry", NS, {"spec": {"replicas": 3}}, dry_run="All")
    assert out.spec.replicas == 3
    assert apps.read_namespaced_deployment("sc-dry", NS).spec.replicas == 1


def test_scale_of_other_workloads(
    k8s: client.ApiClient, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    sel = {"matchLabels": {"app": "web"}}
    apps.create_namespaced_replica_set(
        NS, {"metadata": {"name": "sc-rs"}, "spec": {"replicas": 1, "selector": sel, "template": TEMPLATE}}
    )
    apps.create_namespaced_stateful_set(
        NS,
        {
            "metadata": {"name": "sc-sts"},
            "spec": {"replicas": 1, "serviceName": "x", "selector": sel, "template": TEMPLATE},
        },
    )
    core.create_namespaced_replication_controller(
        NS,
        {
            "metadata": {"name": "sc-rc"},
            "spec": {"replicas": 1, "selector": {"app": "web"}, "template": TEMPLATE},
        },
    )
    assert apps.patch_namespaced_replica_set_scale("sc-rs", NS, {"spec": {"replicas": 2}}).spec.replicas == 2
    assert apps.read_namespaced_replica_set("sc-rs", NS).spec.replicas == 2
    assert (
        apps.patch_namespaced_stateful_set_scale("sc-sts", NS, {"spec": {"replicas": 3}}).spec.replicas == 3
    )
    assert apps.read_namespaced_stateful_set("sc-sts", NS).spec.replicas == 3
    rc_scale = core.read_namespaced_replication_controller_scale("sc-rc", NS)
    assert rc_scale.status.selector == "app=web"
    assert (
        core.patch_namespaced_replication_controller_scale(
            "sc-rc", NS, {"spec": {"replicas": 4}}
        ).spec.replicas
        == 4
    )
    assert core.read_namespaced_replication_controller("sc-rc", NS).spec.replicas == 4


def test_scale_of_a_missing_object_or_kind_without_scale_is_404(
    api_server: Any, apps: client.AppsV1Api
) -> None:
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment_scale("nothing", NS)
    assert exc.value.status == 404
    assert _status(exc)["reason"] == "NotFound"
    code, body = _raw(f"{api_server.url}/apis/apps/v1/namespaces/{NS}/daemonsets/x/scale")
    assert code == 404
    assert body["reason"] == "NotFound"


# ----------------------------------------------------------------- patch types


def test_patch_types(api_server: Any, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "pt"}, "data": {"a": "1", "b": "2"}})
    out = core.patch_namespaced_config_map("pt", NS, {"data": {"a": None, "c": "3"}})  # strategic merge
    assert out.data == {"b": "2", "c": "3"}
    code, raw = _raw(
        f"{api_server.url}/api/v1/namespaces/{NS}/configmaps/pt",
        "PATCH",
        {"data": {"d": "4"}},
        "application/merge-patch+json",
    )
    assert code == 200
    assert raw["data"] == {"b": "2", "c": "3", "d": "4"}
    out = core.patch_namespaced_config_map("pt", NS, [{"op": "replace", "path": "/data/b", "value": "20"}])
    assert out.data["b"] == "20"


def test_failed_json_patch_test_is_422_and_changes_nothing(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "pt-test"}, "data": {"a": "1"}})
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "pt-test",
            NS,
            [
                {"op": "test", "path": "/data/a", "value": "2"},
                {"op": "replace", "path": "/data/a", "value": "3"},
            ],
        )
    assert exc.value.status == 422
    now = core.read_namespaced_config_map("pt-test", NS)
    assert now.data == {"a": "1"}
    assert now.metadata.resource_version == cm.metadata.resource_version


def test_patch_of_a_missing_object_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("nowhere", NS, {"data": {"a": "1"}})
    assert exc.value.status == 404
