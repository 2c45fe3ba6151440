"""Apply image layers (tar, tar+gzip, tar+zstd when ``zstandard`` is installed) to directories.

Two modes, chosen by what the store can do on its filesystem:

- ``overlay``: each layer is unpacked on its own into an empty directory, to be
  an overlayfs lower dir. OCI whiteouts become overlayfs ones: ``.wh.name`` a
  character device 0:0 named ``name``, ``.wh..wh..opq`` the
  ``trusted.overlay.opaque=y`` xattr on its directory. Needs CAP_MKNOD and
  CAP_SYS_ADMIN (root).
- ``flat``: layers are applied one over the other into one directory and the
  whiteouts are resolved there (the file below is deleted, an opaque directory
  loses what lower layers put in it). For the process runtime without root.

Entries never escape the target directory: ``..`` is refused and symlinks met
on the way to an entry are resolved as if the directory were the root.
The uncompressed stream is hashed on the way through: that is the layer's diffID.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Literal

from kubelite.kubelet.images.errors import DigestMismatch, ImagePullError

UnpackMode = Literal["overlay", "flat"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
CHUNK = 1 << 20
_MAX_SYMLINKS = 40


@dataclass
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # bytes of regular files written


class _HashingReader(io.RawIOBase):
    """Reads through ``inner`` and hashes every byte read."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.hash.update(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def decompressed(raw: BinaryIO) -> BinaryIO:
    """``raw`` uncompressed, whatever its compression (detected by magic bytes)."""
    head = raw.read(4)
    raw.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImagePullError(
                "zstd-compressed layers need the zstandard module (pip install zstandard)", "Unsupported"
            ) from e
        return zstandard.ZstdDecompressor().stream_reader(raw)  # type: ignore[no-any-return]
    return raw


def apply_layer(
    raw: BinaryIO, dest: str, mode: UnpackMode, expected_diff_id: str | None = None
) -> UnpackResult:
    """Apply the layer read from ``raw`` to ``dest`` (which exists). Raises ``DigestMismatch`` when
    the uncompressed content does not hash to ``expected_diff_id``; ``dest`` is then half-written
    and the caller throws it away."""
    reader = _HashingReader(decompressed(raw))
    applier = _Applier(dest, mode)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                applier.apply(tar, member)
        reader.drain()
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise
        raise ImagePullError(f"invalid layer archive: {e}", "InvalidImage") from e
    applier.finish()
    diff_id = "sha256:" + reader.hash.hexdigest()
    if expected_diff_id and diff_id != expected_diff_id:
        raise DigestMismatch(f"layer content has diffID {diff_id}, the image config says {expected_diff_id}")
    return UnpackResult(diff_id=diff_id, size=applier.size)


def diff_id_of(raw: BinaryIO) -> str:
    """The diffID of a layer blob without unpacking it."""
    reader = _HashingReader(decompressed(raw))
    reader.drain()
    return "sha256:" + reader.hash.hexdigest()


def _clean_name(name: str) -> str:
    parts: list[str] = []
    for p in name.replace("\\", "/").split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise ImagePullError(f"invalid layer archive: entry {name!r} leaves the root", "InvalidImage")
        parts.append(p)
    return "/".join(parts)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class _Applier:
    def __init__(self, root: str, mode: UnpackMode) -> None:
        self.root = os.path.abspath(root)
        self.mode = mode
        self.is_root = os.geteuid() == 0
        self.created: set[str] = set()  # relative paths this layer wrote (an opaque dir keeps them)
        self.dir_times: dict[str, float] = {}
        self.size = 0

    # --- paths ---
    def _resolve_dir(self, rel: str, create: bool = True) -> str:
        """The real directory for the relative directory path ``rel``, following symlinks inside
        the root (absolute targets are taken from the root), creating what is missing."""
        stack: list[str] = []
        queue = [p for p in rel.split("/") if p]
        links = 0
        while queue:
            comp = queue.pop(0)
            if comp in ("", "."):
                continue
            if comp == "..":
                if stack:
                    stack.pop()
                continue
            candidate = os.path.join(self.root, *stack, comp)
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(candidate, 0o755)
                stack.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_SYMLINKS:
                    raise ImagePullError(
                        f"invalid layer archive: too many symlinks in {rel!r}", "InvalidImage"
                    )
                target = os.readlink(candidate)
                if target.startswith("/"):
                    stack = []
                queue[:0] = [p for p in target.split("/") if p]
                continue
            if not stat.S_ISDIR(st.st_mode):
                if not create:
                    raise NotADirectoryError(candidate)
                os.unlink(candidate)
                os.mkdir(candidate, 0o755)
            stack.append(comp)
        return os.path.join(self.root, *stack)

    def _place(self, name: str) -> str:
        """The real path for a cleaned entry name (its parent resolved inside the root)."""
        parent_rel, _, base = name.rpartition("/")
        return os.path.join(self._resolve_dir(parent_rel), base)

    # --- entries ---
    def apply(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = _clean_name(m.name)
        if not name:  # the root itself
            if m.isdir():
                self._attrs(self.root, m)
                self.dir_times[self.root] = m.mtime
            return
        parent_rel, _, base = name.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent_rel, base)
            return
        path = self._place(name)
        try:
            existing = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if existing is not None and not (m.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(path)
        if m.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(path, 0o700)
        elif m.isreg():
            src = tar.extractfile(m)
            assert src is not None
            with open(path, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            self.size += m.size
        elif m.issym():
            os.symlink(m.linkname, path)
        elif m.islnk():
            target_name = _clean_name(m.linkname)
            tpath = self._place(target_name)
            if not os.path.lexists(tpath):
                raise ImagePullError(
                    f"invalid layer archive: hard link {name!r} to missing {m.linkname!r}", "InvalidImage"
                )
            os.link(tpath, path, follow_symlinks=False)
        elif m.ischr() or m.isblk():
            if not self.is_root:
                return  # device nodes need root; the process runtime uses the host's /dev anyway
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(path, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
        elif m.isfifo():
            os.mkfifo(path, m.mode & 0o7777)
        else:
            return
        self.created.add(name)
        self._attrs(path, m)
        if m.isdir():
            self.dir_times[path] = m.mtime

    def _attrs(self, path: str, m: tarfile.TarInfo) -> None:
        symlink = m.issym()
        if self.is_root:
            try:
                os.chown(path, m.uid, m.gid, follow_symlinks=False)
            except OSError:
                pass
            for key, value in (m.pax_headers or {}).items():
                if key.startswith("SCHILY.xattr."):
                    try:
                        os.setxattr(
                            path,
                            key[len("SCHILY.xattr.") :],
                            value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False,
                        )
                    except OSError:
                        pass
        if not symlink and not m.islnk():
            mode = m.mode & 0o7777
            if m.isdir() and not self.is_root:
                mode |= 0o700  # without root we must still write into it and remove it later
            os.chmod(path, mode)
        if not m.isdir() and not m.islnk():
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)

    def _whiteout(self, parent_rel: str, base: str) -> None:
        parent = self._resolve_dir(parent_rel)
        if base == OPAQUE_WHITEOUT:
            if self.mode == "overlay":
                os.setxattr(parent, OPAQUE_XATTR, b"y")
            else:
                prefix = f"{parent_rel}/" if parent_rel else ""
                for child in os.listdir(parent):
                    if prefix + child not in self.created:
                        _remove(os.path.join(parent, child))
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk ...): nothing to do
        target = os.path.join(parent, base[len(WHITEOUT_PREFIX) :])
        _remove(target)
        if self.mode == "overlay":
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))

    def finish(self) -> None:
        # children changed the directories' mtimes: set them last, deepest first
        for path in sorted(self.dir_times, key=len, reverse=True):
            mtime = self.dir_times[path]
            try:
                os.utime(path, (mtime, mtime))
            except OSError:
                pass


def can_overlay(probe_dir: str) -> bool:
    """Whether whiteouts can be written as overlayfs wants them in ``probe_dir``'s filesystem."""
    if os.geteuid() != 0:
        return False
    os.makedirs(probe_dir, exist_ok=True)
    dev = os.path.join(probe_dir, f".probe-{os.getpid()}")
    try:
        os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        os.setxattr(probe_dir, OPAQUE_XATTR, b"y")
        os.removexattr(probe_dir, OPAQUE_XATTR)
        return True
    except OSError:
        return False
    finally:
        try:
            os.unlink(dev)
        except OSError:
            pass
