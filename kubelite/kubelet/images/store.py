"""The content-addressed image store under ``<data-dir>/images/``.

```
images/
  blobs/sha256/<hex>             manifests, configs, layer blobs; written to ingest/ first,
                                 renamed into place only once their digest is verified
  ingest/                        downloads and imports in progress
  layers/sha256/<diffID hex>/    one unpacked layer each (overlay mode: whiteouts as overlayfs wants)
  rootfs/sha256/<chainID hex>/   one flattened root filesystem per image top (flat mode, no root)
  tmp/                           unpacks in progress, renamed into place when complete
  index.json                     image records, unpacked sizes, leases on content being pulled
  index.lock                     flock held while index.json is read-modified-written
```

Every write is a new file renamed into place, so a crash leaves either the old or
the new state plus debris in ``ingest/`` and ``tmp/`` (cleared by ``sweep``).
Content is shared by images and removed only when no image and no lease (a pull
in progress, in this process or another) refers to it. Methods here block: the
``ImageService`` calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from kubelite.kubelet.images import unpack
from kubelite.kubelet.images.errors import DigestMismatch, ImagePullError
from kubelite.kubelet.images.reference import InvalidReference, is_image_id, parse_reference

LEASE_TTL = 3600.0  # a lease of a process that died stops protecting its content after this long
CHUNK = 1 << 20


def digest_hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise ImagePullError(f"unsupported or invalid digest {digest!r}", "InvalidImage")
    return hexpart


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI ChainIDs of a layer stack, one per layer."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha256_digest(f"{out[-1]} {d}".encode()))
    return out


@dataclass
class LayerRecord:
    digest: str  # the blob's digest (compressed)
    diff_id: str  # the uncompressed tar's digest
    size: int
    media_type: str = ""


@dataclass
class ImageRecord:
    """One image in the store, keyed by ``id`` (its config digest)."""

    id: str
    manifest_digest: str  # the image manifest (one platform)
    layers: list[LayerRecord]
    config: dict[str, Any]  # the image config blob, parsed
    size: int  # config + layer blobs, as the registry counts it
    names: list[str] = field(default_factory=list)  # normalised name:tag references
    repo_digests: list[str] = field(default_factory=list)  # repository@digest (index or manifest)
    created: str = ""
    added_at: float = 0.0
    last_used: float = 0.0
    # Imported from an archive (``kubelite image import``, the built-in images), not only pulled:
    # the node's offline copy, which a failed pull under imagePullPolicy Always may fall back on.
    imported: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRecord:
        d = dict(d)
        d["layers"] = [LayerRecord(**x) for x in d.get("layers", [])]
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    def content_digests(self) -> set[str]:
        out = {self.id, self.manifest_digest, *(layer.digest for layer in self.layers)}
        out.update(d.rpartition("@")[2] for d in self.repo_digests)
        return out


class BlobWriter:
    """Streams one blob into ``ingest/`` while hashing it; ``commit`` verifies and renames it."""

    def __init__(self, store: ImageStore, expected: str, expected_size: int | None = None) -> None:
        digest_hex(expected)
        self.store = store
        self.expected = expected
        self.expected_size = expected_size
        self.path = os.path.join(store.ingest_dir, uuid.uuid4().hex)
        self.file: BinaryIO = open(self.path, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)
        self.file.write(data)

    def commit(self) -> str:
        self.file.close()
        actual = "sha256:" + self.hash.hexdigest()
        if actual != self.expected:
            self.abort()
            raise DigestMismatch(f"digest mismatch: expected {self.expected}, content has {actual}")
        if self.expected_size is not None and self.expected_size >= 0 and self.size != self.expected_size:
            self.abort()
            raise DigestMismatch(
                f"size mismatch for {self.expected}: expected {self.expected_size}, got {self.size}"
            )
        os.replace(self.path, self.store.blob_path(actual))
        return actual

    def abort(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class ImageStore:
    """See the module docstring. ``mode`` picks how layers are unpacked (``None``: overlay when the
    filesystem takes overlayfs whiteouts, i.e. as root, else flat)."""

    def __init__(self, root: str | os.PathLike[str], mode: unpack.UnpackMode | None = None) -> None:
        self.root = os.fspath(root)
        self.blobs_dir = os.path.join(self.root, "blobs", "sha256")
        self.ingest_dir = os.path.join(self.root, "ingest")
        self.layers_dir = os.path.join(self.root, "layers", "sha256")
        self.rootfs_dir = os.path.join(self.root, "rootfs", "sha256")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self.index_path = os.path.join(self.root, "index.json")
        self.lock_path = os.path.join(self.root, "index.lock")
        for d in (self.blobs_dir, self.ingest_dir, self.layers_dir, self.rootfs_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)
        self.mode: unpack.UnpackMode = mode or (
            "overlay" if unpack.can_overlay(os.path.join(self.tmp_dir, "probe")) else "flat"
        )
        shutil.rmtree(os.path.join(self.tmp_dir, "probe"), ignore_errors=True)

    # --- blobs ---
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs_dir, digest_hex(digest))

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def read_blob(self, digest: str) -> bytes:
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def blob_writer(self, expected: str, expected_size: int | None = None) -> BlobWriter:
        return BlobWriter(self, expected, expected_size)

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        digest = sha256_digest(data)
        w = self.blob_writer(expected or digest, len(data))
        w.write(data)
        return w.commit()

    def ingest_stream(
        self, src: BinaryIO, expected: str | None = None, expected_size: int | None = None
    ) -> str:
        """Copy ``src`` into the store; without ``expected`` the digest is whatever it hashes to."""
        if expected is not None:
            w = self.blob_writer(expected, expected_size)
            while chunk := src.read(CHUNK):
                w.write(chunk)
            return w.commit()
        tmp = os.path.join(self.ingest_dir, uuid.uuid4().hex)
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        digest = "sha256:" + h.hexdigest()
        os.replace(tmp, self.blob_path(digest))
        return digest

    # --- unpacked layers ---
    def layer_dirs(self, record: ImageRecord) -> list[str]:
        """The directories a container's rootfs is built from, lowest first."""
        if not record.layers:
            return []
        if self.mode == "overlay":
            return [os.path.join(self.layers_dir, digest_hex(d)) for d in record.diff_ids]
        return [os.path.join(self.rootfs_dir, digest_hex(chain_ids(record.diff_ids)[-1]))]

    def is_unpacked(self, record: ImageRecord) -> bool:
        return all(os.path.isdir(d) for d in self.layer_dirs(record))

    def unpack(self, record: ImageRecord) -> list[str]:
        """Unpack what is missing of ``record``'s layers (idempotent; safe to race with another
        process: each unpack goes to its own tmp dir and the first rename wins)."""
        dirs = self.layer_dirs(record)
        if self.mode == "overlay":
            for layer, target in zip(record.layers, dirs, strict=True):
                if not os.path.isdir(target):
                    self._unpack_into(target, [layer])
        elif dirs and not os.path.isdir(dirs[0]):
            self._unpack_into(dirs[0], record.layers)
        return dirs

    def _unpack_into(self, target: str, layers: list[LayerRecord]) -> None:
        tmp = os.path.join(self.tmp_dir, uuid.uuid4().hex)
        os.mkdir(tmp, 0o755)
        try:
            size = 0
            for layer in layers:
                if not self.has_blob(layer.digest):
                    raise ImagePullError(f"layer {layer.digest} is missing from the store", "InvalidImage")
                with open(self.blob_path(layer.digest), "rb") as raw:
                    size += unpack.apply_layer(raw, tmp, self.mode, layer.diff_id).size
            try:
                os.rename(tmp, target)
            except OSError:
                if not os.path.isdir(target):
                    raise
                return  # another unpack of the same content won
            with self.locked_index() as index:
                index.setdefault("unpacked", {})[self._unpacked_key(target)] = size
        finally:
            if os.path.exists(tmp):
                _rmtree(tmp)

    def _unpacked_key(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    # --- the index ---
    def _read_index(self) -> dict[str, Any]:
        try:
            with open(self.index_path, "rb") as f:
                data: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            data = {}
        data.setdefault("version", 1)
        data.setdefault("images", {})
        data.setdefault("unpacked", {})
        data.setdefault("leases", {})
        return data

    @contextlib.contextmanager
    def locked_index(self) -> Iterator[dict[str, Any]]:
        """The index, locked against other threads and processes; written back on success."""
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            index = self._read_index()
            yield index
            tmp = f"{self.index_path}.{uuid.uuid4().hex}"
            with open(tmp, "w") as f:
                json.dump(index, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.index_path)

    def records(self) -> list[ImageRecord]:
        return [ImageRecord.from_dict(r) for r in self._read_index()["images"].values()]

    def lookup(self, ref: str) -> ImageRecord | None:
        """The image a reference names: ``name:tag``, ``name@digest``, an image id or its prefix."""
        return _find(self.records(), ref)

    def add(self, record: ImageRecord) -> ImageRecord:
        """Store ``record``, merged with an existing one of the same id; its names move to it from
        any other image (a tag names one image)."""
        now = time.time()
        with self.locked_index() as index:
            images = index["images"]
            existing = images.get(record.id)
            if existing is not None:
                old = ImageRecord.from_dict(existing)
                record.names = _union(old.names, record.names)
                record.repo_digests = _union(old.repo_digests, record.repo_digests)
                record.added_at = old.added_at or now
                record.imported = old.imported or record.imported
            else:
                record.added_at = record.added_at or now
            record.last_used = max(record.last_used, now)
            for other_id, other in images.items():
                if other_id != record.id:
                    other["names"] = [n for n in other["names"] if n not in record.names]
            images[record.id] = record.to_dict()
        return record

    def mark_imported(self, image_id: str) -> None:
        with self.locked_index() as index:
            if image_id in index["images"]:
                index["images"][image_id]["imported"] = True

    def touch(self, image_id: str) -> None:
        with self.locked_index() as index:
            if image_id in index["images"]:
                index["images"][image_id]["last_used"] = time.time()

    def untag(self, ref: str) -> tuple[ImageRecord, bool]:
        """Remove a name (or, given an id, the whole image); returns the record and whether the image
        itself is gone. Content is freed by ``sweep``. Raises ``LookupError``."""
        with self.locked_index() as index:
            records = [ImageRecord.from_dict(r) for r in index["images"].values()]
            record = _find(records, ref)
            if record is None:
                raise LookupError(ref)
            name = _normalized(ref)
            if name is not None and name in record.names and len(record.names) > 1:
                record.names.remove(name)
                index["images"][record.id] = record.to_dict()
                return record, False
            if name is not None and "@" in name:
                rest = [d for d in record.repo_digests if d != name]
                if record.names or rest:
                    record.repo_digests = rest
                    index["images"][record.id] = record.to_dict()
                    return record, False
            del index["images"][record.id]
            return record, True

    def remove_image(self, image_id: str) -> None:
        with self.locked_index() as index:
            index["images"].pop(image_id, None)

    # --- leases: content a pull is writing, not yet referenced by an image ---
    def lease(self, lease_id: str, digests: set[str]) -> None:
        with self.locked_index() as index:
            lease = index["leases"].setdefault(lease_id, {"digests": []})
            lease["digests"] = sorted(set(lease["digests"]) | digests)
            lease["expires"] = time.time() + LEASE_TTL

    def release(self, lease_id: str) -> None:
        with self.locked_index() as index:
            index["leases"].pop(lease_id, None)

    # --- removal ---
    def sweep(self) -> int:
        """Delete blobs and unpacked layers no image or live lease refers to, and leftovers of
        interrupted writes; returns the bytes freed."""
        freed = 0
        with self.locked_index() as index:
            now = time.time()
            index["leases"] = {k: v for k, v in index["leases"].items() if v.get("expires", 0) > now}
            records = [ImageRecord.from_dict(r) for r in index["images"].values()]
            keep_blobs: set[str] = set()
            keep_dirs: set[str] = set()
            for lease in index["leases"].values():
                leased = {digest_hex(d) for d in lease["digests"] if d.startswith("sha256:")}
                keep_blobs.update(leased)
                keep_dirs.update(leased)  # diffIDs and chainIDs of layers being unpacked
            for r in records:
                keep_blobs.update(digest_hex(d) for d in r.content_digests())
                for d in r.diff_ids:
                    keep_dirs.add(digest_hex(d))
                chain = chain_ids(r.diff_ids)
                if chain:
                    keep_dirs.add(digest_hex(chain[-1]))
            for name in os.listdir(self.blobs_dir):
                if name not in keep_blobs:
                    path = os.path.join(self.blobs_dir, name)
                    with contextlib.suppress(FileNotFoundError):
                        freed += os.stat(path).st_size
                        os.unlink(path)
            for base in (self.layers_dir, self.rootfs_dir):
                for name in os.listdir(base):
                    if name not in keep_dirs:
                        path = os.path.join(base, name)
                        freed += index["unpacked"].pop(self._unpacked_key(path), 0)
                        _rmtree(path)
            live = {
                self._unpacked_key(os.path.join(b, n))
                for b in (self.layers_dir, self.rootfs_dir)
                for n in os.listdir(b)
            }
            index["unpacked"] = {k: v for k, v in index["unpacked"].items() if k in live}
            # interrupted writes of this or a dead process (an hour old: a live one would be newer)
            for base in (self.ingest_dir, self.tmp_dir):
                for name in os.listdir(base):
                    path = os.path.join(base, name)
                    with contextlib.suppress(FileNotFoundError):
                        if os.lstat(path).st_mtime < now - LEASE_TTL:
                            _rmtree(path) if os.path.isdir(path) else os.unlink(path)
        return freed

    def usage_bytes(self) -> int:
        """Bytes the store occupies (blobs as stat says, unpacked layers as counted when unpacked)."""
        total = 0
        with os.scandir(self.blobs_dir) as it:
            for e in it:
                with contextlib.suppress(FileNotFoundError):
                    total += e.stat().st_size
        return total + sum(self._read_index()["unpacked"].values())

    def unpacked_size(self, record: ImageRecord) -> int:
        unpacked = self._read_index()["unpacked"]
        return sum(unpacked.get(self._unpacked_key(d), 0) for d in self.layer_dirs(record))


def _rmtree(path: str) -> None:
    """rmtree that also removes what read-only directories hold (flat mode without root)."""

    def onerror(func: Any, p: str, exc: Any) -> None:
        parent = os.path.dirname(p)
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
            func(p)

    shutil.rmtree(path, onerror=onerror)


def _union(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _normalized(ref: str) -> str | None:
    try:
        return str(parse_reference(ref))
    except InvalidReference:
        return None


def _find(records: list[ImageRecord], ref: str) -> ImageRecord | None:
    if is_image_id(ref):
        full = ref if ref.startswith("sha256:") else "sha256:" + ref
        for r in records:
            if r.id == full:
                return r
    name = _normalized(ref)
    if name is not None:
        parsed = parse_reference(ref)
        if parsed.digest:
            want = f"{parsed.repository}@{parsed.digest}"
            for r in records:
                if want in r.repo_digests or (parsed.digest in (r.id, r.manifest_digest) and not parsed.tag):
                    return r
        else:
            for r in records:
                if name in r.names:
                    return r
    # a short id prefix, as docker accepts (at least 4 hex digits, and unambiguous)
    prefix = ref.removeprefix("sha256:")
    if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
        hits = [r for r in records if r.id.removeprefix("sha256:").startswith(prefix)]
        if len(hits) == 1:
            return hits[0]
    return None
