"""API discovery documents: /api, /apis, /apis/<group>, and per group-version
resource lists, built from the kind registry.

These are the "legacy" (unaggregated) forms, which every client
understands: kubectl fetches each group-version's resource list after the
group list.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from kubelite.api.resources import Registry, Resource
from kubelite.apiserver.codec import accept_clauses

# Subresources this server serves; only these are advertised.
SERVED_SUBRESOURCES: dict[str, dict[str, Any]] = {
    "status": {"verbs": ["get", "patch", "update"]},
    "approval": {"verbs": ["get", "patch", "update"]},
    "scale": {"verbs": ["get", "patch", "update"], "group": "autoscaling", "version": "v1", "kind": "Scale"},
    "binding": {"verbs": ["create"], "kind": "Binding"},
    "log": {"verbs": ["get"], "kind": "Pod"},
    "exec": {"verbs": ["create", "get"], "kind": "PodExecOptions"},
    "attach": {"verbs": ["create", "get"], "kind": "PodAttachOptions"},
    "portforward": {"verbs": ["create", "get"], "kind": "PodPortForwardOptions"},
}


def _version_hash(res: Resource) -> str:
    digest = hashlib.sha256(f"{res.group}/{res.version}/{res.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(registry: Registry, name: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in registry.groups[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(registry, g) for g in registry.groups if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    if not name or name not in registry.groups:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, name)}


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = registry.in_version(group, version)
    if not resources:
        return None
    entries: list[dict[str, Any]] = []
    for res in sorted(resources, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entry["storageVersionHash"] = _version_hash(res)
        entries.append(entry)
        for sub in res.subresources:
            served = SERVED_SUBRESOURCES.get(sub)
            if served is None:
                continue
            sub_entry: dict[str, Any] = {
                "name": f"{res.plural}/{sub}",
                "singularName": "",
                "namespaced": res.namespaced,
            }
            if "group" in served:
                sub_entry["group"] = served["group"]
                sub_entry["version"] = served["version"]
            sub_entry["kind"] = served.get("kind", res.kind)
            sub_entry["verbs"] = served["verbs"]
            entries.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


# ---------------------------------------------------------------- aggregated

AGGREGATED_VERSIONS = ("v2", "v2beta1")


def aggregated_version(accept: str) -> str:
    """The apidiscovery.k8s.io version the client asks for first ("" for the legacy form).

    Clients list the versions they understand in order; we answer with the
    first one we serve and only that one (kubectl 1.27-1.29 fail on v2).
    """
    for media, params in accept_clauses(accept or ""):
        if media != "application/json":
            continue
        if params.get("as") != "APIGroupDiscoveryList" or params.get("g") != "apidiscovery.k8s.io":
            return ""
        if params.get("v") in AGGREGATED_VERSIONS:
            return params["v"]
    return ""


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def _discovery_resource(res: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": res.plural,
        "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
        "scope": "Namespaced" if res.namespaced else "Cluster",
        "singularResource": res.singular,
        "verbs": list(res.verbs),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    subs = []
    for sub in res.subresources:
        served = SERVED_SUBRESOURCES.get(sub)
        if served is None:
            continue
        kind = {
            "group": served.get("group", res.group),
            "version": served.get("version", res.version),
            "kind": served.get("kind", res.kind),
        }
        subs.append({"subresource": sub, "responseKind": kind, "verbs": served["verbs"]})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(registry: Registry, legacy: bool, version: str) -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (``legacy``) or /apis."""
    items = []
    groups = [""] if legacy else [g for g in registry.groups if g]
    for group in groups:
        versions = []
        for v in registry.groups.get(group, []):
            resources = sorted(registry.in_version(group, v), key=lambda r: r.plural)
            versions.append(
                {
                    "version": v,
                    "resources": [_discovery_resource(r) for r in resources],
                    "freshness": "Current",
                }
            )
        metadata: dict[str, Any] = {"name": group} if group else {}
        metadata["creationTimestamp"] = None
        items.append({"metadata": metadata, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
