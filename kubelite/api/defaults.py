"""Defaulting of typed API objects, as Kubernetes' v1 defaulters (and a few registry strategies) do.

``apply_defaults(obj)`` fills unset fields in place, dispatching on the
object's type; applying it twice changes nothing the second time. Pod
templates embedded in workloads get the pod spec defaults. A few defaults
that Kubernetes applies in a registry strategy or an admission plugin rather
than in a defaulter are here too because every write path needs them
(Namespace finalizers, Pod priority, Secret ``stringData`` folded into ``data``,
Service ``clusterIPs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api import (
    apps_v1,
    autoscaling_v2,
    batch_v1,
    core_v1,
    discovery_v1,
    networking_v1,
)

DEFAULT_FILE_MODE = 0o644  # 420
RBAC_GROUP = "rbac.authorization.k8s.io"
MAX_INT32 = 2**31 - 1


# -- pod spec -----------------------------------------------------------------------


def _image_has_tag_or_digest(image: str) -> tuple[str, bool]:
    """(tag, has_digest) of an image reference."""
    if "@" in image:
        return "", True
    name = image.rsplit("/", 1)[-1]
    if ":" in name:
        return name.rsplit(":", 1)[1], False
    return "", False


def default_pull_policy(image: str) -> str:
    tag, digest = _image_has_tag_or_digest(image)
    if digest:
        return "IfNotPresent"
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _http_get(action: Any) -> None:
    if action is None:
        return
    if not action.path:
        action.path = "/"
    if not action.scheme:
        action.scheme = "HTTP"


def _probe(probe: Any) -> None:
    if probe is None:
        return
    if probe.timeoutSeconds == 0:
        probe.timeoutSeconds = 1
    if probe.periodSeconds == 0:
        probe.periodSeconds = 10
    if probe.successThreshold == 0:
        probe.successThreshold = 1
    if probe.failureThreshold == 0:
        probe.failureThreshold = 3
    _http_get(probe.httpGet)
    if probe.grpc is not None and probe.grpc.service is None:
        probe.grpc.service = ""


def _field_ref(ref: Any) -> None:
    if ref is not None and not ref.apiVersion:
        ref.apiVersion = "v1"


def _container(c: Any) -> None:
    if not c.imagePullPolicy:
        c.imagePullPolicy = default_pull_policy(c.image)
    if not c.terminationMessagePath:
        c.terminationMessagePath = "/dev/termination-log"
    if not c.terminationMessagePolicy:
        c.terminationMessagePolicy = "File"
    for port in c.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for ev in c.env:
        if ev.valueFrom is not None:
            _field_ref(ev.valueFrom.fieldRef)
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(getattr(c, name, None))
    if c.lifecycle is not None:
        for hook in (c.lifecycle.postStart, c.lifecycle.preStop):
            if hook is not None:
                _http_get(hook.httpGet)


def _items_modes(source: Any) -> None:
    if source.defaultMode is None:
        source.defaultMode = DEFAULT_FILE_MODE


def _volume(vol: Any) -> None:
    sources = [name for name, value in _volume_sources(vol) if value is not None]
    if not sources:
        vol.emptyDir = core_v1.EmptyDirVolumeSource()
        return
    if vol.secret is not None:
        _items_modes(vol.secret)
    if vol.configMap is not None:
        _items_modes(vol.configMap)
    if vol.downwardAPI is not None:
        _items_modes(vol.downwardAPI)
        for item in vol.downwardAPI.items:
            _field_ref(item.fieldRef)
    if vol.projected is not None:
        _items_modes(vol.projected)
        for src in vol.projected.sources:
            if src.serviceAccountToken is not None and src.serviceAccountToken.expirationSeconds is None:
                src.serviceAccountToken.expirationSeconds = 3600
            if src.downwardAPI is not None:
                for item in src.downwardAPI.items:
                    _field_ref(item.fieldRef)
    if vol.hostPath is not None and vol.hostPath.type is None:
        vol.hostPath.type = ""
    if vol.ephemeral is not None and vol.ephemeral.volumeClaimTemplate is not None:
        _pvc_spec(vol.ephemeral.volumeClaimTemplate.spec)


def _volume_sources(vol: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(vol, name)) for name in vol.__struct_fields__ if name != "name"]


def pod_spec_defaults(spec: Any) -> None:
    """The defaults of a PodSpec, wherever it is (pods and templates alike)."""
    if not spec.dnsPolicy:
        spec.dnsPolicy = "ClusterFirst"
    if not spec.restartPolicy:
        spec.restartPolicy = "Always"
    if spec.securityContext is None:
        spec.securityContext = core_v1.PodSecurityContext()
    if spec.terminationGracePeriodSeconds is None:
        spec.terminationGracePeriodSeconds = 30
    if not spec.schedulerName:
        spec.schedulerName = "default-scheduler"
    if spec.enableServiceLinks is None:
        spec.enableServiceLinks = True
    if not spec.serviceAccountName and spec.serviceAccount:
        spec.serviceAccountName = spec.serviceAccount
    if spec.serviceAccountName and not spec.serviceAccount:
        spec.serviceAccount = spec.serviceAccountName
    for c in spec.containers:
        _container(c)
    for c in spec.initContainers:
        _container(c)
    for ec in spec.ephemeralContainers:
        _container(ec)
    for vol in spec.volumes:
        _volume(vol)


def _template(tmpl: Any) -> None:
    if tmpl is not None:
        pod_spec_defaults(tmpl.spec)


def _pod(pod: core_v1.Pod) -> None:
    spec = pod.spec
    pod_spec_defaults(spec)
    # Limits stand in for missing requests (Pods only, not templates, as in Kubernetes).
    for c in [*spec.containers, *spec.initContainers]:
        for name, q in c.resources.limits.items():
            c.resources.requests.setdefault(name, q)
    if spec.hostNetwork:
        for c in [*spec.containers, *spec.initContainers]:
            for port in c.ports:
                if port.hostPort == 0:
                    port.hostPort = port.containerPort
    # spec.priority and spec.preemptionPolicy are not defaults: the Priority admission plugin
    # resolves them from the PriorityClass (kubelite.apiserver.admission.priority).
    if not pod.status.phase and not pod.metadata.resourceVersion:
        pod.status.phase = "Pending"
    if not pod.status.qosClass and not pod.metadata.resourceVersion:
        pod.status.qosClass = qos_class(spec)


def qos_class(spec: Any) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' cpu and memory requests and limits."""
    requests: dict[str, list[str]] = {}
    limits: dict[str, list[str]] = {}
    for c in [*spec.containers, *spec.initContainers]:
        for name in ("cpu", "memory"):
            if name in c.resources.requests:
                requests.setdefault(name, []).append(c.resources.requests[name])
            if name in c.resources.limits:
                limits.setdefault(name, []).append(c.resources.limits[name])
    if not requests and not limits:
        return "BestEffort"
    containers = [*spec.containers, *spec.initContainers]
    guaranteed = all(
        all(
            name in c.resources.limits
            and c.resources.requests.get(name, c.resources.limits[name]) == c.resources.limits[name]
            for name in ("cpu", "memory")
        )
        for c in containers
    )
    return "Guaranteed" if guaranteed else "Burstable"


# -- core kinds ---------------------------------------------------------------------------


def _service(svc: core_v1.Service) -> None:
    spec = svc.spec
    if not spec.sessionAffinity:
        spec.sessionAffinity = "None"
    if spec.sessionAffinity == "ClientIP":
        if spec.sessionAffinityConfig is None:
            spec.sessionAffinityConfig = core_v1.SessionAffinityConfig()
        if spec.sessionAffinityConfig.clientIP is None:
            spec.sessionAffinityConfig.clientIP = core_v1.ClientIPConfig()
        if spec.sessionAffinityConfig.clientIP.timeoutSeconds is None:
            spec.sessionAffinityConfig.clientIP.timeoutSeconds = 10800
    if not spec.type:
        spec.type = "ClusterIP"
    for port in spec.ports:
        if not port.protocol:
            port.protocol = "TCP"
        if port.targetPort is None or port.targetPort == 0 or port.targetPort == "":
            port.targetPort = port.port
    if spec.type in ("NodePort", "LoadBalancer") and not spec.externalTrafficPolicy:
        spec.externalTrafficPolicy = "Cluster"
    if spec.type != "ExternalName":
        if spec.internalTrafficPolicy is None:
            spec.internalTrafficPolicy = "Cluster"
        if spec.clusterIP and not spec.clusterIPs:
            spec.clusterIPs = [spec.clusterIP]
        elif spec.clusterIPs and not spec.clusterIP:
            spec.clusterIP = spec.clusterIPs[0]
        if spec.ipFamilyPolicy is None:
            spec.ipFamilyPolicy = "SingleStack"
        if not spec.ipFamilies and spec.clusterIP and spec.clusterIP != "None":
            spec.ipFamilies = ["IPv6" if ":" in spec.clusterIP else "IPv4"]
    if spec.type == "LoadBalancer" and spec.allocateLoadBalancerNodePorts is None:
        spec.allocateLoadBalancerNodePorts = True


def _replication_controller(rc: core_v1.ReplicationController) -> None:
    spec = rc.spec
    if spec.template is not None:
        labels = spec.template.metadata.labels
        if not spec.selector and labels:
            spec.selector = dict(labels)
        if not rc.metadata.labels and labels:
            rc.metadata.labels = dict(labels)
        pod_spec_defaults(spec.template.spec)
    if spec.replicas is None:
        spec.replicas = 1


def _secret(secret: core_v1.Secret) -> None:
    if not secret.type:
        secret.type = "Opaque"
    if secret.stringData:
        for k, v in secret.stringData.items():
            secret.data[k] = v.encode()
        secret.stringData = {}


def _namespace(ns: core_v1.Namespace) -> None:
    if ns.metadata.name:
        ns.metadata.labels.setdefault("kubernetes.io/metadata.name", ns.metadata.name)
        if ns.metadata.labels["kubernetes.io/metadata.name"] != ns.metadata.name:
            ns.metadata.labels["kubernetes.io/metadata.name"] = ns.metadata.name
    if not ns.spec.finalizers and ns.metadata.deletionTimestamp is None and not ns.metadata.resourceVersion:
        ns.spec.finalizers = ["kubernetes"]
    if not ns.status.phase:
        ns.status.phase = "Active"


def _node(node: core_v1.Node) -> None:
    # podCIDR and podCIDRs say the same thing; Kubernetes fills one from the other.
    if node.spec.podCIDR and not node.spec.podCIDRs:
        node.spec.podCIDRs = [node.spec.podCIDR]
    elif node.spec.podCIDRs and not node.spec.podCIDR:
        node.spec.podCIDR = node.spec.podCIDRs[0]
    if not node.status.allocatable and node.status.capacity:
        node.status.allocatable = dict(node.status.capacity)


def _pv(pv: core_v1.PersistentVolume) -> None:
    if not pv.spec.persistentVolumeReclaimPolicy:
        pv.spec.persistentVolumeReclaimPolicy = "Retain"
    if pv.spec.volumeMode is None:
        pv.spec.volumeMode = "Filesystem"
    if pv.spec.hostPath is not None and pv.spec.hostPath.type is None:
        pv.spec.hostPath.type = ""
    if not pv.status.phase:
        pv.status.phase = "Pending"


def _pvc_spec(spec: Any) -> None:
    if spec.volumeMode is None:
        spec.volumeMode = "Filesystem"


def _pvc(pvc: core_v1.PersistentVolumeClaim) -> None:
    _pvc_spec(pvc.spec)
    if not pvc.status.phase:
        pvc.status.phase = "Pending"


def _endpoints(ep: core_v1.Endpoints) -> None:
    for subset in ep.subsets:
        for port in subset.ports:
            if not port.protocol:
                port.protocol = "TCP"


def _limit_range(lr: core_v1.LimitRange) -> None:
    for item in lr.spec.limits:
        if item.type != "Container":
            continue
        for k, v in item.max.items():
            item.default.setdefault(k, v)
        for k, v in item.default.items():
            item.defaultRequest.setdefault(k, v)
        for k, v in item.min.items():
            item.defaultRequest.setdefault(k, v)


def _pod_template(pt: core_v1.PodTemplate) -> None:
    pod_spec_defaults(pt.template.spec)


# -- apps ----------------------------------------------------------------------------------------


def _deployment(d: apps_v1.Deployment) -> None:
    spec = d.spec
    if spec.replicas is None:
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        if strategy.rollingUpdate is None:
            strategy.rollingUpdate = apps_v1.RollingUpdateDeployment()
        if strategy.rollingUpdate.maxUnavailable is None:
            strategy.rollingUpdate.maxUnavailable = "25%"
        if strategy.rollingUpdate.maxSurge is None:
            strategy.rollingUpdate.maxSurge = "25%"
    if spec.revisionHistoryLimit is None:
        spec.revisionHistoryLimit = 10
    if spec.progressDeadlineSeconds is None:
        spec.progressDeadlineSeconds = 600
    _template(spec.template)


def _replica_set(rs: apps_v1.ReplicaSet) -> None:
    if rs.spec.replicas is None:
        rs.spec.replicas = 1
    _template(rs.spec.template)


def _stateful_set(ss: apps_v1.StatefulSet) -> None:
    spec = ss.spec
    if not spec.podManagementPolicy:
        spec.podManagementPolicy = "OrderedReady"
    if not spec.updateStrategy.type:
        spec.updateStrategy.type = "RollingUpdate"
    if spec.updateStrategy.type == "RollingUpdate":
        if spec.updateStrategy.rollingUpdate is None:
            spec.updateStrategy.rollingUpdate = apps_v1.RollingUpdateStatefulSetStrategy()
        if spec.updateStrategy.rollingUpdate.partition is None:
            spec.updateStrategy.rollingUpdate.partition = 0
    if spec.persistentVolumeClaimRetentionPolicy is None:
        spec.persistentVolumeClaimRetentionPolicy = apps_v1.StatefulSetPersistentVolumeClaimRetentionPolicy()
    policy = spec.persistentVolumeClaimRetentionPolicy
    if not policy.whenDeleted:
        policy.whenDeleted = "Retain"
    if not policy.whenScaled:
        policy.whenScaled = "Retain"
    if spec.replicas is None:
        spec.replicas = 1
    if spec.revisionHistoryLimit is None:
        spec.revisionHistoryLimit = 10
    for pvc in spec.volumeClaimTemplates:
        _pvc_spec(pvc.spec)
        if not pvc.status.phase:
            pvc.status.phase = "Pending"
    _template(spec.template)


def _daemon_set(ds: apps_v1.DaemonSet) -> None:
    spec = ds.spec
    us = spec.updateStrategy
    if not us.type:
        us.type = "RollingUpdate"
    if us.type == "RollingUpdate":
        if us.rollingUpdate is None:
            us.rollingUpdate = apps_v1.RollingUpdateDaemonSet()
        if us.rollingUpdate.maxUnavailable is None:
            us.rollingUpdate.maxUnavailable = 1
        if us.rollingUpdate.maxSurge is None:
            us.rollingUpdate.maxSurge = 0
    if spec.revisionHistoryLimit is None:
        spec.revisionHistoryLimit = 10
    _template(spec.template)


# -- batch -----------------------------------------------------------------------------------------


def _job_spec(spec: Any) -> None:
    if spec.completions is None and spec.parallelism is None:
        spec.completions = 1
        spec.parallelism = 1
    if spec.parallelism is None:
        spec.parallelism = 1
    if spec.backoffLimit is None:
        spec.backoffLimit = MAX_INT32 if spec.backoffLimitPerIndex is not None else 6
    if spec.completionMode is None:
        spec.completionMode = "NonIndexed"
    if spec.suspend is None:
        spec.suspend = False
    if spec.podFailurePolicy is not None:
        for rule in spec.podFailurePolicy.rules:
            for cond in rule.onPodConditions:
                if not cond.status:
                    cond.status = "True"
    if spec.podReplacementPolicy is None:
        spec.podReplacementPolicy = "Failed" if spec.podFailurePolicy is not None else "TerminatingOrFailed"
    _template(spec.template)


def _job(job: batch_v1.Job) -> None:
    _job_spec(job.spec)
    if not job.metadata.labels and job.spec.template.metadata.labels:
        job.metadata.labels = dict(job.spec.template.metadata.labels)
    generate_job_selector(job)


def generate_job_selector(job: batch_v1.Job) -> None:
    """Give a Job without ``manualSelector`` the selector and template labels Kubernetes generates from its uid.

    Does nothing until the Job has a uid (the API server assigns it on create) or when it has a selector.
    """
    from kubelite.api import meta

    spec = job.spec
    uid = job.metadata.uid
    if spec.manualSelector or spec.selector is not None or not uid:
        return
    labels = spec.template.metadata.labels
    labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    labels.setdefault("batch.kubernetes.io/job-name", job.metadata.name)
    labels.setdefault("controller-uid", uid)
    labels.setdefault("job-name", job.metadata.name)
    spec.selector = meta.LabelSelector(matchLabels={"batch.kubernetes.io/controller-uid": uid})


def _cron_job(cj: batch_v1.CronJob) -> None:
    spec = cj.spec
    if not spec.concurrencyPolicy:
        spec.concurrencyPolicy = "Allow"
    if spec.suspend is None:
        spec.suspend = False
    if spec.successfulJobsHistoryLimit is None:
        spec.successfulJobsHistoryLimit = 3
    if spec.failedJobsHistoryLimit is None:
        spec.failedJobsHistoryLimit = 1
    _template(spec.jobTemplate.spec.template)


# -- autoscaling, networking, rbac, the small groups ----------------------------------------------------


def _hpa_v2(hpa: autoscaling_v2.HorizontalPodAutoscaler) -> None:
    spec = hpa.spec
    if spec.minReplicas is None:
        spec.minReplicas = 1
    if not spec.metrics:
        spec.metrics = [
            autoscaling_v2.MetricSpec(
                type="Resource",
                resource=autoscaling_v2.ResourceMetricSource(
                    name="cpu", target=autoscaling_v2.MetricTarget(type="Utilization", averageUtilization=80)
                ),
            )
        ]
    b = spec.behavior
    if b is not None:
        if b.scaleUp is None:
            b.scaleUp = autoscaling_v2.HPAScalingRules()
        if b.scaleDown is None:
            b.scaleDown = autoscaling_v2.HPAScalingRules()
        up, down = b.scaleUp, b.scaleDown
        if up.stabilizationWindowSeconds is None:
            up.stabilizationWindowSeconds = 0
        if up.selectPolicy is None:
            up.selectPolicy = "Max"
        if not up.policies:
            up.policies = [
                autoscaling_v2.HPAScalingPolicy(type="Pods", value=4, periodSeconds=15),
                autoscaling_v2.HPAScalingPolicy(type="Percent", value=100, periodSeconds=15),
            ]
        if down.selectPolicy is None:
            down.selectPolicy = "Max"
        if not down.policies:
            down.policies = [autoscaling_v2.HPAScalingPolicy(type="Percent", value=100, periodSeconds=15)]


def _hpa_v1(hpa: Any) -> None:
    if hpa.spec.minReplicas is None:
        hpa.spec.minReplicas = 1


def _ingress_class(ic: networking_v1.IngressClass) -> None:
    params = ic.spec.parameters
    if params is not None and params.scope is None:
        params.scope = "Cluster"


def _network_policy(np_: networking_v1.NetworkPolicy) -> None:
    spec = np_.spec
    for ingress_rule in spec.ingress:
        for port in ingress_rule.ports:
            if port.protocol is None:
                port.protocol = "TCP"
    for egress_rule in spec.egress:
        for port in egress_rule.ports:
            if port.protocol is None:
                port.protocol = "TCP"
    if not spec.policyTypes:
        types = ["Ingress"]
        if spec.egress:
            types.append("Egress")
        spec.policyTypes = types


def _subjects(binding: Any) -> None:
    for s in binding.subjects:
        if not s.apiGroup and s.kind in ("User", "Group"):
            s.apiGroup = RBAC_GROUP
    if not binding.roleRef.apiGroup:
        binding.roleRef.apiGroup = RBAC_GROUP


def _endpoint_slice(es: discovery_v1.EndpointSlice) -> None:
    for port in es.ports:
        if port.name is None:
            port.name = ""
        if port.protocol is None:
            port.protocol = "TCP"


def _priority_class(pc: Any) -> None:
    if pc.preemptionPolicy is None:
        pc.preemptionPolicy = "PreemptLowerPriority"


def _storage_class(sc: Any) -> None:
    if sc.reclaimPolicy is None:
        sc.reclaimPolicy = "Delete"
    if sc.volumeBindingMode is None:
        sc.volumeBindingMode = "Immediate"


def _event(ev: Any) -> None:
    if ev.count == 0 and ev.firstTimestamp is not None:
        ev.count = 1


_DEFAULTERS: dict[tuple[str, str], Callable[[Any], None]] = {
    ("core_v1", "Pod"): _pod,
    ("core_v1", "Service"): _service,
    ("core_v1", "ReplicationController"): _replication_controller,
    ("core_v1", "Secret"): _secret,
    ("core_v1", "Namespace"): _namespace,
    ("core_v1", "Node"): _node,
    ("core_v1", "PersistentVolume"): _pv,
    ("core_v1", "PersistentVolumeClaim"): _pvc,
    ("core_v1", "Endpoints"): _endpoints,
    ("core_v1", "LimitRange"): _limit_range,
    ("core_v1", "PodTemplate"): _pod_template,
    ("core_v1", "Event"): _event,
    ("apps_v1", "Deployment"): _deployment,
    ("apps_v1", "ReplicaSet"): _replica_set,
    ("apps_v1", "StatefulSet"): _stateful_set,
    ("apps_v1", "DaemonSet"): _daemon_set,
    ("batch_v1", "Job"): _job,
    ("batch_v1", "CronJob"): _cron_job,
    ("autoscaling_v2", "HorizontalPodAutoscaler"): _hpa_v2,
    ("autoscaling_v1", "HorizontalPodAutoscaler"): _hpa_v1,
    ("networking_v1", "IngressClass"): _ingress_class,
    ("networking_v1", "NetworkPolicy"): _network_policy,
    ("rbac_v1", "RoleBinding"): _subjects,
    ("rbac_v1", "ClusterRoleBinding"): _subjects,
    ("discovery_v1", "EndpointSlice"): _endpoint_slice,
    ("scheduling_v1", "PriorityClass"): _priority_class,
    ("storage_v1", "StorageClass"): _storage_class,
}


def apply_defaults(obj: Any) -> None:
    """Fill the unset fields of ``obj`` in place with Kubernetes' defaults; idempotent. Unknown kinds are left alone."""
    cls = type(obj)
    fn = _DEFAULTERS.get((cls.__module__.rsplit(".", 1)[-1], cls.__name__))
    if fn is not None:
        fn(obj)


__all__ = ["apply_defaults", "default_pull_policy", "generate_job_selector", "pod_spec_defaults", "qos_class"]
