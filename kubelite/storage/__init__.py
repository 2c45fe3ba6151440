"""Storage backends behind the Store protocol (see interface.py).

``open_store(spec, data_dir)`` picks a backend by the ``--store`` setting:
``sqlite`` (the default: ``data_dir/db/state.db``), ``memory`` (tests, no
durability) or ``etcd://host:2379,...`` (not implemented yet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .interface import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    Store,
    StoreError,
    WatchEvent,
    WatchOverflowError,
)

__all__ = [
    "CompactedError",
    "ConflictError",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "Store",
    "StoreError",
    "WatchEvent",
    "WatchOverflowError",
    "open_store",
]


def open_store(spec: str, data_dir: Path, **options: Any) -> Store:
    """Open the store named by ``spec``; ``options`` go to the backend's
    constructor (e.g. ``compact_interval``, ``compact_window``).

    The sqlite store opens its file and loads its live index here, which
    blocks briefly: call this at startup or through ``asyncio.to_thread``.
    """
    if spec == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(Path(data_dir) / "db" / "state.db", **options)
    if spec == "memory":
        from .memory import MemoryStore

        return MemoryStore(**options)
    if spec.startswith("etcd://"):
        raise NotImplementedError(f"the etcd store backend is not implemented yet (store spec {spec!r})")
    raise ValueError(f"unknown store {spec!r}: expected 'sqlite', 'memory' or 'etcd://host:port,...'")
