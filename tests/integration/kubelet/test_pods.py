"""Pods under the node agent with the fake runtime: what users of 03-pod.sh see."""

from __future__ import annotations

from typing import Any

from kubelet_harness import Node

from kubelite.kubelet.runtime.fake import FakeBehavior


def _cond(pod: Any, type_: str) -> str:
    for c in pod.status.conditions:
        if c.type == type_:
            return str(c.status)
    return ""


async def test_pod_runs_and_is_ready(node: Node) -> None:
    await node.create_pod(
        {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}, "simple"
    )

    async def running() -> Any:
        pod = await node.pod("simple")
        return pod if pod.status.phase == "Running" and _cond(pod, "Ready") == "True" else None

    pod = await node.eventually(running)
    cs = pod.status.containerStatuses[0]
    assert cs.state.running is not None and cs.ready and cs.started and cs.restartCount == 0
    assert cs.containerID.startswith("fake://")
    assert pod.status.podIP == "10.42.0.2" and pod.status.hostIP
    assert pod.status.startTime
    assert {c.type for c in pod.status.conditions} >= {
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    }
    reasons = await node.eventually(lambda: _has(node, "simple", {"Pulled", "Created", "Started"}))
    assert "Started" in reasons


async def _has(node: Node, name: str, wanted: set[str]) -> list[str] | None:
    reasons = await node.event_reasons(name)
    return reasons if wanted <= set(reasons) else None


async def test_init_containers_run_in_order_before_containers(node: Node) -> None:
    node.runtime.behaviors["init1"] = FakeBehavior(exit_after=2)
    node.runtime.behaviors["init2"] = FakeBehavior(exit_after=3)
    await node.create_pod(
        {
            "initContainers": [
                {"name": "init1", "image": "busybox", "command": ["true"]},
                {"name": "init2", "image": "busybox", "command": ["true"]},
            ],
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
        },
        "inits",
    )

    async def running() -> Any:
        pod = await node.pod("inits")
        return pod if pod.status.phase == "Running" else None

    pod = await node.eventually(running)
    starts = [name for call, name in node.runtime.calls if call == "create_container"]
    assert starts[:3] == ["init1", "init2", "main"]
    inits = pod.status.initContainerStatuses
    assert [s.state.terminated.reason for s in inits] == ["Completed", "Completed"]
    assert _cond(pod, "Initialized") == "True"


async def test_restart_policies_give_terminal_phases(node: Node) -> None:
    node.runtime.behaviors["ok"] = FakeBehavior(exit_code=0, exit_after=1)
    node.runtime.behaviors["bad"] = FakeBehavior(exit_code=7, exit_after=1)
    node.runtime.behaviors["retry"] = [
        FakeBehavior(exit_code=1, exit_after=1),
        FakeBehavior(exit_code=0, exit_after=1),
    ]
    await node.create_pod(
        {"restartPolicy": "Never", "containers": [{"name": "ok", "image": "busybox", "command": ["run"]}]},
        "ok-once",
    )
    await node.create_pod(
        {"restartPolicy": "Never", "containers": [{"name": "bad", "image": "busybox", "command": ["run"]}]},
        "fail-once",
    )
    await node.create_pod(
        {
            "restartPolicy": "OnFailure",
            "containers": [{"name": "retry", "image": "busybox", "command": ["run"]}],
        },
        "retry",
    )

    async def phase(name: str, want: str) -> Any:
        pod = await node.pod(name)
        return pod if pod.status.phase == want else None

    ok = await node.eventually(lambda: phase("ok-once", "Succeeded"))
    assert ok.status.containerStatuses[0].state.terminated.exitCode == 0
    failed = await node.eventually(lambda: phase("fail-once", "Failed"))
    assert failed.status.containerStatuses[0].state.terminated.exitCode == 7
    assert failed.status.containerStatuses[0].state.terminated.reason == "Error"
    retried = await node.eventually(lambda: phase("retry", "Succeeded"), timeout=30)
    cs = retried.status.containerStatuses[0]
    assert cs.restartCount == 1 and cs.lastState.terminated.exitCode == 1
