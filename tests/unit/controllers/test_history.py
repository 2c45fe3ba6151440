"""ControllerRevision helpers: hashing and naming, equality, ordering, truncation."""

from __future__ import annotations

from kubelite.api import apps_v1, meta
from kubelite.controllers import history
from kubelite.controllers.base import controller_ref

DATA = {
    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}, "$patch": "replace"}}
}


def _parent(name: str = "web", uid: str = "uid-1") -> apps_v1.StatefulSet:
    return apps_v1.StatefulSet(metadata=meta.ObjectMeta(name=name, namespace="ns", uid=uid))


def _rev(name: str, number: int, data: object = None, created: str = "") -> apps_v1.ControllerRevision:
    return apps_v1.ControllerRevision(
        metadata=meta.ObjectMeta(name=name, creationTimestamp=created or None),
        revision=number,
        data=DATA if data is None else data,
    )


def test_hash_is_stable_safe_and_depends_on_data_and_collision_count() -> None:
    h = history.hash_revision(DATA, 0)
    assert h == history.hash_revision(dict(reversed(list(DATA.items()))), 0)  # key order does not matter
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert h != history.hash_revision(DATA, 1)
    assert h != history.hash_revision({"spec": {"template": {"$patch": "replace"}}}, 0)


def test_fnv32_matches_go_fnv_new32() -> None:
    # Go: fnv.New32() over "hello" sums to 0xb6fa7167 (FNV-1, not FNV-1a).
    assert history._fnv32(b"hello") == 0xB6FA7167
    assert history._fnv32(b"") == 0x811C9DC5


def test_revision_name_cuts_long_prefixes() -> None:
    assert history.revision_name("web", "abc") == "web-abc"
    long = "x" * 300
    assert history.revision_name(long, "abc") == "x" * 223 + "-abc"


def test_new_revision_carries_labels_hash_and_controller_ref() -> None:
    rev = history.new_revision(_parent(), "apps/v1", "StatefulSet", {"app": "web"}, DATA, 3, 0)
    h = history.hash_revision(DATA, 0)
    assert rev.metadata.name == f"web-{h}"
    assert rev.metadata.namespace == "ns"
    assert rev.metadata.labels == {"app": "web", history.HASH_LABEL: h}
    assert rev.revision == 3
    assert rev.data == DATA and rev.data is not DATA
    [ref] = rev.metadata.ownerReferences
    assert (ref.kind, ref.name, ref.uid, ref.controller, ref.blockOwnerDeletion) == (
        "StatefulSet",
        "web",
        "uid-1",
        True,
        True,
    )


def test_equality_is_by_data() -> None:
    a = _rev("a", 1)
    b = _rev("b", 2)
    b.metadata.labels[history.HASH_LABEL] = "different"
    assert history.equal_revision(a, b)
    assert not history.equal_revision(a, _rev("c", 1, data={"other": 1}))
    assert history.equal_revision(None, None)
    assert not history.equal_revision(a, None)
    assert [r.metadata.name for r in history.find_equal_revisions([a, _rev("c", 1, {"x": 1}), b], a)] == [
        "a",
        "b",
    ]


def test_sorting_and_next_number() -> None:
    revs = [
        _rev("c", 2),
        _rev("b", 1, created="2024-01-02T00:00:00Z"),
        _rev("a", 1, created="2024-01-02T00:00:00Z"),
        _rev("z", 1, created="2024-01-01T00:00:00Z"),
    ]
    assert [r.metadata.name for r in history.sort_revisions(revs)] == ["z", "a", "b", "c"]
    assert history.next_revision_number(revs) == 3
    assert history.next_revision_number([]) == 1


def test_truncation_keeps_live_revisions_and_the_newest_history() -> None:
    revs = [_rev(f"r{i}", i) for i in range(1, 7)]
    live = {"r2", "r6"}
    assert [r.metadata.name for r in history.revisions_to_truncate(revs, live, 2)] == ["r1", "r3"]
    assert history.revisions_to_truncate(revs, live, 10) == []
    assert [r.metadata.name for r in history.revisions_to_truncate(revs, live, 0)] == ["r1", "r3", "r4", "r5"]
    assert history.revisions_to_truncate(revs, live, None) == []
    assert history.revisions_to_truncate(revs, live, -1) == []


def test_controller_ref() -> None:
    rev = _rev("a", 1)
    assert controller_ref(rev) is None
    rev.metadata.ownerReferences = [
        meta.OwnerReference(kind="X", name="x", uid="1"),
        meta.OwnerReference(kind="StatefulSet", name="web", uid="2", controller=True),
    ]
    ref = controller_ref(rev)
    assert ref is not None and ref.uid == "2"
