"""``kubelite simulate``: register simulated nodes with a cluster and play their kubelets.

Runs ``SimulatedNodes`` against the API server of a kubeconfig until SIGTERM
or SIGINT: N Ready nodes with fresh Leases, whose pods turn Running and whose
graceful deletions complete, as kwok does. The nodes stay registered on exit
(their Leases simply stop being renewed), like real nodes whose kubelet stops.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

from kubelite.cli.common import run_until_signalled

if TYPE_CHECKING:
    from kubelite.api.core_v1 import Taint

log = logging.getLogger("kubelite.cli")


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster to join")
    p.add_argument("--context", default=None, help="kubeconfig context (default: current-context)")
    p.add_argument("--nodes", type=int, required=True, metavar="N", help="how many nodes to simulate")
    p.add_argument("--cpu", default="32", help="cpu capacity of each node (default 32)")
    p.add_argument("--memory", default="256Gi", help="memory capacity of each node (default 256Gi)")
    p.add_argument("--pods", default="110", help="pod capacity of each node (default 110)")
    p.add_argument("--labels", default="", metavar="K=V,...", help="extra labels on every node")
    p.add_argument("--taints", default="", metavar="K=V:EFFECT,...", help="taints on every node")
    p.add_argument("--name-prefix", default="sim-", help="node names are PREFIX0..PREFIX<N-1> (default sim-)")
    p.add_argument(
        "--lease-qps",
        type=float,
        default=200.0,
        help="most lease renewals per second; more nodes stretch the 10 s renew period (default 200)",
    )


def run_simulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from kubelite.scheduler.simulate import parse_labels, parse_taints

    if args.nodes < 0:
        parser.error("--nodes must be >= 0")
    try:
        labels = parse_labels(args.labels)
        taints = parse_taints(args.taints)
    except ValueError as e:
        parser.error(str(e))
    return asyncio.run(_simulate(args, labels, taints))


async def _simulate(args: argparse.Namespace, labels: dict[str, str], taints: list[Taint]) -> int:
    from kubelite.client import Client
    from kubelite.client.kubeconfig import KubeconfigError
    from kubelite.scheduler.simulate import SimulatedNodes

    try:
        client = await asyncio.to_thread(
            Client.from_kubeconfig, args.kubeconfig, args.context, component="simulate"
        )
    except (KubeconfigError, OSError) as e:
        log.error("%s", e)
        return 1
    sim = SimulatedNodes(
        client,
        args.nodes,
        cpu=args.cpu,
        memory=args.memory,
        pods=args.pods,
        labels=labels,
        taints=taints,
        name_prefix=args.name_prefix,
        lease_qps=args.lease_qps,
    )
    return await run_until_signalled(sim.run(), client, "simulated nodes")
