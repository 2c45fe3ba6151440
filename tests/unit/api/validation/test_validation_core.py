"""Services, ConfigMaps, Secrets, Namespaces, Nodes, PV/PVC, ReplicationControllers, Endpoints, LimitRanges, Events."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import core_v1


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ports": [{"port": 80}], "selector": {"app": "web"}}
    base.update(spec)
    return {"metadata": {"name": name, "namespace": "default"}, "spec": base}


SERVICE_CASES = [
    ("valid", svc(), []),
    ("name is DNS-1035", svc(name="1web"), [("FieldValueInvalid", "metadata.name")]),
    ("ports required", svc(ports=[]), [("FieldValueRequired", "spec.ports")]),
    ("headless without ports", svc(ports=[], clusterIP="None"), []),
    (
        "port range",
        svc(ports=[{"port": 0}]),
        [("FieldValueInvalid", "spec.ports[0].port"), ("FieldValueInvalid", "spec.ports[0].targetPort")],
    ),
    (
        "names required when several",
        svc(ports=[{"port": 80, "name": "http"}, {"port": 443}]),
        [("FieldValueRequired", "spec.ports[1].name")],
    ),
    (
        "duplicate names",
        svc(ports=[{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]),
        [("FieldValueDuplicate", "spec.ports[1].name")],
    ),
    (
        "duplicate port",
        svc(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]),
        [("FieldValueDuplicate", "spec.ports[1]")],
    ),
    (
        "protocol",
        svc(ports=[{"port": 80, "protocol": "HTTP"}]),
        [("FieldValueNotSupported", "spec.ports[0].protocol")],
    ),
    (
        "targetPort name",
        svc(ports=[{"port": 80, "targetPort": "Bad_Name"}]),
        [("FieldValueInvalid", "spec.ports[0].targetPort")],
    ),
    (
        "targetPort range",
        svc(ports=[{"port": 80, "targetPort": 70000}]),
        [("FieldValueInvalid", "spec.ports[0].targetPort")],
    ),
    ("type", svc(type="Internal"), [("FieldValueNotSupported", "spec.type")]),
    (
        "nodePort with ClusterIP",
        svc(ports=[{"port": 80, "nodePort": 30080}]),
        [("FieldValueForbidden", "spec.ports[0].nodePort")],
    ),
    ("nodePort ok", svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]), []),
    (
        "nodePort range",
        svc(type="NodePort", ports=[{"port": 80, "nodePort": 80}]),
        [("FieldValueInvalid", "spec.ports[0].nodePort")],
    ),
    (
        "externalName required",
        svc(type="ExternalName", ports=[]),
        [("FieldValueRequired", "spec.externalName")],
    ),
    ("externalName ok", svc(type="ExternalName", externalName="db.example.com.", ports=[]), []),
    (
        "externalName bad",
        svc(type="ExternalName", externalName="not valid", ports=[]),
        [("FieldValueInvalid", "spec.externalName")],
    ),
    ("sessionAffinity", svc(sessionAffinity="Sticky"), [("FieldValueNotSupported", "spec.sessionAffinity")]),
    ("clusterIP", svc(clusterIP="10.0.0.300"), [("FieldValueInvalid", "spec.clusterIPs[0]")]),
    (
        "externalTrafficPolicy on ClusterIP",
        svc(externalTrafficPolicy="Local"),
        [("FieldValueInvalid", "spec.externalTrafficPolicy")],
    ),
    (
        "headless NodePort",
        svc(type="NodePort", clusterIP="None"),
        [("FieldValueInvalid", "spec.clusterIPs[0]")],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), SERVICE_CASES, ids=[c[0] for c in SERVICE_CASES])
def test_service(v, name, data, expected):
    assert v.errors(v.build(core_v1.Service, data)) == expected


def _stored(cls, data):
    import msgspec

    from kubelite.api.defaults import apply_defaults

    obj = msgspec.convert(data, cls)
    apply_defaults(obj)
    obj.metadata.uid = "u1"
    obj.metadata.resourceVersion = "1"
    return obj


def test_service_cluster_ip_immutable(v):
    old = _stored(core_v1.Service, svc(clusterIP="10.43.0.10"))
    new = copy.deepcopy(old)
    new.spec.clusterIP = "10.43.0.11"
    new.spec.clusterIPs = ["10.43.0.11"]
    assert v.errors(new, old) == [("FieldValueInvalid", "spec.clusterIPs[0]")]
    same = copy.deepcopy(old)
    same.spec.ports[0].port = 8080
    same.spec.ports[0].targetPort = 8080
    assert v.errors(same, old) == []


def cm(**kw: Any) -> dict[str, Any]:
    return {"metadata": {"name": "c", "namespace": "default"}, **kw}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (cm(data={"a.b": "x", "C_D-1": "y"}), []),
        (cm(data={"a/b": "x"}), [("FieldValueInvalid", "data[a/b]")]),
        (cm(data={"k": "x"}, binaryData={"k": "eA=="}), [("FieldValueInvalid", "data[k]")]),
        (cm(data={"k": "x" * (1024 * 1024 + 1)}), [("FieldValueTooLong", "")]),
    ],
)
def test_config_map(v, data, expected):
    assert v.errors(v.build(core_v1.ConfigMap, data)) == expected


def test_immutable_config_map(v):
    old = _stored(core_v1.ConfigMap, cm(data={"k": "1"}, immutable=True))
    new = copy.deepcopy(old)
    new.data["k"] = "2"
    assert v.errors(new, old) == [("FieldValueForbidden", "data")]
    unset = copy.deepcopy(old)
    unset.immutable = False
    assert v.errors(unset, old) == [("FieldValueForbidden", "immutable")]
    mutable = _stored(core_v1.ConfigMap, cm(data={"k": "1"}))
    changed = copy.deepcopy(mutable)
    changed.data["k"] = "2"
    assert v.errors(changed, mutable) == []


def secret(type_: str = "", **data: str) -> dict[str, Any]:
    import base64

    return {
        "metadata": {"name": "s", "namespace": "default"},
        "type": type_,
        "data": {k: base64.b64encode(val.encode()).decode() for k, val in data.items()},
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (secret(password="x"), []),
        (secret(**{"bad/key": "x"}), [("FieldValueInvalid", "data[bad/key]")]),
        (secret("kubernetes.io/tls", **{"tls.crt": "c", "tls.key": "k"}), []),
        (secret("kubernetes.io/tls", **{"tls.crt": "c"}), [("FieldValueRequired", "data[tls.key]")]),
        (secret("kubernetes.io/dockerconfigjson"), [("FieldValueRequired", "data[.dockerconfigjson]")]),
        (secret("kubernetes.io/dockerconfigjson", **{".dockerconfigjson": "{}"}), []),
        (
            secret("kubernetes.io/dockerconfigjson", **{".dockerconfigjson": "nope"}),
            [("FieldValueInvalid", "data[.dockerconfigjson]")],
        ),
        (
            secret("kubernetes.io/basic-auth"),
            [("FieldValueRequired", "data[username]"), ("FieldValueRequired", "data[password]")],
        ),
        (secret("kubernetes.io/ssh-auth"), [("FieldValueRequired", "data[ssh-privatekey]")]),
        (
            secret("kubernetes.io/service-account-token"),
            [("FieldValueRequired", "metadata.annotations[kubernetes.io/service-account.name]")],
        ),
        (secret(big="x" * (1024 * 1024 + 1)), [("FieldValueTooLong", "data")]),
    ],
)
def test_secret(v, data, expected):
    assert v.errors(v.build(core_v1.Secret, data)) == expected


def test_secret_string_data_counts_as_data(v):
    s = v.build(
        core_v1.Secret,
        {
            "metadata": {"name": "s", "namespace": "d"},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": "c", "tls.key": "k"},
        },
    )
    assert v.errors(s) == []


def test_secret_type_immutable(v):
    old = _stored(core_v1.Secret, secret(password="x"))
    new = copy.deepcopy(old)
    new.type = "kubernetes.io/basic-auth"
    assert ("FieldValueInvalid", "type") in v.errors(new, old)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("team-a", []),
        ("team.a", [("FieldValueInvalid", "metadata.name")]),
        ("Team", [("FieldValueInvalid", "metadata.name")]),
    ],
)
def test_namespace_name(v, name, expected):
    assert v.errors(v.build(core_v1.Namespace, {"metadata": {"name": name}})) == expected


def test_namespace_forbids_namespace(v):
    ns = v.build(core_v1.Namespace, {"metadata": {"name": "a", "namespace": "default"}})
    assert v.errors(ns) == [("FieldValueForbidden", "metadata.namespace")]


def test_namespace_finalizer(v):
    ns = v.build(core_v1.Namespace, {"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}})
    assert v.errors(ns) == [("FieldValueInvalid", "spec.finalizers")]


@pytest.mark.parametrize(
    ("taints", "expected"),
    [
        ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], []),
        (
            [{"key": "dedicated", "effect": "Sometimes"}],
            [("FieldValueNotSupported", "spec.taints[0].effect")],
        ),
        ([{"key": "dedicated"}], [("FieldValueRequired", "spec.taints[0].effect")]),
        ([{"key": "bad key", "effect": "NoSchedule"}], [("FieldValueInvalid", "spec.taints[0].key")]),
        (
            [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "value": "b", "effect": "NoSchedule"}],
            [("FieldValueDuplicate", "spec.taints[1]")],
        ),
    ],
)
def test_node_taints(v, taints, expected):
    node = v.build(core_v1.Node, {"metadata": {"name": "n1"}, "spec": {"taints": taints}})
    assert v.errors(node) == expected


def pv(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": "/data"},
    }
    base.update(spec)
    return {"metadata": {"name": "pv1"}, "spec": base}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pv(), []),
        (pv(accessModes=[]), [("FieldValueRequired", "spec.accessModes")]),
        (pv(accessModes=["ReadWriteSometimes"]), [("FieldValueNotSupported", "spec.accessModes")]),
        (pv(capacity={}), [("FieldValueRequired", "spec.capacity")]),
        (pv(capacity={"storage": "lots"}), [("FieldValueInvalid", "spec.capacity[storage]")]),
        (pv(hostPath=None), [("FieldValueRequired", "spec")]),
        (
            pv(persistentVolumeReclaimPolicy="Keep"),
            [("FieldValueNotSupported", "spec.persistentVolumeReclaimPolicy")],
        ),
    ],
)
def test_persistent_volume(v, data, expected):
    assert v.errors(v.build(core_v1.PersistentVolume, data)) == expected


def pvc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    base.update(spec)
    return {"metadata": {"name": "c", "namespace": "default"}, "spec": base}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pvc(), []),
        (pvc(accessModes=[]), [("FieldValueRequired", "spec.accessModes")]),
        (pvc(resources={}), [("FieldValueRequired", "spec.resources[storage]")]),
        (pvc(resources={"requests": {"storage": "0"}}), [("FieldValueInvalid", "spec.resources[storage]")]),
        (pvc(volumeMode="Raw"), [("FieldValueNotSupported", "spec.volumeMode")]),
    ],
)
def test_persistent_volume_claim(v, data, expected):
    assert v.errors(v.build(core_v1.PersistentVolumeClaim, data)) == expected


def test_pvc_update_only_grows_requests(v):
    old = _stored(core_v1.PersistentVolumeClaim, pvc())
    bigger = copy.deepcopy(old)
    bigger.spec.resources.requests["storage"] = "2Gi"
    assert v.errors(bigger, old) == []
    smaller = copy.deepcopy(old)
    smaller.spec.resources.requests["storage"] = "500Mi"
    assert v.errors(smaller, old) == [("FieldValueForbidden", "spec.resources.requests.storage")]
    modes = copy.deepcopy(old)
    modes.spec.accessModes = ["ReadWriteMany"]
    assert v.errors(modes, old) == [("FieldValueForbidden", "spec")]


def rc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"app": "a"},
        "template": {
            "metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    }
    base.update(spec)
    return {"metadata": {"name": "rc", "namespace": "default"}, "spec": base}


def test_replication_controller(v):
    assert v.errors(v.build(core_v1.ReplicationController, rc())) == []
    assert v.errors(v.build(core_v1.ReplicationController, rc(selector={"app": "b"}))) == [
        ("FieldValueInvalid", "spec.template.metadata.labels")
    ]
    assert v.errors(v.build(core_v1.ReplicationController, rc(replicas=-1))) == [
        ("FieldValueInvalid", "spec.replicas")
    ]


def test_endpoints(v):
    good = {
        "metadata": {"name": "e", "namespace": "d"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
    }
    assert v.errors(v.build(core_v1.Endpoints, good)) == []
    bad = {
        "metadata": {"name": "e", "namespace": "d"},
        "subsets": [{"addresses": [{"ip": "x"}], "ports": [{"port": 0}]}],
    }
    assert v.errors(v.build(core_v1.Endpoints, bad)) == [
        ("FieldValueInvalid", "subsets[0].addresses[0].ip"),
        ("FieldValueInvalid", "subsets[0].ports[0].port"),
    ]


def test_limit_range(v):
    good = {
        "metadata": {"name": "l", "namespace": "d"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}]},
    }
    assert v.errors(v.build(core_v1.LimitRange, good)) == []
    bad = {
        "metadata": {"name": "l", "namespace": "d"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}}]},
    }
    assert ("FieldValueInvalid", "spec.limits[0].min[cpu]") in v.errors(v.build(core_v1.LimitRange, bad))


def test_event_type(v):
    ev = {
        "metadata": {"name": "e", "namespace": "d"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "type": "Bad",
    }
    assert v.errors(v.build(core_v1.Event, ev)) == [("FieldValueNotSupported", "type")]
