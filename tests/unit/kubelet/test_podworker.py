"""PodWorker with the fake runtime in fake time: restarts, back-off, probes, hooks, deletion."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from podworker_fakes import Harness, advance, harness, make_pod, worker

from kubelite.api.core_v1 import ConfigMap, PodCondition
from kubelite.kubelet.podworker import PodWorker, go_duration
from kubelite.kubelet.runtime.fake import FakeBehavior
from kubelite.kubelet.runtime.interface import ContainerConfig, ExecResult
from kubelite.kubelet.status import encode_status


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


@contextlib.asynccontextmanager
async def running(w: PodWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(w.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def c(name: str = "c", **kw: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh"], **kw}


async def test_crash_loop_back_off_doubles_to_five_minutes(h: Harness) -> None:
    creations: list[tuple[int, float]] = []

    def behavior(config: ContainerConfig) -> FakeBehavior:
        creations.append((config.attempt, h.clock.now()))
        return FakeBehavior(exit_code=3, exit_after=1)

    h.runtime.behavior_for = behavior
    w = worker(h, make_pod({"containers": [c()]}))
    async with running(w):
        await advance(h.clock, 1500)
    assert [a for a, _ in creations[:9]] == list(range(9)), creations
    waits = [round(creations[i][1] - creations[i - 1][1] - 1) for i in range(1, 9)]
    assert waits[0] <= 1  # the first restart is at once
    assert waits[1:] == [10, 20, 40, 80, 160, 300, 300]
    status = h.statuses.last.containerStatuses[0]
    assert status.lastState.terminated is not None and status.lastState.terminated.exitCode == 3
    assert h.statuses.last.phase == "Running"
    backoffs = [e for e in h.recorder.events if e[2] == "BackOff"]
    assert backoffs and backoffs[0][3] == "Back-off restarting failed container c in pod p_default(uid-p)"
    assert backoffs[0][0] == "spec.containers{c}"
    crash = [
        s.containerStatuses[0].state.waiting
        for s in h.statuses.history
        if s.containerStatuses[0].state.waiting
    ]
    assert any(
        wt.reason == "CrashLoopBackOff" and "back-off 20s restarting failed container=c" in wt.message
        for wt in crash
    )


def test_go_duration() -> None:
    assert [go_duration(s) for s in (10, 80, 300, 3700)] == ["10s", "1m20s", "5m0s", "1h1m40s"]


async def test_back_off_resets_after_ten_minutes_of_running(h: Harness) -> None:
    h.runtime.behaviors["c"] = [
        FakeBehavior(exit_code=1, exit_after=1),
        FakeBehavior(exit_code=1, exit_after=1),
        FakeBehavior(exit_code=1, exit_after=1000),
        FakeBehavior(exit_code=1, exit_after=1),
    ]
    w = worker(h, make_pod({"containers": [c()]}))
    async with running(w):
        await advance(h.clock, 1030)
    # attempt 2 ran ~1000 s, so attempt 3 started without waiting out a doubled back-off
    assert h.statuses.last.containerStatuses[0].restartCount >= 3
    [entry] = w.backoff.values()  # one container, one spec
    assert entry.delay <= 20  # started over at 10 s, not 40 s


async def test_restart_policies(h: Harness) -> None:
    h.runtime.behaviors["ok"] = FakeBehavior(exit_code=0, exit_after=1)
    h.runtime.behaviors["bad"] = FakeBehavior(exit_code=7, exit_after=1)
    h.runtime.behaviors["retry"] = [
        FakeBehavior(exit_code=1, exit_after=1),
        FakeBehavior(exit_code=0, exit_after=1),
    ]
    workers = {
        "ok": worker(h, make_pod({"restartPolicy": "Never", "containers": [c("ok")]}, name="ok")),
        "bad": worker(h, make_pod({"restartPolicy": "Never", "containers": [c("bad")]}, name="bad")),
        "retry": worker(
            h, make_pod({"restartPolicy": "OnFailure", "containers": [c("retry")]}, name="retry")
        ),
    }
    tasks = [asyncio.create_task(w.run()) for w in workers.values()]
    await advance(h.clock, 30)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    final = {name: w.final for name, w in workers.items()}
    assert final["ok"] is not None and final["ok"][0] == "Succeeded"
    assert final["bad"] is not None and final["bad"][0] == "Failed"
    assert final["retry"] is not None and final["retry"][0] == "Succeeded"
    bad_status = await workers["bad"].build_status()
    term = bad_status.containerStatuses[0].state.terminated
    assert term is not None and term.exitCode == 7 and term.reason == "Error"
    retry_status = await workers["retry"].build_status()
    assert retry_status.containerStatuses[0].restartCount == 1
    # a finished pod keeps its containers for logs, but nothing runs and its sandbox is stopped
    assert all(not sb.ready for sb in h.runtime.sandboxes.values())


async def test_init_containers_in_order_and_failure_under_never(h: Harness) -> None:
    h.runtime.behaviors["i1"] = FakeBehavior(exit_after=2)
    h.runtime.behaviors["i2"] = FakeBehavior(exit_code=1, exit_after=2)
    pod = make_pod(
        {"restartPolicy": "Never", "initContainers": [c("i1"), c("i2")], "containers": [c("main")]}
    )
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 10)
    created = [n for call, n in h.runtime.calls if call == "create_container"]
    assert created == ["i1", "i2"]  # main never starts
    last = h.statuses.last
    assert last.phase == "Failed"
    assert last.containerStatuses[0].state.waiting is not None
    assert last.containerStatuses[0].state.waiting.reason == "PodInitializing"
    init_cond = next(x for x in last.conditions if x.type == "Initialized")
    assert init_cond.status == "False" and init_cond.message == "containers with incomplete status: [i2]"


async def test_init_container_restarts_under_always(h: Harness) -> None:
    h.runtime.behaviors["i1"] = [FakeBehavior(exit_code=1, exit_after=1), FakeBehavior(exit_after=1)]
    w = worker(h, make_pod({"initContainers": [c("i1")], "containers": [c("main")]}))
    async with running(w):
        await advance(h.clock, 10)
    last = h.statuses.last
    assert last.phase == "Running"
    assert last.initContainerStatuses[0].restartCount == 1
    assert last.initContainerStatuses[0].state.terminated is not None
    assert last.initContainerStatuses[0].ready


async def test_graceful_deletion_runs_pre_stop_then_kills_then_deletes(h: Harness) -> None:
    h.runtime.behaviors["c"] = FakeBehavior(term_exit_code=None)  # ignores SIGTERM
    execs: list[list[str]] = []

    def on_exec(status: Any, command: list[str]) -> ExecResult:
        execs.append(command)
        return ExecResult(0, b"", b"")

    h.runtime.on_exec = on_exec
    pod = make_pod(
        {
            "terminationGracePeriodSeconds": 5,
            "containers": [c(lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "drain"]}}})],
        }
    )
    w = worker(h, pod)
    async with running(w) as task:
        await advance(h.clock, 3)
        assert h.statuses.last.phase == "Running"
        cid = next(iter(h.runtime.containers))
        deleting = make_pod(
            pod_spec_dict(pod), deletionTimestamp="2024-01-01T00:00:10Z", deletionGracePeriodSeconds=5
        )
        w.update(deleting)
        await advance(h.clock, 10)
        assert task.done()
    assert execs == [["sh", "-c", "drain"]]
    assert ("stop_container", cid) in h.runtime.calls
    assert h.pods_api.deleted == [("p", "default", 0, "uid-p")]
    assert not h.runtime.sandboxes and not h.runtime.containers
    killing = [e for e in h.recorder.events if e[2] == "Killing"]
    assert killing and killing[0][3] == "Stopping container c"
    last = h.statuses.last
    assert last.containerStatuses[0].state.terminated is not None
    assert last.containerStatuses[0].state.terminated.exitCode == 137


def pod_spec_dict(pod: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.to_builtins(pod.spec)  # type: ignore[no-any-return]


async def test_liveness_failure_restarts_the_container(h: Harness) -> None:
    healthy = {"ok": True}

    def on_exec(status: Any, command: list[str]) -> ExecResult:
        if healthy["ok"] or status.attempt > 0:
            return ExecResult(0, b"", b"")
        return ExecResult(1, b"", b"cat: can't open '/tmp/healthy': No such file or directory")

    h.runtime.on_exec = on_exec
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}
    w = worker(h, make_pod({"terminationGracePeriodSeconds": 1, "containers": [c(livenessProbe=probe)]}))
    async with running(w):
        await advance(h.clock, 5)
        assert h.statuses.last.containerStatuses[0].restartCount == 0
        healthy["ok"] = False
        await advance(h.clock, 10)
    cs = h.statuses.last.containerStatuses[0]
    assert cs.restartCount == 1 and cs.state.running is not None
    assert cs.lastState.terminated is not None
    unhealthy = [e for e in h.recorder.events if e[2] == "Unhealthy"]
    assert (
        unhealthy[0][3] == "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"
    )
    assert any(
        e[2] == "Killing" and e[3] == "Container c failed liveness probe, will be restarted"
        for e in h.recorder.events
    )


async def test_startup_probe_holds_back_liveness_and_readiness(h: Harness) -> None:
    calls: list[str] = []
    started = {"ok": False}

    def on_exec(status: Any, command: list[str]) -> ExecResult:
        calls.append(command[0])
        if command[0] == "startup":
            return ExecResult(0 if started["ok"] else 1, b"", b"not yet")
        if command[0] == "live":
            return ExecResult(1, b"", b"dead")  # would kill the container if it ran
        return ExecResult(0, b"", b"")

    h.runtime.on_exec = on_exec
    container = c(
        startupProbe={"exec": {"command": ["startup"]}, "periodSeconds": 1, "failureThreshold": 30},
        livenessProbe={"exec": {"command": ["live"]}, "periodSeconds": 1, "failureThreshold": 100},
        readinessProbe={"exec": {"command": ["ready"]}, "periodSeconds": 1},
    )
    w = worker(h, make_pod({"containers": [container]}))
    async with running(w):
        await advance(h.clock, 10)
        assert set(calls) == {"startup"}
        cs = h.statuses.last.containerStatuses[0]
        assert cs.started is False and cs.ready is False
        started["ok"] = True
        await advance(h.clock, 5)
    assert {"live", "ready"} <= set(calls)
    cs = h.statuses.last.containerStatuses[0]
    assert cs.started and cs.ready


async def test_readiness_gates(h: Harness) -> None:
    pod = make_pod({"readinessGates": [{"conditionType": "example.com/ready"}], "containers": [c()]})
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 3)
        ready = next(x for x in h.statuses.last.conditions if x.type == "Ready")
        assert ready.status == "False" and ready.reason == "ReadinessGatesNotReady"
        assert (
            'corresponding condition of pod readiness gate "example.com/ready" does not exist.'
            in ready.message
        )
        gated = make_pod(pod_spec_dict(pod))
        gated.status.conditions = [PodCondition(type="example.com/ready", status="True")]
        w.update(gated)
        await advance(h.clock, 2)
    ready = next(x for x in h.statuses.last.conditions if x.type == "Ready")
    assert ready.status == "True"
    assert next(x for x in h.statuses.last.conditions if x.type == "ContainersReady").status == "True"


async def test_worker_restart_adopts_running_containers(h: Harness) -> None:
    pod = make_pod({"containers": [c()]})
    first = worker(h, pod)
    async with running(first):
        await advance(h.clock, 3)
    cid = next(iter(h.runtime.containers))
    before = len(h.runtime.calls)
    second = worker(h, pod)  # a new agent process: nothing in memory
    async with running(second):
        await advance(h.clock, 3)
    assert [
        call
        for call, _ in h.runtime.calls[before:]
        if call in ("create_container", "run_sandbox", "stop_container")
    ] == []
    cs = h.statuses.last.containerStatuses[0]
    assert cs.containerID == f"fake://{cid}" and cs.restartCount == 0 and cs.state.running is not None
    assert h.statuses.last.podIP == first.pod_ip


async def test_active_deadline(h: Harness) -> None:
    w = worker(h, make_pod({"activeDeadlineSeconds": 5, "containers": [c()]}))
    async with running(w):
        await advance(h.clock, 8)
    last = h.statuses.last
    assert last.phase == "Failed" and last.reason == "DeadlineExceeded"
    assert not any(ct.status.state == "running" for ct in h.runtime.containers.values())
    assert "DeadlineExceeded" in h.recorder.reasons()


async def test_missing_configmap_is_a_config_error(h: Harness) -> None:
    env = [{"name": "G", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}]
    w = worker(h, make_pod({"containers": [c(env=env)]}))
    async with running(w):
        await advance(h.clock, 2)
        waiting = h.statuses.last.containerStatuses[0].state.waiting
        assert waiting is not None and waiting.reason == "CreateContainerConfigError"
        assert waiting.message == 'configmap "cfg" not found'
        assert h.statuses.last.phase == "Pending"
        h.objects.configmaps["cfg"] = ConfigMap(data={"greeting": "hi"})
        await advance(h.clock, 10)
    assert h.statuses.last.containerStatuses[0].state.running is not None
    config = next(iter(h.runtime.containers.values())).config
    assert config.env["G"] == "hi"


async def test_post_start_failure_kills_the_container(h: Harness) -> None:
    h.runtime.exec_results[("c", ("hook",))] = ExecResult(1, b"", b"boom")
    w = worker(
        h,
        make_pod(
            {
                "restartPolicy": "Never",
                "containers": [c(lifecycle={"postStart": {"exec": {"command": ["hook"]}}})],
            }
        ),
    )
    async with running(w):
        await advance(h.clock, 5)
    assert "FailedPostStartHook" in h.recorder.reasons()
    assert h.statuses.last.phase == "Failed"


async def test_termination_message_is_read_after_exit(h: Harness) -> None:
    h.runtime.behaviors["c"] = FakeBehavior(exit_code=2, exit_after=1)
    w = worker(h, make_pod({"restartPolicy": "Never", "containers": [c()]}))
    async with running(w):
        await advance(h.clock, 0.5)
        path = next(
            m.host_path
            for m in next(iter(h.runtime.containers.values())).config.mounts
            if m.container_path == "/dev/termination-log"
        )
        _write(path, "bye")
        await advance(h.clock, 3)
    term = h.statuses.last.containerStatuses[0].state.terminated
    assert term is not None and term.message == "bye"


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def test_own_status_echo_does_not_wake_the_worker(h: Harness) -> None:
    pod = make_pod({"containers": [c()]}, resourceVersion="5")
    w = worker(h, pod)
    written = msgspec.structs.replace(pod.status, phase="Running", podIP="10.42.0.7")
    h.statuses.written[w.uid] = encode_status(written)
    echo = msgspec.structs.replace(
        pod, metadata=msgspec.structs.replace(pod.metadata, resourceVersion="6"), status=written
    )
    w.update(echo)  # the watch's copy of the worker's own write, before the write's response
    assert not w._wake.is_set() and w.pod is echo
    w.update(pod)  # an older copy than the worker has: ignored
    assert not w._wake.is_set() and w.pod is echo
    relabelled = msgspec.structs.replace(
        echo,
        metadata=msgspec.structs.replace(echo.metadata, resourceVersion="7", labels={"a": "b"}),
    )
    w.update(relabelled)
    assert w._wake.is_set() and w.pod is relabelled


async def test_relist_wakes_only_for_what_the_worker_has_not_seen(h: Harness) -> None:
    w = worker(h, make_pod({"containers": [c()]}))
    await w.sync()
    seen = w.seen_containers()
    assert len(seen) == 1 and seen[0][1] == "running"
    w.containers_changed(seen)  # the container the worker started: nothing new
    assert not w._wake.is_set()
    w.containers_changed(((seen[0][0], "exited"),))
    assert w._wake.is_set()


async def test_relist_wakes_for_a_container_that_died_during_the_sync(h: Harness) -> None:
    # The refresh after the start already finds the container exited: the sync did not act on
    # that, so the relist reporting it must wake the worker (for the restart, or the back-off).
    h.runtime.behaviors["c"] = FakeBehavior(exit_code=3, exit_after=0)
    w = worker(h, make_pod({"containers": [c()]}))
    await w.sync()
    seen = w.seen_containers()
    assert len(seen) == 1 and seen[0][1] == "exited"
    w.containers_changed(seen)
    assert w._wake.is_set()


# ---------------------------------------------------------------------- status as the kubelet writes it


def created_at(h: Harness, name: str) -> list[float]:
    """When the containers named ``name`` were created, in order (fake time)."""
    return [c.status.created_at for c in h.runtime.containers.values() if c.status.name == name]


async def test_crashing_sidecar_does_not_make_the_pod_pending_again(h: Harness) -> None:
    h.runtime.behaviors["side"] = FakeBehavior(exit_code=1, exit_after=3)  # crashes every 3 s
    w = worker(
        h, make_pod({"initContainers": [c("side", restartPolicy="Always")], "containers": [c("main")]})
    )
    async with running(w):
        await advance(h.clock, 40)
    assert len(created_at(h, "main")) == 1
    since_running = h.statuses.history[
        next(i for i, s in enumerate(h.statuses.history) if s.phase == "Running") :
    ]
    assert {s.phase for s in since_running} == {"Running"}
    for s in since_running:
        assert next(x for x in s.conditions if x.type == "Initialized").status == "True"
    side = [s.initContainerStatuses[0] for s in since_running]
    assert any(st.state.waiting is not None and st.state.waiting.reason == "CrashLoopBackOff" for st in side)
    assert side[-1].restartCount >= 3


async def test_terminal_phase_waits_until_the_sidecars_are_stopped(h: Harness) -> None:
    h.runtime.behaviors["main"] = FakeBehavior(exit_code=0, exit_after=2)
    pod = make_pod(
        {
            "restartPolicy": "Never",
            "initContainers": [c("side", restartPolicy="Always")],
            "containers": [c("main")],
        }
    )
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 10)
    done = [s for s in h.statuses.history if s.phase == "Succeeded"]
    assert done, [s.phase for s in h.statuses.history]
    for s in done:
        assert s.initContainerStatuses[0].state.running is None  # the sidecar was stopped first
    assert not any(ct.status.state == "running" for ct in h.runtime.containers.values())


async def test_deleted_pod_is_reported_failed_after_its_containers_were_killed(h: Harness) -> None:
    h.runtime.behaviors["crash"] = FakeBehavior(exit_code=1, exit_after=1)
    pod = make_pod({"terminationGracePeriodSeconds": 5, "containers": [c(), c("crash")]})
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 15)
        assert h.statuses.last.phase == "Running"
        w.update(make_pod(pod_spec_dict(pod), deletionTimestamp="2024-01-01T00:00:10Z"))
        await advance(h.clock, 10)
    last = h.statuses.last
    assert last.phase == "Failed"  # c was killed (143): nothing restarts a deleted pod
    crash = next(s for s in last.containerStatuses if s.name == "crash")
    assert crash.state.terminated is not None and crash.state.waiting is None  # no CrashLoopBackOff
    ready = {x.type: x for x in last.conditions}
    assert ready["ContainersReady"].reason == "PodFailed" and ready["Ready"].reason == "PodFailed"


async def test_terminal_phase_written_by_another_client_stops_the_pod(h: Harness) -> None:
    pod = make_pod({"containers": [c()]})
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 3)
        failed = make_pod(pod_spec_dict(pod), resourceVersion="2")
        failed.status.phase, failed.status.reason = "Failed", "Evicted"
        w.update(failed)
        await advance(h.clock, 5)
    assert not any(ct.status.state == "running" for ct in h.runtime.containers.values())
    last = h.statuses.last
    assert (last.phase, last.reason) == ("Failed", "Evicted")
    assert next(x for x in last.conditions if x.type == "Ready").status == "False"


async def test_changed_image_restarts_the_container_whatever_the_policy(h: Harness) -> None:
    pod = make_pod({"restartPolicy": "Never", "containers": [c()]})
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 3)
        spec = pod_spec_dict(pod)
        spec["containers"][0]["image"] = "busybox:2"
        w.update(make_pod(spec, resourceVersion="2"))
        await advance(h.clock, 40)
    images = [ct.config.image for ct in sorted(h.runtime.containers.values(), key=lambda x: x.status.attempt)]
    assert images == ["busybox", "busybox:2"]
    killing = [e[3] for e in h.recorder.events if e[2] == "Killing"]
    assert killing == ["Container c definition changed, will be restarted"]
    cs = h.statuses.last.containerStatuses[0]
    assert cs.image == "busybox:2" and cs.restartCount == 1 and cs.state.running is not None
    assert h.statuses.last.phase == "Running"


async def test_status_image_is_what_runs_until_the_restart(h: Harness) -> None:
    h.runtime.behaviors["c"] = [FakeBehavior(exit_code=1, exit_after=1)] * 3 + [FakeBehavior()]
    pod = make_pod({"containers": [c()]})
    w = worker(h, pod)
    async with running(w):
        await advance(h.clock, 5)  # crashed twice: in a 10 s back-off
        spec = pod_spec_dict(pod)
        spec["containers"][0]["image"] = "busybox:2"
        w.update(make_pod(spec, resourceVersion="2"))
        await advance(h.clock, 1)
    # the new spec is not held up by the old one's back-off
    latest = max(h.runtime.containers.values(), key=lambda x: x.status.attempt)
    assert latest.config.image == "busybox:2"


async def test_recreated_sandbox_runs_the_init_containers_again(h: Harness) -> None:
    h.runtime.behaviors["init"] = FakeBehavior(exit_after=1)
    w = worker(h, make_pod({"initContainers": [c("init")], "containers": [c("main")]}))
    async with running(w):
        await advance(h.clock, 5)
        first = next(iter(h.runtime.sandboxes))
        await h.runtime.stop_sandbox(first)  # the sandbox died (its containers with it)
        w.wake()
        await advance(h.clock, 15)
    assert len(created_at(h, "init")) == 2
    inits = [ct for ct in h.runtime.containers.values() if ct.status.name == "init"]
    assert {ct.status.sandbox_id for ct in inits} == set(h.runtime.sandboxes)
    last = h.statuses.last
    assert last.phase == "Running" and last.initContainerStatuses[0].restartCount == 1


async def test_start_failure_shows_run_container_error_until_the_restart(h: Harness) -> None:
    h.runtime.behaviors["c"] = [FakeBehavior(fail_start="exec: no such file"), FakeBehavior()]
    w = worker(h, make_pod({"containers": [c()]}))
    async with running(w):
        await advance(h.clock, 5)
    waits = [
        s.containerStatuses[0].state.waiting
        for s in h.statuses.history
        if s.containerStatuses[0].state.waiting
    ]
    assert any(wt.reason == "RunContainerError" and wt.message == "exec: no such file" for wt in waits)
    assert h.statuses.last.containerStatuses[0].state.running is not None


async def test_container_statuses_by_name_and_waiting_reasons(h: Harness) -> None:
    h.runtime.behaviors["init"] = FakeBehavior(exit_after=3)
    w = worker(h, make_pod({"initContainers": [c("init")], "containers": [c("b"), c("a")]}))
    async with running(w):
        await advance(h.clock, 1)
        status = h.statuses.last
        assert [s.name for s in status.containerStatuses] == ["a", "b"]
        assert {s.state.waiting.reason for s in status.containerStatuses if s.state.waiting} == {
            "PodInitializing"
        }
        await advance(h.clock, 5)
    assert [s.name for s in h.statuses.last.containerStatuses] == ["a", "b"]


def test_image_id_is_the_repo_digest() -> None:
    from types import SimpleNamespace

    from kubelite.kubelet.podworker import _image_id

    digest = "docker.io/library/busybox@sha256:" + "1" * 64
    info = SimpleNamespace(digest=digest, ref="docker.io/library/busybox:latest", id="sha256:" + "2" * 64)
    assert _image_id(info, "busybox") == digest
    bare = SimpleNamespace(digest="sha256:" + "1" * 64, ref="docker.io/library/busybox:latest", id="")
    assert _image_id(bare, "busybox") == "docker.io/library/busybox@sha256:" + "1" * 64


async def test_downward_api_addresses_come_from_the_sandbox_not_the_api_copy(h: Harness) -> None:
    env = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
        {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
    ]
    w = worker(h, make_pod({"containers": [c(env=env)]}))  # no status in the API yet
    async with running(w):
        await advance(h.clock, 2)
    [container] = h.runtime.containers.values()
    got = {k: container.config.env[k] for k in ("POD_IP", "POD_IPS", "HOST_IP")}
    assert got == {"POD_IP": w.pod_ip, "POD_IPS": w.pod_ip, "HOST_IP": "192.0.2.10"}
    assert w.pod_ip


async def test_run_as_non_root_refuses_a_root_container(h: Harness) -> None:
    pods = {
        "image-root": make_pod({"securityContext": {"runAsNonRoot": True}, "containers": [c()]}, name="a"),
        "uid-0": make_pod(
            {"containers": [c(securityContext={"runAsNonRoot": True, "runAsUser": 0})]}, name="b"
        ),
        "ok": make_pod(
            {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000}, "containers": [c()]}, name="d"
        ),
    }
    workers = {k: worker(h, p) for k, p in pods.items()}
    tasks = [asyncio.create_task(w.run()) for w in workers.values()]
    await advance(h.clock, 3)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    started = {ct.status.labels["io.kubernetes.pod.name"] for ct in h.runtime.containers.values()}
    assert started == {"d"}
    statuses = {k: (await w.build_status()).containerStatuses[0].state.waiting for k, w in workers.items()}
    root, uid0 = statuses["image-root"], statuses["uid-0"]
    assert root is not None and root.reason == "CreateContainerConfigError"
    assert (
        root.message
        == 'container has runAsNonRoot and image will run as root (pod: "a_default(uid-a)", container: c)'
    )
    assert uid0 is not None and uid0.message.startswith("container's runAsUser breaks non-root policy")


def test_non_root_violation_with_image_users() -> None:
    from kubelite.kubelet.podworker import non_root_violation

    pod = make_pod({"securityContext": {"runAsNonRoot": True}, "containers": [c()]})
    container = pod.spec.containers[0]
    assert non_root_violation(pod, container, "1000:1000") == ""
    assert "will run as root" in non_root_violation(pod, container, "0")
    assert "non-numeric user (nobody)" in non_root_violation(pod, container, "nobody")
    off = make_pod({"containers": [c(securityContext={"runAsNonRoot": False})]})
    assert non_root_violation(off, off.spec.containers[0], "") == ""


async def test_a_probes_own_grace_period_bounds_its_kill(h: Harness) -> None:
    timeouts: list[float] = []
    stop = h.runtime.stop_container

    async def recording_stop(container_id: str, timeout: float) -> None:
        timeouts.append(timeout)
        await stop(container_id, timeout)

    h.runtime.stop_container = recording_stop  # type: ignore[method-assign]
    h.runtime.on_exec = lambda status, command: ExecResult(1 if status.attempt == 0 else 0, b"", b"")
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}
    pods = [
        make_pod(
            {
                "terminationGracePeriodSeconds": 60,
                "containers": [c(livenessProbe={**probe, "terminationGracePeriodSeconds": 3})],
            },
            name="own",
        ),
        make_pod({"terminationGracePeriodSeconds": 60, "containers": [c(livenessProbe=probe)]}, name="pods"),
    ]
    tasks = [asyncio.create_task(worker(h, p).run()) for p in pods]
    await advance(h.clock, 5)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(timeouts) == [3, 60]


def test_container_cpu_shares_follow_requests() -> None:
    from kubelite.kubelet.podworker import _resources

    pod = make_pod(
        {
            "containers": [
                c("none"),
                c("half", resources={"requests": {"cpu": "500m"}}),
                c("limited", resources={"limits": {"cpu": "1", "memory": "64Mi"}}),
            ]
        }
    )
    none, half, limited = (_resources(x) for x in pod.spec.containers)
    assert none.cpu_shares == 2 and none.cpu_quota_us == 0  # BestEffort: MinShares
    assert half.cpu_shares == 512
    assert (limited.cpu_shares, limited.cpu_quota_us, limited.memory_limit_bytes) == (1024, 100_000, 64 << 20)


async def test_status_image_is_the_normalised_reference(h: Harness) -> None:
    stub = await h.services.images.ensure("busybox", "IfNotPresent")
    stub.ref = "docker.io/library/busybox:latest"

    async def ensure(ref: str, pull_policy: str) -> Any:
        return stub

    h.services.images.ensure = ensure  # type: ignore[method-assign]
    w = worker(h, make_pod({"containers": [c(imagePullPolicy="Always")]}))
    async with running(w):
        await advance(h.clock, 2)
    assert h.statuses.last.containerStatuses[0].image == "docker.io/library/busybox:latest"


async def test_failed_mounts_are_retried_with_back_off(h: Harness) -> None:
    volumes = [{"name": "cfg", "configMap": {"name": "missing"}}]
    mounts = [{"name": "cfg", "mountPath": "/cfg"}]
    w = worker(h, make_pod({"volumes": volumes, "containers": [c(volumeMounts=mounts)]}))
    async with running(w):
        await advance(h.clock, 60)
        failures = [e for e in h.recorder.events if e[2] == "FailedMount"]
        # 0.5, 1, 2, 4, 8, 16, 32 s apart: eight attempts in the first minute, not sixty
        assert 6 <= len(failures) <= 9, len(failures)
        assert failures[0][3].startswith('MountVolume.SetUp failed for volume "cfg"')
        h.objects.configmaps["missing"] = ConfigMap(data={"k": "v"})
        await advance(h.clock, 70)  # the next attempt is at most 64 s away
    assert h.statuses.last.containerStatuses[0].state.running is not None


async def test_post_start_failure_waits_as_post_start_hook_error_until_the_restart(h: Harness) -> None:
    h.runtime.on_exec = lambda status, command: ExecResult(1 if status.attempt == 0 else 0, b"", b"boom")
    w = worker(h, make_pod({"containers": [c(lifecycle={"postStart": {"exec": {"command": ["hook"]}}})]}))
    async with running(w):
        await advance(h.clock, 5)
    waits = [s.containerStatuses[0].state.waiting for s in h.statuses.history]
    hook = [wt for wt in waits if wt is not None and wt.reason == "PostStartHookError"]
    assert hook and hook[0].message.startswith("Exec lifecycle hook ([hook])")
    assert h.statuses.last.containerStatuses[0].state.running is not None  # restarted, hook passed


async def test_container_status_lists_its_volume_mounts(h: Harness) -> None:
    volumes = [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]
    mounts = [{"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b", "readOnly": True}]
    w = worker(h, make_pod({"volumes": volumes, "containers": [c(volumeMounts=mounts)]}))
    async with running(w):
        await advance(h.clock, 2)
    got = [
        (m.name, m.mountPath, m.readOnly, m.recursiveReadOnly)
        for m in h.statuses.last.containerStatuses[0].volumeMounts
    ]
    assert got == [("a", "/a", False, None), ("b", "/b", True, "Disabled")]


async def test_a_never_pod_whose_sandbox_died_is_not_started_again(h: Harness) -> None:
    h.runtime.behaviors["init"] = FakeBehavior(exit_after=1)
    w = worker(
        h, make_pod({"restartPolicy": "Never", "initContainers": [c("init")], "containers": [c("main")]})
    )
    async with running(w):
        await advance(h.clock, 5)
        await h.runtime.stop_sandbox(next(iter(h.runtime.sandboxes)))  # its containers die with it
        w.wake()
        await advance(h.clock, 15)
    assert len(h.runtime.sandboxes) == 1  # no new sandbox
    assert len(created_at(h, "init")) == 1 and len(created_at(h, "main")) == 1  # nothing ran again
    assert h.statuses.last.phase == "Failed"
