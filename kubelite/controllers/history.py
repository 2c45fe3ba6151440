"""ControllerRevisions: the history that StatefulSets and DaemonSets keep of their templates.

A workload controller records each distinct version of what it stamps out
(for a StatefulSet, a strategic merge patch that restores ``spec.template``)
as an immutable ``apps/v1`` ControllerRevision owned by the workload. The
revision's name is ``<parent>-<hash>``: the hash covers the recorded data
and a collision count, so the same template always maps to the same name
and a clash with a different revision of that name is resolved by bumping
the count (kept in the parent's ``status.collisionCount``) and hashing again.

The pure helpers (hashing, naming, equality, ordering, what to truncate)
are module functions; ``ControllerHistory`` does the API writes and reads
revisions from a shared informer's cache.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import msgspec
import orjson

from kubelite.api import apps_v1, meta
from kubelite.api.errors import StatusError
from kubelite.api.selectors import LabelSelector
from kubelite.client import Client, Informer, lookup
from kubelite.controllers.base import controller_ref, new_controller_ref

HASH_LABEL = "controller.kubernetes.io/hash"
# Kubernetes keeps revision names within the 253-character limit for any hash length.
MAX_PREFIX = 223
# The alphabet Kubernetes' rand.SafeEncodeString uses: no vowels (no words), no look-alikes.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193

REVISIONS = lookup("apps", "v1", "ControllerRevision")


def _fnv32(data: bytes, h: int = _FNV_OFFSET) -> int:
    """FNV-1 (multiply, then xor), the 32-bit hash Go's ``fnv.New32`` computes."""
    for byte in data:
        h = ((h * _FNV_PRIME) & 0xFFFFFFFF) ^ byte
    return h


def safe_encode(text: str) -> str:
    """Map each character onto the no-vowel alphabet, so hashes never spell words."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def canonical_data(data: Any) -> bytes:
    """The bytes a revision's data is hashed and compared by (JSON with sorted keys)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def hash_revision(data: Any, collision_count: int | None = None) -> str:
    """The hash part of a revision name for ``data`` at ``collision_count``."""
    h = _fnv32(canonical_data(data))
    if collision_count is not None:
        h = _fnv32(str(collision_count).encode(), h)
    return safe_encode(str(h))


def revision_name(prefix: str, hash_: str) -> str:
    """``<prefix>-<hash>``, the prefix cut so the name stays a valid object name."""
    return f"{prefix[:MAX_PREFIX]}-{hash_}"


def new_revision(
    parent: Any,
    parent_api_version: str,
    parent_kind: str,
    template_labels: Mapping[str, str],
    data: Any,
    revision: int,
    collision_count: int,
) -> apps_v1.ControllerRevision:
    """A ControllerRevision of ``parent`` (not yet created) recording ``data`` as number ``revision``.

    It carries the template's labels (so the parent's selector finds it), the
    hash label, and a controller reference to the parent.
    """
    hash_ = hash_revision(data, collision_count)
    labels = dict(template_labels)
    labels[HASH_LABEL] = hash_
    return apps_v1.ControllerRevision(
        apiVersion="apps/v1",
        kind="ControllerRevision",
        metadata=meta.ObjectMeta(
            name=revision_name(parent.metadata.name, hash_),
            namespace=parent.metadata.namespace,
            labels=labels,
            ownerReferences=[new_controller_ref(parent, parent_api_version, parent_kind)],
        ),
        data=copy.deepcopy(data),
        revision=revision,
    )


def equal_revision(a: apps_v1.ControllerRevision | None, b: apps_v1.ControllerRevision | None) -> bool:
    """Whether two revisions record the same data (the hash label is only a shortcut)."""
    if a is None or b is None:
        return a is b
    # The hash labels can differ for equal data (a collision count went into one), so only
    # the data decides.
    return canonical_data(a.data) == canonical_data(b.data)


def find_equal_revisions(
    revisions: Iterable[apps_v1.ControllerRevision], needle: apps_v1.ControllerRevision
) -> list[apps_v1.ControllerRevision]:
    """The revisions in ``revisions`` that record the same data as ``needle``, in order."""
    return [r for r in revisions if equal_revision(r, needle)]


def sort_revisions(revisions: list[apps_v1.ControllerRevision]) -> list[apps_v1.ControllerRevision]:
    """Sort in place (and return) by revision number, then creation time, then name."""
    revisions.sort(key=lambda r: (r.revision, r.metadata.creationTimestamp or "", r.metadata.name))
    return revisions


def next_revision_number(revisions: Sequence[apps_v1.ControllerRevision]) -> int:
    """One more than the highest revision number (1 for an empty history)."""
    return max((r.revision for r in revisions), default=0) + 1


def revisions_to_truncate(
    revisions: Sequence[apps_v1.ControllerRevision], live: Collection[str], limit: int | None
) -> list[apps_v1.ControllerRevision]:
    """The oldest non-live revisions beyond ``limit`` (none when ``limit`` is None or negative).

    ``revisions`` must be sorted (``sort_revisions``); ``live`` names the
    revisions still in use (current, update, and any a pod runs).
    """
    if limit is None or limit < 0:
        return []
    history = [r for r in revisions if r.metadata.name not in live]
    excess = len(history) - limit
    return history[:excess] if excess > 0 else []


class ControllerHistory:
    """Reads and writes the ControllerRevisions of parents of one kind.

    ``informer`` is the shared ControllerRevision informer; reads come from
    its cache, writes go to the API server. Every method is safe to repeat.
    """

    def __init__(self, client: Client, informer: Informer) -> None:
        self.client = client
        self.informer = informer
        self.revisions = client.resource(REVISIONS)

    def list(self, parent: Any, selector: LabelSelector) -> list[apps_v1.ControllerRevision]:
        """Revisions in the parent's namespace matching ``selector`` that it owns or nobody owns."""
        uid = parent.metadata.uid
        found = []
        for rev in self.informer.by_index("namespace", parent.metadata.namespace):
            if not selector.matches(rev.metadata.labels):
                continue
            ref = controller_ref(rev)
            if ref is None or ref.uid == uid:
                found.append(rev)
        return found

    async def create(
        self, parent: Any, revision: apps_v1.ControllerRevision, collision_count: int
    ) -> tuple[apps_v1.ControllerRevision, int]:
        """Create ``revision`` under its hashed name; returns it and the collision count used.

        When the name is taken by a revision with the same data, that one is
        returned; when it is taken by different data, the count goes up and
        the name is hashed again.
        """
        while True:
            hash_ = hash_revision(revision.data, collision_count)
            clone = copy.deepcopy(revision)
            clone.metadata.name = revision_name(parent.metadata.name, hash_)
            clone.metadata.namespace = parent.metadata.namespace
            clone.metadata.labels[HASH_LABEL] = hash_
            try:
                created = await self.revisions.create(clone, parent.metadata.namespace)
                return created, collision_count
            except StatusError as e:
                if e.code != 409 or e.reason != "AlreadyExists":
                    raise
            existing = await self.revisions.get(clone.metadata.name, parent.metadata.namespace)
            if canonical_data(existing.data) == canonical_data(clone.data):
                return existing, collision_count
            collision_count += 1

    async def update_revision_number(
        self, revision: apps_v1.ControllerRevision, number: int
    ) -> apps_v1.ControllerRevision:
        """Give an existing revision a new number (how a rollback makes an old revision newest)."""
        if revision.revision == number:
            return revision
        result: apps_v1.ControllerRevision = await self.revisions.patch(
            revision.metadata.name,
            {"revision": number},
            "merge",
            namespace=revision.metadata.namespace,
        )
        return result

    async def delete(self, revision: apps_v1.ControllerRevision) -> None:
        """Delete a revision; one already gone counts as deleted."""
        try:
            await self.revisions.delete(revision.metadata.name, revision.metadata.namespace)
        except StatusError as e:
            if e.code != 404:
                raise

    async def adopt(
        self, parent: Any, api_version: str, kind: str, revision: apps_v1.ControllerRevision
    ) -> apps_v1.ControllerRevision:
        """Make ``parent`` the controller of an orphaned revision (fails if its uid changed)."""
        ref = msgspec.to_builtins(new_controller_ref(parent, api_version, kind))
        patch = {"metadata": {"ownerReferences": [ref], "uid": revision.metadata.uid}}
        result: apps_v1.ControllerRevision = await self.revisions.patch(
            revision.metadata.name, patch, "strategic", namespace=revision.metadata.namespace
        )
        return result

    async def release(self, parent: Any, revision: apps_v1.ControllerRevision) -> None:
        """Drop ``parent``'s reference from a revision it no longer selects."""
        patch = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": parent.metadata.uid}],
                "uid": revision.metadata.uid,
            }
        }
        try:
            await self.revisions.patch(
                revision.metadata.name, patch, "strategic", namespace=revision.metadata.namespace
            )
        except StatusError as e:
            if e.code not in (404, 409, 422):
                raise
