"""kubectl output and generators as users know them from Kubernetes (issue 3): table headers
and their -o wide, --show-labels, -A, --sort-by, custom-columns, chunked lists and ``get
all``; api-resources and explain; the ``kubectl create <kind>`` generators (protobuf
bodies); client-side and server-side apply with conflicts; strict validation; wait,
scale, diff and raw GETs; and a representative subset across kubectl minor versions."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from serverproc import Kubectl, KubeliteServer


def out(k: Kubectl, *args: str, input: str | None = None) -> str:
    return k(*args, input=input, check=True).stdout


def columns(line: str) -> list[str]:
    """A table line split into cells (cells are separated by at least two spaces)."""
    return re.split(r"\s{2,}", line.strip())


def header(k: Kubectl, *args: str) -> list[str]:
    lines = out(k, "get", *args).splitlines()
    assert lines, f"kubectl get {' '.join(args)} printed nothing"
    return columns(lines[0])


def rows(k: Kubectl, *args: str) -> dict[str, list[str]]:
    """Table rows by their first cell."""
    return {columns(line)[0]: columns(line) for line in out(k, "get", *args).splitlines()[1:] if line.strip()}


def apply(k: Kubectl, manifest: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return k("apply", *flags, "-f", "-", input=manifest)


def get_json(k: Kubectl, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(out(k, "get", *args, "-o", "json"))  # type: ignore[no-any-return]


EVENT = """
apiVersion: v1
kind: Event
metadata: {name: ev1}
involvedObject: {kind: Pod, name: p1, namespace: NS}
reason: Testing
message: hello there
type: Normal
count: 1
firstTimestamp: "2024-01-01T00:00:00Z"
lastTimestamp: "2024-01-01T00:00:00Z"
"""


@pytest.fixture
def populated(kn: Kubectl, namespace: str) -> str:
    """A namespace with one object of each kind the table tests look at."""
    kn("run", "p1", "--image=nginx", "--labels=app=p1", check=True)
    kn("create", "deployment", "web", "--image=nginx", "--replicas=2", check=True)
    kn("create", "service", "clusterip", "svc", "--tcp=80:8080", check=True)
    kn("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2", check=True)
    kn("create", "secret", "generic", "sec", "--from-literal=k=v", check=True)
    kn("create", "-f", "-", input=EVENT.replace("NS", namespace), check=True)
    return namespace


TABLE_HEADERS = {
    "pods": ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
    "deployments": ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
    "services": ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
    "configmaps": ["NAME", "DATA", "AGE"],
    "secrets": ["NAME", "TYPE", "DATA", "AGE"],
    "events": ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
}
WIDE_EXTRA = {
    "pods": ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
    "deployments": ["CONTAINERS", "IMAGES", "SELECTOR"],
    "services": ["SELECTOR"],
    "configmaps": [],
    "secrets": [],
}


def test_table_headers(kn: Kubectl, kubectl: Kubectl, populated: str) -> None:
    for resource, expected in TABLE_HEADERS.items():
        assert header(kn, resource) == expected, resource
    assert header(kubectl, "namespaces") == ["NAME", "STATUS", "AGE"]
    table = rows(kn, "configmaps")
    assert table["cfg"][:2] == ["cfg", "2"]
    assert rows(kn, "secrets")["sec"][:3] == ["sec", "Opaque", "1"]
    web = rows(kn, "deployments")["web"]  # controllers may be running: counts vary
    assert len(web) == 5 and re.fullmatch(r"\d/2", web[1]) and web[2].isdigit() and web[3].isdigit()
    assert rows(kn, "pods")["p1"][:4] == ["p1", "0/1", "Pending", "0"]
    svc = rows(kn, "services")["svc"]
    assert svc[1] == "ClusterIP" and svc[3] == "<none>" and svc[4] == "80/TCP"
    assert ipaddress.ip_address(svc[2]) in ipaddress.ip_network("10.43.0.0/16")
    event = out(kn, "get", "events").splitlines()[1]
    assert "Normal" in event and "Testing" in event and "pod/p1" in event and "hello there" in event
    assert rows(kubectl, "namespaces")[populated][1] == "Active"


def test_wide_output_adds_the_priority_columns(kn: Kubectl, populated: str) -> None:
    for resource, extra in WIDE_EXTRA.items():
        assert header(kn, resource, "-o", "wide") == TABLE_HEADERS[resource] + extra, resource
    web = rows(kn, "deployments", "-o", "wide")["web"]
    assert web[-3:] == ["nginx", "nginx", "app=web"]
    assert rows(kn, "services", "-o", "wide")["svc"][-1] == "app=svc"
    assert header(kn, "events", "-o", "wide") == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]


def test_show_labels_all_namespaces_and_sort_by(kn: Kubectl, kubectl: Kubectl, populated: str) -> None:
    assert header(kn, "pods", "--show-labels") == TABLE_HEADERS["pods"] + ["LABELS"]
    assert rows(kn, "pods", "--show-labels")["p1"][-1] == "app=p1"
    assert rows(kn, "configmaps", "--show-labels")["cfg"][-1] == "<none>"

    assert header(kubectl, "configmaps", "-A") == ["NAMESPACE", "NAME", "DATA", "AGE"]
    everywhere = [columns(line) for line in out(kubectl, "get", "configmaps", "-A").splitlines()[1:]]
    assert [populated, "cfg", "2"] in [row[:3] for row in everywhere]
    assert header(kubectl, "pods", "--all-namespaces", "-o", "wide")[:2] == ["NAMESPACE", "NAME"]

    for name in ("zeta", "alpha", "mid"):
        kn("create", "configmap", name, check=True)
    names = [
        columns(line)[0] for line in out(kn, "get", "configmaps", "--sort-by=.metadata.name").splitlines()[1:]
    ]
    assert names == sorted(names)
    assert {"alpha", "cfg", "mid", "zeta"} <= set(names)
    kn("label", "configmap", "zeta", "order=1", check=True)
    kn("label", "configmap", "alpha", "order=2", check=True)
    by_label = out(kn, "get", "configmaps", "-l", "order", "--sort-by=.metadata.labels.order", "-o", "name")
    assert by_label.split() == ["configmap/zeta", "configmap/alpha"]


def test_custom_columns(kn: Kubectl, populated: str) -> None:
    lines = out(kn, "get", "configmaps", "-o", "custom-columns=NAME:.metadata.name,DATA:.data").splitlines()
    assert columns(lines[0]) == ["NAME", "DATA"]
    assert ["cfg", "map[a:1 b:2]"] in [columns(line) for line in lines[1:]]
    spec = "custom-columns=POD:.metadata.name,IMAGE:.spec.containers[0].image"
    lines = out(kn, "get", "pods", "-l", "app=p1", "-o", spec).splitlines()
    assert [columns(line) for line in lines] == [["POD", "IMAGE"], ["p1", "nginx"]]


def test_chunked_lists(kn: Kubectl) -> None:
    for i in range(5):
        kn("create", "configmap", f"chunk-{i}", f"--from-literal=i={i}", check=True)
    names = [columns(line)[0] for line in out(kn, "get", "configmaps", "--chunk-size=2").splitlines()[1:]]
    assert [n for n in names if n.startswith("chunk-")] == [f"chunk-{i}" for i in range(5)]
    assert len(names) == len(set(names))
    as_json = json.loads(out(kn, "get", "configmaps", "--chunk-size=2", "-o", "json"))
    assert [
        i["metadata"]["name"] for i in as_json["items"] if i["metadata"]["name"].startswith("chunk-")
    ] == [f"chunk-{i}" for i in range(5)]
    # -v=6 shows the continue tokens kubectl followed
    traced = kn("get", "configmaps", "--chunk-size=2", "-o", "name", "-v=6", check=True)
    assert "continue=" in traced.stderr
    assert traced.stdout.split() == out(kn, "get", "configmaps", "-o", "name").split()


def test_get_all(kn: Kubectl, populated: str) -> None:
    text = out(kn, "get", "all")
    assert "pod/p1" in text
    assert "service/svc" in text
    assert "deployment.apps/web" in text
    # objects outside the "all" category are not listed
    assert "configmap/" not in text and "secret/" not in text
    assert "NAME" in text and "READY" in text and "CLUSTER-IP" in text


def test_api_resources_short_names_and_categories(kubectl: Kubectl) -> None:
    table = {columns(line)[0]: columns(line) for line in out(kubectl, "api-resources").splitlines()[1:]}
    expect = {
        "pods": "po",
        "services": "svc",
        "deployments": "deploy",
        "replicasets": "rs",
        "statefulsets": "sts",
        "daemonsets": "ds",
        "namespaces": "ns",
        "nodes": "no",
        "configmaps": "cm",
        "serviceaccounts": "sa",
        "persistentvolumeclaims": "pvc",
        "cronjobs": "cj",
        "horizontalpodautoscalers": "hpa",
        "ingresses": "ing",
    }
    for plural, short in expect.items():
        assert plural in table, plural
        assert table[plural][1] == short, (plural, table[plural])
    assert table["secrets"][1] == "v1"  # no short name: the APIVERSION column comes next
    assert table["deployments"][2:] == ["apps/v1", "true", "Deployment"]
    assert table["namespaces"][2:] == ["v1", "false", "Namespace"]
    in_all = {columns(line)[0] for line in out(kubectl, "api-resources", "--categories=all").splitlines()[1:]}
    assert {
        "pods",
        "services",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
    } <= (in_all)
    assert "configmaps" not in in_all
    assert out(kubectl, "api-resources", "--namespaced=false", "-o", "name").count("namespaces\n") == 1
    assert "deploy" in out(kubectl, "api-resources", "--api-group=apps")


def test_short_names_resolve(kn: Kubectl, populated: str) -> None:
    assert out(kn, "get", "cm", "cfg", "-o", "name") == "configmap/cfg\n"
    assert out(kn, "get", "deploy", "web", "-o", "name") == "deployment.apps/web\n"
    assert out(kn, "get", "svc", "svc", "-o", "name") == "service/svc\n"
    assert out(kn, "get", "po", "p1", "-o", "name") == "pod/p1\n"
    assert out(kn, "get", "deployments.apps", "web", "-o", "name") == "deployment.apps/web\n"


def test_explain(kubectl: Kubectl) -> None:
    text = out(kubectl, "explain", "pods.spec.containers")
    assert "KIND:       Pod" in text
    assert "VERSION:    v1" in text
    assert "FIELD: containers <[]Container>" in text
    for field in ("image", "name", "ports", "env", "resources"):
        assert re.search(rf"^  {field}\t?\s*<", text, re.M), field
    assert re.search(r"^  name\s+<string> -required-", text, re.M)
    text = out(kubectl, "explain", "deployment.spec.strategy")
    assert "GROUP:      apps" in text
    assert "KIND:       Deployment" in text
    assert "FIELD: strategy <DeploymentStrategy>" in text
    assert re.search(r"^  rollingUpdate\s+<RollingUpdateDeployment>", text, re.M)
    assert re.search(r"^  type\s+<string>", text, re.M)
    recursive = out(kubectl, "explain", "deployment.spec.strategy", "--recursive")
    assert "maxSurge" in recursive and "maxUnavailable" in recursive
    missing = kubectl("explain", "pods.spec.nosuchfield")
    assert missing.returncode != 0
    assert "nosuchfield" in missing.stderr


def test_create_secrets(kn: Kubectl, tmp_path: Path) -> None:
    kn(
        "create",
        "secret",
        "generic",
        "gen",
        "--from-literal=user=admin",
        "--from-literal=password=s3cr3t",
        check=True,
    )
    secret = get_json(kn, "secret", "gen")
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "user": "admin",
        "password": "s3cr3t",
    }
    (tmp_path / "key.txt").write_text("from a file\n")
    kn("create", "secret", "generic", "filed", f"--from-file={tmp_path / 'key.txt'}", check=True)
    assert base64.b64decode(get_json(kn, "secret", "filed")["data"]["key.txt"]) == b"from a file\n"

    kn(
        "create",
        "secret",
        "docker-registry",
        "reg",
        "--docker-server=registry.example.com",
        "--docker-username=u",
        "--docker-password=p",
        check=True,
    )
    reg = get_json(kn, "secret", "reg")
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.com"]["username"] == "u"
    assert rows(kn, "secrets")["reg"][1:3] == ["kubernetes.io/dockerconfigjson", "1"]


def test_create_tls_secret(kn: Kubectl, tmp_path: Path) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.example.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    kn(
        "create",
        "secret",
        "tls",
        "tls",
        f"--cert={tmp_path / 'tls.crt'}",
        f"--key={tmp_path / 'tls.key'}",
        check=True,
    )
    secret = get_json(kn, "secret", "tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key"}
    assert base64.b64decode(secret["data"]["tls.crt"]) == (tmp_path / "tls.crt").read_bytes()


def test_create_configmap_from_literal_and_file(kn: Kubectl, tmp_path: Path) -> None:
    (tmp_path / "app.properties").write_text("color=blue\nsize=3\n")
    (tmp_path / "other.txt").write_text("x")
    kn(
        "create",
        "configmap",
        "mixed",
        "--from-literal=greeting=hello",
        f"--from-file={tmp_path / 'app.properties'}",
        f"--from-file=renamed={tmp_path / 'other.txt'}",
        check=True,
    )
    assert get_json(kn, "configmap", "mixed")["data"] == {
        "greeting": "hello",
        "app.properties": "color=blue\nsize=3\n",
        "renamed": "x",
    }
    kn("create", "configmap", "envfile", f"--from-env-file={tmp_path / 'app.properties'}", check=True)
    assert get_json(kn, "configmap", "envfile")["data"] == {"color": "blue", "size": "3"}
    (tmp_path / "bin").write_bytes(b"\x00\xff\x01")
    kn("create", "configmap", "binary", f"--from-file={tmp_path / 'bin'}", check=True)
    assert base64.b64decode(get_json(kn, "configmap", "binary")["binaryData"]["bin"]) == b"\x00\xff\x01"


def test_create_namespace(kubectl: Kubectl) -> None:
    name = f"created-{time.monotonic_ns() % 10**8}"
    assert out(kubectl, "create", "namespace", name).strip() == f"namespace/{name} created"
    try:
        assert rows(kubectl, "namespace", name)[name][1] == "Active"
        ns = get_json(kubectl, "namespace", name)
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def test_create_workload_generators(kn: Kubectl) -> None:
    kn("create", "deployment", "dep", "--image=nginx:1.27", "--replicas=3", "--port=80", check=True)
    dep = get_json(kn, "deployment", "dep")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "dep"}}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27" and container["ports"][0]["containerPort"] == 80
    # defaults a user sees in Kubernetes
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    assert dep["spec"]["revisionHistoryLimit"] == 10
    assert container["imagePullPolicy"] == "IfNotPresent"

    kn("create", "job", "once", "--image=busybox", "--", "echo", "hi", check=True)
    job = get_json(kn, "job", "once")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    kn("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date", check=True)
    cron = get_json(kn, "cronjob", "tick")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]
    assert header(kn, "cronjobs") == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ]
    assert rows(kn, "cronjobs")["tick"][1:4] == ["*/5 * * * *", "<none>", "False"]
    assert header(kn, "jobs")[0] == "NAME" and "COMPLETIONS" in header(kn, "jobs")
    # a job created from the cronjob
    kn("create", "job", "manual", "--from=cronjob/tick", check=True)
    manual = get_json(kn, "job", "manual")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


def test_create_services(kn: Kubectl) -> None:
    kn("create", "service", "clusterip", "cip", "--tcp=80:8080", check=True)
    kn("create", "service", "nodeport", "np", "--tcp=443:8443", check=True)
    kn("create", "service", "clusterip", "headless", "--clusterip=None", check=True)
    cip = get_json(kn, "service", "cip")
    assert cip["spec"]["type"] == "ClusterIP"
    assert ipaddress.ip_address(cip["spec"]["clusterIP"]) in ipaddress.ip_network("10.43.0.0/16")
    assert cip["spec"]["clusterIPs"] == [cip["spec"]["clusterIP"]]
    assert cip["spec"]["ports"][0]["targetPort"] == 8080
    np = get_json(kn, "service", "np")
    assert np["spec"]["type"] == "NodePort"
    node_port = np["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    assert ipaddress.ip_address(np["spec"]["clusterIP"]) in ipaddress.ip_network("10.43.0.0/16")
    assert cip["spec"]["clusterIP"] != np["spec"]["clusterIP"]
    assert rows(kn, "services")["np"][4] == f"443:{node_port}/TCP"
    assert get_json(kn, "service", "headless")["spec"]["clusterIP"] == "None"
    assert rows(kn, "services")["headless"][2] == "None"


def test_create_quota_serviceaccount_role_rolebinding(kn: Kubectl, namespace: str) -> None:
    kn("create", "quota", "q", "--hard=pods=10,requests.cpu=2", check=True)
    assert get_json(kn, "resourcequota", "q")["spec"]["hard"] == {"pods": "10", "requests.cpu": "2"}
    kn("create", "serviceaccount", "robot", check=True)
    assert get_json(kn, "serviceaccount", "robot")["metadata"]["name"] == "robot"
    kn("create", "role", "reader", "--verb=get,list,watch", "--resource=pods,configmaps", check=True)
    role = get_json(kn, "role", "reader")
    assert role["rules"][0]["verbs"] == ["get", "list", "watch"]
    assert sorted(role["rules"][0]["resources"]) == ["configmaps", "pods"]
    kn(
        "create",
        "rolebinding",
        "robot-reads",
        "--role=reader",
        f"--serviceaccount={namespace}:robot",
        check=True,
    )
    binding = get_json(kn, "rolebinding", "robot-reads")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}]
    assert rows(kn, "rolebindings")["robot-reads"][1] == "Role/reader"
    assert header(kn, "roles") == ["NAME", "CREATED AT"]
    assert header(kn, "serviceaccounts") == ["NAME", "SECRETS", "AGE"]


def test_create_existing_object_fails_with_already_exists(kn: Kubectl, namespace: str) -> None:
    kn("create", "configmap", "dup", "--from-literal=a=1", check=True)
    again = kn("create", "configmap", "dup", "--from-literal=a=2")
    assert again.returncode == 1
    # kubectl wraps the server's message with %v, as it does against Kubernetes
    assert again.stderr.strip() == 'error: failed to create configmap: configmaps "dup" already exists'
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}})
    again = kn("create", "-f", "-", input=manifest)
    assert again.returncode == 1
    assert (
        'Error from server (AlreadyExists): error when creating "STDIN": configmaps "dup" already exists'
        in (again.stderr)
    )
    kn("create", "deployment", "dup", "--image=nginx", check=True)
    again = kn("create", "deployment", "dup", "--image=nginx")
    assert again.returncode == 1
    assert 'deployments.apps "dup" already exists' in again.stderr
    assert get_json(kn, "configmap", "dup")["data"] == {"a": "1"}


APPLIED_V1 = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {stage: one, keep: "yes"}
data: {k: v1, gone: soon}
"""
APPLIED_V2 = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {keep: "yes"}
data: {k: v2}
"""


def test_client_side_apply(kn: Kubectl) -> None:
    assert apply(kn, APPLIED_V1).stdout.strip() == "configmap/applied created"
    first = get_json(kn, "configmap", "applied")
    assert first["data"] == {"k": "v1", "gone": "soon"}
    last_applied = json.loads(
        first["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last_applied["data"] == {"k": "v1", "gone": "soon"}
    assert apply(kn, APPLIED_V1).stdout.strip() == "configmap/applied unchanged"
    # a field changed by someone else survives an apply that does not mention it
    kn("label", "configmap", "applied", "owner=other", check=True)
    assert apply(kn, APPLIED_V2).stdout.strip() == "configmap/applied configured"
    second = get_json(kn, "configmap", "applied")
    assert second["data"] == {"k": "v2"}
    assert second["metadata"]["labels"] == {"keep": "yes", "owner": "other"}
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert first["metadata"]["uid"] == second["metadata"]["uid"]
    # apply records what it set
    view = out(kn, "apply", "view-last-applied", "configmap", "applied", "-o", "json")
    assert json.loads(view)["data"] == {"k": "v2"}


def test_client_side_apply_of_a_deployment_with_lists(kn: Kubectl) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "nginx:1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "side", "image": "busybox"},
                    ]
                },
            },
        },
    }
    apply(kn, json.dumps(manifest))
    spec = manifest["spec"]
    container = spec["template"]["spec"]["containers"][0]  # type: ignore[index]
    container["image"] = "nginx:2"
    container["env"] = [{"name": "B", "value": "3"}]
    del spec["template"]["spec"]["containers"][1]  # type: ignore[index]
    assert apply(kn, json.dumps(manifest)).stdout.strip() == "deployment.apps/app configured"
    got = get_json(kn, "deployment", "app")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in got] == ["main"]
    assert got[0]["image"] == "nginx:2"
    assert got[0]["env"] == [{"name": "B", "value": "3"}]


SSA = """
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {owner: OWNER, extra: x}
"""


def test_server_side_apply_and_conflicts(kn: Kubectl) -> None:
    created = apply(kn, SSA.replace("OWNER", "me"), "--server-side")
    assert created.stdout.strip() == "configmap/ssa serverside-applied", created.stderr
    cm = get_json(kn, "configmap", "ssa", "--show-managed-fields")
    assert cm["data"] == {"owner": "me", "extra": "x"}
    managers = {m["manager"]: m for m in cm["metadata"]["managedFields"]}
    assert managers["kubectl"]["operation"] == "Apply"
    assert managers["kubectl"]["fieldsV1"]["f:data"] == {"f:owner": {}, "f:extra": {}}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in cm["metadata"].get("annotations", {})

    # update, dropping a field the manager owned: SSA removes it
    updated = apply(
        kn, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {owner: me2}\n", "--server-side"
    )
    assert updated.returncode == 0, updated.stderr
    assert get_json(kn, "configmap", "ssa")["data"] == {"owner": "me2"}

    # someone else changes the field: a plain apply now conflicts
    kn("patch", "configmap", "ssa", "--type", "merge", "-p", '{"data":{"owner":"patched"}}', check=True)
    conflict = apply(kn, SSA.replace("OWNER", "me3"), "--server-side")
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower()
    assert "kubectl-patch" in conflict.stderr and ".data.owner" in conflict.stderr
    assert get_json(kn, "configmap", "ssa")["data"]["owner"] == "patched"
    forced = apply(kn, SSA.replace("OWNER", "me3"), "--server-side", "--force-conflicts")
    assert forced.returncode == 0, forced.stderr
    cm = get_json(kn, "configmap", "ssa", "--show-managed-fields")
    assert cm["data"] == {"owner": "me3", "extra": "x"}
    managers = {m["manager"]: m for m in cm["metadata"]["managedFields"]}
    assert "f:owner" in managers["kubectl"]["fieldsV1"]["f:data"]
    assert "f:owner" not in managers.get("kubectl-patch", {}).get("fieldsV1", {}).get("f:data", {})

    # another field manager applying the same value co-owns without conflict
    shared = apply(kn, SSA.replace("OWNER", "me3"), "--server-side", "--field-manager=other")
    assert shared.returncode == 0, shared.stderr
    # --dry-run=server reports but does not store
    dry = apply(kn, SSA.replace("OWNER", "dry"), "--server-side", "--force-conflicts", "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert get_json(kn, "configmap", "ssa")["data"]["owner"] == "me3"


def test_apply_of_an_unknown_field_fails(kn: Kubectl) -> None:
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\ndataa: {k: v}\n"
    failed = apply(kn, bad)
    assert failed.returncode != 0
    assert 'unknown field "dataa"' in failed.stderr, failed.stderr
    assert kn("get", "configmap", "strict").returncode != 0
    failed = apply(kn, bad, "--server-side")
    assert failed.returncode != 0
    assert "dataa" in failed.stderr
    nested = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "strict"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x", "imagee": "typo"}]},
            },
        },
    }
    failed = apply(kn, json.dumps(nested))
    assert failed.returncode != 0
    assert "spec.template.spec.containers[0].imagee" in failed.stderr, failed.stderr
    # --validate=false lets the server drop it (Ignore), as Kubernetes does
    assert apply(kn, bad, "--validate=false").returncode == 0
    assert "dataa" not in get_json(kn, "configmap", "strict")


def test_wait_for_delete(kn: Kubectl) -> None:
    kn("create", "configmap", "doomed", check=True)
    timer = threading.Timer(1.0, lambda: kn("delete", "configmap", "doomed", check=True))
    timer.start()
    try:
        waited = kn("wait", "--for=delete", "configmap/doomed", "--timeout=30s")
    finally:
        timer.join()
    assert waited.returncode == 0, waited.stderr
    assert "configmap/doomed condition met" in waited.stdout
    # an object that is already gone is a success at once
    assert kn("wait", "--for=delete", "configmap/doomed", "--timeout=5s").returncode == 0
    # and one that stays times out
    kn("create", "configmap", "stays", check=True)
    stays = kn("wait", "--for=delete", "configmap/stays", "--timeout=1s")
    assert stays.returncode != 0
    assert "timed out" in stays.stderr


def test_wait_for_a_condition_and_jsonpath(kn: Kubectl) -> None:
    kn("create", "configmap", "flag", "--from-literal=ready=no", check=True)
    timer = threading.Timer(
        1.0, lambda: kn("patch", "configmap", "flag", "--type", "merge", "-p", '{"data":{"ready":"yes"}}')
    )
    timer.start()
    try:
        waited = kn("wait", "--for=jsonpath={.data.ready}=yes", "configmap/flag", "--timeout=30s")
    finally:
        timer.join()
    assert waited.returncode == 0, waited.stderr


def test_scale(kn: Kubectl) -> None:
    kn("create", "deployment", "sc", "--image=nginx", "--replicas=1", check=True)
    assert out(kn, "scale", "deployment", "sc", "--replicas=4").strip() == "deployment.apps/sc scaled"
    assert get_json(kn, "deployment", "sc")["spec"]["replicas"] == 4
    stale = kn("scale", "deployment", "sc", "--replicas=2", "--current-replicas=3")
    assert stale.returncode != 0
    assert get_json(kn, "deployment", "sc")["spec"]["replicas"] == 4
    kn("scale", "deployment", "sc", "--replicas=0", "--current-replicas=4", check=True)
    assert get_json(kn, "deployment", "sc")["spec"]["replicas"] == 0
    assert rows(kn, "deployments")["sc"][1] == "0/0"


def test_diff(kn: Kubectl) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: diffed}\ndata: {k: VALUE}\n"
    new = kn("diff", "-f", "-", input=manifest.replace("VALUE", "v1"))
    assert new.returncode == 1, new.stderr
    assert "+  k: v1" in new.stdout
    apply(kn, manifest.replace("VALUE", "v1"))
    same = kn("diff", "-f", "-", input=manifest.replace("VALUE", "v1"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout == ""
    changed = kn("diff", "-f", "-", input=manifest.replace("VALUE", "v2"))
    assert changed.returncode == 1, changed.stderr
    assert "-  k: v1" in changed.stdout and "+  k: v2" in changed.stdout
    # diff is a dry run: nothing changed
    assert get_json(kn, "configmap", "diffed")["data"] == {"k": "v1"}
    server_side = kn("diff", "--server-side", "-f", "-", input=manifest.replace("VALUE", "v3"))
    assert server_side.returncode == 1, server_side.stderr
    assert "+  k: v3" in server_side.stdout


def test_get_raw(kubectl: Kubectl, namespace: str) -> None:
    version = json.loads(out(kubectl, "get", "--raw", "/version"))
    assert version["major"] == "1" and version["minor"] == "32"
    assert version["gitVersion"].startswith("v1.32.")
    assert out(kubectl, "get", "--raw", "/readyz") == "ok"
    ns = json.loads(out(kubectl, "get", "--raw", f"/api/v1/namespaces/{namespace}"))
    assert ns["metadata"]["name"] == namespace
    missing = kubectl("get", "--raw", "/api/v1/namespaces/no-such-namespace-here")
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr or "not found" in missing.stderr
    assert "kubelite" in out(kubectl, "version")


# -- the scenario across kubectl versions ---------------------------------------------------

SDK = Path("/usr/lib/google-cloud-sdk/bin")
VERSIONED = [SDK / f"kubectl.{v}" for v in ("1.29", "1.30", "1.31", "1.33")] + [Path("/usr/bin/kubectl")]


@pytest.mark.parametrize("binary", VERSIONED, ids=lambda p: p.name)
def test_scenario_across_kubectl_versions(
    binary: Path, kubelite_server: KubeliteServer, namespace: str, tmp_path: Path
) -> None:
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    env = kubelite_server.env(home=tmp_path / "home")
    base = [
        str(binary),
        "--kubeconfig",
        str(kubelite_server.kubeconfig),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]

    def k(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, "-n", namespace, *args], input=input, capture_output=True, text=True, env=env, timeout=60
        )

    def ok(*args: str, input: str | None = None) -> str:
        result = k(*args, input=input)
        assert result.returncode == 0, f"{binary.name} {' '.join(args)}: {result.stderr}"
        return result.stdout

    # create configmap sends a protobuf body
    ok("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two")
    assert ok("get", "configmap", "cfg", "-o", "jsonpath={.data.b}") == "two"
    # client-side apply twice: create, then an update that drops a field and a label
    assert ok("apply", "-f", "-", input=APPLIED_V1).strip() == "configmap/applied created"
    assert ok("apply", "-f", "-", input=APPLIED_V2).strip() == "configmap/applied configured"
    applied = json.loads(ok("get", "configmap", "applied", "-o", "json"))
    assert applied["data"] == {"k": "v2"}
    assert applied["metadata"]["labels"] == {"keep": "yes"}
    # server-side apply
    assert ok("apply", "--server-side", "-f", "-", input=SSA.replace("OWNER", "me")).strip() == (
        "configmap/ssa serverside-applied"
    )
    # a table
    table = ok("get", "configmaps").splitlines()
    assert columns(table[0]) == ["NAME", "DATA", "AGE"]
    assert ["cfg", "2"] in [columns(line)[:2] for line in table[1:]]
    # label and patch
    ok("label", "configmap", "cfg", "tier=web")
    assert ok("get", "configmaps", "-l", "tier=web", "-o", "name") == "configmap/cfg\n"
    ok("patch", "configmap", "cfg", "--type", "merge", "-p", '{"data":{"a":"3"}}')
    assert ok("get", "configmap", "cfg", "-o", "jsonpath={.data.a}") == "3"
    # watch sees a change
    watch_cmd = [*base, "-n", namespace, "get", "configmap", "cfg", "--watch", "--request-timeout=20s"]
    watch_cmd += ["-o", "jsonpath={.data.a}{'\\n'}"]
    with subprocess.Popen(
        watch_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as watch:
        try:
            assert watch.stdout is not None
            assert watch.stdout.readline().strip() == "3"
            ok("patch", "configmap", "cfg", "--type", "merge", "-p", '{"data":{"a":"watched"}}')
            assert watch.stdout.readline().strip() == "watched"
        finally:
            watch.kill()
            watch.wait()
    # the errors a script checks for
    again = k("create", "configmap", "cfg")
    assert again.returncode != 0 and "already exists" in again.stderr
    missing = k("get", "configmap", "nope")
    assert missing.returncode != 0 and 'configmaps "nope" not found' in missing.stderr
    assert yaml.safe_load(ok("get", "configmap", "cfg", "-o", "yaml"))["metadata"]["labels"] == {
        "tier": "web"
    }


# -- more verbs users reach for ---------------------------------------------------------------


def test_set_image_rollout_restart_expose_autoscale(kn: Kubectl) -> None:
    kn("create", "deployment", "web", "--image=nginx:1", "--replicas=2", "--port=80", check=True)
    generation = get_json(kn, "deployment", "web")["metadata"]["generation"]
    assert (
        out(kn, "set", "image", "deployment/web", "nginx=nginx:2").strip()
        == "deployment.apps/web image updated"
    )
    dep = get_json(kn, "deployment", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert dep["metadata"]["generation"] == generation + 1
    assert out(kn, "rollout", "restart", "deployment/web").strip() == "deployment.apps/web restarted"
    annotations = get_json(kn, "deployment", "web")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations

    assert (
        out(kn, "expose", "deployment", "web", "--port=8080", "--target-port=80").strip()
        == "service/web exposed"
    )
    svc = get_json(kn, "service", "web")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"][0]["port"] == 8080 and svc["spec"]["ports"][0]["targetPort"] == 80
    assert ipaddress.ip_address(svc["spec"]["clusterIP"]) in ipaddress.ip_network("10.43.0.0/16")

    kn("autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50", check=True)
    assert header(kn, "hpa") == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert rows(kn, "hpa")["web"][1:5] == ["Deployment/web", "cpu: <unknown>/50%", "2", "5"]


def test_edit_replace_force_generate_name_and_templates(
    kubectl_argv: tuple[list[str], dict[str, str]], kn: Kubectl, namespace: str, tmp_path: Path
) -> None:
    argv, env = kubectl_argv
    kn("create", "configmap", "ed", "--from-literal=a=1", check=True)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/^  a: "1"$/  a: edited/\' "$1"\n')
    editor.chmod(0o755)
    edited = subprocess.run(
        [*argv, "-n", namespace, "edit", "configmap", "ed"],
        capture_output=True,
        text=True,
        env={**env, "KUBE_EDITOR": str(editor)},
        timeout=60,
    )
    assert edited.returncode == 0, edited.stderr
    assert get_json(kn, "configmap", "ed")["data"] == {"a": "edited"}

    uid = get_json(kn, "configmap", "ed")["metadata"]["uid"]
    manifest = tmp_path / "ed.json"
    manifest.write_text(out(kn, "get", "configmap", "ed", "-o", "json"))
    forced = out(kn, "replace", "--force", "-f", str(manifest))
    assert 'configmap "ed" deleted' in forced and "configmap/ed replaced" in forced
    assert get_json(kn, "configmap", "ed")["metadata"]["uid"] != uid

    generated = out(
        kn, "create", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: gen-}\n"
    )
    name = generated.split()[0].removeprefix("configmap/")
    assert re.fullmatch(r"gen-[a-z0-9]{5}", name), generated
    names = out(
        kn, "get", "configmaps", "-o", "go-template={{range .items}}{{.metadata.name}} {{end}}"
    ).split()
    assert {"ed", name} <= set(names)


def test_watch_events_column(
    kubectl_argv: tuple[list[str], dict[str, str]], kn: Kubectl, namespace: str
) -> None:
    argv, env = kubectl_argv
    cmd = [*argv, "-n", namespace, "get", "configmaps", "--watch-only", "--output-watch-events"]
    cmd.append("--request-timeout=20s")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as watch:
        try:
            assert watch.stdout is not None
            time.sleep(0.5)  # let the watch start before the changes
            kn("create", "configmap", "we", check=True)
            assert watch.stdout.readline().split() == ["EVENT", "NAME", "DATA", "AGE"]
            assert watch.stdout.readline().split()[:2] == ["ADDED", "we"]
            kn("label", "configmap", "we", "x=1", check=True)
            assert watch.stdout.readline().split()[:2] == ["MODIFIED", "we"]
            kn("delete", "configmap", "we", check=True)
            assert watch.stdout.readline().split()[:2] == ["DELETED", "we"]
        finally:
            watch.kill()
            watch.wait()


def test_nodes_cordon_taint_and_cluster_kinds(kubectl: Kubectl, namespace: str) -> None:
    node = f"node-{namespace[-6:]}"
    kubectl(
        "create", "-f", "-", input=f"apiVersion: v1\nkind: Node\nmetadata: {{name: {node}}}\n", check=True
    )
    try:
        assert header(kubectl, "nodes") == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert rows(kubectl, "nodes")[node][1:3] == ["Unknown", "<none>"]
        assert out(kubectl, "cordon", node).strip() == f"node/{node} cordoned"
        assert rows(kubectl, "nodes")[node][1] == "Unknown,SchedulingDisabled"
        kubectl("taint", "node", node, "dedicated=edge:NoSchedule", check=True)
        spec = get_json(kubectl, "node", node)["spec"]
        assert spec["taints"] == [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
        kubectl("taint", "node", node, "dedicated-", check=True)
        kubectl("uncordon", node, check=True)
        spec = get_json(kubectl, "node", node)["spec"]
        assert not spec.get("taints") and not spec.get("unschedulable")
        kubectl("label", "node", node, "role=edge", check=True)
        assert columns(out(kubectl, "get", "node", node, "-L", "role").splitlines()[1])[-1] == "edge"
    finally:
        kubectl("delete", "node", node)
    pc = f"pc-{namespace[-6:]}"
    kubectl("create", "priorityclass", pc, "--value=1000", check=True)
    try:
        assert rows(kubectl, "priorityclass")[pc][1:3] == ["1000", "false"]
    finally:
        kubectl("delete", "priorityclass", pc)


def test_create_pdb_and_ingress(kn: Kubectl) -> None:
    kn("create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1", check=True)
    assert header(kn, "pdb") == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert rows(kn, "pdb")["pdb"][1:4] == ["1", "N/A", "0"]
    kn("create", "ingress", "ing", "--rule=foo.example.com/bar=svc:80", check=True)
    assert header(kn, "ingress") == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    rule = get_json(kn, "ingress", "ing")["spec"]["rules"][0]
    assert rule["host"] == "foo.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "svc", "port": {"number": 80}}


def test_auth_can_i(kubectl: Kubectl) -> None:
    assert out(kubectl, "auth", "can-i", "create", "pods").strip() == "yes"
    assert out(kubectl, "auth", "can-i", "*", "*", "--all-namespaces").strip() == "yes"
    assert out(kubectl, "auth", "can-i", "get", "/healthz").strip() == "yes"  # a non-resource URL


def test_auth_can_i_list(kubectl: Kubectl) -> None:
    lines = out(kubectl, "auth", "can-i", "--list").splitlines()
    assert columns(lines[0]) == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert columns(lines[1]) == ["*.*", "[]", "[]", "[*]"]
    assert columns(lines[2]) == ["[*]", "[]", "[*]"]  # the first cell, Resources, is empty


def test_auth_whoami(kubectl: Kubectl) -> None:
    lines = out(kubectl, "auth", "whoami").splitlines()
    assert [columns(line) for line in lines] == [
        ["ATTRIBUTE", "VALUE"],
        ["Username", "kubelite-admin"],
        ["Groups", "[system:masters system:authenticated]"],
    ]
    review = json.loads(out(kubectl, "auth", "whoami", "-o", "json"))
    assert review["kind"] == "SelfSubjectReview"
    assert review["status"]["userInfo"] == {
        "username": "kubelite-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
