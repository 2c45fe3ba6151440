"""Layers unpack with OCI whiteouts turned into overlayfs ones, or resolved by flattening."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from image_testlib import Entry, gz, layer_tar, sha

from kubelite.kubelet.images.errors import DigestMismatch, ImagePullError
from kubelite.kubelet.images.unpack import OPAQUE_XATTR, apply_layer, can_overlay

LOWER = [
    Entry("etc", "dir"),
    Entry("etc/a", data=b"a"),
    Entry("etc/b", data=b"b"),
    Entry("opt", "dir"),
    Entry("opt/x", data=b"x"),
    Entry("opt/sub", "dir"),
    Entry("opt/sub/y", data=b"y"),
    Entry("keep", "dir"),
    Entry("keep/k", data=b"k"),
    Entry("bin/tool", data=b"#!tool", mode=0o755),  # parent without an entry of its own
    Entry("bin/tool2", "hardlink", link="bin/tool"),
]
UPPER = [
    Entry("etc/.wh.a"),
    Entry("opt/z", data=b"z"),  # before the opaque marker: this layer's own content stays
    Entry("opt/.wh..wh..opq"),
    Entry("keep/k2", data=b"k2"),
    Entry("lnk", "symlink", link="/etc"),
    Entry("lnk/c", data=b"through the link"),  # lands in <root>/etc/c, never the host's /etc
    Entry("./keep/./k3", data=b"k3"),
]


def _apply(dest: Path, entries: list[Entry], mode: str, compress: bool = True) -> str:
    tar = layer_tar(entries)
    blob = gz(tar) if compress else tar
    result = apply_layer(io.BytesIO(blob), str(dest), mode, sha(tar))  # type: ignore[arg-type]
    assert result.diff_id == sha(tar)
    return result.diff_id


def test_flat_resolves_whiteouts(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    _apply(root, LOWER, "flat")
    _apply(root, UPPER, "flat", compress=False)
    assert sorted(os.listdir(root / "etc")) == ["b", "c"]
    assert (root / "etc/c").read_bytes() == b"through the link"
    assert os.readlink(root / "lnk") == "/etc"
    assert sorted(os.listdir(root / "opt")) == ["z"]
    assert sorted(os.listdir(root / "keep")) == ["k", "k2", "k3"]
    assert os.stat(root / "bin/tool").st_ino == os.stat(root / "bin/tool2").st_ino
    assert os.stat(root / "bin/tool").st_mode & 0o777 == 0o755
    assert os.stat(root / "etc/b").st_mtime == 1_000_000
    assert not Path("/etc/c").exists() or Path("/etc/c").read_bytes() != b"through the link"


def test_overlay_whiteouts(tmp_path: Path) -> None:
    if not can_overlay(str(tmp_path / "probe")):
        pytest.skip("overlayfs whiteouts need root (mknod 0:0 and trusted.* xattrs)")
    lower, upper = tmp_path / "l1", tmp_path / "l2"
    lower.mkdir()
    upper.mkdir()
    _apply(lower, LOWER, "overlay")
    _apply(upper, UPPER, "overlay")
    st = os.lstat(upper / "etc/a")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(upper / "opt", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(upper / "opt")) == ["z"]
    assert sorted(os.listdir(lower / "opt")) == ["sub", "x"]  # the lower layer is untouched
    assert (upper / "etc/c").read_bytes() == b"through the link"


def test_diff_id_mismatch(tmp_path: Path) -> None:
    with pytest.raises(DigestMismatch):
        apply_layer(io.BytesIO(gz(layer_tar(LOWER))), str(tmp_path), "flat", "sha256:" + "0" * 64)


def test_entries_cannot_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ImagePullError, match="leaves the root"):
        apply_layer(io.BytesIO(layer_tar([Entry("../evil", data=b"x")])), str(root), "flat")
    assert not (tmp_path / "evil").exists()
    # a relative symlink climbing out is clamped at the root
    apply_layer(
        io.BytesIO(layer_tar([Entry("up", "symlink", link="../../.."), Entry("up/escaped", data=b"x")])),
        str(root),
        "flat",
    )
    assert (root / "escaped").read_bytes() == b"x"
    assert not (tmp_path / "escaped").exists()


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(ImagePullError, match="invalid layer archive"):
        apply_layer(io.BytesIO(gz(b"not a tar" * 100)), str(tmp_path), "flat")
