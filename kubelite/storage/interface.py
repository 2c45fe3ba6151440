"""The Store protocol: a key-value log with revisions and watch.

Every backend (sqlite, memory, etcd) implements this contract, and one
parametrised test suite runs against each. The API server is the only user.

The model is etcd's (and kine's): one global, strictly increasing revision
counts every write; each key remembers the revision that created it and the
revision that last modified it. ``resourceVersion`` in the API is the
modifying revision. Values are opaque bytes (encoded JSON in practice); the
store never looks inside them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


class StoreError(Exception):
    """Base class of every error a store raises on purpose."""


class KeyExistsError(StoreError):
    """create() of a key that already has a live value."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    """update()/delete() of a key with no live value."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StoreError):
    """The key's mod revision is not the one the caller expected.

    ``current`` is the live value at the time of the check, so callers can
    retry (patch does) without another round trip.
    """

    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"conflict on {key}: now at revision {current.mod_revision}")
        self.key = key
        self.current = current


class CompactedError(StoreError):
    """A read or watch asked for a revision older than the compaction point.

    The API answers this with 410 Gone (reason Expired).
    """

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} is compacted (oldest available {compacted + 1})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StoreError):
    """A read at a revision the store has not reached yet."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class WatchOverflowError(StoreError):
    """A watcher fell too far behind and its watch was ended.

    Each watch buffers at most ``limit`` undelivered events so that a slow
    consumer can never hold up writers or other watchers. When the buffer is
    full the watch ends with this error; the API server closes the watch
    stream and the client re-lists (as after a 410 from Kubernetes).
    """

    def __init__(self, prefix: str, limit: int) -> None:
        super().__init__(f"watch on {prefix!r} fell more than {limit} events behind")
        self.prefix = prefix
        self.limit = limit


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One live value: what get() and list() return."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of keys in key order, read at one revision.

    ``revision`` is the store revision the page was read at (the list's
    resourceVersion); ``more`` says whether keys after the last one exist at
    that revision, so the caller can hand out a continue token.
    """

    items: list[KeyValue]
    revision: int
    more: bool


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change to one key.

    ``type`` is ADDED for a create, MODIFIED for an update and DELETED for a
    delete. ``revision`` is the revision of the change. ``value`` is the new
    value (for DELETED: the last value the key had); ``prev_value`` is the
    value before the change (None for ADDED).
    """

    type: Literal["ADDED", "MODIFIED", "DELETED"]
    key: str
    value: bytes
    revision: int
    create_revision: int
    prev_value: bytes | None = None


@runtime_checkable
class Store(Protocol):
    """The storage contract. All methods are coroutine-safe.

    Every write is atomic and, once its coroutine returns, durable (it
    survives SIGKILL of the process). A failed write changes nothing. Writes
    get strictly increasing revisions; reads see every write that returned
    before the read started.
    """

    async def get(self, key: str) -> KeyValue | None:
        """The live value of ``key``, or None."""
        ...

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start_after: str | None = None,
        limit: int = 0,
    ) -> ListResult:
        """Live keys under ``prefix`` in key order.

        ``revision`` 0 reads the newest state; a positive revision reads the
        state as it was right after that revision (CompactedError if that
        history is gone, FutureRevisionError if not reached yet).
        ``start_after`` skips keys up to and including it; ``limit`` 0 means
        no limit.
        """
        ...

    async def count(self, prefix: str) -> int:
        """How many live keys are under ``prefix``."""
        ...

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; return its revision. KeyExistsError if live."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace a live key if its mod revision is ``expected_revision``.

        Returns the new revision. KeyNotFoundError if the key is not live,
        ConflictError if its revision differs.
        """
        ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete a live key; return its last value with ``mod_revision`` set
        to the revision of the delete. KeyNotFoundError / ConflictError as
        for update; ``expected_revision`` None deletes unconditionally."""
        ...

    def watch(self, prefix: str, *, revision: int) -> AsyncIterator[WatchEvent]:
        """Every change under ``prefix`` with a revision greater than
        ``revision``, in revision order: first those already in the log, then
        new ones as they happen, until the consumer stops iterating.

        Raises CompactedError (on first iteration) if ``revision`` is older
        than the compaction point (``revision`` equal to it is fine: every
        change after it still exists). Raises WatchOverflowError if the
        consumer falls more than the store's queue bound behind. The watch
        ends quietly when the store is closed. Stopping iteration (or
        cancelling the consuming task) releases the subscription.
        """
        ...

    async def current_revision(self) -> int:
        """The revision of the newest write (0 for an empty store)."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at and before ``revision``: superseded values and
        deletions become unreadable. Live values are always kept.

        Idempotent: compacting at or below the current compaction point does
        nothing. FutureRevisionError if ``revision`` is ahead of the store.
        Afterwards list() at ``revision`` or older raises CompactedError, and
        so does watch() from a revision older than ``revision``. The
        compaction point survives a restart.
        """
        ...

    async def maintain(self) -> None:
        """Housekeeping loop; runs until cancelled.

        Periodically compacts everything but the newest window of revisions
        and (for file-backed stores) checkpoints and truncates the
        write-ahead log. Interval and window are constructor arguments of
        each backend. Cancelling it is the way to stop it and is always safe:
        each compaction step is its own transaction.
        """
        ...

    @property
    def compacted_revision(self) -> int:
        """The newest revision compacted away (0 if none)."""
        ...

    def stats(self) -> dict[str, float]:
        """Numbers for /metrics, e.g. ``db_size_bytes``, ``slow_queries_total``."""
        ...

    async def close(self) -> None:
        """Flush and release resources; the store is unusable afterwards."""
        ...


# ------------------------------------------------------- shared by the backends

DEFAULT_COMPACT_INTERVAL = 300.0  # seconds between maintain()'s compactions
DEFAULT_COMPACT_WINDOW = 1000  # revisions maintain() keeps behind the newest


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``
    (None when there is none, i.e. the empty prefix)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None
