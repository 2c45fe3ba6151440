"""Image garbage collection under disk pressure, as the kubelet's image GC does it:
images that no container uses, least recently used first, until enough bytes are free.
Imported images (``kubelite image import``, the built-in busybox: the node's offline copies)
are pinned, as k3s pins the images it imports, and images newer than the GC's minimum age
stay too.

``candidates`` is the pure ordering; ``collect`` removes images one at a time
and measures what each removal really freed (layers shared with images that
stay are not freed), stopping once the target is met.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelite.kubelet.images.reference import InvalidReference, parse_reference
from kubelite.kubelet.images.store import ImageRecord, ImageStore


@dataclass
class GCResult:
    removed: list[str] = field(default_factory=list)  # image ids
    freed_bytes: int = 0


def _forms(ref: str) -> set[str]:
    out = {ref, ref if ref.startswith("sha256:") else f"sha256:{ref}"}
    try:
        out.add(str(parse_reference(ref)))
    except InvalidReference:
        pass
    return out


def is_in_use(record: ImageRecord, in_use: set[str]) -> bool:
    """Whether any of ``in_use`` (image ids, names or repo digests, in any usual spelling) is this image."""
    mine = {record.id, record.manifest_digest, *record.names, *record.repo_digests}
    return any(_forms(ref) & mine for ref in in_use)


def candidates(
    records: list[ImageRecord], in_use: set[str], added_before: float = float("inf")
) -> list[ImageRecord]:
    """Images that may go, in the order they go: least recently used first. Not those in
    use, imported (pinned), or added or used at or after ``added_before`` (one just pulled or
    looked up for a container about to be created is not in use yet)."""
    free = [
        r
        for r in records
        if not r.imported and max(r.added_at, r.last_used) < added_before and not is_in_use(r, in_use)
    ]
    return sorted(free, key=lambda r: (r.last_used, r.added_at, r.id))


def collect(
    store: ImageStore, target_free_bytes: int, in_use: set[str], added_before: float = float("inf")
) -> GCResult:
    """Remove images until ``target_free_bytes`` were freed or nothing more may go (blocking)."""
    result = GCResult()
    result.freed_bytes += store.sweep()  # leftovers first: they cost no image
    for record in candidates(store.records(), in_use, added_before):
        if result.freed_bytes >= target_free_bytes:
            break
        store.remove_image(record.id)
        result.removed.append(record.id)
        result.freed_bytes += store.sweep()
    return result
