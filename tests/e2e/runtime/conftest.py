"""Fixtures of the runc runtime tests; the harness itself is in runtime_harness.py."""

from runtime_harness import _needs_runc, box, busybox_layer

__all__ = ["_needs_runc", "box", "busybox_layer"]
