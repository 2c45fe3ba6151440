"""Fixtures for e2e tests: a real ``kubelite server`` and the real ``kubectl`` against it.

- ``kubelite_server`` (session): a ``KubeliteServer`` (``url``, ``kubeconfig``,
  ``data_dir``, ``ca_cert``, ``log_path``), serving from a fresh data dir; stopped with
  SIGTERM at the end, and the session fails if it did not exit 0.
- ``kubectl`` (session): ``kubectl("get", "ns", "-o", "name", check=True).stdout``; runs
  ``/usr/bin/kubectl --kubeconfig ... --cache-dir <tmp>`` and returns the CompletedProcess;
  tests that use it are skipped when ``/usr/bin/kubectl`` is missing.
- ``kube_api_client`` (session): a ``kubernetes.client.ApiClient`` for the server.
- ``kubectl_argv`` (session): ``(argv, env)`` to run kubectl yourself (``Popen`` for watches).
- ``namespace``: a fresh namespace for one test, so tests share the session server;
  ``kn``: the ``kubectl`` fixture with ``-n <that namespace>``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from serverproc import KUBECTL, Kubectl, KubeliteServer


@pytest.fixture(scope="session")
def kubelite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeliteServer]:
    base = tmp_path_factory.mktemp("kubelite-server")
    server = KubeliteServer(base / "data", log_path=base / "server.log")
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
        if code != 0:
            pytest.fail(
                f"kubelite server exited with {code}; its log ends:\n{server.log_tail()}", pytrace=False
            )


@pytest.fixture(scope="session")
def kubectl(kubelite_server: KubeliteServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} is not installed: the e2e tests drive the real kubectl")
    cache_dir = tmp_path_factory.mktemp("kubectl-cache")
    home = tmp_path_factory.mktemp("kubectl-home")
    base = [str(KUBECTL), "--kubeconfig", str(kubelite_server.kubeconfig), "--cache-dir", str(cache_dir)]

    def run(
        *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*base, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=kubelite_server.env(home=home),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    return run


@pytest.fixture(scope="session")
def kube_api_client(kubelite_server: KubeliteServer) -> Iterator[Any]:
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(kubelite_server.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test (named after it), deleted without waiting afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name, check=True)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="session")
def kubectl_argv(
    kubelite_server: KubeliteServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[str], dict[str, str]]:
    """``(argv prefix, env)`` for running kubectl yourself, e.g. a ``get --watch`` in a Popen."""
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} is not installed: the e2e tests drive the real kubectl")
    cache_dir = tmp_path_factory.mktemp("kubectl-argv-cache")
    home = tmp_path_factory.mktemp("kubectl-argv-home")
    argv = [str(KUBECTL), "--kubeconfig", str(kubelite_server.kubeconfig), "--cache-dir", str(cache_dir)]
    return argv, kubelite_server.env(home=home)


@pytest.fixture
def kn(kubectl: Kubectl, namespace: str) -> Kubectl:
    """The ``kubectl`` fixture with ``-n <the test's namespace>``."""

    def run(
        *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return kubectl("-n", namespace, *args, input=input, check=check, timeout=timeout)

    return run
