"""The scheduler's configuration: a KubeSchedulerConfiguration-like YAML file.

``apiVersion: kubescheduler.config.k8s.io/v1``, ``kind:
KubeSchedulerConfiguration``, with ``profiles`` (each a ``schedulerName``,
``plugins`` per extension point with ``enabled``/``disabled`` lists — ``"*"``
disables every default — and ``multiPoint``, and ``pluginConfig`` args),
``percentageOfNodesToScore``, ``podInitialBackoffSeconds``,
``podMaxBackoffSeconds`` and ``leaderElection``. As in Kubernetes, a
profile's plugins are merged with the default ones: defaults stay unless
disabled, a default re-enabled with a weight keeps its place, new plugins
come after.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

MULTI_POINT = "multiPoint"
EXTENSION_POINTS = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)


class ConfigError(ValueError):
    """The configuration file is not a valid scheduler configuration."""


@dataclass
class PluginRef:
    name: str
    weight: int = 0


@dataclass
class PluginSet:
    enabled: list[PluginRef] = field(default_factory=list)
    disabled: list[PluginRef] = field(default_factory=list)


@dataclass
class Profile:
    """One scheduler profile: its name, plugins per extension point and plugin args."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: dict[str, PluginSet] = field(default_factory=dict)  # extension point (or multiPoint) -> set
    plugin_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None


@dataclass
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"


@dataclass
class SchedulerConfiguration:
    profiles: list[Profile] = field(default_factory=list)
    percentage_of_nodes_to_score: int | None = None  # None or 0: adaptive
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    pod_max_in_unschedulable_pods_duration: float = 300.0
    leader_election: LeaderElection = field(default_factory=LeaderElection)

    def profile(self, scheduler_name: str) -> Profile | None:
        for p in self.profiles:
            if p.scheduler_name == scheduler_name:
                return p
        return None


# The default plugins, in Kubernetes' order, with their score weights. Plugins
# this build does not have are left out when the framework is built.
DEFAULT_MULTI_POINT: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)


def default_plugins() -> dict[str, PluginSet]:
    return {MULTI_POINT: PluginSet(enabled=[PluginRef(n, w) for n, w in DEFAULT_MULTI_POINT])}


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> Profile:
    return Profile(scheduler_name=scheduler_name, plugins=merge_with_defaults({}))


def default_configuration() -> SchedulerConfiguration:
    return SchedulerConfiguration(profiles=[default_profile()])


def merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """Kubernetes' merge of a profile's plugin set over the defaults."""
    disabled = {p.name for p in custom.disabled}
    custom_by_name = {p.name: p for p in custom.enabled}
    replaced: set[str] = set()
    enabled: list[PluginRef] = []
    if "*" not in disabled:
        for p in default.enabled:
            if p.name in disabled:
                continue
            if p.name in custom_by_name:
                enabled.append(copy.copy(custom_by_name[p.name]))
                replaced.add(p.name)
            else:
                enabled.append(copy.copy(p))
    enabled += [copy.copy(p) for p in custom.enabled if p.name not in replaced]
    return PluginSet(enabled=enabled, disabled=list(custom.disabled))


def merge_with_defaults(custom: dict[str, PluginSet]) -> dict[str, PluginSet]:
    defaults = default_plugins()
    merged: dict[str, PluginSet] = {}
    for point in (MULTI_POINT, *EXTENSION_POINTS):
        d = defaults.get(point, PluginSet())
        c = custom.get(point, PluginSet())
        merged[point] = merge_plugin_set(d, c)
    return merged


# ------------------------------------------------------------------ parsing


def _plugin_refs(data: Any, where: str) -> list[PluginRef]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{where} must be a list")
    refs = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"{where}[{i}].name: Required value")
        weight = item.get("weight") or 0
        if not isinstance(weight, int) or weight < 0 or weight > 100:
            raise ConfigError(f"{where}[{i}].weight: Invalid value: {weight}: must be in the range [0, 100]")
        refs.append(PluginRef(str(item["name"]), weight))
    return refs


def _profile(data: Any, i: int) -> Profile:
    where = f"profiles[{i}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object")
    plugins: dict[str, PluginSet] = {}
    raw_plugins = data.get("plugins") or {}
    if not isinstance(raw_plugins, dict):
        raise ConfigError(f"{where}.plugins must be an object")
    for point, raw in raw_plugins.items():
        if point not in (MULTI_POINT, *EXTENSION_POINTS):
            raise ConfigError(f'{where}.plugins: unknown extension point "{point}"')
        raw = raw or {}
        plugins[point] = PluginSet(
            _plugin_refs(raw.get("enabled"), f"{where}.plugins.{point}.enabled"),
            _plugin_refs(raw.get("disabled"), f"{where}.plugins.{point}.disabled"),
        )
    plugin_config: dict[str, dict[str, Any]] = {}
    for j, pc in enumerate(data.get("pluginConfig") or []):
        if not isinstance(pc, dict) or not pc.get("name"):
            raise ConfigError(f"{where}.pluginConfig[{j}].name: Required value")
        if pc["name"] in plugin_config:
            raise ConfigError(f'{where}.pluginConfig[{j}]: Duplicate value: "{pc["name"]}"')
        args = pc.get("args") or {}
        if not isinstance(args, dict):
            raise ConfigError(f"{where}.pluginConfig[{j}].args must be an object")
        plugin_config[str(pc["name"])] = args
    pct = data.get("percentageOfNodesToScore")
    _check_percentage(pct, f"{where}.percentageOfNodesToScore")
    return Profile(
        scheduler_name=str(data.get("schedulerName") or DEFAULT_SCHEDULER_NAME),
        plugins=merge_with_defaults(plugins),
        plugin_config=plugin_config,
        percentage_of_nodes_to_score=pct,
    )


def _check_percentage(value: Any, where: str) -> None:
    if value is not None and (not isinstance(value, int) or value < 0 or value > 100):
        raise ConfigError(f"{where}: Invalid value: {value}: not in valid range [0-100]")


def _seconds(text: Any) -> float:
    """A Go duration ("15s", "1m30s", "100ms") or a number of seconds."""
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip()
    total, num = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    i = 0
    while i < len(s):
        ch = s[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = s[i : i + 2] if s[i : i + 2] in units else ch
        if unit not in units or not num:
            raise ConfigError(f"invalid duration {text!r}")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise ConfigError(f"invalid duration {text!r}: missing unit")
    return total


def parse_configuration(data: Any) -> SchedulerConfiguration:
    """A configuration from decoded YAML/JSON; ConfigError says what is wrong."""
    if data is None:
        return default_configuration()
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be an object")
    api_version = data.get("apiVersion", API_VERSION)
    if api_version not in (API_VERSION, "kubescheduler.config.k8s.io/v1beta3"):
        raise ConfigError(f'no kind "{data.get("kind", KIND)}" is registered for version "{api_version}"')
    if data.get("kind", KIND) != KIND:
        raise ConfigError(f'no kind "{data.get("kind")}" is registered for version "{api_version}"')
    cfg = SchedulerConfiguration()
    pct = data.get("percentageOfNodesToScore")
    _check_percentage(pct, "percentageOfNodesToScore")
    cfg.percentage_of_nodes_to_score = pct
    if data.get("podInitialBackoffSeconds") is not None:
        cfg.pod_initial_backoff_seconds = float(data["podInitialBackoffSeconds"])
    if data.get("podMaxBackoffSeconds") is not None:
        cfg.pod_max_backoff_seconds = float(data["podMaxBackoffSeconds"])
    if cfg.pod_max_backoff_seconds < cfg.pod_initial_backoff_seconds:
        raise ConfigError("podMaxBackoffSeconds must be greater than or equal to podInitialBackoffSeconds")
    le = data.get("leaderElection") or {}
    if le:
        cfg.leader_election = LeaderElection(
            leader_elect=bool(le.get("leaderElect", True)),
            lease_duration=_seconds(le.get("leaseDuration", "15s")),
            renew_deadline=_seconds(le.get("renewDeadline", "10s")),
            retry_period=_seconds(le.get("retryPeriod", "2s")),
            resource_name=str(le.get("resourceName") or "kube-scheduler"),
            resource_namespace=str(le.get("resourceNamespace") or "kube-system"),
        )
    raw_profiles = data.get("profiles")
    if not raw_profiles:
        cfg.profiles = [default_profile()]
    else:
        cfg.profiles = [_profile(p, i) for i, p in enumerate(raw_profiles)]
    names = [p.scheduler_name for p in cfg.profiles]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f'profiles[{i}].schedulerName: Duplicate value: "{name}"')
    return cfg


def load_configuration(path: str) -> SchedulerConfiguration:
    """Read and parse a configuration file (blocking: call at start-up)."""
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: {e}") from None
    return parse_configuration(data)
