"""VolumeBinding: a pod's PersistentVolumeClaims must exist, be bound, and
their volumes must be reachable from the node.

PreFilter reads every claim of the pod (``persistentVolumeClaim`` volumes and
generic ephemeral volumes, whose claim is ``<pod>-<volume>``) from the
informer cache: a missing claim, one being deleted, or an unbound claim of
an Immediate storage class makes the pod unschedulable everywhere, with
Kubernetes' reasons. Filter then checks, per node, that the
PersistentVolume of each bound claim exists and that its
``spec.nodeAffinity`` admits the node ("node(s) had volume node affinity
conflict").

Claims that wait for their first consumer (WaitForFirstConsumer) would need
a volume found or provisioned for the chosen node; this build does not bind
or provision, so such a pod stays pending with Kubernetes' "didn't find
available persistent volumes to bind" until something binds the claim.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.api.nodematch import NodeSelectorMatcher
from kubelite.client import lookup
from kubelite.scheduler.interface import (
    NODE,
    PV,
    PVC,
    STORAGE_CLASS,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    PreFilterResult,
    Status,
)
from kubelite.scheduler.nodeinfo import NodeInfo

NAME = "VolumeBinding"

ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"

_STATE_KEY = "PreFilter" + NAME


class _State:
    __slots__ = ("bound_volume_names", "delayed_claims")

    def __init__(self) -> None:
        self.bound_volume_names: list[str] = []  # PV names of the pod's bound claims
        self.delayed_claims: list[str] = []  # unbound WaitForFirstConsumer claims

    def clone(self) -> _State:
        return self  # read-only after PreFilter


def claim_names(pod: Pod) -> list[tuple[str, bool]]:
    """The pod's claim names, each with whether it is a generic ephemeral volume's claim."""
    out: list[tuple[str, bool]] = []
    for vol in pod.spec.volumes:
        if vol.persistentVolumeClaim is not None:
            out.append((vol.persistentVolumeClaim.claimName, False))
        elif vol.ephemeral is not None:
            out.append((f"{pod.metadata.name}-{vol.name}", True))
    return out


class VolumeBinding:
    """The VolumeBinding plugin for bound claims (PreFilter, Filter)."""

    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        self.handle = handle
        self._claims: Any = None
        self._volumes: Any = None
        self._classes: Any = None
        factory = getattr(handle, "informer_factory", None)
        if factory is not None:
            self._claims = factory.informer_for(lookup("", "v1", "PersistentVolumeClaim"))
            self._volumes = factory.informer_for(lookup("", "v1", "PersistentVolume"))
            self._classes = factory.informer_for(lookup("storage.k8s.io", "v1", "StorageClass"))

    def _waits_for_first_consumer(self, claim: Any) -> bool:
        name = claim.spec.storageClassName
        if not name or self._classes is None:
            return False
        sc = self._classes.get(name)
        return sc is not None and sc.volumeBindingMode == "WaitForFirstConsumer"

    def pre_filter(
        self, state: CycleState, pod: Pod, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        names = claim_names(pod)
        if not names:
            return None, Status(Code.SKIP)
        if self._claims is None:
            return None, Status.as_error("no PersistentVolumeClaim informer", NAME)
        s = _State()
        ns = pod.metadata.namespace
        for claim_name, ephemeral in names:
            claim = self._claims.get(f"{ns}/{claim_name}")
            if claim is None:
                return None, Status.unresolvable(
                    f'persistentvolumeclaim "{claim_name}" not found', plugin=NAME
                )
            if claim.metadata.deletionTimestamp:
                return None, Status.unresolvable(
                    f'persistentvolumeclaim "{claim_name}" is being deleted', plugin=NAME
                )
            if ephemeral and not any(
                ref.uid == pod.metadata.uid and ref.controller for ref in claim.metadata.ownerReferences
            ):
                return None, Status.unresolvable(
                    f"PVC {ns}/{claim_name} was not created for pod {ns}/{pod.metadata.name} (pod is not owner)",
                    plugin=NAME,
                )
            if claim.spec.volumeName:
                s.bound_volume_names.append(claim.spec.volumeName)
            elif self._waits_for_first_consumer(claim):
                s.delayed_claims.append(claim_name)
            else:
                return None, Status.unresolvable(ERR_UNBOUND_IMMEDIATE, plugin=NAME)
        state[_STATE_KEY] = s
        return None, None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        s: _State | None = state.get(_STATE_KEY)
        if s is None:
            return None
        node = node_info.node
        if node is None:
            return Status.as_error("node not found", NAME)
        reasons: list[str] = []
        for pv_name in s.bound_volume_names:
            pv = self._volumes.get(pv_name) if self._volumes is not None else None
            if pv is None:
                if ERR_PV_NOT_EXIST not in reasons:
                    reasons.append(ERR_PV_NOT_EXIST)
                continue
            affinity = pv.spec.nodeAffinity
            required = affinity.required if affinity is not None else None
            if required is not None and not NodeSelectorMatcher(required).matches(node):
                if ERR_NODE_CONFLICT not in reasons:
                    reasons.append(ERR_NODE_CONFLICT)
        if s.delayed_claims:
            reasons.append(ERR_BIND_CONFLICT)
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, NAME)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(PVC, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(PV, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
        ]


def new(args: dict[str, Any] | None, handle: Any) -> VolumeBinding:
    return VolumeBinding(args, handle)
