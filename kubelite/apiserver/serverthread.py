"""An API server on an event loop of its own thread.

``kubelite up`` runs the scheduler, the controller manager and the node
agent beside the API server in one process. On one event loop every request
(a kubectl POST, the scheduler's binding, the kubelet's status patch) waits
behind whatever else is ready on that loop, for instance a node agent
starting thirty pods; on a loop of its own the server gets the interpreter
lock back within the switch interval (``ServerConfig.switch_interval``)
whenever a request arrives, so a request's latency no longer grows with the
other components' backlog. The components still talk to it over HTTP only,
as separate processes would: nothing of the server is shared across the two
loops except through ``ServerThread``'s methods.

The price is the lock's hand-offs between the threads, paid on every request
(see servertask.py): ``kubelite server``, with no node agent, keeps its API
server on the one loop of its components."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kubelite.api.fieldschema import prepare_schemas
from kubelite.api.model import prepare_struct_types
from kubelite.apiserver.app import APIServer
from kubelite.threadname import name_os_thread


class ServerThread:
    """Runs ``server.run()`` on a new loop in a daemon thread.

    ``start`` (blocking) or ``await started()`` returns once it serves (its
    ``url`` is set) or has failed; ``stop`` asks it to finish, from any thread;
    ``join`` (blocking) or ``await finished()`` waits for the end and raises
    what the server raised.
    """

    def __init__(self, server: APIServer, name: str = "apiserver") -> None:
        # Before a second thread decodes: msgspec's lazy per-class preparation is not safe
        # to race (see prepare_struct_types).
        prepare_struct_types()
        prepare_schemas()  # not to race, but so that no request after the start pays for them
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._target, name=name, daemon=True)
        self._ready = threading.Event()
        self._done = threading.Event()
        self._failure: BaseException | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.server.url

    def _target(self) -> None:
        name_os_thread(self.thread.name)
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as e:  # handed to whoever waits for the server
            self._failure = e
        finally:
            self.loop.close()
            self._ready.set()
            with self._lock:
                self._done.set()
                waiters, self._waiters = self._waiters, []
            for loop, future in waiters:
                loop.call_soon_threadsafe(_resolve, future)

    async def _main(self) -> None:
        started = asyncio.Event()
        task = asyncio.create_task(self.server.run(started), name="apiserver")
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        self._ready.set()
        waiter.cancel()
        await task

    def start(self, timeout: float | None = None) -> bool:
        """Start the thread and wait until the server serves; False if it ended (or timed out)."""
        self.thread.start()
        self._ready.wait(timeout)
        return self.serving

    async def started(self) -> bool:
        """``start`` for a caller on an event loop."""
        self.thread.start()
        await asyncio.to_thread(self._ready.wait)
        return self.serving

    @property
    def serving(self) -> bool:
        return bool(self.server.url) and not self._done.is_set()

    def stop(self) -> None:
        """Ask the server to finish (from any thread); a no-op once it has."""
        try:
            self.loop.call_soon_threadsafe(self.server.stop)
        except RuntimeError:  # the loop is closed: the server has finished
            pass

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread; raise what the server raised (cancellation by ``stop`` is no error)."""
        self.thread.join(timeout)
        self._raise_failure()

    async def finished(self) -> None:
        """``join`` for a caller on an event loop, without a thread of its own for the wait."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if not self._done.is_set():
                self._waiters.append((loop, future))
            else:
                future.set_result(None)
        await asyncio.shield(future)
        self._raise_failure()

    def _raise_failure(self) -> None:
        failure = self._failure
        if failure is not None and not isinstance(failure, asyncio.CancelledError):
            raise failure


def _resolve(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)
