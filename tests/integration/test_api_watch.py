"""Watch through the official client: replay from a resourceVersion, live
events, selectors, the synthetic ADDED of a watch without a version, and
410 Gone once the requested version is compacted away."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

NS = "watching"


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(k8s)
    api.create_namespace({"metadata": {"name": NS}})
    api.create_namespace({"metadata": {"name": NS + "-2"}})
    return api


def _events(func: Callable[..., Any], *args: Any, count: int, timeout: int = 5, **kw: Any) -> list[Any]:
    """The first ``count`` events of a watch (fewer if it times out first)."""
    out: list[Any] = []
    w = watch.Watch()
    for ev in w.stream(func, *args, timeout_seconds=timeout, **kw):
        out.append(ev)
        if len(out) >= count:
            w.stop()
            break
    return out


def _summary(events: list[Any]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"].metadata.name) for e in events]


def _rv(core: client.CoreV1Api) -> str:
    rv: str = core.list_namespaced_config_map(NS, limit=1).metadata.resource_version
    return rv


def test_replay_from_resource_version(core: client.CoreV1Api) -> None:
    start = _rv(core)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "w1"}, "data": {"v": "1"}})
    core.patch_namespaced_config_map("w1", NS, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w1", NS)
    events = _events(core.list_namespaced_config_map, NS, count=3, resource_version=start)
    assert _summary(events) == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    assert [e["object"].data for e in events] == [{"v": "1"}, {"v": "2"}, {"v": "2"}]
    rvs = [int(e["object"].metadata.resource_version) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert rvs[0] > int(start)
    assert all(isinstance(e["object"], client.V1ConfigMap) for e in events)


def test_live_events_in_order(core: client.CoreV1Api) -> None:
    start = _rv(core)

    def writer() -> None:
        time.sleep(0.3)
        core.create_namespaced_config_map(NS, {"metadata": {"name": "live"}})
        core.patch_namespaced_config_map("live", NS, {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_config_map("live", NS)

    t = threading.Thread(target=writer)
    t.start()
    try:
        events = _events(core.list_namespaced_config_map, NS, count=3, resource_version=start)
    finally:
        t.join()
    assert _summary(events) == [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]
    assert events[1]["object"].metadata.labels == {"x": "1"}


def test_watch_without_resource_version_starts_with_current_objects(core: client.CoreV1Api) -> None:
    ns = NS + "-2"
    for name in ("b", "a"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    events = _events(core.list_namespaced_config_map, ns, count=2)
    assert sorted(_summary(events)) == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_is_scoped_to_its_namespace(core: client.CoreV1Api) -> None:
    start = _rv(core)
    core.create_namespaced_config_map(NS + "-2", {"metadata": {"name": "elsewhere"}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": "here"}})
    events = _events(core.list_namespaced_config_map, NS, count=1, resource_version=start)
    assert _summary(events) == [("ADDED", "here")]
    everywhere = _events(core.list_config_map_for_all_namespaces, count=2, resource_version=start)
    assert [(e["object"].metadata.namespace, e["object"].metadata.name) for e in everywhere] == [
        (NS + "-2", "elsewhere"),
        (NS, "here"),
    ]


def test_label_selector_turns_updates_into_added_and_deleted(core: client.CoreV1Api) -> None:
    start = _rv(core)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "sel", "labels": {"app": "other"}}})
    core.patch_namespaced_config_map("sel", NS, {"metadata": {"labels": {"app": "mine"}}})
    core.patch_namespaced_config_map("sel", NS, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("sel", NS, {"metadata": {"labels": {"app": "gone"}}})
    core.delete_namespaced_config_map("sel", NS)
    events = _events(
        core.list_namespaced_config_map,
        NS,
        count=3,
        timeout=2,
        resource_version=start,
        label_selector="app=mine",
    )
    assert _summary(events) == [("ADDED", "sel"), ("MODIFIED", "sel"), ("DELETED", "sel")]
    # The DELETED of an object leaving the selection carries its new state.
    assert events[2]["object"].metadata.labels == {"app": "gone"}


def test_field_selector_on_name(core: client.CoreV1Api) -> None:
    start = _rv(core)
    for name in ("fs-a", "fs-b"):
        core.create_namespaced_config_map(NS, {"metadata": {"name": name}})
    core.delete_namespaced_config_map("fs-b", NS)
    events = _events(
        core.list_namespaced_config_map,
        NS,
        count=2,
        timeout=2,
        resource_version=start,
        field_selector="metadata.name=fs-b",
    )
    assert _summary(events) == [("ADDED", "fs-b"), ("DELETED", "fs-b")]


def test_watch_cluster_scoped_and_other_groups(k8s: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(k8s)
    start = rbac.list_cluster_role(limit=1).metadata.resource_version
    rbac.create_cluster_role({"metadata": {"name": "watched"}, "rules": []})
    rbac.delete_cluster_role("watched")
    events = _events(rbac.list_cluster_role, count=2, resource_version=start)
    assert _summary(events) == [("ADDED", "watched"), ("DELETED", "watched")]
    assert isinstance(events[0]["object"], client.V1ClusterRole)


def test_watch_served_through_another_version(k8s: client.ApiClient) -> None:
    """events.k8s.io/v1 Events are stored as core Events and watched in their own shape."""
    core = client.CoreV1Api(k8s)
    events_api = client.EventsV1Api(k8s)
    start = _rv(core)
    core.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": NS},
            "reason": "Pulled",
            "message": "pulled the image",
            "type": "Normal",
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingComponent": "kubelite.io/test",
            "reportingInstance": "test-1",
            "action": "Pulling",
        },
    )
    seen = _events(events_api.list_namespaced_event, NS, count=1, resource_version=start)
    assert seen[0]["type"] == "ADDED"
    obj = seen[0]["object"]
    assert isinstance(obj, client.EventsV1Event)
    assert obj.note == "pulled the image"
    assert obj.regarding.name == "p"


def test_watch_times_out(core: client.CoreV1Api) -> None:
    began = time.monotonic()
    events = _events(core.list_namespaced_config_map, NS, count=1, timeout=1, resource_version=_rv(core))
    assert events == []
    assert time.monotonic() - began < 4


def test_raw_watch_stream_format(api_server: Any, core: client.CoreV1Api) -> None:
    """Each event is one JSON line {"type": ..., "object": ...} with the object's kind and apiVersion."""
    start = _rv(core)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "raw"}})
    url = f"{api_server.url}/api/v1/namespaces/{NS}/configmaps?watch=true&resourceVersion={start}&timeoutSeconds=1"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        line = resp.readline()
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "ConfigMap"
    assert event["object"]["apiVersion"] == "v1"
    assert event["object"]["metadata"]["name"] == "raw"


def test_watch_from_compacted_revision_is_410(api_server: Any, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "old"}, "data": {"v": "0"}})
    start = _rv(core)
    for i in range(3):
        core.patch_namespaced_config_map("old", NS, {"data": {"v": str(i + 1)}})
    latest = int(_rv(core))
    api_server.call(api_server.server.rest.store.compact(latest))
    with pytest.raises(ApiException) as exc:
        _events(core.list_namespaced_config_map, NS, count=1, resource_version=start)
    assert exc.value.status == 410
    assert "Expired" in str(exc.value.reason)
    # The raw answer: an ERROR event carrying a 410 Status.
    url = f"{api_server.url}/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={start}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        event = json.loads(resp.readline())
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    # A watch from the compacted revision itself (or later) still works.
    events = _events(core.list_namespaced_config_map, NS, count=1, timeout=1, resource_version=str(latest))
    assert events == []
