"""The runc runtime against real runc: logs and exit codes, shared namespaces, OOM, stop,
exec, attach, re-adoption after an agent restart, and a clean slate after removal.

Skipped (with the reason) unless root with runc and busybox-static; see conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from runtime_harness import RuntimeBox

from kubelite.kubelet.runtime.crilog import parse_log_line
from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    Resources,
    RuntimeFailure,
    Sandbox,
    SandboxConfig,
)
from kubelite.kubelet.runtime.runc import RuncRuntime

pytestmark = pytest.mark.root


def sandbox_config(name: str = "web", **kw: Any) -> SandboxConfig:
    return SandboxConfig(pod_uid=f"uid-{name}", pod_name=name, namespace="default", hostname=name, **kw)


def container(layer: str, name: str, script: str, log_dir: str, **kw: Any) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        image="busybox:test",
        image_id="sha256:test",
        rootfs_layers=[layer],
        command=["sh", "-c", script],
        log_path=os.path.join(log_dir, f"{name}.log"),
        **kw,
    )


async def wait_exited(rt: RuncRuntime, cid: str, timeout: float = 20.0) -> ContainerStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = await rt.container_status(cid)
        if status.state == ContainerState.EXITED or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def log_records(path: str) -> list[tuple[str, str]]:
    with open(path, "rb") as f:
        records = [parse_log_line(line) for line in f]
    return [(r.stream, r.content.decode()) for r in records]


async def run(rt: RuncRuntime, sandbox: Sandbox, config: ContainerConfig) -> str:
    cid = await rt.create_container(sandbox, config)
    await rt.start_container(cid)
    return cid


async def test_logs_and_exit_code(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config())
    cid = await run(
        rt, sb, container(busybox_layer, "app", "echo hello; echo oops >&2; exit 3", str(tmp_path))
    )
    status = await wait_exited(rt, cid)
    assert status.state == ContainerState.EXITED
    assert status.exit_code == 3
    assert status.reason == "Error"
    assert status.started_at <= status.finished_at
    assert ("stdout", "hello") in log_records(status.log_path)
    assert ("stderr", "oops") in log_records(status.log_path)
    assert [c.id for c in await rt.list_containers(sb.id)] == [cid]


async def test_start_error_is_reported(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config())
    config = container(busybox_layer, "bad", "", str(tmp_path))
    config.command = ["/no/such/binary"]
    cid = await rt.create_container(sb, config)
    with pytest.raises(RuntimeFailure, match=r"no such file|not found"):
        await rt.start_container(cid)
    status = await rt.container_status(cid)
    assert status.state == ContainerState.EXITED
    assert status.reason == "StartError"
    assert status.exit_code == 128


async def test_containers_share_network_and_hostname(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("shared"))
    assert sb.netns_path and os.path.exists(sb.netns_path)
    server_script = "mkdir -p /www; echo pong > /www/index.html; hostname; exec httpd -f -p 9090 -h /www"
    server = await run(rt, sb, container(busybox_layer, "server", server_script, str(tmp_path)))
    client_script = "hostname; for i in $(seq 100); do wget -q -O - http://127.0.0.1:9090/ && exit 0; sleep 0.1; done; exit 1"
    client = await run(rt, sb, container(busybox_layer, "client", client_script, str(tmp_path)))
    client_status = await wait_exited(rt, client)
    assert client_status.exit_code == 0, log_records(client_status.log_path)
    assert log_records(client_status.log_path) == [("stdout", "shared"), ("stdout", "pong")]
    server_status = await rt.container_status(server)
    assert server_status.state == ContainerState.RUNNING
    assert ("stdout", "shared") in log_records(server_status.log_path)
    result = await rt.exec_sync(server, ["hostname"], 10)
    assert result.stdout == b"shared\n"


async def test_memory_limit_oom_killed(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("hog"))
    config = container(
        busybox_layer, "hog", "exec dd if=/dev/zero of=/dev/null bs=64M count=4", str(tmp_path)
    )
    config.resources = Resources(memory_limit_bytes=16 << 20)
    cid = await run(rt, sb, config)
    status = await wait_exited(rt, cid)
    assert status.state == ContainerState.EXITED
    assert status.reason == "OOMKilled"
    assert status.exit_code == 137


async def test_stop_sigterm_then_sigkill(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("stop"))
    polite = await run(
        rt,
        sb,
        container(
            busybox_layer,
            "polite",
            'trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done',
            str(tmp_path),
        ),
    )
    stubborn = await run(
        rt,
        sb,
        container(busybox_layer, "stubborn", 'trap "" TERM; while :; do sleep 0.1; done', str(tmp_path)),
    )
    await asyncio.sleep(0.3)  # let the traps be set
    t0 = time.monotonic()
    await rt.stop_container(polite, timeout=10)
    assert time.monotonic() - t0 < 5
    status = await rt.container_status(polite)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 0, "Completed")
    assert ("stdout", "bye") in log_records(status.log_path)

    t0 = time.monotonic()
    await rt.stop_container(stubborn, timeout=1)
    assert time.monotonic() - t0 >= 1
    status = await rt.container_status(stubborn)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 137)
    await rt.stop_container(stubborn, timeout=1)  # idempotent


async def test_exec_sync(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("exec"))
    config = container(
        busybox_layer, "app", "while :; do sleep 1; done", str(tmp_path), env={"GREETING": "hi"}
    )
    cid = await run(rt, sb, config)
    result = await rt.exec_sync(cid, ["sh", "-c", 'echo "$GREETING"; hostname; echo err >&2; exit 7'], 10)
    assert result.exit_code == 7
    assert result.stdout == b"hi\nexec\n"
    assert result.stderr == b"err\n"
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "30"], 0.5)
    assert time.monotonic() - t0 < 10
    ps = await rt.exec_sync(cid, ["ps", "-o", "args"], 10)
    assert b"sleep 30" not in ps.stdout  # the timed-out command was killed


async def test_exec_tty_and_resize(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("tty"))
    cid = await run(rt, sb, container(busybox_layer, "app", "while :; do sleep 1; done", str(tmp_path)))
    session = await rt.exec(cid, ["sh"], stdin=True, tty=True)
    await session.resize(100, 30)
    await asyncio.sleep(0.2)
    await session.write_stdin(b"stty size; exit 5\n")
    out = b""

    async def collect() -> None:
        nonlocal out
        async for _stream, data in session.output():
            out += data

    await asyncio.wait_for(collect(), 15)
    assert await asyncio.wait_for(session.wait(), 15) == 5
    assert b"30 100" in out


async def test_attach_relays_stdin_and_output(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("attach"))
    config = container(
        busybox_layer, "app", 'read line; echo "got $line"; echo bye >&2', str(tmp_path), stdin=True
    )
    cid = await run(rt, sb, config)
    session = await rt.attach(cid, stdin=True, tty=False)
    await session.write_stdin(b"hello\n")
    got: list[tuple[int, bytes]] = []

    async def collect() -> None:
        async for item in session.output():
            got.append(item)

    await asyncio.wait_for(collect(), 15)
    assert await session.wait() == 0
    assert (1, b"got hello\n") in got
    assert (2, b"bye\n") in got
    status = await wait_exited(rt, cid)
    assert ("stdout", "got hello") in log_records(status.log_path)


async def test_readoption_after_agent_restart(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("readopt", share_process_namespace=True))
    cid = await run(
        rt, sb, container(busybox_layer, "app", "echo up; while :; do sleep 0.2; done", str(tmp_path))
    )
    before = await rt.container_status(cid)
    assert before.state == ContainerState.RUNNING

    del rt
    rt2 = await box.recreate()  # a new node agent on the same state
    [sandbox] = await rt2.list_sandboxes()
    assert sandbox.id == sb.id and sandbox.ready and sandbox.pid == sb.pid
    [after] = await rt2.list_containers(sb.id)
    assert after.id == cid
    assert after.state == ContainerState.RUNNING
    assert after.started_at == before.started_at
    assert after.pid == before.pid
    ps = await rt2.exec_sync(cid, ["ps", "-o", "args"], 10)
    assert b"while" in ps.stdout or b"sleep" in ps.stdout
    assert b"sleep 3600" in ps.stdout  # shareProcessNamespace: the pause process is visible

    await rt2.stop_container(cid, timeout=0)
    status = await rt2.container_status(cid)
    assert status.state == ContainerState.EXITED and status.exit_code == 137  # recorded by the shim
    stats = await rt2.stats(cid)
    assert "timestamp" in stats


async def test_stats_and_remove_leaves_nothing(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    from runtime_harness import leftovers

    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("stats"))
    box.sandbox_ids.append(sb.id)
    config = container(busybox_layer, "app", "while :; do :; done", str(tmp_path))
    config.resources = Resources(cpu_shares=512, cpu_quota_us=50_000, memory_limit_bytes=64 << 20)
    cid = await run(rt, sb, config)
    await rt.stats(cid)
    await asyncio.sleep(0.5)
    stats = await rt.stats(cid)
    assert stats["usageCoreNanoSeconds"] > 0
    assert 0 < stats["usageNanoCores"] <= 0.7e9  # quota: half a core
    assert stats["workingSetBytes"] > 0
    assert stats["memoryLimitBytes"] == 64 << 20
    await rt.remove_sandbox(sb.id)
    await rt.remove_sandbox(sb.id)  # idempotent
    assert await rt.list_sandboxes() == []
    assert await rt.list_containers() == []
    assert leftovers(box.root, box.cgroup_root, [sb.id]) == []


async def test_tty_container_attach_and_resize(box: RuntimeBox, busybox_layer: str, tmp_path) -> None:
    rt = box.runtime
    sb = await rt.run_sandbox(sandbox_config("ttyc"))
    config = container(busybox_layer, "shell", "", str(tmp_path), tty=True, stdin=True)
    config.command = ["sh"]
    cid = await run(rt, sb, config)
    session = await rt.attach(cid, stdin=True, tty=True)
    await session.resize(100, 30)
    await session.write_stdin(b"stty size; exit 3\n")
    out = b""

    async def collect() -> None:
        nonlocal out
        async for stream, data in session.output():
            assert stream == 1  # a terminal has one output stream
            out += data

    await asyncio.wait_for(collect(), 15)
    assert await session.wait() == 3
    assert b"30 100" in out
    status = await wait_exited(rt, cid)
    assert status.exit_code == 3
    assert any("30 100" in line for _stream, line in log_records(status.log_path))
