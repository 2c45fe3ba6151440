"""Environment resolution as the kubelet does it: sources, precedence, $(VAR) expansion."""

from __future__ import annotations

import msgspec
import pytest
from podworker_fakes import Objects, make_pod

from kubelite.api.core_v1 import ConfigMap, Container, Secret, Service
from kubelite.kubelet.envvars import EnvError, expand, resolve_argv, resolve_env


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(A)", "a"),
        ("x-$(A)-$(B)", "x-a-b"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("$A", "$A"),
        ("a$", "a$"),
        ("$()", "$()"),
        ("$(A)$(A)", "aa"),
    ],
)
def test_expand(text: str, want: str) -> None:
    assert expand(text, {"A": "a", "B": "b"}.get) == want


def test_resolve_argv_combines_with_the_image() -> None:
    env = {"X": "1"}
    assert resolve_argv(
        Container(name="c", command=["echo", "$(X)"], args=["$(X)"]), env, ["ep"], ["cmd"]
    ) == ["echo", "1", "1"]
    assert resolve_argv(Container(name="c", args=["a"]), env, ["ep"], ["cmd"]) == ["ep", "a"]
    assert resolve_argv(Container(name="c"), env, ["ep"], ["cmd"]) == ["ep", "cmd"]


async def test_all_sources() -> None:
    objects = Objects(
        configmaps={"cfg": ConfigMap(data={"greeting": "hi", "bad key": "x", "K": "from-cm"})},
        secrets={"sec": Secret(data={"password": b"s3cr3t"})},
        service_list=[
            msgspec.convert(
                {
                    "metadata": {"name": "my-svc", "namespace": "default"},
                    "spec": {
                        "clusterIP": "10.43.0.5",
                        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                    },
                },
                Service,
            )
        ],
    )
    pod = make_pod(
        {
            "serviceAccountName": "sa",
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                    "envFrom": [
                        {"configMapRef": {"name": "cfg"}, "prefix": "CM_"},
                        {"secretRef": {"name": "missing", "optional": True}},
                    ],
                    "env": [
                        {"name": "K", "value": "literal"},
                        {
                            "name": "GREETING",
                            "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}},
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}},
                        },
                        {
                            "name": "OPT",
                            "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": True}},
                        },
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {
                            "name": "CPU_M",
                            "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}},
                        },
                        {
                            "name": "MEM_LIMIT_MI",
                            "valueFrom": {
                                "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                            },
                        },
                        {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                        {
                            "name": "MSG",
                            "value": "$(GREETING) $(POD_NAME) $$(GREETING) $(NOPE) $(MY_SVC_SERVICE_HOST)",
                        },
                    ],
                }
            ],
        },
        name="life",
        labels={"app": "web"},
    )
    pod.status.podIP = "10.42.0.7"
    warnings: list[str] = []
    env = await resolve_env(
        pod, pod.spec.containers[0], objects, node_allocatable={"cpu": "4"}, warnings=warnings
    )
    assert env["CM_greeting"] == "hi" and "CM_bad key" not in env and warnings
    assert env["K"] == "literal" and env["CM_K"] == "from-cm"
    assert env["GREETING"] == "hi" and env["PASSWORD"] == "s3cr3t" and "OPT" not in env
    assert (env["POD_NAME"], env["POD_NS"], env["APP"], env["NODE"], env["SA"], env["IP"]) == (
        "life",
        "default",
        "web",
        "n1",
        "sa",
        "10.42.0.7",
    )
    assert (env["CPU_M"], env["MEM_LIMIT_MI"], env["CPU_LIMIT"]) == ("250", "128", "4")
    assert env["MSG"] == "hi life $(GREETING) $(NOPE) 10.43.0.5"
    assert env["MY_SVC_SERVICE_HOST"] == "10.43.0.5" and env["MY_SVC_SERVICE_PORT"] == "80"
    assert env["MY_SVC_SERVICE_PORT_HTTP"] == "80"
    assert env["MY_SVC_PORT"] == "tcp://10.43.0.5:80" and env["MY_SVC_PORT_80_TCP_ADDR"] == "10.43.0.5"


async def test_service_links_off_keeps_only_the_kubernetes_service() -> None:
    svc = lambda name: msgspec.convert(  # noqa: E731
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": "10.43.0.1", "ports": [{"port": 443}]},
        },
        Service,
    )
    objects = Objects(service_list=[svc("kubernetes"), svc("other")])
    pod = make_pod({"enableServiceLinks": False, "containers": [{"name": "c", "image": "x"}]})
    env = await resolve_env(pod, pod.spec.containers[0], objects)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and "OTHER_SERVICE_HOST" not in env


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}],
            'configmap "nope" not found',
        ),
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}],
            "couldn't find key k in ConfigMap default/cfg",
        ),
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
            'secret "nope" not found',
        ),
    ],
)
async def test_missing_references(env: list[dict[str, object]], message: str) -> None:
    objects = Objects(configmaps={"cfg": ConfigMap(data={})})
    pod = make_pod({"containers": [{"name": "c", "image": "x", "env": env}]})
    with pytest.raises(EnvError, match=message):
        await resolve_env(pod, pod.spec.containers[0], objects)
