"""Cost of managedFields bookkeeping on the API server's write path.

Times :func:`kubelite.api.managedfields.update_managed_fields` as
``REST._track_fields`` calls it, on defaulted objects as the API server holds
them (``msgspec.to_builtins`` of the typed object): a create and a few
typical updates (labels added, replicas or status changed, an image rolled)
of a ConfigMap, a Deployment and a Pod. Prints per-call microseconds (best
of several timeit repeats) for each case.

Ends with ``RESULT name=managed_fields_create_configmap value=<µs>
unit=us reference=<µs of msgspec.to_builtins of the same ConfigMap>
ratio=<value/reference>``: the reference is the encoding the API server does
anyway before calling it.

    .venv/bin/python bench/managed_fields.py [--number 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import copy
import timeit
from collections.abc import Callable
from typing import Any

import msgspec

from kubelite.api import apps_v1, core_v1, meta
from kubelite.api.defaults import apply_defaults
from kubelite.api.managedfields import update_managed_fields

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"


def config_map() -> core_v1.ConfigMap:
    """The ConfigMap bench/api_throughput.py creates, as stored."""
    return msgspec.convert(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "cm-000042",
                "namespace": "bench",
                "uid": "6f1c2f4e-3b0a-4c55-9d0e-6a9a3e1f0b42",
                "creationTimestamp": T0,
                "labels": {"app": "bench", "shard": "s10"},
            },
            "data": {
                "app.properties": "mode=fast\nretries=3\ntimeout=30s\nregion=eu-west-1\n",
                "endpoint": "https://backend-000042.example.internal:8443/v1",
                "feature-flags": "alpha=false,beta=true,gamma=false,delta=true",
                "owner": "team-platform@example.com",
            },
        },
        core_v1.ConfigMap,
    )


def _pod_spec() -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
                "env": [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5},
            },
            {"name": "sidecar", "image": "busybox:1.36", "command": ["sh", "-c", "sleep infinity"]},
        ],
        "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
        "nodeSelector": {"disk": "ssd"},
    }


def deployment() -> apps_v1.Deployment:
    obj = msgspec.convert(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "uid": "0b6c1c2e-1d7e-4f7a-8d8e-1b2f3c4d5e6f",
                "creationTimestamp": T0,
                "generation": 1,
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"team": "platform"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": _pod_spec()},
            },
        },
        apps_v1.Deployment,
    )
    apply_defaults(obj)
    return obj


def pod() -> core_v1.Pod:
    obj = msgspec.convert(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-7d9f8b6c5-x2k4p",
                "namespace": "default",
                "uid": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                "creationTimestamp": T0,
                "labels": {"app": "web", "tier": "front", "pod-template-hash": "7d9f8b6c5"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web-7d9f8b6c5",
                        "uid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": _pod_spec(),
        },
        core_v1.Pod,
    )
    apply_defaults(obj)
    return obj


def _status_running(p: core_v1.Pod) -> None:
    p.status = msgspec.convert(
        {
            "phase": "Running",
            "hostIP": "10.0.0.5",
            "podIP": "10.42.0.17",
            "podIPs": [{"ip": "10.42.0.17"}],
            "startTime": T1,
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": T1},
                {"type": "Ready", "status": "True", "lastTransitionTime": T1},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": T1},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0},
            ],
            "containerStatuses": [
                {
                    "name": "web",
                    "ready": True,
                    "restartCount": 0,
                    "image": "nginx:1.25",
                    "imageID": "sha256:abc",
                    "containerID": "runc://1",
                    "started": True,
                    "state": {"running": {"startedAt": T1}},
                },
                {
                    "name": "sidecar",
                    "ready": True,
                    "restartCount": 0,
                    "image": "busybox:1.36",
                    "imageID": "sha256:def",
                    "containerID": "runc://2",
                    "started": True,
                    "state": {"running": {"startedAt": T1}},
                },
            ],
            "qosClass": "Burstable",
        },
        core_v1.PodStatus,
    )


def _add_label(obj: Any) -> None:
    obj.metadata.labels = {**(obj.metadata.labels or {}), "release": "2024-05"}


def _scale(d: apps_v1.Deployment) -> None:
    d.spec.replicas = 5


def _roll_image(d: apps_v1.Deployment) -> None:
    d.spec.template.spec.containers[0].image = "nginx:1.26"


def _bind(p: core_v1.Pod) -> None:
    p.spec.nodeName = "node-1"


class Case:
    """One call of update_managed_fields with its arguments fixed."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        edit: Callable[[Any], None] | None,
        subresource: str = "",
    ) -> None:
        self.name = name
        self.cls = type(factory())
        created = factory()
        created_builtins = msgspec.to_builtins(created)
        if edit is None:
            self.old: dict[str, Any] | None = None
            self.new: dict[str, Any] = created_builtins
        else:
            entries = update_managed_fields(None, created_builtins, "kubectl-create", "Update", self.cls, T0)
            created.metadata.managedFields = msgspec.convert(entries, list[meta.ManagedFieldsEntry])
            changed = copy.deepcopy(created)
            edit(changed)
            self.old = msgspec.to_builtins(created)
            self.new = msgspec.to_builtins(changed)
        self.subresource = subresource
        self.api_version = str(self.new["apiVersion"])

    def __call__(self) -> list[dict[str, Any]]:
        return update_managed_fields(
            self.old,
            self.new,
            "kubelite-controller",
            "Update",
            self.cls,
            T1,
            self.subresource,
            api_version=self.api_version,
        )


CASES = [
    Case("configmap create", config_map, None),
    Case("configmap update: label added", config_map, _add_label),
    Case("deployment create", deployment, None),
    Case("deployment update: label added", deployment, _add_label),
    Case("deployment update: replicas", deployment, _scale, "scale"),
    Case("deployment update: image", deployment, _roll_image),
    Case("pod create", pod, None),
    Case("pod update: bound to a node", pod, _bind),
    Case("pod update: status running", pod, _status_running, "status"),
]


def per_call_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings per case (the best is kept)")
    args = parser.parse_args()

    results: dict[str, float] = {}
    for case in CASES:
        us = per_call_us(case, args.number, args.repeat)
        results[case.name] = us
        print(f"{case.name:<40} {us:8.2f} us/call")

    cm = config_map()
    reference = per_call_us(lambda: msgspec.to_builtins(cm), args.number * 5, args.repeat)
    print(f"{'reference: msgspec.to_builtins(configmap)':<40} {reference:8.2f} us/call")
    value = results["configmap create"]
    print(
        f"RESULT name=managed_fields_create_configmap value={value:.2f} unit=us "
        f"reference={reference:.2f} ratio={value / reference:.2f}"
    )


if __name__ == "__main__":
    main()
