"""The table of scheduler plugins: NAME -> factory.

In-tree plugins are modules in ``kubelite/scheduler/plugins/`` with ``NAME``
and ``new(args: dict, handle) -> plugin``; they are listed below by module.
Third-party plugins register under the ``kubelite.scheduler.plugins``
entry-point group: the entry point's name is the plugin name and it loads
either such a module or the factory itself.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from kubelite.scheduler.framework import PluginFactory

log = logging.getLogger("kubelite.scheduler.registry")

ENTRY_POINT_GROUP = "kubelite.scheduler.plugins"

# Plugin name -> module under kubelite.scheduler.plugins.
IN_TREE: dict[str, str] = {
    "PrioritySort": "queuesort",
    "SchedulingGates": "schedulinggates",
    "NodeName": "nodename",
    "NodeUnschedulable": "nodeunschedulable",
    "NodeResourcesFit": "noderesources",
    "NodeResourcesBalancedAllocation": "balancedallocation",
    "NodeAffinity": "nodeaffinity",
    "TaintToleration": "tainttoleration",
    "NodePorts": "nodeports",
    "ImageLocality": "imagelocality",
    "DefaultBinder": "defaultbinder",
    "InterPodAffinity": "interpodaffinity",
    "PodTopologySpread": "podtopologyspread",
    "VolumeBinding": "volumebinding",
    "DefaultPreemption": "defaultpreemption",
}


def _factory(obj: Any) -> PluginFactory:
    if isinstance(obj, ModuleType):
        factory: PluginFactory = obj.new
        return factory
    return obj  # type: ignore[no-any-return]


def in_tree_registry() -> dict[str, PluginFactory]:
    """The in-tree plugins present in this build (modules still missing are left out)."""
    registry: dict[str, PluginFactory] = {}
    for name, module in IN_TREE.items():
        full = f"kubelite.scheduler.plugins.{module}"
        try:
            mod = importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name != full:
                raise
            continue
        registry[getattr(mod, "NAME", name)] = _factory(mod)
    return registry


def new_registry(include_entry_points: bool = True) -> dict[str, PluginFactory]:
    """In-tree plugins plus those published under the entry-point group."""
    registry = in_tree_registry()
    if include_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in registry:
                log.warning("scheduler plugin %s from %s shadows a built-in one; ignored", ep.name, ep.value)
                continue
            try:
                registry[ep.name] = _factory(ep.load())
            except Exception:
                log.exception("could not load scheduler plugin %s (%s)", ep.name, ep.value)
    return registry
