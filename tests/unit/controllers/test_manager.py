"""Choosing controllers (``--controllers`` as kube-controller-manager) and what the manager runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelite.controllers import manager
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.manager import ControllerManager, available, select

NAMES = ["replicaset", "deployment", "statefulset"]


def test_select_star_and_exclusions() -> None:
    assert select("*", NAMES) == NAMES
    assert select("*,-statefulset", NAMES) == ["replicaset", "deployment"]
    assert select("-statefulset,*", NAMES) == ["replicaset", "deployment"]  # "-x" wins wherever it stands
    assert select("replicaset", NAMES) == ["replicaset"]
    assert select(["statefulset", "replicaset"], NAMES) == ["replicaset", "statefulset"]  # in known order
    assert select("", NAMES) == []
    assert select("*, -replicaset ,", NAMES) == ["deployment", "statefulset"]


def test_select_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown controller 'replicaste'"):
        select("replicaste", NAMES)
    with pytest.raises(ValueError, match="unknown controller 'nope'"):
        select("*,-nope", NAMES)
    # Known elsewhere (a built-in this build lacks): accepted, never on.
    assert select("*,podgc,-hpa", NAMES, also_known=["podgc", "hpa"]) == NAMES


def test_select_honours_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager, "OFF_BY_DEFAULT", frozenset({"statefulset"}))
    assert select("*", NAMES) == ["replicaset", "deployment"]
    assert select("*,statefulset", NAMES) == NAMES


def test_builtins_are_available() -> None:
    found = available()
    assert {"replicaset", "replicationcontroller"} <= set(found)
    assert found["replicationcontroller"].NAME == "replicationcontroller"  # type: ignore[attr-defined]


def test_a_broken_builtin_module_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(manager.BUILTIN, "broken", "no_such_module_here:Broken")
    monkeypatch.setitem(manager.BUILTIN, "replicaset", "replicaset:ReplicaSetController")
    found = available()
    assert "broken" not in found and "replicaset" in found
    cm = ControllerManager(client=None, controllers="*,-broken", leader_elect=False)  # type: ignore[arg-type]
    assert "broken" not in cm.names and "replicaset" in cm.names


class Recording(Controller):
    NAME = "recording"
    started: list[str] = []

    async def sync(self, key: str) -> None:
        pass

    async def run(self) -> None:
        Recording.started.append(self.NAME)
        await super().run()


async def test_manager_runs_the_chosen_controllers(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_available() -> dict[str, Any]:
        return {"recording": Recording, "other": Recording}

    monkeypatch.setattr(manager, "available", fake_available)

    class FakeClient:
        registry = None

        def resource(self, res: Any, raw: bool = False) -> Any:
            return None

    import kubelite.client.events as events

    def fake_recorder(client: Any, component: str, **kw: Any) -> Any:
        class R:
            async def run(self) -> None:
                await asyncio.Event().wait()

        return R()

    monkeypatch.setattr(manager, "EventRecorder", fake_recorder)
    assert events  # the real recorder is not needed here
    cm = ControllerManager(FakeClient(), "*,-other", leader_elect=False)  # type: ignore[arg-type]
    assert cm.names == ["recording"]
    Recording.started = []
    task = asyncio.create_task(cm.run())
    try:
        await asyncio.wait_for(cm.started.wait(), 5)
        assert Recording.started == ["recording"]
        assert [type(c) for c in cm.controllers] == [Recording]
        assert isinstance(cm.controllers[0].ctx, ControllerContext)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not cm.started.is_set()
