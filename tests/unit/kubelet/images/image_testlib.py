"""Build layer tars, OCI layouts and docker-save archives in tests (no external tools)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    name: str
    kind: str = "file"  # file, dir, symlink, hardlink
    data: bytes = b""
    mode: int = 0o644
    link: str = ""


def layer_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.mtime = 1_000_000
            ti.mode = e.mode
            if e.kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = e.mode if e.mode != 0o644 else 0o755
                tar.addfile(ti)
            elif e.kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e.link
                tar.addfile(ti)
            elif e.kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e.link
                tar.addfile(ti)
            else:
                ti.size = len(e.data)
                tar.addfile(ti, io.BytesIO(e.data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


@dataclass
class BuiltImage:
    layers: list[bytes]  # uncompressed tars
    config: bytes
    manifest: bytes
    compressed: list[bytes] = field(default_factory=list)

    @property
    def config_digest(self) -> str:
        return sha(self.config)

    @property
    def manifest_digest(self) -> str:
        return sha(self.manifest)


def build_image(
    layers: list[list[Entry]], cmd: list[str] | None = None, env: list[str] | None = None
) -> BuiltImage:
    tars = [layer_tar(e) for e in layers]
    blobs = [gz(t) for t in tars]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": cmd or ["sh"], "Env": env or ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in tars]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(b), "size": len(b)}
                for b in blobs
            ],
        }
    ).encode()
    return BuiltImage(layers=tars, config=config, manifest=manifest, compressed=blobs)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tar.addfile(ti, io.BytesIO(data))


def write_oci_archive(path: Path, image: BuiltImage, name: str | None = None, platform: bool = True) -> None:
    desc: dict[str, object] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": image.manifest_digest,
        "size": len(image.manifest),
    }
    if platform:
        desc["platform"] = {"architecture": "amd64", "os": "linux"}
    if name:
        desc["annotations"] = {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": "latest",
        }
    index = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", index)
        for blob in (image.config, image.manifest, *image.compressed):
            _add(tar, f"blobs/sha256/{sha(blob)[7:]}", blob)


def write_docker_archive(path: Path, image: BuiltImage, tags: list[str]) -> None:
    layer_names = [f"{sha(t)[7:]}/layer.tar" for t in image.layers]
    manifest = json.dumps(
        [{"Config": f"{image.config_digest[7:]}.json", "RepoTags": tags, "Layers": layer_names}]
    ).encode()
    with tarfile.open(path, "w") as tar:
        _add(tar, "manifest.json", manifest)
        _add(tar, f"{image.config_digest[7:]}.json", image.config)
        for n, t in zip(layer_names, image.layers, strict=True):
            _add(tar, n, t)
