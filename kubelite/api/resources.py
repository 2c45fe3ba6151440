"""The registry of kinds: what the API server serves and how it names it.

One ``Resource`` per served group/version/resource: its kind, plural and
singular names, scope, short names and categories (for discovery and
kubectl), subresources, and the typed model. A resource may keep its objects
in another resource's storage (``storage_of``): events.k8s.io/v1 Events live
with core/v1 Events, autoscaling/v1 HPAs with autoscaling/v2, the way
Kubernetes stores one version and converts on the way in and out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    model_path: str  # "module:Class" under kubelite.api, resolved on first use
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "binding", ...
    verbs: tuple[str, ...] = ALL_VERBS
    storage_of: tuple[str, str] | None = None  # (group, plural) whose storage this shares
    preferred: bool = True  # the group's preferred version serves this resource
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        """``deployments.apps``, or the plural alone for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_prefix(self) -> str:
        group, plural = self.storage_of or (self.group, self.plural)
        return f"/registry/{group or 'core'}/{plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        """The store key of one object."""
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return self.storage_prefix + name

    def prefix(self, namespace: str | None) -> str:
        """The store prefix of a list (all namespaces when ``namespace`` is None)."""
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    @cached_property
    def model(self) -> Any:
        module, _, cls = self.model_path.partition(":")
        return getattr(importlib.import_module(f"kubelite.api.{module}"), cls)


def _r(group: str, version: str, kind: str, plural: str, namespaced: bool, model: str, **kw: Any) -> Resource:
    return Resource(group, version, kind, plural, namespaced, model, **kw)


_ALL = ("all",)
_STATUS = ("status",)
_STATUS_SCALE = ("status", "scale")
_CREATE_ONLY = ("create",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        "core_v1:Namespace",
        short_names=("ns",),
        subresources=("status", "finalize"),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _r(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        "core_v1:Pod",
        short_names=("po",),
        categories=_ALL,
        subresources=(
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "ephemeralcontainers",
        ),
    ),
    _r(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        "core_v1:Node",
        short_names=("no",),
        subresources=("status", "proxy"),
    ),
    _r(
        "",
        "v1",
        "Service",
        "services",
        True,
        "core_v1:Service",
        short_names=("svc",),
        categories=_ALL,
        subresources=("status", "proxy"),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    _r("", "v1", "Endpoints", "endpoints", True, "core_v1:Endpoints", short_names=("ep",)),
    _r("", "v1", "ConfigMap", "configmaps", True, "core_v1:ConfigMap", short_names=("cm",)),
    _r("", "v1", "Secret", "secrets", True, "core_v1:Secret"),
    _r("", "v1", "Event", "events", True, "core_v1:Event", short_names=("ev",)),
    _r(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        True,
        "core_v1:ReplicationController",
        short_names=("rc",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
    ),
    _r(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        True,
        "core_v1:ServiceAccount",
        short_names=("sa",),
        subresources=("token",),
    ),
    _r("", "v1", "LimitRange", "limitranges", True, "core_v1:LimitRange", short_names=("limits",)),
    _r(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        True,
        "core_v1:ResourceQuota",
        short_names=("quota",),
        subresources=_STATUS,
    ),
    _r(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        False,
        "core_v1:PersistentVolume",
        short_names=("pv",),
        subresources=_STATUS,
    ),
    _r(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        "core_v1:PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=_STATUS,
    ),
    _r("", "v1", "PodTemplate", "podtemplates", True, "core_v1:PodTemplate"),
    # apps/v1
    _r(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        "apps_v1:Deployment",
        short_names=("deploy",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
    ),
    _r(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        "apps_v1:ReplicaSet",
        short_names=("rs",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
    ),
    _r(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        "apps_v1:StatefulSet",
        short_names=("sts",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
    ),
    _r(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        "apps_v1:DaemonSet",
        short_names=("ds",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions", True, "apps_v1:ControllerRevision"),
    # batch/v1
    _r("batch", "v1", "Job", "jobs", True, "batch_v1:Job", categories=_ALL, subresources=_STATUS),
    _r(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        True,
        "batch_v1:CronJob",
        short_names=("cj",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    # autoscaling: v2 is stored, v1 is converted
    _r(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        "autoscaling_v2:HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    _r(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        "autoscaling_v1:HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=_ALL,
        subresources=_STATUS,
        storage_of=("autoscaling", "horizontalpodautoscalers"),
        preferred=False,
    ),
    # coordination, discovery, events
    _r("coordination.k8s.io", "v1", "Lease", "leases", True, "coordination_v1:Lease"),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, "discovery_v1:EndpointSlice"),
    _r(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        True,
        "events_v1:Event",
        short_names=("ev",),
        storage_of=("", "events"),
    ),
    # networking
    _r(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        True,
        "networking_v1:Ingress",
        short_names=("ing",),
        subresources=_STATUS,
    ),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, "networking_v1:IngressClass"),
    _r(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        True,
        "networking_v1:NetworkPolicy",
        short_names=("netpol",),
    ),
    # storage, scheduling, policy
    _r(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        False,
        "storage_v1:StorageClass",
        short_names=("sc",),
    ),
    _r(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        False,
        "scheduling_v1:PriorityClass",
        short_names=("pc",),
    ),
    _r(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        "policy_v1:PodDisruptionBudget",
        short_names=("pdb",),
        subresources=_STATUS,
    ),
    # rbac
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True, "rbac_v1:Role"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, "rbac_v1:ClusterRole"),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, "rbac_v1:RoleBinding"),
    _r(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        "rbac_v1:ClusterRoleBinding",
    ),
    # certificates
    _r(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        False,
        "certificates_v1:CertificateSigningRequest",
        short_names=("csr",),
        subresources=("status", "approval"),
    ),
    # reviews: create-only questions to the authorizer and authenticator, never stored
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        "authorization_v1:SelfSubjectAccessReview",
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        "authorization_v1:SubjectAccessReview",
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        "authorization_v1:LocalSubjectAccessReview",
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        "authorization_v1:SelfSubjectRulesReview",
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        "authentication_v1:SelfSubjectReview",
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        False,
        "authentication_v1:TokenReview",
        verbs=_CREATE_ONLY,
    ),
)


class Registry:
    """Look-ups over RESOURCES (and, later, custom resources)."""

    def __init__(self, resources: tuple[Resource, ...] = RESOURCES) -> None:
        self._by_gvr: dict[tuple[str, str, str], Resource] = {}
        self._by_gvk: dict[tuple[str, str, str], Resource] = {}
        self.groups: dict[str, list[str]] = {}  # group -> versions, preferred first
        for res in resources:
            self.add(res)

    def add(self, res: Resource) -> None:
        self._by_gvr[(res.group, res.version, res.plural)] = res
        self._by_gvk[(res.group, res.version, res.kind)] = res
        versions = self.groups.setdefault(res.group, [])
        if res.version not in versions:
            if res.preferred:
                versions.insert(0, res.version)
            else:
                versions.append(res.version)

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def storage_resource(self, res: Resource) -> Resource:
        """The resource whose version is stored for ``res`` (``res`` itself unless it converts)."""
        if res.storage_of is None:
            return res
        for other in self._by_gvr.values():
            if other.storage_of is None and other.storage_prefix == res.storage_prefix:
                return other
        raise LookupError(f"no stored version for {res.group_resource}")

    def in_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._by_gvr.values() if r.group == group and r.version == version]

    def all(self) -> list[Resource]:
        return list(self._by_gvr.values())
