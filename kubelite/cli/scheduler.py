"""``kubelite scheduler``: run the scheduler against any API server.

``kubelite scheduler --kubeconfig FILE [--config FILE] [--leader-elect=true]``
reads a kubeconfig, and optionally a KubeSchedulerConfiguration file
(profiles, plugins, weights, plugin args), and schedules pending pods until
SIGTERM/SIGINT. With leader election on (the default) only the holder of the
``kube-system/kube-scheduler`` Lease schedules, so several copies can run for
availability; ``kubelite server`` and ``kubelite up`` start one in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubelite.cli.common import kubeconfig_path, parse_bool, run_until_signalled

if TYPE_CHECKING:
    from kubelite.client import Client

log = logging.getLogger("kubelite.cli")


def add_scheduler_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the cluster (default $KUBECONFIG, else <data dir>/kubeconfig.yaml)",
    )
    p.add_argument("--context", default=None, help="kubeconfig context (default: its current context)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1; default profile if absent)",
    )
    p.add_argument(
        "--leader-elect",
        type=parse_bool,
        nargs="?",
        const=True,
        default=None,
        metavar="BOOL",
        help="schedule only while holding the kube-scheduler Lease (default true, or the config's)",
    )


def load_config(path: Path | None) -> Any:
    """The scheduler configuration of ``path`` (the default one for None); ValueError if invalid."""
    from kubelite.scheduler.config import default_configuration, load_configuration

    if path is None:
        return default_configuration()
    return load_configuration(str(path))


def run_scheduler(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    path = kubeconfig_path(args)
    if not path.is_file():
        parser.error(f"--kubeconfig {path}: no such file")
    if args.config is not None and not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")
    try:
        config = load_config(args.config)
    except ValueError as e:
        parser.error(f"--config: {e}")
    if args.leader_elect is not None:
        config.leader_election.leader_elect = args.leader_elect
    return asyncio.run(_run(args, path, config))


async def _run(args: argparse.Namespace, kubeconfig: Path, config: Any) -> int:
    from kubelite.client import Client
    from kubelite.scheduler.scheduler import Scheduler

    client = await asyncio.to_thread(
        Client.from_kubeconfig, str(kubeconfig), args.context, component="scheduler"
    )
    try:
        scheduler = Scheduler(client, config)
    except ValueError as e:
        log.error("invalid scheduler configuration: %s", e)
        await client.close()
        return 2
    names = ", ".join(p.scheduler_name for p in config.profiles)
    log.info("scheduler: profiles %s against %s", names, client.base_url)
    return await run_until_signalled(scheduler.run(), client, "scheduler")


async def run_in_process(client: Client) -> None:
    """The scheduler inside ``kubelite server``/``up`` (``client``: the server's loopback,
    closed at the end), default configuration, leader election on. Runs until cancelled; a
    failure is logged, not raised."""
    from kubelite.scheduler.scheduler import Scheduler

    try:
        scheduler = Scheduler(client, load_config(None))
        log.info("scheduler: profiles %s", ", ".join(p.scheduler_name for p in scheduler.config.profiles))
        await scheduler.run()
    except Exception:
        log.exception("the scheduler failed; the API server keeps serving")
    finally:
        await client.close()
