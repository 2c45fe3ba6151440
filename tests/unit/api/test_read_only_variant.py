"""Read-only variants of the models (kubelite.api.model.read_only_variant): they decode the
same objects, absent lists are the shared empty tuple, skipped fields are not decoded."""

from __future__ import annotations

import gc

import msgspec

from kubelite.api import meta
from kubelite.api.core_v1 import Container, Node, Pod, PodSpec
from kubelite.api.model import read_only_variant

POD = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "labels": {"app": "web"},
        "managedFields": [{"manager": "m", "operation": "Update", "fieldsV1": {"f:spec": {"f:x": {}}}}],
    },
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "ports": [{"containerPort": 80}],
                "resources": {"requests": {"cpu": "1"}},
            }
        ],
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "nodeName": "n1",
    },
    "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
}
SKIP = frozenset({"ObjectMeta.managedFields"})


def test_decodes_the_same_fields_into_subclasses() -> None:
    data = msgspec.json.encode(POD)
    plain = msgspec.json.decode(data, type=Pod)
    lean = msgspec.json.decode(data, type=read_only_variant(Pod))
    assert isinstance(lean, Pod) and type(lean) is not Pod
    assert isinstance(lean.spec, PodSpec) and isinstance(lean.spec.containers[0], Container)
    assert isinstance(lean.metadata, meta.ObjectMeta)
    assert msgspec.to_builtins(lean) == msgspec.to_builtins(plain)
    assert msgspec.json.decode(msgspec.json.encode(lean)) == msgspec.json.decode(msgspec.json.encode(plain))
    # Present lists are lists; absent ones the empty tuple, shared and untracked.
    assert lean.spec.tolerations == plain.spec.tolerations and isinstance(lean.spec.tolerations, list)
    assert lean.spec.volumes == () and lean.spec.containers[0].env == ()
    assert lean.spec.volumes is lean.spec.initContainers
    assert not gc.is_tracked(lean.spec.volumes)


def test_skipped_fields_are_not_decoded() -> None:
    lean = msgspec.json.decode(msgspec.json.encode(POD), type=read_only_variant(Pod, SKIP))
    assert lean.metadata.managedFields == ()
    assert lean.metadata.labels == {"app": "web"}
    assert "managedFields" not in msgspec.json.decode(msgspec.json.encode(lean))["metadata"]


def test_replace_keeps_the_variant_and_equality_holds_within_it() -> None:
    variant = read_only_variant(Pod, SKIP)
    data = msgspec.json.encode(POD)
    a, b = msgspec.json.decode(data, type=variant), msgspec.json.decode(data, type=variant)
    assert a == b and a.spec == b.spec
    moved = msgspec.structs.replace(a, spec=msgspec.structs.replace(a.spec, nodeName="n2"))
    assert type(moved) is variant and moved.spec.nodeName == "n2" and moved.spec.volumes == ()


def test_variants_are_built_once_and_cover_nodes() -> None:
    assert read_only_variant(Pod, SKIP) is read_only_variant(Pod, SKIP)
    node = msgspec.json.decode(
        msgspec.json.encode({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4"}}}),
        type=read_only_variant(Node, SKIP),
    )
    assert isinstance(node, Node) and node.spec.taints == () and node.status.conditions == ()
    assert node.status.allocatable == {"cpu": "4"}
