#!/usr/bin/env python3
"""Run acceptance scenarios from ``../shared/acceptance`` against a fresh ``kubelite``.

    .venv/bin/python tests/e2e/run_acceptance.py 01-api [02-deployment ...]

Starts ``kubelite up`` (``--command server`` for the control plane only) on a
free port with a fresh temporary data dir, waits for /readyz, runs the
scenario runner with KUBECONFIG and a fresh HOME (kubectl's discovery cache),
stops the server, removes what its node agent left (``kubelite reset
--node-network``: containers, pod networks, the bridge and routes) and exits
with the runner's status (1 if the runner passed but the server did not stop
or reset cleanly). ``--shared DIR`` or ``KUBELITE_SHARED``
point at another shared folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from serverproc import KubeliteServer, kubelite_command

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="+", help="scenario names, e.g. 01-api")
    parser.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("KUBELITE_SHARED", REPO.parent / "shared"))
    )
    parser.add_argument(
        "--command", choices=("up", "server"), default="up", help="what to start (default: up)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = parser.parse_args(argv)

    runner = args.shared / "acceptance" / "run"
    if not runner.is_file():
        print(f"acceptance: no runner at {runner}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-acceptance-"))
    server = KubeliteServer(tmp / "data", command=args.command, log_path=tmp / "server.log")
    code = 1
    try:
        print(f"acceptance: starting kubelite {args.command} (data dir {tmp / 'data'})", flush=True)
        server.start()
        print(f"acceptance: {server.url} ready; running {' '.join(args.scenarios)}", flush=True)
        home = tmp / "home"
        home.mkdir()
        code = subprocess.run(["bash", str(runner), *args.scenarios], env=server.env(home=home)).returncode
    except (RuntimeError, TimeoutError) as e:
        print(f"acceptance: {e}", file=sys.stderr)
    finally:
        stopped = server.stop()
        if args.command == "up":  # containers outlive the agent: remove them and the node network
            reset = subprocess.run(
                [*kubelite_command(), "reset", "--data-dir", str(tmp / "data"), "--node-network"],
                capture_output=True,
                text=True,
            )
            if reset.returncode != 0:
                print(f"acceptance: kubelite reset failed:\n{reset.stdout}{reset.stderr}", file=sys.stderr)
                code = code or 1
        if stopped not in (0, None):
            print(
                f"acceptance: kubelite {args.command} exited with {stopped}; its log ends:", file=sys.stderr
            )
            print(server.log_tail(), file=sys.stderr)
            code = code or 1
        elif code != 0:
            print(
                f"acceptance: the server's log ends ({tmp / 'server.log'}):\n{server.log_tail(30)}",
                file=sys.stderr,
            )
        if args.keep or code != 0:
            print(f"acceptance: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
