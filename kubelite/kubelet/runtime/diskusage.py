"""How much disk a tree of files takes, as ``du`` counts it."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def disk_usage(path: str | Path) -> int:
    """Bytes the tree at ``path`` occupies on disk (allocated blocks, a file with several hard
    links once, symlinks not followed, other filesystems mounted below it not counted); 0 if
    it is not there."""
    try:
        top = os.lstat(path)
    except OSError:
        return 0
    total = top.st_blocks * 512
    if not stat.S_ISDIR(top.st_mode):
        return total
    pending = [str(path)]
    linked: set[int] = set()  # inodes with several names, counted once
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError), os.scandir(current) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if st.st_dev != top.st_dev:
                        continue
                    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                        if st.st_ino in linked:
                            continue
                        linked.add(st.st_ino)
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        pending.append(entry.path)
    return total
