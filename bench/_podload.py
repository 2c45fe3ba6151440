"""The pod load of ``bench/scheduler_perf.py``, in a process of its own.

The load generator is not the system under test: it creates pods and times
their bindings. In the bench's process it would share the one event loop
(and interpreter lock) with the API server and the scheduler and count in
their CPU per pod; kube-scheduler's scheduler_perf creates its pods from
goroutines that run on other cores. So the bench starts this script as a
child process, which creates pods through the lean HTTP transport and
watches pods for their bindings, on the machine's other core.

The parent speaks JSON lines on the child's stdin; the child answers on its
stdout (a start-up line ``{"op": "ready"}`` once its watch runs):

- ``{"op": "create", "namespace", "template", "count", "prefix"}``: create
  ``count`` pods ``<prefix>-<i>`` from ``template``; answered ``{"op":
  "created", "namespace", "error"}`` when all are (``error`` empty) or when
  one failed;
- ``{"op": "wait", "namespace", "count", "timeout"}``: answered ``{"op":
  "bound", "namespace", "times", "done"}`` once ``count`` pods of the
  namespace are seen bound or ``timeout`` seconds have passed: ``times`` are
  the ``time.monotonic()`` (CLOCK_MONOTONIC, the same in every process of
  the machine) at which each was seen bound, in order.

    .venv/bin/python bench/_podload.py URL     (started by scheduler_perf.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubelite.client import Client, lookup
from kubelite.client.watch import WatchStream

PODS = lookup("", "v1", "Pod")
CREATE_CONCURRENCY = 32
ANSWER_LIMIT = 64 << 20  # bytes of one answer line: the binding times of every measured pod


@dataclass
class Bindings:
    """Binding times observed on a pod watch, per namespace."""

    times: dict[str, list[float]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, namespace: str) -> int:
        return len(self.times.get(namespace, ()))

    async def wait_for(self, namespace: str, n: int, deadline: float) -> bool:
        while self.count(namespace) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
        return True


class _ViewMeta(msgspec.Struct):
    uid: str = ""
    namespace: str = ""
    resourceVersion: str = ""


class _ViewSpec(msgspec.Struct):
    nodeName: str = ""


class _PodView(msgspec.Struct):
    """The few fields of a pod the binding watch reads (msgspec skips the rest unparsed)."""

    metadata: _ViewMeta = msgspec.field(default_factory=_ViewMeta)
    spec: _ViewSpec = msgspec.field(default_factory=_ViewSpec)


_POD_VIEW = msgspec.json.Decoder(_PodView)


async def watch_bindings(client: Client, resource_version: str, out: Bindings) -> None:
    """Record when each pod is first seen bound."""
    path = client.resource(PODS).path()
    rv = resource_version
    while True:
        params = {
            "watch": "1",
            "resourceVersion": rv,
            "timeoutSeconds": "3600",
            "allowWatchBookmarks": "true",
        }
        stream = WatchStream(client, path, params, 3600, _POD_VIEW.decode)
        try:
            async for ev in stream:
                rv = ev.resource_version or rv
                obj = ev.object
                if ev.type not in ("ADDED", "MODIFIED") or not obj.spec.nodeName:
                    continue
                uid = obj.metadata.uid
                if uid in out.seen:
                    continue
                out.seen.add(uid)
                out.times.setdefault(obj.metadata.namespace, []).append(time.monotonic())
                out.changed.set()
        finally:
            await stream.aclose()


async def create_pods(
    client: Client, namespace: str, template: dict[str, Any], count: int, prefix: str
) -> None:
    """``count`` pods from ``template`` named ``<prefix>-<i>``, CREATE_CONCURRENCY at a time."""
    path = client.resource(PODS).path(namespace)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = {
                **template,
                "metadata": {**template["metadata"], "name": f"{prefix}-{i}", "namespace": namespace},
            }
            body["apiVersion"], body["kind"] = "v1", "Pod"
            await client.request("POST", path, body=orjson.dumps(body))

    async with asyncio.TaskGroup() as tg:
        for _ in range(CREATE_CONCURRENCY):
            tg.create_task(worker())


# --- the child's side -------------------------------------------------------------------------------


async def serve(url: str) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)

    def answer(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    async def create(cmd: dict[str, Any]) -> None:
        error = ""
        try:
            await create_pods(creator, cmd["namespace"], cmd["template"], cmd["count"], cmd["prefix"])
        except Exception as e:  # the parent reports it
            error = repr(e)
        answer({"op": "created", "namespace": cmd["namespace"], "error": error})

    async def wait(cmd: dict[str, Any]) -> None:
        ns = cmd["namespace"]
        done = await bindings.wait_for(ns, cmd["count"], time.monotonic() + cmd["timeout"])
        answer({"op": "bound", "namespace": ns, "times": bindings.times.get(ns, []), "done": done})

    async with (
        Client(url, component="bench", timeout=120) as client,
        Client(url, component="bench-creator", timeout=120, lean_http=True) as creator,
    ):
        _, rv, _ = await client.resource(PODS).list(limit=1)
        bindings = Bindings()
        tasks = {asyncio.create_task(watch_bindings(client, rv, bindings))}
        answer({"op": "ready"})
        while line := await commands.readline():
            cmd = json.loads(line)
            tasks.add(asyncio.create_task(create(cmd) if cmd["op"] == "create" else wait(cmd)))
        # stdin closed: the parent is done
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class LoadGenerator:
    """The parent's handle on a ``_podload.py`` child serving ``url``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._answers: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._ended: str | None = None  # why no more answers will come
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, timeout: float = 60) -> LoadGenerator:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=ANSWER_LIMIT,
        )
        generator = cls(process)
        try:
            await asyncio.wait_for(generator._expect("ready", ""), timeout)
        except BaseException:
            await generator.close()
            raise
        return generator

    async def _read(self) -> None:
        assert self.process.stdout is not None
        why = "the pod load generator ended"
        try:
            while line := await self.process.stdout.readline():
                message = json.loads(line)
                future = self._answers.pop((message["op"], message.get("namespace", "")), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except Exception as e:
            why = f"reading the pod load generator's answers failed: {e!r}"
        finally:
            self._ended = why
            for future in self._answers.values():
                if not future.done():
                    future.set_exception(RuntimeError(why))

    def _expect(self, op: str, namespace: str) -> asyncio.Future[dict[str, Any]]:
        future = self._answers.setdefault((op, namespace), asyncio.get_running_loop().create_future())
        if self._ended is not None and not future.done():
            future.set_exception(RuntimeError(self._ended))
        return future

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    def create(
        self, namespace: str, template: dict[str, Any], count: int, prefix: str
    ) -> asyncio.Future[str]:
        """Start creating the pods; the future's result is "" once all are, else the error."""
        answer = self._expect("created", namespace)
        self._send(
            {"op": "create", "namespace": namespace, "template": template, "count": count, "prefix": prefix}
        )
        return asyncio.ensure_future(_field(answer, "error"))

    async def wait_bound(self, namespace: str, count: int, timeout: float) -> tuple[list[float], bool]:
        """When the first ``count`` pods of ``namespace`` were seen bound, and whether all were in time."""
        answer = self._expect("bound", namespace)
        self._send({"op": "wait", "namespace": namespace, "count": count, "timeout": timeout})
        message = await answer
        return message["times"], message["done"]

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


async def _field(answer: asyncio.Future[dict[str, Any]], name: str) -> Any:
    return (await answer)[name]


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
