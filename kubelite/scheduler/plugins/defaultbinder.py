"""DefaultBinder: bind the pod through the API's ``pods/binding`` subresource."""

from __future__ import annotations

from typing import Any

from kubelite.api.core_v1 import Pod
from kubelite.client.rest import lookup
from kubelite.scheduler.framework import CycleState, Status

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._path_of = None
        if handle.client is not None:
            self._path_of = handle.client.resource(lookup("", "v1", "Pod")).path

    async def bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        client = self.handle.client
        if client is None or self._path_of is None:
            return Status.as_error("no API client to bind with", NAME)
        meta = pod.metadata
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid},
            "target": {"kind": "Node", "name": node_name},
        }
        try:
            await client.request("POST", self._path_of(meta.namespace, meta.name, "binding"), body=body)
        except Exception as e:
            return Status.as_error(e, NAME)
        return None


def new(args: dict[str, Any], handle: Any) -> DefaultBinder:
    return DefaultBinder(handle)
