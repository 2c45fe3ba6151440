"""Managed fields: field sets, FieldsV1 encoding and the bookkeeping of non-apply writes."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import msgspec
import pytest

from kubelite.api import apps_v1, core_v1, fielddiff, fieldschema
from kubelite.api import managedfields as mf
from kubelite.api.fielddiff import compare, fields_of_object
from kubelite.api.fieldpath import FieldSet, from_fields_v1, path_string, to_fields_v1
from kubelite.api.managedfields import default_manager, update_managed_fields

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


# -- fast paths against the general algorithm ----------------------------------------------
#
# The reference below is the plain algorithm: a diff that walks every node of
# both objects, the base of a create compared in full, every entry decoded and
# re-encoded. The module's fast paths (create written straight from the
# object, equal subtrees skipped, FieldsV1 kept or patched) must give exactly
# the same managedFields, on random objects and random small edits.


def _reference_compare(old: Any, new: Any, cls: Any) -> tuple[set[Any], set[Any], set[Any]]:
    added: set[Any] = set()
    modified: set[Any] = set()
    removed: set[Any] = set()
    absent = object()

    def equal(a: Any, b: Any) -> bool:
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(equal, a, b))
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        return bool(a == b)

    def empty(v: Any) -> bool:
        return v is absent or v is None or v == {} or v == []

    def walk(lhs: Any, rhs: Any, schema: fieldschema.Schema, path: tuple[str, ...]) -> None:
        schema = fieldschema.resolve(schema, rhs if rhs is not absent else lhs)
        container = dict if schema.kind in ("struct", "map") else list
        shapes_ok = all(v is absent or v is None or isinstance(v, container) for v in (lhs, rhs))
        if not fieldschema.is_granular(schema) or (empty(lhs) and empty(rhs)) or not shapes_ok:
            if lhs is absent:
                added.add(path)
            elif rhs is absent:
                removed.add(path)
            elif not equal(lhs, rhs):
                modified.add(path)
            return
        if container is dict:
            left = lhs if isinstance(lhs, dict) else {}
            right = rhs if isinstance(rhs, dict) else {}
            for key in {**left, **right}:
                sub, _ = fieldschema.child_schema(schema, key)
                walk(left.get(key, absent), right.get(key, absent), sub, (*path, "f:" + key))
        else:
            assert schema.elem is not None
            left_items = fieldschema.index_items(schema, lhs)
            right_items = fieldschema.index_items(schema, rhs)
            for pe in {**left_items, **right_items}:
                ls, rs = left_items.get(pe, []), right_items.get(pe, [])
                item_path = (*path, pe)
                if len(ls) <= 1 and len(rs) <= 1:
                    walk(ls[0] if ls else absent, rs[0] if rs else absent, schema.elem, item_path)
                elif len(ls) >= 2 and len(rs) >= 2:
                    if not equal(ls, rs):
                        modified.add(item_path)
                elif len(ls) >= 2:
                    if rs:
                        walk(absent, rs[0], schema.elem, item_path)
                    removed.add(item_path)
                else:
                    if ls:
                        walk(ls[0], absent, schema.elem, item_path)
                    added.add(item_path)
        if path and lhs is absent:
            added.add(path)
        elif path and rhs is absent:
            removed.add(path)

    walk(old, new, fieldschema.schema_for(cls), ())
    return added, modified, removed


def _reference_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    cls: Any,
    now: str,
    subresource: str = "",
) -> list[dict[str, Any]]:
    def managed_of(obj: dict[str, Any] | None) -> mf.Managed:
        managed: mf.Managed = {}
        try:
            decoded = mf.decode_managed_fields(((obj or {}).get("metadata") or {}).get("managedFields"))
        except ValueError:
            return {}
        for key, entry in decoded.items():  # no FieldsV1 carried over: every entry re-encoded
            managed[key] = mf.ManagedEntry(FieldSet(entry.fields.paths), entry.api_version, entry.time)
        return managed

    version = str(new.get("apiVersion") or "")
    requested = (new.get("metadata") or {}).get("managedFields")
    if subresource:
        managed = managed_of(old)
    elif isinstance(requested, list) and requested in ([], [{}]):
        managed = {}
    else:
        managed = managed_of(new) or managed_of(old)
    if old is not None and not managed:
        return []
    base = old if old is not None else fielddiff.empty_object(cls)
    added, modified, removed = _reference_compare(
        mf.without_managed_fields(base), mf.without_managed_fields(new), cls
    )
    changed = added | modified
    for other in list(managed):
        managed[other].fields = FieldSet(managed[other].fields.paths - changed - removed)
        if not managed[other].fields:
            del managed[other]
    taken = changed - fielddiff.NEVER_OWNED
    key = mf.manager_key(manager, "Update", version, subresource)
    if taken:
        previous = managed.get(key)
        fields = FieldSet(taken | (previous.fields.paths if previous else frozenset()))
        managed[key] = mf.ManagedEntry(fields, version, now)
    mf.cap_update_managers(managed)
    return mf.encode_managed_fields(managed)


def _sample_objects() -> list[tuple[Any, dict[str, Any]]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "uid": "u",
            "labels": {"app": "web"},
            "finalizers": ["a", "b"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "o1"}],
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "resources": {"limits": {"cpu": "1"}},
                    "command": ["sh", "-c"],
                },
                {"name": "side", "image": "busybox"},
            ],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "podIPs": [{"ip": "10.0.0.1"}],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default", "annotations": {"a": "b"}},
        "spec": {
            "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "name": "https"}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"x": "y"}},
        "spec": {"size": 3, "on": True, "ratio": 1.0, "tags": ["a", "b"], "nested": {"x": 1, "y": None}},
    }
    return [
        (core_v1.ConfigMap, configmap(a="1", b="2")),
        (apps_v1.Deployment, stored_deployment()),
        (core_v1.Pod, pod),
        (core_v1.Service, service),
        (None, widget),
    ]


_SCALARS: list[Any] = ["x", "nginx", "", 0, 1, 1.0, 2, True, False, None, "TCP", 80]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return {rng.choice(["a", "b", "name", "image"]): _random_value(rng, depth + 1) for _ in range(2)}
    if depth < 2 and roll < 0.3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if roll < 0.35:
        return {}
    if roll < 0.4:
        return []
    return rng.choice(_SCALARS)


def _containers_in(obj: Any, out: list[tuple[Any, Any]], root: bool = False) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key != "managedFields":
                if not (root and key == "metadata"):
                    out.append((obj, key))
                _containers_in(value, out)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out.append((obj, i))
            _containers_in(value, out)


def _edit(rng: random.Random, obj: dict[str, Any]) -> None:
    """One small random change somewhere in the object (metadata.managedFields aside)."""
    spots: list[tuple[Any, Any]] = []
    _containers_in(obj, spots, root=True)
    parent, key = rng.choice(spots)
    roll = rng.random()
    value = parent[key]
    if roll < 0.3:
        parent[key] = _random_value(rng)
    elif roll < 0.45 and isinstance(parent, dict) and key not in ("apiVersion", "kind"):
        del parent[key]
    elif roll < 0.6 and isinstance(value, list) and value:
        value.append(copy.deepcopy(rng.choice(value)))  # may duplicate a key
    elif roll < 0.75 and isinstance(value, dict):
        value[rng.choice(["new", "name", "image", "replicas", "x"])] = _random_value(rng)
    elif isinstance(value, bool | int) and not isinstance(parent, list):
        parent[key] = int(value) if isinstance(value, bool) else bool(value)  # true vs 1
    else:
        parent[key] = rng.choice(_SCALARS)


def _shuffled_keys(rng: random.Random, value: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled_keys(rng, v) for k, v in items}
    return value


@pytest.mark.parametrize("seed", range(40))
def test_fast_paths_match_the_general_algorithm(seed: int) -> None:
    rng = random.Random(seed)
    for cls, sample in _sample_objects():
        obj = copy.deepcopy(sample)
        created = copy.deepcopy(obj)
        for _ in range(rng.randint(0, 3)):
            _edit(rng, created)
        if rng.random() < 0.2:
            created["metadata"]["managedFields"] = [{}] if rng.random() < 0.5 else []
        expected = _reference_update(None, created, "creator", cls, T0)
        assert update_managed_fields(None, created, "creator", "Update", cls, T0) == expected
        created["metadata"]["managedFields"] = expected
        current = created
        for step in range(6):
            edited = copy.deepcopy(current)
            for _ in range(rng.randint(0, 3)):
                _edit(rng, edited)
            managed = edited["metadata"].get("managedFields")
            if isinstance(managed, list) and managed and rng.random() < 0.3:
                # A client may send the entries back in any key order: still read and rewritten.
                edited["metadata"]["managedFields"] = _shuffled_keys(rng, managed)
            manager = rng.choice(["creator", "editor", "kubelet", "scaler"])
            subresource = rng.choice(["", "", "status"])
            now = f"2024-05-01T12:{step:02d}:00Z"
            expected = _reference_update(current, edited, manager, cls, now, subresource)
            got = update_managed_fields(current, edited, manager, "Update", cls, now, subresource)
            assert got == expected
            assert json.dumps(got) == json.dumps(expected)  # the same key order too
            edited["metadata"]["managedFields"] = got
            current = edited


@pytest.mark.parametrize("seed", range(40))
def test_compare_matches_the_general_walk(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for cls, sample in _sample_objects():
        old = copy.deepcopy(sample)
        for _ in range(rng.randint(0, 2)):
            _edit(rng, old)
        new = copy.deepcopy(old)
        for _ in range(rng.randint(1, 3)):
            _edit(rng, new)
        diff = compare(old, new, cls)
        added, modified, removed = _reference_compare(old, new, cls)
        assert (diff.added.paths, diff.modified.paths, diff.removed.paths) == (added, modified, removed)


def test_create_of_every_kind_matches_the_general_algorithm() -> None:
    for cls, sample in _sample_objects():
        assert update_managed_fields(None, sample, "m", "Update", cls, T0) == _reference_update(
            None, sample, "m", cls, T0
        )
    # The defaulted typed objects the API server holds, for a few more kinds.
    for cls in (apps_v1.StatefulSet, apps_v1.DaemonSet, core_v1.Service, core_v1.Namespace, core_v1.Node):
        obj = msgspec.to_builtins(msgspec.convert({"metadata": {"name": "x", "labels": {"a": "b"}}}, cls))
        assert update_managed_fields(None, obj, "m", "Update", cls, T0) == _reference_update(
            None, obj, "m", cls, T0
        )


def test_unchanged_entries_are_kept_as_given() -> None:
    deployment = stored_deployment()
    deployment["metadata"]["managedFields"] = update_managed_fields(
        None, deployment, "creator", "Update", apps_v1.Deployment, T0
    )
    scaled = copy.deepcopy(deployment)
    scaled["metadata"]["labels"]["tier"] = "front"
    entries = update_managed_fields(deployment, scaled, "labeler", "Update", apps_v1.Deployment, T1)
    # The creator lost nothing: its FieldsV1 is the very object the request carried.
    assert entries[0]["fieldsV1"] is scaled["metadata"]["managedFields"][0]["fieldsV1"]
    # Not so when the request spells it in another order: rewritten as Kubernetes writes it.
    reordered = copy.deepcopy(scaled)
    fields_v1 = reordered["metadata"]["managedFields"][0]["fieldsV1"]
    reordered["metadata"]["managedFields"][0]["fieldsV1"] = dict(reversed(list(fields_v1.items())))
    entries = update_managed_fields(deployment, reordered, "labeler", "Update", apps_v1.Deployment, T1)
    assert list(entries[0]["fieldsV1"]) == ["f:metadata", "f:spec"]


def _other_scalars(rng: random.Random, value: Any) -> Any:
    """``value`` with every scalar outside lists replaced by another of the same type."""
    if isinstance(value, dict):
        return {k: _other_scalars(rng, v) for k, v in value.items()}
    if isinstance(value, list) or value is None:
        return value
    if isinstance(value, bool):
        return rng.choice([True, False])
    if isinstance(value, int):
        return rng.randint(-5, 5)
    if isinstance(value, float):
        return rng.choice([0.0, 2.5])
    return rng.choice(["", "x", "other"])


@pytest.mark.parametrize("seed", range(20))
def test_creates_of_one_skeleton_share_a_remembered_answer(seed: int) -> None:
    # The second create of each pair has the skeleton of the first (other scalar values):
    # it is answered from what the first one left, and must still be what the walk says.
    rng = random.Random(5000 + seed)
    event = msgspec.to_builtins(
        msgspec.convert(
            {"metadata": {"name": "e", "namespace": "d"}, "reason": "R", "reportingComponent": "kubelet"},
            core_v1.Event,
        )
    )
    for cls, sample in [*_sample_objects(), (core_v1.Event, event)]:
        first = copy.deepcopy(sample)
        for _ in range(rng.randint(0, 2)):
            _edit(rng, first)
        first.get("metadata", {}).pop("managedFields", None)
        second = _other_scalars(rng, first)
        for obj in (first, second):
            assert update_managed_fields(None, obj, "m", "Update", cls, T0) == _reference_update(
                None, obj, "m", cls, T0
            )


def test_created_fields_compare_the_scalars_the_empty_object_has() -> None:
    # An Event's empty object has reportingComponent "": an equal value is no change.
    def fields(component: str) -> Any:
        event = {"metadata": {"name": "e"}, "reason": "R", "reportingComponent": component}
        return fielddiff.created_fields_v1(event, core_v1.Event)

    assert "f:reportingComponent" in fields("kubelet")
    assert "f:reportingComponent" not in fields("")
    assert "f:reportingComponent" in fields("kubelet")
    returned = fields("kubelet")
    returned.clear()  # each caller gets its own dict
    assert fields("kubelet") == {"f:reason": {}, "f:reportingComponent": {}}


def test_large_objects_are_walked_not_remembered() -> None:
    # A skeleton past the budget (here a list of 5000 items) is not kept in the cache.
    big = configmap()
    big["metadata"]["finalizers"] = [f"example.com/f{i}" for i in range(5000)]
    assert fielddiff.skeleton(big) is None
    before = len(fielddiff._CREATED)
    entries = update_managed_fields(None, big, "m", "Update", core_v1.ConfigMap, T0)
    assert entries == _reference_update(None, big, "m", core_v1.ConfigMap, T0)
    assert len(fielddiff._CREATED) <= before
    assert fielddiff.skeleton(configmap(a="1")) is not None


def test_prepare_schemas_leaves_nothing_to_work_out_at_first_use() -> None:
    from kubelite.api.model import fields_of

    assert fieldschema.prepare_schemas() > 100
    misses = fields_of.cache_info().misses, fieldschema.struct_fields.cache_info().misses
    fieldschema.struct_fields(core_v1.Pod)
    fieldschema.struct_fields(apps_v1.Deployment)
    assert (fields_of.cache_info().misses, fieldschema.struct_fields.cache_info().misses) == misses
