"""The everyday kubectl verbs against ``kubelite server`` (issue 2): create from JSON and
YAML, the output formats, labels and annotations, the three patch types, replace with
optimistic concurrency, delete, watch, and label and field selectors."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from serverproc import Kubectl

K = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def k(kn: Kubectl) -> K:
    return kn


def out(k: K, *args: str, input: str | None = None) -> str:
    return str(k(*args, input=input, check=True).stdout)


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_create_from_json_and_yaml(k: K, namespace: str) -> None:
    assert out(k, "create", "-f", "-", input=json.dumps(configmap("from-json", a="1"))).strip() == (
        "configmap/from-json created"
    )
    assert out(k, "create", "-f", "-", input=yaml.safe_dump(configmap("from-yaml", b="2"))).strip() == (
        "configmap/from-yaml created"
    )
    got = json.loads(out(k, "get", "configmap", "from-json", "-o", "json"))
    assert got["data"] == {"a": "1"}
    assert got["metadata"]["namespace"] == namespace
    assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"]
    assert got["metadata"]["creationTimestamp"]
    assert yaml.safe_load(out(k, "get", "configmap", "from-yaml", "-o", "yaml"))["data"] == {"b": "2"}


def test_create_a_multi_document_yaml(k: K) -> None:
    docs = yaml.safe_dump_all([configmap("one", a="1"), configmap("two", a="2")])
    assert out(k, "create", "-f", "-", input=docs).split("\n")[:2] == [
        "configmap/one created",
        "configmap/two created",
    ]
    assert {"configmap/one", "configmap/two"} <= set(out(k, "get", "configmaps", "-o", "name").split())


def test_output_formats(k: K, namespace: str) -> None:
    k(
        "create",
        "-f",
        "-",
        input=json.dumps(configmap("fmt", labels={"tier": "web"}, a="1", b="two")),
        check=True,
    )
    assert out(k, "get", "configmap", "fmt", "-o", "name") == "configmap/fmt\n"
    assert out(k, "get", "configmap", "fmt", "-o", "jsonpath={.data.b}") == "two"
    assert out(k, "get", "configmap", "fmt", "-o", "jsonpath={.metadata.labels.tier}") == "web"
    as_json = json.loads(out(k, "get", "configmap", "fmt", "-o", "json"))
    as_yaml = yaml.safe_load(out(k, "get", "configmap", "fmt", "-o", "yaml"))
    assert as_json == as_yaml
    assert as_json["kind"] == "ConfigMap" and as_json["apiVersion"] == "v1"
    listed = json.loads(out(k, "get", "configmaps", "-o", "json"))
    assert listed["kind"] == "List"
    assert "fmt" in [item["metadata"]["name"] for item in listed["items"]]
    assert all(item["kind"] == "ConfigMap" for item in listed["items"])
    names = out(k, "get", "configmaps", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert "fmt" in names


def test_label_and_annotate(k: K) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("lab", a="1")), check=True)
    assert out(k, "label", "configmap", "lab", "tier=web").strip() == "configmap/lab labeled"
    assert out(k, "annotate", "configmap", "lab", "note=hello world").strip() == "configmap/lab annotated"
    meta = json.loads(out(k, "get", "configmap", "lab", "-o", "json"))["metadata"]
    assert meta["labels"] == {"tier": "web"}
    assert meta["annotations"]["note"] == "hello world"

    # an existing key needs --overwrite, as in Kubernetes
    refused = k("label", "configmap", "lab", "tier=db")
    assert refused.returncode != 0
    assert "already has a value" in refused.stderr
    refused = k("annotate", "configmap", "lab", "note=again")
    assert refused.returncode != 0
    assert "already has a value" in refused.stderr
    k("label", "configmap", "lab", "tier=db", "--overwrite", check=True)
    k("annotate", "configmap", "lab", "note=again", "--overwrite", check=True)
    meta = json.loads(out(k, "get", "configmap", "lab", "-o", "json"))["metadata"]
    assert meta["labels"] == {"tier": "db"}
    assert meta["annotations"]["note"] == "again"

    assert out(k, "label", "configmap", "lab", "tier-").strip() == "configmap/lab unlabeled"
    k("annotate", "configmap", "lab", "note-", check=True)
    meta = json.loads(out(k, "get", "configmap", "lab", "-o", "json"))["metadata"]
    assert "tier" not in meta.get("labels", {})
    assert "note" not in meta.get("annotations", {})


def test_patch_merge_json_and_strategic(k: K) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("pat", a="1", b="2")), check=True)
    assert out(k, "patch", "configmap", "pat", "--type", "merge", "-p", '{"data":{"a":"3"}}').strip() == (
        "configmap/pat patched"
    )
    assert out(k, "get", "configmap", "pat", "-o", "jsonpath={.data.a}") == "3"
    k("patch", "configmap", "pat", "--type", "json", "-p", '[{"op":"remove","path":"/data/b"}]', check=True)
    assert json.loads(out(k, "get", "configmap", "pat", "-o", "json"))["data"] == {"a": "3"}
    failed = k(
        "patch", "configmap", "pat", "--type", "json", "-p", '[{"op":"test","path":"/data/a","value":"no"}]'
    )
    assert failed.returncode != 0
    # a patch that changes nothing is reported as such
    assert "(no change)" in out(k, "patch", "configmap", "pat", "--type", "merge", "-p", '{"data":{"a":"3"}}')

    # strategic merge on a kind with merge keys: containers merge by name, env by name
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sm"},
        "spec": {
            "selector": {"matchLabels": {"app": "sm"}},
            "template": {
                "metadata": {"labels": {"app": "sm"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox"},
                    ]
                },
            },
        },
    }
    k("create", "-f", "-", input=json.dumps(deployment), check=True)
    patch = {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}
    k(
        "patch",
        "deployment",
        "sm",
        "--type",
        "strategic",
        "-p",
        json.dumps({"spec": {"template": {"spec": {"containers": [patch]}}}}),
        check=True,
    )

    def containers() -> list[dict[str, object]]:
        got = json.loads(out(k, "get", "deployment", "sm", "-o", "json"))
        return got["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]

    assert [c["name"] for c in containers()] == ["app", "side"]
    assert containers()[0]["image"] == "nginx:2"
    assert {e["name"]: e["value"] for e in containers()[0]["env"]} == {"A": "1", "B": "2"}  # type: ignore[attr-defined]
    # $patch: delete removes one element by its merge key (strategic is kubectl's default type)
    remove = {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}
    k(
        "patch",
        "deployment",
        "sm",
        "-p",
        json.dumps({"spec": {"template": {"spec": {"containers": [remove]}}}}),
        check=True,
    )
    assert [e["name"] for e in containers()[0]["env"]] == ["B"]  # type: ignore[attr-defined]
    # a merge patch replaces the whole list instead
    k(
        "patch",
        "deployment",
        "sm",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}}),
        check=True,
    )
    assert [c["name"] for c in containers()] == ["only"]


def test_replace_and_stale_resource_version(k: K, tmp_path: Path) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("rep", a="1")), check=True)
    current = json.loads(out(k, "get", "configmap", "rep", "-o", "json"))
    current["data"] = {"a": "replaced"}
    path = tmp_path / "rep.json"
    path.write_text(json.dumps(current))
    assert out(k, "replace", "-f", str(path)).strip() == "configmap/rep replaced"
    assert out(k, "get", "configmap", "rep", "-o", "jsonpath={.data.a}") == "replaced"

    # the file still carries the old resourceVersion: the second replace must be refused
    path.write_text(json.dumps(dict(current, data={"a": "stale"})))
    stale = k("replace", "-f", str(path))
    assert stale.returncode != 0
    assert "Conflict" in stale.stderr or "the object has been modified" in stale.stderr, stale.stderr
    assert out(k, "get", "configmap", "rep", "-o", "jsonpath={.data.a}") == "replaced"

    # without a resourceVersion, replace is unconditional
    del current["metadata"]["resourceVersion"]
    path.write_text(json.dumps(dict(current, data={"a": "forced"})))
    k("replace", "-f", str(path), check=True)
    assert out(k, "get", "configmap", "rep", "-o", "jsonpath={.data.a}") == "forced"

    # replace of something that does not exist is NotFound
    path.write_text(json.dumps(configmap("absent", a="1")))
    missing = k("replace", "-f", str(path))
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr or "not found" in missing.stderr


def test_delete(k: K) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("gone", a="1")), check=True)
    assert out(k, "delete", "configmap", "gone").strip() == 'configmap "gone" deleted'
    missing = k("get", "configmap", "gone")
    assert missing.returncode != 0
    assert 'configmaps "gone" not found' in missing.stderr
    again = k("delete", "configmap", "gone")
    assert again.returncode != 0
    assert 'configmaps "gone" not found' in again.stderr
    assert k("delete", "configmap", "gone", "--ignore-not-found").returncode == 0
    for name in ("d1", "d2", "d3"):
        k("create", "-f", "-", input=json.dumps(configmap(name, labels={"del": "me"}, a="1")), check=True)
    k("delete", "configmaps", "-l", "del=me", check=True)
    assert out(k, "get", "configmaps", "-l", "del=me", "-o", "name") == ""


def test_get_watch_sees_a_change(
    kubectl_argv: tuple[list[str], dict[str, str]], k: K, namespace: str
) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("watched", a="1")), check=True)
    argv, env = kubectl_argv
    cmd = [
        *argv,
        "-n",
        namespace,
        "get",
        "configmap",
        "watched",
        "--watch",
        "--request-timeout=20s",
        "-o",
        "jsonpath={.data.a}{'\\n'}",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as watch:
        try:
            assert watch.stdout is not None
            assert watch.stdout.readline().strip() == "1"
            k("patch", "configmap", "watched", "--type", "merge", "-p", '{"data":{"a":"seen"}}', check=True)
            assert watch.stdout.readline().strip() == "seen"
        finally:
            watch.kill()
            watch.wait()


def test_get_watch_table_prints_a_row_per_event(
    kubectl_argv: tuple[list[str], dict[str, str]], k: K, namespace: str
) -> None:
    k("create", "-f", "-", input=json.dumps(configmap("wt", a="1")), check=True)
    argv, env = kubectl_argv
    cmd = [
        *argv,
        "-n",
        namespace,
        "get",
        "configmaps",
        "--watch",
        "--request-timeout=20s",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as watch:
        try:
            assert watch.stdout is not None
            assert watch.stdout.readline().split() == ["NAME", "DATA", "AGE"]
            lines = [watch.stdout.readline().split()]
            if lines[0][0] != "wt":  # kube-root-ca.crt, when a controller made it
                lines.append(watch.stdout.readline().split())
            assert lines[-1][:2] == ["wt", "1"]
            time.sleep(0.2)
            k("create", "-f", "-", input=json.dumps(configmap("wt2", a="1", b="2")), check=True)
            assert watch.stdout.readline().split()[:2] == ["wt2", "2"]
        finally:
            watch.kill()
            watch.wait()


def test_label_selectors(k: K) -> None:
    for name, labels in {
        "web": {"tier": "web", "env": "prod"},
        "db": {"tier": "db", "env": "prod"},
        "cache": {"tier": "cache"},
        "plain": {},
    }.items():
        k("create", "-f", "-", input=json.dumps(configmap(name, labels=labels, a="1")), check=True)

    def names(*selector: str) -> set[str]:
        return {
            n.removeprefix("configmap/") for n in out(k, "get", "configmaps", *selector, "-o", "name").split()
        }

    assert names("-l", "tier=web") == {"web"}
    assert names("-l", "tier==web") == {"web"}
    assert names("-l", "tier!=web") >= {"db", "cache", "plain"}
    assert "web" not in names("-l", "tier!=web")
    assert names("-l", "tier in (db,cache)") == {"db", "cache"}
    assert names("-l", "tier notin (db,cache),tier") == {"web"}
    assert names("-l", "env") == {"web", "db"}
    assert names("-l", "!env,tier") == {"cache"}
    assert names("-l", "tier,tier!=web") == {"db", "cache"}
    assert names("-l", "env=prod,tier=db") == {"db"}
    assert names("-l", "tier=nothing") == set()
    bad = k("get", "configmaps", "-l", "tier in (")
    assert bad.returncode != 0


def test_field_selectors(k: K, namespace: str) -> None:
    for name in ("f1", "f2", "f3"):
        k("create", "-f", "-", input=json.dumps(configmap(name, a="1")), check=True)
    assert (
        out(k, "get", "configmaps", "--field-selector", "metadata.name=f2", "-o", "name") == "configmap/f2\n"
    )
    rest = set(out(k, "get", "configmaps", "--field-selector", "metadata.name!=f2", "-o", "name").split())
    assert {"configmap/f1", "configmap/f3"} <= rest
    assert "configmap/f2" not in rest
    assert out(
        k,
        "get",
        "configmaps",
        "--field-selector",
        f"metadata.namespace={namespace},metadata.name=f3",
        "-o",
        "name",
    ) == ("configmap/f3\n")
    # pods support status.phase and spec.nodeName, as in Kubernetes
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "fs"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    k("create", "-f", "-", input=json.dumps(pod), check=True)
    assert out(k, "get", "pods", "--field-selector", "spec.nodeName=", "-o", "name") == "pod/fs\n"
    assert out(k, "get", "pods", "--field-selector", "spec.nodeName=elsewhere", "-o", "name") == ""
    # a field a kind does not index is refused, not ignored
    bad = k("get", "configmaps", "--field-selector", "data.a=1")
    assert bad.returncode != 0
    assert "field label not supported" in bad.stderr or "BadRequest" in bad.stderr, bad.stderr
