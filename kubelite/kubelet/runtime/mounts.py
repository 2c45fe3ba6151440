"""mount(2) and umount2(2) for container root filesystems and pod ``/dev/shm`` (root only)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess

from kubelite.kubelet.runtime.interface import RuntimeFailure

MNT_DETACH = 2
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MAX_MOUNT_DATA = 4000  # mount(2) takes one page of options; longer overlay options go relative

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise RuntimeFailure(f"mount {fstype} on {target}: {os.strerror(err)}")


def umount(target: str) -> None:
    """Lazily unmount ``target``; not mounted is fine."""
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise RuntimeFailure(f"umount {target}: {os.strerror(err)}")


def mount_points(under: str) -> list[str]:
    """Mount points at or below ``under``, deepest first."""
    under = os.path.abspath(under)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == under or point.startswith(under + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def mount_overlay(target: str, layers: list[str], upper: str, work: str) -> None:
    """overlayfs of ``layers`` (lowest first) with a writable ``upper`` at ``target``.

    Very long lower-dir lists are passed relative to their common parent, from a
    ``mount`` process started there (mount(2) options are limited to a page).
    """
    lower = ":".join(reversed(layers))
    data = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(data) <= MAX_MOUNT_DATA:
        mount("overlay", target, "overlay", 0, data)
        return
    base = os.path.commonpath([*layers, upper, work])
    rel = [os.path.relpath(p, base) for p in layers]
    data = f"lowerdir={':'.join(reversed(rel))},upperdir={os.path.relpath(upper, base)},workdir={os.path.relpath(work, base)}"
    done = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", data, target], cwd=base, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeFailure(f"mount overlay on {target}: {done.stderr.strip()}")
