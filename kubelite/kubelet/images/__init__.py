"""Container images for the node agent: a local OCI store, pulls, imports, GC.

``ImageService`` is the facade the pod worker, the node agent and
``kubelite image`` use::

    images = ImageService(data_dir)                      # <data-dir>/images/, see store.py
    info = await images.ensure("busybox", "IfNotPresent")
    info.layers   # unpacked layer directories, lowest first -> ContainerConfig.rootfs_layers
    info.config   # Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts (always present)
    info.id       # config digest (sha256:...), info.digest the repo digest (repo@sha256:...)

Errors carry messages meant for container statuses: ``ImagePullError`` (the
pod worker's ErrImagePull; ``reason`` says what kind of failure),
``ImageNotFound`` (pull policy Never and the image is absent:
ErrImageNeverPull; or ``remove`` of an unknown image).

Concurrent ``ensure``/``pull`` calls for one reference share one pull.
Registry mirrors, credentials and TLS settings come from a k3s-style
``registries.yaml`` (``registries_config``; by default
``<data-dir>/registries.yaml`` when it exists).
"""

from __future__ import annotations

import asyncio
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from kubelite.kubelet.images import archive, gc
from kubelite.kubelet.images.config import RegistriesConfig, RegistryAuth
from kubelite.kubelet.images.errors import DigestMismatch, ImageError, ImageNotFound, ImagePullError
from kubelite.kubelet.images.gc import GCResult
from kubelite.kubelet.images.manifest import Platform, runtime_config
from kubelite.kubelet.images.pull import RegistryClient, new_lease_id
from kubelite.kubelet.images.reference import InvalidReference, Reference, normalize, parse_reference
from kubelite.kubelet.images.store import ImageRecord, ImageStore
from kubelite.kubelet.images.unpack import UnpackMode

__all__ = [
    "BUILTIN_IMAGES",
    "DigestMismatch",
    "FsStats",
    "GCResult",
    "ImageError",
    "ImageInfo",
    "ImageNotFound",
    "ImagePullError",
    "ImageService",
    "PullPolicy",
    "RegistriesConfig",
    "RegistryAuth",
    "default_pull_policy",
    "ensure_builtin_images",
    "normalize",
    "parse_reference",
]

PullPolicy = Literal["Always", "IfNotPresent", "Never"]

# images built by `make busybox-image` and imported by `kubelite up` so tests run offline
TOUCH_INTERVAL = 60.0  # seconds between two writes of an image's last_used
BUILTIN_IMAGES = {"docker.io/library/busybox:latest": ".build/busybox-oci.tar"}


@dataclass
class ImageInfo:
    """An image ready to run: everything the pod worker needs."""

    ref: str  # the normalised reference asked for (or the image's first name, in list())
    id: str  # the config digest: Kubernetes' imageID when there is no repo digest
    digest: str  # the repo digest ("docker.io/library/busybox@sha256:..."), "" when unknown
    layers: list[str]  # unpacked layer directories, lowest first
    config: dict[str, Any]  # Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts (+ the rest)
    size: int = 0  # bytes of config + layer blobs
    names: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    manifest_digest: str = ""
    created: str = ""
    last_used: float = 0.0


@dataclass
class FsStats:
    """The filesystem the images live on (the node's imagefs)."""

    path: str
    capacity_bytes: int
    available_bytes: int
    used_bytes: int  # by the image store
    inodes: int
    inodes_free: int
    inodes_used: int  # on the whole filesystem


def default_pull_policy(ref: str) -> PullPolicy:
    """Kubernetes' default: Always for ``:latest`` or no tag, else IfNotPresent."""
    r = parse_reference(ref)
    return "Always" if not r.digest and r.tag == "latest" else "IfNotPresent"


def _info(record: ImageRecord, store: ImageStore, ref: Reference | None) -> ImageInfo:
    digest = ""
    if ref is not None:
        digest = next((d for d in record.repo_digests if d.startswith(ref.repository + "@")), "")
    if not digest and record.repo_digests:
        digest = record.repo_digests[0]
    return ImageInfo(
        ref=str(ref) if ref is not None else (record.names[0] if record.names else record.id),
        id=record.id,
        digest=digest,
        layers=store.layer_dirs(record),
        config=runtime_config(record.config),
        size=record.size,
        names=list(record.names),
        repo_digests=list(record.repo_digests),
        manifest_digest=record.manifest_digest,
        created=record.created,
        last_used=record.last_used,
    )


class ImageService:
    """The image store of one node; see the module docstring."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        registries_config: str | os.PathLike[str] | dict[str, Any] | RegistriesConfig | None = None,
        *,
        unpack_mode: UnpackMode | None = None,
        platform: Platform | None = None,
        connect_timeout: float = 15.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        if registries_config is None:
            registries_config = self.data_dir / "registries.yaml"
        if isinstance(registries_config, os.PathLike):
            registries_config = os.fspath(registries_config)
        self.registries = RegistriesConfig.load(registries_config)
        self.store = ImageStore(self.data_dir / "images", unpack_mode)
        self.client = RegistryClient(self.registries, platform, connect_timeout, read_timeout)
        self.platform = self.client.platform
        self._inflight: dict[str, asyncio.Task[ImageInfo]] = {}
        self._unpack_lock = asyncio.Lock()
        self._touched: dict[str, float] = {}  # image id -> monotonic time of its last touch

    @property
    def root(self) -> str:
        return self.store.root

    # --- ensure / pull ---
    async def present(self, ref: str) -> ImageInfo | None:
        """What ``ensure`` under IfNotPresent or Never returns when ``ref`` is in the store and
        unpacked, found with one trip to a worker thread (a pod worker's usual case); None
        otherwise (then ``ensure`` pulls or unpacks)."""
        try:
            parsed = parse_reference(ref)
        except InvalidReference:
            return None
        now = time.monotonic()

        def look() -> ImageRecord | None:
            record = self.store.lookup(str(parsed))
            if record is None or not self.store.is_unpacked(record):
                return None
            if now - self._touched.get(record.id, -TOUCH_INTERVAL) >= TOUCH_INTERVAL:
                self._touched[record.id] = now
                self.store.touch(record.id)
            return record

        record = await asyncio.to_thread(look)
        return None if record is None else _info(record, self.store, parsed)

    async def ensure(
        self,
        ref: str,
        pull_policy: PullPolicy | str = "IfNotPresent",
        credentials: dict[str, RegistryAuth] | None = None,
    ) -> ImageInfo:
        """The image ``ref`` names, pulled first if ``pull_policy`` (Always, IfNotPresent, Never: a
        container's imagePullPolicy) says so; other values raise ``ValueError``. ``credentials``
        (registry host -> auth, e.g. from imagePullSecrets) come before the configured ones."""
        if pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise ValueError(f"unknown pull policy {pull_policy!r}")
        parsed = _parse(ref)
        if pull_policy == "Always":
            return await self.pull(ref, credentials)
        record = await asyncio.to_thread(self.store.lookup, str(parsed))
        if record is None:
            if pull_policy == "Never":
                raise ImageNotFound(f'Container image "{ref}" is not present with pull policy of Never')
            return await self.pull(ref, credentials)
        await self._unpack(record)
        await self._touch(record.id)
        return _info(record, self.store, parsed)

    async def pull(self, ref: str, credentials: dict[str, RegistryAuth] | None = None) -> ImageInfo:
        """Pull ``ref`` from its registry (or mirrors) even if present; concurrent pulls of one
        reference share the work. Raises ``ImagePullError``."""
        parsed = _parse(ref)
        key = str(parsed)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._pull(ref, parsed, credentials))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        # shielded: one caller giving up does not cancel the pull the others wait for
        return await asyncio.shield(task)

    async def _pull(
        self, given: str, ref: Reference, credentials: dict[str, RegistryAuth] | None
    ) -> ImageInfo:
        lease = new_lease_id()
        try:
            result = await self.client.pull(ref, self.store, lease, credentials)
            record = result.record
            await self._unpack(record)
            record = await asyncio.to_thread(self.store.add, record)
        except DigestMismatch as e:
            raise DigestMismatch(f'failed to pull image "{given}": {e}') from e
        except ImagePullError as e:
            raise ImagePullError(f'failed to pull image "{given}": {e}', e.reason) from e
        except OSError as e:
            raise ImagePullError(f'failed to pull image "{given}": {e}', "Unknown") from e
        finally:
            await asyncio.to_thread(self.store.release, lease)
        return _info(record, self.store, ref)

    async def imported_image(self, ref: str) -> ImageInfo | None:
        """The image ``ref`` names if it is in the store because it was imported from an archive
        (``kubelite image import``, the built-in images), else None: the only local copy a pod
        with imagePullPolicy Always may run when its pull fails (offline nodes, CI)."""
        parsed = _parse(ref)
        record = await asyncio.to_thread(self.store.lookup, str(parsed))
        if record is None or not record.imported:
            return None
        await self._unpack(record)
        await self._touch(record.id)
        return _info(record, self.store, parsed)

    async def _touch(self, image_id: str) -> None:
        """Mark the image used (for garbage collection, least recently used first), at most once
        per ``TOUCH_INTERVAL``: each touch rewrites the index under its lock, and a burst of
        pods of one image would queue on it."""
        now = time.monotonic()
        if now - self._touched.get(image_id, -TOUCH_INTERVAL) < TOUCH_INTERVAL:
            return
        self._touched[image_id] = now
        await asyncio.to_thread(self.store.touch, image_id)

    async def _unpack(self, record: ImageRecord) -> None:
        if await asyncio.to_thread(self.store.is_unpacked, record):
            return
        async with self._unpack_lock:
            await asyncio.to_thread(self.store.unpack, record)

    # --- import ---
    async def import_archive(self, path: str | os.PathLike[str], name: str | None = None) -> list[ImageInfo]:
        """Import a docker-archive or oci-archive tarball (tagged ``name`` when given)."""
        if name is not None:
            _parse(name)
        lease = new_lease_id()
        try:
            records = await asyncio.to_thread(
                archive.import_archive, os.fspath(path), self.store, name, self.platform, lease
            )
            out = []
            for record in records:
                record.imported = True
                await self._unpack(record)
                record = await asyncio.to_thread(self.store.add, record)
                out.append(_info(record, self.store, None))
            return out
        finally:
            await asyncio.to_thread(self.store.release, lease)

    # --- inspection and removal ---
    async def status(self, ref: str) -> ImageInfo | None:
        """The image ``ref`` names if it is in the store (by name, repo digest or id)."""
        record = await asyncio.to_thread(self.store.lookup, ref)
        if record is None:
            return None
        try:
            parsed: Reference | None = parse_reference(ref)
        except InvalidReference:
            parsed = None
        return _info(
            record, self.store, parsed if parsed is not None and str(parsed) in record.names else None
        )

    async def list(self) -> list[ImageInfo]:
        records = await asyncio.to_thread(self.store.records)
        return [_info(r, self.store, None) for r in sorted(records, key=lambda r: (r.names[:1], r.id))]

    async def remove(self, ref: str) -> None:
        """Untag ``ref``; the image and its content go once no name is left (or ``ref`` is an id)."""
        try:
            _record, gone = await asyncio.to_thread(self.store.untag, ref)
        except LookupError:
            raise ImageNotFound(f'image "{ref}" not found') from None
        if gone:
            await asyncio.to_thread(self.store.sweep)

    async def gc(self, target_free_bytes: int, in_use: set[str], min_age: float = 0.0) -> GCResult:
        """Free ``target_free_bytes`` by removing images none of ``in_use`` (ids, names, repo
        digests of containers' images) names, least recently used first; imported images and
        those added less than ``min_age`` seconds ago stay."""
        added_before = time.time() - min_age
        return await asyncio.to_thread(gc.collect, self.store, target_free_bytes, in_use, added_before)

    async def fs_stats(self) -> FsStats:
        def stats() -> FsStats:
            st = os.statvfs(self.store.root)
            return FsStats(
                path=self.store.root,
                capacity_bytes=st.f_blocks * st.f_frsize,
                available_bytes=st.f_bavail * st.f_frsize,
                used_bytes=self.store.usage_bytes(),
                inodes=st.f_files,
                inodes_free=st.f_ffree,
                inodes_used=st.f_files - st.f_ffree,
            )

        return await asyncio.to_thread(stats)

    async def close(self) -> None:
        """Cancel pulls in flight."""
        tasks = list(self._inflight.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _parse(ref: str) -> Reference:
    try:
        return parse_reference(ref)
    except InvalidReference as e:
        raise ImagePullError(
            f'Failed to apply default image tag "{ref}": couldn\'t parse image name "{ref}": {e}',
            "InvalidImageName",
        ) from e


def _archive_top_digest(path: str) -> str:
    with tarfile.open(path, "r:*") as tar:
        f = tar.extractfile("index.json")
        if f is None:
            return ""
        index = orjson.loads(f.read())
    manifests = index.get("manifests") or []
    return str(manifests[0].get("digest", "")) if manifests else ""


async def ensure_builtin_images(image_service: ImageService, repo_root: str | os.PathLike[str]) -> list[str]:
    """Import the images ``make busybox-image`` built under ``repo_root/.build`` (if there) unless
    the store has them already, so that pods can run offline. Returns the references imported."""
    imported = []
    for name, rel in BUILTIN_IMAGES.items():
        path = Path(repo_root) / rel
        if not path.is_file():
            continue
        top = await asyncio.to_thread(_archive_top_digest, os.fspath(path))
        existing = await image_service.status(name)
        repo = parse_reference(name).repository
        if existing is not None and f"{repo}@{top}" in existing.repo_digests:
            info = await image_service.ensure(name, "Never")  # unpacks what a GC or crash removed
            await asyncio.to_thread(
                image_service.store.mark_imported, info.id
            )  # stores made before 'imported'
            continue
        await image_service.import_archive(path, name=name)
        imported.append(name)
    return imported
