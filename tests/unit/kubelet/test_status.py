"""Pod phase, conditions and the status merge."""

from __future__ import annotations

from typing import Any

import msgspec

from kubelite.api.core_v1 import ContainerStatus, PodCondition, PodSpec, PodStatus
from kubelite.kubelet.status import merge_status, pod_phase


def cs(name: str, **state: Any) -> ContainerStatus:
    return msgspec.convert({"name": name, **state}, ContainerStatus)


RUNNING = {"state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}


def term(code: int) -> dict[str, Any]:
    return {"state": {"terminated": {"exitCode": code}}}


def backing_off(code: int) -> dict[str, Any]:
    return {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": code}},
    }


def spec(policy: str = "Always", inits: int = 0) -> PodSpec:
    return msgspec.convert(
        {
            "restartPolicy": policy,
            "containers": [{"name": "c", "image": "x"}],
            "initContainers": [{"name": f"i{n}", "image": "x"} for n in range(inits)],
        },
        PodSpec,
    )


def test_phase_of_main_containers() -> None:
    assert pod_phase(spec(), [], []) == "Pending"
    assert pod_phase(spec(), [], [cs("c", state={"waiting": {"reason": "ContainerCreating"}})]) == "Pending"
    assert pod_phase(spec(), [], [cs("c", **RUNNING)]) == "Running"
    assert pod_phase(spec("Always"), [], [cs("c", **backing_off(3))]) == "Running"
    assert pod_phase(spec("Never"), [], [cs("c", **term(0))]) == "Succeeded"
    assert pod_phase(spec("Never"), [], [cs("c", **term(7))]) == "Failed"
    assert pod_phase(spec("OnFailure"), [], [cs("c", **term(0))]) == "Succeeded"
    assert pod_phase(spec("OnFailure"), [], [cs("c", **backing_off(1))]) == "Running"
    assert pod_phase(spec("Always"), [], [cs("c", **term(0))]) == "Running"


def test_phase_with_init_containers() -> None:
    s = spec("Never", inits=1)
    assert pod_phase(s, [cs("i0", **RUNNING)], []) == "Pending"
    assert pod_phase(s, [cs("i0", **term(1))], []) == "Failed"
    assert pod_phase(spec("Always", inits=1), [cs("i0", **backing_off(1))], []) == "Pending"
    assert pod_phase(s, [cs("i0", **term(0))], [cs("c", **RUNNING)]) == "Running"


def test_merge_keeps_foreign_conditions_times_and_terminal_phase() -> None:
    current = msgspec.convert(
        {
            "phase": "Running",
            "startTime": "2024-01-01T00:00:00Z",
            "qosClass": "BestEffort",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:01Z"},
                {"type": "example.com/gate", "status": "True"},
            ],
        },
        PodStatus,
    )
    computed = PodStatus(
        phase="Running",
        conditions=[
            PodCondition(type="Ready", status="True"),
            PodCondition(type="ContainersReady", status="False"),
        ],
    )
    merged = merge_status(current, computed, 1_800_000_000)
    by_type = {c.type: c for c in merged.conditions}
    assert set(by_type) == {"PodScheduled", "Ready", "ContainersReady", "example.com/gate"}
    assert by_type["Ready"].lastTransitionTime == "2024-01-01T00:00:01Z"  # unchanged: time kept
    assert by_type["ContainersReady"].lastTransitionTime == "2027-01-15T08:00:00Z"
    assert merged.startTime == "2024-01-01T00:00:00Z" and merged.qosClass == "BestEffort"

    done = msgspec.structs.replace(current, phase="Succeeded")
    assert merge_status(done, computed, 1_800_000_000).phase == "Succeeded"  # never back from terminal
