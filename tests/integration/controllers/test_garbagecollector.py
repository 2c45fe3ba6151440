"""The garbage collector against the in-process API server: the three cascade
modes of ``DELETE`` (and of ``kubectl delete --cascade``), dependents with two
owners, and dependents whose owner never existed or was replaced."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client import Client, EventRecorder, SharedInformerFactory, lookup
from kubelite.controllers.base import ControllerContext
from kubelite.controllers.garbagecollector import GarbageCollector

NS = lookup("", "v1", "Namespace")
POD = lookup("", "v1", "Pod")
CM = lookup("", "v1", "ConfigMap")
RS = lookup("apps", "v1", "ReplicaSet")
CONTROLLERS = "garbagecollector,namespace,podgc"  # for the shared ``cluster`` fixture


@pytest.fixture
async def collector(client: Client) -> AsyncIterator[GarbageCollector]:
    informers = SharedInformerFactory(client)
    gc = GarbageCollector(ControllerContext(client, informers, EventRecorder(client, "test")))
    task = asyncio.create_task(run_with_informers(informers, gc.run()))
    await asyncio.wait_for(informers.wait_for_cache_sync(), 10)
    yield gc
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def run_with_informers(informers: SharedInformerFactory, work: Any) -> None:
    async with asyncio.TaskGroup() as tg:
        informers.start(tg)
        tg.create_task(work)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


async def read(client: Client, res: Any, name: str, ns: str | None) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = await client.resource(res, raw=True).get(name, ns)
        return obj
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def ref(owner: dict[str, Any], block: bool = True, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }


async def make_rs(client: Client, ns: str, name: str = "web", pods: int = 2) -> tuple[dict, list[str]]:
    labels = {"app": name}
    rs = await client.resource(RS, raw=True).create(
        {
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": pods,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
    )
    names = []
    for i in range(pods):
        pod = await client.resource(POD, raw=True).create(
            {
                "metadata": {
                    "name": f"{name}-{i}",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [ref(rs)],
                },
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        )
        names.append(pod["metadata"]["name"])
    return rs, names


async def test_collector_watches_metadata_unless_a_full_informer_exists(client: Client) -> None:
    informers = SharedInformerFactory(client)
    pods = informers.informer_for(POD)  # as the ReplicaSet controller, constructed before it
    GarbageCollector(ControllerContext(client, informers, EventRecorder(client, "test")))
    assert not informers.has_informer(CM)
    keys = {(i.resource.res.plural, type(i.resource.decode(b"{}")).__name__) for i in informers.informers()}
    assert ("configmaps", "PartialObjectMetadata") in keys and ("pods", "Pod") in keys
    assert ("pods", "PartialObjectMetadata") not in keys  # it shares the pods informer
    assert informers.informer_for(POD) is pods


async def test_background_deletes_dependents(client: Client, namespace: str, collector: Any) -> None:
    _rs, pods = await make_rs(client, namespace)
    await client.resource(RS).delete("web", namespace, propagation_policy="Background")
    assert await read(client, RS, "web", namespace) is None  # the owner goes at once

    async def pods_gone() -> bool:
        return all([await read(client, POD, p, namespace) is None for p in pods])

    await eventually(pods_gone)


async def test_foreground_owner_waits_for_blocking_dependents(
    client: Client, namespace: str, collector: Any
) -> None:
    _rs, pods = await make_rs(client, namespace)
    # A finalizer holds one pod after its deletion; the ReplicaSet must wait for it.
    await client.resource(POD).patch(
        pods[0], {"metadata": {"finalizers": ["example.com/hold"]}}, "merge", namespace
    )
    await client.resource(RS).delete("web", namespace, propagation_policy="Foreground")

    async def held_pod_terminating_other_gone() -> bool:
        held = await read(client, POD, pods[0], namespace)
        other = await read(client, POD, pods[1], namespace)
        return held is not None and bool(held["metadata"].get("deletionTimestamp")) and other is None

    await eventually(held_pod_terminating_other_gone)
    owner = await read(client, RS, "web", namespace)
    assert owner is not None
    assert owner["metadata"]["deletionTimestamp"]
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    await asyncio.sleep(0.3)  # still waiting, not just slow
    assert await read(client, RS, "web", namespace) is not None

    await client.resource(POD).patch(pods[0], {"metadata": {"finalizers": None}}, "merge", namespace)

    async def all_gone() -> bool:
        return (
            await read(client, RS, "web", namespace) is None
            and await read(client, POD, pods[0], namespace) is None
        )

    await eventually(all_gone)


async def test_foreground_does_not_wait_for_non_blocking_dependents(
    client: Client, namespace: str, collector: Any
) -> None:
    owner = await client.resource(CM, raw=True).create(
        {"metadata": {"name": "owner", "namespace": namespace}}
    )
    await client.resource(CM, raw=True).create(
        {
            "metadata": {
                "name": "dep",
                "namespace": namespace,
                "finalizers": ["example.com/hold"],
                "ownerReferences": [ref(owner, block=False, controller=False)],
            }
        }
    )
    await client.resource(CM).delete("owner", namespace, propagation_policy="Foreground")

    async def owner_gone() -> bool:
        return await read(client, CM, "owner", namespace) is None

    await eventually(owner_gone)
    dep = await read(client, CM, "dep", namespace)
    assert dep is not None and dep["metadata"]["deletionTimestamp"]  # deleted too, just not waited for
    await client.resource(CM).patch("dep", {"metadata": {"finalizers": None}}, "merge", namespace)


async def test_orphan_keeps_dependents_without_the_reference(
    client: Client, namespace: str, collector: Any
) -> None:
    _rs, pods = await make_rs(client, namespace)
    await client.resource(RS).delete("web", namespace, propagation_policy="Orphan")

    async def owner_gone() -> bool:
        return await read(client, RS, "web", namespace) is None

    await eventually(owner_gone)
    for name in pods:
        pod = await read(client, POD, name, namespace)
        assert pod is not None
        assert not pod["metadata"].get("ownerReferences")
        assert not pod["metadata"].get("deletionTimestamp")


async def test_dependent_with_two_owners_survives_one(client: Client, namespace: str, collector: Any) -> None:
    cms = client.resource(CM, raw=True)
    a = await cms.create({"metadata": {"name": "a", "namespace": namespace}})
    b = await cms.create({"metadata": {"name": "b", "namespace": namespace}})
    await cms.create(
        {
            "metadata": {
                "name": "shared",
                "namespace": namespace,
                "ownerReferences": [ref(a, controller=False), ref(b, controller=False)],
            }
        }
    )
    await cms.delete("a", namespace)

    async def reference_to_a_dropped() -> bool:
        obj = await read(client, CM, "shared", namespace)
        assert obj is not None, "a dependent with a live owner was deleted"
        return [r["name"] for r in obj["metadata"]["ownerReferences"]] == ["b"]

    await eventually(reference_to_a_dropped)
    await cms.delete("b", namespace)

    async def shared_gone() -> bool:
        return await read(client, CM, "shared", namespace) is None

    await eventually(shared_gone)


async def test_owner_that_never_existed_or_was_replaced(
    client: Client, namespace: str, collector: Any
) -> None:
    cms = client.resource(CM, raw=True)
    owner = await cms.create({"metadata": {"name": "owner", "namespace": namespace}})
    live = await cms.create(
        {"metadata": {"name": "live-child", "namespace": namespace, "ownerReferences": [ref(owner)]}}
    )
    stale = dict(ref(owner), uid="00000000-0000-0000-0000-000000000000")
    await cms.create(
        {"metadata": {"name": "stale-child", "namespace": namespace, "ownerReferences": [stale]}}
    )
    ghost = dict(ref(owner), name="ghost", uid="11111111-1111-1111-1111-111111111111")
    await cms.create(
        {"metadata": {"name": "ghost-child", "namespace": namespace, "ownerReferences": [ghost]}}
    )

    async def orphans_gone() -> bool:
        return (
            await read(client, CM, "stale-child", namespace) is None
            and await read(client, CM, "ghost-child", namespace) is None
        )

    await eventually(orphans_gone)
    assert await read(client, CM, "live-child", namespace) is not None
    assert live["metadata"]["uid"]


async def test_chain_foreground_deletes_grandchildren_first(
    client: Client, namespace: str, collector: Any
) -> None:
    cms = client.resource(CM, raw=True)
    top = await cms.create({"metadata": {"name": "top", "namespace": namespace}})
    mid = await cms.create(
        {"metadata": {"name": "mid", "namespace": namespace, "ownerReferences": [ref(top)]}}
    )
    await cms.create(
        {
            "metadata": {
                "name": "leaf",
                "namespace": namespace,
                "finalizers": ["example.com/hold"],
                "ownerReferences": [ref(mid)],
            }
        }
    )
    await cms.delete("top", namespace, propagation_policy="Foreground")

    async def mid_waiting() -> bool:
        leaf = await read(client, CM, "leaf", namespace)
        m = await read(client, CM, "mid", namespace)
        return bool(
            leaf
            and leaf["metadata"].get("deletionTimestamp")
            and m
            and m["metadata"].get("deletionTimestamp")
        )

    await eventually(mid_waiting)
    m = await read(client, CM, "mid", namespace)
    assert m is not None and m["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert await read(client, CM, "top", namespace) is not None
    await cms.patch("leaf", {"metadata": {"finalizers": None}}, "merge", namespace)

    async def all_gone() -> bool:
        return all([await read(client, CM, n, namespace) is None for n in ("top", "mid", "leaf")])

    await eventually(all_gone)


# ------------------------------------------------------------------ kubectl


@pytest.fixture(scope="module")
def kubeconfig(api_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    path = tmp_path_factory.mktemp("kubectl") / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{api_server.url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    return path


async def kubectl(kubeconfig: Path, *args: str) -> str:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    done = await asyncio.to_thread(
        subprocess.run, ["kubectl", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
async def test_kubectl_delete_cascade(
    client: Client, namespace: str, collector: Any, kubeconfig: Path, cascade: str
) -> None:
    _rs, pods = await make_rs(client, namespace)
    await kubectl(
        kubeconfig, "-n", namespace, "delete", "replicaset", "web", f"--cascade={cascade}", "--wait=true"
    )
    assert await read(client, RS, "web", namespace) is None

    async def settled() -> bool:
        left = [await read(client, POD, p, namespace) for p in pods]
        if cascade == "orphan":
            return all(p is not None and not p["metadata"].get("ownerReferences") for p in left)
        return all(p is None for p in left)

    await eventually(settled)


async def test_through_the_controller_manager(cluster: Any) -> None:
    """The three controllers by their manager names (the shared ``cluster`` harness runs
    ``CONTROLLERS``): a cascade, then a namespace deletion."""
    client, ns = cluster.client, cluster.namespace
    _rs, pods = await make_rs(client, ns)
    await client.resource(RS).delete("web", ns, propagation_policy="Background")

    async def pods_gone() -> bool:
        return all([await read(client, POD, p, ns) is None for p in pods])

    await eventually(pods_gone)
    await client.resource(CM, raw=True).create({"metadata": {"name": "cm", "namespace": ns}})
    await client.resource(NS).delete(ns)

    async def namespace_gone() -> bool:
        return await read(client, NS, ns, None) is None

    await eventually(namespace_gone)
