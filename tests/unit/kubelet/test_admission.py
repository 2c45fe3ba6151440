"""The kubelet's admission of pods bound to its node: resources, node affinity, NoExecute taints."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from podworker_fakes import Harness, advance, harness, make_pod, worker

from kubelite.api.core_v1 import Node
from kubelite.kubelet.podmanager import PodManager


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def node(labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> Node:
    return msgspec.convert(
        {"metadata": {"name": "n1", "labels": labels or {}}, "spec": {"taints": taints or []}}, Node
    )


def manager(h: Harness, the_node: Node) -> PodManager:
    h.services.node = lambda: the_node
    return PodManager(h.services, client=None, node_name="n1")  # type: ignore[arg-type]


def container(**resources: dict[str, str]) -> dict[str, object]:
    return {"name": "c", "image": "busybox", "resources": resources}


def test_admission_reasons_and_messages(h: Harness) -> None:
    pm = manager(h, node({"disk": "ssd"}, [{"key": "k", "value": "v", "effect": "NoExecute"}]))
    tolerating = [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]
    ok = make_pod({"nodeSelector": {"disk": "ssd"}, "tolerations": tolerating, "containers": [container()]})
    assert pm.admit(ok) == (True, "", "")
    wrong_node = make_pod(
        {"nodeSelector": {"disk": "hdd"}, "tolerations": tolerating, "containers": [container()]}
    )
    assert pm.admit(wrong_node) == (
        False,
        "NodeAffinity",
        "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
    )
    untolerated = make_pod({"containers": [container()]})
    assert pm.admit(untolerated)[:2] == (False, "TaintToleration")
    big = make_pod({"tolerations": tolerating, "containers": [container(requests={"cpu": "50"})]})
    assert pm.admit(big) == (
        False,
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 50000, used: 0, capacity: 4000",
    )


def test_no_schedule_taints_are_the_schedulers_business(h: Harness) -> None:
    pm = manager(h, node(taints=[{"key": "k", "effect": "NoSchedule"}]))
    assert pm.admit(make_pod({"containers": [container()]}))[0]


async def test_a_rejected_pod_reports_why_and_nothing_else(h: Harness) -> None:
    pm = manager(h, node())
    assert h.services.admit == pm.admit
    w = worker(h, make_pod({"nodeSelector": {"disk": "ssd"}, "containers": [container()]}))
    task = asyncio.create_task(w.run())
    await advance(h.clock, 2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not h.runtime.containers and not h.runtime.sandboxes
    last = h.statuses.last
    assert (last.phase, last.reason) == ("Failed", "NodeAffinity")
    assert last.message.startswith("Pod was rejected: Predicate NodeAffinity failed")
    assert last.containerStatuses == [] and last.initContainerStatuses == []
    [event] = [e for e in h.recorder.events if e[2] == "NodeAffinity"]
    assert event[1] == "Warning" and event[3].startswith("Predicate NodeAffinity failed")  # no prefix
