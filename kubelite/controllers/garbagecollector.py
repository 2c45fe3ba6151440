"""The garbage collector: deletes objects whose owners are gone.

It keeps a graph of ``metadata.ownerReferences`` over every kind the API
server serves (informers on all of them, events excepted as in Kubernetes)
and works two kinds of items off one queue:

- ``d:<uid>`` *attempt to delete*: an object whose owners may be gone. Its
  owners are checked with live GETs (never the cache: a lagging informer must
  not cost a live object its children). Owners that are absent or carry
  another uid are *dangling*; owners being deleted in the foreground are
  *waiting*; the rest are *solid*. With any solid owner the object stays and
  only loses its references to dangling and waiting owners; otherwise it is
  deleted (in the foreground when it has dependents of its own and a waiting
  owner, else with the policy its own finalizers ask for, or in the
  background). For an owner being deleted in the foreground, the same item
  checks whether dependents with ``blockOwnerDeletion`` remain and, once none
  does, removes ``foregroundDeletion`` so the owner goes.
- ``o:<uid>`` *orphan*: an owner deleted with the ``orphan`` finalizer. Every
  dependent loses its reference to it, then the finalizer is removed.

The API server adds the finalizers on ``DELETE`` with ``propagationPolicy``
Foreground or Orphan; Background adds nothing, so the owner goes at once and
its dependents follow when the collector sees it gone.
"""

from __future__ import annotations

import builtins
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.resources import Resource
from kubelite.client import Informer
from kubelite.client.objects import metadata_of, name_of, namespace_of, uid_of
from kubelite.controllers.base import Controller, ControllerContext

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
# Kinds the collector does not watch (as Kubernetes: events are many and never owners).
IGNORED: frozenset[tuple[str, str]] = frozenset({("", "events"), ("events.k8s.io", "events")})
ABSENT_CACHE_SIZE = 10_000
_WRITE_ATTEMPTS = 5


def _get(obj: Any, name: str, default: Any = None) -> Any:
    value = obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)
    return default if value is None else value


@dataclass(frozen=True)
class OwnerRef:
    """The parts of one ownerReference the collector reads."""

    api_version: str
    kind: str
    name: str
    uid: str
    block: bool

    @classmethod
    def of(cls, ref: Any) -> OwnerRef:
        return cls(
            str(_get(ref, "apiVersion", "")),
            str(_get(ref, "kind", "")),
            str(_get(ref, "name", "")),
            str(_get(ref, "uid", "")),
            bool(_get(ref, "blockOwnerDeletion", False)),
        )


def owner_refs(obj: Any) -> tuple[OwnerRef, ...]:
    return tuple(OwnerRef.of(r) for r in _get(metadata_of(obj), "ownerReferences", ()))


def finalizers_of(obj: Any) -> tuple[str, ...]:
    return tuple(_get(metadata_of(obj), "finalizers", ()))


def being_deleted(obj: Any) -> bool:
    return bool(_get(metadata_of(obj), "deletionTimestamp", None))


@dataclass(frozen=True)
class GraphNode:
    """One observed object: where to find it, whom it names as owners, its deletion state."""

    res: Resource
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerRef, ...]
    being_deleted: bool
    finalizers: tuple[str, ...]

    @classmethod
    def of(cls, res: Resource, obj: Any) -> GraphNode:
        return cls(
            res,
            namespace_of(obj),
            name_of(obj),
            uid_of(obj),
            owner_refs(obj),
            being_deleted(obj),
            finalizers_of(obj),
        )

    @property
    def deleting_dependents(self) -> bool:
        """Being deleted in the foreground: waits for its blocking dependents."""
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.being_deleted and ORPHAN in self.finalizers

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.res.kind} {where} ({self.uid})"


class DependencyGraph:
    """Objects by uid, and for every owner uid (seen or not) the uids naming it as owner."""

    def __init__(self) -> None:
        self.nodes: dict[str, GraphNode] = {}
        self._dependents: dict[str, set[str]] = {}

    def upsert(self, node: GraphNode) -> GraphNode | None:
        old = self.nodes.get(node.uid)
        self.nodes[node.uid] = node
        old_owners = {r.uid for r in old.owners} if old else set()
        new_owners = {r.uid for r in node.owners}
        for uid in old_owners - new_owners:
            self._unlink(uid, node.uid)
        for uid in new_owners - old_owners:
            self._dependents.setdefault(uid, set()).add(node.uid)
        return old

    def remove(self, uid: str) -> GraphNode | None:
        node = self.nodes.pop(uid, None)
        if node is not None:
            for ref in node.owners:
                self._unlink(ref.uid, uid)
        return node

    def _unlink(self, owner: str, dependent: str) -> None:
        deps = self._dependents.get(owner)
        if deps is not None:
            deps.discard(dependent)
            if not deps:
                del self._dependents[owner]

    def dependents(self, uid: str) -> builtins.list[GraphNode]:
        return [self.nodes[d] for d in sorted(self._dependents.get(uid, ())) if d in self.nodes]

    def blocking_dependents(self, uid: str) -> builtins.list[GraphNode]:
        """Dependents whose reference to ``uid`` has ``blockOwnerDeletion``."""
        return [d for d in self.dependents(uid) if any(r.uid == uid and r.block for r in d.owners)]


def monitored_resources(resources: list[Resource]) -> list[Resource]:
    """One stored version of every kind that can be listed and watched."""
    out = []
    for res in resources:
        if res.storage_of is not None or (res.group, res.plural) in IGNORED:
            continue
        if "list" in res.verbs and "watch" in res.verbs:
            out.append(res)
    return out


class GarbageCollector(Controller):
    """Deletes dependents of deleted owners; runs foreground and orphan deletion."""

    NAME = "garbagecollector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.graph = DependencyGraph()
        self._absent: OrderedDict[str, None] = OrderedDict()  # owner uids confirmed gone
        self.resources = monitored_resources(self.client.registry.all())
        for res in self.resources:
            # As Kubernetes' collector, it reads the metadata alone: a kind other controllers
            # watch in full shares their informer; every other kind (config maps, secrets...)
            # gets a metadata-only one, so their data is neither decoded nor kept here.
            metadata_only = not ctx.informers.has_informer(res)
            self._watch(ctx.informers.informer_for(res, metadata_only=metadata_only), res)

    def _watch(self, informer: Informer, res: Resource) -> None:
        def on_add(obj: Any) -> None:
            self._observe(res, obj)

        def on_update(_old: Any, new: Any) -> None:
            self._observe(res, new)

        informer.add_handler(on_add, on_update, self._forget)

    # ------------------------------------------------------------ the graph

    def _attempt(self, uid: str) -> None:
        self.queue.add(f"d:{uid}")

    def _observe(self, res: Resource, obj: Any) -> None:
        node = GraphNode.of(res, obj)
        if not node.uid:
            return
        old = self.graph.upsert(node)
        old_refs = {r.uid: r for r in old.owners} if old else {}
        new_refs = {r.uid: r for r in node.owners}
        for uid, ref in old_refs.items():
            # A dependent that dropped its reference, or stopped blocking, may unblock its owner.
            still = new_refs.get(uid)
            if still is None or (ref.block and not still.block):
                owner = self.graph.nodes.get(uid)
                if owner is not None and owner.deleting_dependents:
                    self._attempt(uid)
        for uid in new_refs.keys() - old_refs.keys():
            owner = self.graph.nodes.get(uid)
            if owner is None or owner.deleting_dependents:
                self._attempt(node.uid)  # an owner never seen may not exist: check it
                break
        if node.orphaning and not (old is not None and old.orphaning):
            self.queue.add(f"o:{node.uid}")
        elif node.deleting_dependents and not (old is not None and old.deleting_dependents):
            for dep in self.graph.dependents(node.uid):
                self._attempt(dep.uid)
            self._attempt(node.uid)

    def _forget(self, obj: Any) -> None:
        node = self.graph.remove(uid_of(obj))
        if node is None:
            return
        dependents = self.graph.dependents(node.uid)
        if dependents:
            self._mark_absent(node.uid)
        for dep in dependents:
            self._attempt(dep.uid)
        for ref in node.owners:
            owner = self.graph.nodes.get(ref.uid)
            if owner is not None and owner.deleting_dependents:
                self._attempt(owner.uid)

    def _mark_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    # ---------------------------------------------------------------- syncs

    async def sync(self, key: str) -> None:
        kind, _, uid = key.partition(":")
        if kind == "o":
            await self._orphan_dependents(uid)
        else:
            await self._attempt_to_delete(uid)

    async def _attempt_to_delete(self, uid: str) -> None:
        node = self.graph.nodes.get(uid)
        if node is None:
            return
        if node.being_deleted and not node.deleting_dependents:
            return  # on its way out; its dependents are handled when it is gone
        if not node.deleting_dependents and self._cached_owners_solid(node):
            return
        latest = await self._read(node.res, node.namespace, node.name)
        if latest is None or uid_of(latest) != uid:
            return  # gone already; the informer will tell us
        if being_deleted(latest) and FOREGROUND in finalizers_of(latest):
            await self._process_deleting_dependents(node)
            return
        refs = owner_refs(latest)
        if not refs:
            return
        solid: list[OwnerRef] = []
        dangling: list[OwnerRef] = []
        waiting: list[OwnerRef] = []
        for ref in refs:
            state = await self._classify(ref, node)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(ref)
        if solid:
            if dangling or waiting:
                drop = {r.uid for r in dangling + waiting}
                self.log.info("%s: removing references to owners %s", node, ", ".join(sorted(drop)))
                await self._edit_owner_refs(node, lambda r: None if r["uid"] in drop else r)
            return
        dependents = self.graph.dependents(uid)
        if waiting and dependents:
            if any(d.deleting_dependents for d in dependents):
                # A dependent waits for us while we would wait for it: stop blocking our owners.
                await self._edit_owner_refs(node, _unblock)
            await self._delete(node, "Foreground")
            return
        fins = finalizers_of(latest)
        policy = "Orphan" if ORPHAN in fins else "Foreground" if FOREGROUND in fins else "Background"
        await self._delete(node, policy)

    def _cached_owners_solid(self, node: GraphNode) -> bool:
        """Every owner is in the cache and not being deleted: nothing to do, no GET needed."""
        if not node.owners:
            return True
        for ref in node.owners:
            owner = self.graph.nodes.get(ref.uid)
            if owner is None or owner.being_deleted or ref.uid in self._absent:
                return False
        return True

    async def _classify(self, ref: OwnerRef, node: GraphNode) -> str:
        """``solid``, ``dangling`` or ``waiting`` (for its dependents' deletion), read live."""
        if ref.uid in self._absent:
            return "dangling"
        res = self._resolve(ref)
        if res is None:
            self.log.warning(
                "%s: owner kind %s %s is not served; keeping it", node, ref.api_version, ref.kind
            )
            return "solid"
        if res.namespaced and not node.namespace:
            self.log.warning("%s: cluster-scoped object names a namespaced owner %s", node, ref.kind)
            return "solid"
        owner = await self._read(res, node.namespace if res.namespaced else "", ref.name)
        if owner is None or uid_of(owner) != ref.uid:
            self._mark_absent(ref.uid)
            return "dangling"
        if being_deleted(owner) and FOREGROUND in finalizers_of(owner):
            return "waiting"
        return "solid"

    def _resolve(self, ref: OwnerRef) -> Resource | None:
        group, _, version = ref.api_version.rpartition("/")
        res = self.client.registry.by_kind(group, version, ref.kind)
        if res is not None:
            return res
        for res in self.resources:  # another version of the same kind
            if res.group == group and res.kind == ref.kind:
                return res
        return None

    async def _process_deleting_dependents(self, owner: GraphNode) -> None:
        blocking = self.graph.blocking_dependents(owner.uid)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self._attempt(dep.uid)

    async def _orphan_dependents(self, uid: str) -> None:
        owner = self.graph.nodes.get(uid)
        if owner is None:
            return
        for dep in self.graph.dependents(uid):
            await self._edit_owner_refs(dep, lambda r: None if r["uid"] == uid else r)
        await self._remove_finalizer(owner, ORPHAN)

    # --------------------------------------------------------------- writes

    async def _read(self, res: Resource, namespace: str, name: str) -> Any | None:
        try:
            return await self.client.resource(res, raw=True).get(name, namespace or None)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def _delete(self, node: GraphNode, policy: str) -> None:
        self.log.info("deleting %s (propagation %s)", node, policy)
        try:
            await self.client.resource(node.res, raw=True).delete(
                node.name, node.namespace or None, propagation_policy=policy, preconditions_uid=node.uid
            )
        except StatusError as e:
            if e.code not in (404, 409):  # gone, or replaced by another object of that name
                raise

    async def _patch_meta(self, node: GraphNode, edit: Any) -> None:
        """Read ``node`` live, let ``edit(metadata)`` return the changed fields (or None), and
        write them with the read resourceVersion as precondition, retrying on conflict."""
        rc = self.client.resource(node.res, raw=True)
        for attempt in range(_WRITE_ATTEMPTS):
            latest = await self._read(node.res, node.namespace, node.name)
            if latest is None or uid_of(latest) != node.uid:
                return
            meta = latest.get("metadata") or {}
            change = edit(meta)
            if change is None:
                return
            body = {"metadata": {"resourceVersion": meta.get("resourceVersion", ""), **change}}
            try:
                await rc.patch(node.name, body, "merge", node.namespace or None)
                return
            except StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409 or attempt == _WRITE_ATTEMPTS - 1:
                    raise

    async def _edit_owner_refs(self, node: GraphNode, edit: Any) -> None:
        def change(meta: dict[str, Any]) -> dict[str, Any] | None:
            refs = meta.get("ownerReferences") or []
            new = [r2 for r in refs if (r2 := edit(dict(r))) is not None]
            return None if new == refs else {"ownerReferences": new}

        await self._patch_meta(node, change)

    async def _remove_finalizer(self, node: GraphNode, finalizer: str) -> None:
        def change(meta: dict[str, Any]) -> dict[str, Any] | None:
            fins = meta.get("finalizers") or []
            if finalizer not in fins:
                return None
            return {"finalizers": [f for f in fins if f != finalizer]}

        self.log.info("removing finalizer %s from %s", finalizer, node)
        await self._patch_meta(node, change)


def _unblock(ref: dict[str, Any]) -> dict[str, Any]:
    if ref.get("blockOwnerDeletion"):
        ref["blockOwnerDeletion"] = False
    return ref
