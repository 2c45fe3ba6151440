"""kubectl's client-side validation against ``/openapi/v2`` as protobuf.

A ``kind: List`` is not in any OpenAPI v3 document, so kubectl validates it
itself: it fetches ``/openapi/v2`` as gnostic protobuf and checks every item
against the definitions (with a JSON body it failed with ``proto: cannot
parse invalid wire-format data``). Older kubectl does the same for every
object.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from serverproc import Kubectl, KubeliteServer

PROTO = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
KUBECTL_1_29 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.29")

LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-cm}
  data: {color: blue}
- apiVersion: v1
  kind: Secret
  metadata: {name: listed-secret}
  stringData: {password: hunter2}
"""

BAD_LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: fine-cm}
  data: {a: b}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: bad-deploy}
  spec:
    selector: {matchLabels: {app: bad}}
    template:
      metadata: {labels: {app: bad}}
      spec:
        containers:
        - name: c
          image: busybox
          imagePullPolice: Always
"""


def test_openapi_v2_is_served_as_protobuf_when_asked(kubectl: Kubectl, kube_api_client: Any) -> None:
    raw = kubectl("get", "--raw", "/openapi/v2", check=True).stdout
    assert json.loads(raw)["swagger"] == "2.0", "JSON unless protobuf is asked for"

    def get(**headers: str) -> Any:
        url = kube_api_client.configuration.host + "/openapi/v2"
        return kube_api_client.call_api("GET", url, header_params={"Accept": PROTO, **headers})

    response = get()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert response.read()[:6] == b"\n\x032.0\x12", "a Document message starting with swagger: 2.0"
    etag = response.getheader("ETag")
    assert etag.startswith('"')
    assert get(**{"If-None-Match": etag}).status == 304


def test_create_and_apply_a_list_with_validation(kn: Kubectl) -> None:
    created = kn("create", "-f", "-", "--validate=true", input=LIST)
    assert created.returncode == 0, created.stderr
    assert created.stdout.split() == ["configmap/listed-cm", "created", "secret/listed-secret", "created"]
    assert kn("get", "configmap", "listed-cm", "-o", "jsonpath={.data.color}", check=True).stdout == "blue"

    applied = kn("apply", "-f", "-", input=LIST.replace("blue", "green"))
    assert applied.returncode == 0, applied.stderr
    assert "configmap/listed-cm configured" in applied.stdout
    assert kn("get", "configmap", "listed-cm", "-o", "jsonpath={.data.color}", check=True).stdout == "green"


def test_a_list_with_an_unknown_field_is_rejected(kn: Kubectl) -> None:
    for verb in ("create", "apply"):
        result = kn(verb, "-f", "-", input=BAD_LIST)
        assert result.returncode != 0, result.stdout
        assert "ValidationError" in result.stderr
        assert 'unknown field "imagePullPolice"' in result.stderr
        assert "io.k8s.api.core.v1.Container" in result.stderr
    # validation happens before any write
    missing = kn("get", "configmap", "fine-cm")
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_kubectl_1_29_applies_a_single_object(
    kubelite_server: KubeliteServer, namespace: str, tmp_path: Path
) -> None:
    if not KUBECTL_1_29.exists():
        pytest.skip(f"{KUBECTL_1_29} is not installed")
    argv = [str(KUBECTL_1_29), "--kubeconfig", str(kubelite_server.kubeconfig)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "-n", namespace]
    env = kubelite_server.env(home=tmp_path / "home")

    def k(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], input=input, capture_output=True, text=True, env=env, timeout=60
        )

    single = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: single}\ndata: {k: VALUE}\n"
    for value, outcome in (("one", "created"), ("two", "configured")):
        result = k("apply", "-f", "-", input=single.replace("VALUE", value))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"configmap/single {outcome}"
    assert k("get", "configmap", "single", "-o", "jsonpath={.data.k}").stdout == "two"
    listed = k("apply", "-f", "-", input=LIST)
    assert listed.returncode == 0, listed.stderr
    rejected = k("apply", "-f", "-", input=BAD_LIST)
    assert rejected.returncode != 0 and 'unknown field "imagePullPolice"' in rejected.stderr
