"""Pod status: the phase and conditions the kubelet derives, and the status manager that writes them.

``pod_phase`` is the kubelet's getPhase: Pending while a sandbox, image or
init container is outstanding (sidecars restarting after a regular
container started do not count), Running once every container has started
and one runs (or is being restarted), Succeeded/Failed once all are
terminated and none will restart. ``pod_conditions`` computes the
conditions the kubelet owns (PodReadyToStartContainers, Initialized,
ContainersReady, Ready including readiness gates) with Kubernetes'
reasons and messages, and PodScheduled, which the kubelet asserts too.

``StatusManager.update(pod, status)`` merges a computed status into what
the API has — conditions the kubelet does not own (readiness gates,
DisruptionTarget...) stay as they are, transition times stay when a
condition did not change, ``startTime`` and ``qosClass`` are kept — and
writes it through the status subresource only when something changed. A
pod whose phase is terminal in the API never goes back (a restarted agent
cannot resurrect a Succeeded pod as Running).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec

from kubelite.api.core_v1 import ContainerStatus, Pod, PodCondition, PodSpec, PodStatus
from kubelite.api.errors import StatusError
from kubelite.client import REAL_CLOCK, Clock, ResourceClient

log = logging.getLogger(__name__)

TERMINAL_PHASES = ("Succeeded", "Failed")
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")
_CONDITION_ORDER = {
    t: i
    for i, t in enumerate(
        ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    )
}


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sidecar(container: object) -> bool:
    """An init container with ``restartPolicy: Always`` (a sidecar: it keeps running)."""
    return getattr(container, "restartPolicy", None) == "Always"


def _by_name(statuses: list[ContainerStatus]) -> dict[str, ContainerStatus]:
    return {s.name: s for s in statuses}


def _exit_code(s: ContainerStatus) -> int | None:
    return s.state.terminated.exitCode if s.state.terminated is not None else None


def any_regular_container_started(spec: PodSpec, statuses: list[ContainerStatus]) -> bool:
    """Whether a (non-init) container runs or has run: the pod got past its initialization
    before, so sidecars restarting later do not make it Pending or uninitialized again."""
    names = {c.name for c in spec.containers}
    return any(
        s.name in names and (s.state.running is not None or s.state.terminated is not None) for s in statuses
    )


def pod_phase(
    spec: PodSpec,
    init_statuses: list[ContainerStatus],
    statuses: list[ContainerStatus],
    *,
    terminal: bool = False,
) -> str:
    """The phase of a pod whose containers are in these states (the kubelet's getPhase).

    ``terminal``: the pod is being terminated (deleted, or stopped for good), so containers
    that stopped will not restart whatever the restart policy: Succeeded if all of them
    exited 0, else Failed. Sidecars (restartable init containers) count as running while they
    run, and once stopped do not count at all."""
    policy = spec.restartPolicy or "Always"
    inits = _by_name(init_statuses)
    pending_init = failed_init = 0
    running = waiting = stopped = succeeded = unknown = 0
    for ic in spec.initContainers:
        s = inits.get(ic.name)
        if is_sidecar(ic):
            if s is None:
                unknown += 1
            elif s.state.running is not None:
                running += 1
                if not s.started:
                    pending_init += 1
            elif s.state.waiting is not None and s.lastState.terminated is None:
                waiting += 1
                pending_init += 1
            elif s.state.terminated is None and s.state.waiting is None:
                unknown += 1
                pending_init += 1
            continue
        if s is None or s.state.running is not None:
            pending_init += 1
        elif s.state.terminated is not None:
            if s.state.terminated.exitCode != 0:
                failed_init += 1
        elif s.state.waiting is not None:
            last = s.lastState.terminated
            if last is None:
                pending_init += 1
            elif last.exitCode != 0:
                failed_init += 1
        else:
            pending_init += 1

    mains = _by_name(statuses)
    for c in spec.containers:
        s = mains.get(c.name)
        if s is None:
            unknown += 1
        elif s.state.running is not None:
            running += 1
        elif s.state.terminated is not None:
            stopped += 1
            if s.state.terminated.exitCode == 0:
                succeeded += 1
        elif s.state.waiting is not None:
            if s.lastState.terminated is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init and policy == "Never":
        return "Failed"
    if waiting or (pending_init and not any_regular_container_started(spec, statuses)):
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal or policy != "Always":
            if stopped == succeeded:
                return "Succeeded"
            if terminal or policy == "Never":
                return "Failed"
        return "Running"  # restarting (Always, or OnFailure after a failure)
    return "Pending"


def _cond(type_: str, ok: bool, reason: str = "", message: str = "") -> PodCondition:
    return PodCondition(type=type_, status="True" if ok else "False", reason=reason, message=message)


def pod_conditions(
    pod: Pod,
    phase: str,
    init_statuses: list[ContainerStatus],
    statuses: list[ContainerStatus],
    sandbox_ready: bool,
) -> list[PodCondition]:
    """The conditions the kubelet sets (transition times are filled in by ``merge_status``)."""
    spec = pod.spec
    conditions = [_cond("PodReadyToStartContainers", sandbox_ready)]

    inits = _by_name(init_statuses)
    mains = _by_name(statuses)
    incomplete = [ic.name for ic in spec.initContainers if not (inits.get(ic.name) and inits[ic.name].ready)]
    if phase == "Succeeded":
        conditions.append(_cond("Initialized", True, "PodCompleted"))
    elif not incomplete or any_regular_container_started(spec, statuses):
        conditions.append(_cond("Initialized", True))
    else:
        conditions.append(
            _cond(
                "Initialized",
                False,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(incomplete)}]",
            )
        )

    if phase in TERMINAL_PHASES:
        containers_ready = _cond(
            "ContainersReady", False, "PodCompleted" if phase == "Succeeded" else "PodFailed"
        )
    else:
        # sidecars first, as the kubelet lists them
        unready = [
            c.name
            for c in spec.initContainers
            if is_sidecar(c) and not (inits.get(c.name) and inits[c.name].ready)
        ]
        unready += [c.name for c in spec.containers if not (mains.get(c.name) and mains[c.name].ready)]
        if unready:
            containers_ready = _cond(
                "ContainersReady",
                False,
                "ContainersNotReady",
                f"containers with unready status: [{' '.join(unready)}]",
            )
        else:
            containers_ready = _cond("ContainersReady", True)
    conditions.append(containers_ready)

    if containers_ready.status != "True":
        ready = _cond("Ready", False, containers_ready.reason, containers_ready.message)
    else:
        existing = {c.type: c for c in pod.status.conditions}
        unmet = []
        for gate in spec.readinessGates:
            c = existing.get(gate.conditionType)
            if c is None:
                unmet.append(
                    f'corresponding condition of pod readiness gate "{gate.conditionType}" does not exist.'
                )
            elif c.status != "True":
                unmet.append(
                    f'the status of pod readiness gate "{gate.conditionType}" is not "True", but {c.status}'
                )
        if unmet:
            ready = _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(unmet))
        else:
            ready = _cond("Ready", True)
    conditions.append(ready)
    # the kubelet states it too: a pod created with spec.nodeName set was never bound
    conditions.append(_cond("PodScheduled", True))
    return conditions


def merge_status(current: PodStatus, computed: PodStatus, now: float) -> PodStatus:
    """``computed`` merged into ``current`` (what the API has); see the module docstring."""
    merged = msgspec.structs.replace(computed)
    old_conditions = {c.type: c for c in current.conditions}
    conditions: list[PodCondition] = []
    for c in computed.conditions:
        old = old_conditions.get(c.type)
        keep_time = old is not None and old.status == c.status and old.lastTransitionTime
        conditions.append(
            msgspec.structs.replace(
                c,
                lastTransitionTime=old.lastTransitionTime if keep_time and old is not None else rfc3339(now),
                lastProbeTime=None,
            )
        )
    ours = {c.type for c in computed.conditions}
    conditions += [c for c in current.conditions if c.type not in ours]
    conditions.sort(key=lambda c: _CONDITION_ORDER.get(c.type, len(_CONDITION_ORDER)))
    merged.conditions = conditions
    merged.startTime = current.startTime or computed.startTime
    merged.qosClass = current.qosClass or computed.qosClass
    merged.nominatedNodeName = current.nominatedNodeName
    merged.resourceClaimStatuses = current.resourceClaimStatuses
    merged.observedGeneration = computed.observedGeneration or current.observedGeneration
    if current.phase in TERMINAL_PHASES and merged.phase != current.phase:
        merged.phase = current.phase
        merged.reason = current.reason
        merged.message = current.message
    return merged


def encode_status(status: PodStatus) -> bytes:
    """The status as the status manager compares and remembers it (JSON bytes)."""
    return msgspec.json.encode(status)


class StatusManager:
    """Writes pod statuses through the status subresource, only when they changed."""

    def __init__(self, pods: ResourceClient, clock: Clock = REAL_CLOCK, *, tries: int = 4) -> None:
        self.pods = pods
        self.clock = clock
        self.tries = tries
        self._last: dict[str, bytes] = {}  # pod uid -> the status we last wrote
        self.writes = 0

    def forget(self, uid: str) -> None:
        self._last.pop(uid, None)

    def last_written(self, uid: str) -> bytes | None:
        return self._last.get(uid)

    async def update(self, pod: Pod, computed: PodStatus) -> Pod | None:
        """Merge ``computed`` into ``pod`` (the latest copy known) and write it if it changed.

        Returns the stored pod after a write, ``pod`` itself when nothing needed writing, and
        None when the pod is gone (404) or is another pod of the same name (uid changed).
        Connection errors propagate (the caller retries on its next sync).
        """
        uid = pod.metadata.uid
        current = pod
        for attempt in range(self.tries):
            merged = merge_status(current.status, computed, self.clock.now())
            encoded = encode_status(merged)
            if encoded == encode_status(current.status) or (attempt == 0 and encoded == self._last.get(uid)):
                return current
            body = msgspec.structs.replace(current, status=merged)
            try:
                stored: Pod = await self.pods.update_status(body)
            except StatusError as e:
                if e.code == 404:
                    return None
                if e.code != 409:
                    raise
                try:
                    current = await self.pods.get(pod.metadata.name, pod.metadata.namespace)
                except StatusError as ge:
                    if ge.code == 404:
                        return None
                    raise
                if current.metadata.uid != uid:
                    return None
                continue
            self._last[uid] = encoded
            self.writes += 1
            return stored
        log.warning(
            "status of pod %s/%s: gave up after %d conflicts",
            pod.metadata.namespace,
            pod.metadata.name,
            self.tries,
        )
        return current


__all__ = [
    "KUBELET_CONDITIONS",
    "TERMINAL_PHASES",
    "StatusManager",
    "encode_status",
    "is_sidecar",
    "merge_status",
    "pod_conditions",
    "pod_phase",
    "rfc3339",
]
