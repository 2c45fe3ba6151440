"""Fixtures for the runc runtime tests: a busybox layer, a RuncRuntime, and a check that
nothing (processes, mounts, netns, cgroups) is left behind.

Every test here needs root, runc and a static busybox (``apt-get install runc
busybox-static``); without them each test is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.kubelet.runtime import cgroups, mounts
from kubelite.kubelet.runtime.runc import RuncRuntime, find_static_busybox, runc_available


def _missing() -> str | None:
    return runc_available()


@pytest.fixture(autouse=True)
def _needs_runc() -> None:
    why = _missing()
    if why is not None:
        pytest.skip(f"runc runtime tests need root, runc and busybox-static: {why}")


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image layer: bin/busybox and a relative symlink per applet, plus /etc and /tmp."""
    why = _missing()
    if why is not None:
        pytest.skip(f"runc runtime tests need root, runc and busybox-static: {why}")
    busybox = find_static_busybox()
    assert busybox is not None
    layer = tmp_path_factory.mktemp("busybox-layer")
    (layer / "bin").mkdir()
    (layer / "etc").mkdir()
    (layer / "tmp").mkdir(mode=0o1777)
    shutil.copy2(busybox, layer / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for name in applets:
        if name != "busybox":
            (layer / "bin" / name).symlink_to("busybox")
    (layer / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
    )
    return str(layer)


def leftovers(root: str, cgroup_root: str, sandbox_ids: list[str]) -> list[str]:
    """Everything a removed runtime state could leave: mounts, netns, cgroups, shim processes."""
    state = os.path.join(root, "state")  # the runtime's state tmpfs lives as long as the runtime
    found = [f"mount {p}" for p in mounts.mount_points(root) if p != state]
    for sid in sandbox_ids:
        ns = f"/var/run/netns/kubelite-{sid[:32]}"
        if os.path.exists(ns):
            found.append(f"netns {ns}")
    for d in cgroups.hierarchy_dirs(cgroups.cgroup_mounts(), cgroup_root):
        if os.path.isdir(d) and any(os.path.isdir(os.path.join(d, n)) for n in os.listdir(d)):
            found.append(f"cgroup {d}/*")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if root.encode() in cmdline or _holds_file_under(pid, root):
            argv = cmdline.replace(b"\0", b" ")[:120]
            found.append(f"process {pid}: {argv!r}")
    return found


def _holds_file_under(pid: str, root: str) -> bool:
    """The process has a file or directory under ``root`` open (a shim forked by the zygote
    has the zygote's command line, and its container directory open)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target == root or target.startswith(root + "/"):
            return True
    return False


class RuntimeBox:
    """A RuncRuntime on a fresh root and cgroup root, recreatable (re-adoption tests)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.cgroup_root = f"kubelite-test-{secrets.token_hex(4)}"
        self.runtime = RuncRuntime(root, cgroup_root=self.cgroup_root)
        self.sandbox_ids: list[str] = []

    async def recreate(self) -> RuncRuntime:
        self.runtime = RuncRuntime(self.root, cgroup_root=self.cgroup_root)
        await self.runtime.start()
        return self.runtime


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[RuntimeBox]:
    b = RuntimeBox(str(tmp_path / "runtime"))
    await b.runtime.start()
    try:
        yield b
    finally:
        rt = await b.recreate()
        for s in await rt.list_sandboxes():
            b.sandbox_ids.append(s.id)
            await rt.remove_sandbox(s.id)
        for c in await rt.list_containers():
            await rt.remove_container(c.id)
        await asyncio.to_thread(rt.release_state)
        left = leftovers(b.root, b.cgroup_root, b.sandbox_ids)
        cgroups.remove_cgroup(cgroups.cgroup_mounts(), b.cgroup_root)
        assert not left, f"left behind: {left}"
        assert not cgroups.remove_cgroup(cgroups.cgroup_mounts(), b.cgroup_root)
