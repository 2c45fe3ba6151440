"""The fake runtime: scripted exits, start failures, OOM and SIGTERM handling in fake time."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client.clock import FakeClock
from kubelite.kubelet.runtime.crilog import parse_log_line
from kubelite.kubelet.runtime.fake import FakeBehavior, FakeRuntime
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ExecResult,
    NotFound,
    Runtime,
    RuntimeFailure,
    SandboxConfig,
)


def cfg(name: str, attempt: int = 0, log_path: str = "") -> ContainerConfig:
    return ContainerConfig(
        name=name,
        image="img",
        image_id="sha",
        rootfs_layers=[],
        command=["x"],
        attempt=attempt,
        log_path=log_path,
    )


async def setup() -> tuple[FakeRuntime, FakeClock, object]:
    clock = FakeClock()
    rt = FakeRuntime(clock)
    assert isinstance(rt, Runtime)
    await rt.start()
    sb = await rt.run_sandbox(SandboxConfig(pod_uid="u", pod_name="p", namespace="ns", hostname="p"))
    return rt, clock, sb


async def test_scripted_exit_after_time() -> None:
    rt, clock, sb = await setup()
    rt.behaviors["app"] = FakeBehavior(exit_code=3, exit_after=5)
    cid = await rt.create_container(sb, cfg("app"))  # type: ignore[arg-type]
    await rt.start_container(cid)
    clock.advance(4)
    assert (await rt.container_status(cid)).state == ContainerState.RUNNING
    clock.advance(1)
    status = await rt.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 3, "Error")
    assert status.finished_at - status.started_at == 5


async def test_fail_start_per_attempt_and_oom() -> None:
    rt, clock, sb = await setup()
    rt.behaviors["db"] = [FakeBehavior(fail_start="exec: not found"), FakeBehavior(oom=True, exit_after=1)]
    first = await rt.create_container(sb, cfg("db", 0))  # type: ignore[arg-type]
    with pytest.raises(RuntimeFailure, match="not found"):
        await rt.start_container(first)
    status = await rt.container_status(first)
    assert (status.exit_code, status.reason, status.message) == (128, "StartError", "exec: not found")
    second = await rt.create_container(sb, cfg("db", 1))  # type: ignore[arg-type]
    await rt.start_container(second)
    clock.advance(1)
    status = await rt.container_status(second)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_stop_term_and_kill_in_fake_time() -> None:
    rt, clock, sb = await setup()
    rt.behaviors["stubborn"] = FakeBehavior(term_exit_code=None)
    polite = await rt.create_container(sb, cfg("polite"))  # type: ignore[arg-type]
    stubborn = await rt.create_container(sb, cfg("stubborn"))  # type: ignore[arg-type]
    await rt.start_container(polite)
    await rt.start_container(stubborn)
    await rt.stop_container(polite, 30)
    assert (await rt.container_status(polite)).exit_code == 143
    task = asyncio.create_task(rt.stop_container(stubborn, 30))
    await clock.wait_for_sleepers(1)
    assert not task.done()
    await clock.step(30)
    await task
    assert (await rt.container_status(stubborn)).exit_code == 137


async def test_exec_results_logs_and_removal(tmp_path) -> None:
    rt, _clock, sb = await setup()
    rt.behaviors["app"] = FakeBehavior(logs=["hello"])
    rt.exec_results[("app", ("cat", "/ready"))] = ExecResult(1, b"", b"missing")
    log = str(tmp_path / "app.log")
    cid = await rt.create_container(sb, cfg("app", log_path=log))  # type: ignore[arg-type]
    await rt.start_container(cid)
    assert (await rt.exec_sync(cid, ["cat", "/ready"], 1)).exit_code == 1
    assert (await rt.exec_sync(cid, ["true"], 1)).exit_code == 0
    session = await rt.exec(cid, ["cat", "/ready"], stdin=False, tty=False)
    assert [item async for item in session.output()] == [(2, b"missing")]
    with open(log, "rb") as f:
        assert parse_log_line(f.readline()).content == b"hello"
    stats = await rt.stats(cid)
    assert stats["workingSetBytes"] > 0
    await rt.remove_sandbox(sb.id)  # type: ignore[attr-defined]
    assert await rt.list_containers() == [] and await rt.list_sandboxes() == []
    with pytest.raises(NotFound):
        await rt.container_status(cid)
    assert ("remove_sandbox", sb.id) in rt.calls  # type: ignore[attr-defined]
