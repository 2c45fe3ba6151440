"""The zygote's sealed copies of executables (what its shims start runc from)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys

import pytest

from kubelite.kubelet.runtime import shim

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="memfd and file seals are Linux only")


@pytest.fixture
def sealed():
    yield shim._SEALED
    shim._drop_sealed()


def test_a_sealed_copy_runs_and_is_what_runc_accepts_as_cloned(sealed, tmp_path) -> None:
    true = shutil.which("true")
    assert true is not None
    shim._seal_copy(true)
    fd = sealed[true][0]
    path = shim._executable(true)
    assert path == f"/proc/self/fd/{fd}"
    with open(true, "rb") as f:
        assert os.pread(fd, os.path.getsize(true), 0) == f.read()
    # runc checks for exactly these seals before it skips copying itself (CVE-2019-5736)
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) == shim._RUNC_SEALS
    with pytest.raises(PermissionError):
        os.pwrite(fd, b"x", 0)
    # the shim's way of starting it: posix_spawn resolves the path before close-on-exec
    pid = shim._spawn([path], (0, 1, 2))
    assert shim._wait(pid) == 0
    assert shim._executable("/no/such/program") == "/no/such/program"


def test_a_missing_executable_is_not_sealed(sealed) -> None:
    shim._seal_copy("/no/such/program")
    assert sealed == {}


def test_only_programs_are_sealed_and_a_changed_one_runs_from_the_disk(sealed, tmp_path) -> None:
    script = tmp_path / "wrapper"
    script.write_text("#!/bin/sh\nexec true\n")
    shim._seal_copy(str(script))
    assert sealed == {}  # a script run from a close-on-exec descriptor would not find itself
    program = tmp_path / "true"
    shutil.copy2(shutil.which("true") or "/bin/true", program)
    shim._seal_copy(str(program))
    assert shim._executable(str(program)).startswith("/proc/self/fd/")
    program.write_bytes(program.read_bytes() + b"\0")  # upgraded on disk (say, a security fix)
    assert shim._executable(str(program)) == str(program)
    shim._drop_sealed()
    assert sealed == {} and shim._executable(str(program)) == str(program)
