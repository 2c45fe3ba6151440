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
        "--cluster-signing-cert-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="PEM CA certificate that signs approved certificate signing requests (the cluster CA, "
        "<server data dir>/pki/ca.crt); without it the csrsigning controller signs nothing",
    )
    p.add_argument(
        "--cluster-signing-key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the key of the signing CA",
    )
    p.add_argument(
        "--cluster-signing-duration",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="the longest validity a signed certificate gets, e.g. 8760h (default one year)",
    )
    p.add_argument(
        "--leader-elect-resource-name",
        default="kube-controller-manager",
        metavar="NAME",
        help="name of the Lease in kube-system (default kube-controller-manager)",
    )


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def _duration(text: str) -> float:
    """Seconds of a Go-style duration (``8760h``, ``90m``, ``1h30m``, ``600s``)."""
    total, number = 0.0, ""
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in _UNITS and number:
            total += float(number) * _UNITS[ch]
            number = ""
        else:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 8760h, 90m, 600s)")
    if number or total <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 8760h, 90m, 600s)")
    return total


def signing_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, str | float]:
    """The csrsigning controller's settings from the --cluster-signing-* flags."""
    cert, key = args.cluster_signing_cert_file, args.cluster_signing_key_file
    if (cert is None) != (key is None):
        parser.error("--cluster-signing-cert-file and --cluster-signing-key-file go together")
    options: dict[str, str | float] = {}
    if cert is not None and key is not None:
        for flag, path in (("cert", cert), ("key", key)):
            if not path.expanduser().is_file():
                parser.error(f"--cluster-signing-{flag}-file {path}: no such file")
        options["cluster-signing-cert-file"] = str(cert.expanduser().absolute())
        options["cluster-signing-key-file"] = str(key.expanduser().absolute())
    if args.cluster_signing_duration is not None:
        options["cluster-signing-duration"] = args.cluster_signing_duration
    return options


def run_controller_manager(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from kubelite.controllers.manager import BUILTIN, available, select

    path = kubeconfig_path(args)
    if not path.is_file():
        parser.error(f"--kubeconfig {path}: no such file")
    args.signing_options = signing_options(args, parser)
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
        options=args.signing_options,
    )
    log.info("controller manager: %s against %s", ", ".join(manager.names) or "(none)", client.base_url)
    return await run_until_signalled(manager.run(), client, "controller manager")
