"""The scheduling framework's contracts: statuses, cycle state, cluster events
and the plugin protocols, one per extension point.

A plugin is a plain class with a ``name`` attribute and the methods of the
extension points it takes part in; the framework finds them by name (a
plugin that has ``filter`` is a Filter plugin). Everything runs on the
scheduler's event loop: all methods are synchronous except ``pre_bind`` and
``bind``, which may talk to the API server. Filter and Score are called
once per node per pod, so they must be cheap: do per-pod work once in
PreFilter/PreScore and keep it in the ``CycleState``.

Success is ``None`` (or a ``Status`` whose code is ``Code.SUCCESS``); a
plugin may return the same failure ``Status`` object for many nodes (treat
returned statuses as read-only).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubelite.api.core_v1 import Pod
    from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, QueuedPodInfo, Snapshot


MAX_NODE_SCORE = 100  # what a Score plugin may give a node after NormalizeScore, at most
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin's answer means (Kubernetes' framework.Code)."""

    SUCCESS = 0
    ERROR = 1  # an internal error: the pod is retried with back-off
    UNSCHEDULABLE = 2  # this node does not fit now; preemption may help
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3  # this node cannot fit, preemption will not help
    WAIT = 4  # Permit: hold the pod until allowed, rejected or timed out
    SKIP = 5  # PreFilter/PreScore: skip this plugin's Filter/Score; Bind: let the next binder bind


_CODE_NAMES = {
    Code.SUCCESS: "Success",
    Code.ERROR: "Error",
    Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable",
    Code.WAIT: "Wait",
    Code.SKIP: "Skip",
}


class Status:
    """A plugin's answer: a code, reasons (user-facing, as Kubernetes words them) and the plugin."""

    __slots__ = ("code", "error", "plugin", "reasons")

    def __init__(
        self,
        code: Code = Code.SUCCESS,
        reasons: Iterable[str] = (),
        plugin: str = "",
        error: BaseException | None = None,
    ) -> None:
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin
        self.error = error

    @classmethod
    def as_error(cls, error: BaseException | str, plugin: str = "") -> Status:
        exc = error if isinstance(error, BaseException) else RuntimeError(error)
        return cls(Code.ERROR, [str(exc)], plugin, exc)

    @classmethod
    def unschedulable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE, reasons, plugin)

    @classmethod
    def unresolvable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Wait (not an error)."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.WAIT)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        """This status attributed to ``plugin`` (a copy when it names another plugin)."""
        if self.plugin == plugin:
            return self
        if not self.plugin:
            self.plugin = plugin
            return self
        return Status(self.code, self.reasons, plugin, self.error)

    def __repr__(self) -> str:
        return f"Status({_CODE_NAMES[self.code]}, {self.reasons!r}, plugin={self.plugin!r})"

    def __eq__(self, other: object) -> bool:
        if other is None:
            return self.code == Code.SUCCESS
        if not isinstance(other, Status):
            return NotImplemented
        return self.code == other.code and self.reasons == other.reasons

    __hash__ = None  # type: ignore[assignment]


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


def code_of(status: Status | None) -> Code:
    return Code.SUCCESS if status is None else status.code


class CycleState(dict[str, Any]):
    """Per-pod scratch space shared by the plugins during one scheduling attempt.

    ``pod_info`` is the pod's ``PodInfo`` (set by the scheduler; build one
    with ``PodInfo(pod)`` when it is None). Keys are plugin-chosen strings
    (use your plugin name as a prefix). Values
    that preemption may change on a clone should have a ``clone()`` method;
    ``clone()`` copies those and shares the rest.
    """

    __slots__ = ("pod_info", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self, pod_info: PodInfo | None = None) -> None:
        super().__init__()
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()
        # The pod being scheduled, with requests, ports and affinity terms precomputed.
        self.pod_info = pod_info

    def clone(self) -> CycleState:
        new = CycleState(self.pod_info)
        for key, value in self.items():
            clone = getattr(value, "clone", None)
            new[key] = clone() if callable(clone) else value
        new.skip_filter_plugins = set(self.skip_filter_plugins)
        new.skip_score_plugins = set(self.skip_score_plugins)
        return new


@dataclass(slots=True)
class PreFilterResult:
    """PreFilter's narrowing: only these nodes need Filter (None: all of them)."""

    node_names: set[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return PreFilterResult(set(other.node_names))
        return PreFilterResult(self.node_names & other.node_names)


class NodeToStatus:
    """The Filter outcome per node name, plus the status of nodes not evaluated.

    ``absent`` applies to nodes PreFilter ruled out (UnschedulableAndUnresolvable).
    """

    __slots__ = ("absent", "statuses")

    def __init__(self, statuses: dict[str, Status] | None = None, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = statuses if statuses is not None else {}
        self.absent = absent or Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def get(self, node_name: str) -> Status:
        return self.statuses.get(node_name, self.absent)

    def set(self, node_name: str, status: Status) -> None:
        self.statuses[node_name] = status

    def __len__(self) -> int:
        return len(self.statuses)

    def items(self) -> Iterable[tuple[str, Status]]:
        return self.statuses.items()

    def nodes_for_code(self, nodes: Iterable[NodeInfo], code: Code) -> list[NodeInfo]:
        """The nodes (of ``nodes``) whose status has ``code``, counting absent nodes."""
        return [ni for ni in nodes if self.get(ni.name).code == code]


# ------------------------------------------------------------------ events


class ActionType(enum.IntFlag):
    """What happened to an object (Kubernetes' framework.ActionType)."""

    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATIONS = 512
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1024
    UPDATE_POD_GENERATED_RESOURCE_CLAIM = 2048
    UPDATE_OTHER = 4096  # any other update (kinds without finer update types)
    UPDATE = (
        UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_ANNOTATION
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_POD_TOLERATIONS
        | UPDATE_POD_SCHEDULING_GATES_ELIMINATED
        | UPDATE_POD_GENERATED_RESOURCE_CLAIM
        | UPDATE_OTHER
    )
    ALL = ADD | DELETE | UPDATE


# Resource names used in cluster events (the kind of the object that changed).
POD = "Pod"
ASSIGNED_POD = "AssignedPod"  # a pod bound to a node (its changes free or take node resources)
UNSCHEDULED_POD = "UnschedulablePod"  # the pending pod itself changed
NODE = "Node"
PVC = "PersistentVolumeClaim"
PV = "PersistentVolume"
STORAGE_CLASS = "StorageClass"
CSI_NODE = "CSINode"
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A change in the cluster that may make pending pods schedulable."""

    resource: str
    action: ActionType
    label: str = ""

    def matches(self, other: ClusterEvent) -> bool:
        """Whether this registered event covers ``other`` (an event that happened)."""
        if self.resource == WILDCARD and self.action == ActionType.ALL:
            return True
        resource_ok = self.resource in (WILDCARD, other.resource) or (
            # A registration for "Pod" covers changes of assigned and pending pods alike.
            self.resource == POD and other.resource in (ASSIGNED_POD, UNSCHEDULED_POD)
        )
        return resource_ok and bool(self.action & other.action)


class QueueingHint(enum.IntEnum):
    QUEUE_SKIP = 0
    QUEUE = 1


# (pod that failed, old object or None, new object or None) -> whether the event may help it.
QueueingHintFn = Callable[[Any, Any, Any], QueueingHint]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


# --------------------------------------------------------------- protocols


@runtime_checkable
class Plugin(Protocol):
    name: str


class EnqueueExtensions(Protocol):
    def events_to_register(self) -> list[ClusterEventWithHint]:
        """The events that may make a pod this plugin rejected schedulable again."""
        ...


class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: Pod) -> Status | None:
        """Whether the pod may enter the active queue at all (gates)."""
        ...


class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """Whether ``a`` is scheduled before ``b``."""
        ...


class PreFilterExtensions(Protocol):
    """Incremental updates of a plugin's PreFilter state, used by preemption."""

    def add_pod(
        self, state: CycleState, pod: Pod, pod_info_to_add: PodInfo, node_info: NodeInfo
    ) -> Status | None: ...

    def remove_pod(
        self, state: CycleState, pod: Pod, pod_info_to_remove: PodInfo, node_info: NodeInfo
    ) -> Status | None: ...


class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Per-pod work once per cycle. Skip: this plugin's Filter is not run for this pod.

        Optionally the plugin also has ``pre_filter_extensions() -> PreFilterExtensions | None``.
        """
        ...


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        """Whether the pod fits ``node_info``; called once per candidate node.

        Optionally ``filter_nodes(state, pod, nodes) -> list[Status | None]``
        answers for many nodes at once (same results as ``filter`` per node);
        the scheduler prefers it in its filter loop.
        """
        ...


class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: Pod, filtered_node_status_map: NodeToStatus
    ) -> tuple[str | None, Status | None]:
        """Called when no node fits (preemption). Returns the node to nominate, if any.

        May be ``async def`` (it may evict pods); the framework awaits it.
        A Status whose reasons describe why it failed ends up after
        "preemption:" (or the plugin's own words) in the FailedScheduling message.
        """
        ...


class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> Status | None:
        """Per-pod work before Score over the feasible ``nodes``. Skip: Score is not run."""
        ...


class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        """The node's score, 0..100 unless the plugin normalizes.

        Optionally ``normalize_score(state, pod, nodes, scores) -> Status | None``
        rescales ``scores`` (a list parallel to ``nodes``) in place to 0..100.
        Optionally ``score_nodes(state, pod, nodes) -> (list[int], Status | None)``
        scores all nodes in one call (same results as ``score`` per node); the
        framework prefers it, as it saves a call per node.
        """
        ...


class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: Pod, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: Pod, node_name: str) -> None:
        """Undo ``reserve``; idempotent, called also when reserve was not."""
        ...


class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: Pod, node_name: str) -> tuple[Status | None, float]:
        """Allow (None), reject, or Wait with a timeout in seconds."""
        ...


class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None: ...


class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        """Bind the pod; Skip lets the next bind plugin do it."""
        ...


class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: Pod, node_name: str) -> None: ...


# -------------------------------------------------------------------- handle


class Nominator(Protocol):
    """Pods nominated to nodes by preemption, counted by Filter as if already there."""

    def add_nominated_pod(self, pod_info: PodInfo, node_name: str) -> None: ...

    def delete_nominated_pod_if_exists(self, pod: Pod) -> None: ...

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...


class WaitingPod(Protocol):
    pod: Pod

    def allow(self, plugin: str) -> None: ...

    def reject(self, plugin: str, message: str) -> None: ...


class Handle(Protocol):
    """What plugins get from the framework (Kubernetes' framework.Handle).

    ``client``, ``event_recorder`` and ``informer_factory`` are None in unit
    tests and simulations without an API server. Ask the informer factory
    for the informers you need inside ``new()``: they start with the
    scheduler's.
    """

    client: Any  # kubelite.client.Client | None
    event_recorder: Any  # kubelite.client.EventRecorder | None
    informer_factory: Any  # kubelite.client.SharedInformerFactory | None
    clock: Any  # kubelite.client.Clock
    nominator: Nominator | None
    profile_name: str

    def snapshot_shared_lister(self) -> Snapshot:
        """The node snapshot of the current scheduling cycle (read-only)."""
        ...

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: Pod, node_info: NodeInfo
    ) -> Status | None: ...

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: Pod, pod_info_to_add: PodInfo, node_info: NodeInfo
    ) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: Pod, pod_info_to_remove: PodInfo, node_info: NodeInfo
    ) -> Status | None: ...

    async def evict_pod(self, victim: Pod, preemptor: Pod, node_name: str) -> None:
        """Preempt ``victim``: mark it DisruptionTarget, delete it, record a Preempted event."""
        ...

    async def clear_nominated_node_name(self, pod: Pod) -> None: ...

    def get_waiting_pod(self, uid: str) -> WaitingPod | None: ...

    def iterate_over_waiting_pods(self, fn: Callable[[WaitingPod], None]) -> None: ...


def score_range_error(plugin: str, low: int, high: int) -> Status | None:
    """The Error of a plugin whose normalized scores run from ``low`` to ``high`` when they leave
    [MIN_NODE_SCORE, MAX_NODE_SCORE] (Kubernetes' words); None when they stay inside."""
    if low >= MIN_NODE_SCORE and high <= MAX_NODE_SCORE:
        return None
    bad = high if high > MAX_NODE_SCORE else low
    return Status(
        Code.ERROR,
        [
            f"plugin {plugin!r} returns an invalid score {bad}, it should in the range of "
            f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
        ],
        plugin,
    )
