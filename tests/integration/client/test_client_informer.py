"""Informers against the in-process API server: paged initial sync, handlers
for live changes, a relist after a 410 that delivers what was missed, the
shared factory, and metadata-only informers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from kubelite.api.core_v1 import ConfigMap
from kubelite.api.meta import ObjectMeta, OwnerReference, PartialObjectMetadata
from kubelite.client.informer import Informer, SharedInformerFactory
from kubelite.client.rest import Client, ResourceClient, WatchStream, lookup

CM = lookup("", "v1", "ConfigMap")


def _cm(name: str, ns: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=ns), data=data)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.deleted: dict[str, Any] = {}

    def attach(self, informer: Informer) -> None:
        informer.add_handler(
            on_add=lambda o: self.log.append(("add", o.metadata.name)),
            on_update=lambda old, new: self.log.append(("update", new.metadata.name)),
            on_delete=self._on_delete,
        )

    def _on_delete(self, obj: Any) -> None:
        self.log.append(("delete", obj.metadata.name))
        self.deleted[obj.metadata.name] = obj


async def test_informer_syncs_in_pages_and_follows_changes(client: Client, namespace: str) -> None:
    cms = client.resource(CM)
    for i in range(5):
        await cms.create(_cm(f"c{i}", namespace, i=str(i)))
    informer = Informer(cms, namespace=namespace, page_size=2)
    informer.add_indexer("value", lambda o: list(o.data.values()))
    rec = Recorder()
    rec.attach(informer)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        assert informer.has_synced
        assert sorted(rec.log) == [("add", f"c{i}") for i in range(5)]
        c3 = informer.get(f"{namespace}/c3")
        assert c3 is not None and c3.data == {"i": "3"}
        assert [o.metadata.name for o in informer.by_index("value", "4")] == ["c4"]
        rec.log.clear()
        await cms.create(_cm("new", namespace))
        await cms.patch("c0", {"data": {"i": "zero"}}, namespace=namespace)
        await cms.delete("c1", namespace)
        await eventually(lambda: len(rec.log) == 3)
        assert rec.log == [("add", "new"), ("update", "c0"), ("delete", "c1")]
        c0 = informer.get_by(namespace, "c0")
        assert c0 is not None and c0.data == {"i": "zero"}
        assert informer.get_by(namespace, "c1") is None
        assert [o.metadata.name for o in informer.by_index("value", "zero")] == ["c0"]
        assert len(informer.list()) == 5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class GatedResource:
    """Wraps a ResourceClient so the test decides when a new watch may connect."""

    def __init__(self, inner: ResourceClient) -> None:
        self.inner = inner
        self.res = inner.res
        self.gate = asyncio.Event()
        self.gate.set()
        self.watches = 0
        self.waiting = asyncio.Event()

    async def list_all(self, *args: Any, **kw: Any) -> Any:
        return await self.inner.list_all(*args, **kw)

    def watch(self, *args: Any, **kw: Any) -> Any:
        self.watches += 1
        return _GatedStream(self, self.inner.watch(*args, **kw))


class _GatedStream:
    def __init__(self, owner: GatedResource, stream: WatchStream) -> None:
        self.owner = owner
        self.stream = stream
        self.opened = False

    def __aiter__(self) -> _GatedStream:
        return self

    async def __anext__(self) -> Any:
        if not self.opened:
            self.owner.waiting.set()
            await self.owner.gate.wait()
            self.opened = True
        return await self.stream.__anext__()

    def close(self) -> None:
        self.stream.close()

    async def aclose(self) -> None:
        await self.stream.aclose()


async def test_informer_relists_after_410_and_delivers_the_differences(
    api_server: Any, client: Client, namespace: str
) -> None:
    cms = client.resource(CM)
    for name in ("keep", "change", "vanish"):
        await cms.create(_cm(name, namespace, v="1"))
    gated = GatedResource(cms)
    informer = Informer(gated, namespace=namespace, backoff_initial=0.05)  # type: ignore[arg-type]
    rec = Recorder()
    rec.attach(informer)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: gated.watches == 1 and informer._watch is not None)
        assert informer.relists == 1
        stale_rv = informer.last_resource_version
        # Disconnect the informer and hold its reconnection while the world changes.
        gated.gate.clear()
        gated.waiting.clear()
        informer.force_reconnect()
        await asyncio.wait_for(gated.waiting.wait(), 5)
        assert gated.watches == 2
        vanished = await cms.get("vanish", namespace)
        await cms.delete("vanish", namespace)
        await cms.patch("change", {"data": {"v": "2"}}, namespace=namespace)
        await cms.create(_cm("born", namespace))
        _, latest, _ = await cms.list(namespace)
        await asyncio.to_thread(api_server.call, api_server.server.rest.store.compact(int(latest)))
        rec.log.clear()
        gated.gate.set()  # the watch from the stale version now gets 410 Expired
        await eventually(lambda: informer.relists == 2 and len(rec.log) == 3)
        assert sorted(rec.log) == [("add", "born"), ("delete", "vanish"), ("update", "change")]
        # The delete carries the last state the informer knew.
        assert rec.deleted["vanish"].metadata.resourceVersion == vanished.metadata.resourceVersion
        assert int(informer.last_resource_version) >= int(latest) > int(stale_rv)
        assert sorted(o.metadata.name for o in informer.list()) == ["born", "change", "keep"]
        # And it watches again from the new list.
        await cms.create(_cm("after", namespace))
        await eventually(lambda: ("add", "after") in rec.log)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_shared_factory_shares_and_syncs(client: Client, namespace: str) -> None:
    await client.resource(CM).create(_cm("shared", namespace))
    factory = SharedInformerFactory(client)
    first = factory.informer_for(CM, namespace)
    assert factory.informer_for(CM, namespace) is first
    other = factory.informer_for(CM, namespace, label_selector="app=x")
    assert other is not first
    runner = asyncio.create_task(factory.run())
    try:
        assert await factory.wait_for_cache_sync(timeout=5)
        assert [o.metadata.name for o in first.list()] == ["shared"]
        assert other.list() == []
        # An informer asked for later starts with the next start().
        late = factory.informer_for(CM, namespace, field_selector="metadata.name=shared")
        async with asyncio.TaskGroup() as tg:
            factory.start(tg)
            factory.start(tg)  # idempotent
            assert await factory.wait_for_cache_sync(timeout=5)
            assert [o.metadata.name for o in late.list()] == ["shared"]
            for task in factory._tasks:
                task.cancel()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_metadata_only_informer(client: Client, namespace: str) -> None:
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-1", "controller": True}
    cm = _cm("meta", namespace, big="x" * 1000)
    cm.metadata.labels = {"app": "m"}
    cm.metadata.ownerReferences = [msgspec.convert(owner, OwnerReference)]
    await client.resource(CM).create(cm)
    factory = SharedInformerFactory(client)
    assert not factory.has_informer(CM)
    typed = factory.informer_for(CM)
    assert factory.has_informer(CM)
    metadata = factory.informer_for(CM, metadata_only=True)
    assert metadata is not typed and factory.informer_for(CM, metadata_only=True) is metadata
    runner = asyncio.create_task(factory.run())
    try:
        assert await factory.wait_for_cache_sync(timeout=5)
        seen = metadata.get_by(namespace, "meta")
        assert isinstance(seen, PartialObjectMetadata)  # the data is neither decoded nor kept
        assert seen.metadata.labels == {"app": "m"}
        assert [r.uid for r in seen.metadata.ownerReferences] == ["u-1"]
        full = typed.get_by(namespace, "meta")
        assert full is not None and full.data == {"big": "x" * 1000}
        await client.resource(CM).patch("meta", {"metadata": {"labels": {"app": "n"}}}, namespace=namespace)

        def relabelled() -> bool:
            obj = metadata.get_by(namespace, "meta")
            return obj is not None and obj.metadata.labels == {"app": "n"}

        await eventually(relabelled)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
