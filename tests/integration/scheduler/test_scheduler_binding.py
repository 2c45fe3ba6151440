"""The pods/binding subresource: a Binding sets spec.nodeName once and marks PodScheduled."""

from __future__ import annotations

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.rest import Client, lookup

PODS = lookup("", "v1", "Pod")


def _pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _binding(name: str, node: str, kind: str = "Node") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": kind, "name": node},
    }


async def test_binding_sets_node_name_and_condition(client: Client, namespace: str) -> None:
    pods = client.resource(PODS)
    await pods.create(_pod("p1"), namespace)
    path = pods.path(namespace, "p1", "binding")
    answer = await client.request("POST", path, body=_binding("p1", "node-a"))
    assert b'"Success"' in answer
    pod = await pods.get("p1", namespace)
    assert pod.spec.nodeName == "node-a"
    scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    assert scheduled and scheduled[0].status == "True"


async def test_binding_an_assigned_pod_is_a_conflict(client: Client, namespace: str) -> None:
    pods = client.resource(PODS)
    await pods.create(_pod("p2"), namespace)
    path = pods.path(namespace, "p2", "binding")
    await client.request("POST", path, body=_binding("p2", "node-a"))
    with pytest.raises(StatusError) as e:
        await client.request("POST", path, body=_binding("p2", "node-b"))
    assert e.value.code == 409
    assert 'pod p2 is already assigned to node "node-a"' in e.value.message
    assert (await pods.get("p2", namespace)).spec.nodeName == "node-a"


async def test_binding_checks_name_target_and_pod(client: Client, namespace: str) -> None:
    pods = client.resource(PODS)
    await pods.create(_pod("p3"), namespace)
    path = pods.path(namespace, "p3", "binding")
    with pytest.raises(StatusError) as e:
        await client.request("POST", path, body=_binding("other", "node-a"))
    assert e.value.code == 400
    with pytest.raises(StatusError) as e:
        await client.request("POST", path, body=_binding("p3", "node-a", kind="Pod"))
    assert e.value.code == 422
    with pytest.raises(StatusError) as e:
        await client.request("POST", pods.path(namespace, "nope", "binding"), body=_binding("nope", "n"))
    assert e.value.code == 404


async def test_binding_is_advertised(client: Client) -> None:
    import orjson

    doc = orjson.loads(await client.request("GET", "/api/v1"))
    entry = [r for r in doc["resources"] if r["name"] == "pods/binding"]
    assert entry and entry[0]["verbs"] == ["create"] and entry[0]["kind"] == "Binding"
