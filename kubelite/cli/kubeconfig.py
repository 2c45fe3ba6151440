"""``kubelite kubeconfig``: print the admin kubeconfig of a data dir.

Without ``--server`` it prints the file the server wrote on its last start
(``<data-dir>/kubeconfig.yaml``); with ``--server URL`` it builds one from
the data dir's PKI for that address (another host name, a tunnel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubelite.apiserver.auth.certs import PKI, kubeconfig_text
from kubelite.apiserver.config import ServerConfig, default_data_dir


def add_kubeconfig_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=Path, default=None, help=f"the server's data dir (default {default_data_dir()})"
    )
    p.add_argument("--server", default=None, metavar="URL", help="the API server's URL to write in it")


def run_kubeconfig(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    config = ServerConfig(data_dir=(args.data_dir or default_data_dir()).expanduser().absolute())
    if args.server:
        pki = PKI.at(config.pki_dir)
        if args.server.startswith("https://") and not (pki.ca_cert.is_file() and pki.admin_key.is_file()):
            print(f"kubelite: no PKI in {config.pki_dir}: start `kubelite server` first", file=sys.stderr)
            return 1
        sys.stdout.write(kubeconfig_text(args.server.rstrip("/"), pki))
        return 0
    path = config.kubeconfig_path
    try:
        text = path.read_text()
    except FileNotFoundError:
        print(
            f"kubelite: no kubeconfig at {path}: start `kubelite server --data-dir {config.data_dir}` first",
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(text)
    return 0
