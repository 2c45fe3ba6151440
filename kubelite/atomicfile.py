"""Files written whole or not at all, with the mode asked for: keys, certificates, kubeconfigs.

The API server's PKI (``apiserver.auth.certs``) and the node agent's
certificates (``kubelet.certificates``) both keep secrets on disk. A reader
must never see half a file, and a private key must never be readable by
others, not even for a moment and whatever the umask. Both layers need this
and neither may import the other, so it lives here, beside them, importing
nothing of kubelite.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` (mode ``mode``) in one rename: a reader finds the old
    content or the new, never a mix; a failure leaves the old file and no temporary one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; this is not
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """``write_atomic`` with mode 0600: for keys and anything holding credentials."""
    write_atomic(path, data, 0o600)
