"""fieldValidation=Strict and Warn on creates: unknown and duplicate fields, the same for
every body of a shape (the server remembers per shape which fields are unknown), and a
body written as compact JSON (as kubectl writes it) checked for duplicates all the same."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import orjson
import pytest

NS = "field-validation"
PODS = f"/api/v1/namespaces/{NS}/pods"


def send(server: Any, method: str, path: str, body: bytes) -> tuple[int, list[str], Any]:
    req = urllib.request.Request(
        server.url + path, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get_all("Warning") or [], json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_all("Warning") or [], json.loads(e.read())


@pytest.fixture(scope="module")
def server(api_server: Any) -> Any:
    code, _, body = send(api_server, "POST", "/api/v1/namespaces", orjson.dumps({"metadata": {"name": NS}}))
    assert code == 201, body
    return api_server


def pod(name: str, image: str = "busybox", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": image, **container}]},
    }


def test_strict_names_unknown_fields_for_every_body_of_a_shape(server: Any) -> None:
    for name, image in (("strict-a", "busybox"), ("strict-b", "nginx:1.27")):
        body = pod(name, image, bogus=1)
        body["spec"]["extra"] = {"x": True}
        code, _, status = send(server, "POST", PODS + "?fieldValidation=Strict", orjson.dumps(body))
        assert code == 400, status
        assert status["message"] == (
            'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
            'unknown field "spec.containers[0].bogus", unknown field "spec.extra"'
        )
    # The same shape without the unknown members is accepted, as compact JSON and spaced.
    code, warnings, created = send(
        server, "POST", PODS + "?fieldValidation=Strict", orjson.dumps(pod("ok-a"))
    )
    assert (code, warnings) == (201, []), created
    spaced = json.dumps(pod("ok-b"), indent=2).encode() + b"\n"
    code, warnings, created = send(server, "POST", PODS + "?fieldValidation=Strict", spaced)
    assert (code, warnings) == (201, []), created


@pytest.mark.parametrize("spaced", [False, True])
def test_strict_finds_duplicate_fields_in_compact_and_spaced_json(server: Any, spaced: bool) -> None:
    sep = ", " if spaced else ","
    body = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup"' + sep + '"name":"dup2"},'
        '"spec":{"containers":[{"name":"main","image":"busybox"' + sep + '"image":"nginx"}]}}'
    ).encode()
    code, _, status = send(server, "POST", PODS + "?fieldValidation=Strict", body)
    assert code == 400, status
    assert status["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'duplicate field "name", duplicate field "image"'
    )


def test_warn_reports_unknown_and_duplicate_fields_as_warnings(server: Any) -> None:
    body = orjson.dumps(pod("warned", bogus="x"))[:-1] + b',"kind":"Pod"}'
    code, warnings, created = send(server, "POST", PODS + "?fieldValidation=Warn", body)
    assert code == 201, created
    assert warnings == [
        '299 - "unknown field \\"spec.containers[0].bogus\\""',
        '299 - "duplicate field \\"kind\\""',
    ]
    code, warnings, created = send(server, "POST", PODS + "?fieldValidation=Warn", orjson.dumps(pod("clean")))
    assert (code, warnings) == (201, []), created
