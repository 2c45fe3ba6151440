"""A pod's network, IPC and UTS namespaces without a pause process (as CRI-O's ``pinns``).

``pin_namespaces`` makes the namespaces a sandbox needs and keeps them alive
by bind-mounting their ``/proc/thread-self/ns/*`` files onto paths (the netns
under ``/var/run/netns`` as ``ip netns add`` does, IPC and UTS in the
sandbox directory): the hostname is set in the new UTS namespace and ``lo``
brought up in the new network namespace. Containers join them by path;
unmounting the paths (``mounts.umount``) frees them once no container is left.

It costs a thread and a few system calls instead of two ``ip`` processes, a
shim and a ``runc run`` of a pause container (~55 ms of CPU per pod).
``unshare(2)`` of these namespaces affects only the calling thread, so the
work runs on a thread of its own that ends afterwards: a pooled thread would
go back to the pool inside the pod's namespaces.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import threading

from kubelite.kubelet.runtime import mounts
from kubelite.kubelet.runtime.interface import RuntimeFailure

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise RuntimeFailure(f"{what}: {os.strerror(ctypes.get_errno())}")


def shared_mount_dir(path: str) -> None:
    """``path`` as a shared mount point (what ``ip netns add`` makes of /var/run/netns), so
    namespaces pinned there are seen in mount namespaces made later."""
    os.makedirs(path, exist_ok=True)
    if _libc.mount(b"", path.encode(), b"none", MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != 22:  # EINVAL: not a mount point yet
        _check(-1, f"mount --make-shared {path}")
    _check(_libc.mount(path.encode(), path.encode(), b"none", MS_BIND | MS_REC, None), f"bind {path}")
    _check(_libc.mount(b"", path.encode(), b"none", MS_SHARED | MS_REC, None), f"mount --make-shared {path}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _pin(kinds: dict[str, str], hostname: str) -> None:
    flags = 0
    for kind in kinds:
        flags |= {"net": CLONE_NEWNET, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC}[kind]
    _check(_libc.unshare(flags), "unshare")
    if "uts" in kinds and hostname:
        name = hostname.encode()
        _check(_libc.sethostname(name, len(name)), "sethostname")
    if "net" in kinds:
        _loopback_up()
    tid = threading.get_native_id()
    for kind, target in kinds.items():
        with open(target, "x"):
            pass
        mounts.mount(f"/proc/self/task/{tid}/ns/{kind}", target, "none", MS_BIND)


def pin_namespaces(kinds: dict[str, str], hostname: str = "") -> None:
    """New namespaces of ``kinds`` (``net``, ``uts``, ``ipc`` -> the path to pin each at,
    which must not exist), ``hostname`` set in a new UTS namespace and ``lo`` up in a new
    network namespace. Blocking (a thread of its own, joined). On failure, what was pinned
    is unmounted and removed again."""
    if not kinds:
        return
    error: list[BaseException] = []

    def run() -> None:
        try:
            _pin(kinds, hostname)
        except BaseException as e:  # handed to the caller
            error.append(e)

    thread = threading.Thread(target=run, name="kubelite-pinns", daemon=True)
    thread.start()
    thread.join()
    if error:
        unpin(list(kinds.values()))
        e = error[0]
        raise e if isinstance(e, RuntimeFailure) else RuntimeFailure(f"pinning namespaces: {e}")


def unpin(paths: list[str]) -> None:
    """Unmount and remove pinned namespace files (missing ones are fine)."""
    for path in paths:
        mounts.umount(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


__all__ = ["pin_namespaces", "shared_mount_dir", "unpin"]
