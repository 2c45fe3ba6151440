"""OCI and Docker v2 manifest formats: media types, platform choice, image records.

Shared by the registry client (``pull``) and the archive importer (``archive``).
Docker schema 1 manifests are refused, as containerd refuses them.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.kubelet.images.errors import ImagePullError
from kubelite.kubelet.images.store import ImageRecord, LayerRecord

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def host_platform() -> Platform:
    arch, variant = _ARCH.get(_platform.machine().lower(), (_platform.machine().lower(), ""))
    return Platform("linux", arch, variant)


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ImagePullError(f"invalid {what}: {e}", "InvalidImage") from e
    if not isinstance(doc, dict):
        raise ImagePullError(f"invalid {what}: not a JSON object", "InvalidImage")
    return doc


def media_type_of(doc: dict[str, Any], content_type: str = "") -> str:
    """The manifest's media type: its own field, else the HTTP content type, else by shape."""
    mt = str(doc.get("mediaType") or "")
    if not mt and content_type and content_type.split(";")[0].strip() not in ("application/json", ""):
        mt = content_type.split(";")[0].strip()
    if not mt:
        if "manifests" in doc:
            mt = OCI_INDEX
        elif "config" in doc and "layers" in doc:
            mt = OCI_MANIFEST
        elif doc.get("schemaVersion") == 1:
            mt = DOCKER_SCHEMA1[0]
    if mt in DOCKER_SCHEMA1:
        raise ImagePullError(
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 are not supported",
            "Unsupported",
        )
    if mt not in INDEX_TYPES and mt not in MANIFEST_TYPES:
        raise ImagePullError(f"unsupported manifest media type {mt!r}", "Unsupported")
    return mt


def _matches(p: dict[str, Any], want: Platform) -> bool:
    if p.get("os") != want.os or p.get("architecture") != want.architecture:
        return False
    variant = p.get("variant", "")
    if want.architecture == "arm64":
        return variant in ("", "v8")
    return not want.variant or variant in ("", want.variant)


def select_manifest(index: dict[str, Any], want: Platform) -> dict[str, Any]:
    """The descriptor of the image manifest for ``want`` in an index / manifest list."""
    entries = [d for d in index.get("manifests") or [] if isinstance(d, dict)]
    for d in entries:
        if _matches(d.get("platform") or {}, want):
            return d
    # single-entry indexes without platform (e.g. some oci-archive layouts)
    plain = [
        d for d in entries if not d.get("platform") and d.get("mediaType", OCI_MANIFEST) in MANIFEST_TYPES
    ]
    if len(entries) == 1 and plain:
        return plain[0]
    raise ImagePullError(
        f"no match for platform in manifest: no manifest for {want} in the index", "NotFound"
    )


def image_record(
    manifest_digest: str,
    manifest: dict[str, Any],
    config_digest: str,
    config: dict[str, Any],
    *,
    names: list[str] | None = None,
    repo_digests: list[str] | None = None,
) -> ImageRecord:
    """An ``ImageRecord`` for a manifest and its (verified) config."""
    descriptors = manifest.get("layers") or []
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(descriptors):
        raise ImagePullError(
            f"invalid image: {len(descriptors)} layers in the manifest, {len(diff_ids)} diff_ids in the config",
            "InvalidImage",
        )
    layers = [
        LayerRecord(
            digest=d["digest"], diff_id=diff, size=int(d.get("size", 0)), media_type=d.get("mediaType", "")
        )
        for d, diff in zip(descriptors, diff_ids, strict=True)
    ]
    size = int((manifest.get("config") or {}).get("size", 0)) + sum(layer.size for layer in layers)
    return ImageRecord(
        id=config_digest,
        manifest_digest=manifest_digest,
        layers=layers,
        config=config,
        size=size,
        names=list(names or []),
        repo_digests=list(repo_digests or []),
        created=str(config.get("created") or ""),
    )


def runtime_config(config: dict[str, Any]) -> dict[str, Any]:
    """The image config's ``config`` section with the fields the pod worker reads always present:
    Entrypoint, Cmd, Env (lists), WorkingDir, User (strings), ExposedPorts (dict)."""
    c = dict(config.get("config") or {})
    for key in ("Entrypoint", "Cmd", "Env"):
        c[key] = list(c.get(key) or [])
    for key in ("WorkingDir", "User"):
        c[key] = str(c.get(key) or "")
    c["ExposedPorts"] = dict(c.get("ExposedPorts") or {})
    return c
