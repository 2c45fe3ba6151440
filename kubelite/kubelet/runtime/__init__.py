"""Container runtimes for the node agent, chosen by name.

``make_runtime(name, root_dir)`` builds one: ``runc`` (root, runc and a static
busybox for pause processes), ``process`` (no isolation; the fallback
without root or runc, said loudly), ``fake`` (in memory), or ``auto``/``""``:
runc when it can run here, else process, with the reason logged. Third-party
runtimes register a factory ``(root_dir) -> Runtime`` under the entry-point
group ``kubelite.runtimes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from kubelite.kubelet.runtime.interface import Runtime

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[str], Runtime]


def _runc(root_dir: str) -> Runtime:
    from kubelite.kubelet.runtime.runc import RuncRuntime

    return RuncRuntime(root_dir)


def _process(root_dir: str) -> Runtime:
    from kubelite.kubelet.runtime.process import ProcessRuntime

    return ProcessRuntime(root_dir)


def _fake(root_dir: str) -> Runtime:
    from kubelite.kubelet.runtime.fake import FakeRuntime

    return FakeRuntime()


RUNTIMES: dict[str, RuntimeFactory] = {"runc": _runc, "process": _process, "fake": _fake}
ENTRY_POINT_GROUP = "kubelite.runtimes"


def available_runtimes() -> dict[str, RuntimeFactory]:
    """The built-ins and those registered through entry points (built-ins win)."""
    found: dict[str, RuntimeFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as e:  # a broken plugin must not take the agent down
            log.error("runtime plugin %s could not be loaded: %s", ep.name, e)
    found.update(RUNTIMES)
    return found


def default_runtime_name() -> str:
    """``runc`` when it can run here, else ``process`` (logged with the reason)."""
    from kubelite.kubelet.runtime.runc import runc_available

    why = runc_available()
    if why is None:
        return "runc"
    log.warning("container runtime: using 'process' (NO ISOLATION) because runc cannot run here: %s", why)
    return "process"


def make_runtime(name: str, root_dir: str) -> Runtime:
    """The runtime called ``name`` (``auto`` or empty: the default) keeping its state in ``root_dir``."""
    if name in ("", "auto"):
        name = default_runtime_name()
    factories = RUNTIMES if name in RUNTIMES else available_runtimes()
    factory = factories.get(name)
    if factory is None:
        raise ValueError(
            f"unknown container runtime {name!r}; known: {', '.join(sorted(available_runtimes()))}"
        )
    return factory(root_dir)
