"""Strategic merge patch: applying, two-way and three-way patches, the patches kubectl sends."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api import apps_v1, core_v1, meta
from kubelite.api.patch import (
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    UnsupportedPatchType,
    apply_patch,
    supported_patch_types,
)
from kubelite.api.strategic import (
    StrategicMergePatchError,
    apply_strategic_merge_patch,
    create_three_way_merge_patch,
    create_two_way_merge_patch,
)

Deployment, Pod, Node = apps_v1.Deployment, core_v1.Pod, core_v1.Node


def pod_spec(**spec: Any) -> dict[str, Any]:
    """A Pod document with just ``spec``."""
    return {"spec": spec}


def template(**spec: Any) -> dict[str, Any]:
    """A Deployment document with just ``spec.template.spec``."""
    return {"spec": {"template": {"spec": spec}}}


def ctr(name: str, image: str = "", **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if image:
        body["image"] = image
    body.update(more)
    return body


# -- applying: (description, model, live document, patch, expected result) ------------------

APPLY_CASES: list[tuple[str, type, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "containers merge by name: only the named one changes",
        Pod,
        pod_spec(containers=[ctr("web", "nginx:1", imagePullPolicy="Always"), ctr("log", "fluentd")]),
        pod_spec(containers=[ctr("web", "nginx:2")]),
        pod_spec(containers=[ctr("web", "nginx:2", imagePullPolicy="Always"), ctr("log", "fluentd")]),
    ),
    (
        "a container new to the list goes before the server's (Kubernetes' order)",
        Pod,
        pod_spec(containers=[ctr("web", "nginx")]),
        pod_spec(containers=[ctr("cache", "redis")]),
        pod_spec(containers=[ctr("cache", "redis"), ctr("web", "nginx")]),
    ),
    (
        "named elements take the patch's order, server-only ones keep their place",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("b", "x"), ctr("c")]),
        pod_spec(containers=[ctr("c", "z"), ctr("a", "y")]),
        pod_spec(containers=[ctr("b", "x"), ctr("c", "z"), ctr("a", "y")]),
    ),
    (
        "$patch: delete removes the container with that name",
        Pod,
        pod_spec(containers=[ctr("web", "nginx"), ctr("log", "fluentd")]),
        pod_spec(containers=[{"name": "log", "$patch": "delete"}]),
        pod_spec(containers=[ctr("web", "nginx")]),
    ),
    (
        "$patch: delete of a name that is not there changes nothing",
        Pod,
        pod_spec(containers=[ctr("web", "nginx")]),
        pod_spec(containers=[{"name": "gone", "$patch": "delete"}]),
        pod_spec(containers=[ctr("web", "nginx")]),
    ),
    (
        "$patch: delete removes every element with the key, and merges go on",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("a", "dup"), ctr("b", "x")]),
        pod_spec(containers=[{"name": "a", "$patch": "delete"}, ctr("b", "y")]),
        pod_spec(containers=[ctr("b", "y")]),
    ),
    (
        "$patch: replace in a list replaces the whole list",
        Pod,
        pod_spec(containers=[ctr("web", "nginx", ports=[{"containerPort": 80}]), ctr("log", "fluentd")]),
        pod_spec(containers=[{"$patch": "replace"}, ctr("only", "busybox")]),
        pod_spec(containers=[ctr("only", "busybox")]),
    ),
    (
        "$patch: replace alone empties the list",
        Pod,
        pod_spec(containers=[ctr("web", "nginx")]),
        pod_spec(containers=[{"$patch": "replace"}]),
        pod_spec(containers=[]),
    ),
    (
        "$patch: replace on a map replaces the map",
        Pod,
        {"metadata": {"labels": {"app": "web", "tier": "front"}}},
        {"metadata": {"labels": {"$patch": "replace", "team": "blue"}}},
        {"metadata": {"labels": {"team": "blue"}}},
    ),
    (
        "$patch: delete on a map leaves it empty, as Kubernetes does",
        Pod,
        {"metadata": {"name": "p", "labels": {"app": "web"}}},
        {"metadata": {"labels": {"$patch": "delete"}}},
        {"metadata": {"name": "p", "labels": {}}},
    ),
    (
        "$patch: delete for a map the document lacks adds nothing",
        Pod,
        pod_spec(containers=[ctr("web")]),
        pod_spec(affinity={"$patch": "delete"}),
        pod_spec(containers=[ctr("web")]),
    ),
    (
        "$patch: merge is the default",
        Pod,
        {"metadata": {"labels": {"app": "web"}}},
        {"metadata": {"labels": {"$patch": "merge", "tier": "front"}}},
        {"metadata": {"labels": {"app": "web", "tier": "front"}}},
    ),
    (
        "env merges by name; null inside an element deletes its field",
        Pod,
        pod_spec(
            containers=[
                ctr(
                    "web",
                    env=[
                        {"name": "A", "value": "1"},
                        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                )
            ]
        ),
        pod_spec(
            containers=[
                ctr("web", env=[{"name": "B", "value": "2", "valueFrom": None}, {"name": "C", "value": "3"}])
            ]
        ),
        pod_spec(
            containers=[
                ctr(
                    "web",
                    env=[
                        {"name": "A", "value": "1"},
                        {"name": "B", "value": "2"},
                        {"name": "C", "value": "3"},
                    ],
                )
            ]
        ),
    ),
    (
        "ports merge by containerPort",
        Pod,
        pod_spec(
            containers=[ctr("web", ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443}])]
        ),
        pod_spec(containers=[ctr("web", ports=[{"containerPort": 443, "name": "https"}])]),
        pod_spec(
            containers=[
                ctr(
                    "web",
                    ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
                )
            ]
        ),
    ),
    (
        "volumes merge by name, volumeMounts by mountPath",
        Pod,
        pod_spec(
            volumes=[{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c1"}}],
            containers=[ctr("web", volumeMounts=[{"name": "data", "mountPath": "/data"}])],
        ),
        pod_spec(
            volumes=[{"name": "conf", "configMap": {"name": "c2"}}],
            containers=[ctr("web", volumeMounts=[{"mountPath": "/data", "readOnly": True}])],
        ),
        pod_spec(
            volumes=[{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c2"}}],
            containers=[ctr("web", volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}])],
        ),
    ),
    (
        "$retainKeys in a volume (merge,retainKeys) swaps its source",
        Pod,
        pod_spec(volumes=[{"name": "data", "emptyDir": {}}]),
        pod_spec(
            volumes=[{"$retainKeys": ["hostPath", "name"], "name": "data", "hostPath": {"path": "/srv"}}]
        ),
        pod_spec(volumes=[{"name": "data", "hostPath": {"path": "/srv"}}]),
    ),
    (
        "nested maps merge inside merged elements (resources.limits)",
        Pod,
        pod_spec(
            containers=[
                ctr("web", resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}})
            ]
        ),
        pod_spec(containers=[ctr("web", resources={"limits": {"memory": "2Gi", "cpu": None}})]),
        pod_spec(
            containers=[ctr("web", resources={"limits": {"memory": "2Gi"}, "requests": {"cpu": "100m"}})]
        ),
    ),
    (
        "finalizers merge as a set, new ones first",
        Pod,
        {"metadata": {"finalizers": ["a/x", "b/y"]}},
        {"metadata": {"finalizers": ["b/y", "c/z"]}},
        {"metadata": {"finalizers": ["a/x", "b/y", "c/z"]}},
    ),
    (
        "a finalizer new to the list goes first",
        Pod,
        {"metadata": {"finalizers": ["a/x"]}},
        {"metadata": {"finalizers": ["c/z"]}},
        {"metadata": {"finalizers": ["c/z", "a/x"]}},
    ),
    (
        "$deleteFromPrimitiveList/finalizers removes values, even repeated ones",
        Pod,
        {"metadata": {"finalizers": ["a/x", "b/y", "a/x", "c/z"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x", "missing"]}},
        {"metadata": {"finalizers": ["b/y", "c/z"]}},
    ),
    (
        "$deleteFromPrimitiveList on an absent list adds nothing",
        Pod,
        {"metadata": {"name": "p"}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}},
        {"metadata": {"name": "p"}},
    ),
    (
        "$deleteFromPrimitiveList also works on a list replaced otherwise (args)",
        Pod,
        pod_spec(containers=[ctr("web", args=["-v", "-q", "-x"])]),
        pod_spec(containers=[{"name": "web", "$deleteFromPrimitiveList/args": ["-q"]}]),
        pod_spec(containers=[ctr("web", args=["-v", "-x"])]),
    ),
    (
        "$setElementOrder/containers reorders without changing contents",
        Pod,
        pod_spec(containers=[ctr("a", "1"), ctr("b", "2"), ctr("c", "3")]),
        pod_spec(**{"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
        pod_spec(containers=[ctr("c", "3"), ctr("a", "1"), ctr("b", "2")]),
    ),
    (
        "$setElementOrder keeps server-only elements in their place",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("b"), ctr("side"), ctr("c")]),
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}]},
            containers=[ctr("c", "new")],
        ),
        pod_spec(containers=[ctr("b"), ctr("a"), ctr("side"), ctr("c", "new")]),
    ),
    (
        "$setElementOrder places an added element where it says",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("b")]),
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "a"}, {"name": "new"}, {"name": "b"}]},
            containers=[ctr("new", "img")],
        ),
        pod_spec(containers=[ctr("a"), ctr("new", "img"), ctr("b")]),
    ),
    (
        "$setElementOrder names ignore elements that are not there",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("c")]),
        pod_spec(**{"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}]}),
        pod_spec(containers=[ctr("c"), ctr("a")]),
    ),
    (
        "$setElementOrder/finalizers with additions and deletions",
        Pod,
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {
            "metadata": {
                "$setElementOrder/finalizers": ["d", "c", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "finalizers": ["d"],
            }
        },
        {"metadata": {"finalizers": ["d", "c", "a"]}},
    ),
    (
        "$retainKeys: switching to Recreate drops rollingUpdate",
        Deployment,
        {
            "spec": {
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
                }
            }
        },
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
    ),
    (
        "without $retainKeys a retainKeys map merges as usual",
        Deployment,
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}},
    ),
    (
        "labels merge; null deletes one; a null for an absent key is dropped",
        Pod,
        {"metadata": {"labels": {"app": "web", "tier": "front"}}},
        {"metadata": {"labels": {"tier": None, "team": "blue", "absent": None}}},
        {"metadata": {"labels": {"app": "web", "team": "blue"}}},
    ),
    (
        "ownerReferences merge by uid",
        Pod,
        {"metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]}},
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "1", "controller": True},
                    {"uid": "2", "kind": "Job", "name": "j"},
                ]
            }
        },
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "1", "kind": "ReplicaSet", "name": "rs", "controller": True},
                    {"uid": "2", "kind": "Job", "name": "j"},
                ]
            }
        },
    ),
    (
        "tolerations and args have no strategy: replaced whole",
        Pod,
        pod_spec(
            tolerations=[{"key": "a", "operator": "Exists"}],
            containers=[ctr("web", args=["-a", "-b"])],
        ),
        pod_spec(
            tolerations=[{"key": "b", "operator": "Exists"}],
            containers=[ctr("web", args=["-c"])],
        ),
        pod_spec(
            tolerations=[{"key": "b", "operator": "Exists"}],
            containers=[ctr("web", args=["-c"])],
        ),
    ),
    (
        "a list the document lacks is taken from the patch, directives and nulls removed",
        Pod,
        pod_spec(restartPolicy="Always"),
        pod_spec(
            containers=[
                ctr("web", "nginx", env=[{"name": "A", "value": None}]),
                {"name": "x", "$patch": "delete"},
            ]
        ),
        pod_spec(restartPolicy="Always", containers=[ctr("web", "nginx", env=[{"name": "A"}])]),
    ),
    (
        "a scalar replaced by a map, a map by a scalar",
        Pod,
        {"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}},
        {"metadata": {"name": {"weird": True}}, "spec": {"nodeName": None, "hostname": "h"}},
        {"metadata": {"name": {"weird": True}}, "spec": {"hostname": "h"}},
    ),
    (
        "Any-typed data (ControllerRevision) merges maps and replaces lists",
        apps_v1.ControllerRevision,
        {"data": {"spec": {"a": 1, "items": [{"name": "x"}, {"name": "y"}]}}, "revision": 1},
        {"data": {"spec": {"b": 2, "a": None, "items": [{"name": "z"}]}}},
        {"data": {"spec": {"b": 2, "items": [{"name": "z"}]}}, "revision": 1},
    ),
    (
        "fields the model does not know merge like a JSON merge patch",
        Pod,
        {"metadata": {"name": "p"}, "extra": {"list": [1, 2], "keep": "k"}},
        {"extra": {"list": [3], "more": {"x": None, "y": 1}}},
        {"metadata": {"name": "p"}, "extra": {"list": [3], "keep": "k", "more": {"y": 1}}},
    ),
    (
        "a top-level $patch: replace replaces the document",
        Pod,
        {"metadata": {"name": "p"}, "spec": {"nodeName": "n"}},
        {"$patch": "replace", "metadata": {"name": "q"}},
        {"metadata": {"name": "q"}},
    ),
    (
        "conditions (status) merge by type",
        Deployment,
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}
                ]
            }
        },
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
    ),
]


@pytest.mark.parametrize(
    ("model", "live", "patch", "expected"),
    [case[1:] for case in APPLY_CASES],
    ids=[case[0] for case in APPLY_CASES],
)
def test_apply(model: type, live: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    live_before, patch_before = copy.deepcopy(live), copy.deepcopy(patch)
    assert apply_strategic_merge_patch(live, patch, model) == expected
    assert live == live_before and patch == patch_before  # pure


# -- the patches kubectl's verbs send ---------------------------------------------------


def live_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "generation": 3},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "0"}],
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                        },
                        {"name": "sidecar", "image": "busybox:1", "args": ["sleep", "inf"]},
                    ],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                },
            },
        },
        "status": {"replicas": 2, "observedGeneration": 3},
    }


def test_kubectl_set_image() -> None:
    sent = {"spec": {"template": {"spec": {"containers": [{"image": "busybox:2", "name": "sidecar"}]}}}}
    result = apply_strategic_merge_patch(live_deployment(), sent, Deployment)
    expected = live_deployment()
    expected["spec"]["template"]["spec"]["containers"][1]["image"] = "busybox:2"
    assert result == expected


def test_kubectl_rollout_restart() -> None:
    stamp = "2024-05-01T10:00:00Z"
    sent = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    result = apply_strategic_merge_patch(live_deployment(), sent, Deployment)
    expected = live_deployment()
    expected["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": stamp}
    assert result == expected


def test_kubectl_cordon_and_uncordon() -> None:
    node = {
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "spec": {"podCIDR": "10.42.0.0/24"},
    }
    cordoned = apply_strategic_merge_patch(node, {"spec": {"unschedulable": True}}, Node)
    assert cordoned["spec"] == {"podCIDR": "10.42.0.0/24", "unschedulable": True}
    uncordoned = apply_strategic_merge_patch(cordoned, {"spec": {"unschedulable": None}}, Node)
    assert uncordoned == node


LAST_APPLIED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "stage": "beta"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "0"}],
                    },
                    {"name": "sidecar", "image": "busybox:1", "args": ["sleep", "inf"]},
                ]
            },
        },
    },
}

NEW_CONFIG: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "metrics", "image": "exporter:3"},
                    {
                        "name": "web",
                        "image": "nginx:1.26",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "MODE", "value": "prod"}],
                    },
                ]
            },
        },
    },
}

# What kubectl apply sends for NEW_CONFIG over LAST_APPLIED (last-applied annotation left out):
# replicas and the stage label were dropped (null), the sidecar container and the DEBUG
# variable removed ($patch: delete), and both merge lists carry $setElementOrder.
KUBECTL_APPLY_PATCH: dict[str, Any] = {
    "metadata": {"labels": {"stage": None}},
    "spec": {
        "replicas": None,
        "template": {
            "spec": {
                "$setElementOrder/containers": [{"name": "metrics"}, {"name": "web"}],
                "containers": [
                    {"image": "exporter:3", "name": "metrics"},
                    {
                        "$setElementOrder/env": [{"name": "MODE"}],
                        "env": [{"$patch": "delete", "name": "DEBUG"}],
                        "image": "nginx:1.26",
                        "name": "web",
                    },
                    {"$patch": "delete", "name": "sidecar"},
                ],
            }
        },
    },
}


def live_after_first_apply() -> dict[str, Any]:
    """LAST_APPLIED as the server keeps it: defaults, status and a label someone else added."""
    live = live_deployment()
    live["metadata"]["labels"] = {"app": "web", "stage": "beta", "owner": "ops"}
    return live


def test_kubectl_apply_update_of_a_deployment() -> None:
    result = apply_strategic_merge_patch(live_after_first_apply(), KUBECTL_APPLY_PATCH, Deployment)
    expected = live_after_first_apply()
    expected["metadata"]["labels"] = {"app": "web", "owner": "ops"}
    del expected["spec"]["replicas"]
    web = expected["spec"]["template"]["spec"]["containers"][0]
    web["image"] = "nginx:1.26"
    web["env"] = [{"name": "MODE", "value": "prod"}]
    expected["spec"]["template"]["spec"]["containers"] = [{"name": "metrics", "image": "exporter:3"}, web]
    assert result == expected


def test_three_way_patch_is_what_kubectl_apply_sends() -> None:
    patch = create_three_way_merge_patch(LAST_APPLIED, NEW_CONFIG, live_after_first_apply(), Deployment)
    assert patch == KUBECTL_APPLY_PATCH
    # Serialised, the containers keep kubectl's order: the added, the changed, then the deletions.
    names = [c["name"] for c in patch["spec"]["template"]["spec"]["containers"]]
    assert names == ["metrics", "web", "sidecar"]


def test_three_way_patch_leaves_fields_others_set() -> None:
    live = live_after_first_apply()
    patch = create_three_way_merge_patch(LAST_APPLIED, LAST_APPLIED, live, Deployment)
    assert patch == {}
    assert apply_strategic_merge_patch(live, patch, Deployment) == live


def test_three_way_patch_without_last_applied_deletes_nothing() -> None:
    live = live_after_first_apply()
    patch = create_three_way_merge_patch(None, NEW_CONFIG, live, Deployment)
    assert patch == {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "metrics"}, {"name": "web"}],
                    "containers": [
                        {"name": "metrics", "image": "exporter:3"},
                        {"$setElementOrder/env": [{"name": "MODE"}], "image": "nginx:1.26", "name": "web"},
                    ],
                }
            }
        }
    }
    containers = apply_strategic_merge_patch(live, patch, Deployment)["spec"]["template"]["spec"][
        "containers"
    ]
    assert [c["name"] for c in containers] == ["metrics", "web", "sidecar"]
    assert [e["name"] for e in containers[1]["env"]] == ["MODE", "DEBUG"]


def test_three_way_patch_switches_strategy_with_retain_keys() -> None:
    old = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    new = {"spec": {"strategy": {"type": "Recreate"}}}
    live = {
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}
        }
    }
    patch = create_three_way_merge_patch(old, new, live, Deployment)
    assert patch == {
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}
    }
    assert apply_strategic_merge_patch(live, patch, Deployment) == new


# -- two-way patches --------------------------------------------------------------------

TWO_WAY_CASES: list[tuple[str, type, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "changed scalar and removed map key",
        Pod,
        {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"nodeName": "n1"}},
        {"metadata": {"labels": {"a": "1"}}, "spec": {"nodeName": "n2"}},
        {"metadata": {"labels": {"b": None}}, "spec": {"nodeName": "n2"}},
    ),
    (
        "merge list: change, add, delete, order",
        Pod,
        pod_spec(containers=[ctr("a", "1"), ctr("b", "2")]),
        pod_spec(containers=[ctr("c", "3"), ctr("a", "9")]),
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}]},
            containers=[ctr("c", "3"), {"name": "a", "image": "9"}, {"$patch": "delete", "name": "b"}],
        ),
    ),
    (
        "merge list reordered only",
        Pod,
        pod_spec(containers=[ctr("a"), ctr("b")]),
        pod_spec(containers=[ctr("b"), ctr("a")]),
        pod_spec(**{"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}),
    ),
    (
        "primitive merge list: additions, deletions and order",
        Pod,
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"finalizers": ["d", "c", "a"]}},
        {
            "metadata": {
                "finalizers": ["d"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "$setElementOrder/finalizers": ["d", "c", "a"],
            }
        },
    ),
    (
        "list without strategy is replaced whole",
        Pod,
        pod_spec(containers=[ctr("a", args=["1", "2"])]),
        pod_spec(containers=[ctr("a", args=["2"])]),
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "a"}]},
            containers=[{"name": "a", "args": ["2"]}],
        ),
    ),
    (
        "no difference, no patch",
        Pod,
        pod_spec(containers=[ctr("a", env=[{"name": "X", "value": "1"}])]),
        pod_spec(containers=[ctr("a", env=[{"name": "X", "value": "1"}])]),
        {},
    ),
]


@pytest.mark.parametrize(
    ("model", "original", "modified", "expected"),
    [case[1:] for case in TWO_WAY_CASES],
    ids=[case[0] for case in TWO_WAY_CASES],
)
def test_two_way_patch(
    model: type, original: dict[str, Any], modified: dict[str, Any], expected: dict[str, Any]
) -> None:
    patch = create_two_way_merge_patch(original, modified, model)
    assert patch == expected
    assert apply_strategic_merge_patch(original, patch, model) == modified


ROUND_TRIPS = [
    (live_deployment(), NEW_CONFIG),
    (NEW_CONFIG, LAST_APPLIED),
    (LAST_APPLIED, live_after_first_apply()),
    (
        pod_spec(
            volumes=[{"name": "v", "emptyDir": {}}],
            containers=[ctr("a", volumeMounts=[{"mountPath": "/x", "name": "v"}])],
        ),
        pod_spec(volumes=[{"name": "v", "configMap": {"name": "c"}}], containers=[ctr("a")]),
    ),
]


@pytest.mark.parametrize(("original", "modified"), ROUND_TRIPS)
def test_two_way_patch_round_trips(original: dict[str, Any], modified: dict[str, Any]) -> None:
    model = Deployment if "kind" in original else Pod
    patch = create_two_way_merge_patch(original, modified, model)
    assert apply_strategic_merge_patch(original, patch, model) == modified
    # What goes over the wire must survive JSON.
    assert json.loads(json.dumps(patch)) == patch


def test_two_way_patch_retain_keys_in_volume() -> None:
    original = pod_spec(volumes=[{"name": "v", "emptyDir": {}}])
    modified = pod_spec(volumes=[{"name": "v", "configMap": {"name": "c"}}])
    patch = create_two_way_merge_patch(original, modified, Pod)
    assert patch["spec"]["volumes"] == [
        {"$retainKeys": ["configMap", "name"], "configMap": {"name": "c"}, "emptyDir": None, "name": "v"}
    ]


# -- errors --------------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, str]] = [
    (
        "merge list element without its merge key",
        pod_spec(containers=[ctr("web", "nginx")]),
        pod_spec(containers=[{"image": "nginx:2"}]),
        500,
        "map: map[image:nginx:2] does not contain declared merge key: name",
    ),
    (
        "delete directive without the merge key",
        pod_spec(containers=[ctr("web", "nginx")]),
        pod_spec(containers=[{"$patch": "delete"}]),
        500,
        "map: map[$patch:delete] does not contain declared merge key: name",
    ),
    (
        "unknown $patch value in a map",
        {"metadata": {"labels": {"a": "1"}}},
        {"metadata": {"labels": {"$patch": "shuffle"}}},
        500,
        "unknown patch type: shuffle in map: map[$patch:shuffle]",
    ),
    (
        "unknown $patch value in a list",
        pod_spec(containers=[ctr("web")]),
        pod_spec(containers=[{"name": "web", "$patch": "shuffle"}]),
        500,
        "unknown patch type: shuffle in map: map[$patch:shuffle name:web]",
    ),
    (
        "$retainKeys that is not a list",
        {"spec": {"strategy": {"type": "Recreate"}}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        400,
        "invalid patch format of retainKeys",
    ),
    (
        "a patched field missing from $retainKeys",
        {"spec": {"strategy": {"type": "Recreate"}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {}}}},
        400,
        "invalid patch format of retainKeys",
    ),
    (
        "$setElementOrder without a field name",
        pod_spec(containers=[ctr("a")]),
        pod_spec(**{"$setElementOrderX": []}),
        400,
        "invalid patch format of setElementOrder list",
    ),
    (
        "$deleteFromPrimitiveList without a field name",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
        400,
        "invalid patch format of primitive list",
    ),
    (
        "patch list out of $setElementOrder's order",
        pod_spec(containers=[ctr("a"), ctr("b")]),
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}, containers=[ctr("b"), ctr("a")]
        ),
        500,
        "doesn't match $setElementOrder list",
    ),
    (
        "lists of lists",
        {"metadata": {"finalizers": []}},
        {"metadata": {"finalizers": [["b"]]}},
        422,
        "lists of lists are not supported",
    ),
    (
        "mixed element types in a merge list",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": [1]}},
        500,
        "list element types are not identical: [[a] [1]]",
    ),
]


@pytest.mark.parametrize(
    ("live", "patch", "code", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors(live: dict[str, Any], patch: dict[str, Any], code: int, message: str) -> None:
    model = Deployment if "strategy" in json.dumps(live) else Pod
    with pytest.raises(StrategicMergePatchError) as err:
        apply_strategic_merge_patch(live, patch, model)
    assert err.value.code == code
    assert message in str(err.value)
    assert isinstance(err.value, PatchError)


def test_patch_must_be_an_object() -> None:
    with pytest.raises(StrategicMergePatchError) as err:
        apply_strategic_merge_patch({}, [{"op": "add"}], Pod)  # type: ignore[arg-type]
    assert err.value.code == 400


def test_needs_a_typed_model() -> None:
    with pytest.raises(StrategicMergePatchError, match="strategic merge patch format is not supported"):
        apply_strategic_merge_patch({}, {}, dict)


def test_without_a_model_lists_replace_and_directives_still_work() -> None:
    doc = {"spec": {"items": [{"name": "a"}], "m": {"x": 1, "y": 2}}}
    patch = {"spec": {"items": [{"name": "b"}], "m": {"$retainKeys": ["z"], "z": 3}}}
    assert apply_strategic_merge_patch(doc, patch, None) == {
        "spec": {"items": [{"name": "b"}], "m": {"z": 3}}
    }


def test_integer_merge_keys_print_as_integers() -> None:
    live = pod_spec(containers=[ctr("web", ports=[{"containerPort": 80}])])
    with pytest.raises(StrategicMergePatchError, match=r"map\[hostPort:8080 protocol:TCP\] does not contain"):
        apply_strategic_merge_patch(
            live, pod_spec(containers=[ctr("web", ports=[{"hostPort": 8080, "protocol": "TCP"}])]), Pod
        )


def test_dispatch_through_apply_patch() -> None:
    live = pod_spec(containers=[ctr("a", "1"), ctr("b", "2")])
    patch = pod_spec(containers=[ctr("b", "3")])
    assert apply_patch(STRATEGIC_MERGE_PATCH, live, patch, Pod) == pod_spec(
        containers=[ctr("a", "1"), ctr("b", "3")]
    )
    # Without a model (custom resources) it is unsupported, as in Kubernetes.
    with pytest.raises(UnsupportedPatchType):
        apply_patch(STRATEGIC_MERGE_PATCH, live, patch)
    assert STRATEGIC_MERGE_PATCH in supported_patch_types(typed=True)
    assert STRATEGIC_MERGE_PATCH not in supported_patch_types()
    assert apply_patch(MERGE_PATCH, live, patch, Pod) == patch


def test_patch_module_reexports() -> None:
    from kubelite.api import patch as patches

    assert patches.apply_strategic_merge_patch(
        {"metadata": {}}, {"metadata": {"name": "x"}}, meta.ObjectMeta
    ) == {"metadata": {"name": "x"}}
    assert patches.create_two_way_merge_patch({"a": 1}, {"a": 2}, None) == {"a": 2}
    assert patches.create_three_way_merge_patch({"a": 1}, {}, {"a": 1, "b": 2}, None) == {"a": None}
