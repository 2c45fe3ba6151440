"""The informer cache: keys, indexes, and the differences a relist delivers."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.resources import Registry
from kubelite.client.informer import Indexer, Informer
from kubelite.client.kubeconfig import KubeconfigError, load_kubeconfig
from kubelite.client.objects import meta_namespace_key, split_key


def _obj(name: str, ns: str = "ns", rv: str = "1", node: str = "") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv}, "spec": {"nodeName": node}}


def test_keys() -> None:
    assert meta_namespace_key(_obj("a")) == "ns/a"
    assert meta_namespace_key({"metadata": {"name": "n1"}}) == "n1"
    assert meta_namespace_key("ns/x") == "ns/x"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("n1") == ("", "n1")
    for bad in ("", "a/b/c", "ns/"):
        with pytest.raises(ValueError):
            split_key(bad)


def test_indexer_keeps_indexes_current() -> None:
    idx = Indexer()
    idx.add_indexer("node", lambda o: [o["spec"]["nodeName"]] if o["spec"]["nodeName"] else [])
    idx.set(_obj("a", node="n1"))
    idx.set(_obj("b", node="n1"))
    idx.set(_obj("c", ns="other", node="n2"))
    assert [o["metadata"]["name"] for o in idx.by_index("node", "n1")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in idx.by_index("namespace", "other")] == ["c"]
    idx.set(_obj("a", node="n2", rv="2"))
    assert [o["metadata"]["name"] for o in idx.by_index("node", "n1")] == ["b"]
    assert [o["metadata"]["name"] for o in idx.by_index("node", "n2")] == ["a", "c"]
    idx.delete("ns/b")
    assert idx.by_index("node", "n1") == []
    assert (idx.get_by("ns", "a") or {})["metadata"]["resourceVersion"] == "2"
    assert idx.get("ns/b") is None and len(idx) == 2
    idx.add_indexer("late", lambda o: [o["metadata"]["namespace"] + "!"])
    assert len(idx.by_index("late", "ns!")) == 1


class _NoServer:
    """A stand-in ResourceClient: the tests below never reach the network."""

    res: Any = Registry().by_kind("", "v1", "ConfigMap")


def test_replace_delivers_differences_including_vanished_objects() -> None:
    inf = Informer(_NoServer())  # type: ignore[arg-type]
    log: list[tuple[str, str]] = []
    inf.add_handler(
        on_add=lambda o: log.append(("add", o["metadata"]["name"])),
        on_update=lambda old, new: log.append(("update", new["metadata"]["name"])),
        on_delete=lambda o: log.append(("delete", o["metadata"]["name"])),
    )
    inf._replace([_obj("a"), _obj("b"), _obj("c")])
    assert sorted(log) == [("add", "a"), ("add", "b"), ("add", "c")]
    log.clear()
    inf._replace([_obj("a"), _obj("b", rv="5"), _obj("d")])
    assert sorted(log) == [("add", "d"), ("delete", "c"), ("update", "b")]
    assert sorted(inf.indexer.keys()) == ["ns/a", "ns/b", "ns/d"]


def test_late_handlers_see_existing_objects_and_failing_handlers_are_contained() -> None:
    inf = Informer(_NoServer())  # type: ignore[arg-type]
    inf.add_handler(on_add=lambda o: 1 / 0)
    inf._replace([_obj("a")])  # the failing handler is logged, not raised
    seen: list[str] = []
    inf.add_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    assert seen == ["a"]


def test_kubeconfig_plain_http_and_errors(tmp_path: Any) -> None:
    path = tmp_path / "kc.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:1/'}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    access = load_kubeconfig(path)
    assert access.server == "http://127.0.0.1:1" and access.ssl is None and access.token == "abc"
    with pytest.raises(KubeconfigError):
        load_kubeconfig(path, context="missing")
    with pytest.raises(KubeconfigError):
        load_kubeconfig(tmp_path / "absent.yaml")
