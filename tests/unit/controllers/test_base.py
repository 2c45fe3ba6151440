"""The controller base: expectations, owner helpers and the worker loop (fake time, no server)."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.api.meta import ObjectMeta, OwnerReference
from kubelite.client import FakeClock
from kubelite.client.informer import Indexer
from kubelite.controllers.base import (
    Controller,
    ControllerContext,
    Expectations,
    controller_ref,
    new_controller_ref,
    owner_key,
    resolve_controller_ref,
)


def pod(name: str, *refs: OwnerReference, ns: str = "default") -> Pod:
    return Pod(metadata=ObjectMeta(name=name, namespace=ns, ownerReferences=list(refs)))


def test_expectations_counted_creations() -> None:
    clock = FakeClock()
    exp = Expectations(clock, timeout=300)
    assert exp.satisfied("ns/rs")  # never expected anything
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.pending("ns/rs") == (1, 0)
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")  # more than expected: stays satisfied, never negative
    assert exp.pending("ns/rs") == (0, 0)


def test_expectations_named_deletions_count_each_pod_once() -> None:
    exp = Expectations(FakeClock())
    exp.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    exp.deletion_observed("ns/rs", "ns/other")  # someone else's deletion
    exp.deletion_observed("ns/rs", None)
    assert exp.pending("ns/rs") == (0, 2)
    exp.deletion_observed("ns/rs", "ns/a")
    exp.deletion_observed("ns/rs", "ns/a")  # terminating, then gone: counted once
    assert exp.pending("ns/rs") == (0, 1) and not exp.satisfied("ns/rs")
    exp.deletion_observed("ns/rs", "ns/b")
    assert exp.satisfied("ns/rs")


def test_expectations_time_out_and_forget() -> None:
    clock = FakeClock()
    exp = Expectations(clock, timeout=300)
    exp.expect("ns/rs", adds=1)
    clock.advance(299)
    assert not exp.satisfied("ns/rs")
    clock.advance(2)
    assert exp.satisfied("ns/rs")  # a lost watch event must not wedge the controller
    exp.raise_by("ns/rs", adds=1)
    exp.forget("ns/rs")
    assert exp.satisfied("ns/rs") and exp.pending("ns/rs") == (0, 0)


def test_owner_helpers() -> None:
    owner = Pod(metadata=ObjectMeta(name="web", namespace="ns", uid="u1"))
    ref = new_controller_ref(owner, "apps/v1", "ReplicaSet")
    assert (ref.apiVersion, ref.kind, ref.name, ref.uid, ref.controller, ref.blockOwnerDeletion) == (
        "apps/v1",
        "ReplicaSet",
        "web",
        "u1",
        True,
        True,
    )
    plain = OwnerReference(apiVersion="v1", kind="ConfigMap", name="cm", uid="u0")
    child = pod("c", plain, ref, ns="ns")
    assert controller_ref(child) is ref
    assert owner_key(child, "ReplicaSet") == "ns/web"
    assert owner_key(child, "StatefulSet") is None
    assert controller_ref(pod("orphan", plain)) is None

    cache = Indexer()
    cache.set(owner)
    assert resolve_controller_ref(_Cache(cache), "ns", ref, "ReplicaSet") is owner
    assert resolve_controller_ref(_Cache(cache), "ns", ref, "Deployment") is None  # wrong kind
    stale = OwnerReference(apiVersion="apps/v1", kind="ReplicaSet", name="web", uid="old", controller=True)
    assert resolve_controller_ref(_Cache(cache), "ns", stale, "ReplicaSet") is None  # recreated owner
    assert resolve_controller_ref(_Cache(cache), "ns", None, "ReplicaSet") is None


class _Cache:
    """An informer's read side over an Indexer."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def get_by(self, namespace: str | None, name: str) -> Any:
        return self.indexer.get_by(namespace, name)


class _Informers:
    async def wait_for_cache_sync(self) -> bool:
        return True


class Flaky(Controller):
    NAME = "flaky"

    def __init__(self, ctx: ControllerContext, failures: int) -> None:
        super().__init__(ctx)
        self.failures = failures
        self.calls: list[str] = []
        self.done = asyncio.Event()

    async def sync(self, key: str) -> None:
        self.calls.append(key)
        if len(self.calls) <= self.failures:
            raise RuntimeError("not yet")
        self.done.set()


async def test_worker_retries_a_failed_sync_with_back_off() -> None:
    clock = FakeClock()
    ctx = ControllerContext(client=None, informers=_Informers(), recorder=None, clock=clock, workers=2)  # type: ignore[arg-type]
    controller = Flaky(ctx, failures=3)
    task = asyncio.create_task(controller.run())
    try:
        controller.enqueue("ns/a")
        controller.enqueue("ns/a")  # de-duplicated
        await clock.settle()
        assert controller.calls == ["ns/a"]
        assert controller.queue.num_requeues("ns/a") == 1
        await clock.run_for(0.004)  # the first back-off is 5 ms
        assert controller.calls == ["ns/a"]
        await clock.run_for(0.002)
        assert controller.calls == ["ns/a", "ns/a"]
        await clock.run_for(1)
        assert controller.done.is_set() and len(controller.calls) == 4
        assert controller.queue.num_requeues("ns/a") == 0  # forgotten after success
        controller.enqueue_after("ns/b", 30)
        await clock.run_for(29)
        assert "ns/b" not in controller.calls
        await clock.run_for(1)
        assert controller.calls[-1] == "ns/b"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
