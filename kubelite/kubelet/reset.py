"""``reset_node``: stop and remove everything a node agent left running on this machine.

Containers outlive the agent on purpose (a restarted agent re-adopts them),
so something has to clean up when a node is given up for good — what
``kubelite reset`` does (as ``kubeadm reset`` or k3s's killall script), and
what the acceptance run does after stopping its ``kubelite up``: every
container and sandbox of the data dir's runtime is stopped and removed,
each sandbox's pod network is deleted (CNI DEL), the pods' volume, log and
state directories go (tmpfs volumes unmounted first), and with
``node_network`` the node's bridge, blackhole routes and FORWARD guard
(``PodNetwork.teardown_node``) too, after releasing the addresses of
attachments whose network namespace is gone (``PodNetwork.release_stale``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from typing import Any

from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.runtime.interface import RuntimeFailure
from kubelite.kubelet.volumes import unmount_and_remove

log = logging.getLogger(__name__)


@dataclass
class ResetReport:
    containers: int = 0
    sandboxes: int = 0
    node_network: bool = False
    stale_attachments: int = 0  # pod addresses released whose sandbox was gone


async def reset_node(config: AgentConfig, *, node_network: bool = False) -> ResetReport:
    """Remove the containers, sandboxes, pod networks and pod directories of ``config``'s data
    dir; with ``node_network`` also the node's bridge and routes. Idempotent."""
    from kubelite.kubelet.runtime import make_runtime

    report = ResetReport()
    if config.runtime_dir.is_dir():
        runtime = make_runtime(config.runtime, str(config.runtime_dir))
        await runtime.start()
        network = _network(config) if runtime.name == "runc" else None
        for c in await runtime.list_containers():
            with contextlib.suppress(RuntimeFailure):
                await runtime.stop_container(c.id, 0)
            with contextlib.suppress(RuntimeFailure):
                await runtime.remove_container(c.id)
            report.containers += 1
        for sb in await runtime.list_sandboxes():
            if network is not None and sb.netns_path and not sb.config.host_network:
                try:
                    await network.delete(
                        sb.config.namespace,
                        sb.config.pod_name,
                        sb.config.pod_uid,
                        sb.netns_path,
                        sandbox_id=sb.id,
                    )
                except Exception as e:  # the sandbox still goes
                    log.warning("deleting the network of sandbox %s: %s", sb.id[:12], e)
            with contextlib.suppress(RuntimeFailure):
                await runtime.stop_sandbox(sb.id)
            with contextlib.suppress(RuntimeFailure):
                await runtime.remove_sandbox(sb.id)
            report.sandboxes += 1
        release_state = getattr(runtime, "release_state", None)  # runc's state tmpfs
        if release_state is not None:
            await asyncio.to_thread(release_state)
        await runtime.close()
    await asyncio.to_thread(unmount_and_remove, config.pods_dir)  # Memory emptyDirs are tmpfs mounts
    await asyncio.to_thread(shutil.rmtree, config.logs_dir, True)
    if node_network:
        network = _network(config)
        if network is not None:
            report.stale_attachments = await network.release_stale()
            await network.teardown_node()
            report.node_network = True
    return report


def _network(config: AgentConfig) -> Any:
    try:
        from kubelite.kubelet.network import PodNetwork
    except ImportError:
        return None
    return PodNetwork(config.pod_cidr)
