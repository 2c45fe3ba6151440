"""HPA, Ingress, IngressClass, NetworkPolicy, RBAC, Lease, EndpointSlice, PriorityClass, PDB, StorageClass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import (
    autoscaling_v2,
    coordination_v1,
    discovery_v1,
    networking_v1,
    policy_v1,
    rbac_v1,
    scheduling_v1,
    storage_v1,
)


def ns_meta(name: str = "x") -> dict[str, Any]:
    return {"name": name, "namespace": "default"}


def hpa(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 5,
    }
    base.update(spec)
    return {"metadata": ns_meta(), "spec": base}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (hpa(), []),
        (hpa(minReplicas=6), [("FieldValueInvalid", "spec.maxReplicas")]),
        (hpa(minReplicas=0), [("FieldValueInvalid", "spec.minReplicas")]),
        (hpa(scaleTargetRef={"kind": "Deployment"}), [("FieldValueRequired", "spec.scaleTargetRef.name")]),
        (
            hpa(
                metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]
            ),
            [("FieldValueRequired", "spec.metrics[0].resource.target.averageUtilization")],
        ),
        (hpa(metrics=[{"type": "Magic"}]), [("FieldValueNotSupported", "spec.metrics[0].type")]),
    ],
)
def test_hpa(v, data, expected):
    assert v.errors(v.build(autoscaling_v2.HorizontalPodAutoscaler, data)) == expected


def ingress(**spec: Any) -> dict[str, Any]:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }
    base: dict[str, Any] = {"rules": [{"host": "example.com", "http": {"paths": [path]}}]}
    base.update(spec)
    return {"metadata": ns_meta(), "spec": base}


def rule(**path: Any) -> list[dict[str, Any]]:
    p = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
    p.update(path)
    return [{"http": {"paths": [p]}}]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ingress(), []),
        (ingress(rules=[]), [("FieldValueInvalid", "spec.rules")]),
        (
            ingress(rules=rule(pathType=None)),
            [("FieldValueRequired", "spec.rules[0].http.paths[0].pathType")],
        ),
        (
            ingress(rules=rule(pathType="Regex")),
            [("FieldValueNotSupported", "spec.rules[0].http.paths[0].pathType")],
        ),
        (ingress(rules=rule(path="api")), [("FieldValueInvalid", "spec.rules[0].http.paths[0].path")]),
        (
            ingress(rules=rule(backend={"service": {"name": "web", "port": {}}})),
            [("FieldValueRequired", "spec.rules[0].http.paths[0].backend.service.port")],
        ),
        (ingress(rules=[{"host": "10.0.0.1"}]), [("FieldValueInvalid", "spec.rules[0].host")]),
        (ingress(rules=[{"host": "*.example.com"}]), []),
    ],
)
def test_ingress(v, data, expected):
    assert v.errors(v.build(networking_v1.Ingress, data)) == expected


def test_ingress_class(v):
    ok = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    assert v.errors(v.build(networking_v1.IngressClass, ok)) == []
    bad = {"metadata": {"name": "nginx"}, "spec": {"controller": "nginx"}}
    assert v.errors(v.build(networking_v1.IngressClass, bad)) == [("FieldValueInvalid", "spec.controller")]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"podSelector": {}}, []),
        (
            {"podSelector": {}, "policyTypes": ["Sideways"]},
            [("FieldValueNotSupported", "spec.policyTypes[0]")],
        ),
        (
            {"podSelector": {}, "ingress": [{"from": [{}]}]},
            [("FieldValueRequired", "spec.ingress[0].from[0]")],
        ),
        (
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}],
            },
            [("FieldValueInvalid", "spec.ingress[0].from[0].ipBlock.except[0]")],
        ),
        (
            {"podSelector": {}, "egress": [{"ports": [{"port": 70000}]}]},
            [("FieldValueInvalid", "spec.egress[0].ports[0].port")],
        ),
    ],
)
def test_network_policy(v, spec, expected):
    assert v.errors(v.build(networking_v1.NetworkPolicy, {"metadata": ns_meta(), "spec": spec})) == expected


def test_rbac_names_are_path_segments(v):
    ok = {
        "metadata": {"name": "system:controller:thing"},
        "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
    }
    assert v.errors(v.build(rbac_v1.ClusterRole, ok)) == []
    bad = {"metadata": {"name": "a/b"}}
    assert v.errors(v.build(rbac_v1.ClusterRole, bad)) == [("FieldValueInvalid", "metadata.name")]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, []),
        ({"apiGroups": [""], "resources": ["pods"]}, [("FieldValueRequired", "rules[0].verbs")]),
        ({"verbs": ["get"], "resources": ["pods"]}, [("FieldValueRequired", "rules[0].apiGroups")]),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            [("FieldValueInvalid", "rules[0].nonResourceURLs")],
        ),
    ],
)
def test_role_rules(v, rule, expected):
    assert v.errors(v.build(rbac_v1.Role, {"metadata": ns_meta("r"), "rules": [rule]})) == expected


def binding(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": ns_meta("b"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "default"},
        ],
    }
    base.update(kw)
    return base


def test_role_binding(v):
    assert v.errors(v.build(rbac_v1.RoleBinding, binding())) == []
    bad = binding(
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "r"},
        subjects=[{"kind": "Robot", "name": "x"}],
    )
    assert v.errors(v.build(rbac_v1.RoleBinding, bad)) == [
        ("FieldValueNotSupported", "roleRef.kind"),
        ("FieldValueNotSupported", "subjects[0].kind"),
    ]
    old = v.build(rbac_v1.RoleBinding, binding())
    new = copy.deepcopy(old)
    new.roleRef.name = "other"
    assert v.errors(new, old) == [("FieldValueInvalid", "roleRef")]


def test_lease(v):
    assert (
        v.errors(
            v.build(coordination_v1.Lease, {"metadata": ns_meta(), "spec": {"leaseDurationSeconds": 15}})
        )
        == []
    )
    assert v.errors(
        v.build(coordination_v1.Lease, {"metadata": ns_meta(), "spec": {"leaseDurationSeconds": 0}})
    ) == [("FieldValueInvalid", "spec.leaseDurationSeconds")]


def test_endpoint_slice(v):
    ok = {
        "metadata": ns_meta(),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}],
        "ports": [{"port": 80}],
    }
    assert v.errors(v.build(discovery_v1.EndpointSlice, ok)) == []
    bad = {"metadata": ns_meta(), "addressType": "IPv4", "endpoints": [{"addresses": ["::1"]}]}
    assert v.errors(v.build(discovery_v1.EndpointSlice, bad)) == [
        ("FieldValueInvalid", "endpoints[0].addresses[0]")
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("high", 1000, []),
        ("huge", 2_000_000_000, [("FieldValueForbidden", "value")]),
        ("system-mine", 10, [("FieldValueForbidden", "metadata.name")]),
        ("system-node-critical", 2_000_001_000, []),
    ],
)
def test_priority_class(v, name, value, expected):
    assert (
        v.errors(v.build(scheduling_v1.PriorityClass, {"metadata": {"name": name}, "value": value}))
        == expected
    )


def test_priority_class_value_immutable(v):
    old = v.build(scheduling_v1.PriorityClass, {"metadata": {"name": "p"}, "value": 5})
    new = copy.deepcopy(old)
    new.value = 6
    assert v.errors(new, old) == [("FieldValueForbidden", "value")]


def test_pdb(v):
    assert (
        v.errors(
            v.build(policy_v1.PodDisruptionBudget, {"metadata": ns_meta(), "spec": {"minAvailable": "50%"}})
        )
        == []
    )
    both = {"metadata": ns_meta(), "spec": {"minAvailable": 1, "maxUnavailable": 1}}
    assert v.errors(v.build(policy_v1.PodDisruptionBudget, both)) == [("FieldValueInvalid", "spec")]


def test_storage_class(v):
    assert (
        v.errors(
            v.build(
                storage_v1.StorageClass, {"metadata": {"name": "s"}, "provisioner": "rancher.io/local-path"}
            )
        )
        == []
    )
    assert v.errors(v.build(storage_v1.StorageClass, {"metadata": {"name": "s"}})) == [
        ("FieldValueRequired", "provisioner")
    ]
