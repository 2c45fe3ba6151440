"""The ``kubelite`` command (console script ``kubelite = kubelite.cli.main:main``).

Subcommands, each in its own module:

- ``kubelite up``          the whole cluster in one process (for now: the control plane)
- ``kubelite server``      the control plane: the API server and the controller manager
- ``kubelite agent``       the node agent (kubelet) of this machine, against any API server
- ``kubelite controller-manager``  the controllers alone, against any API server
- ``kubelite kubeconfig``  print the admin kubeconfig
- ``kubelite scheduler``   the scheduler alone, against any API server
- ``kubelite simulate``    simulated nodes (fake kubelets) for scale tests
- ``kubelite image``       the node's images: import, ls, rm, pull
- ``kubelite reset``       remove the containers and pod networks a stopped agent left running
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from kubelite.cli.agent import add_agent_arguments, run_agent
from kubelite.cli.controller_manager import add_controller_manager_arguments, run_controller_manager
from kubelite.cli.image import add_image_arguments, run_image
from kubelite.cli.kubeconfig import add_kubeconfig_arguments, run_kubeconfig
from kubelite.cli.logs import setup_logging
from kubelite.cli.reset import add_reset_arguments, run_reset
from kubelite.cli.scheduler import add_scheduler_arguments, run_scheduler
from kubelite.cli.server import add_server_arguments, run_server, run_up
from kubelite.cli.simulate import add_simulate_arguments, run_simulate

Command = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


def build_parser() -> argparse.ArgumentParser:
    # -v works before and after the subcommand; SUPPRESS keeps the subcommand's default from
    # overwriting a -v given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log lines (-vv: more)"
    )

    parser = argparse.ArgumentParser(
        prog="kubelite", description="A Kubernetes-compatible container orchestrator.", parents=[verbose]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = sub.add_parser("up", parents=[verbose], help="run a whole cluster in this process")
    add_server_arguments(up)
    up.set_defaults(run=run_up, command_parser=up)

    server = sub.add_parser(
        "server", parents=[verbose], help="run the control plane (API server, controllers)"
    )
    add_server_arguments(server)
    server.set_defaults(run=run_server, command_parser=server)

    agent = sub.add_parser("agent", parents=[verbose], help="run the node agent (kubelet) of this machine")
    add_agent_arguments(agent)
    agent.set_defaults(run=run_agent, command_parser=agent)

    cm = sub.add_parser(
        "controller-manager", parents=[verbose], help="run the controllers against an API server"
    )
    add_controller_manager_arguments(cm)
    cm.set_defaults(run=run_controller_manager, command_parser=cm)

    kubeconfig = sub.add_parser("kubeconfig", parents=[verbose], help="print the admin kubeconfig")
    add_kubeconfig_arguments(kubeconfig)
    kubeconfig.set_defaults(run=run_kubeconfig, command_parser=kubeconfig)

    scheduler = sub.add_parser("scheduler", parents=[verbose], help="run the scheduler against an API server")
    add_scheduler_arguments(scheduler)
    scheduler.set_defaults(run=run_scheduler, command_parser=scheduler)

    simulate = sub.add_parser("simulate", parents=[verbose], help="simulated nodes for a cluster (as kwok)")
    add_simulate_arguments(simulate)
    simulate.set_defaults(run=run_simulate, command_parser=simulate)

    image = sub.add_parser("image", parents=[verbose], help="the node's images: import, ls, rm, pull")
    add_image_arguments(image)
    image.set_defaults(run=run_image, command_parser=image)

    reset = sub.add_parser(
        "reset", parents=[verbose], help="remove the containers and pod networks a stopped agent left"
    )
    add_reset_arguments(reset)
    reset.set_defaults(run=run_reset, command_parser=reset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0))
    run: Command = args.run
    # The subcommand's parser, so that a flag error names the subcommand it belongs to.
    return run(args, args.command_parser)


if __name__ == "__main__":
    sys.exit(main())
