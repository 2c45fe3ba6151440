"""The process runtime (no isolation, no root): the shim, logs, exit codes, stop, exec, attach
and re-adoption, with host processes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import pytest

from kubelite.kubelet.runtime import make_runtime
from kubelite.kubelet.runtime.crilog import parse_log_line
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    Runtime,
    RuntimeFailure,
    SandboxConfig,
)
from kubelite.kubelet.runtime.process import ProcessRuntime, resolve_command


def config(name: str, script: str, tmp_path, **kw: Any) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        image="img",
        image_id="sha",
        rootfs_layers=[],
        command=["sh", "-c", script],
        log_path=str(tmp_path / "logs" / f"{name}.log"),
        **kw,
    )


async def wait_exited(rt: ProcessRuntime, cid: str, timeout: float = 10.0) -> ContainerStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = await rt.container_status(cid)
        if status.state == ContainerState.EXITED or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.02)


def records(path: str) -> list[tuple[str, bytes]]:
    with open(path, "rb") as f:
        return [(r.stream, r.content) for r in map(parse_log_line, f)]


@pytest.fixture
async def rt(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    runtime = ProcessRuntime(str(tmp_path / "root"))
    await runtime.start()
    assert "WITHOUT ANY ISOLATION" in caplog.text
    yield runtime
    for s in await runtime.list_sandboxes():
        await runtime.remove_sandbox(s.id)
    await runtime.close()


async def sandbox(rt: ProcessRuntime):
    return await rt.run_sandbox(SandboxConfig(pod_uid="u", pod_name="p", namespace="default", hostname="p"))


async def test_logs_exit_code_and_env(rt: ProcessRuntime, tmp_path) -> None:
    assert isinstance(rt, Runtime)
    sb = await sandbox(rt)
    cid = await rt.create_container(
        sb, config("app", 'echo "hello $WHO"; echo oops >&2; exit 3', tmp_path, env={"WHO": "you"})
    )
    assert (await rt.container_status(cid)).state == ContainerState.CREATED
    await rt.start_container(cid)
    status = await wait_exited(rt, cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 3, "Error")
    assert ("stdout", b"hello you") in records(status.log_path)
    assert ("stderr", b"oops") in records(status.log_path)
    with pytest.raises(RuntimeFailure):
        await rt.start_container(cid)  # a container starts once


async def test_stop_term_then_kill(rt: ProcessRuntime, tmp_path) -> None:
    sb = await sandbox(rt)
    polite = await rt.create_container(
        sb, config("polite", "trap 'exit 0' TERM; while :; do sleep 0.05; done", tmp_path)
    )
    stubborn = await rt.create_container(
        sb, config("stubborn", "trap '' TERM; while :; do sleep 0.05; done", tmp_path)
    )
    await rt.start_container(polite)
    await rt.start_container(stubborn)
    await asyncio.sleep(0.2)
    await rt.stop_container(polite, 5)
    assert (await rt.container_status(polite)).exit_code == 0
    t0 = time.monotonic()
    await rt.stop_container(stubborn, 0.5)
    assert time.monotonic() - t0 >= 0.5
    assert (await rt.container_status(stubborn)).exit_code == 137


async def test_exec_sync_and_timeout(rt: ProcessRuntime, tmp_path) -> None:
    sb = await sandbox(rt)
    cid = await rt.create_container(sb, config("app", "sleep 30", tmp_path, env={"X": "42"}))
    await rt.start_container(cid)
    result = await rt.exec_sync(cid, ["sh", "-c", 'echo "x=$X"; exit 4'], 5)
    assert (result.exit_code, result.stdout) == (4, b"x=42\n")
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "30"], 0.3)
    await rt.remove_container(cid)
    assert await rt.list_containers() == []


async def test_attach_and_start_failure(rt: ProcessRuntime, tmp_path) -> None:
    sb = await sandbox(rt)
    cid = await rt.create_container(sb, config("cat", "read l; echo got-$l", tmp_path, stdin=True))
    await rt.start_container(cid)
    session = await rt.attach(cid, stdin=True, tty=False)
    await session.write_stdin(b"it\n")
    out = [data async for _stream, data in session.output()]
    assert b"got-it\n" in out
    assert await session.wait() == 0
    with pytest.raises(RuntimeFailure, match="not found"):
        bad = config("x", "", tmp_path)
        bad.command = ["no-such-command-here"]
        await rt.create_container(sb, bad)


async def test_readoption_after_agent_restart(rt: ProcessRuntime, tmp_path) -> None:
    sb = await sandbox(rt)
    cid = await rt.create_container(sb, config("app", "sleep 30", tmp_path))
    await rt.start_container(cid)
    before = await rt.container_status(cid)
    again = ProcessRuntime(rt.root_dir)
    await again.start()
    [after] = await again.list_containers(sb.id)
    assert (after.id, after.state, after.started_at, after.pid) == (
        cid,
        "running",
        before.started_at,
        before.pid,
    )
    stats = await again.stats(cid)
    assert stats["rssBytes"] >= 0 and stats["usageCoreNanoSeconds"] >= 0
    await again.stop_container(cid, 5)
    status = await again.container_status(cid)
    assert status.exit_code == 143  # sh killed by SIGTERM, recorded by the shim


def test_resolve_command_prefers_the_image_layers(tmp_path) -> None:
    layer = tmp_path / "layer"
    (layer / "usr" / "bin").mkdir(parents=True)
    tool = layer / "usr" / "bin" / "mytool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert resolve_command("mytool", [str(layer)], "/usr/bin:/bin") == str(tool)
    assert resolve_command("/usr/bin/mytool", [str(layer)], "/bin") == str(tool)
    assert os.path.basename(resolve_command("sh", [str(layer)], "/usr/bin:/bin")) == "sh"
    with pytest.raises(RuntimeFailure):
        resolve_command("no-such-tool-anywhere", [str(layer)], "/bin")


def test_make_runtime(tmp_path) -> None:
    assert make_runtime("process", str(tmp_path)).name == "process"
    assert make_runtime("fake", str(tmp_path)).name == "fake"
    assert make_runtime("auto", str(tmp_path)).name in ("runc", "process")
    with pytest.raises(ValueError, match="unknown container runtime"):
        make_runtime("nope", str(tmp_path))


async def test_shims_outlive_their_zygote_and_a_gone_zygote_is_replaced(
    rt: ProcessRuntime, tmp_path, monkeypatch
) -> None:
    sb = await sandbox(rt)
    first = await rt.create_container(sb, config("first", "sleep 30", tmp_path))
    await rt.start_container(first)
    launcher = rt.shims
    zygote = launcher._proc
    assert zygote is not None
    zygote.kill()
    zygote.wait()
    assert (await rt.container_status(first)).state == ContainerState.RUNNING
    second = await rt.create_container(sb, config("second", "sleep 30", tmp_path))
    await rt.start_container(second)  # through a new zygote
    assert launcher._proc is not None and launcher._proc is not zygote
    assert (await rt.container_status(second)).state == ContainerState.RUNNING
    monkeypatch.setattr(launcher, "_broken", True)  # no zygote: an interpreter per shim
    third = await rt.create_container(sb, config("third", "echo alone", tmp_path))
    await rt.start_container(third)
    status = await wait_exited(rt, third)
    assert status.exit_code == 0 and ("stdout", b"alone") in records(status.log_path)


async def test_close_stops_the_zygote_and_a_later_start_brings_one_back(rt: ProcessRuntime, tmp_path) -> None:
    sb = await sandbox(rt)
    first = await rt.create_container(sb, config("first", "sleep 30", tmp_path))
    await rt.start_container(first)
    zygote = rt.shims._proc
    assert zygote is not None and zygote.poll() is None
    await rt.close()
    assert zygote.returncode is not None  # exited, and reaped by us
    assert (await rt.container_status(first)).state == ContainerState.RUNNING  # shims outlive it
    second = await rt.create_container(sb, config("second", "echo again", tmp_path))
    await rt.start_container(second)
    status = await wait_exited(rt, second)
    assert status.exit_code == 0 and ("stdout", b"again") in records(status.log_path)
    assert rt.shims._proc is not None and rt.shims._proc is not zygote
    await rt.close()


async def test_listing_by_pod_and_by_sandbox(rt: ProcessRuntime, tmp_path) -> None:
    """The filtered listings find exactly one pod's sandboxes and one sandbox's containers,
    also in a runtime started later (a restarted agent) and after another instance removed one."""
    a = await rt.run_sandbox(SandboxConfig(pod_uid="ua", pod_name="a", namespace="default", hostname="a"))
    b = await rt.run_sandbox(SandboxConfig(pod_uid="ub", pod_name="b", namespace="default", hostname="b"))
    in_a = [await rt.create_container(a, config(f"a{i}", "true", tmp_path)) for i in range(2)]
    in_b = await rt.create_container(b, config("b0", "true", tmp_path))
    assert [s.id for s in await rt.list_sandboxes("ua")] == [a.id]
    assert await rt.list_sandboxes("nobody") == []
    assert sorted(c.id for c in await rt.list_containers(a.id)) == sorted(in_a)
    assert [c.id for c in await rt.list_containers(b.id)] == [in_b]

    again = ProcessRuntime(rt.root_dir)
    await again.start()
    assert [s.id for s in await again.list_sandboxes("ub")] == [b.id]
    assert sorted(c.id for c in await again.list_containers(a.id)) == sorted(in_a)

    await again.remove_container(in_a[0])
    assert [c.id for c in await rt.list_containers(a.id)] == [in_a[1]]
    await again.remove_sandbox(b.id)
    assert await rt.list_sandboxes("ub") == []
    assert [s.id for s in await rt.list_sandboxes()] == [a.id]


async def test_a_record_made_during_a_full_listing_stays_indexed(rt: ProcessRuntime, tmp_path) -> None:
    """The PLEG lists everything while pod workers create: a sandbox or container recorded after
    the full listing read the directory is no record that went away."""
    a = await rt.run_sandbox(SandboxConfig(pod_uid="ua", pod_name="a", namespace="default", hostname="a"))
    made: dict[str, str] = {}
    list_containers, list_sandboxes = rt._container_ids, rt._sandbox_ids

    def containers_then_a_create() -> list[str]:
        ids = list_containers()
        if not made:
            made["c"] = asyncio.run_coroutine_threadsafe(
                rt.create_container(a, config("late", "true", tmp_path)), loop
            ).result()
            rt._container_record(made["c"])  # read (cached) meanwhile, as a start does
        return ids

    def sandboxes_then_a_create() -> list[str]:
        ids = list_sandboxes()
        if "s" not in made:
            made["s"] = (
                asyncio.run_coroutine_threadsafe(
                    rt.run_sandbox(
                        SandboxConfig(pod_uid="ub", pod_name="b", namespace="default", hostname="b")
                    ),
                    loop,
                )
                .result()
                .id
            )
        return ids

    loop = asyncio.get_running_loop()
    rt._container_ids = containers_then_a_create  # type: ignore[method-assign]
    rt._sandbox_ids = sandboxes_then_a_create  # type: ignore[method-assign]
    assert made == {} and await rt.list_containers() == []
    assert [s.id for s in await rt.list_sandboxes()] == [a.id]
    rt._container_ids, rt._sandbox_ids = list_containers, list_sandboxes  # type: ignore[method-assign]
    assert [c.id for c in await rt.list_containers(a.id)] == [made["c"]]
    assert [s.id for s in await rt.list_sandboxes("ub")] == [made["s"]]
