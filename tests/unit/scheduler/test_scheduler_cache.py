"""The scheduler cache: assume/confirm/forget/expire and incremental snapshots."""

from __future__ import annotations

import random

import msgspec

from kubelite.api.core_v1 import Affinity, Node, Pod
from kubelite.client.clock import FakeClock
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.nodeinfo import Snapshot


def node(name: str) -> Node:
    return msgspec.convert(
        {"metadata": {"name": name}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10"}}},
        Node,
    )


def pod(name: str, node_name: str, cpu: str = "1") -> Pod:
    return msgspec.convert(
        {
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {
                "nodeName": node_name,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
            },
        },
        Pod,
    )


def test_assume_confirm_forget() -> None:
    cache = Cache(FakeClock())
    cache.add_node(node("n1"))
    p = pod("p", "n1")
    cache.assume_pod(p)
    assert cache.is_assumed(p) and cache.nodes["n1"].requested.milli_cpu == 1000
    cache.add_pod(p)  # the informer saw the binding
    assert not cache.is_assumed(p) and cache.nodes["n1"].requested.milli_cpu == 1000
    q = pod("q", "n1")
    cache.assume_pod(q)
    cache.forget_pod(q)
    assert cache.nodes["n1"].requested.milli_cpu == 1000 and len(cache.nodes["n1"].pods) == 1
    cache.remove_pod(p)
    assert cache.nodes["n1"].requested.milli_cpu == 0


def test_assumed_pods_expire_after_binding() -> None:
    clock = FakeClock()
    cache = Cache(clock, ttl=30)
    cache.add_node(node("n1"))
    p = pod("p", "n1")
    cache.assume_pod(p)
    clock.advance(100)
    assert cache.cleanup_expired_assumed_pods() == []  # binding not finished: never expires
    cache.finish_binding(p)
    clock.advance(29)
    assert cache.cleanup_expired_assumed_pods() == []
    clock.advance(2)
    assert [x.metadata.name for x in cache.cleanup_expired_assumed_pods()] == ["p"]
    assert not cache.nodes["n1"].pods


def test_snapshot_copies_only_changed_nodes() -> None:
    cache = Cache()
    for i in range(5):
        cache.add_node(node(f"n{i}"))
    snap = Snapshot()
    cache.update_snapshot(snap)
    assert [ni.name for ni in snap.list()] == [f"n{i}" for i in range(5)]
    before = {ni.name: ni for ni in snap.list()}
    cache.add_pod(pod("p", "n2"))
    cache.update_snapshot(snap)
    after = {ni.name: ni for ni in snap.list()}
    assert [n for n in after if after[n] is not before[n]] == ["n2"]
    assert snap.get("n2").requested.milli_cpu == 1000
    # The snapshot is a copy: later cache changes don't leak into it until the next update.
    cache.add_pod(pod("q", "n2"))
    assert snap.get("n2").requested.milli_cpu == 1000
    cache.remove_node(node("n4"))
    cache.update_snapshot(snap)
    assert [ni.name for ni in snap.list()] == ["n0", "n1", "n2", "n3"]
    assert snap.get("n2").requested.milli_cpu == 2000


def test_snapshot_affinity_lists() -> None:
    cache = Cache()
    cache.add_node(node("n1"))
    cache.add_node(node("n2"))
    snap = Snapshot()
    cache.update_snapshot(snap)
    assert snap.have_pods_with_affinity_list() == []
    p = pod("a", "n1")
    p.spec.affinity = msgspec.convert(
        {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        Affinity,
    )
    cache.add_pod(p)
    cache.update_snapshot(snap)
    assert [ni.name for ni in snap.have_pods_with_required_anti_affinity_list()] == ["n1"]
    assert snap.have_pods_with_affinity_list()[0] is snap.get("n1")


def test_confirming_an_assumed_pod_keeps_its_pod_info() -> None:
    cache = Cache(FakeClock())
    cache.add_node(node("n1"))
    p = pod("p", "n1")
    cache.assume_pod(p)
    pi = cache.nodes["n1"].pods[0]
    generation = cache.nodes["n1"].generation
    bound = msgspec.json.decode(msgspec.json.encode(p), type=Pod)  # as the informer decodes it
    bound.status.phase = "Pending"
    cache.add_pod(bound)
    assert not cache.is_assumed(bound)
    assert cache.nodes["n1"].pods == [pi] and pi.pod is bound
    assert cache.nodes["n1"].generation == generation  # nothing the plugins count changed
    labelled = msgspec.structs.replace(
        bound, metadata=msgspec.structs.replace(bound.metadata, labels={"app": "x"})
    )
    cache.update_pod(bound, labelled)
    assert cache.nodes["n1"].generation > generation
    assert cache.nodes["n1"].pods[0].pod is labelled
    bigger = pod("p", "n1", cpu="2")
    cache.update_pod(labelled, bigger)
    assert cache.nodes["n1"].requested.milli_cpu == 2000 and len(cache.nodes["n1"].pods) == 1


def test_snapshot_kept_in_place_matches_a_fresh_one() -> None:
    """Affinity lists and the change log of an incrementally updated snapshot, under random churn."""
    rng = random.Random(5)
    cache = Cache(FakeClock())
    snap = Snapshot()
    names = [f"n{i}" for i in range(12)]
    live: dict[str, Pod] = {}
    for name in names[:8]:
        cache.add_node(node(name))
    cache.update_snapshot(snap)
    anti = msgspec.convert(
        {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        Affinity,
    )
    for step in range(400):
        before = snap.generation
        structural = False
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.5:
                p = pod(f"p{step}-{r}", rng.choice(names[:8]), cpu="10m")
                if rng.random() < 0.5:
                    p.spec.affinity = anti
                cache.add_pod(p)
                live[p.metadata.name] = p
            elif r < 0.85 and live:
                cache.remove_pod(live.pop(rng.choice(sorted(live))))
            elif r < 0.95:
                cache.add_node(node(rng.choice(names[8:])))
                structural = True
            else:
                name = rng.choice(names[8:])
                cache.remove_node(node(name))
                structural = True
        cache.update_snapshot(snap)
        fresh = Snapshot(list(snap.infos))
        assert [ni.name for ni in snap.infos] == [ni.name for ni in fresh.infos]
        assert {ni.name: ni for ni in snap.have_pods_with_affinity_list()} == {
            ni.name: ni for ni in fresh.have_pods_with_affinity_list()
        }
        assert {ni.name: ni for ni in snap.have_pods_with_required_anti_affinity_list()} == {
            ni.name: ni for ni in fresh.have_pods_with_required_anti_affinity_list()
        }
        changed = snap.changed_since(before)
        if changed is not None:
            assert {ni.name: ni for ni in changed} == {
                ni.name: ni for ni in snap.infos if ni.generation > before
            }
        else:
            assert structural


def test_expiry_skips_pods_confirmed_or_assumed_again() -> None:
    clock = FakeClock()
    cache = Cache(clock, ttl=30)
    cache.add_node(node("n1"))
    confirmed, again = pod("confirmed", "n1"), pod("again", "n1")
    for p in (confirmed, again):
        cache.assume_pod(p)
        cache.finish_binding(p)
    cache.add_pod(confirmed)
    cache.forget_pod(again)
    clock.advance(20)
    cache.assume_pod(again)
    cache.finish_binding(again)  # a new deadline, 50s from the start
    clock.advance(11)
    assert cache.cleanup_expired_assumed_pods() == []
    assert cache.is_assumed(again) and not cache.is_assumed(confirmed)
    clock.advance(20)
    assert [p.metadata.name for p in cache.cleanup_expired_assumed_pods()] == ["again"]
    assert [pi.pod.metadata.name for pi in cache.nodes["n1"].pods] == ["confirmed"]
