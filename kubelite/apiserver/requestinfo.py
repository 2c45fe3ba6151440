"""Turn a Kubernetes API path into what it names.

``/api/v1/namespaces/ns/pods/name/status`` -> group "", version v1,
namespace ns, resource pods, name, subresource status. The rules follow
Kubernetes' RequestInfoFactory, including the namespace subresources
(``/api/v1/namespaces/x/status`` is the status of namespace x) and the
deprecated ``/watch/`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass
class RequestInfo:
    resource_request: bool
    path: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    legacy_watch: bool = False
    parts: tuple[str, ...] = ()  # what follows a subresource (proxy paths)


def parse_request_path(path: str) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path)
    if parts[0] == "api":
        if len(parts) < 3:
            return RequestInfo(False, path)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return RequestInfo(False, path, group=parts[1] if len(parts) > 1 else "")
        group, version, rest = parts[1], parts[2], parts[3:]
    info = RequestInfo(True, path, group=group, version=version)
    if rest and rest[0] == "watch":
        info.legacy_watch = True
        rest = rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            # The namespace object itself (or its status/finalize).
            info.resource = "namespaces"
            info.name = rest[1]
            info.namespace = ""
            if len(rest) > 2:
                info.subresource = rest[2]
            return info
    if not rest:
        return RequestInfo(False, path, group=group, version=version)
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3:
        info.parts = tuple(rest[3:])
    return info
