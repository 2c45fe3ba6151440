"""The namespace controller against the in-process API server (fake time):
deleting a namespace removes everything in it and then the namespace; while
content is held by finalizers the namespace reports it in its conditions,
exactly as Kubernetes words them; a failing discovery is reported too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client import Client, EventRecorder, FakeClock, SharedInformerFactory, lookup
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.namespace import NamespaceController

NS = lookup("", "v1", "Namespace")
CM = lookup("", "v1", "ConfigMap")
SECRET = lookup("", "v1", "Secret")
POD = lookup("", "v1", "Pod")
DEPLOY = lookup("apps", "v1", "Deployment")
ROLE = lookup("rbac.authorization.k8s.io", "v1", "Role")
LEASE = lookup("coordination.k8s.io", "v1", "Lease")


@pytest.fixture
async def controller(client: Client, clock: FakeClock) -> AsyncIterator[NamespaceController]:
    informers = SharedInformerFactory(client, clock=clock)
    nc = NamespaceController(ControllerContext(client, informers, EventRecorder(client, "test"), clock))

    async def run() -> None:
        async with asyncio.TaskGroup() as tg:
            informers.start(tg)
            tg.create_task(nc.run())

    task = asyncio.create_task(run())
    await asyncio.wait_for(informers.wait_for_cache_sync(), 10)
    yield nc
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.02)


async def read(client: Client, res: Any, name: str, ns: str | None = None) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = await client.resource(res, raw=True).get(name, ns)
        return obj
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def conditions(ns: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in ns["status"].get("conditions") or []}


async def test_deleting_a_namespace_removes_its_content_then_itself(
    client: Client, namespace: str, controller: Any
) -> None:
    survivor = namespace + "-survivor"
    await client.resource(NS).create({"metadata": {"name": survivor}})
    raw = {r: client.resource(r, raw=True) for r in (CM, SECRET, POD, DEPLOY, ROLE, LEASE)}
    for target in (namespace, survivor):
        await raw[CM].create({"metadata": {"name": "cm", "namespace": target}})
    await raw[SECRET].create({"metadata": {"name": "s", "namespace": namespace}})
    await raw[POD].create(
        {
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
    )
    labels = {"a": "b"}
    await raw[DEPLOY].create(
        {
            "metadata": {"name": "d", "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        }
    )
    await raw[ROLE].create({"metadata": {"name": "r", "namespace": namespace}, "rules": []})
    await raw[LEASE].create({"metadata": {"name": "l", "namespace": namespace}, "spec": {}})

    answer = await client.resource(NS, raw=True).delete(namespace)
    assert answer["status"]["phase"] == "Terminating"

    async def gone() -> bool:
        return await read(client, NS, namespace) is None

    await eventually(gone)
    for res, name in ((CM, "cm"), (SECRET, "s"), (POD, "p"), (DEPLOY, "d"), (ROLE, "r"), (LEASE, "l")):
        assert await read(client, res, name, namespace) is None, res.kind
    assert await read(client, CM, "cm", survivor) is not None
    assert (await read(client, NS, survivor) or {})["status"]["phase"] == "Active"


async def test_content_held_by_finalizers_is_reported_in_conditions(
    client: Client, namespace: str, controller: Any, clock: FakeClock
) -> None:
    cms = client.resource(CM, raw=True)
    for name in ("held-1", "held-2"):
        await cms.create(
            {"metadata": {"name": name, "namespace": namespace, "finalizers": ["example.com/hold"]}}
        )
    await cms.create({"metadata": {"name": "free", "namespace": namespace}})
    await client.resource(NS).delete(namespace)

    async def reported() -> dict[str, Any] | None:
        ns = await read(client, NS, namespace)
        assert ns is not None
        return ns if CONTENT_REMAINING in conditions(ns) else None

    CONTENT_REMAINING = "NamespaceContentRemaining"
    ns = await eventually(reported)
    assert ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert conditions(ns) == {
        "NamespaceDeletionDiscoveryFailure": (
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        "NamespaceDeletionGroupVersionParsingFailure": (
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        "NamespaceDeletionContentFailure": (
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        "NamespaceContentRemaining": (
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 2 resource instances",
        ),
        "NamespaceFinalizersRemaining": (
            "True",
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances",
        ),
    }
    assert all(c["lastTransitionTime"] == "2024-01-01T00:00:00Z" for c in ns["status"]["conditions"])
    assert await read(client, CM, "free", namespace) is None
    held = await read(client, CM, "held-1", namespace)
    assert held is not None and held["metadata"]["deletionTimestamp"]

    async def waiting_for_the_delay() -> bool:
        q = controller.queue
        return not len(q) and not q._processing and namespace in q._waiting_due

    await eventually(waiting_for_the_delay)
    for name in ("held-1", "held-2"):
        await cms.patch(name, {"metadata": {"finalizers": None}}, "merge", namespace)
    await asyncio.sleep(0.3)
    assert await read(client, NS, namespace) is not None  # it looks again only after a delay
    await clock.run_for(8)  # 15s finalizer estimate: looks again after 15/2+1 seconds

    async def gone() -> bool:
        return await read(client, NS, namespace) is None

    await eventually(gone)


async def test_other_finalizers_keep_the_namespace_after_content_is_gone(
    client: Client, namespace: str, controller: Any
) -> None:
    ns = await client.resource(NS, raw=True).get(namespace)
    ns["spec"]["finalizers"] = ["kubernetes", "example.com/custom"]
    await client.resource(NS, raw=True).update(ns, "finalize")
    await client.resource(CM, raw=True).create({"metadata": {"name": "cm", "namespace": namespace}})
    await client.resource(NS).delete(namespace)

    async def finalized() -> dict[str, Any] | None:
        got = await read(client, NS, namespace)
        assert got is not None
        return got if got["spec"]["finalizers"] == ["example.com/custom"] else None

    got = await eventually(finalized)
    assert got["status"]["phase"] == "Terminating"
    assert conditions(got)["NamespaceContentRemaining"][:2] == ("False", "ContentRemoved")
    assert await read(client, CM, "cm", namespace) is None
    got["spec"]["finalizers"] = []
    await client.resource(NS, raw=True).update(got, "finalize")
    assert await read(client, NS, namespace) is None


async def test_discovery_failure_is_reported_and_retried(
    client: Client, namespace: str, controller: Any, clock: FakeClock
) -> None:
    real = client.request
    broken = True

    async def request(method: str, path: str, **kw: Any) -> bytes:
        if broken and path == "/apis/batch/v1":
            raise StatusError(
                503, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        return await real(method, path, **kw)

    client.request = request  # type: ignore[method-assign]
    try:
        await client.resource(CM, raw=True).create({"metadata": {"name": "cm", "namespace": namespace}})
        await client.resource(NS).delete(namespace)

        async def reported() -> tuple[str, str, str] | None:
            ns = await read(client, NS, namespace)
            assert ns is not None
            return conditions(ns).get("NamespaceDeletionDiscoveryFailure")

        cond = await eventually(reported)
        assert cond == (
            "True",
            "DiscoveryFailed",
            "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server "
            "APIs: batch/v1: the server is currently unable to handle the request",
        )
        # What could be discovered is deleted anyway; the namespace waits for the rest.
        assert await read(client, CM, "cm", namespace) is None
        ns = await read(client, NS, namespace)
        assert ns is not None and ns["spec"]["finalizers"] == ["kubernetes"]
        broken = False
        await clock.run_for(60)  # the rate-limited retry

        async def gone() -> bool:
            return await read(client, NS, namespace) is None

        await eventually(gone)
    finally:
        client.request = real  # type: ignore[method-assign]
