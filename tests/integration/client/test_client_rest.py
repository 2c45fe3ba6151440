"""The REST client against the in-process API server: typed CRUD, errors as
StatusError, pagination, patch types, apply, scale, watch and 410."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from kubelite.api.apps_v1 import Deployment
from kubelite.api.core_v1 import ConfigMap
from kubelite.api.errors import StatusError
from kubelite.api.meta import ObjectMeta
from kubelite.client.rest import Client, ResourceExpired, lookup

CM = lookup("", "v1", "ConfigMap")


def _cm(name: str, ns: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=ns), data=data)


async def test_typed_crud(client: Client, namespace: str) -> None:
    cms = client.resource(CM)
    created = await cms.create(_cm("a", namespace, k="1"))
    assert isinstance(created, ConfigMap)
    assert created.metadata.uid and created.metadata.resourceVersion
    assert created.kind == "ConfigMap" and created.apiVersion == "v1"
    got = await cms.get("a", namespace)
    assert got.data == {"k": "1"}
    got.data["k"] = "2"
    updated = await cms.update(got)
    assert updated.data == {"k": "2"}
    assert int(updated.metadata.resourceVersion) > int(created.metadata.resourceVersion)
    # A stale resourceVersion is a 409 Conflict with the server's Status.
    with pytest.raises(StatusError) as exc:
        await cms.update(got)
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    deleted = await cms.delete("a", namespace)
    assert deleted["status"] == "Success"
    with pytest.raises(StatusError) as exc:
        await cms.get("a", namespace)
    assert exc.value.code == 404 and exc.value.reason == "NotFound"
    assert exc.value.details and exc.value.details["name"] == "a"
    assert 'configmaps "a" not found' in exc.value.message


async def test_dicts_in_and_raw_out(client: Client, namespace: str) -> None:
    raw = client.resource(CM, raw=True)
    made = await raw.create({"metadata": {"name": "d"}, "data": {"x": "y"}}, namespace)
    assert isinstance(made, dict) and made["data"] == {"x": "y"}
    items, rv, token = await raw.list(namespace)
    assert [i["metadata"]["name"] for i in items] == ["d"] and rv and token == ""
    with pytest.raises(StatusError) as exc:
        await raw.create({"metadata": {"name": "d"}}, namespace)
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"
    dry = await raw.create({"metadata": {"name": "dry"}}, namespace, dry_run=True)
    assert dry["metadata"]["name"] == "dry"
    with pytest.raises(StatusError):
        await raw.get("dry", namespace)
    with pytest.raises(ValueError):
        await raw.create({"metadata": {"name": "nons"}})


async def test_pagination_follows_continue_tokens(client: Client, namespace: str) -> None:
    cms = client.resource(CM)
    for i in range(7):
        await cms.create(_cm(f"p{i}", namespace), field_manager="pager")
    first, _, token = await cms.list(namespace, limit=3)
    assert len(first) == 3 and token
    second, _, token2 = await cms.list(namespace, limit=3, continue_=token)
    assert len(second) == 3 and token2
    third, _, token3 = await cms.list(namespace, limit=3, continue_=token2)
    assert len(third) == 1 and token3 == ""
    names = [c.metadata.name for c in first + second + third]
    assert names == [f"p{i}" for i in range(7)]
    everything, all_rv = await cms.list_all(namespace, page_size=2)
    assert [c.metadata.name for c in everything] == names and all_rv
    selected, _ = await cms.list_all(namespace, field_selector="metadata.name=p3")
    assert [c.metadata.name for c in selected] == ["p3"]


async def test_patch_types_and_apply(client: Client, namespace: str) -> None:
    cms = client.resource(CM)
    await cms.create(_cm("p", namespace, a="1"))
    out = await cms.patch("p", {"data": {"b": "2"}}, namespace=namespace)
    assert out.data == {"a": "1", "b": "2"}
    out = await cms.patch("p", {"data": {"a": None}}, "merge", namespace)
    assert out.data == {"b": "2"}
    out = await cms.patch("p", [{"op": "add", "path": "/data/c", "value": "3"}], "json", namespace)
    assert out.data == {"b": "2", "c": "3"}
    applied = await cms.apply(_cm("applied", namespace, z="9"), field_manager="tester")
    assert applied.data == {"z": "9"}
    assert any(m.manager == "tester" for m in applied.metadata.managedFields)
    with pytest.raises(StatusError) as exc:
        await cms.apply(_cm("applied", namespace, z="10"), field_manager="other")
    assert exc.value.code == 409
    forced = await cms.apply(_cm("applied", namespace, z="10"), field_manager="other", force=True)
    assert forced.data == {"z": "10"}


async def test_scale_status_and_delete_options(client: Client, namespace: str) -> None:
    deps = client.resource_for("apps", "v1", "Deployment")
    dep = msgspec.convert(
        {
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
        Deployment,
    )
    created = await deps.create(dep)
    scale = await deps.get_scale("web", namespace)
    assert scale.spec.replicas == 1
    scale.spec.replicas = 3
    scaled = await deps.update_scale("web", scale, namespace)
    assert scaled.spec.replicas == 3
    current = await deps.get("web", namespace)
    assert current.spec.replicas == 3
    current.status.observedGeneration = 7
    written = await deps.update_status(current)
    assert written.status.observedGeneration == 7
    with pytest.raises(StatusError) as exc:
        await deps.delete("web", namespace, preconditions_uid="not-the-uid")
    assert exc.value.code == 409
    await deps.delete(
        "web", namespace, propagation_policy="Background", preconditions_uid=created.metadata.uid
    )
    result = await client.resource(CM).delete_collection(namespace)
    assert isinstance(result, dict)


async def test_request_escape_hatch(client: Client) -> None:
    body = await client.request("GET", "/version")
    assert b"gitVersion" in body
    with pytest.raises(StatusError) as exc:
        await client.request("GET", "/api/v1/namespaces/none-such/configmaps/x")
    assert exc.value.code == 404


async def _collect(stream: Any, count: int) -> list[Any]:
    out = []
    async for ev in stream:
        if ev.type != "BOOKMARK":
            out.append(ev)
        if len(out) >= count:
            break
    await stream.aclose()
    return out


async def test_watch_delivers_added_modified_deleted(client: Client, namespace: str) -> None:
    cms = client.resource(CM)
    _, rv, _ = await cms.list(namespace)
    stream = cms.watch(namespace, resource_version=rv, timeout_seconds=10)
    reader = asyncio.create_task(_collect(stream, 3))
    await cms.create(_cm("w", namespace, v="1"))
    await cms.patch("w", {"data": {"v": "2"}}, namespace=namespace)
    await cms.delete("w", namespace)
    events = await asyncio.wait_for(reader, 10)
    assert [(e.type, e.object.metadata.name) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    assert all(isinstance(e.object, ConfigMap) for e in events)
    assert [e.object.data["v"] for e in events] == ["1", "2", "2"]
    assert events[2].resource_version == events[2].object.metadata.resourceVersion


async def test_watch_of_a_compacted_version_raises_resource_expired(
    api_server: Any, client: Client, namespace: str
) -> None:
    cms = client.resource(CM)
    await cms.create(_cm("old", namespace))
    _, start, _ = await cms.list(namespace)
    for i in range(3):
        await cms.patch("old", {"data": {"v": str(i)}}, namespace=namespace)
    _, latest, _ = await cms.list(namespace)
    await asyncio.to_thread(api_server.call, api_server.server.rest.store.compact(int(latest)))
    with pytest.raises(ResourceExpired) as exc:
        async for _ in cms.watch(namespace, resource_version=start, timeout_seconds=5):
            pass
    assert exc.value.code == 410 and exc.value.reason == "Expired"
    assert isinstance(exc.value, StatusError)


@pytest.mark.parametrize("lean", [False, True], ids=["aiohttp", "lean"])
async def test_from_kubeconfig_over_https_with_client_certificates(tls_kubeconfig: Any, lean: bool) -> None:
    async with Client.from_kubeconfig(str(tls_kubeconfig), component="kubeconfig-test", lean_http=lean) as c:
        assert c.base_url.startswith("https://")
        assert c.user_agent == "kubelite-kubeconfig-test/0.1.0"
        ns = await c.resource_for("", "v1", "Namespace").get("default")
        assert ns.metadata.name == "default"
        async with c.with_lean_http() as lean_client:
            ns = await lean_client.resource_for("", "v1", "Namespace").get("default")
            assert ns.metadata.name == "default"
    anonymous = Client(c.base_url, ssl=False, lean_http=lean)
    try:
        with pytest.raises(StatusError) as exc:
            await anonymous.resource_for("", "v1", "Namespace").get("default")
        assert exc.value.code in (401, 403)
    finally:
        await anonymous.close()


async def test_from_kubeconfig_plain_http(api_server: Any, tmp_path: Any) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: [{{name: c, cluster: {{server: '{api_server.url}'}}}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    async with Client.from_kubeconfig(str(path)) as c:
        assert (await c.resource_for("", "v1", "Namespace").get("default")).metadata.name == "default"
