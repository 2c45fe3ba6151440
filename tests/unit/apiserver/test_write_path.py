"""The write path's shortcuts give what the long way gives.

REST tells the watch cache the labels and selectable fields of what it
writes (and a binding derives them from the cached pod), so the cache does
not decode the bytes again; the cached objects must be exactly what decoding
the stored bytes yields. UIDs come from a pooled random source and must be
valid version 4 UUIDs. A watch hands out pending events in batches.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.resources import Registry
from kubelite.apiserver import codec, watchcache
from kubelite.apiserver.binding import create_binding
from kubelite.apiserver.rest import REST, DeleteOptions, UIDSource, WriteOptions
from kubelite.apiserver.watchcache import WatchCache, WatchClosed, make_cached
from kubelite.storage import open_store

NS = "shortcuts"


@pytest.fixture(params=["memory", "sqlite"])
async def rest(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[REST]:
    registry = Registry()
    store = open_store(str(request.param), tmp_path)
    cache = WatchCache(store, sorted({r.storage_prefix for r in registry.all()}))
    task = asyncio.create_task(cache.run())
    await cache.wait_ready()
    yield REST(store, cache, registry)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await store.close()


def body(doc: dict[str, Any]) -> Any:
    """A request body as the HTTP layer decodes it."""
    return codec.decode_body(codec.encode(doc), "application/json")


async def settle(rest: REST) -> None:
    await asyncio.wait_for(rest.cache.wait_fresh(), 5)


async def assert_cache_matches_store(rest: REST, prefix: str) -> None:
    await settle(rest)
    listed = await rest.store.list(prefix)
    assert listed.items
    for kv in listed.items:
        cached = rest.cache.get(prefix, kv.key)
        assert cached is not None
        want = make_cached(kv.key, kv.value, kv.mod_revision)
        assert (cached.namespace, cached.name, cached.revision) == (want.namespace, want.name, want.revision)
        assert cached.data == want.data
        assert cached.labels == want.labels
        assert cached.fields == want.fields


async def test_created_and_updated_objects_are_cached_as_decoded(rest: REST) -> None:
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    cms = reg.get("", "v1", "configmaps")
    events = reg.get("", "v1", "events")
    for i in range(3):
        cm = {"metadata": {"name": f"cm-{i}", "labels": {"app": "x", "i": str(i)}}, "data": {"k": "v"}}
        await rest.create(cms, NS, body(cm), opts)
        ev = {
            "metadata": {"name": f"ev-{i}"},
            "involvedObject": {"kind": "Pod", "namespace": NS, "name": f"p-{i}"},
            "reason": "Scheduled",
            "type": "Normal",
            "source": {"component": "default-scheduler"},
        }
        await rest.create(events, NS, body(ev), opts)
    await rest.update(cms, NS, "cm-1", body({"metadata": {"name": "cm-1", "labels": {"app": "y"}}}), opts)
    await assert_cache_matches_store(rest, cms.storage_prefix)
    await assert_cache_matches_store(rest, events.storage_prefix)


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys the watch cache decodes from here on (the shortcut skips decoding)."""
    decoded: list[str] = []

    def counting(key: str, value: bytes, revision: int) -> Any:
        decoded.append(key)
        return make_cached(key, value, revision)

    monkeypatch.setattr(watchcache, "make_cached", counting)
    return decoded


async def test_creates_and_bindings_are_not_decoded_again(
    rest: REST, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    pods = reg.get("", "v1", "pods")
    decoded = count_decodes(monkeypatch)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await rest.create(pods, NS, body(pod), opts)
    await settle(rest)
    binding = {"metadata": {"name": "p"}, "target": {"name": "node-a"}}
    assert (await create_binding(rest, pods, NS, "p", body(binding))).status == 201
    await settle(rest)
    assert decoded == []
    await assert_cache_matches_store(rest, pods.storage_prefix)


async def test_bound_pods_are_cached_as_decoded(rest: REST) -> None:
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    pods = reg.get("", "v1", "pods")
    for i in range(3):
        pod = {
            "metadata": {"name": f"p-{i}", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        await rest.create(pods, NS, body(pod), opts)
    await settle(rest)
    for i in range(3):
        binding = {"metadata": {"name": f"p-{i}"}, "target": {"kind": "Node", "name": f"node-{i}"}}
        response = await create_binding(rest, pods, NS, f"p-{i}", body(binding))
        assert response.status == 201
    await assert_cache_matches_store(rest, pods.storage_prefix)
    cached = rest.cache.get(pods.storage_prefix, pods.key(NS, "p-2"))
    assert cached is not None and cached.fields["spec.nodeName"] == "node-2"


async def test_binding_from_a_stale_cache_is_decided_by_the_store(rest: REST) -> None:
    """A cached copy that is behind (the pod was bound meanwhile) still gets the 409 the stored pod deserves."""
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    pods = reg.get("", "v1", "pods")
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await rest.create(pods, NS, body(pod), opts)
    await settle(rest)
    key = pods.key(NS, "p")
    stale = rest.cache.get(pods.storage_prefix, key)
    assert stale is not None
    bind = {"metadata": {"name": "p"}, "target": {"name": "node-a"}}
    assert (await create_binding(rest, pods, NS, "p", body(bind))).status == 201
    await settle(rest)
    rest.cache._buckets[pods.storage_prefix].objects[key] = stale  # as if the event were still on its way
    with pytest.raises(Exception) as info:
        await create_binding(rest, pods, NS, "p", body({**bind, "target": {"name": "node-b"}}))
    assert getattr(info.value, "code", None) == 409
    assert 'already assigned to node "node-a"' in str(info.value)


def test_uids_are_random_version_4_uuids() -> None:
    source = UIDSource()
    seen = {source() for _ in range(3 * UIDSource.BATCH + 7)}
    assert len(seen) == 3 * UIDSource.BATCH + 7
    for text in list(seen)[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


async def test_watch_takes_pending_events_in_batches(rest: REST) -> None:
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    cms = reg.get("", "v1", "configmaps")
    await settle(rest)
    start = rest.cache.revision
    async with rest.cache.watch(cms.storage_prefix, cms.prefix(NS), start, None) as watcher:
        assert not await watcher.wait(0.01)
        assert watcher.take(10) == []
        for i in range(5):
            await rest.create(cms, NS, body({"metadata": {"name": f"b-{i}"}}), opts)
        await settle(rest)
        assert await watcher.wait(1)
        first = watcher.take(3)
        rest_of_them = watcher.take(10)
        assert [e.obj.name for e in first + rest_of_them] == [f"b-{i}" for i in range(5)]
        assert all(e.type == "ADDED" for e in first + rest_of_them)
        watcher.close()
        assert await watcher.wait(1)
        with pytest.raises(WatchClosed):
            watcher.take(10)


async def stale_config_map(rest: REST) -> tuple[Any, int]:
    """A ConfigMap whose watch cache copy (data x=1) is behind the store (x=2);
    returns the resource and the store's revision."""
    reg = rest.registry
    opts = WriteOptions(user_agent="test/1.0")
    await rest.create(reg.get("", "v1", "namespaces"), None, body({"metadata": {"name": NS}}), opts)
    cms = reg.get("", "v1", "configmaps")
    await rest.create(cms, NS, body({"metadata": {"name": "cm"}, "data": {"x": "1"}}), opts)
    await settle(rest)
    key = cms.key(NS, "cm")
    stale = rest.cache.get(cms.storage_prefix, key)
    await rest.update(cms, NS, "cm", body({"metadata": {"name": "cm"}, "data": {"x": "2"}}), opts)
    await settle(rest)
    rest.cache._buckets[cms.storage_prefix].objects[key] = stale  # as if the event were still on its way
    kv = await rest.store.get(key)
    assert kv is not None
    return cms, kv.mod_revision


async def stored_data(rest: REST, cms: Any) -> tuple[dict[str, str], int]:
    kv = await rest.store.get(cms.key(NS, "cm"))
    assert kv is not None
    return codec.decode_body(kv.value, "application/json")["data"], kv.mod_revision


async def test_writes_from_a_stale_cache_answer_as_from_the_store(rest: REST) -> None:
    """Updates, patches and deletes start from the watch cache's copy; one that is behind
    must not show: preconditions, no-op detection and the result follow the store."""
    opts = WriteOptions(user_agent="test/1.0")
    cms, rev = await stale_config_map(rest)

    # A PUT equal to the stale copy is not a no-op: the store holds x=2.
    result = await rest.update(cms, NS, "cm", body({"metadata": {"name": "cm"}, "data": {"x": "1"}}), opts)
    data, rev2 = await stored_data(rest, cms)
    assert data == {"x": "1"} and rev2 > rev
    assert codec.decode_body(result.body, "application/json")["metadata"]["resourceVersion"] == str(rev2)

    cms, rev = await stale_config_map_again(rest, cms)
    # A merge patch equal to the stale copy is not a no-op either.
    await rest.patch(cms, NS, "cm", codec.MERGE_PATCH, {"data": {"x": "1"}}, opts)
    data, rev2 = await stored_data(rest, cms)
    assert data == {"x": "1"} and rev2 > rev

    cms, rev = await stale_config_map_again(rest, cms)
    # A PUT naming the store's resourceVersion succeeds although the cached copy is older.
    doc = {"metadata": {"name": "cm", "resourceVersion": str(rev)}, "data": {"x": "3"}}
    await rest.update(cms, NS, "cm", body(doc), opts)
    assert (await stored_data(rest, cms))[0] == {"x": "3"}

    cms, rev = await stale_config_map_again(rest, cms)
    # A patch adds to what the store holds, not to the stale copy.
    await rest.patch(cms, NS, "cm", codec.MERGE_PATCH, {"data": {"y": "1"}}, opts)
    assert (await stored_data(rest, cms))[0] == {"x": "2", "y": "1"}

    cms, rev = await stale_config_map_again(rest, cms)
    # A delete whose precondition names the store's resourceVersion succeeds.
    await rest.delete(cms, NS, "cm", DeleteOptions(preconditions_rv=str(rev)))
    assert await rest.store.get(cms.key(NS, "cm")) is None


async def stale_config_map_again(rest: REST, cms: Any) -> tuple[Any, int]:
    """Set the store's copy to x=2 again while the cache keeps its current copy (then behind)."""
    opts = WriteOptions(user_agent="test/1.0")
    await settle(rest)
    key = cms.key(NS, "cm")
    stale = rest.cache.get(cms.storage_prefix, key)
    await rest.update(cms, NS, "cm", body({"metadata": {"name": "cm"}, "data": {"x": "2"}}), opts)
    await settle(rest)
    rest.cache._buckets[cms.storage_prefix].objects[key] = stale
    kv = await rest.store.get(key)
    assert kv is not None
    return cms, kv.mod_revision


async def test_watch_waits_end_on_time_with_one_timer() -> None:
    # A watch keeps one timer across its waits; each wait still ends when its own timeout
    # says, whether the timer armed before rings earlier or later than that.
    loop = asyncio.get_running_loop()
    watcher = watchcache.Watcher("/registry/pods/", None, [])
    assert await watcher.wait(0.05) is False

    async def wake_after(delay: float) -> None:
        await asyncio.sleep(delay)
        watcher._wake()

    started = loop.time()
    task = asyncio.create_task(wake_after(0.02))
    assert await watcher.wait(0.2) is True  # an event: the timer stays armed for 0.2
    await task
    assert loop.time() - started < 0.15
    started = loop.time()
    assert await watcher.wait(0.4) is False  # the early ring re-arms for the full 0.4
    assert loop.time() - started >= 0.39
    task = asyncio.create_task(wake_after(0.01))
    assert await watcher.wait(5.0) is True
    await task
    started = loop.time()
    assert await watcher.wait(0.05) is False  # shorter than the armed timer: a new one
    assert loop.time() - started < 1.0
    watcher.stop_timer()
    watcher.close()
    assert await watcher.wait(5.0) is True
