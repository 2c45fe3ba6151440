"""PodManagerLookup: which container attempt the kubelet API's logs and exec reach."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kubelite.kubelet.lookup import PodManagerLookup
from kubelite.kubelet.runtime.interface import ContainerState, ContainerStatus


def _cs(cid: str, attempt: int, state: ContainerState) -> ContainerStatus:
    return ContainerStatus(cid, "sb", "c", attempt, state, log_path=f"/logs/{attempt}.log")


def _manager(history: list[ContainerStatus], waiting: dict[str, Any] | None = None) -> Any:
    pod = SimpleNamespace(
        metadata=SimpleNamespace(namespace="ns", name="p", uid="u1"),
        spec=SimpleNamespace(containers=[SimpleNamespace(name="c")], hostNetwork=False),
    )
    worker = SimpleNamespace(
        pod=pod,
        waiting=waiting or {},
        final=None,
        sandbox=SimpleNamespace(netns_path="/run/netns/x", created_at=5.0),
        containers=lambda: {"c": list(history)},
    )
    return SimpleNamespace(
        workers={"u1": worker},
        find_pod=lambda ns, name: worker if (ns, name) == ("ns", "p") else None,
    )


def test_running_container_current_and_previous() -> None:
    m = _manager([_cs("b", 1, ContainerState.RUNNING), _cs("a", 0, ContainerState.EXITED)])
    lookup = PodManagerLookup(lambda: m)
    current, previous = lookup.find("ns", "p", "c"), lookup.find("ns", "p", "c", previous=True)
    assert current is not None and current.container_id == "b"
    assert previous is not None and previous.container_id == "a" and previous.log_path == "/logs/0.log"
    assert lookup.default_container("ns", "p") == "c"
    assert lookup.default_container("ns", "other") is None
    pod = lookup.pod("ns", "p")
    assert pod is not None and pod.netns == "/run/netns/x" and set(pod.containers) == {"c"}


def test_container_in_back_off_previous_is_the_attempt_that_just_ended() -> None:
    history = [_cs("b", 1, ContainerState.EXITED), _cs("a", 0, ContainerState.EXITED)]
    lookup = PodManagerLookup(lambda: _manager(history, {"c": ("CrashLoopBackOff", "")}))
    previous = lookup.find("ns", "p", "c", previous=True)
    assert previous is not None and previous.container_id == "b"


def test_no_previous_attempt_and_no_manager() -> None:
    lookup = PodManagerLookup(lambda: _manager([_cs("a", 0, ContainerState.RUNNING)]))
    assert lookup.find("ns", "p", "c", previous=True) is None
    assert lookup.find("ns", "p", "nope") is None
    assert PodManagerLookup(lambda: None).pods() == []
