"""Pieces the ``kubelite`` subcommands share: flag types and where the kubeconfig is."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kubelite.apiserver.config import default_data_dir


def parse_bool(value: str) -> bool:
    """A boolean flag value as Kubernetes' components accept them (``--leader-elect=false``)."""
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def default_kubeconfig() -> Path:
    """``$KUBECONFIG`` (its first file), else the admin kubeconfig in the default data dir."""
    env = os.environ.get("KUBECONFIG")
    path = Path(env.split(os.pathsep)[0]) if env else default_data_dir() / "kubeconfig.yaml"
    return path.expanduser()


def kubeconfig_path(args: argparse.Namespace) -> Path:
    """``--kubeconfig`` when given, else ``default_kubeconfig()``."""
    if args.kubeconfig is not None:
        return Path(args.kubeconfig).expanduser()
    return default_kubeconfig()
