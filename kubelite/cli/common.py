"""Pieces the ``kubelite`` subcommands share: flag types, where the kubeconfig is, and running
a component until a signal stops it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kubelite.apiserver.config import default_data_dir

log = logging.getLogger("kubelite.cli")


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


async def run_until_signalled(
    component: Coroutine[Any, Any, None], client: Any, what: str, stop_note: str = ""
) -> int:
    """Run a component's ``run()`` coroutine until SIGTERM or SIGINT; the process exit status.

    The first signal cancels the component (which cleans up, e.g. releases its
    lease); a second one exits at once. ``client`` is closed in every case;
    ``stop_note`` is added to the shutdown log line (e.g. that containers keep running).
    """
    task = asyncio.create_task(component, name=what)
    stopping = False

    def on_signal(sig: signal.Signals) -> None:
        nonlocal stopping
        if stopping:
            log.warning("%s again: exiting now", sig.name)
            os._exit(1)
        stopping = True
        log.info("%s: shutting down%s", sig.name, f" ({stop_note})" if stop_note else "")
        task.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await task
    except asyncio.CancelledError:
        if not stopping:
            raise
    except Exception:
        log.exception("the %s failed", what)
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await client.close()
    log.info("stopped")
    return 0
