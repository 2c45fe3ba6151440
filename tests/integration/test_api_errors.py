"""Errors come back as Kubernetes Status bodies with the right code, reason
and details, and a rejected request stores nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NS = "errors"
CM_URL = f"/api/v1/namespaces/{NS}/configmaps"


@pytest.fixture(scope="module")
def core(k8s: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(k8s)
    api.create_namespace({"metadata": {"name": NS}})
    return api


class Raw:
    def __init__(self, server: Any) -> None:
        self.server = server

    def revision(self) -> int:
        rev: int = self.server.call(self.server.server.rest.store.current_revision())
        return rev

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = "application/json"
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(self.server.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, dict(e.headers), json.loads(raw) if raw else None

    def rejected(
        self,
        method: str,
        path: str,
        body: bytes | None,
        code: int,
        reason: str,
        content_type: str | None = "application/json",
    ) -> dict[str, Any]:
        """Send a request that must fail with ``code``/``reason`` and write nothing."""
        before = self.revision()
        got, headers, status = self.request(method, path, body, content_type)
        assert got == code, status
        assert headers["Content-Type"].startswith("application/json")
        assert_status(status, code, reason)
        assert self.revision() == before, "a rejected request wrote to the store"
        return status


def assert_status(status: dict[str, Any], code: int, reason: str) -> None:
    assert status["kind"] == "Status"
    assert status["apiVersion"] == "v1"
    assert status["metadata"] == {}
    assert status["status"] == "Failure"
    assert status["code"] == code
    assert status["reason"] == reason
    assert isinstance(status["message"], str) and status["message"]


@pytest.fixture(scope="module")
def raw(api_server: Any, core: client.CoreV1Api) -> Raw:
    return Raw(api_server)


def _cm(name: str, **extra: Any) -> bytes:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    body.update(extra)
    return json.dumps(body).encode()


# ------------------------------------------------------------------------ 400


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"', "application/json"),
        (b"not json at all", "application/json"),
        (b"metadata: [unclosed\n  - : :", "application/yaml"),
        (b'["a", "list"]', "application/json"),
        (b"", "application/json"),
    ],
    ids=["truncated-json", "garbage", "malformed-yaml", "not-an-object", "empty"],
)
def test_malformed_bodies_are_400(raw: Raw, body: bytes, content_type: str) -> None:
    raw.rejected("POST", CM_URL, body, 400, "BadRequest", content_type)


def test_yaml_bodies_are_accepted(raw: Raw, core: client.CoreV1Api) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    code, _, obj = raw.request("POST", CM_URL, body, "application/yaml")
    assert code == 201, obj
    assert core.read_namespaced_config_map("from-yaml", NS).data == {"k": "v"}


def test_wrong_kind_in_the_body_is_400(raw: Raw) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrong-kind"}}).encode()
    status = raw.rejected("POST", CM_URL, body, 400, "BadRequest")
    assert "Secret" in status["message"]


def test_wrong_api_version_in_the_body_is_400(raw: Raw) -> None:
    body = json.dumps(
        {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "wrong-av"}}
    ).encode()
    status = raw.rejected("POST", CM_URL, body, 400, "BadRequest")
    assert "apps/v1" in status["message"]


def test_wrong_field_type_is_400(raw: Raw) -> None:
    body = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "wrong-type"},
            "spec": {"replicas": "three"},
        }
    ).encode()
    raw.rejected("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", body, 400, "BadRequest")


def test_namespace_in_the_body_must_match_the_url(raw: Raw) -> None:
    body = json.dumps({"metadata": {"name": "elsewhere", "namespace": "default"}}).encode()
    raw.rejected("POST", CM_URL, body, 400, "BadRequest")


def test_name_in_the_body_must_match_the_url(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "named"}})
    raw.rejected("PUT", f"{CM_URL}/named", _cm("other-name"), 400, "BadRequest")


def test_bad_dry_run_value_is_400(raw: Raw) -> None:
    raw.rejected("POST", CM_URL + "?dryRun=Everything", _cm("bad-dry-run"), 400, "BadRequest")


def test_bad_field_validation_value_is_400(raw: Raw) -> None:
    raw.rejected("POST", CM_URL + "?fieldValidation=Loose", _cm("bad-fv"), 400, "BadRequest")


# ------------------------------------------------------------------------ 404


def test_missing_object_is_404_with_details(raw: Raw) -> None:
    code, _, status = raw.request("GET", f"{CM_URL}/absent")
    assert code == 404
    assert_status(status, 404, "NotFound")
    assert status["details"] == {"name": "absent", "kind": "configmaps"}
    assert status["message"] == 'configmaps "absent" not found'
    code, _, status = raw.request("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/absent")
    assert code == 404
    assert status["details"] == {"name": "absent", "group": "apps", "kind": "deployments"}
    assert status["message"] == 'deployments.apps "absent" not found'


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/widgets"),
        ("POST", f"/api/v1/namespaces/{NS}/widgets"),
        ("GET", "/apis/example.com/v1/widgets"),
        ("POST", f"/apis/apps/v1/namespaces/{NS}/widgets"),
        ("GET", "/apis/apps/v9/deployments"),
        ("GET", "/no/such/path"),
    ],
)
def test_unknown_resources_are_404(raw: Raw, method: str, path: str) -> None:
    body = _cm("widget") if method == "POST" else None
    raw.rejected(method, path, body, 404, "NotFound")


def test_unknown_subresource_is_404(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "with-sub"}})
    raw.rejected("GET", f"{CM_URL}/with-sub/bogus", None, 404, "NotFound")


# ------------------------------------------------------------------------ 409


def test_already_exists_is_409(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "twice"}})
    status = raw.rejected("POST", CM_URL, _cm("twice"), 409, "AlreadyExists")
    assert status["details"] == {"name": "twice", "kind": "configmaps"}
    assert status["message"] == 'configmaps "twice" already exists'


def test_conflict_is_409(raw: Raw, core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "conflicted"}})
    core.patch_namespaced_config_map("conflicted", NS, {"data": {"a": "b"}})
    stale = json.dumps(
        {
            "metadata": {"name": "conflicted", "resourceVersion": cm.metadata.resource_version},
            "data": {"x": "y"},
        }
    ).encode()
    status = raw.rejected("PUT", f"{CM_URL}/conflicted", stale, 409, "Conflict")
    assert status["details"] == {"name": "conflicted", "kind": "configmaps"}


# ------------------------------------------------------------------------ 410


def test_expired_resource_version_is_410(api_server: Any, raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "aging"}, "data": {"v": "0"}})
    old = core.list_namespaced_config_map(NS).metadata.resource_version
    core.patch_namespaced_config_map("aging", NS, {"data": {"v": "1"}})
    api_server.call(api_server.server.rest.store.compact(raw.revision()))
    raw.rejected("GET", f"{CM_URL}?resourceVersion={old}&resourceVersionMatch=Exact", None, 410, "Expired")


# ------------------------------------------------------------------------ 413


def test_body_over_3_mib_is_413(raw: Raw) -> None:
    big = _cm("too-big", data={"blob": "x" * (3 * 1024 * 1024 + 10)})
    raw.rejected("POST", CM_URL, big, 413, "RequestEntityTooLarge")


def test_body_just_under_the_limit_passes_the_size_check(raw: Raw) -> None:
    # Object size rules (1 MiB for a ConfigMap) apply, but the request is read: 422, not 413.
    big = _cm("large", data={"blob": "x" * (2 * 1024 * 1024)})
    raw.rejected("POST", CM_URL, big, 422, "Invalid")


# ------------------------------------------------------------------------ 415


def test_unsupported_content_type_is_415(raw: Raw) -> None:
    raw.rejected("POST", CM_URL, b"<configmap/>", 415, "UnsupportedMediaType", "application/xml")


def test_unsupported_patch_type_is_415(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "patch-me"}})
    raw.rejected("PATCH", f"{CM_URL}/patch-me", b"{}", 415, "UnsupportedMediaType", "application/xml")


# ------------------------------------------------------------------------ 422


def test_invalid_object_is_422_with_causes(raw: Raw) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "labels": {"a/b/c": "x"}}}
    ).encode()
    status = raw.rejected("POST", CM_URL, body, 422, "Invalid")
    details = status["details"]
    assert details["name"] == "Bad_Name"
    assert details["kind"] == "ConfigMap"
    fields = {c["field"] for c in details["causes"]}
    assert "metadata.name" in fields
    assert any(f.startswith("metadata.labels") for f in fields)
    for cause in details["causes"]:
        assert cause["reason"].startswith("FieldValue")
        assert cause["message"]
    assert status["message"].startswith('ConfigMap "Bad_Name" is invalid: ')


def test_invalid_deployment_is_422_with_group(raw: Raw) -> None:
    body = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "no-selector"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
        }
    ).encode()
    status = raw.rejected("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", body, 422, "Invalid")
    assert status["details"]["group"] == "apps"
    assert status["details"]["kind"] == "Deployment"
    assert status["message"].startswith('Deployment.apps "no-selector" is invalid: ')
    assert any(c["field"] == "spec.selector" for c in status["details"]["causes"])


def test_invalid_update_changes_nothing(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(
        NS, {"metadata": {"name": "immutable"}, "immutable": True, "data": {"a": "Yg=="}}
    )
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_secret("immutable", NS, {"data": {"a": "Yw=="}})
    assert exc.value.status == 422
    assert core.read_namespaced_secret("immutable", NS).data == {"a": "Yg=="}


# ------------------------------------------------------------- other statuses


def test_post_on_a_named_object_is_405(raw: Raw, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "no-post"}})
    raw.rejected("POST", f"{CM_URL}/no-post", _cm("no-post"), 405, "MethodNotAllowed")


def test_client_sees_status_in_api_exception(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("nope", NS)
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["reason"] == "NotFound"


# --------------------------------------------- namespaced kinds without a namespace


def test_create_needs_a_namespace_in_the_path(raw: Raw) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nsless", "namespace": NS}}
    )
    raw.rejected("POST", "/api/v1/configmaps", body.encode(), 405, "MethodNotAllowed")


def test_delete_collection_needs_a_namespace_in_the_path(raw: Raw, core: client.CoreV1Api) -> None:
    # Last in this module: while the bug lasts, it empties every namespace of ConfigMaps.
    core.create_namespaced_config_map(NS, {"metadata": {"name": "survives"}})
    code, _, _ = raw.request("DELETE", "/api/v1/configmaps", None)
    assert code == 405
    assert core.read_namespaced_config_map("survives", NS)
