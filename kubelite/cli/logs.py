"""Log lines for the ``kubelite`` command: ``time level component: message`` on stderr."""

from __future__ import annotations

import logging
import sys
import time


class LineFormatter(logging.Formatter):
    """``2025-01-31 12:00:00.123 INFO apiserver.app: listening on https://127.0.0.1:6443``.

    The component is the logger name without the ``kubelite.`` prefix; a
    traceback, if any, follows on the next lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        component = record.name.removeprefix("kubelite.")
        line = f"{stamp}.{int(record.msecs):03d} {record.levelname} {component}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def setup_logging(verbosity: int = 0) -> None:
    """INFO by default; ``-v``: DEBUG for kubelite and HTTP access lines; ``-vv``: DEBUG everywhere."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    logging.getLogger("kubelite").setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.INFO if verbosity >= 1 else logging.WARNING)
