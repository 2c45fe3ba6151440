"""``kubelite reset``: remove what the node agent of a data dir left running on this machine.

Stop ``kubelite up``/``agent`` first: containers outlive them on purpose.
``kubelite reset --data-dir DIR`` stops and removes every container and
sandbox of that data dir's runtime, their pod networks and pod directories;
``--node-network`` also removes the node's bridge, blackhole routes and
FORWARD guard (shared by every agent on the machine: only when none runs).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from kubelite.apiserver.config import default_data_dir

RUNTIMES = ("auto", "runc", "process")


def add_reset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, help=f"agent state (default {default_data_dir()})")
    p.add_argument("--runtime", choices=RUNTIMES, default="auto", help="container runtime (default: auto)")
    p.add_argument(
        "--node-network",
        action="store_true",
        help="also remove the node's bridge, routes and FORWARD guard (no agent may still run)",
    )


def run_reset(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from kubelite.kubelet.config import AgentConfig
    from kubelite.kubelet.reset import reset_node

    data_dir: Path = (args.data_dir or default_data_dir()).expanduser().absolute()
    config = AgentConfig(data_dir=data_dir, runtime=args.runtime)
    report = asyncio.run(reset_node(config, node_network=args.node_network))
    network = ", the node network" if report.node_network else ""
    print(f"reset {data_dir}: {report.containers} containers, {report.sandboxes} sandboxes{network}")
    return 0
