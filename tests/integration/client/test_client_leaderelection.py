"""Leader election on a real Lease: one leader at a time, hand-over on a clean
stop, take-over after a crashed leader's lease expires, and stepping down
when renewals fail."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.client.leaderelection import LeaderElector
from kubelite.client.rest import Client, lookup

LEASE = lookup("coordination.k8s.io", "v1", "Lease")
FAST = {"lease_duration": 1, "renew_deadline": 0.5, "retry_period": 0.05}


class Leading:
    """lead() coroutines that record who leads, and never overlap unnoticed."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.max_concurrent = 0
        self.history: list[str] = []
        self.cancelled: list[str] = []

    def lead(self, identity: str) -> Any:
        async def run() -> None:
            self.active.add(identity)
            self.history.append(identity)
            self.max_concurrent = max(self.max_concurrent, len(self.active))
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(identity)
                raise
            finally:
                self.active.discard(identity)

        return run


async def _until(check: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_one_leader_and_hand_over_on_clean_stop(client: Client, namespace: str) -> None:
    leading = Leading()
    a = LeaderElector(client, "ctrl", namespace, "a", **FAST)  # type: ignore[arg-type]
    b = LeaderElector(client, "ctrl", namespace, "b", **FAST)  # type: ignore[arg-type]
    ta = asyncio.create_task(a.run(leading.lead("a")))
    await _until(lambda: a.is_leader)
    tb = asyncio.create_task(b.run(leading.lead("b")))
    try:
        await _one_leader_then_hand_over(client, namespace, leading, a, b, ta)
    finally:
        for task in (ta, tb):
            task.cancel()
        await asyncio.gather(ta, tb, return_exceptions=True)


async def _one_leader_then_hand_over(
    client: Client, namespace: str, leading: Leading, a: LeaderElector, b: LeaderElector, ta: Any
) -> None:
    await asyncio.sleep(0.5)  # b keeps trying while a renews
    assert leading.history == ["a"] and not b.is_leader and b.holder == "a"
    lease = await client.resource(LEASE).get("ctrl", namespace)
    assert lease.spec.holderIdentity == "a" and lease.spec.leaseDurationSeconds == 1
    assert lease.spec.renewTime and lease.spec.renewTime.endswith("Z") and "." in lease.spec.renewTime
    ta.cancel()
    await asyncio.gather(ta, return_exceptions=True)
    assert leading.cancelled == ["a"] and not a.is_leader
    released = await client.resource(LEASE).get("ctrl", namespace)
    assert not released.spec.holderIdentity
    await _until(lambda: b.is_leader and "b" in leading.active, timeout=1.0)  # no expiry wait
    assert leading.history == ["a", "b"] and leading.max_concurrent == 1
    lease = await client.resource(LEASE).get("ctrl", namespace)
    assert lease.spec.holderIdentity == "b" and lease.spec.leaseTransitions == 1


async def test_take_over_after_the_leader_dies_and_dead_leader_steps_down(
    client: Client, namespace: str
) -> None:
    leading = Leading()
    a = LeaderElector(client, "crash", namespace, "a", **FAST)  # type: ignore[arg-type]
    b = LeaderElector(client, "crash", namespace, "b", **FAST)  # type: ignore[arg-type]
    dead = Client("http://127.0.0.1:9", timeout=0.2)
    ta = asyncio.create_task(a.run(leading.lead("a")))
    tb: asyncio.Task[None] | None = None
    try:
        await _until(lambda: a.is_leader)
        tb = asyncio.create_task(b.run(leading.lead("b")))
        await asyncio.sleep(0.2)
        # a loses its connection to the API server: renewals fail.
        a.leases = dead.resource(LEASE)
        await _until(lambda: not a.is_leader, timeout=2.0)
        await asyncio.wait_for(ta, 2)  # run() returns once leadership is lost...
        assert a.lost and leading.cancelled == ["a"]  # ...and lead() was cancelled
        # b waits for the lease to expire (as it observes it) and takes over.
        await _until(lambda: b.is_leader and "b" in leading.active, timeout=3.0)
        assert leading.history == ["a", "b"] and leading.max_concurrent == 1
    finally:
        for task in (ta, tb):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (ta, tb) if t is not None), return_exceptions=True)
        await dead.close()


async def test_lead_returning_releases_the_lease(client: Client, namespace: str) -> None:
    ran: list[bool] = []

    async def lead() -> None:
        ran.append(True)

    elector = LeaderElector(client, "once", namespace, "solo", **FAST)  # type: ignore[arg-type]
    await asyncio.wait_for(elector.run(lead), 3)
    assert ran == [True] and not elector.is_leader and not elector.lost
    lease = await client.resource(LEASE).get("once", namespace)
    assert not lease.spec.holderIdentity
