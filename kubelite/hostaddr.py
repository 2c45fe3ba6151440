"""This machine's own address: what other machines reach it at."""

from __future__ import annotations

import contextlib
import socket


def primary_ipv4() -> str:
    """The address of the interface with the default route (a UDP connect sends nothing),
    else 127.0.0.1."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))
        ip: str = s.getsockname()[0]
        return ip
    return "127.0.0.1"
