"""The EventRecorder against the API server: identical repeats aggregate into
one Event whose count grows; a different reason is a new Event."""

from __future__ import annotations

import asyncio
import re

from kubelite.api.core_v1 import ConfigMap
from kubelite.api.meta import ObjectMeta
from kubelite.client.events import EventRecorder
from kubelite.client.rest import Client, lookup

CM = lookup("", "v1", "ConfigMap")
EVENT = lookup("", "v1", "Event")


async def test_identical_events_aggregate_into_one_with_count(client: Client, namespace: str) -> None:
    cm = await client.resource(CM).create(ConfigMap(metadata=ObjectMeta(name="subject", namespace=namespace)))
    recorder = EventRecorder(client, "test-controller", host="node-1")
    runner = asyncio.create_task(recorder.run())
    try:
        for _ in range(3):
            recorder.event(cm, "Warning", "FailedSync", "could not sync subject")
        recorder.eventf(cm, "Normal", "Synced", "synced %s after %d tries", "subject", 3)
        await asyncio.wait_for(recorder.flush(), 10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    events, _ = await client.resource(EVENT).list_all(namespace)
    by_reason = {e.reason: e for e in events}
    assert len(events) == 2, [(e.metadata.name, e.reason, e.count) for e in events]
    failed = by_reason["FailedSync"]
    assert failed.count == 3 and failed.type == "Warning"
    assert failed.message == "could not sync subject"
    assert re.fullmatch(r"subject\.[0-9a-f]+", failed.metadata.name)
    ref = failed.involvedObject
    assert (ref.kind, ref.apiVersion, ref.namespace, ref.name, ref.uid) == (
        "ConfigMap",
        "v1",
        namespace,
        "subject",
        cm.metadata.uid,
    )
    assert ref.resourceVersion == cm.metadata.resourceVersion
    assert failed.source.component == "test-controller" and failed.source.host == "node-1"
    assert failed.reportingComponent == "test-controller" and failed.reportingInstance
    assert failed.firstTimestamp and failed.lastTimestamp and failed.firstTimestamp <= failed.lastTimestamp
    synced = by_reason["Synced"]
    assert synced.count == 1 and synced.message == "synced subject after 3 tries"
    assert recorder.written == 4 and recorder.dropped == 0


async def test_events_of_cluster_scoped_objects_go_to_default(client: Client) -> None:
    name = (
        "event-node"
        + ("-lean" if client.lean_http else "")
        + ("-pipelined" if client.lean_pipeline > 1 else "")
    )
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": "n-uid"}}
    recorder = EventRecorder(client, "kubelet", host=name)
    runner = asyncio.create_task(recorder.run())
    try:
        recorder.event(node, "Normal", "Starting", "Starting kubelet.")
        await asyncio.wait_for(recorder.flush(), 10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    events, _ = await client.resource(EVENT).list_all("default", field_selector=f"involvedObject.name={name}")
    assert [(e.reason, e.involvedObject.kind, e.count) for e in events] == [("Starting", "Node", 1)]
