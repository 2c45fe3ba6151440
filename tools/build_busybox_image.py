#!/usr/bin/env python3
"""Build an OCI image archive of busybox from Debian's busybox-static, for offline clusters and tests.

    python tools/build_busybox_image.py [--busybox /bin/busybox] [--output .build/busybox-oci.tar]

The image has one layer: /bin/busybox, a symlink in /bin for every applet it
lists (``busybox --list``), the usual top-level directories, and a minimal
/etc/passwd and /etc/group; its config runs ``sh`` with the usual PATH. Every
timestamp is fixed and every list sorted, so the same busybox binary always
gives the same digests. The archive is an OCI image layout in a tar (what
``skopeo copy oci-archive:`` and ``kubelite image import`` read), named
``docker.io/library/busybox:latest``. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import struct
import subprocess
import sys
import tarfile
import tempfile

IMAGE_NAME = "docker.io/library/busybox:latest"
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o555,
    "root": 0o700,
    "sys": 0o555,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
    "var/spool": 0o755,
    "var/spool/mail": 0o755,
    "var/www": 0o755,
}
FILES = {
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "bin:x:2:2:bin:/bin:/bin/false\n"
        "sys:x:3:3:sys:/dev:/bin/false\n"
        "sync:x:4:100:sync:/bin:/bin/sync\n"
        "mail:x:8:8:mail:/var/spool/mail:/bin/false\n"
        "www-data:x:33:33:www-data:/var/www:/bin/false\n"
        "operator:x:37:37:Operator:/var:/bin/false\n"
        "nobody:x:65534:65534:nobody:/home:/bin/false\n"
    ),
    "etc/group": (
        "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\n"
        "mail:x:8:\nwww-data:x:33:\noperator:x:37:\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n"
    ),
}


def is_static_elf(path: str) -> bool:
    """An ELF file without a program interpreter (PT_INTERP) needs no dynamic loader."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return False
        is64, little = ident[4] == 2, ident[5] == 1
        end = "<" if little else ">"
        f.seek(0)
        header = f.read(64 if is64 else 52)
        if is64:
            phoff, phentsize, phnum = (
                struct.unpack_from(end + "Q", header, 32)[0],
                *struct.unpack_from(end + "HH", header, 54),
            )
        else:
            phoff, phentsize, phnum = (
                struct.unpack_from(end + "I", header, 28)[0],
                *struct.unpack_from(end + "HH", header, 42),
            )
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            (p_type,) = struct.unpack(end + "I", f.read(4))
            if p_type == 3:  # PT_INTERP
                return False
    return True


def _info(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = EPOCH
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def build_layer(busybox: str, applets: list[str]) -> bytes:
    """The uncompressed layer tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
        for d, mode in DIRS.items():
            entries.append((d, _info(d + "/", tarfile.DIRTYPE, mode), None))
        with open(busybox, "rb") as f:
            data = f.read()
        entries.append(("bin/busybox", _info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), data))
        for applet in applets:
            if applet != "busybox":
                entries.append(
                    (
                        f"bin/{applet}",
                        _info(f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox"),
                        None,
                    )
                )
        for name, text in FILES.items():
            content = text.encode()
            entries.append((name, _info(name, tarfile.REGTYPE, 0o644, len(content)), content))
        for _name, ti, body in sorted(entries, key=lambda e: e[0]):
            tar.addfile(ti, io.BytesIO(body) if body is not None else None)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def _json(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_archive(busybox: str, output: str) -> str:
    """Write the archive; returns the manifest digest."""
    if not os.path.isfile(busybox):
        raise SystemExit(f"{busybox} not found: install busybox-static (apt-get install busybox-static)")
    if not is_static_elf(busybox):
        raise SystemExit(f"{busybox} is dynamically linked: install busybox-static, not busybox")
    listing = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    applets = sorted({a.strip() for a in listing.split() if a.strip() and "/" not in a})
    version = subprocess.run([busybox], capture_output=True, text=True).stdout.split("\n", 1)[0].strip()
    layer_tar = build_layer(busybox, applets)
    layer = _gzip(layer_tar)
    created = datetime.datetime.fromtimestamp(EPOCH, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    arch = ARCH.get(platform.machine(), platform.machine())
    config = _json(
        {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
            "history": [{"created": created, "created_by": f"tools/build_busybox_image.py: {version}"}],
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    )
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": IMAGE_NAME,
                        "org.opencontainers.image.ref.name": "latest",
                    },
                }
            ],
        }
    )
    files: list[tuple[str, bytes]] = [
        ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ("index.json", index),
    ]
    files += sorted((f"blobs/sha256/{_digest(b)[7:]}", b) for b in (config, manifest, layer))
    out_dir = os.path.dirname(os.path.abspath(output))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".busybox-oci.")
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar,
        ):
            for d in ("blobs/", "blobs/sha256/"):
                tar.addfile(_info(d, tarfile.DIRTYPE, 0o755))
            for name, data in files:
                tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        os.unlink(tmp)
        raise
    return _digest(manifest)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--busybox", default="/bin/busybox", help="the static busybox binary (default /bin/busybox)"
    )
    p.add_argument("--output", default=".build/busybox-oci.tar", help="the archive to write")
    args = p.parse_args(argv)
    digest = build_archive(args.busybox, args.output)
    print(f"{args.output}: {IMAGE_NAME} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
