"""Server-side apply: merging, ownership, removal, conflicts and the client-side apply migration."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api import apps_v1, core_v1
from kubelite.api.apply import ApplyConflict, ApplyError, server_side_apply
from kubelite.api.fieldpath import from_fields_v1
from kubelite.api.managedfields import LAST_APPLIED_ANNOTATION, update_managed_fields

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"
T2 = "2024-05-01T12:00:00Z"
CM = core_v1.ConfigMap


def cm_config(data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", **meta}, "data": data}


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def apply(
    live: dict[str, Any] | None, config: dict[str, Any], manager: str, now: str = T1, **kw: Any
) -> dict[str, Any]:
    return server_side_apply(live, config, manager, kw.pop("force", False), CM, "v1", now, **kw)


def created_by_update(data: dict[str, str], manager: str = "kubectl-create") -> dict[str, Any]:
    obj = cm_config(data)
    obj["metadata"].update(namespace="default", uid="u1", resourceVersion="1")
    obj["metadata"]["managedFields"] = update_managed_fields(None, obj, manager, "Update", CM, T0)
    return obj


def test_apply_creates() -> None:
    config = cm_config({"a": "1"}, labels={"app": "web"})
    obj = apply(None, config, "tool", T0)
    assert obj["data"] == {"a": "1"}
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "tool",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
        }
    ]
    assert "managedFields" not in config["metadata"]  # inputs untouched


def test_apply_updates_and_keeps_what_it_does_not_mention() -> None:
    live = apply(None, cm_config({"a": "1"}), "tool", T0)
    live["metadata"].update(namespace="default", uid="u1", resourceVersion="3")
    live["status"] = {"phase": "whatever"}  # a field no configuration mentions
    obj = apply(live, cm_config({"a": "1", "b": "2"}, labels={"x": "y"}), "tool", T1)
    assert obj["data"] == {"a": "1", "b": "2"}
    assert obj["status"] == {"phase": "whatever"}
    assert obj["metadata"]["uid"] == "u1"
    entry = entries(obj)[("tool", "Apply")]
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:x": {}}}}
    assert entry["time"] == T1


def test_reapplying_the_same_configuration_changes_nothing() -> None:
    live = apply(None, cm_config({"a": "1"}), "tool", T0)
    again = apply(live, cm_config({"a": "1"}), "tool", T1)
    assert again == live
    assert entries(again)[("tool", "Apply")]["time"] == T0


def test_fields_no_longer_applied_are_removed() -> None:
    live = apply(None, cm_config({"a": "1", "b": "2"}, labels={"app": "web", "tier": "x"}), "tool", T0)
    obj = apply(live, cm_config({"a": "1"}, labels={"app": "web"}), "tool", T1)
    assert obj["data"] == {"a": "1"}
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert entries(obj)[("tool", "Apply")]["fieldsV1"] == {
        "f:data": {"f:a": {}},
        "f:metadata": {"f:labels": {"f:app": {}}},
    }


def test_fields_another_manager_owns_are_not_removed() -> None:
    live = apply(None, cm_config({"a": "1", "b": "2"}), "tool", T0)
    live = apply(live, cm_config({"b": "2"}), "other", T0)  # shares ownership of data.b
    obj = apply(live, cm_config({"a": "1"}), "tool", T1)
    assert obj["data"] == {"a": "1", "b": "2"}
    assert entries(obj)[("other", "Apply")]["fieldsV1"] == {"f:data": {"f:b": {}}}

    # An updater's ownership protects a field too.
    live = apply(None, cm_config({"a": "1", "b": "2"}), "tool", T0)
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "edited"
    edited["metadata"]["managedFields"] = update_managed_fields(
        live, edited, "kubectl-edit", "Update", CM, T1
    )
    obj = apply(edited, cm_config({"a": "1"}), "tool", T2)
    assert obj["data"] == {"a": "1", "b": "edited"}


def test_conflict_with_an_updater() -> None:
    live = created_by_update({"a": "1", "b": "2"}, "kubectl-client-side-apply")
    with pytest.raises(ApplyConflict) as info:
        apply(live, cm_config({"a": "changed", "b": "2"}), "tool")
    err = info.value
    assert err.code == 409
    assert err.reason == "Conflict"
    assert err.conflicts == [("kubectl-client-side-apply", ".data.a")]
    assert (
        err.message
        == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a'
    )
    assert err.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using v1',
                "field": ".data.a",
            }
        ]
    }
    status = err.status()
    assert list(status) == [
        "kind",
        "apiVersion",
        "metadata",
        "status",
        "message",
        "reason",
        "details",
        "code",
    ]


def test_conflicts_with_several_fields_and_an_applier() -> None:
    live = apply(None, cm_config({"a": "1", "b": "2"}), "first", T0)
    with pytest.raises(ApplyConflict) as info:
        apply(live, cm_config({"a": "x", "b": "y"}), "second")
    err = info.value
    assert err.conflicts == [("first", ".data.a"), ("first", ".data.b")]
    assert err.message == 'Apply failed with 2 conflicts: conflicts with "first":\n- .data.a\n- .data.b'
    assert err.details is not None
    assert [c["message"] for c in err.details["causes"]] == ['conflict with "first"'] * 2


def test_conflict_paths_in_keyed_lists() -> None:
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
            },
        },
    }
    live = server_side_apply(None, deployment, "first", False, apps_v1.Deployment, "apps/v1", T0)
    changed = copy.deepcopy(deployment)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(ApplyConflict) as info:
        server_side_apply(live, changed, "second", False, apps_v1.Deployment, "apps/v1", T1)
    assert info.value.conflicts == [("first", '.spec.template.spec.containers[name="app"].image')]


def test_force_takes_ownership() -> None:
    live = created_by_update({"a": "1", "b": "2"}, "kubectl-edit")
    obj = apply(live, cm_config({"a": "forced"}), "tool", force=True)
    assert obj["data"] == {"a": "forced", "b": "2"}
    by = entries(obj)
    assert by[("tool", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert ("f:data", "f:a") not in from_fields_v1(by[("kubectl-edit", "Update")]["fieldsV1"])
    assert ("f:data", "f:b") in from_fields_v1(by[("kubectl-edit", "Update")]["fieldsV1"])


def test_equal_values_are_shared_without_conflict() -> None:
    live = created_by_update({"a": "1", "b": "2"}, "kubectl-edit")
    obj = apply(live, cm_config({"a": "1"}), "tool")
    assert obj["data"] == {"a": "1", "b": "2"}
    by = entries(obj)
    assert ("f:data", "f:a") in from_fields_v1(by[("tool", "Apply")]["fieldsV1"])
    assert ("f:data", "f:a") in from_fields_v1(by[("kubectl-edit", "Update")]["fieldsV1"])


def test_keyed_lists_merge_by_key() -> None:
    first = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
                {"name": "b", "image": "b:1"},
            ]
        },
    }
    live = server_side_apply(None, first, "one", False, core_v1.Pod, "v1", T0)
    # The stored pod has defaults (protocol) the configuration never sent.
    live["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    sidecar = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "image": "c:1"}, {"name": "a", "ports": [{"containerPort": 80}]}]
        },
    }
    obj = server_side_apply(live, sidecar, "two", False, core_v1.Pod, "v1", T1)
    assert [c["name"] for c in obj["spec"]["containers"]] == ["c", "a", "b"]
    assert obj["spec"]["containers"][1] == {
        "name": "a",
        "image": "a:1",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    two = from_fields_v1(entries(obj)[("two", "Apply")]["fieldsV1"])
    assert (
        "f:spec",
        "f:containers",
        'k:{"name":"a"}',
        "f:ports",
        'k:{"containerPort":80,"protocol":"TCP"}',
    ) in two


def test_removing_a_list_item_the_manager_stopped_applying() -> None:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "finalizers": ["x", "y"]},
        "spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]},
    }
    live = server_side_apply(None, config, "one", False, core_v1.Pod, "v1", T0)
    smaller = copy.deepcopy(config)
    smaller["metadata"]["finalizers"] = ["y"]
    smaller["spec"]["containers"] = [{"name": "b", "image": "b"}]
    obj = server_side_apply(live, smaller, "one", False, core_v1.Pod, "v1", T1)
    assert obj["metadata"]["finalizers"] == ["y"]
    assert obj["spec"]["containers"] == [{"name": "b", "image": "b"}]


def test_atomic_values_are_replaced() -> None:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "a", "command": ["sh", "-c", "x"]}]},
    }
    live = server_side_apply(None, config, "one", False, core_v1.Pod, "v1", T0)
    config["spec"]["containers"][0]["command"] = ["true"]
    obj = server_side_apply(live, config, "one", False, core_v1.Pod, "v1", T1)
    assert obj["spec"]["containers"][0]["command"] == ["true"]


def test_untracked_objects_get_a_placeholder_owner() -> None:
    live = cm_config({"a": "1"})
    live["metadata"]["uid"] = "u1"
    with pytest.raises(ApplyConflict) as info:
        apply(live, cm_config({"a": "2"}), "tool")
    assert info.value.conflicts == [("before-first-apply", ".data.a")]


def test_custom_resources_apply_with_deduced_structure() -> None:
    config: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"a": 1, "b": 2},
    }
    live = server_side_apply(None, config, "one", False, None, "example.com/v1", T0)
    del config["spec"]["b"]
    obj = server_side_apply(live, config, "one", False, None, "example.com/v1", T1)
    assert obj["spec"] == {"a": 1}


def test_bad_requests() -> None:
    with pytest.raises(ApplyError) as info:
        apply(None, {**cm_config({}), "apiVersion": "v2"}, "tool")
    assert info.value.code == 400
    assert info.value.message == "invalid object type: /v2, Kind=ConfigMap"
    with pytest.raises(ApplyError) as info:
        apply(None, cm_config({}), "tool", kind="Secret")
    assert info.value.message == "invalid object type: /v1, Kind=ConfigMap"
    with pytest.raises(ApplyError) as info:
        apply(None, cm_config({}, managedFields=[]), "tool")
    assert info.value.message == "metadata.managedFields must be nil"


# -- the migration from client-side apply ---------------------------------------------------


def client_side_applied(data: dict[str, str]) -> dict[str, Any]:
    """An object `kubectl apply` (client-side) created: annotation plus an Update entry."""
    config = cm_config(data)
    last_applied = copy.deepcopy(config)
    last_applied["metadata"]["annotations"] = {}
    last_applied["metadata"]["namespace"] = "default"
    obj = copy.deepcopy(config)
    obj["metadata"].update(namespace="default", uid="u1", resourceVersion="1")
    obj["metadata"]["annotations"] = {
        LAST_APPLIED_ANNOTATION: json.dumps(last_applied, separators=(",", ":"), sort_keys=True) + "\n"
    }
    obj["metadata"]["managedFields"] = update_managed_fields(
        None, obj, "kubectl-client-side-apply", "Update", CM, T0
    )
    return obj


def test_first_server_side_apply_of_a_client_side_applied_object() -> None:
    live = client_side_applied({"a": "1", "b": "2"})
    config = cm_config({"a": "changed", "b": "2"})
    config["metadata"]["namespace"] = "default"

    # Any other manager conflicts with the client-side apply's fields ...
    with pytest.raises(ApplyConflict):
        apply(live, config, "someone-else")

    # ... but kubectl takes over what its client-side apply recorded.
    obj = apply(live, config, "kubectl", T1)
    assert obj["data"] == {"a": "changed", "b": "2"}
    by = entries(obj)
    assert by[("kubectl", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    csa = from_fields_v1(by[("kubectl-client-side-apply", "Update")]["fieldsV1"])
    assert ("f:data", "f:a") not in csa
    assert ("f:data", "f:b") in csa
    # The annotation follows what kubectl applied.
    recorded = json.loads(obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert recorded == config
    assert obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION].endswith("\n")


def test_client_side_apply_migration_does_not_cover_fields_changed_since() -> None:
    live = client_side_applied({"a": "1"})
    edited = copy.deepcopy(live)
    edited["data"]["a"] = "edited"
    edited["metadata"]["managedFields"] = update_managed_fields(
        live, edited, "kubectl-edit", "Update", CM, T1
    )
    # kubectl-edit changed data.a after the client-side apply: that conflict stays.
    with pytest.raises(ApplyConflict) as info:
        apply(edited, cm_config({"a": "mine"}, namespace="default"), "kubectl", T2)
    assert info.value.conflicts == [("kubectl-edit", ".data.a")]
