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
  removed at stop, so only this user reaches it at all; the token is required
  on it as on the TLS port (where Kubernetes accepts its loopback token too).

They remain ordinary clients of the HTTP API: only the transport differs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field

from kubelite.apiserver.auth.authn import UserInfo, authenticated

LOOPBACK_USER = "system:apiserver"
LOOPBACK_GROUPS = ("system:masters",)
SOCKET_NAME = "api.sock"


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

    def open(self) -> str:
        """A fresh private directory (0700) for the socket, in the temporary directory: the
        data dir's path may be too long for a socket address (108 bytes). The socket path."""
        if not self.directory:
            self.directory = tempfile.mkdtemp(prefix="kubelite-api-")
        return self.socket_path

    def close(self) -> None:
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""
