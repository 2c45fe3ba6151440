"""``kubelite controller-manager``: run the controllers against any API server.

The controllers are API clients like any other (DESIGN.md section 1): this
command reads a kubeconfig, picks controllers with ``--controllers`` as
kube-controller-manager does (``*`` all that are on by default, ``name``
one more, ``-name`` one less: ``--controllers=*,-statefulset``), and runs
them until SIGTERM/SIGINT. With leader election on (the default) only the
holder of the ``kube-system/kube-controller-manager`` Lease acts, so several
copies can run for availability; ``kubelite server`` and ``kubelite up``
start one in-process (see ``add_controller_arguments``), so a second one
started by hand stands by unless it uses another lease name.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from kubelite.cli.common import kubeconfig_path, parse_bool, run_until_signalled

log = logging.getLogger("kubelite.cli")


def add_controller_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``server``, ``up`` and ``controller-manager`` share."""
    p.add_argument(
        "--controllers",
        default="*",
        metavar="LIST",
        help="controllers to run: '*' all on by default, 'name' adds one, '-name' removes one "
        "(e.g. '*,-statefulset'; default '*')",
    )
    p.add_argument(
        "--concurrent-syncs",
        type=int,
        default=2,
        metavar="N",
        help="objects each controller syncs at once (default 2)",
    )


def add_controller_manager_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the cluster (default $KUBECONFIG, else <data dir>/kubeconfig.yaml)",
    )
    p.add_argument("--context", default=None, help="kubeconfig context (default: its current context)")
    add_controller_arguments(p)
    p.add_argument(
        "--leader-elect",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="act only while holding the leader Lease (default true)",
    )
    p.add_argument(
        "--leader-elect-resource-name",
        default="kube-controller-manager",
        metavar="NAME",
        help="name of the Lease in kube-system (default kube-controller-manager)",
    )


def run_controller_manager(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from kubelite.controllers.manager import BUILTIN, available, select

    path = kubeconfig_path(args)
    if not path.is_file():
        parser.error(f"--kubeconfig {path}: no such file")
    if args.concurrent_syncs < 1:
        parser.error("--concurrent-syncs must be at least 1")
    try:
        select(args.controllers, available(), also_known=BUILTIN)
    except ValueError as e:
        parser.error(f"--controllers: {e}")
    return asyncio.run(_run(args, path))


async def _run(args: argparse.Namespace, kubeconfig: Path) -> int:
    from kubelite.client import Client
    from kubelite.controllers.manager import ControllerManager

    client = await asyncio.to_thread(
        Client.from_kubeconfig, str(kubeconfig), args.context, component="controller-manager"
    )
    manager = ControllerManager(
        client,
        args.controllers,
        leader_elect=args.leader_elect,
        workers=args.concurrent_syncs,
        lease_name=args.leader_elect_resource_name,
    )
    log.info("controller manager: %s against %s", ", ".join(manager.names) or "(none)", client.base_url)
    return await run_until_signalled(manager.run(), client, "controller manager")
