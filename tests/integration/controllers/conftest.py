"""Fixtures of the controller tests; the harness itself is in controller_harness.py.

Helpers live in a uniquely named module because every test folder has a
``conftest`` module and only one of them can be imported under that name.
"""

from controller_harness import cluster

__all__ = ["cluster"]
