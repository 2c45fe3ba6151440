"""The ``kubelite`` command (console script ``kubelite = kubelite.cli.main:main``).

Subcommands, each in its own module:

- ``kubelite up``          the whole cluster in one process (control plane and a node agent)
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

# (name, help, adds its flags, runs it), in the order `kubelite --help` lists them.
SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Command]] = [
    ("up", "run a whole cluster in this process", add_server_arguments, run_up),
    ("server", "run the control plane (API server, controllers)", add_server_arguments, run_server),
    ("agent", "run the node agent (kubelet) of this machine", add_agent_arguments, run_agent),
    (
        "controller-manager",
        "run the controllers against an API server",
        add_controller_manager_arguments,
        run_controller_manager,
    ),
    ("kubeconfig", "print the admin kubeconfig", add_kubeconfig_arguments, run_kubeconfig),
    ("scheduler", "run the scheduler against an API server", add_scheduler_arguments, run_scheduler),
    ("simulate", "simulated nodes for a cluster (as kwok)", add_simulate_arguments, run_simulate),
    ("image", "the node's images: import, ls, rm, pull", add_image_arguments, run_image),
    ("reset", "remove the containers and pod networks a stopped agent left", add_reset_arguments, run_reset),
]


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
    for name, help_text, add_arguments, run in SUBCOMMANDS:
        command = sub.add_parser(name, parents=[verbose], help=help_text)
        add_arguments(command)
        # The subcommand's parser, so that a flag error names the subcommand it belongs to.
        command.set_defaults(run=run, command_parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0))
    run: Command = args.run
    return run(args, args.command_parser)


if __name__ == "__main__":
    sys.exit(main())
