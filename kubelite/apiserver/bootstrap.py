"""Objects every cluster has from its first start.

The system namespaces (default, kube-system, kube-public, kube-node-lease),
the system PriorityClasses (system-node-critical, system-cluster-critical)
and the ``kubernetes`` Service in ``default`` that points at the API server
(first address of the service CIDR, port 443 -> the server's port), with
its Endpoints and EndpointSlice, as kube-apiserver keeps them.

Emptying a namespace being deleted is not the server's job: deleting one
marks it Terminating (the REST layer does that, since its
``spec.finalizers`` holds ``kubernetes``), and the namespace controller of
the controller manager (``kubelite.controllers.namespace``) deletes its
content and then removes the finalizer.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kubelite.api import errors
from kubelite.api.resources import Registry
from kubelite.api.validation.other import SYSTEM_PRIORITY_CLASSES
from kubelite.apiserver.rest import REST, WriteOptions

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SYSTEM_PRIORITY_CLASS_DESCRIPTIONS = {
    "system-node-critical": "Used for system critical pods that must not be moved from their current node.",
    "system-cluster-critical": (
        "Used for system critical pods that must run in the cluster, but can be moved to another node "
        "if necessary."
    ),
}
BOOTSTRAP_MANAGER = "kube-apiserver"


async def _ensure(
    rest: REST,
    registry: Registry,
    api_version: str,
    plural: str,
    body: dict[str, Any],
    reconcile: bool = False,
) -> None:
    """Create ``body`` if missing; with ``reconcile``, also bring an existing one back to it."""
    group, _, version = api_version.rpartition("/")
    res = registry.get(group, version, plural)
    assert res is not None
    meta = body["metadata"]
    if await rest.store.get(res.key(meta.get("namespace"), meta["name"])) is not None:
        if reconcile:
            await rest.update(
                res, meta.get("namespace"), meta["name"], body, WriteOptions(field_manager=BOOTSTRAP_MANAGER)
            )
        return
    try:
        await rest.create(res, meta.get("namespace"), body, WriteOptions(field_manager=BOOTSTRAP_MANAGER))
    except errors.StatusError as e:
        if e.reason != "AlreadyExists":
            raise


async def ensure_system_namespaces(rest: REST, registry: Registry) -> None:
    for name in SYSTEM_NAMESPACES:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await _ensure(rest, registry, "v1", "namespaces", body)


async def ensure_system_priority_classes(rest: REST, registry: Registry) -> None:
    for name, value in SYSTEM_PRIORITY_CLASSES.items():
        body = {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": SYSTEM_PRIORITY_CLASS_DESCRIPTIONS[name],
        }
        await _ensure(rest, registry, "scheduling.k8s.io/v1", "priorityclasses", body)


async def ensure_kubernetes_service(
    rest: REST, registry: Registry, service_cidr: str, host: str, port: int
) -> None:
    """The ``default/kubernetes`` Service and where it leads."""
    cluster_ip = str(ipaddress.ip_network(service_cidr, strict=False).network_address + 1)
    labels = {"component": "apiserver", "provider": "kubernetes"}
    meta = {"name": "kubernetes", "namespace": "default", "labels": labels}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
    }
    await _ensure(rest, registry, "v1", "services", service)
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {"addresses": [{"ip": host}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
        ],
    }
    await _ensure(rest, registry, "v1", "endpoints", endpoints, reconcile=True)
    family = "IPv6" if ":" in host else "IPv4"
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": family,
        "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    await _ensure(rest, registry, "discovery.k8s.io/v1", "endpointslices", endpoint_slice, reconcile=True)
