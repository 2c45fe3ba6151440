"""VolumeBinding for bound claims: missing, deleted and unbound claims, PV node
affinity per node, missing PVs, ephemeral volumes' claims, WaitForFirstConsumer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec

from kubelite.api.core_v1 import Node, PersistentVolume, PersistentVolumeClaim, Pod
from kubelite.api.storage_v1 import StorageClass
from kubelite.scheduler.interface import Code, CycleState
from kubelite.scheduler.nodeinfo import NodeInfo
from kubelite.scheduler.plugins import volumebinding as vb


class FakeInformer:
    def __init__(self, objs: list[Any]) -> None:
        self.objs = {
            f"{o.metadata.namespace}/{o.metadata.name}" if o.metadata.namespace else o.metadata.name: o
            for o in objs
        }

    def get(self, key: str) -> Any:
        return self.objs.get(key)


class FakeFactory:
    def __init__(self, **by_kind: list[Any]) -> None:
        self.by_kind = by_kind

    def informer_for(self, res: Any, *args: Any, **kw: Any) -> FakeInformer:
        return FakeInformer(self.by_kind.get(res.kind, []))


def pvc(
    name: str, volume: str = "", sc: str | None = None, deleting: bool = False, owner: str = ""
) -> PersistentVolumeClaim:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": owner, "controller": True}
        ]
    return msgspec.convert(
        {"metadata": meta, "spec": {"volumeName": volume, "storageClassName": sc}}, PersistentVolumeClaim
    )


def pv(name: str, zone: str | None = None, host: str | None = None) -> PersistentVolume:
    spec: dict[str, Any] = {}
    terms = []
    if zone is not None:
        terms.append({"matchExpressions": [{"key": "zone", "operator": "In", "values": [zone]}]})
    if host is not None:
        terms.append({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [host]}]})
    if terms:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": terms}}
    return msgspec.convert({"metadata": {"name": name}, "spec": spec}, PersistentVolume)


def pod(*claims: str, ephemeral: str = "") -> Pod:
    volumes: list[dict[str, Any]] = [
        {"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)
    ]
    if ephemeral:
        volumes.append({"name": ephemeral, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}})
    return msgspec.convert(
        {
            "metadata": {"name": "p", "namespace": "default", "uid": "pod-uid"},
            "spec": {"volumes": volumes, "containers": [{"name": "c"}]},
        },
        Pod,
    )


def node(name: str, zone: str) -> NodeInfo:
    return NodeInfo(msgspec.convert({"metadata": {"name": name, "labels": {"zone": zone}}}, Node))


NODES = [node("n1", "z1"), node("n2", "z2")]


def run(incoming: Pod, claims: list[Any], volumes: list[Any], classes: list[Any] | None = None) -> Any:
    handle = SimpleNamespace(
        informer_factory=FakeFactory(
            PersistentVolumeClaim=claims, PersistentVolume=volumes, StorageClass=classes or []
        )
    )
    plugin = vb.new({}, handle)
    state = CycleState()
    _, status = plugin.pre_filter(state, incoming, NODES)
    if status is not None:
        return (status.code, status.message())
    out = {}
    for ni in NODES:
        st = plugin.filter(state, incoming, ni)
        out[ni.name] = None if st is None else (st.code, st.message())
    return out


UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_pod_without_claims_skips() -> None:
    assert run(pod(), [], []) == (Code.SKIP, "")


def test_missing_and_deleted_claims() -> None:
    assert run(pod("data"), [], []) == (UNRESOLVABLE, 'persistentvolumeclaim "data" not found')
    assert run(pod("data"), [pvc("data", "pv1", deleting=True)], [pv("pv1")]) == (
        UNRESOLVABLE,
        'persistentvolumeclaim "data" is being deleted',
    )


def test_unbound_immediate_claim() -> None:
    assert run(pod("data"), [pvc("data")], []) == (UNRESOLVABLE, vb.ERR_UNBOUND_IMMEDIATE)


def test_bound_claim_volume_node_affinity() -> None:
    assert run(pod("data"), [pvc("data", "pv1")], [pv("pv1", zone="z2")]) == {
        "n1": (UNRESOLVABLE, vb.ERR_NODE_CONFLICT),
        "n2": None,
    }
    assert run(pod("data"), [pvc("data", "pv1")], [pv("pv1")]) == {"n1": None, "n2": None}
    # matchFields on the node name; terms are ORed.
    assert run(pod("data"), [pvc("data", "pv1")], [pv("pv1", zone="z9", host="n1")]) == {
        "n1": None,
        "n2": (UNRESOLVABLE, vb.ERR_NODE_CONFLICT),
    }


def test_every_claim_must_fit() -> None:
    claims = [pvc("a", "pv-a"), pvc("b", "pv-b")]
    volumes = [pv("pv-a", zone="z1"), pv("pv-b", zone="z2")]
    assert run(pod("a", "b"), claims, volumes) == {
        "n1": (UNRESOLVABLE, vb.ERR_NODE_CONFLICT),
        "n2": (UNRESOLVABLE, vb.ERR_NODE_CONFLICT),
    }


def test_claim_bound_to_a_missing_volume() -> None:
    assert run(pod("data"), [pvc("data", "gone")], []) == {
        "n1": (UNRESOLVABLE, vb.ERR_PV_NOT_EXIST),
        "n2": (UNRESOLVABLE, vb.ERR_PV_NOT_EXIST),
    }


def test_ephemeral_volume_claim_must_belong_to_the_pod() -> None:
    incoming = pod(ephemeral="scratch")
    assert run(incoming, [], []) == (UNRESOLVABLE, 'persistentvolumeclaim "p-scratch" not found')
    stranger = pvc("p-scratch", "pv1", owner="someone-else")
    assert run(incoming, [stranger], [pv("pv1")])[1].endswith("(pod is not owner)")
    mine = pvc("p-scratch", "pv1", owner="pod-uid")
    assert run(incoming, [mine], [pv("pv1", zone="z1")]) == {
        "n1": None,
        "n2": (UNRESOLVABLE, vb.ERR_NODE_CONFLICT),
    }


def test_wait_for_first_consumer_claims_are_not_bound_here() -> None:
    sc = msgspec.convert(
        {
            "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        StorageClass,
    )
    got = run(pod("data"), [pvc("data", sc="local")], [], [sc])
    assert got == {"n1": (UNRESOLVABLE, vb.ERR_BIND_CONFLICT), "n2": (UNRESOLVABLE, vb.ERR_BIND_CONFLICT)}
