"""Probe actions (exec, httpGet, tcpSocket) and the thresholds of probe workers."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web
from podworker_fakes import advance

from kubelite.api.core_v1 import Container, LifecycleHandler, Pod, Probe
from kubelite.client import FakeClock
from kubelite.kubelet.probes import PodProbes, Prober, Result
from kubelite.kubelet.runtime.fake import FakeRuntime
from kubelite.kubelet.runtime.interface import ContainerConfig, ExecResult, SandboxConfig


def probe(**kw: Any) -> Probe:
    return msgspec.convert(kw, Probe)


async def _container(rt: FakeRuntime, name: str = "c") -> str:
    sb = await rt.run_sandbox(SandboxConfig(pod_uid="u", pod_name="p", namespace="default", hostname="p"))
    cid = await rt.create_container(
        sb, ContainerConfig(name=name, image="x", image_id="", rootfs_layers=[], command=["sh"])
    )
    await rt.start_container(cid)
    return cid


async def test_exec_probe() -> None:
    rt = FakeRuntime()
    cid = await _container(rt)
    rt.exec_results[("c", ("check",))] = ExecResult(1, b"", b"not ok")
    prober = Prober(rt)
    c = Container(name="c")
    assert (await prober.check(probe(exec={"command": ["true"]}), c, cid, "")).result == Result.SUCCESS
    out = await prober.check(probe(exec={"command": ["check"]}), c, cid, "")
    assert out.result == Result.FAILURE and out.output == "not ok"


async def test_http_and_tcp_probes() -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def bad(_: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/bad", bad)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    prober = Prober(FakeRuntime())
    c = msgspec.convert({"name": "c", "ports": [{"name": "http", "containerPort": port}]}, Container)
    try:
        assert (
            await prober.check(probe(httpGet={"path": "/ok", "port": "http"}), c, "", "127.0.0.1")
        ).result == Result.SUCCESS
        out = await prober.check(probe(httpGet={"path": "/bad", "port": port}), c, "", "127.0.0.1")
        assert out.result == Result.FAILURE and out.output == "HTTP probe failed with statuscode: 500"
        assert (
            await prober.check(probe(tcpSocket={"port": port}), c, "", "127.0.0.1")
        ).result == Result.SUCCESS
    finally:
        await runner.cleanup()
        await prober.close()
    out = await Prober(FakeRuntime()).check(probe(tcpSocket={"port": port}), c, "", "127.0.0.1")
    assert out.result == Result.FAILURE and "connection refused" in out.output


async def test_thresholds_and_events() -> None:
    clock = FakeClock()
    rt = FakeRuntime(clock)
    cid = await _container(rt)
    results = {"ok": True}
    rt.on_exec = lambda status, cmd: ExecResult(0 if results["ok"] else 1, b"", b"nope")
    events: list[str] = []
    changes: list[int] = []
    probes = PodProbes(
        Prober(rt, clock), clock, lambda: changes.append(1), lambda c, t, r, m: events.append(m)
    )
    c = msgspec.convert(
        {
            "name": "c",
            "readinessProbe": {
                "exec": {"command": ["r"]},
                "periodSeconds": 1,
                "successThreshold": 2,
                "failureThreshold": 3,
            },
            "livenessProbe": {
                "exec": {"command": ["l"]},
                "periodSeconds": 1,
                "failureThreshold": 2,
                "initialDelaySeconds": 3,
            },
        },
        Container,
    )
    probes.sync([c], {"c": (cid, clock.now())}, "")
    await advance(clock, 0.5)
    assert not probes.ready(c, cid)  # one success of two
    await advance(clock, 1)
    assert probes.ready(c, cid)
    results["ok"] = False
    await advance(clock, 1)
    assert probes.ready(c, cid) and probes.failed(c, cid) is None
    await advance(clock, 2)
    assert not probes.ready(c, cid)
    assert probes.failed(c, cid) is not None and probes.failed(c, cid).value == "liveness"  # type: ignore[union-attr]
    assert "Liveness probe failed: nope" in events and "Readiness probe failed: nope" in events
    await probes.stop()
    await asyncio.sleep(0)


async def test_exec_messages_as_the_kubelet_words_them() -> None:
    rt = FakeRuntime()
    cid = await _container(rt)
    rt.exec_results[("c", ("false",))] = ExecResult(1, b"", b"")
    rt.exec_results[("c", ("sh", "-c", "exit 3"))] = ExecResult(3, b"", b"bye\n")
    prober = Prober(rt)
    c = Container(name="c")
    silent = await prober.check(probe(exec={"command": ["false"]}), c, cid, "")
    assert silent.result == Result.FAILURE and silent.output == ""  # "Liveness probe failed: "

    async def slow(container_id: str, command: list[str], timeout: float) -> ExecResult:
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    hook = msgspec.convert({"exec": {"command": ["sh", "-c", "exit 3"]}}, LifecycleHandler)
    pod = msgspec.convert({"metadata": {"name": "p", "namespace": "default", "uid": "u"}}, Pod)
    failed = await prober.handler(hook, pod, c, cid, "", 5)
    assert failed == (
        'Exec lifecycle hook ([sh -c exit 3]) for Container "c" in Pod "p_default(u)" failed - '
        "error: command 'sh -c exit 3' exited with 3: , message: \"bye\\n\""
    )
    rt.exec_sync = slow  # type: ignore[method-assign]
    timed_out = await prober.check(
        probe(exec={"command": ["sh", "-c", "sleep 5"]}, timeoutSeconds=0), c, cid, ""
    )
    assert timed_out.output == 'command "sh -c sleep 5" timed out'
