"""Pod phase, conditions and the status merge."""

from __future__ import annotations

from typing import Any

import msgspec

from kubelite.api.core_v1 import ContainerStatus, Pod, PodCondition, PodSpec, PodStatus
from kubelite.kubelet.status import merge_status, pod_conditions, pod_phase


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


def with_sidecar(policy: str = "Always") -> PodSpec:
    return msgspec.convert(
        {
            "restartPolicy": policy,
            "containers": [{"name": "c", "image": "x"}],
            "initContainers": [{"name": "side", "image": "x", "restartPolicy": "Always"}],
        },
        PodSpec,
    )


def test_phase_with_a_sidecar() -> None:
    started = {**RUNNING, "started": True}
    # a sidecar not started yet holds the pod in Pending; a running one counts as running
    assert pod_phase(with_sidecar(), [cs("side", **RUNNING)], []) == "Pending"
    assert pod_phase(with_sidecar(), [cs("side", **started)], [cs("c", **RUNNING)]) == "Running"
    # restarting after a regular container started: the pod does not go back to Pending
    assert pod_phase(with_sidecar(), [cs("side", **backing_off(1))], [cs("c", **RUNNING)]) == "Running"
    # Never: while the sidecar runs the pod is not done; a stopped sidecar does not count
    assert pod_phase(with_sidecar("Never"), [cs("side", **started)], [cs("c", **term(0))]) == "Running"
    assert pod_phase(with_sidecar("Never"), [cs("side", **term(137))], [cs("c", **term(0))]) == "Succeeded"


def test_phase_of_a_terminating_pod() -> None:
    # deleted: stopped containers stay stopped whatever the policy
    assert pod_phase(spec("Always"), [], [cs("c", **term(143))], terminal=True) == "Failed"
    assert pod_phase(spec("Always"), [], [cs("c", **term(0))], terminal=True) == "Succeeded"
    assert pod_phase(spec("OnFailure"), [], [cs("c", **backing_off(1))], terminal=True) == "Failed"


def conditions_of(
    pod_spec: PodSpec, phase: str, inits: list[ContainerStatus], mains: list[ContainerStatus]
) -> dict[str, PodCondition]:
    pod = Pod(spec=pod_spec)
    return {c.type: c for c in pod_conditions(pod, phase, inits, mains, True)}


def test_conditions_as_the_kubelet_writes_them() -> None:
    failed = conditions_of(spec("Never"), "Failed", [], [cs("c", **term(1))])
    assert (failed["ContainersReady"].reason, failed["Ready"].reason) == ("PodFailed", "PodFailed")
    done = conditions_of(
        spec("Never", inits=1), "Succeeded", [cs("i0", **term(0), ready=True)], [cs("c", **term(0))]
    )
    assert (done["Initialized"].status, done["Initialized"].reason) == ("True", "PodCompleted")
    assert done["ContainersReady"].reason == "PodCompleted"
    assert done["PodScheduled"].status == "True"  # also for a pod created with spec.nodeName
    # sidecars come first in the unready list, and one restarting does not un-initialize the pod
    running = conditions_of(with_sidecar(), "Running", [cs("side", **backing_off(1))], [cs("c", **RUNNING)])
    assert running["ContainersReady"].message == "containers with unready status: [side c]"
    assert running["Initialized"].status == "True"
    starting = conditions_of(with_sidecar(), "Pending", [cs("side", **RUNNING)], [])
    assert starting["Initialized"].message == "containers with incomplete status: [side]"
