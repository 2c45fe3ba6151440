"""An API server on the caller's own event loop, beside other components.

``ServerThread``'s interface (``started``, ``stop``, ``finished``, ``url``)
for a server that shares its loop with the components that call it. In one
process the interpreter lock lets only one thread run Python at a time, so a
second thread adds no parallelism, only hand-offs of the lock: every request
and response between the scheduler and the server on another thread passes
it back and forth. ``bench/scheduler_perf.py`` measured that at about a
third of the CPU per scheduled pod (1.5 ms on one loop, 2.3 ms across two
threads). ``kubelite server`` therefore keeps its server here; ``kubelite
up`` gives it a thread of its own (see serverthread.py), where its latency
must not wait on the node agent's bursts.
"""

from __future__ import annotations

import asyncio

from kubelite.api.fieldschema import prepare_schemas
from kubelite.api.model import prepare_struct_types
from kubelite.apiserver.app import APIServer


class ServerTask:
    """Runs ``server.run()`` as a task of the running loop.

    ``await started()`` returns once it serves (its ``url`` is set) or has
    failed; ``stop`` asks it to finish; ``await finished()`` waits for the end
    and raises what the server raised.
    """

    def __init__(self, server: APIServer) -> None:
        prepare_struct_types()
        prepare_schemas()  # so that no request after the start pays for them
        self.server = server
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return self.server.url

    async def started(self) -> bool:
        """Start the server and wait until it serves; False if it ended first."""
        ready = asyncio.Event()
        self._task = task = asyncio.create_task(self.server.run(ready), name="apiserver")
        waiter = asyncio.create_task(ready.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return bool(self.server.url) and not task.done()

    def stop(self) -> None:
        """Ask the server to finish; a no-op once it has."""
        self.server.stop()

    async def finished(self) -> None:
        """Wait for the server to end; raise what it raised (cancellation by ``stop`` is no error)."""
        if self._task is None:
            return
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # our caller was cancelled, not the server
