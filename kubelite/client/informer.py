"""Informers: a local, always-catching-up copy of one kind, with change callbacks.

An ``Informer`` lists a resource (in pages), then watches from the list's
resourceVersion with bookmarks. When a watch ends it reconnects from the
last version it saw; when the server says that version is gone (410), or a
watch keeps failing, it lists again and delivers the *differences* against
its cache as add/update/delete callbacks, including deletes of objects that
vanished while it was away (the handler gets the last object it knew: what
client-go calls DeletedFinalStateUnknown).

The cache is an ``Indexer``: objects by ``namespace/name`` key plus any
number of secondary indexes. Handlers are plain callables run on the loop
in the informer's task; they must not block (enqueue a key and return).

``SharedInformerFactory`` hands out one informer per (resource, namespace,
selectors) so that all controllers of a process share the caches.

``set_transform(fn)`` (before the informer starts, as client-go's
SetTransform) changes each object as it arrives, before it is cached or
handed to handlers; ``strip_managed_fields`` is the usual one: components
that never read ``metadata.managedFields`` (the scheduler) drop it, so that
the cache does not keep dozens of small objects per object that the
interpreter's cycle collector would walk again and again.

Everything is single-threaded asyncio: no locks, the cache is consistent
between awaits.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from kubelite.api.errors import StatusError
from kubelite.api.meta import PartialObjectMetadata
from kubelite.api.resources import Resource
from kubelite.client.clock import REAL_CLOCK, Clock, sleep_until_set
from kubelite.client.objects import meta_namespace_key, namespace_of, resource_version_of, split_key
from kubelite.client.rest import Client, ResourceClient, ResourceExpired, WatchStream

__all__ = [
    "Indexer",
    "Informer",
    "SharedInformerFactory",
    "meta_namespace_key",
    "namespace_index",
    "split_key",
    "strip_managed_fields",
]

log = logging.getLogger(__name__)


def strip_managed_fields(obj: Any) -> Any:
    """A transform that empties ``metadata.managedFields`` (typed objects and dicts alike)."""
    meta = obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)
    if isinstance(meta, dict):
        if meta.get("managedFields"):
            meta["managedFields"] = []
    elif meta is not None and getattr(meta, "managedFields", None):
        meta.managedFields = []
    return obj


IndexFunc = Callable[[Any], list[str]]
NAMESPACE_INDEX = "namespace"


def namespace_index(obj: Any) -> list[str]:
    """Index function: the object's namespace ("" for cluster-scoped)."""
    return [namespace_of(obj)]


class Indexer:
    """An in-memory store of objects keyed by ``namespace/name``, with secondary indexes.

    ``add_indexer(name, fn)`` registers ``fn(obj) -> [values]``; ``by_index(name,
    value)`` returns the objects whose ``fn`` yields ``value``. Indexes are kept
    up to date on every change. Objects are shared, not copied: treat them as
    read-only (copy with ``msgspec.structs.replace`` or ``copy.deepcopy`` before
    changing one).
    """

    def __init__(self, key_func: Callable[[Any], str] = meta_namespace_key) -> None:
        self.key_func = key_func
        self._items: dict[str, Any] = {}
        self._index_funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> Any | None:
        """The object at ``key`` or None."""
        return self._items.get(key)

    def get_by(self, namespace: str | None, name: str) -> Any | None:
        """The object ``namespace/name`` (or ``name`` when namespace is empty/None)."""
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> builtins.list[Any]:
        return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Register an index (existing objects are indexed at once). Re-registering replaces it."""
        self._index_funcs[name] = fn
        index: dict[str, set[str]] = {}
        self._indices[name] = index
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> builtins.list[Any]:
        """Objects whose index ``name`` yields ``value`` (KeyError for an unknown index)."""
        keys = self._indices[name].get(value, ())
        return [self._items[k] for k in sorted(keys)]

    def index_keys(self, name: str, value: str) -> builtins.list[str]:
        return sorted(self._indices[name].get(value, ()))

    def set(self, obj: Any) -> Any | None:
        """Store ``obj`` under its key; returns the object it replaced (or None)."""
        key = self.key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, fn in self._index_funcs.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def delete(self, key: str) -> Any | None:
        """Remove ``key``; returns the object removed (or None)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Any) -> None:
        for name, fn in self._index_funcs.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


@dataclass(slots=True)
class _Handler:
    on_add: Callable[[Any], object] | None
    on_update: Callable[[Any, Any], object] | None
    on_delete: Callable[[Any], object] | None


class Informer:
    """List + watch one resource into an ``Indexer`` and call handlers on changes.

    ``run()`` keeps the cache current until cancelled. ``has_synced`` turns
    true once the first full list is in the cache (and its add callbacks
    delivered). With ``resync_period`` > 0 every cached object is delivered
    to ``on_update(obj, obj)`` that often, so level-triggered controllers
    revisit everything now and then.
    """

    def __init__(
        self,
        client_resource: ResourceClient,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float = 0,
        clock: Clock = REAL_CLOCK,
        *,
        page_size: int = 500,
        watch_timeout: float | None = None,
        backoff_initial: float = 0.8,
        backoff_max: float = 30.0,
    ) -> None:
        self.resource = client_resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.clock = clock
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.indexer = Indexer()
        self.last_resource_version = ""
        self.relists = 0  # how many times the informer has listed (for tests and metrics)
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._watch: WatchStream | None = None
        self._running = False
        self._transform: Callable[[Any], Any] | None = None

    def __repr__(self) -> str:
        return f"Informer({self.resource.res.group_resource}, ns={self.namespace!r})"

    # ------------------------------------------------------------ cache views

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Return once the first list is in the cache."""
        await self._synced.wait()

    def get(self, key: str) -> Any | None:
        return self.indexer.get(key)

    def get_by(self, namespace: str | None, name: str) -> Any | None:
        return self.indexer.get_by(namespace, name)

    def list(self) -> builtins.list[Any]:
        return self.indexer.list()

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.indexer.add_indexer(name, fn)

    def by_index(self, name: str, value: str) -> builtins.list[Any]:
        return self.indexer.by_index(name, value)

    def add_handler(
        self,
        on_add: Callable[[Any], object] | None = None,
        on_update: Callable[[Any, Any], object] | None = None,
        on_delete: Callable[[Any], object] | None = None,
    ) -> None:
        """Register callbacks; called in registration order, on the loop, never concurrently.

        A handler added after objects are cached gets ``on_add`` for each of
        them at once, so late subscribers see the same world as early ones.
        Exceptions in handlers are logged and do not stop the informer.
        """
        handler = _Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add is not None:
            for obj in self.indexer.list():
                self._call(on_add, obj)

    def set_transform(self, fn: Callable[[Any], Any] | None) -> None:
        """Change each object as it arrives (``fn(obj)`` returns the object to keep). Only before
        the informer runs: cached objects would otherwise be a mix of changed and unchanged ones."""
        if self._running or self.has_synced:
            raise RuntimeError(f"{self!r}: set_transform after the informer started")
        self._transform = fn

    def force_reconnect(self) -> None:
        """Close the current watch; the informer reconnects from its last resourceVersion."""
        if self._watch is not None:
            self._watch.close()

    # -------------------------------------------------------------- delivery

    def _call(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, fn)

    def _added(self, obj: Any) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _updated(self, old: Any, new: Any) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _deleted(self, obj: Any) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _upsert(self, obj: Any) -> None:
        old = self.indexer.set(obj)
        if old is None:
            self._added(obj)
        else:
            self._updated(old, obj)

    def _remove(self, obj: Any) -> None:
        self.indexer.delete(self.indexer.key_func(obj))
        self._deleted(obj)  # the watch's final state is fresher than the cached one

    def _replace(self, items: Iterable[Any]) -> None:
        """Make the cache equal the list, delivering the differences."""
        fresh: dict[str, Any] = {}
        for obj in items:
            fresh[self.indexer.key_func(obj)] = obj
        for key in [k for k in self.indexer.keys() if k not in fresh]:
            gone = self.indexer.delete(key)
            if gone is not None:
                self._deleted(gone)  # last known state: it vanished while we were away
        for key, obj in fresh.items():
            old = self.indexer.get(key)
            if old is None:
                self.indexer.set(obj)
                self._added(obj)
            elif resource_version_of(old) != resource_version_of(obj):
                self.indexer.set(obj)
                self._updated(old, obj)

    # ------------------------------------------------------------------- run

    async def run(self) -> None:
        """List and watch until cancelled. Never raises for API or connection errors (it retries)."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        try:
            async with asyncio.TaskGroup() as tg:
                if self.resync_period > 0:
                    tg.create_task(self._resync_loop())
                await self._list_and_watch()
        finally:
            self._running = False

    async def _list_and_watch(self) -> None:
        failures = 0
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch_once()
                failures = 0
            except ResourceExpired as e:
                log.info("%r: %s; relisting", self, e.message)
                need_list = True
                if failures:  # a second 410 in a row: back off like any failure
                    await self.clock.sleep(self._backoff(failures))
                failures += 1
            except (StatusError, aiohttp.ClientError, OSError, TimeoutError) as e:
                failures += 1
                delay = self._backoff(failures)
                log.warning("%r: %s; retrying in %.1fs", self, e, delay)
                if isinstance(e, StatusError) and e.code not in (429, 500, 503, 504):
                    need_list = True  # something odd: start from a fresh list
                await self.clock.sleep(delay)

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_initial * 2 ** max(failures - 1, 0), self.backoff_max)
        return delay * (1 + random.random() * 0.2)

    async def _list(self) -> None:
        items, rv = await self.resource.list_all(
            self.namespace, self.label_selector, self.field_selector, self.page_size
        )
        self.relists += 1
        if self._transform is not None:
            items = [self._transform(obj) for obj in items]
        self._replace(items)
        self.last_resource_version = rv
        self._synced.set()

    async def _watch_once(self) -> None:
        """One watch connection, from ``last_resource_version`` until it ends."""
        timeout = self.watch_timeout or random.uniform(300, 600)
        stream = self.resource.watch(
            self.namespace,
            self.last_resource_version,
            self.label_selector,
            self.field_selector,
            timeout_seconds=max(int(timeout), 1),
            allow_bookmarks=True,
        )
        self._watch = stream
        transform = self._transform
        try:
            async for ev in stream:
                if ev.type == "ADDED" or ev.type == "MODIFIED":
                    self._upsert(ev.object if transform is None else transform(ev.object))
                elif ev.type == "DELETED":
                    self._remove(ev.object if transform is None else transform(ev.object))
                elif ev.type != "BOOKMARK":
                    log.warning("%r: unexpected watch event %s", self, ev.type)
                    continue
                if ev.resource_version:
                    self.last_resource_version = ev.resource_version
        finally:
            self._watch = None
            await stream.aclose()

    async def _resync_loop(self) -> None:
        never = asyncio.Event()
        while True:
            await sleep_until_set(self.clock, never, self.resync_period)
            if self.has_synced:
                for obj in self.indexer.list():
                    self._updated(obj, obj)


def _informer_key(
    res: Resource,
    namespace: str | None,
    label_selector: str,
    field_selector: str,
    metadata_only: bool = False,
    model: Any = None,
) -> tuple[Any, ...]:
    key: tuple[Any, ...] = (
        res.group,
        res.version,
        res.plural,
        namespace or "",
        label_selector,
        field_selector,
    )
    if metadata_only:
        key = (*key, "metadata")
    return (*key, model) if model is not None else key


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for a whole process.

    Controllers ask for informers in their constructors, then the owner of
    the factory starts them all (``start(task_group)`` or ``run()``) and
    waits for ``wait_for_cache_sync()`` before starting workers. Informers
    requested after ``start`` are started by the next ``start`` call.
    """

    def __init__(self, client: Client, resync_period: float = 0, clock: Clock = REAL_CLOCK) -> None:
        self.client = client
        self.resync_period = resync_period
        self.clock = clock
        self._informers: dict[tuple[Any, ...], Informer] = {}
        self._started: set[tuple[Any, ...]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def informer_for(
        self,
        res: Resource,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        *,
        raw: bool = False,
        metadata_only: bool = False,
        model: Any = None,
    ) -> Informer:
        """The shared informer of ``res`` (created on first request, not yet started).

        ``metadata_only``: an informer of its own whose objects are ``PartialObjectMetadata``
        (kind, apiVersion, metadata), as Kubernetes' metadata informers, for components that
        read nothing else (the garbage collector): decoding skips the rest of each object.
        ``model``: an informer of its own decoding into this type instead of the kind's model
        (such as ``kubelite.api.model.read_only_variant`` of it).
        """
        key = _informer_key(res, namespace, label_selector, field_selector, metadata_only, model)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.client.resource(res, raw=raw, model=PartialObjectMetadata if metadata_only else model),
                namespace,
                label_selector,
                field_selector,
                self.resync_period,
                self.clock,
            )
            self._informers[key] = informer
        return informer

    def has_informer(self, res: Resource) -> bool:
        """Whether a full-object informer of every ``res`` (no namespace, no selectors) was asked for."""
        return _informer_key(res, None, "", "") in self._informers

    def informers(self) -> builtins.list[Informer]:
        return list(self._informers.values())

    def start(self, task_group: asyncio.TaskGroup) -> None:
        """Start every informer not yet started as a task of ``task_group``. Idempotent."""
        for key, informer in self._informers.items():
            if key not in self._started:
                self._started.add(key)
                self._tasks.append(task_group.create_task(informer.run(), name=repr(informer)))

    async def run(self) -> None:
        """Run all informers (including ones requested later, on the next call) until cancelled."""
        async with asyncio.TaskGroup() as tg:
            self.start(tg)
            never = asyncio.Event()
            await never.wait()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """Wait until every informer has synced; False if ``timeout`` (real seconds) passed first."""
        waits = [i.wait_synced() for i in self._informers.values()]
        if not waits:
            return True
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            return False
        return True
