"""The API server's loopback: how the components in its own process reach it.

kube-apiserver gives its own in-process clients a *loopback client config*:
a random bearer token made at every start, which authenticates as
``system:apiserver`` in ``system:masters``, and never leaves the process.
kubelite does the same for the scheduler, controller manager and node agent
that ``kubelite server`` and ``kubelite up`` run beside the server, and
serves them on a Unix socket with plain HTTP rather than on the TLS port:

- TLS between two ends of one process protects nothing, yet costs both ends
  CPU on every request and every watch event (asyncio's TLS runs in Python),
  and ~5 ms per new connection, which the components open whenever they have
  more requests in flight than idle connections (a burst of pods);
- the socket lives in a directory of its own, mode 0700, made at start and
  removed at stop, so only this user reaches it at all. Requests on it are
  authenticated as on the TLS port (anonymous ones may read what anonymous
  users may read there), and the token is accepted on this socket only:
  nothing else has a use for it.

They remain ordinary clients of the HTTP API: only the transport differs.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import secrets
import shutil
import socket
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass, field

from kubelite.apiserver.auth.authn import UserInfo, authenticated

LOOPBACK_USER = "system:apiserver"
LOOPBACK_GROUPS = ("system:masters",)
SOCKET_NAME = "api.sock"
DIR_PREFIX = "kubelite-api-"
MAX_SOCKET_PATH = 107  # bytes in sockaddr_un.sun_path, less its terminating NUL
STALE_AFTER = 60.0  # seconds: a socket directory older than this whose socket answers no one


@dataclass
class Loopback:
    """The token and socket of one server run. ``open()`` makes the socket's directory;
    ``close()`` removes it (both blocking)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    directory: str = ""

    @property
    def socket_path(self) -> str:
        return os.path.join(self.directory, SOCKET_NAME) if self.directory else ""

    def user(self) -> UserInfo:
        return authenticated(UserInfo(LOOPBACK_USER, LOOPBACK_GROUPS, self.uid))

    def is_token(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def open(self) -> str:
        """A fresh private directory (0700) for the socket, and the socket's path. In the
        temporary directory (the data dir's path may be too long for a socket address), or
        in /tmp when even that one is too long; first removing what servers killed before
        they could clean up left there."""
        if not self.directory:
            base = tempfile.gettempdir()
            if len(os.fsencode(os.path.join(base, DIR_PREFIX + "x" * 8, SOCKET_NAME))) > MAX_SOCKET_PATH:
                base = "/tmp"
            remove_stale(base)
            self.directory = tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base)
        return self.socket_path

    def close(self) -> None:
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""


def remove_stale(base: str) -> None:
    """Remove this user's socket directories under ``base`` whose server is gone (killed, or
    ended by a second signal): older than a minute (so not one being set up right now) and
    with no socket, or one nobody listens on."""
    try:
        names = [n for n in os.listdir(base) if n.startswith(DIR_PREFIX)]
    except OSError:
        return
    now = time.time()
    for name in names:
        directory = os.path.join(base, name)
        try:
            st = os.lstat(directory)
        except OSError:
            continue
        if st.st_uid != os.geteuid() or not stat.S_ISDIR(st.st_mode) or now - st.st_mtime < STALE_AFTER:
            continue
        if not _listened_on(os.path.join(directory, SOCKET_NAME)):
            shutil.rmtree(directory, ignore_errors=True)


def _listened_on(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError as e:
            # refused or missing: nobody is there; anything else (a full backlog): leave it be
            return e.errno not in (errno.ECONNREFUSED, errno.ENOENT)
        with contextlib.suppress(OSError):
            probe.shutdown(socket.SHUT_RDWR)
        return True
