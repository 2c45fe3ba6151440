"""Namespaces: the system ones, admission of content (404 in a missing
namespace, 403 in a terminating one), and deletion that empties a namespace
and then removes it (the namespace controller's work: it runs here, in a
controller manager on the server's loop)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module", autouse=True)
def namespace_controller(api_server: Any) -> Iterator[None]:
    """A controller manager running only the namespace controller against the module's server."""
    from kubelite.client import Client
    from kubelite.controllers.manager import ControllerManager

    async def run() -> None:
        async with Client(api_server.url, component="kube-controller-manager") as c:
            await ControllerManager(c, "namespace", leader_elect=False).run()

    future = asyncio.run_coroutine_threadsafe(run(), api_server.loop)
    yield
    future.cancel()


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s)


def _status(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.body)
    assert body["kind"] == "Status"
    assert body["code"] == exc.value.status
    return body


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _missing(read: Callable[..., Any], *args: Any) -> Callable[[], bool]:
    def check() -> bool:
        try:
            read(*args)
        except ApiException as e:
            return e.status == 404
        return False

    return check


def test_system_namespaces_exist(core: client.CoreV1Api) -> None:
    names = {n.metadata.name: n for n in core.list_namespace().items}
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert name in names
        assert names[name].status.phase == "Active"
        assert names[name].spec.finalizers == ["kubernetes"]


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_system_namespaces_cannot_be_deleted(core: client.CoreV1Api, name: str) -> None:
    with pytest.raises(ApiException) as exc:
        core.delete_namespace(name)
    assert exc.value.status == 403
    assert _status(exc)["reason"] == "Forbidden"
    ns = core.read_namespace(name)
    assert ns.status.phase == "Active"
    assert ns.metadata.deletion_timestamp is None


def test_create_in_a_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "x"}})
    assert exc.value.status == 404
    body = _status(exc)
    assert body["reason"] == "NotFound"
    assert body["details"]["name"] == "no-such-ns"
    assert body["details"]["kind"] == "namespaces"
    assert 'namespaces "no-such-ns" not found' in body["message"]


def test_namespace_name_is_validated(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespace({"metadata": {"name": "Not_A_Label"}})
    assert exc.value.status == 422
    assert _status(exc)["reason"] == "Invalid"
    with pytest.raises(ApiException) as exc:
        core.create_namespace({"metadata": {"name": "default"}})
    assert exc.value.status == 409


def test_generate_name_for_namespaces(core: client.CoreV1Api) -> None:
    ns = core.create_namespace({"metadata": {"generateName": "gen-ns-"}})
    assert ns.metadata.name.startswith("gen-ns-")
    core.delete_namespace(ns.metadata.name)
    assert _eventually(_missing(core.read_namespace, ns.metadata.name))


def test_deleting_a_namespace_removes_its_content_then_itself(
    k8s: client.ApiClient, core: client.CoreV1Api
) -> None:
    apps = client.AppsV1Api(k8s)
    rbac = client.RbacAuthorizationV1Api(k8s)
    ns = "doomed"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespace({"metadata": {"name": "survivor"}})
    for target in (ns, "survivor"):
        core.create_namespaced_config_map(target, {"metadata": {"name": "cm"}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    )
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    rbac.create_namespaced_role(ns, {"metadata": {"name": "r"}, "rules": []})

    answer = core.delete_namespace(ns)
    assert answer["kind"] == "Namespace"
    assert answer["status"]["phase"] == "Terminating"
    assert answer["metadata"]["deletionTimestamp"]

    assert _eventually(_missing(core.read_namespace, ns))
    for read, name in (
        (core.read_namespaced_config_map, "cm"),
        (core.read_namespaced_secret, "s"),
        (core.read_namespaced_pod, "p"),
        (apps.read_namespaced_deployment, "d"),
        (rbac.read_namespaced_role, "r"),
    ):
        assert _missing(read, name, ns)(), name
    assert core.list_namespaced_config_map(ns).items == []
    assert [c.metadata.name for c in core.list_namespaced_config_map("survivor").items] == ["cm"]


def test_terminating_namespace_refuses_new_content(core: client.CoreV1Api) -> None:
    ns = "terminating"
    core.create_namespace({"metadata": {"name": ns}})
    # A finalizer on its content keeps the namespace terminating until it is removed.
    core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespace(ns)

    def held_marked() -> bool:
        return core.read_namespaced_config_map("held", ns).metadata.deletion_timestamp is not None

    assert _eventually(held_marked)
    namespace = core.read_namespace(ns)
    assert namespace.status.phase == "Terminating"
    assert namespace.metadata.deletion_timestamp is not None

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "new"}})
    assert exc.value.status == 403
    body = _status(exc)
    assert body["reason"] == "Forbidden"
    assert "because it is being terminated" in body["message"]
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    assert _missing(core.read_namespaced_config_map, "new", ns)()

    # Updates of what is still there are allowed.
    core.patch_namespaced_config_map("held", ns, {"data": {"k": "v"}})
    time.sleep(1.5)  # time for the namespace controller to look again
    assert core.read_namespace(ns).status.phase == "Terminating"

    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    assert _eventually(_missing(core.read_namespace, ns))


def test_namespace_status_and_finalize(api_server: Any, core: client.CoreV1Api) -> None:
    ns = "fin"
    core.create_namespace({"metadata": {"name": ns}})
    got = core.read_namespace_status(ns)
    assert got.status.phase == "Active"
    # spec.finalizers change only through /finalize.
    patched = core.patch_namespace(ns, {"spec": {"finalizers": []}})
    assert patched.spec.finalizers == ["kubernetes"]
    body = core.read_namespace(ns)
    body.spec.finalizers = ["example.com/custom", "kubernetes"]
    out = core.replace_namespace_finalize(ns, body)
    assert out.spec.finalizers == ["example.com/custom", "kubernetes"]
    core.delete_namespace(ns)
    # The namespace controller removes "kubernetes" once empty; the custom one holds it.
    assert _eventually(lambda: core.read_namespace(ns).spec.finalizers == ["example.com/custom"])
    assert core.read_namespace(ns).status.phase == "Terminating"
    body = core.read_namespace(ns)
    body.spec.finalizers = []
    core.replace_namespace_finalize(ns, body)
    assert _eventually(_missing(core.read_namespace, ns))


def test_cluster_scoped_kinds_are_not_under_namespaces(api_server: Any, core: client.CoreV1Api) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{api_server.url}/api/v1/namespaces/default/nodes", timeout=10)
    assert exc.value.code == 404
