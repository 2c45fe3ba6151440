"""Server-side Table output: negotiation, human durations, the columns and cells of every kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from kubelite.apiserver import printers
from kubelite.apiserver.printcells import human_duration, since
from kubelite.apiserver.printers import column_definitions, row_cells
from kubelite.apiserver.tables import build_table, table_version, wants_table

NOW = 1_700_000_000.0
KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)

MINUTE, HOUR, DAY = 60, 3600, 86400


def ago(seconds: float) -> str:
    """The RFC 3339 timestamp ``seconds`` before NOW."""
    return datetime.fromtimestamp(NOW - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 5 * MINUTE, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age), **extra}


def names(group: str, plural: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in column_definitions(group, plural)]


# -- negotiation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (KUBECTL_ACCEPT, "meta.k8s.io/v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json", "meta.k8s.io/v1beta1"),
        (
            "application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io",
            "meta.k8s.io/v1beta1",
        ),
        ("application/json; as=Table; v=v1; g=meta.k8s.io", "meta.k8s.io/v1"),
        ("application/json", ""),
        ("", ""),
        ("*/*", ""),
        ("application/json,application/json;as=Table;v=v1;g=meta.k8s.io", ""),
        ("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", "meta.k8s.io/v1"),
        ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0,application/json", ""),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", ""),
        ("application/json;as=Table;v=v1;g=example.com,application/json", ""),
        ("application/vnd.kubernetes.protobuf,application/json", ""),
    ],
)
def test_the_first_acceptable_type_decides_whether_a_table_is_wanted(accept: str, version: str) -> None:
    assert table_version(accept) == version
    assert wants_table(accept) is bool(version)


# -- durations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (-1, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (2 * HOUR + 5 * MINUTE, "125m"),
        (3 * HOUR + 5 * MINUTE, "3h5m"),
        (8 * HOUR - 1, "7h59m"),
        (8 * HOUR, "8h"),
        (48 * HOUR - 1, "47h"),
        (2 * DAY, "2d"),
        (3 * DAY + 4 * HOUR, "3d4h"),
        (8 * DAY - 1, "7d23h"),
        (8 * DAY, "8d"),
        (400 * DAY, "400d"),
        (730 * DAY - 1, "729d"),
        (730 * DAY, "2y"),
        (740 * DAY, "2y10d"),
        (8 * 365 * DAY - 1, "7y364d"),
        (8 * 365 * DAY, "8y"),
        (11 * 365 * DAY, "11y"),
    ],
)
def test_human_duration_matches_kubernetes_at_every_boundary(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_ages_of_missing_or_unreadable_timestamps_are_unknown() -> None:
    assert since(None, NOW) == "<unknown>"
    assert since("", NOW) == "<unknown>"
    assert since("yesterday", NOW) == "<unknown>"
    assert since(ago(5), NOW) == "5s"
    assert since("2023-11-14T22:13:15.000000Z", NOW) == "5s"  # MicroTime


# -- pods -------------------------------------------------------------------------


def pod(
    containers: int = 1,
    statuses: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    init: list[dict[str, Any]] | int = 0,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    reason: str = "",
    deleting: bool = False,
) -> dict[str, Any]:
    init_specs = (
        [{"name": f"init{i}", "image": "busybox"} for i in range(init)] if isinstance(init, int) else init
    )
    status: dict[str, Any] = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    if reason:
        status["reason"] = reason
    metadata = meta("web", age=0)
    del metadata["creationTimestamp"]
    if deleting:
        metadata["deletionTimestamp"] = ago(-30)
    spec = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]}
    if init_specs:
        spec["initContainers"] = init_specs
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": status}


RUNNING = {"running": {"startedAt": ago(60)}}


def restarted(seconds_ago: float) -> dict[str, Any]:
    return {"terminated": {"exitCode": 1, "finishedAt": ago(seconds_ago)}}


def waiting(reason: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason}} if reason else {"waiting": {}}


def terminated(reason: str = "", exit_code: int = 0, signal: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"terminated": state}


SIDECARS = [
    {"name": "sidecar-1", "image": "envoy", "restartPolicy": "Always"},
    {"name": "sidecar-2", "image": "envoy", "restartPolicy": "Always"},
]


POD_CASES: dict[str, tuple[dict[str, Any], tuple[str, str, str]]] = {
    "the phase when no container says more": (
        pod(2, [{"ready": True, "restartCount": 3, "state": RUNNING}, {"restartCount": 3}], phase="podPhase"),
        ("1/2", "podPhase", "6"),
    ),
    "a waiting container's reason overrides the phase": (
        pod(
            2,
            [
                {"ready": True, "restartCount": 3, "state": RUNNING},
                {"restartCount": 3, "state": waiting("ContainerWaitingReason")},
            ],
            phase="podPhase",
        ),
        ("1/2", "ContainerWaitingReason", "6"),
    ),
    "the first container's reason wins over a later one's": (
        pod(
            2,
            [
                {"restartCount": 3, "state": waiting("ContainerWaitingReason")},
                {"restartCount": 3, "state": terminated("ContainerTerminatedReason")},
            ],
            phase="podPhase",
        ),
        ("0/2", "ContainerWaitingReason", "6"),
    ),
    "ready without running is not counted ready": (
        pod(
            2,
            [{"ready": True, "restartCount": 3, "state": RUNNING}, {"ready": True, "restartCount": 3}],
            phase="podPhase",
        ),
        ("1/2", "podPhase", "6"),
    ),
    "the pod's own reason overrides the phase": (
        pod(2, [{"ready": True, "state": RUNNING}, {"ready": True}], phase="podPhase", reason="podReason"),
        ("1/2", "podReason", "0"),
    ),
    "one container completed and one running, pod not ready": (
        pod(
            2,
            [
                {"ready": True, "restartCount": 3, "state": terminated("Completed")},
                {"ready": True, "restartCount": 3, "state": RUNNING},
            ],
        ),
        ("1/2", "NotReady", "6"),
    ),
    "one container completed and one running, pod ready": (
        pod(
            2,
            [
                {"ready": True, "restartCount": 3, "state": terminated("Completed")},
                {"ready": True, "restartCount": 3, "state": RUNNING},
            ],
            conditions=[{"type": "Ready", "status": "True"}],
        ),
        ("1/2", "Running", "6"),
    ),
    "an init container restarting": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=1,
            init_statuses=[
                {"name": "init0", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)}
            ],
        ),
        ("0/1", "Init:0/1", "3 (10s ago)"),
    ),
    "the first of two init containers restarting": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=2,
            init_statuses=[
                {"name": "init0", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
                {"name": "init1", "state": waiting()},
            ],
        ),
        ("0/1", "Init:0/2", "3 (10s ago)"),
    ),
    "the second of two init containers restarting": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=2,
            init_statuses=[
                {"name": "init0", "state": terminated()},
                {"name": "init1", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
            ],
        ),
        ("0/1", "Init:1/2", "3 (10s ago)"),
    ),
    "restarts of finished and running init containers add up": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=2,
            init_statuses=[
                {
                    "name": "init0",
                    "restartCount": 2,
                    "state": terminated(),
                    "lastState": restarted(2 * MINUTE),
                },
                {"name": "init1", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
            ],
        ),
        ("0/1", "Init:1/2", "5 (10s ago)"),
    ),
    "after init, only the app containers' restarts count": (
        pod(
            1,
            [{"restartCount": 4, "state": RUNNING, "lastState": restarted(20)}],
            init=1,
            init_statuses=[
                {
                    "name": "init0",
                    "restartCount": 2,
                    "state": terminated(),
                    "lastState": restarted(2 * MINUTE),
                }
            ],
        ),
        ("0/1", "Running", "4 (20s ago)"),
    ),
    "a restart five days ago": (
        pod(1, [{"ready": True, "restartCount": 3, "state": RUNNING, "lastState": restarted(5 * DAY)}]),
        ("1/1", "Running", "3 (5d ago)"),
    ),
    "one container never restarted, the other ten days ago": (
        pod(
            2,
            [
                {"ready": True, "state": RUNNING},
                {"ready": True, "restartCount": 3, "state": RUNNING, "lastState": restarted(10 * DAY)},
            ],
        ),
        ("2/2", "Running", "3 (10d ago)"),
    ),
    "the most recent restart of any container is shown": (
        pod(
            2,
            [
                {"ready": True, "restartCount": 6, "state": RUNNING, "lastState": restarted(5 * DAY)},
                {"ready": True, "restartCount": 3, "state": RUNNING, "lastState": restarted(20 * DAY)},
            ],
        ),
        ("2/2", "Running", "9 (5d ago)"),
    ),
    "scheduling gates hold the pod": (
        pod(
            2,
            phase="Pending",
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        ),
        ("0/2", "SchedulingGated", "0"),
    ),
    "a succeeded pod is Completed": (
        pod(1, [{"state": terminated("Completed")}], phase="Succeeded"),
        ("0/1", "Completed", "0"),
    ),
    "a failed pod shows its container's Error": (
        pod(1, [{"state": terminated("Error", 1)}], phase="Failed"),
        ("0/1", "Error", "0"),
    ),
    "a succeeded pod being deleted stays Completed": (
        pod(1, [{"state": terminated("Completed")}], phase="Succeeded", deleting=True),
        ("0/1", "Completed", "0"),
    ),
    "a running pod being deleted is Terminating": (
        pod(1, [{"state": RUNNING}], deleting=True),
        ("0/1", "Terminating", "0"),
    ),
    "a pending pod being deleted is Terminating": (
        pod(1, phase="Pending", deleting=True),
        ("0/1", "Terminating", "0"),
    ),
    "a pod on a lost node being deleted is Unknown": (
        pod(1, [{"ready": True, "state": RUNNING}], reason="NodeLost", deleting=True),
        ("1/1", "Unknown", "0"),
    ),
    "a pod on a lost node keeps the pod's reason": (
        pod(1, [{"ready": True, "state": RUNNING}], reason="NodeLost"),
        ("1/1", "NodeLost", "0"),
    ),
    "an image still being pulled": (
        pod(1, [{"state": waiting("ContainerCreating")}], phase="Pending"),
        ("0/1", "ContainerCreating", "0"),
    ),
    "a crash loop": (
        pod(
            1, [{"restartCount": 5, "state": waiting("CrashLoopBackOff"), "lastState": restarted(3 * MINUTE)}]
        ),
        ("0/1", "CrashLoopBackOff", "5 (3m ago)"),
    ),
    "a container killed for memory": (
        pod(1, [{"restartCount": 1, "state": terminated("OOMKilled", 137)}]),
        ("0/1", "OOMKilled", "1"),
    ),
    "a container killed by a signal without a reason": (
        pod(1, [{"state": terminated(exit_code=143, signal=15)}]),
        ("0/1", "Signal:15", "0"),
    ),
    "a container exited without a reason": (
        pod(1, [{"state": terminated(exit_code=3)}]),
        ("0/1", "ExitCode:3", "0"),
    ),
    "an init container in a crash loop": (
        pod(
            1,
            [{"state": waiting("PodInitializing")}],
            phase="Pending",
            init=1,
            init_statuses=[
                {
                    "name": "init0",
                    "restartCount": 2,
                    "state": waiting("CrashLoopBackOff"),
                    "lastState": restarted(26),
                }
            ],
        ),
        ("0/1", "Init:CrashLoopBackOff", "2 (26s ago)"),
    ),
    "an init container failed with a reason": (
        pod(
            1,
            phase="Pending",
            init=2,
            init_statuses=[
                {"name": "init0", "state": terminated("Error", 1)},
                {"name": "init1", "state": waiting("PodInitializing")},
            ],
        ),
        ("0/1", "Init:Error", "0"),
    ),
    "an init container killed by a signal": (
        pod(
            1,
            phase="Pending",
            init=1,
            init_statuses=[{"name": "init0", "state": terminated(exit_code=137, signal=9)}],
        ),
        ("0/1", "Init:Signal:9", "0"),
    ),
    "an init container exited without a reason": (
        pod(1, phase="Pending", init=1, init_statuses=[{"name": "init0", "state": terminated(exit_code=2)}]),
        ("0/1", "Init:ExitCode:2", "0"),
    ),
    "an init container still PodInitializing counts as pending": (
        pod(
            1, phase="Pending", init=1, init_statuses=[{"name": "init0", "state": waiting("PodInitializing")}]
        ),
        ("0/1", "Init:0/1", "0"),
    ),
    "app containers waiting for init to finish": (
        pod(
            1,
            [{"state": waiting("PodInitializing")}],
            phase="Pending",
            init=1,
            init_statuses=[{"name": "init0", "state": terminated("Completed")}],
        ),
        ("0/1", "PodInitializing", "0"),
    ),
    "sidecars not yet started": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=SIDECARS,
            init_statuses=[
                {
                    "name": "sidecar-1",
                    "restartCount": 3,
                    "state": RUNNING,
                    "started": False,
                    "lastState": restarted(10),
                },
                {"name": "sidecar-2", "state": waiting(), "started": False},
            ],
            conditions=[{"type": "Initialized", "status": "False"}],
        ),
        ("0/3", "Init:0/2", "3 (10s ago)"),
    ),
    "the first sidecar started, the second not": (
        pod(
            1,
            [{"state": waiting()}],
            phase="Pending",
            init=SIDECARS,
            init_statuses=[
                {
                    "name": "sidecar-1",
                    "restartCount": 3,
                    "state": RUNNING,
                    "started": True,
                    "lastState": restarted(10),
                },
                {"name": "sidecar-2", "state": RUNNING, "started": False},
            ],
            conditions=[{"type": "Initialized", "status": "False"}],
        ),
        ("0/3", "Init:1/2", "3 (10s ago)"),
    ),
    "sidecars started and the app running": (
        pod(
            1,
            [{"ready": True, "restartCount": 4, "state": RUNNING, "lastState": restarted(20)}],
            init=SIDECARS,
            init_statuses=[
                {
                    "name": "sidecar-1",
                    "restartCount": 3,
                    "state": RUNNING,
                    "started": True,
                    "lastState": restarted(10),
                },
                {"name": "sidecar-2", "state": RUNNING, "started": True},
            ],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        ("1/3", "Running", "7 (10s ago)"),
    ),
    "sidecars killed after the app completed": (
        pod(
            1,
            [{"restartCount": 4, "state": terminated("Completed"), "lastState": restarted(20)}],
            phase="Succeeded",
            init=SIDECARS,
            init_statuses=[
                {
                    "name": "sidecar-1",
                    "restartCount": 3,
                    "state": terminated("Error", 137),
                    "started": False,
                    "lastState": restarted(10),
                },
                {"name": "sidecar-2", "state": terminated("Error", 137), "started": False},
            ],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        ("0/3", "Completed", "7 (10s ago)"),
    ),
    "statuses for containers the spec does not have": (
        pod(
            1,
            [{"name": "ghost"}, {"name": "c0"}],
            init=[{"name": "init1"}, {"name": "sidecar1", "restartPolicy": "Always"}],
            init_statuses=[{"name": "initinvalid"}, {"name": "init1"}, {"name": "sidecar1"}],
        ),
        ("0/2", "Init:0/2", "0"),
    ),
}


@pytest.mark.parametrize("case", list(POD_CASES))
def test_pod_ready_status_and_restarts(case: str) -> None:
    obj, (ready, status, restarts) = POD_CASES[case]
    cells = row_cells("", "pods", obj, NOW)
    assert cells[:5] == ["web", ready, status, restarts, "<unknown>"]


def test_pod_wide_cells() -> None:
    obj = pod(
        1, [{"ready": True, "state": RUNNING}], conditions=[{"type": "example.com/lb", "status": "True"}]
    )
    obj["metadata"]["creationTimestamp"] = ago(3 * DAY + 4 * HOUR)
    obj["spec"]["nodeName"] = "node-1"
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    obj["status"]["podIPs"] = [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}]
    obj["status"]["nominatedNodeName"] = "node-2"
    assert row_cells("", "pods", obj, NOW) == [
        "web",
        "1/1",
        "Running",
        "0",
        "3d4h",
        "10.42.0.7",
        "node-1",
        "node-2",
        "1/2",
    ]
    bare = pod(1, phase="Pending")
    assert row_cells("", "pods", bare, NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    bare["status"]["podIP"] = "10.42.0.9"  # an older writer set only podIP
    assert row_cells("", "pods", bare, NOW)[5] == "10.42.0.9"


def test_pod_columns() -> None:
    assert names("", "pods") == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    first = column_definitions("", "pods")[0]
    assert first == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": first["description"],
        "priority": 0,
    }
    assert [c["type"] for c in column_definitions("", "pods")][:5] == ["string"] * 5


# -- workloads --------------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "fluent-bit"}]},
}


def test_deployment() -> None:
    obj = {
        "metadata": meta("web", age=2 * HOUR + 5 * MINUTE),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "tier": "front"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert names("apps", "deployments") == [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    assert row_cells("apps", "deployments", obj, NOW) == [
        "web",
        "2/3",
        3,
        2,
        "125m",
        "web,log",
        "nginx:1.27,fluent-bit",
        "app=web,tier=front",
    ]
    fresh = {"metadata": meta("new", age=5), "spec": {"replicas": 1, "selector": {}, "template": TEMPLATE}}
    assert row_cells("apps", "deployments", fresh, NOW)[:5] == ["new", "0/1", 0, 0, "5s"]
    assert row_cells("apps", "deployments", fresh, NOW)[7] == ""


def test_replica_set_and_replication_controller() -> None:
    rs = {
        "metadata": meta("web-5d8f7c9b4", age=10 * MINUTE),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "pod-template-hash", "operator": "In", "values": ["5d8f7c9b4"]}],
            },
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    assert names("apps", "replicasets") == [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    assert row_cells("apps", "replicasets", rs, NOW) == [
        "web-5d8f7c9b4",
        3,
        3,
        1,
        "10m",
        "web,log",
        "nginx:1.27,fluent-bit",
        "app=web,pod-template-hash in (5d8f7c9b4)",
    ]
    rc = {
        "metadata": meta("legacy"),
        "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": TEMPLATE},
        "status": {"replicas": 2},
    }
    assert names("", "replicationcontrollers") == names("apps", "replicasets")
    assert row_cells("", "replicationcontrollers", rc, NOW) == [
        "legacy",
        2,
        2,
        0,
        "5m",
        "web,log",
        "nginx:1.27,fluent-bit",
        "app=legacy",
    ]


def test_stateful_set() -> None:
    obj = {
        "metadata": meta("db", age=DAY),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 3},
    }
    assert names("apps", "statefulsets") == [
        ("Name", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
    ]
    assert row_cells("apps", "statefulsets", obj, NOW) == [
        "db",
        "3/3",
        "24h",
        "web,log",
        "nginx:1.27,fluent-bit",
    ]


def test_daemon_set() -> None:
    obj = {
        "metadata": meta("proxy", age=40 * DAY),
        "spec": {
            "selector": {"matchLabels": {"app": "proxy"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "proxy", "image": "kube-proxy"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert names("apps", "daemonsets") == [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Node Selector", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    assert row_cells("apps", "daemonsets", obj, NOW) == [
        "proxy",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "40d",
        "proxy",
        "kube-proxy",
        "app=proxy",
    ]
    del obj["spec"]["template"]["spec"]["nodeSelector"]
    assert row_cells("apps", "daemonsets", obj, NOW)[6] == "<none>"


def job(conditions: Sequence[str] = (), deleting: bool = False, **spec: Any) -> dict[str, Any]:
    metadata = meta("pi", age=10 * MINUTE)
    if deleting:
        metadata["deletionTimestamp"] = ago(1)
    return {
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
            **spec,
        },
        "status": {
            "succeeded": 1,
            "startTime": ago(8 * MINUTE),
            "conditions": [{"type": c, "status": "True"} for c in conditions],
        },
    }


def test_job_columns_and_cells() -> None:
    assert names("batch", "jobs") == [
        ("Name", 0),
        ("Status", 0),
        ("Completions", 0),
        ("Duration", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    running = job(completions=3, parallelism=1)
    assert row_cells("batch", "jobs", running, NOW) == [
        "pi",
        "Running",
        "1/3",
        "8m",
        "10m",
        "pi",
        "perl",
        "batch.kubernetes.io/controller-uid=u1",
    ]
    done = job(["Complete"], completions=1)
    done["status"]["completionTime"] = ago(7 * MINUTE + 30)
    assert row_cells("batch", "jobs", done, NOW)[1:4] == ["Complete", "1/1", "30s"]


@pytest.mark.parametrize(
    ("conditions", "deleting", "spec", "status", "completions"),
    [
        (["Failed"], False, {"completions": 1}, "Failed", "1/1"),
        (["Complete", "Failed"], False, {"completions": 1}, "Complete", "1/1"),
        ([], True, {"completions": 1}, "Terminating", "1/1"),
        (["Failed"], True, {"completions": 1}, "Failed", "1/1"),
        (["Suspended"], False, {"parallelism": 4}, "Suspended", "1/1 of 4"),
        (["FailureTarget"], False, {"parallelism": 1}, "FailureTarget", "1/1"),
        ([], False, {}, "Running", "1/1"),
    ],
)
def test_job_status(
    conditions: list[str], deleting: bool, spec: dict[str, Any], status: str, completions: str
) -> None:
    assert row_cells("batch", "jobs", job(conditions, deleting, **spec), NOW)[1:3] == [status, completions]


def test_job_not_started_has_no_duration() -> None:
    obj = job(completions=1)
    del obj["status"]["startTime"]
    assert row_cells("batch", "jobs", obj, NOW)[3] == ""


def test_cron_job() -> None:
    obj = {
        "metadata": meta("nightly", age=3 * DAY),
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "restic"}]}}}
            },
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(5 * HOUR)},
    }
    assert names("batch", "cronjobs") == [
        ("Name", 0),
        ("Schedule", 0),
        ("Timezone", 0),
        ("Suspend", 0),
        ("Active", 0),
        ("Last Schedule", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    assert row_cells("batch", "cronjobs", obj, NOW) == [
        "nightly",
        "0 3 * * *",
        "<none>",
        "False",
        1,
        "5h",
        "3d",
        "backup",
        "restic",
        "<none>",
    ]
    obj["spec"].update(timeZone="Europe/Paris", suspend=True)
    del obj["status"]
    assert row_cells("batch", "cronjobs", obj, NOW)[2:6] == ["Europe/Paris", "True", 0, "<none>"]
    del obj["spec"]["suspend"]
    assert row_cells("batch", "cronjobs", obj, NOW)[3] == "<unset>"


def test_controller_revision() -> None:
    obj = {
        "metadata": meta(
            "proxy-6b7c8d",
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Thing", "name": "other"},
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "proxy", "controller": True},
            ],
        ),
        "revision": 2,
    }
    assert names("apps", "controllerrevisions") == [
        ("Name", 0),
        ("Controller", 0),
        ("Revision", 0),
        ("Age", 0),
    ]
    assert row_cells("apps", "controllerrevisions", obj, NOW) == [
        "proxy-6b7c8d",
        "daemonset.apps/proxy",
        2,
        "5m",
    ]
    core = {
        "metadata": meta(
            "r", ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}]
        ),
        "revision": 1,
    }
    assert row_cells("apps", "controllerrevisions", core, NOW)[1] == "pod/p"
    orphan = {"metadata": meta("r"), "revision": 1}
    assert row_cells("apps", "controllerrevisions", orphan, NOW)[1] == "<none>"


def test_pod_disruption_budget() -> None:
    obj = {"metadata": meta("web"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}}
    assert names("policy", "poddisruptionbudgets") == [
        ("Name", 0),
        ("Min Available", 0),
        ("Max Unavailable", 0),
        ("Allowed Disruptions", 0),
        ("Age", 0),
    ]
    assert row_cells("policy", "poddisruptionbudgets", obj, NOW) == ["web", "2", "N/A", 1, "5m"]
    obj["spec"] = {"maxUnavailable": "25%"}
    assert row_cells("policy", "poddisruptionbudgets", obj, NOW)[1:3] == ["N/A", "25%"]


def test_horizontal_pod_autoscaler() -> None:
    obj = {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "512Mi"},
                    },
                },
            ],
        },
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "60m"}},
                },
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "200Mi"}}},
            ],
        },
    }
    assert names("autoscaling", "horizontalpodautoscalers") == [
        ("Name", 0),
        ("Reference", 0),
        ("Targets", 0),
        ("MinPods", 0),
        ("MaxPods", 0),
        ("Replicas", 0),
        ("Age", 0),
    ]
    assert row_cells("autoscaling", "horizontalpodautoscalers", obj, NOW) == [
        "web",
        "Deployment/web",
        "cpu: 12%/50%, memory: 200Mi/512Mi",
        "2",
        10,
        3,
        "5m",
    ]
    fresh = {
        "metadata": meta("new"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "new"},
            "maxReplicas": 4,
            "metrics": obj["spec"]["metrics"] * 2,
        },
    }
    assert row_cells("autoscaling", "horizontalpodautoscalers", fresh, NOW)[2:6] == [
        "cpu: <unknown>/50%, memory: <unknown>/512Mi + 2 more...",
        "<unset>",
        4,
        0,
    ]
    v1 = {
        "metadata": meta("old"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "old"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {"currentCPUUtilizationPercentage": 40},
    }
    assert row_cells("autoscaling", "horizontalpodautoscalers", v1, NOW)[2] == "cpu: 40%/80%"
    none = {
        "metadata": meta("none"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3},
    }
    assert row_cells("autoscaling", "horizontalpodautoscalers", none, NOW)[2] == "<none>"


def test_hpa_external_pods_and_object_metrics() -> None:
    obj = {
        "metadata": meta("queue"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "worker"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "queue"},
                        "target": {"type": "AverageValue", "averageValue": "30"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "rps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"},
                    },
                },
            ],
        },
        "status": {"currentMetrics": [{"type": "External", "external": {"current": {"averageValue": "12"}}}]},
    }
    assert printers._hpa_metrics(obj) == "12/30 (avg), <unknown>/1k"


# -- networking -------------------------------------------------------------------


def service(kind: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": meta("web", age=6 * HOUR), "spec": {"type": kind, **spec}}


def test_service_columns() -> None:
    assert names("", "services") == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]


@pytest.mark.parametrize(
    ("obj", "cells"),
    [
        (
            service(
                "ClusterIP",
                clusterIP="10.43.0.10",
                clusterIPs=["10.43.0.10"],
                ports=[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                selector={"k8s-app": "kube-dns"},
            ),
            ["web", "ClusterIP", "10.43.0.10", "<none>", "53/UDP,53/TCP", "6h", "k8s-app=kube-dns"],
        ),
        (
            service(
                "NodePort",
                clusterIPs=["10.43.1.2"],
                ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                externalIPs=["192.0.2.1"],
            ),
            ["web", "NodePort", "10.43.1.2", "192.0.2.1", "80:30080/TCP", "6h", "<none>"],
        ),
        (
            service(
                "LoadBalancer",
                clusterIPs=["10.43.1.3"],
                ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}],
            ),
            ["web", "LoadBalancer", "10.43.1.3", "<pending>", "443:31443/TCP", "6h", "<none>"],
        ),
        (
            {
                **service("LoadBalancer", clusterIPs=["10.43.1.4"], externalIPs=["192.0.2.9"]),
                "status": {
                    "loadBalancer": {
                        "ingress": [
                            {"ip": "203.0.113.7"},
                            {"hostname": "lb.example.com"},
                            {"ip": "203.0.113.5"},
                        ]
                    }
                },
            },
            [
                "web",
                "LoadBalancer",
                "10.43.1.4",
                "203.0.113.5,203.0.113.7,lb.example.com,192.0.2.9",
                "<none>",
                "6h",
                "<none>",
            ],
        ),
        (
            service("ExternalName", externalName="db.example.com"),
            ["web", "ExternalName", "<none>", "db.example.com", "<none>", "6h", "<none>"],
        ),
        (
            service("ClusterIP", clusterIP="None", clusterIPs=["None"], selector={"app": "db"}),
            ["web", "ClusterIP", "None", "<none>", "<none>", "6h", "app=db"],
        ),
    ],
)
def test_service_cells(obj: dict[str, Any], cells: list[Any]) -> None:
    assert row_cells("", "services", obj, NOW) == cells


def test_endpoints() -> None:
    assert names("", "endpoints") == [("Name", 0), ("Endpoints", 0), ("Age", 0)]
    obj = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5"}, {"ip": "10.42.0.6"}],
                "notReadyAddresses": [{"ip": "10.42.0.9"}],
                "ports": [{"name": "http", "port": 8080}, {"name": "https", "port": 8443}],
            },
            {"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]},
        ],
    }
    assert row_cells("", "endpoints", obj, NOW) == [
        "web",
        "10.42.0.5:8080,10.42.0.6:8080,10.42.0.5:8443 + 2 more...",
        "5m",
    ]
    obj["subsets"] = [
        {"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]},
        {"addresses": [{"ip": "10.42.0.7"}]},
    ]
    assert row_cells("", "endpoints", obj, NOW)[1] == "[fd00::5]:80,10.42.0.7"
    assert row_cells("", "endpoints", {"metadata": meta("empty")}, NOW)[1] == "<none>"


def test_endpoint_slice() -> None:
    assert names("discovery.k8s.io", "endpointslices") == [
        ("Name", 0),
        ("AddressType", 0),
        ("Ports", 0),
        ("Endpoints", 0),
        ("Age", 0),
    ]
    obj = {
        "metadata": meta("web-abc12"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}, {"name": "named"}, {}, {"port": 9090}],
        "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6", "10.42.0.7"]}],
    }
    assert row_cells("discovery.k8s.io", "endpointslices", obj, NOW) == [
        "web-abc12",
        "IPv4",
        "8080,named,* + 1 more...",
        "10.42.0.5,10.42.0.6,10.42.0.7",
        "5m",
    ]
    empty = {"metadata": meta("e"), "addressType": "IPv6"}
    assert row_cells("discovery.k8s.io", "endpointslices", empty, NOW)[2:4] == ["<unset>", "<unset>"]


def test_ingress_and_ingress_class() -> None:
    assert names("networking.k8s.io", "ingresses") == [
        ("Name", 0),
        ("Class", 0),
        ("Hosts", 0),
        ("Address", 0),
        ("Ports", 0),
        ("Age", 0),
    ]
    obj = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"]}],
            "rules": [
                {"host": "a.example.com"},
                {},
                {"host": "b.example.com"},
                {"host": "c.example.com"},
                {"host": "d.example.com"},
            ],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
    }
    assert row_cells("networking.k8s.io", "ingresses", obj, NOW) == [
        "web",
        "nginx",
        "a.example.com,b.example.com,c.example.com + 2 more...",
        "192.0.2.10",
        "80, 443",
        "5m",
    ]
    plain = {"metadata": meta("any"), "spec": {"defaultBackend": {"service": {"name": "web"}}}}
    assert row_cells("networking.k8s.io", "ingresses", plain, NOW) == ["any", "<none>", "*", "", "80", "5m"]

    assert names("networking.k8s.io", "ingressclasses") == [
        ("Name", 0),
        ("Controller", 0),
        ("Parameters", 0),
        ("Age", 0),
    ]
    klass = {
        "metadata": meta("nginx"),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"},
        },
    }
    assert row_cells("networking.k8s.io", "ingressclasses", klass, NOW) == [
        "nginx",
        "k8s.io/ingress-nginx",
        "IngressParameters.k8s.example.com/external-lb",
        "5m",
    ]
    klass["spec"] = {"controller": "example.com/c"}
    assert row_cells("networking.k8s.io", "ingressclasses", klass, NOW)[2] == "<none>"


def test_network_policy() -> None:
    assert names("networking.k8s.io", "networkpolicies") == [("Name", 0), ("Pod-Selector", 0), ("Age", 0)]
    obj = {"metadata": meta("deny"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}}
    assert row_cells("networking.k8s.io", "networkpolicies", obj, NOW) == ["deny", "role=db", "5m"]
    obj["spec"]["podSelector"] = {}
    assert row_cells("networking.k8s.io", "networkpolicies", obj, NOW)[1] == "<none>"


# -- cluster and config -----------------------------------------------------------


def test_node() -> None:
    assert names("", "nodes") == [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ]
    obj = {
        "metadata": meta(
            "node-1",
            age=30 * DAY,
            labels={
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/master": "",
                "kubernetes.io/role": "edge",
                "node-role.kubernetes.io/": "",
            },
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "Hostname", "address": "node-1"},
                {"type": "InternalIP", "address": "192.168.1.10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0-kubelite",
                "osImage": "Debian GNU/Linux 12",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "runc://1.1.12",
            },
        },
    }
    assert row_cells("", "nodes", obj, NOW) == [
        "node-1",
        "Ready,SchedulingDisabled",
        "control-plane,edge,master",
        "30d",
        "v1.32.0-kubelite",
        "192.168.1.10",
        "<none>",
        "Debian GNU/Linux 12",
        "6.1.0",
        "runc://1.1.12",
    ]
    bare = {"metadata": meta("node-2"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert row_cells("", "nodes", bare, NOW) == [
        "node-2",
        "NotReady",
        "<none>",
        "5m",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]
    assert row_cells("", "nodes", {"metadata": meta("node-3")}, NOW)[1] == "Unknown"


def test_namespace_configmap_secret_serviceaccount_lease() -> None:
    assert names("", "namespaces") == [("Name", 0), ("Status", 0), ("Age", 0)]
    assert row_cells(
        "", "namespaces", {"metadata": meta("kube-system", age=90 * DAY), "status": {"phase": "Active"}}, NOW
    ) == ["kube-system", "Active", "90d"]

    assert names("", "configmaps") == [("Name", 0), ("Data", 0), ("Age", 0)]
    cm = {"metadata": meta("settings"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row_cells("", "configmaps", cm, NOW) == ["settings", 3, "5m"]

    assert names("", "secrets") == [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    secret = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "x", "tls.key": "y"}}
    assert row_cells("", "secrets", secret, NOW) == ["tls", "kubernetes.io/tls", 2, "5m"]

    assert names("", "serviceaccounts") == [("Name", 0), ("Secrets", 0), ("Age", 0)]
    assert row_cells("", "serviceaccounts", {"metadata": meta("default")}, NOW) == ["default", 0, "5m"]
    assert row_cells("", "serviceaccounts", {"metadata": meta("ci"), "secrets": [{"name": "t"}]}, NOW)[1] == 1

    assert names("coordination.k8s.io", "leases") == [("Name", 0), ("Holder", 0), ("Age", 0)]
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "host_1234"}}
    assert row_cells("coordination.k8s.io", "leases", lease, NOW) == ["kube-scheduler", "host_1234", "5m"]
    assert row_cells("coordination.k8s.io", "leases", {"metadata": meta("free"), "spec": {}}, NOW)[1] == ""


def test_persistent_volume() -> None:
    assert names("", "persistentvolumes") == [
        ("Name", 0),
        ("Capacity", 0),
        ("Access Modes", 0),
        ("Reclaim Policy", 0),
        ("Status", 0),
        ("Claim", 0),
        ("StorageClass", 0),
        ("VolumeAttributesClass", 0),
        ("Reason", 0),
        ("Age", 0),
        ("VolumeMode", 1),
    ]
    obj = {
        "metadata": meta("pv-1"),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert row_cells("", "persistentvolumes", obj, NOW) == [
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "local-path",
        "<unset>",
        "",
        "5m",
        "Filesystem",
    ]
    obj["metadata"]["deletionTimestamp"] = ago(1)
    obj["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "old"}
    del obj["spec"]["claimRef"], obj["spec"]["volumeMode"]
    assert row_cells("", "persistentvolumes", obj, NOW)[4:] == [
        "Terminating",
        "",
        "old",
        "<unset>",
        "",
        "5m",
        "<unset>",
    ]


def test_persistent_volume_claim() -> None:
    assert names("", "persistentvolumeclaims") == [
        ("Name", 0),
        ("Status", 0),
        ("Volume", 0),
        ("Capacity", 0),
        ("Access Modes", 0),
        ("StorageClass", 0),
        ("VolumeAttributesClass", 0),
        ("Age", 0),
        ("VolumeMode", 1),
    ]
    bound = {
        "metadata": meta("data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "local-path",
            "volumeName": "pv-1",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}},
    }
    assert row_cells("", "persistentvolumeclaims", bound, NOW) == [
        "data",
        "Bound",
        "pv-1",
        "10Gi",
        "RWO",
        "local-path",
        "<unset>",
        "5m",
        "Filesystem",
    ]
    pending = {
        "metadata": meta("wait"),
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Pending"},
    }
    assert row_cells("", "persistentvolumeclaims", pending, NOW) == [
        "wait",
        "Pending",
        "",
        "",
        "",
        "",
        "<unset>",
        "5m",
        "<unset>",
    ]


def test_storage_class_and_priority_class() -> None:
    assert names("storage.k8s.io", "storageclasses") == [
        ("Name", 0),
        ("Provisioner", 0),
        ("ReclaimPolicy", 0),
        ("VolumeBindingMode", 0),
        ("AllowVolumeExpansion", 0),
        ("Age", 0),
    ]
    sc = {
        "metadata": meta("local-path", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "kubelite.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert row_cells("storage.k8s.io", "storageclasses", sc, NOW) == [
        "local-path (default)",
        "kubelite.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "5m",
    ]
    sc2 = {
        "metadata": meta("fast"),
        "provisioner": "p",
        "reclaimPolicy": "Retain",
        "allowVolumeExpansion": True,
    }
    assert row_cells("storage.k8s.io", "storageclasses", sc2, NOW)[:5] == [
        "fast",
        "p",
        "Retain",
        "Immediate",
        True,
    ]

    assert names("scheduling.k8s.io", "priorityclasses") == [
        ("Name", 0),
        ("Value", 0),
        ("Global-Default", 0),
        ("Age", 0),
        ("PreemptionPolicy", 0),
    ]
    pc = {
        "metadata": meta("system-node-critical", age=DAY),
        "value": 2000001000,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert row_cells("scheduling.k8s.io", "priorityclasses", pc, NOW) == [
        "system-node-critical",
        2000001000,
        False,
        "24h",
        "PreemptLowerPriority",
    ]


def test_resource_quota() -> None:
    assert names("", "resourcequotas") == [("Name", 0), ("Age", 0), ("Request", 0), ("Limit", 0)]
    obj = {
        "metadata": meta("compute"),
        "spec": {"hard": {"pods": "10"}},
        "status": {
            "hard": {
                "requests.cpu": "2",
                "pods": "10",
                "limits.memory": "4Gi",
                "limits.cpu": "4",
                "requests.memory": "2Gi",
            },
            "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1", "requests.memory": "1Gi"},
        },
    }
    assert row_cells("", "resourcequotas", obj, NOW) == [
        "compute",
        "5m",
        "pods: 3/10, requests.cpu: 500m/2, requests.memory: 1Gi/2Gi",
        "limits.cpu: 1/4, limits.memory: 0/4Gi",
    ]


def test_role_bindings() -> None:
    expected = [("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1), ("Groups", 1), ("ServiceAccounts", 1)]
    assert names("rbac.authorization.k8s.io", "rolebindings") == expected
    assert names("rbac.authorization.k8s.io", "clusterrolebindings") == expected
    obj = {
        "metadata": meta("admins"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "ops"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "deployer"},
        ],
    }
    cells = ["admins", "ClusterRole/admin", "5m", "alice, bob", "ops", "ci/deployer"]
    assert row_cells("rbac.authorization.k8s.io", "rolebindings", obj, NOW) == cells
    assert row_cells("rbac.authorization.k8s.io", "clusterrolebindings", obj, NOW) == cells


@pytest.mark.parametrize(
    ("group", "plural"),
    [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("example.com", "widgets"),
    ],
)
def test_kinds_without_a_printer_get_name_and_created_at(group: str, plural: str) -> None:
    assert not printers.has_printer(group, plural)
    assert column_definitions(group, plural) == [
        {"name": "Name", "type": "string", "format": "name", "description": printers.NAME_DOC, "priority": 0},
        {
            "name": "Created At",
            "type": "date",
            "format": "",
            "description": column_definitions(group, plural)[1]["description"],
            "priority": 0,
        },
    ]
    obj = {"metadata": {"name": "view", "creationTimestamp": "2024-03-05T06:07:08Z"}}
    assert row_cells(group, plural, obj, NOW) == ["view", "2024-03-05T06:07:08Z"]
    assert row_cells(group, plural, {"metadata": {"name": "x"}}, NOW) == ["x", "0001-01-01T00:00:00Z"]


def test_certificate_signing_request_and_webhooks() -> None:
    csr = {
        "metadata": meta("node-csr"),
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "username": "system:node:n1",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }
    assert row_cells("certificates.k8s.io", "certificatesigningrequests", csr, NOW) == [
        "node-csr",
        "5m",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "system:node:n1",
        "24h",
        "Approved,Issued",
    ]
    hook = {"metadata": meta("policy"), "webhooks": [{"name": "a"}, {"name": "b"}]}
    assert row_cells("admissionregistration.k8s.io", "validatingwebhookconfigurations", hook, NOW) == [
        "policy",
        2,
        "5m",
    ]


# -- events -----------------------------------------------------------------------


def test_event_columns_in_kubernetes_order() -> None:
    assert names("", "events") == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    assert column_definitions("", "events")[9]["format"] == "name"
    assert column_definitions("", "events")[0]["format"] == ""
    assert names("events.k8s.io", "events") == names("", "events")


def test_core_event() -> None:
    obj = {
        "metadata": meta("web.17a8", age=3 * DAY),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(3 * DAY),
        "lastTimestamp": ago(2 * DAY),
        "count": 6,
        "type": "Warning",
    }
    assert row_cells("", "events", obj, NOW) == [
        "2d",
        "Warning",
        "BackOff",
        "pod/web",
        "spec.containers{web}",
        "kubelet, node-1",
        "Back-off restarting failed container",
        "3d",
        6,
        "web.17a8",
    ]


def test_event_without_first_timestamp_or_count() -> None:
    obj = {
        "metadata": meta("n.1"),
        "involvedObject": {"kind": "Node"},
        "reason": "Starting",
        "message": "Starting kubelet.",
        "eventTime": "2023-11-14T22:12:20.123456Z",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
        "type": "Normal",
    }
    assert row_cells("", "events", obj, NOW) == [
        "59s",
        "Normal",
        "Starting",
        "node",
        "",
        "kubelet, node-1",
        "Starting kubelet.",
        "59s",
        1,
        "n.1",
    ]


def test_event_series_and_the_events_api_group() -> None:
    obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("web.17a9"),
        "eventTime": "2023-11-14T21:13:20.000000Z",
        "series": {"count": 4, "lastObservedTime": "2023-11-14T22:10:20.000000Z"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "note": "Scaled up replica set web-1 to 3",
        "reason": "ScalingReplicaSet",
        "reportingController": "deployment-controller",
        "type": "Normal",
    }
    assert row_cells("events.k8s.io", "events", obj, NOW) == [
        "3m",
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "",
        "deployment-controller",
        "Scaled up replica set web-1 to 3",
        "60m",
        4,
        "web.17a9",
    ]


# -- custom resources -------------------------------------------------------------

CERT = {
    "apiVersion": "example.com/v1",
    "kind": "Certificate",
    "metadata": meta("site", age=2 * DAY),
    "spec": {"secretName": "site-tls", "replicas": 2, "ratio": 0.5, "hosts": ["a", "b"]},
    "status": {
        "conditions": [{"type": "Issuing", "status": "False"}, {"type": "Ready", "status": "True"}],
        "notAfter": ago(-90 * DAY),
        "renewed": ago(DAY),
        "paused": False,
    },
}


def test_custom_resource_printer_columns() -> None:
    columns: list[dict[str, Any]] = [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Secret", "type": "string", "jsonPath": ".spec.secretName", "description": "the secret"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
        {"name": "Paused", "type": "boolean", "jsonPath": ".status.paused"},
        {"name": "Renewed", "type": "date", "jsonPath": ".status.renewed"},
        {"name": "First Host", "type": "string", "jsonPath": ".spec.hosts[0]"},
        {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts"},
        {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    table = build_table("example.com", "certificates", [CERT], "42", now=NOW, printer_columns=columns)
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Secret", "string", 0),
        ("Replicas", "integer", 0),
        ("Ratio", "number", 1),
        ("Paused", "boolean", 0),
        ("Renewed", "date", 0),
        ("First Host", "string", 0),
        ("Hosts", "string", 0),
        ("Missing", "string", 0),
        ("Age", "date", 0),
    ]
    assert table["columnDefinitions"][2]["description"] == "the secret"
    assert table["rows"][0]["cells"] == [
        "site",
        "True",
        "site-tls",
        2,
        0.5,
        False,
        "24h",
        "a",
        '["a","b"]',
        None,
        "2d",
    ]


def test_custom_resource_without_printer_columns_shows_age() -> None:
    table = build_table("example.com", "certificates", [CERT], "42", now=NOW, printer_columns=[])
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["site", "2d"]


# -- the Table --------------------------------------------------------------------


def test_build_table_for_a_list() -> None:
    pods = [
        pod(1, [{"ready": True, "state": RUNNING}]),
        pod(1, [{"state": terminated("Completed")}], phase="Succeeded"),
    ]
    pods[0]["metadata"].update(name="a", resourceVersion="7", labels={"app": "web"})
    pods[1]["metadata"].update(name="b", resourceVersion="8")
    table = build_table("", "pods", pods, "12", now=NOW, continue_token="abc", remaining=3)
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "12", "continue": "abc", "remainingItemCount": 3}
    assert table["columnDefinitions"] == column_definitions("", "pods")
    assert [r["cells"][:3] for r in table["rows"]] == [["a", "1/1", "Running"], ["b", "0/1", "Completed"]]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pods[0]["metadata"],
    }
    assert "conditions" not in table["rows"][0]
    assert table["rows"][1]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]


def test_build_table_include_object_and_version() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("c", resourceVersion="5"),
        "data": {"k": "v"},
    }
    whole = build_table("", "configmaps", [obj], "5", "Object", NOW)
    assert whole["rows"][0]["object"] is obj
    none = build_table("", "configmaps", [obj], "5", "None", NOW)
    assert "object" not in none["rows"][0]
    default = build_table("", "configmaps", [obj], "5", "", NOW, table_version="meta.k8s.io/v1beta1")
    assert default["apiVersion"] == "meta.k8s.io/v1beta1"
    assert default["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    with pytest.raises(ValueError, match="includeObject"):
        build_table("", "configmaps", [obj], "5", "Everything", NOW)


def test_build_table_empty_list_and_watch_events() -> None:
    empty = build_table("apps", "deployments", [], "99", now=NOW)
    assert empty["rows"] == []
    assert empty["metadata"] == {"resourceVersion": "99"}
    failed = pod(1, [{"state": terminated("Error", 1)}], phase="Failed")
    later = build_table("", "pods", [failed], "100", now=NOW, include_columns=False)
    assert later["columnDefinitions"] is None
    assert later["rows"][0]["cells"][2] == "Error"
    assert later["rows"][0]["conditions"][0]["reason"] == "Failed"
    bare = build_table("", "namespaces", [{"metadata": {"name": "x"}}], "", now=NOW)
    assert bare["metadata"] == {}


@pytest.mark.parametrize(("group", "plural"), sorted(printers._PRINTERS))
def test_every_printer_fills_every_column_even_for_an_empty_object(group: str, plural: str) -> None:
    cells = row_cells(group, plural, {"metadata": {"name": "x"}}, NOW)
    columns = column_definitions(group, plural)
    assert len(cells) == len(columns)
    name_columns = [c for c in columns if c["format"] == "name"]
    assert name_columns and name_columns[0]["name"] == "Name"
    for cell, column in zip(cells, columns, strict=True):
        assert isinstance(cell, str | int | bool), (column["name"], cell)
