"""Give the calling thread its name at the OS level too, so that ``top -H``, ``ps -L`` and
``/proc/<pid>/task/<tid>/comm`` tell kubelite's threads apart (Python 3.11 names threads
only for itself). Best effort: Linux only, and names are cut to the kernel's 15 bytes."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_PR_SET_NAME = 15

_libc = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform == "linux"
    else None
)


def name_os_thread(name: str) -> None:
    if _libc is not None:
        _libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
