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
    for fd in shim._SEALED.values():
        os.close(fd)
    shim._SEALED.clear()


def test_a_sealed_copy_runs_and_is_what_runc_accepts_as_cloned(sealed, tmp_path) -> None:
    true = shutil.which("true")
    assert true is not None
    shim._seal_copy(true)
    path = shim._executable(true)
    assert path == f"/proc/self/fd/{sealed[true]}"
    with open(true, "rb") as f:
        assert os.pread(sealed[true], os.path.getsize(true), 0) == f.read()
    # runc checks for exactly these seals before it skips copying itself (CVE-2019-5736)
    assert fcntl.fcntl(sealed[true], fcntl.F_GET_SEALS) == shim._RUNC_SEALS
    with pytest.raises(PermissionError):
        os.pwrite(sealed[true], b"x", 0)
    # the shim's way of starting it: posix_spawn resolves the path before close-on-exec
    pid = shim._spawn([path], (0, 1, 2))
    assert shim._wait(pid) == 0
    assert shim._executable("/no/such/program") == "/no/such/program"


def test_a_missing_executable_is_not_sealed(sealed) -> None:
    shim._seal_copy("/no/such/program")
    assert sealed == {}
