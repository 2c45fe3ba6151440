"""Import image archives: ``oci-archive`` (an OCI image layout in a tar: ``oci-layout``,
``index.json``, ``blobs/<alg>/<hex>``) and ``docker-archive`` (``docker save``:
``manifest.json`` listing each image's config file, layer tars and RepoTags).

Blobs go into the store verified (OCI) or named by their hash (docker, whose
layer tars carry no digests; the config's diff_ids are checked against them).
For a docker archive a Docker v2 schema 2 manifest is written, so every image
in the store has one. Names: ``--name`` when given (the archive must then hold
one image), else the archive's own (``io.containerd.image.name``, an
``org.opencontainers.image.ref.name`` that is a full reference, RepoTags).
Layers are not unpacked here; the ``ImageService`` does that.
"""

from __future__ import annotations

import os
import tarfile
from typing import Any

import orjson

from kubelite.kubelet.images import manifest as mf
from kubelite.kubelet.images.errors import ImagePullError
from kubelite.kubelet.images.reference import InvalidReference, Reference, parse_reference
from kubelite.kubelet.images.store import ImageRecord, ImageStore, digest_hex, sha256_digest
from kubelite.kubelet.images.unpack import diff_id_of

CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


class _Archive:
    def __init__(self, path: str, store: ImageStore, lease_id: str) -> None:
        self.store = store
        self.lease_id = lease_id
        try:
            self.tar = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError) as e:
            raise ImagePullError(f"{path}: not an image archive: {e}", "InvalidImage") from e
        self.members = {m.name.lstrip("./").lstrip("/"): m for m in self.tar.getmembers() if m.isfile()}
        self.path = path

    def lease(self, digest: str) -> None:
        if self.lease_id:
            self.store.lease(self.lease_id, {digest})

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> Any:
        m = self.members.get(name)
        if m is None:
            raise ImagePullError(f"{self.path}: {name} is missing from the archive", "InvalidImage")
        f = self.tar.extractfile(m)
        assert f is not None
        return f

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            data: bytes = f.read()
            return data

    def close(self) -> None:
        self.tar.close()


def import_archive(
    path: str,
    store: ImageStore,
    name: str | None = None,
    platform: mf.Platform | None = None,
    lease_id: str = "",
) -> list[ImageRecord]:
    """The images of the archive at ``path``, their blobs in ``store`` (blocking). With a
    ``lease_id`` the blobs are leased as they are copied, so a concurrent sweep keeps them."""
    want = platform or mf.host_platform()
    override = parse_reference(name) if name else None
    archive = _Archive(path, store, lease_id)
    try:
        if archive.has("index.json") and (archive.has("oci-layout") or not archive.has("manifest.json")):
            records = _import_oci(archive, store, want)
        elif archive.has("manifest.json"):
            records = _import_docker(archive, store)
        else:
            raise ImagePullError(
                f"{path}: neither index.json nor manifest.json: not an image archive", "InvalidImage"
            )
    finally:
        archive.close()
    if override is not None:
        if len(records) != 1:
            raise ImagePullError(
                f"{path} holds {len(records)} images; --name names exactly one", "InvalidImage"
            )
        records[0].names = [str(override)] if override.tag else []
        digests = {d.rpartition("@")[2] for d in records[0].repo_digests}
        records[0].repo_digests = [f"{override.repository}@{d}" for d in sorted(digests)]
    return records


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest_hex(digest)}"


def _copy_blob(archive: _Archive, store: ImageStore, desc: dict[str, Any]) -> str:
    digest = str(desc.get("digest", ""))
    archive.lease(digest)
    if not store.has_blob(digest):
        with archive.open(_blob_name(digest)) as f:
            store.ingest_stream(f, digest, desc.get("size"))
    return digest


def _names_from_annotations(annotations: dict[str, str]) -> list[Reference]:
    out = []
    for key in (CONTAINERD_NAME, OCI_REF_NAME):
        value = annotations.get(key, "")
        if not value or (key == OCI_REF_NAME and ":" not in value and "/" not in value):
            continue  # a bare tag names no repository
        try:
            out.append(parse_reference(value))
        except InvalidReference:
            continue
        break
    return out


def _import_oci(archive: _Archive, store: ImageStore, want: mf.Platform) -> list[ImageRecord]:
    index = mf.parse_json(archive.read("index.json"), "index.json")
    records: dict[str, ImageRecord] = {}
    for desc in index.get("manifests") or []:
        top = _copy_blob(archive, store, desc)
        doc = mf.parse_json(store.read_blob(top), "manifest")
        manifest_digest, manifest = top, doc
        if mf.media_type_of(doc, desc.get("mediaType", "")) in mf.INDEX_TYPES:
            child = mf.select_manifest(doc, want)
            manifest_digest = _copy_blob(archive, store, child)
            manifest = mf.parse_json(store.read_blob(manifest_digest), "manifest")
        config_digest = _copy_blob(archive, store, manifest.get("config") or {})
        for layer in manifest.get("layers") or []:
            _copy_blob(archive, store, layer)
        config = mf.parse_json(store.read_blob(config_digest), "image config")
        names = _names_from_annotations(desc.get("annotations") or {})
        record = records.get(config_digest) or mf.image_record(
            manifest_digest, manifest, config_digest, config
        )
        record.names += [str(n) for n in names if n.tag and str(n) not in record.names]
        record.repo_digests += [
            f"{n.repository}@{top}" for n in names if f"{n.repository}@{top}" not in record.repo_digests
        ]
        records[config_digest] = record
    return list(records.values())


def _import_docker(archive: _Archive, store: ImageStore) -> list[ImageRecord]:
    try:
        entries = orjson.loads(archive.read("manifest.json"))
    except orjson.JSONDecodeError as e:
        raise ImagePullError(f"{archive.path}: invalid manifest.json: {e}", "InvalidImage") from e
    if not isinstance(entries, list):
        raise ImagePullError(f"{archive.path}: invalid manifest.json: not a list", "InvalidImage")
    records = []
    for entry in entries:
        config_bytes = archive.read(entry["Config"].lstrip("./"))
        archive.lease(sha256_digest(config_bytes))
        config_digest = store.put_blob(config_bytes)
        config = mf.parse_json(config_bytes, "image config")
        expected = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layers = []
        for i, layer_path in enumerate(entry.get("Layers") or []):
            with archive.open(layer_path.lstrip("./")) as f:
                digest = store.ingest_stream(f)
            archive.lease(digest)
            with open(store.blob_path(digest), "rb") as raw:
                head = raw.read(2)
                raw.seek(0)
                compressed = head == b"\x1f\x8b"
                diff_id = diff_id_of(raw) if compressed else digest
            if i >= len(expected) or expected[i] != diff_id:
                raise ImagePullError(
                    f"{archive.path}: layer {layer_path} has diffID {diff_id}, the config says "
                    f"{expected[i] if i < len(expected) else 'nothing'}",
                    "DigestMismatch",
                )
            layers.append(
                {
                    "mediaType": mf.DOCKER_LAYER_GZIP
                    if compressed
                    else "application/vnd.docker.image.rootfs.diff.tar",
                    "size": _blob_size(store, digest),
                    "digest": digest,
                }
            )
        manifest = {
            "schemaVersion": 2,
            "mediaType": mf.DOCKER_MANIFEST,
            "config": {"mediaType": mf.DOCKER_CONFIG, "size": len(config_bytes), "digest": config_digest},
            "layers": layers,
        }
        manifest_bytes = orjson.dumps(manifest)
        archive.lease(sha256_digest(manifest_bytes))
        manifest_digest = store.put_blob(manifest_bytes)
        names = []
        for tag in entry.get("RepoTags") or []:
            try:
                names.append(str(parse_reference(tag)))
            except InvalidReference:
                continue
        records.append(mf.image_record(manifest_digest, manifest, config_digest, config, names=names))
    return records


def _blob_size(store: ImageStore, digest: str) -> int:
    return os.stat(store.blob_path(digest)).st_size
