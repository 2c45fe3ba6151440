"""The namespace controller: empties a namespace being deleted, then lets it go.

Deleting a namespace only marks it Terminating (``deletionTimestamp``, phase
Terminating); its ``spec.finalizers`` holds ``kubernetes``, which this
controller owns. For such a namespace it discovers every namespaced resource
the server serves (live discovery, so kinds added later are included),
deletes all their objects in it (``deletecollection`` where the resource has
it, else one by one, always with background propagation), and lists what is
left. While content remains it reports it in the namespace's status
conditions, as Kubernetes does, and looks again after a delay derived from
what it waits for (finalizers, pod grace periods). Once nothing is left it
removes ``kubernetes`` through the ``finalize`` subresource; the API server
deletes the namespace when no finalizer remains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from kubelite.api.errors import StatusError
from kubelite.api.timestamps import parse_time, rfc3339
from kubelite.client import lookup
from kubelite.client.objects import metadata_of
from kubelite.controllers.base import Controller, ControllerContext

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15  # assumed time for finalizers on content to finish
_WRITE_ATTEMPTS = 5
NAMESPACES = lookup("", "v1", "Namespace")

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (
    DISCOVERY_FAILURE,
    GV_PARSING_FAILURE,
    CONTENT_FAILURE,
    CONTENT_REMAINING,
    FINALIZERS_REMAINING,
)
# (reason, message) of each condition when all is well (status "False").
OK: dict[str, tuple[str, str]] = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GV_PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass(frozen=True)
class APIResource:
    """One namespaced resource found by discovery."""

    group: str
    version: str
    plural: str
    verbs: frozenset[str]

    def path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{path}/{quote(name, safe='')}" if name else path

    def __str__(self) -> str:
        return f"{self.group}/{self.version}, Resource={self.plural}"


@dataclass
class ContentTotals:
    """What one pass over a namespace's content found left."""

    estimate: int = 0  # seconds until it may be gone
    remaining: dict[str, int] = field(default_factory=dict)  # "plural.group" -> objects
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> objects carrying it
    errors: list[str] = field(default_factory=list)


@dataclass
class Discovered:
    """The outcome of discovery: what was found, groups that failed, versions that did not parse."""

    resources: list[APIResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # group version -> error
    errors: list[str] = field(default_factory=list)  # group versions that did not parse


def _discovery_error(failed: dict[str, str]) -> str:
    detail = ", ".join(f"{gv}: {err}" for gv, err in sorted(failed.items()))
    return f"unable to retrieve the complete list of server APIs: {detail}"


def parse_group_version(gv: str) -> tuple[str, str]:
    """``apps/v1`` -> ``("apps", "v1")``, ``v1`` -> ``("", "v1")``; ValueError otherwise."""
    if not gv or gv == "/":
        return "", ""
    parts = gv.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected GroupVersion string: {gv}")


class NamespaceController(Controller):
    """Deletes the content of terminating namespaces and finalizes them."""

    NAME = "namespace"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer_for(NAMESPACES)
        self.namespaces.add_handler(on_add=self._changed, on_update=lambda _old, new: self._changed(new))
        self._no_collection: set[APIResource] = set()  # deletecollection refused (405/404) once

    def _changed(self, ns: Any) -> None:
        meta = metadata_of(ns)
        if (meta.get("deletionTimestamp") if isinstance(meta, dict) else meta.deletionTimestamp) is not None:
            self.enqueue(ns)

    # ---------------------------------------------------------------- sync

    async def sync(self, key: str) -> None:
        ns = await self._get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns = await self._write_status(key, lambda n: _set_phase(n))
            if ns is None:
                return
        if not (ns.get("spec") or {}).get("finalizers"):
            return  # finalized; the API server removes it
        totals = ContentTotals()
        conditions: dict[str, tuple[str, str]] = {}  # type -> (reason, message) of failures
        found = await self.discover()
        failures = list(found.errors)
        if found.failed:
            error = _discovery_error(found.failed)
            failures.append(error)
            conditions[DISCOVERY_FAILURE] = (
                "DiscoveryFailed",
                f"Discovery failed for some groups, {len(found.failed)} failing: {error}",
            )
        if found.errors:
            conditions[GV_PARSING_FAILURE] = ("GroupVersionParsingFailed", "; ".join(found.errors))
        deleted_at = parse_time(ns["metadata"]["deletionTimestamp"])
        if deleted_at is None:  # the API server stamps it, so this is only ever a hand-made object
            deleted_at = self.clock.now()
        for res in found.resources:
            await self._delete_content(res, key, deleted_at, totals)
        if totals.errors:
            conditions[CONTENT_FAILURE] = (
                "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(totals.errors)} remaining: "
                + ", ".join(sorted(totals.errors)),
            )
        if any(totals.remaining.values()):
            items = sorted(f"{gr} has {n} resource instances" for gr, n in totals.remaining.items() if n)
            conditions[CONTENT_REMAINING] = (
                "SomeResourcesRemain",
                "Some resources are remaining: " + ", ".join(items),
            )
        if any(totals.finalizers.values()):
            items = sorted(f"{f} in {n} resource instances" for f, n in totals.finalizers.items() if n)
            conditions[FINALIZERS_REMAINING] = (
                "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: " + ", ".join(items),
            )
        now = rfc3339(self.clock.now())
        if await self._write_status(key, lambda n: _update_conditions(n, conditions, now)) is None:
            return
        failures += totals.errors
        if failures:
            raise RuntimeError(f"namespace {key}: " + "; ".join(failures))
        if totals.estimate > 0:
            self.log.info("namespace %s: content remains, looking again in ~%ds", key, totals.estimate)
            self.enqueue_after(key, totals.estimate // 2 + 1)
            return
        await self._finalize(key)

    # ----------------------------------------------------------- discovery

    async def discover(self) -> Discovered:
        """Every namespaced, deletable resource, in each group's preferred version (pods first).

        Groups that fail to answer are reported in ``failed`` and left out; the
        rest are still returned (a broken aggregated API must not stop namespace
        deletion of everything else). Failing ``/api`` or ``/apis`` raises.
        """
        out = Discovered()
        gvs: list[str] = []
        core = orjson.loads(await self.client.request("GET", "/api"))
        gvs.extend((core.get("versions") or [])[:1])
        groups = orjson.loads(await self.client.request("GET", "/apis"))
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if not preferred and group.get("versions"):
                preferred = group["versions"][0].get("groupVersion")
            if preferred:
                gvs.append(preferred)
        for gv in gvs:
            try:
                group, version = parse_group_version(gv)
            except ValueError as e:
                out.errors.append(str(e))
                continue
            path = f"/apis/{gv}" if group else f"/api/{version}"
            try:
                doc = orjson.loads(await self.client.request("GET", path))
            except (StatusError, OSError, TimeoutError) as e:
                out.failed[gv] = str(e)
                continue
            for r in doc.get("resources") or []:
                verbs = frozenset(r.get("verbs") or ())
                if "/" in r.get("name", "") or not r.get("namespaced") or "delete" not in verbs:
                    continue
                out.resources.append(APIResource(group, version, r["name"], verbs))
        out.resources = _dedupe_storage(out.resources)
        out.resources.sort(key=lambda r: (r.plural != "pods" or r.group != "", r.group, r.plural))
        return out

    # ------------------------------------------------------------- content

    async def _delete_content(
        self, res: APIResource, ns: str, deleted_at: float, totals: ContentTotals
    ) -> None:
        estimate = 0
        try:
            if (res.group, res.plural) == ("", "pods"):
                estimate = await self._pod_estimate(res, ns, deleted_at)
            if not await self._delete_collection(res, ns):
                await self._delete_each(res, ns)
            if "list" not in res.verbs:
                return
            items = await self._list(res, ns)
        except (StatusError, OSError, TimeoutError) as e:
            totals.errors.append(str(e))
            return
        if not items:
            return
        gr = f"{res.plural}.{res.group}"
        totals.remaining[gr] = totals.remaining.get(gr, 0) + len(items)
        fins: dict[str, int] = {}
        for item in items:
            for f in (item.get("metadata") or {}).get("finalizers") or []:
                fins[f] = fins.get(f, 0) + 1
        for f, n in fins.items():
            totals.finalizers[f] = totals.finalizers.get(f, 0) + n
        if estimate:
            totals.estimate = max(totals.estimate, estimate)
        elif fins:
            totals.estimate = max(totals.estimate, FINALIZER_ESTIMATE_SECONDS)
        else:
            totals.errors.append(f"unexpected items still remain in namespace: {ns} for gvr: {res}")

    async def _pod_estimate(self, res: APIResource, ns: str, deleted_at: float) -> int:
        """The longest grace period of the running pods, less the time since deletion began."""
        estimate = 0
        for pod in await self._list(res, ns):
            if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if grace is not None:
                estimate = max(estimate, int(grace))
        if self.clock.now() - deleted_at >= estimate:
            return 0
        return estimate

    async def _delete_collection(self, res: APIResource, ns: str) -> bool:
        """Whether the resource took a deletecollection (False: delete one by one)."""
        if "deletecollection" not in res.verbs or res in self._no_collection:
            return False
        try:
            await self.client.request("DELETE", res.path(ns), body=_BACKGROUND)
        except StatusError as e:
            if e.code in (404, 405):
                self._no_collection.add(res)
                return False
            raise
        return True

    async def _delete_each(self, res: APIResource, ns: str) -> None:
        if "list" not in res.verbs:
            return
        for item in await self._list(res, ns):
            name = (item.get("metadata") or {}).get("name", "")
            try:
                await self.client.request("DELETE", res.path(ns, name), body=_BACKGROUND)
            except StatusError as e:
                if e.code != 404:
                    raise

    async def _list(self, res: APIResource, ns: str) -> list[dict[str, Any]]:
        try:
            doc = orjson.loads(await self.client.request("GET", res.path(ns)))
        except StatusError as e:
            if e.code in (404, 405):
                return []
            raise
        return list(doc.get("items") or [])

    # ------------------------------------------------------------- writes

    async def _get(self, name: str) -> dict[str, Any] | None:
        try:
            ns: dict[str, Any] = await self.client.resource(NAMESPACES, raw=True).get(name)
            return ns
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def _write_status(self, name: str, change: Any) -> dict[str, Any] | None:
        """Apply ``change(ns) -> bool`` to the live namespace and write its status when it
        changed (retrying on conflict). Returns the namespace, or None once it is gone."""
        rc = self.client.resource(NAMESPACES, raw=True)
        for attempt in range(_WRITE_ATTEMPTS):
            ns = await self._get(name)
            if ns is None:
                return None
            if not change(ns):
                return ns
            try:
                updated: dict[str, Any] = await rc.update(ns, "status")
                return updated
            except StatusError as e:
                if e.code == 404:
                    return None
                if e.code != 409 or attempt == _WRITE_ATTEMPTS - 1:
                    raise
        return None

    async def _finalize(self, name: str) -> None:
        rc = self.client.resource(NAMESPACES, raw=True)
        for attempt in range(_WRITE_ATTEMPTS):
            ns = await self._get(name)
            if ns is None:
                return
            spec = ns.setdefault("spec", {})
            fins = spec.get("finalizers") or []
            if FINALIZER not in fins:
                return
            spec["finalizers"] = sorted({f for f in fins if f != FINALIZER})
            try:
                await rc.update(ns, "finalize")
                self.log.info("namespace %s: content removed, finalized", name)
                return
            except StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409 or attempt == _WRITE_ATTEMPTS - 1:
                    raise


_BACKGROUND = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}


def _dedupe_storage(found: list[APIResource]) -> list[APIResource]:
    """Drop the second name of objects stored once (events.k8s.io Events are core Events)."""
    aliases = {("events.k8s.io", "events"): ("", "events")}
    present = {(r.group, r.plural) for r in found}
    return [r for r in found if aliases.get((r.group, r.plural)) not in present]


def _set_phase(ns: dict[str, Any]) -> bool:
    status = ns.setdefault("status", {})
    if status.get("phase") == "Terminating":
        return False
    status["phase"] = "Terminating"
    return True


def _update_conditions(ns: dict[str, Any], failures: dict[str, tuple[str, str]], now: str) -> bool:
    """Set every condition this controller owns: True with the failure, else False with the
    all-well reason. ``lastTransitionTime`` moves only when the status flips."""
    status = ns.setdefault("status", {})
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    changed = False
    for ctype in CONDITION_TYPES:
        state = "True" if ctype in failures else "False"
        reason, message = failures.get(ctype) or OK[ctype]
        old = next((c for c in conditions if c.get("type") == ctype), None)
        if old is None:
            conditions.append(
                {
                    "type": ctype,
                    "status": state,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
            )
            changed = True
        elif (old.get("status"), old.get("reason"), old.get("message")) != (state, reason, message):
            if old.get("status") != state:
                old["lastTransitionTime"] = now
            old.update(status=state, reason=reason, message=message)
            changed = True
    return changed
