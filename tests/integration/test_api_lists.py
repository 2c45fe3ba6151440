"""Lists: pagination with continue tokens, label and field selectors,
resourceVersion semantics, across namespaces; and deletecollection."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NS = "lists"
OTHER = "lists-other"
COUNT = 23


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(k8s)
    for ns in (NS, OTHER):
        api.create_namespace({"metadata": {"name": ns}})
    for i in range(COUNT):
        labels = {"tier": "front" if i % 2 == 0 else "back", "index": str(i)}
        if i % 3 == 0:
            labels["special"] = "yes"
        api.create_namespaced_config_map(
            NS, {"metadata": {"name": f"cm-{i:02d}", "labels": labels}, "data": {"i": str(i)}}
        )
    api.create_namespaced_config_map(OTHER, {"metadata": {"name": "cm-other", "labels": {"tier": "front"}}})
    return api


def _names(lst: Any) -> list[str]:
    return [o.metadata.name for o in lst.items]


def _status(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.body)
    assert body["kind"] == "Status"
    assert body["code"] == exc.value.status
    return body


# ----------------------------------------------------------------- pagination


def test_list_is_sorted_and_complete(core: client.CoreV1Api) -> None:
    lst = core.list_namespaced_config_map(NS, label_selector="index")
    assert _names(lst) == [f"cm-{i:02d}" for i in range(COUNT)]
    assert lst.metadata._continue is None
    assert lst.metadata.remaining_item_count is None
    assert int(lst.metadata.resource_version) > 0


def test_pagination_walks_every_item_once(core: client.CoreV1Api) -> None:
    seen: list[str] = []
    first = core.list_namespaced_config_map(NS, limit=10, label_selector="index")
    assert len(first.items) == 10
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == COUNT - 10
    seen += _names(first)
    token = first.metadata._continue
    pages = 1
    while token:
        page = core.list_namespaced_config_map(NS, limit=10, _continue=token, label_selector="index")
        # Every page is read at the revision of the first one.
        assert page.metadata.resource_version == first.metadata.resource_version
        seen += _names(page)
        token = page.metadata._continue
        pages += 1
    assert pages == 3
    assert seen == [f"cm-{i:02d}" for i in range(COUNT)]


def test_pagination_is_a_consistent_snapshot(core: client.CoreV1Api) -> None:
    first = core.list_namespaced_config_map(NS, limit=5, label_selector="index")
    # Changes after the first page do not show in the following pages.
    core.create_namespaced_config_map(NS, {"metadata": {"name": "cm-zz-late", "labels": {"index": "late"}}})
    core.patch_namespaced_config_map("cm-20", NS, {"data": {"i": "changed"}})
    try:
        items: list[Any] = []
        token = first.metadata._continue
        while token:
            page = core.list_namespaced_config_map(NS, limit=5, _continue=token, label_selector="index")
            items += page.items
            token = page.metadata._continue
        assert "cm-zz-late" not in [o.metadata.name for o in items]
        cm20 = next(o for o in items if o.metadata.name == "cm-20")
        assert cm20.data == {"i": "20"}
        assert len(first.items) + len(items) == COUNT
    finally:
        core.delete_namespaced_config_map("cm-zz-late", NS)
        core.patch_namespaced_config_map("cm-20", NS, {"data": {"i": "20"}})


def test_pagination_with_a_selector_fills_pages(core: client.CoreV1Api) -> None:
    front = [f"cm-{i:02d}" for i in range(0, COUNT, 2)]
    seen: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_config_map(NS, limit=4, label_selector="tier=front", _continue=token)
        assert len(page.items) <= 4
        seen += _names(page)
        token = page.metadata._continue
        if not token:
            break
        assert len(page.items) == 4  # a page short of the limit is the last one
    assert seen == front


def test_limit_larger_than_the_list(core: client.CoreV1Api) -> None:
    lst = core.list_namespaced_config_map(NS, limit=1000, label_selector="index")
    assert len(lst.items) == COUNT
    assert not lst.metadata._continue


def test_bad_continue_token_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(NS, limit=5, _continue="not-a-token!")
    assert exc.value.status == 400
    assert _status(exc)["reason"] == "BadRequest"


# ------------------------------------------------------------------ selectors


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=front", [i for i in range(COUNT) if i % 2 == 0]),
        ("tier==back", [i for i in range(COUNT) if i % 2 == 1]),
        ("tier!=front,index", [i for i in range(COUNT) if i % 2 == 1]),
        ("index in (1,2,3)", [1, 2, 3]),
        ("index notin (0,1,2),index", list(range(3, COUNT))),
        ("special", [i for i in range(COUNT) if i % 3 == 0]),
        ("!special,index", [i for i in range(COUNT) if i % 3 != 0]),
        ("special=yes,tier=back", [i for i in range(COUNT) if i % 3 == 0 and i % 2 == 1]),
        ("tier=nowhere", []),
    ],
)
def test_label_selectors(core: client.CoreV1Api, selector: str, expected: list[int]) -> None:
    lst = core.list_namespaced_config_map(NS, label_selector=selector)
    assert _names(lst) == [f"cm-{i:02d}" for i in expected]


def test_label_selector_across_namespaces(core: client.CoreV1Api) -> None:
    lst = core.list_config_map_for_all_namespaces(label_selector="tier=front")
    names = {(o.metadata.namespace, o.metadata.name) for o in lst.items}
    assert (OTHER, "cm-other") in names
    assert (NS, "cm-00") in names
    assert (NS, "cm-01") not in names


def test_namespaces_are_kept_apart(core: client.CoreV1Api) -> None:
    assert _names(core.list_namespaced_config_map(OTHER, label_selector="tier")) == ["cm-other"]


def test_bad_label_selector_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(NS, label_selector="tier in (a")
    assert exc.value.status == 400
    assert _status(exc)["reason"] == "BadRequest"


def test_field_selector_on_name_and_namespace(core: client.CoreV1Api) -> None:
    lst = core.list_namespaced_config_map(NS, field_selector="metadata.name=cm-05")
    assert _names(lst) == ["cm-05"]
    lst = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={OTHER}")
    assert _names(lst) == ["cm-other"]
    lst = core.list_namespaced_config_map(
        NS, field_selector="metadata.name!=cm-05", label_selector="index in (4,5,6)"
    )
    assert _names(lst) == ["cm-04", "cm-06"]


def test_pod_field_selectors(core: client.CoreV1Api) -> None:
    def pod(name: str, node: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
        if node:
            spec["nodeName"] = node
        return {"metadata": {"name": name}, "spec": spec}

    core.create_namespaced_pod(NS, pod("on-a", "node-a"))
    core.create_namespaced_pod(NS, pod("on-b", "node-b"))
    core.create_namespaced_pod(NS, pod("unscheduled", None))
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.nodeName=node-a")) == ["on-a"]
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.nodeName=")) == ["unscheduled"]
    assert _names(core.list_pod_for_all_namespaces(field_selector="spec.nodeName!=")) == ["on-a", "on-b"]
    assert _names(core.list_namespaced_pod(NS, field_selector="status.phase=Pending")) == [
        "on-a",
        "on-b",
        "unscheduled",
    ]
    assert _names(core.list_namespaced_pod(NS, field_selector="status.phase=Running")) == []
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.nodeName=node-b,metadata.name=on-b")) == [
        "on-b"
    ]


def test_unsupported_field_selector_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(NS, field_selector="data.i=1")
    assert exc.value.status == 400
    body = _status(exc)
    assert body["reason"] == "BadRequest"
    assert "data.i" in body["message"]


# ----------------------------------------------------------- resourceVersion


def test_list_at_resource_version_zero_and_not_older_than(core: client.CoreV1Api) -> None:
    latest = core.list_namespaced_config_map(NS, label_selector="index")
    any_rv = core.list_namespaced_config_map(NS, label_selector="index", resource_version="0")
    assert _names(any_rv) == _names(latest)
    newer = core.list_namespaced_config_map(
        NS,
        label_selector="index",
        resource_version=latest.metadata.resource_version,
        resource_version_match="NotOlderThan",
    )
    assert int(newer.metadata.resource_version) >= int(latest.metadata.resource_version)


def test_list_exact_resource_version_shows_the_past(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "past"}, "data": {"v": "1"}})
    before = core.list_namespaced_config_map(NS, field_selector="metadata.name=past")
    core.patch_namespaced_config_map("past", NS, {"data": {"v": "2"}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": "past-2"}})
    rv = before.metadata.resource_version
    old = core.list_namespaced_config_map(NS, resource_version=rv, resource_version_match="Exact")
    assert old.metadata.resource_version == rv
    by_name = {o.metadata.name: o for o in old.items}
    assert by_name["past"].data == {"v": "1"}
    assert "past-2" not in by_name
    now = {o.metadata.name: o for o in core.list_namespaced_config_map(NS).items}
    assert now["past"].data == {"v": "2"}
    assert "past-2" in now


def test_resource_version_match_without_resource_version_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(NS, resource_version_match="Exact")
    assert exc.value.status == 400


def test_invalid_resource_version_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(NS, resource_version="abc", resource_version_match="Exact")
    assert exc.value.status == 400


def test_expired_continue_token_is_410(api_server: Any, core: client.CoreV1Api) -> None:
    first = core.list_namespaced_config_map(NS, limit=3, label_selector="index")
    # Rewrite an object so that the first page's revision has superseded rows, then compact past it.
    core.patch_namespaced_config_map("cm-10", NS, {"data": {"i": "ten"}})
    latest = core.list_namespaced_config_map(NS, limit=1)
    api_server.call(api_server.server.rest.store.compact(int(latest.metadata.resource_version)))
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(
            NS, limit=3, label_selector="index", _continue=first.metadata._continue
        )
    assert exc.value.status == 410
    body = _status(exc)
    assert body["reason"] == "Expired"
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(
            NS, resource_version=first.metadata.resource_version, resource_version_match="Exact"
        )
    assert exc.value.status == 410
    core.patch_namespaced_config_map("cm-10", NS, {"data": {"i": "10"}})


# ----------------------------------------------------------- deletecollection


def test_delete_collection_with_label_selector(core: client.CoreV1Api) -> None:
    for i in range(6):
        core.create_namespaced_secret(
            OTHER, {"metadata": {"name": f"s-{i}", "labels": {"batch": "odd" if i % 2 else "even"}}}
        )
    core.delete_collection_namespaced_secret(OTHER, label_selector="batch=odd")
    assert _names(core.list_namespaced_secret(OTHER, label_selector="batch")) == ["s-0", "s-2", "s-4"]
    core.delete_collection_namespaced_secret(OTHER)
    assert _names(core.list_namespaced_secret(OTHER)) == []
    # Other namespaces keep theirs.
    assert len(core.list_namespaced_config_map(NS, label_selector="index").items) == COUNT


def test_delete_collection_with_field_selector_cluster_scoped(k8s: client.ApiClient) -> None:
    sched = client.SchedulingV1Api(k8s)
    for name in ("pc-a", "pc-b"):
        sched.create_priority_class({"metadata": {"name": name, "labels": {"dc": "t"}}, "value": 10})
    sched.delete_collection_priority_class(field_selector="metadata.name=pc-a")
    names = [o.metadata.name for o in sched.list_priority_class(label_selector="dc=t").items]
    assert names == ["pc-b"]
    sched.delete_collection_priority_class(label_selector="dc=t")
    assert sched.list_priority_class(label_selector="dc=t").items == []


def test_delete_collection_dry_run_keeps_everything(core: client.CoreV1Api) -> None:
    core.delete_collection_namespaced_config_map(NS, label_selector="tier=front", dry_run="All")
    assert len(core.list_namespaced_config_map(NS, label_selector="index").items) == COUNT
