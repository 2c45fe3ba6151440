"""Managed fields: field sets, FieldsV1 encoding and the bookkeeping of non-apply writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec

from kubelite.api import apps_v1, core_v1
from kubelite.api.managedfields import (
    FieldSet,
    compare,
    default_manager,
    fields_of_object,
    from_fields_v1,
    path_string,
    to_fields_v1,
    update_managed_fields,
)

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"
T2 = "2024-05-01T12:00:00Z"


def configmap(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "web"}},
        "data": dict(data),
    }


def stored_deployment() -> dict[str, Any]:
    """A Deployment as `kubectl create deployment nginx --image=nginx --port=80` stores it."""
    spec = {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "Always",
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "uid": "u1", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": spec},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }
    encoded = msgspec.to_builtins(msgspec.convert(obj, apps_v1.Deployment))
    assert isinstance(encoded, dict)
    return encoded


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def entries_by_manager(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in entries}


# -- encoding -----------------------------------------------------------------------------


def test_configmap_create_encodes_like_kubernetes() -> None:
    entries = update_managed_fields(None, configmap(a="1"), "kubectl-create", "Update", core_v1.ConfigMap, T0)
    assert entries == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        }
    ]
    assert list(entries[0]) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert (
        compact(entries[0]["fieldsV1"])
        == '{"f:data":{".":{},"f:a":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}'
    )


def test_deployment_create_encodes_like_kubernetes() -> None:
    entries = update_managed_fields(
        None, stored_deployment(), "kubectl-create", "Update", apps_v1.Deployment, T0
    )
    assert len(entries) == 1
    expected = (
        '{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},'
        '"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":'
        '{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":'
        '{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":'
        '{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},'
        '"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{},'
        '"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},'
        '"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},'
        '"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}'
    )
    assert compact(entries[0]["fieldsV1"]) == expected
    assert compact(to_fields_v1(from_fields_v1(json.loads(expected)))) == expected


def test_fields_v1_round_trip_and_canonical_keys() -> None:
    wire = {
        "f:spec": {
            "f:ports": {
                'k:{"protocol":"TCP","port":80}': {".": {}, "f:port": {}},
                ".": {},
            },
            "f:finalizers": {'v:"b"': {}, 'v:"a"': {}},
        },
        "f:metadata": {"f:annotations": {"f:z": {}, "f:a": {}}},
    }
    fs = from_fields_v1(wire)
    assert ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}') in fs
    assert ("f:spec", "f:ports") in fs
    assert ("f:metadata", "f:annotations") not in fs
    assert to_fields_v1(fs) == {
        "f:metadata": {"f:annotations": {"f:a": {}, "f:z": {}}},
        "f:spec": {
            "f:finalizers": {'v:"a"': {}, 'v:"b"': {}},
            "f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
        },
    }
    assert list(to_fields_v1(fs)["f:spec"]["f:ports"]) == [".", 'k:{"port":80,"protocol":"TCP"}']
    assert from_fields_v1(to_fields_v1(fs)) == fs


def test_element_order_fields_then_keys_then_values() -> None:
    fs = FieldSet(
        [
            ("f:l", 'v:"b"'),
            ("f:l", "v:10"),
            ("f:l", "v:9"),
            ("f:l", 'k:{"name":"x"}'),
            ("f:l", "f:z"),
        ]
    )
    assert list(to_fields_v1(fs)["f:l"]) == ["f:z", 'k:{"name":"x"}', "v:9", "v:10", 'v:"b"']


def test_path_strings() -> None:
    assert path_string(("f:data", "f:a")) == ".data.a"
    path = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"x"}', "f:image")
    assert path_string(path) == '.spec.template.spec.containers[name="x"].image'
    assert path_string(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) == (
        '.ports[containerPort=80,protocol="TCP"]'
    )
    assert path_string(("f:metadata", "f:finalizers", 'v:"a"')) == '.metadata.finalizers[="a"]'


def test_fields_of_object_leaves_items_and_metadata() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "5",
            "labels": {"a": "b"},
            "finalizers": ["x"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "o1"}],
        },
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}]}]},
    }
    fs = fields_of_object(pod, core_v1.Pod)
    assert to_fields_v1(fs) == {
        "f:metadata": {
            "f:finalizers": {'v:"x"': {}},
            "f:labels": {"f:a": {}},
            "f:ownerReferences": {'k:{"uid":"o1"}': {}},
        },
        "f:spec": {
            "f:containers": {
                'k:{"name":"c"}': {
                    ".": {},
                    "f:image": {},
                    "f:name": {},
                    # protocol defaults to TCP in the key, as Kubernetes' schema declares
                    "f:ports": {
                        'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                    },
                }
            }
        },
    }


def test_custom_resources_use_deduced_structure() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "tags": ["a", "b"], "nested": {"x": 1}},
    }
    assert to_fields_v1(fields_of_object(obj, None)) == {
        "f:spec": {".": {}, "f:nested": {".": {}, "f:x": {}}, "f:size": {}, "f:tags": {}}
    }


def test_compare_reports_leaves_and_items() -> None:
    old = configmap(a="1", b="2")
    new = configmap(a="9", c="3")
    diff = compare(old, new, core_v1.ConfigMap)
    assert set(diff.modified) == {("f:data", "f:a")}
    assert set(diff.added) == {("f:data", "f:c")}
    assert set(diff.removed) == {("f:data", "f:b")}


# -- bookkeeping of updates ---------------------------------------------------------------


def test_update_moves_changed_fields_between_managers() -> None:
    cm = configmap(a="1", b="2")
    cm["metadata"]["managedFields"] = update_managed_fields(
        None, cm, "creator", "Update", core_v1.ConfigMap, T0
    )

    edited = copy.deepcopy(cm)
    edited["data"]["a"] = "changed"
    edited["metadata"]["labels"]["tier"] = "front"
    entries = update_managed_fields(cm, edited, "editor", "Update", core_v1.ConfigMap, T1)

    by = entries_by_manager(entries)
    assert by["creator"]["fieldsV1"] == {
        "f:data": {".": {}, "f:b": {}},
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    }
    assert by["creator"]["time"] == T0
    assert by["editor"]["fieldsV1"] == {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}}
    assert by["editor"]["time"] == T1
    assert [e["manager"] for e in entries] == ["creator", "editor"]  # oldest first

    # The editor takes the other leaves; the creator keeps the maps themselves.
    edited["metadata"]["managedFields"] = entries
    again = copy.deepcopy(edited)
    again["data"]["b"] = "x"
    again["metadata"]["labels"]["app"] = "other"
    del again["data"]["a"]
    entries = update_managed_fields(edited, again, "editor", "Update", core_v1.ConfigMap, T2)
    by = entries_by_manager(entries)
    assert by["creator"]["fieldsV1"] == {"f:data": {}, "f:metadata": {"f:labels": {}}}
    assert by["editor"]["fieldsV1"] == {
        "f:data": {"f:b": {}},
        "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
    }
    assert by["editor"]["time"] == T2

    # Removing the maps altogether leaves the creator nothing: its entry goes.
    again["metadata"]["managedFields"] = entries
    bare = copy.deepcopy(again)
    del bare["data"]
    del bare["metadata"]["labels"]
    entries = update_managed_fields(again, bare, "editor", "Update", core_v1.ConfigMap, T2)
    assert entries == []


def test_update_without_changes_keeps_entries() -> None:
    cm = configmap(a="1")
    cm["metadata"]["managedFields"] = update_managed_fields(
        None, cm, "creator", "Update", core_v1.ConfigMap, T0
    )
    entries = update_managed_fields(cm, copy.deepcopy(cm), "other", "Update", core_v1.ConfigMap, T1)
    assert entries == cm["metadata"]["managedFields"]


def test_subresource_and_version_make_separate_entries() -> None:
    cm = configmap(a="1")
    cm["metadata"]["managedFields"] = update_managed_fields(None, cm, "mgr", "Update", core_v1.ConfigMap, T0)
    changed = copy.deepcopy(cm)
    changed["data"]["b"] = "2"
    entries = update_managed_fields(cm, changed, "mgr", "Update", core_v1.ConfigMap, T1, "status")
    assert [(e["manager"], e.get("subresource")) for e in entries] == [("mgr", None), ("mgr", "status")]
    assert entries[1]["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_request_managed_fields_replace_or_reset_the_stored_ones() -> None:
    cm = configmap(a="1")
    cm["metadata"]["managedFields"] = update_managed_fields(
        None, cm, "creator", "Update", core_v1.ConfigMap, T0
    )

    reset = copy.deepcopy(cm)
    reset["metadata"]["managedFields"] = []
    assert update_managed_fields(cm, reset, "editor", "Update", core_v1.ConfigMap, T1) == []

    replaced = copy.deepcopy(cm)
    replaced["metadata"]["managedFields"][0]["manager"] = "renamed"
    entries = update_managed_fields(cm, replaced, "editor", "Update", core_v1.ConfigMap, T1)
    assert [e["manager"] for e in entries] == ["renamed"]


def test_untracked_objects_stay_untracked() -> None:
    cm = configmap(a="1")
    changed = configmap(a="2")
    assert update_managed_fields(cm, changed, "editor", "Update", core_v1.ConfigMap, T1) == []


def test_update_managers_are_capped() -> None:
    cm = configmap()
    cm["metadata"]["managedFields"] = update_managed_fields(
        None, cm, "creator", "Update", core_v1.ConfigMap, T0
    )
    for i in range(12):
        changed = copy.deepcopy(cm)
        changed["data"][f"k{i}"] = "v"
        changed["metadata"]["managedFields"] = update_managed_fields(
            cm, changed, f"m{i:02d}", "Update", core_v1.ConfigMap, f"2024-05-01T10:{i + 1:02d}:00Z"
        )
        cm = changed
    managers = [e["manager"] for e in cm["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "ancient-changes" in managers
    ancient = entries_by_manager(cm["metadata"]["managedFields"])["ancient-changes"]
    assert ("f:metadata", "f:labels", "f:app") in from_fields_v1(ancient["fieldsV1"])


def test_default_manager_from_user_agent() -> None:
    assert default_manager("kubectl-create/v1.30.0 (linux/amd64) kubernetes/7c48c2b") == "kubectl-create"
    assert default_manager("python-requests/2.31.0") == "python-requests"
    assert default_manager("OpenAPI-Generator/29.0.0/python") == "OpenAPI-Generator"
    assert default_manager("") == ""
