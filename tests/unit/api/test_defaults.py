"""Defaulting per kind, and that applying the defaults twice changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from kubelite.api import (
    apps_v1,
    autoscaling_v2,
    batch_v1,
    core_v1,
    discovery_v1,
    networking_v1,
    rbac_v1,
    scheduling_v1,
)
from kubelite.api.defaults import apply_defaults, default_pull_policy
from kubelite.api.validation import validate_create

POD_SPEC = {
    "containers": [
        {
            "name": "c",
            "image": "nginx",
            "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
            "livenessProbe": {"httpGet": {"port": 80}},
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        }
    ],
    "volumes": [
        {"name": "a"},
        {"name": "b", "configMap": {"name": "cm"}},
        {"name": "s", "secret": {"secretName": "x"}},
    ],
}
TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "a"}}


def make(cls: type, data: dict[str, Any]) -> Any:
    obj = msgspec.convert(data, cls)
    apply_defaults(obj)
    return obj


def meta(name: str = "x", ns: str | None = "default") -> dict[str, Any]:
    return {"name": name, "namespace": ns} if ns else {"name": name}


def test_pod_defaults():
    pod = make(core_v1.Pod, {"metadata": meta(), "spec": POD_SPEC})
    s = pod.spec
    assert (s.restartPolicy, s.dnsPolicy, s.schedulerName, s.terminationGracePeriodSeconds) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
        30,
    )
    assert s.securityContext == core_v1.PodSecurityContext()
    assert s.enableServiceLinks is True
    # Not defaults: the Priority admission plugin resolves them from the PriorityClass.
    assert (s.preemptionPolicy, s.priority) == (None, None)
    c = s.containers[0]
    assert (c.imagePullPolicy, c.terminationMessagePath, c.terminationMessagePolicy) == (
        "Always",
        "/dev/termination-log",
        "File",
    )
    assert c.ports[0].protocol == "TCP"
    p = c.livenessProbe
    assert (p.timeoutSeconds, p.periodSeconds, p.successThreshold, p.failureThreshold) == (1, 10, 1, 3)
    assert (p.httpGet.scheme, p.httpGet.path) == ("HTTP", "/")
    assert c.resources.requests == {"cpu": "1", "memory": "1Gi"}
    assert c.env[0].valueFrom.fieldRef.apiVersion == "v1"
    assert s.volumes[0].emptyDir == core_v1.EmptyDirVolumeSource()
    assert s.volumes[1].configMap.defaultMode == 420
    assert s.volumes[2].secret.defaultMode == 420
    assert pod.status.qosClass == "Guaranteed"
    assert validate_create(pod) == []


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry:5000/nginx", "Always"),
        ("registry:5000/nginx:1", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
    ],
)
def test_pull_policy(image, policy):
    assert default_pull_policy(image) == policy


def test_pod_restart_policy_kept():
    pod = make(core_v1.Pod, {"metadata": meta(), "spec": {**POD_SPEC, "restartPolicy": "Never"}})
    assert pod.spec.restartPolicy == "Never"


def test_service_defaults():
    svc = make(
        core_v1.Service, {"metadata": meta(), "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    )
    s = svc.spec
    assert (s.type, s.sessionAffinity, s.internalTrafficPolicy, s.ipFamilyPolicy) == (
        "ClusterIP",
        "None",
        "Cluster",
        "SingleStack",
    )
    assert (s.ports[0].protocol, s.ports[0].targetPort) == ("TCP", 80)
    assert s.externalTrafficPolicy == ""
    np_ = make(
        core_v1.Service,
        {"metadata": meta(), "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}},
    )
    assert (np_.spec.externalTrafficPolicy, np_.spec.ports[0].targetPort) == ("Cluster", "http")
    lb = make(
        core_v1.Service, {"metadata": meta(), "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    )
    assert lb.spec.allocateLoadBalancerNodePorts is True
    assert validate_create(svc) == validate_create(np_) == validate_create(lb) == []


def test_deployment_defaults():
    d = make(apps_v1.Deployment, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}})
    s = d.spec
    assert (s.replicas, s.revisionHistoryLimit, s.progressDeadlineSeconds) == (1, 10, 600)
    assert s.strategy.type == "RollingUpdate"
    assert (s.strategy.rollingUpdate.maxSurge, s.strategy.rollingUpdate.maxUnavailable) == ("25%", "25%")
    assert s.template.spec.restartPolicy == "Always"
    assert s.template.spec.containers[0].terminationMessagePolicy == "File"
    assert s.template.spec.containers[0].resources.requests == {}  # only pods copy limits into requests
    assert validate_create(d) == []


def test_replica_set_and_rc_defaults():
    rs = make(apps_v1.ReplicaSet, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}})
    assert rs.spec.replicas == 1
    rc = make(core_v1.ReplicationController, {"metadata": meta(), "spec": {"template": TEMPLATE}})
    assert (rc.spec.replicas, rc.spec.selector, rc.metadata.labels) == (1, {"app": "a"}, {"app": "a"})
    assert validate_create(rs) == validate_create(rc) == []


def test_stateful_set_defaults():
    ss = make(
        apps_v1.StatefulSet,
        {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE, "serviceName": "x"}},
    )
    s = ss.spec
    assert (s.replicas, s.podManagementPolicy, s.revisionHistoryLimit) == (1, "OrderedReady", 10)
    assert (s.updateStrategy.type, s.updateStrategy.rollingUpdate.partition) == ("RollingUpdate", 0)
    assert (
        s.persistentVolumeClaimRetentionPolicy.whenDeleted,
        s.persistentVolumeClaimRetentionPolicy.whenScaled,
    ) == (
        "Retain",
        "Retain",
    )
    assert validate_create(ss) == []


def test_daemon_set_defaults():
    ds = make(apps_v1.DaemonSet, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}})
    ru = ds.spec.updateStrategy.rollingUpdate
    assert (ds.spec.updateStrategy.type, ru.maxUnavailable, ru.maxSurge, ds.spec.revisionHistoryLimit) == (
        "RollingUpdate",
        1,
        0,
        10,
    )
    assert validate_create(ds) == []


def test_job_defaults():
    tmpl = {"spec": {**POD_SPEC, "restartPolicy": "Never"}}
    job = make(batch_v1.Job, {"metadata": {**meta(), "uid": "u-1"}, "spec": {"template": tmpl}})
    s = job.spec
    assert (s.parallelism, s.completions, s.backoffLimit, s.completionMode, s.suspend) == (
        1,
        1,
        6,
        "NonIndexed",
        False,
    )
    assert s.podReplacementPolicy == "TerminatingOrFailed"
    assert s.template.spec.restartPolicy == "Never"
    assert s.selector.matchLabels == {"batch.kubernetes.io/controller-uid": "u-1"}
    assert s.template.metadata.labels["job-name"] == "x"
    assert validate_create(job) == []
    only_parallelism = make(batch_v1.Job, {"metadata": meta(), "spec": {"parallelism": 3, "template": tmpl}})
    assert (only_parallelism.spec.parallelism, only_parallelism.spec.completions) == (3, None)


def test_cron_job_defaults():
    cj = make(
        batch_v1.CronJob,
        {
            "metadata": meta(),
            "spec": {
                "schedule": "@daily",
                "jobTemplate": {"spec": {"template": {"spec": {**POD_SPEC, "restartPolicy": "OnFailure"}}}},
            },
        },
    )
    s = cj.spec
    assert (s.concurrencyPolicy, s.suspend, s.successfulJobsHistoryLimit, s.failedJobsHistoryLimit) == (
        "Allow",
        False,
        3,
        1,
    )
    assert s.jobTemplate.spec.template.spec.containers[0].imagePullPolicy == "Always"
    assert validate_create(cj) == []


def test_secret_namespace_node_pv_pvc():
    secret = make(core_v1.Secret, {"metadata": meta(), "stringData": {"a": "b"}})
    assert (secret.type, secret.data, secret.stringData) == ("Opaque", {"a": b"b"}, {})
    ns = make(core_v1.Namespace, {"metadata": {"name": "team"}})
    assert (ns.spec.finalizers, ns.status.phase) == (["kubernetes"], "Active")
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "team"}
    node = make(core_v1.Node, {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}})
    assert node.status.allocatable == {"cpu": "4"}
    pv = make(core_v1.PersistentVolume, {"metadata": {"name": "p"}, "spec": {"hostPath": {"path": "/x"}}})
    assert (pv.spec.persistentVolumeReclaimPolicy, pv.spec.volumeMode) == ("Retain", "Filesystem")
    pvc = make(core_v1.PersistentVolumeClaim, {"metadata": meta(), "spec": {}})
    assert pvc.spec.volumeMode == "Filesystem"


def test_hpa_defaults():
    hpa = make(
        autoscaling_v2.HorizontalPodAutoscaler,
        {
            "metadata": meta(),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3},
        },
    )
    assert hpa.spec.minReplicas == 1
    (metric,) = hpa.spec.metrics
    assert (
        metric.type,
        metric.resource.name,
        metric.resource.target.type,
        metric.resource.target.averageUtilization,
    ) == (
        "Resource",
        "cpu",
        "Utilization",
        80,
    )
    assert validate_create(hpa) == []


def test_small_kinds():
    np_ = make(
        networking_v1.NetworkPolicy, {"metadata": meta(), "spec": {"egress": [{"ports": [{"port": 53}]}]}}
    )
    assert np_.spec.policyTypes == ["Ingress", "Egress"]
    assert np_.spec.egress[0].ports[0].protocol == "TCP"
    rb = make(
        rbac_v1.RoleBinding,
        {
            "metadata": meta(),
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}],
        },
    )
    assert [s.apiGroup for s in rb.subjects] == ["rbac.authorization.k8s.io", ""]
    assert rb.roleRef.apiGroup == "rbac.authorization.k8s.io"
    ep = make(
        core_v1.Endpoints,
        {"metadata": meta(), "subsets": [{"addresses": [{"ip": "1.2.3.4"}], "ports": [{"port": 80}]}]},
    )
    assert ep.subsets[0].ports[0].protocol == "TCP"
    es = make(
        discovery_v1.EndpointSlice, {"metadata": meta(), "addressType": "IPv4", "ports": [{"port": 80}]}
    )
    assert (es.ports[0].protocol, es.ports[0].name) == ("TCP", "")
    pc = make(scheduling_v1.PriorityClass, {"metadata": {"name": "p"}, "value": 1})
    assert pc.preemptionPolicy == "PreemptLowerPriority"
    lr = make(
        core_v1.LimitRange,
        {"metadata": meta(), "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}},
    )
    assert (lr.spec.limits[0].default, lr.spec.limits[0].defaultRequest) == ({"cpu": "2"}, {"cpu": "2"})
    ic = make(
        networking_v1.IngressClass,
        {
            "metadata": {"name": "i"},
            "spec": {"controller": "a.io/b", "parameters": {"kind": "K", "name": "n"}},
        },
    )
    assert ic.spec.parameters.scope == "Cluster"


IDEMPOTENCE = [
    (core_v1.Pod, {"metadata": meta(), "spec": POD_SPEC}),
    (
        core_v1.Service,
        {
            "metadata": meta(),
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "clusterIP": "10.0.0.1"},
        },
    ),
    (core_v1.Secret, {"metadata": meta(), "stringData": {"a": "b"}}),
    (core_v1.Namespace, {"metadata": {"name": "n"}}),
    (core_v1.ReplicationController, {"metadata": meta(), "spec": {"template": TEMPLATE}}),
    (apps_v1.Deployment, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}}),
    (apps_v1.StatefulSet, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}}),
    (apps_v1.DaemonSet, {"metadata": meta(), "spec": {"selector": SELECTOR, "template": TEMPLATE}}),
    (batch_v1.Job, {"metadata": {**meta(), "uid": "u"}, "spec": {"template": TEMPLATE}}),
    (
        batch_v1.CronJob,
        {"metadata": meta(), "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": TEMPLATE}}}},
    ),
    (
        autoscaling_v2.HorizontalPodAutoscaler,
        {"metadata": meta(), "spec": {"maxReplicas": 2, "behavior": {}}},
    ),
    (networking_v1.NetworkPolicy, {"metadata": meta(), "spec": {}}),
    (
        core_v1.LimitRange,
        {"metadata": meta(), "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}},
    ),
]


@pytest.mark.parametrize(("cls", "data"), IDEMPOTENCE, ids=[c[0].__name__ for c in IDEMPOTENCE])
def test_idempotent(cls, data):
    once = make(cls, data)
    twice = copy.deepcopy(once)
    apply_defaults(twice)
    assert twice == once
    assert msgspec.json.encode(twice) == msgspec.json.encode(once)


def test_unknown_kinds_are_left_alone():
    cm = msgspec.convert({"metadata": meta(), "data": {"a": "b"}}, core_v1.ConfigMap)
    before = copy.deepcopy(cm)
    apply_defaults(cm)
    assert cm == before
