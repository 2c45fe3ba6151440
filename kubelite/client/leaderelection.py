"""Leader election on coordination.k8s.io/v1 Leases, so that only one copy of a
component (controller manager, scheduler) acts at a time.

A candidate reads the Lease; if nobody holds it, the holder released it, or
the holder has not renewed it for ``lease_duration`` seconds *as observed by
this candidate's own clock* (so clock skew between machines does not matter),
it writes itself in as holder. Writes carry the Lease's resourceVersion, so
of two candidates racing for the same Lease exactly one wins (the other gets
409 Conflict).

The leader renews every ``retry_period``; if it cannot renew for
``renew_deadline`` seconds (less than ``lease_duration``, so it steps down
before anyone else may take over), or it sees another holder, it cancels the
work it was leading. On a clean stop it releases the Lease so a successor
need not wait for expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec

from kubelite.api.coordination_v1 import Lease, LeaseSpec
from kubelite.api.errors import StatusError
from kubelite.api.meta import ObjectMeta
from kubelite.api.resources import Registry
from kubelite.api.timestamps import micro_time
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.rest import Client

log = logging.getLogger(__name__)

_ERRORS = (StatusError, aiohttp.ClientError, OSError, TimeoutError)


class LeaderElector:
    """Campaign for one Lease and run a coroutine while holding it.

    ``run(lead)`` waits until this candidate holds the Lease, runs ``lead()``
    and renews in the background. It returns when ``lead()`` returns (the
    Lease is released), or when leadership is lost (``lead()`` is cancelled
    first; ``lost`` is then True). Cancelling ``run`` cancels ``lead()``,
    releases the Lease and re-raises. ``is_leader`` is true exactly while
    ``lead()`` may act.
    """

    def __init__(
        self,
        client: Client,
        lease_name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15,
        renew_deadline: float = 10,
        retry_period: float = 2,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not lease_duration > renew_deadline > 0 or retry_period <= 0:
            raise ValueError("need lease_duration > renew_deadline > 0 and retry_period > 0")
        res = Registry().by_kind("coordination.k8s.io", "v1", "Lease")
        assert res is not None
        self.leases = client.resource(res)
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self.is_leader = False
        self.lost = False
        self._observed: LeaseSpec | None = None
        self._observed_at = 0.0  # clock.monotonic() when the observed record last changed
        self._lease: Lease | None = None  # the last Lease we read or wrote

    @property
    def holder(self) -> str:
        """The holder identity last observed ("" when none or unknown)."""
        return (self._observed.holderIdentity or "") if self._observed else ""

    # --------------------------------------------------------------- running

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        self.lost = False
        await self._acquire()
        log.info("%s: became leader of %s/%s", self.identity, self.namespace, self.lease_name)
        self.is_leader = True
        release = True
        lead_task = asyncio.ensure_future(lead())
        try:
            release = await self._renew_while(lead_task)
        finally:
            self.is_leader = False
            if not lead_task.done():
                lead_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(lead_task, return_exceptions=True)
            if release:
                await self._release()
        if not lead_task.cancelled() and lead_task.exception() is not None:
            raise lead_task.exception()  # type: ignore[misc]

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                return
            await self.clock.sleep(self.retry_period * (1 + random.random() * 0.2))

    async def _renew_while(self, lead_task: asyncio.Future[None]) -> bool:
        """Renew until ``lead_task`` ends (True: release) or renewal fails (False)."""
        last_renew = self.clock.monotonic()
        while True:
            sleeper = asyncio.ensure_future(self.clock.sleep(self.retry_period))
            try:
                await asyncio.wait({lead_task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
            if lead_task.done():
                return True
            ok = await self._try_acquire_or_renew(renewing=True)
            if ok:
                last_renew = self.clock.monotonic()
                continue
            if self.holder and self.holder != self.identity:
                reason = f"the lease is now held by {self.holder}"
            elif self.clock.monotonic() - last_renew >= self.renew_deadline:
                reason = f"could not renew for {self.renew_deadline}s"
            else:
                continue
            log.error(
                "%s: lost leadership of %s/%s: %s", self.identity, self.namespace, self.lease_name, reason
            )
            self.is_leader = False
            self.lost = True
            return False

    # ------------------------------------------------------------ lease I/O

    def _observe(self, lease: Lease) -> None:
        if self._observed != lease.spec:
            self._observed = lease.spec
            self._observed_at = self.clock.monotonic()
        self._lease = lease

    async def _try_acquire_or_renew(self, renewing: bool = False) -> bool:
        """One attempt to take or keep the Lease; True when we hold it afterwards."""
        now = micro_time(self.clock.now())
        try:
            async with asyncio.timeout(self.renew_deadline):
                try:
                    current = await self.leases.get(self.lease_name, self.namespace)
                except StatusError as e:
                    if e.code != 404:
                        raise
                    lease = Lease(
                        metadata=ObjectMeta(name=self.lease_name, namespace=self.namespace),
                        spec=self._spec(now, now, 0),
                    )
                    self._observe(await self.leases.create(lease, self.namespace))
                    return True
                self._observe(current)
                spec = current.spec
                holder = spec.holderIdentity or ""
                if holder and holder != self.identity:
                    duration = spec.leaseDurationSeconds or self.lease_duration
                    if self.clock.monotonic() < self._observed_at + duration:
                        return False  # someone else holds a live lease
                if holder == self.identity:
                    acquired = spec.acquireTime or now
                    transitions = spec.leaseTransitions or 0
                else:
                    if renewing:
                        return False  # we lost it in between; never silently re-take while leading
                    acquired = now
                    transitions = (spec.leaseTransitions or 0) + 1
                updated = msgspec.structs.replace(current, spec=self._spec(acquired, now, transitions))
                self._observe(await self.leases.update(updated, namespace=self.namespace))
                return True
        except _ERRORS as e:
            log.info("%s: lease %s/%s: %s", self.identity, self.namespace, self.lease_name, e)
            return False

    def _spec(self, acquire_time: str, renew_time: str, transitions: int) -> LeaseSpec:
        return LeaseSpec(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(int(self.lease_duration), 1),
            acquireTime=acquire_time,
            renewTime=renew_time,
            leaseTransitions=transitions,
        )

    async def _release(self) -> None:
        """Give the Lease up (holder cleared) if we still hold it; failures only logged.

        A renewal cancelled mid-flight may have landed without us seeing its
        answer, so on 409 Conflict the Lease is read again and, if it is
        still ours, released from that version.
        """
        lease = self._lease
        try:
            async with asyncio.timeout(self.renew_deadline):
                for _ in range(2):
                    if lease is None or lease.spec.holderIdentity != self.identity:
                        return
                    now = micro_time(self.clock.now())
                    spec = LeaseSpec(
                        holderIdentity=None,
                        leaseDurationSeconds=1,
                        acquireTime=now,
                        renewTime=now,
                        leaseTransitions=lease.spec.leaseTransitions or 0,
                    )
                    try:
                        released = await self.leases.update(
                            msgspec.structs.replace(lease, spec=spec), namespace=self.namespace
                        )
                    except StatusError as e:
                        if e.code != 409:
                            raise
                        lease = await self.leases.get(self.lease_name, self.namespace)
                        continue
                    self._observe(released)
                    return
        except _ERRORS as e:
            log.warning(
                "%s: could not release lease %s/%s: %s", self.identity, self.namespace, self.lease_name, e
            )
