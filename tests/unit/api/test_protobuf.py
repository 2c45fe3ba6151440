"""Protobuf request bodies: real kubectl bytes, round trips of every served kind, wire details."""

from __future__ import annotations

import base64
import json
import typing
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest

from kubelite.api import protobuf, prototables
from kubelite.api.apps_v1 import Deployment
from kubelite.api.core_v1 import ConfigMap, Pod, Volume
from kubelite.api.meta import ObjectMeta
from kubelite.api.model import Model, Wire, fields_of
from kubelite.api.protobuf import (
    ProtobufError,
    decode_message,
    decode_object,
    decode_unknown,
    encode_message,
    encode_object,
    encode_unknown,
    format_duration,
    parse_duration,
)
from kubelite.api.resources import RESOURCES

FIXTURES = Path(__file__).parent / "protobuf_fixtures"
MODELS = {(r.api_version, r.kind): r.model for r in RESOURCES}


def model_of(doc: dict[str, Any]) -> Any:
    return MODELS[(doc["apiVersion"], doc["kind"])]


def roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    cls = model_of(doc)
    return decode_object(encode_object(doc, cls), cls)


# ---------------------------------------------------------------- what kubectl sends

KUBECTL_FIXTURES = sorted(p.stem for p in FIXTURES.glob("*.bin"))


def test_all_kubectl_create_kinds_were_captured() -> None:
    assert {
        "namespace",
        "configmap",
        "secret-generic",
        "deployment",
        "service-clusterip",
        "job",
        "cronjob",
        "serviceaccount",
        "role",
        "rolebinding",
        "quota",
    } <= set(KUBECTL_FIXTURES)


@pytest.mark.parametrize("name", KUBECTL_FIXTURES)
def test_kubectl_body_decodes_to_what_kubectl_prints(name: str) -> None:
    body = (FIXTURES / f"{name}.bin").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    api_version, kind, raw = decode_unknown(body)
    assert (api_version, kind) == (expected["apiVersion"], expected["kind"])
    cls = model_of(expected)
    decoded = decode_object(body, cls)
    assert decoded == expected
    assert list(decoded)[:2] == ["kind", "apiVersion"]
    assert decode_message(raw, cls) == {k: v for k, v in expected.items() if k not in ("kind", "apiVersion")}
    # The API server converts it to the model as it does a JSON body.
    obj = msgspec.convert(decoded, cls)
    assert msgspec.to_builtins(obj)["metadata"]["name"] == expected["metadata"]["name"]
    # What we encode decodes to the same object.
    assert decode_object(encode_object(decoded, cls), cls) == expected


def test_kubectl_deployment_in_detail() -> None:
    decoded = decode_object((FIXTURES / "deployment.bin").read_bytes(), Deployment)
    assert decoded == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "d", "creationTimestamp": None, "labels": {"app": "d"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "d"}},
                "spec": {"containers": [{"name": "busybox", "image": "busybox", "resources": {}}]},
            },
            "strategy": {},
        },
        "status": {},
    }


def test_kubectl_zero_replicas_and_named_target_port_survive() -> None:
    dep = decode_object((FIXTURES / "deployment-port-zero-replicas.bin").read_bytes(), Deployment)
    assert dep["spec"]["replicas"] == 0  # a pointer: zero is meaningful and kept
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    svc = json.loads((FIXTURES / "service-nodeport-named-port.json").read_text())
    assert decode_object((FIXTURES / "service-nodeport-named-port.bin").read_bytes(), model_of(svc)) == svc
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_kubectl_secret_and_binary_data_are_base64() -> None:
    secret = json.loads((FIXTURES / "secret-generic.json").read_text())
    assert decode_object((FIXTURES / "secret-generic.bin").read_bytes(), model_of(secret))["data"] == {
        "p": "cQ=="
    }
    cm = decode_object((FIXTURES / "configmap-binary.bin").read_bytes(), ConfigMap)
    assert base64.b64decode(cm["binaryData"]["blob"]) == b"\x00\x01\xffbin"
    assert msgspec.convert(cm, ConfigMap).binaryData == {"blob": b"\x00\x01\xffbin"}


# ---------------------------------------------------------------- round trips

META = {
    "name": "web",
    "namespace": "prod",
    "uid": "4b1e7c1e-8a3b-4c5e-9f4d-2f6a1c0e9b7d",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2024-05-06T07:08:09Z",
    "labels": {"app": "web", "tier": "frontend"},
    "annotations": {"note": "hello"},
    "ownerReferences": [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-5d8f",
            "uid": "0f0e",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ],
    "finalizers": ["example.com/guard"],
    "managedFields": [
        {
            "manager": "kubectl",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-05-06T07:08:09Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        }
    ],
}

POD_SPEC = {
    "volumes": [
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "config", "configMap": {"name": "web-config", "items": [{"key": "a", "path": "a.txt"}]}},
        {"name": "token", "secret": {"secretName": "tok", "defaultMode": 420}},
    ],
    "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
    "containers": [
        {
            "name": "app",
            "image": "nginx:1.27",
            "args": ["--port", "8080"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "level"}}},
                {
                    "name": "MEM",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
                },
            ],
            "envFrom": [{"configMapRef": {"name": "web-env"}, "prefix": "CFG_"}],
            "resources": {
                "limits": {"cpu": "500m", "memory": "256Mi"},
                "requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
            },
            "volumeMounts": [
                {"name": "scratch", "mountPath": "/tmp"},
                {"name": "config", "mountPath": "/etc/web"},
            ],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                "initialDelaySeconds": 5,
                "periodSeconds": 10,
            },
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "failureThreshold": 3},
            "startupProbe": {"tcpSocket": {"port": 8080}, "terminationGracePeriodSeconds": 30},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "readOnlyRootFilesystem": True},
        }
    ],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "serviceAccountName": "web",
    "hostNetwork": True,
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {
                            "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]
                        },
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    },
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}],
    "overhead": {"cpu": "10m"},
}

SAMPLES: dict[str, dict[str, Any]] = {
    "Pod": {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": META,
        "spec": POD_SPEC,
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2024-05-06T07:08:19Z",
                }
            ],
            "podIP": "10.42.0.7",
            "podIPs": [{"ip": "10.42.0.7"}],
            "startTime": "2024-05-06T07:08:10Z",
            "containerStatuses": [
                {
                    "name": "app",
                    "state": {"running": {"startedAt": "2024-05-06T07:08:12Z"}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": "nginx:1.27",
                    "imageID": "",
                    "started": True,
                }
            ],
            "qosClass": "Burstable",
        },
    },
    "Deployment": {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "prod", "creationTimestamp": None},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 3,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "lastUpdateTime": "2024-05-06T07:08:09Z",
                    "lastTransitionTime": "2024-05-06T07:08:09Z",
                    "reason": "NewReplicaSetAvailable",
                    "message": "ok",
                }
            ],
        },
    },
    "Service": {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "admin", "protocol": "TCP", "port": 9000, "targetPort": "admin", "nodePort": 30900},
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.43.0.20",
            "clusterIPs": ["10.43.0.20"],
            "type": "NodePort",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
        },
        "status": {"loadBalancer": {}},
    },
    "Secret": {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "db", "namespace": "prod"},
        "data": {"password": base64.b64encode(b"s3cr3t\x00\xff").decode(), "user": "YWRtaW4="},
        "type": "Opaque",
        "immutable": True,
    },
    "Namespace": {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "prod", "labels": {"kubernetes.io/metadata.name": "prod"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    },
    "Job": {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "pi", "namespace": "prod"},
        "spec": {
            "parallelism": 2,
            "completions": 4,
            "backoffLimit": 6,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 100,
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"]}],
                    "restartPolicy": "Never",
                },
            },
            "podFailurePolicy": {
                "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42, -1, 255]}}]
            },
        },
        "status": {"startTime": "2024-05-06T07:08:09Z", "active": 2, "succeeded": 1},
    },
    "CronJob": {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": {"name": "tick", "namespace": "prod"},
        "spec": {
            "schedule": "*/5 * * * *",
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "tick", "image": "busybox"}],
                            "restartPolicy": "OnFailure",
                        }
                    }
                }
            },
            "successfulJobsHistoryLimit": 3,
        },
        "status": {"lastScheduleTime": "2024-05-06T07:05:00Z"},
    },
    "Role": {
        "kind": "Role",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "reader", "namespace": "prod"},
        "rules": [
            {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]},
        ],
    },
    "ResourceQuota": {
        "kind": "ResourceQuota",
        "apiVersion": "v1",
        "metadata": {"name": "quota", "namespace": "prod"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi"}},
        "status": {"hard": {"pods": "10"}, "used": {"pods": "3"}},
    },
    "Event": {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "web.17c", "namespace": "prod"},
        "involvedObject": {"kind": "Pod", "namespace": "prod", "name": "web", "uid": "0f0e"},
        "reason": "Started",
        "message": "Started container app",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-06T07:08:09Z",
        "lastTimestamp": "2024-05-06T07:08:19Z",
        "count": 2,
        "type": "Normal",
        "eventTime": "2024-05-06T07:08:09.123456Z",
    },
}


def test_samples_are_valid_models() -> None:
    for doc in SAMPLES.values():
        assert msgspec.to_builtins(msgspec.convert(doc, model_of(doc)))["kind"] == doc["kind"]


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_realistic_sample_round_trips(kind: str) -> None:
    doc = SAMPLES[kind]
    assert roundtrip(doc) == doc


def test_pod_volumes_and_probes_use_the_inline_wrappers() -> None:
    raw = encode_message(SAMPLES["Pod"]["spec"]["volumes"][0], Volume)
    # Volume{1: name, 2: VolumeSource{2: EmptyDirVolumeSource{1: medium, 2: Quantity{1: "64Mi"}}}}
    empty_dir = b"\x0a\x06Memory" + b"\x12\x06\x0a\x0464Mi"
    source = b"\x12" + bytes([len(empty_dir)]) + empty_dir
    assert raw == b"\x0a\x07scratch" + b"\x12" + bytes([len(source)]) + source
    assert decode_message(raw, Volume) == SAMPLES["Pod"]["spec"]["volumes"][0]


def _filled(cls: type, depth: int = 0, seen: tuple[type, ...] = ()) -> dict[str, Any]:
    """An instance of ``cls`` in JSON form with every protobuf field set to a non-zero value."""
    schema = protobuf._schema(cls)
    out: dict[str, Any] = {}
    fields = [f for f in schema.ordered if f.kind != protobuf._INLINE_GROUP]
    for group in (f.sub for f in schema.ordered if f.kind == protobuf._INLINE_GROUP):
        fields += group.ordered
    for i, f in enumerate(fields):
        if f.kind == protobuf._MESSAGE:
            sub_cls = f.sub if isinstance(f.sub, type) else None
            sub_cls = sub_cls or _class_of(cls, f.name)
            if depth > 5 or sub_cls in seen:
                continue
            value: Any = _filled(sub_cls, depth + 1, (*seen, sub_cls))
        else:
            value = _sample_scalar(f.kind, i)
        if f.shape == protobuf._LIST:
            value = [value, value]
        elif f.shape == protobuf._MAP:
            value = {"k1": value, "k/2": value}
        out[f.name] = value
    return out


def _class_of(cls: type, name: str) -> type:
    tp = fields_of(cls)[name].type
    while typing.get_args(tp):
        tp = next(a for a in reversed(typing.get_args(tp)) if a is not type(None))
    return typing.cast(type, tp)


def _sample_scalar(kind: int, i: int) -> Any:
    return {
        protobuf._STRING: f"s{i}",
        protobuf._BYTES: base64.b64encode(b"\x00\xffb").decode(),
        protobuf._INT: -7 if i % 2 else 1 << 40,
        protobuf._BOOL: True,
        protobuf._DOUBLE: 1.5,
        protobuf._QUANTITY: "250m",
        protobuf._INTSTR: "25%" if i % 2 else 8080,
        protobuf._TIME: "2024-05-06T07:08:09Z",
        protobuf._MICROTIME: "2024-05-06T07:08:09.123456Z",
        protobuf._DURATION: "1m30s",
        protobuf._RAW: {"a": [1, "b", None]},
        protobuf._STRINGS: ["x", "y"],
    }[kind]


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.api_version}/{r.kind}")
def test_every_served_kind_round_trips_with_every_field_set(res: Any) -> None:
    doc = _filled(res.model)
    raw = encode_message(doc, res.model)
    assert decode_message(raw, res.model) == doc
    body = encode_unknown(res.api_version, res.kind, raw)
    assert decode_unknown(body) == (res.api_version, res.kind, raw)


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: f"{r.api_version}/{r.kind}")
def test_every_served_kind_round_trips_a_minimal_object(res: Any) -> None:
    doc = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"name": "x", "labels": {"a": "b"}}}
    assert roundtrip(doc) == doc


def test_model_instances_encode_too() -> None:
    pod = msgspec.convert(SAMPLES["Pod"], Pod)
    decoded = decode_object(encode_object(pod, Pod), Pod)
    assert decoded == msgspec.to_builtins(pod)  # None-valued times are omitted by the model
    assert msgspec.convert(decoded, Pod) == pod


# ---------------------------------------------------------------- wire details


def test_decode_unknown_checks_the_magic_and_reads_type_meta() -> None:
    body = encode_unknown("apps/v1", "Deployment", b"\x0a\x00")
    assert body.startswith(b"k8s\x00")
    assert decode_unknown(body) == ("apps/v1", "Deployment", b"\x0a\x00")
    with pytest.raises(ProtobufError, match="magic"):
        decode_unknown(b"{}")
    with pytest.raises(ProtobufError):
        decode_unknown(b"k8s\x00\x12\x05ab")  # raw runs past the end
    gzip = b"k8s\x00\x0a\x00\x12\x00\x1a\x04gzip"
    with pytest.raises(ProtobufError, match="contentEncoding"):
        decode_unknown(gzip)


def test_zero_values_of_omitempty_fields_are_dropped_and_others_kept() -> None:
    # name "" (omitempty), generation 0 (omitempty): dropped, as JSON omits them.
    assert decode_message(b"\x0a\x00\x38\x00", ObjectMeta) == {}
    # ContainerStatus.ready / restartCount are not omitempty: kept.
    from kubelite.api.core_v1 import ContainerStatus

    assert decode_message(b"\x20\x00\x28\x00", ContainerStatus) == {"ready": False, "restartCount": 0}


def test_negative_ints_are_ten_byte_varints() -> None:
    raw = b"\x38" + b"\xff" * 9 + b"\x01"  # generation = -1
    assert decode_message(raw, ObjectMeta) == {"generation": -1}
    assert encode_message({"generation": -1}, ObjectMeta) == raw


def test_repeated_ints_packed_or_not() -> None:
    from kubelite.api.batch_v1 import PodFailurePolicyOnExitCodesRequirement as Req

    unpacked = b"\x18\x01\x18\x02\x18" + b"\xff" * 9 + b"\x01"
    packed = b"\x1a\x0c\x01\x02" + b"\xff" * 9 + b"\x01"
    assert decode_message(unpacked, Req) == {"values": [1, 2, -1]}
    assert decode_message(packed, Req) == {"values": [1, 2, -1]}


def test_unknown_fields_are_skipped() -> None:
    raw = (
        b"\xa8\x1f\x05"  # field 501, varint
        + b"\xb1\x1f"
        + b"\x00" * 8  # field 502, fixed64
        + b"\xbd\x1f\x00\x00\x00\x00"  # field 503, fixed32
        + b"\xc2\x1f\x03abc"  # field 504, bytes
        + b"\x0a\x01x"
    )
    assert decode_message(raw, ObjectMeta) == {"name": "x"}


def test_intorstring_wire_form() -> None:
    from kubelite.api.core_v1 import ServicePort

    as_int = encode_message({"port": 80, "targetPort": 8080}, ServicePort)
    assert as_int == b"\x18\x50" + b"\x22\x07\x08\x00\x10\x90\x3f\x1a\x00"
    as_str = encode_message({"port": 80, "targetPort": "http"}, ServicePort)
    assert as_str == b"\x18\x50" + b"\x22\x0a\x08\x01\x10\x00\x1a\x04http"
    assert decode_message(as_str, ServicePort) == {"port": 80, "targetPort": "http"}


def test_times() -> None:
    raw = encode_message({"creationTimestamp": "2024-05-06T09:08:09.5+02:00"}, ObjectMeta)
    # 2024-05-06T07:08:09Z = 1714979289 seconds; Time drops the fraction on the JSON side.
    seconds, nanos = protobuf.parse_time("2024-05-06T07:08:09.5Z")
    assert (seconds, nanos) == (1714979289, 500_000_000)
    assert decode_message(raw, ObjectMeta) == {"creationTimestamp": "2024-05-06T07:08:09Z"}
    assert decode_message(b"\x42\x00", ObjectMeta) == {"creationTimestamp": None}  # Go's zero Time
    assert protobuf._format_time(1714979289, 123_456_789, micro=True) == "2024-05-06T07:08:09.123456Z"
    assert protobuf.parse_time("2024-05-06T07:08:09.123456789Z") == (1714979289, 123_456_789)
    assert protobuf._format_time(-1, 0, micro=False) == "1969-12-31T23:59:59Z"


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5\u00b5s"),
        (150_000_000, "150ms"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_001, "1h2m3.000000001s"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_go_durations(ns: int, text: str) -> None:
    assert format_duration(ns) == text
    assert parse_duration(text) == ns


def test_parse_duration_accepts_go_spellings_and_refuses_garbage() -> None:
    assert parse_duration("1h30m") == 5_400_000_000_000
    assert parse_duration("2us") == parse_duration("2\u03bcs") == 2_000
    assert parse_duration("0") == 0
    for bad in ("", "1", "1x", "h", "--1s"):
        with pytest.raises(ProtobufError):
            parse_duration(bad)


class DurationHolder(Model):
    """A stand-in for a metav1.Duration field (no served kind has one)."""

    timeout: Annotated[str, Wire(1)] = ""
    window: Annotated[str | None, Wire(2)] = None


def test_duration_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        prototables.SPECIAL, "test_protobuf.DurationHolder", {"timeout": "duration", "window": "duration"}
    )
    protobuf._schema.cache_clear()
    try:
        raw = encode_message({"timeout": "1m30s", "window": "0s"}, DurationHolder)
        assert raw == b"\x0a\x07\x08\x80\x88\xac\xa3\xcf\x02" + b"\x12\x02\x08\x00"
        assert decode_message(raw, DurationHolder) == {"timeout": "1m30s", "window": "0s"}
    finally:
        protobuf._schema.cache_clear()


def test_maps_string_lists_and_missing_entry_values() -> None:
    from kubelite.api.authentication_v1 import UserInfo

    doc = {"username": "u", "extra": {"scopes": ["a", "b"], "empty": []}}
    raw = encode_message(doc, UserInfo)
    assert decode_message(raw, UserInfo) == {"username": "u", "extra": {"scopes": ["a", "b"], "empty": []}}
    # An entry without a value is the value type's zero.
    assert decode_message(b"\x5a\x03\x0a\x01k", ObjectMeta) == {"labels": {"k": ""}}


def test_embedded_objects_json_or_protobuf() -> None:
    from kubelite.api.meta import WatchEvent

    as_json = encode_message(
        {"type": "ADDED", "object": {"kind": "Namespace", "apiVersion": "v1"}}, WatchEvent
    )
    assert decode_message(as_json, WatchEvent)["object"] == {"kind": "Namespace", "apiVersion": "v1"}
    ns = (FIXTURES / "namespace.bin").read_bytes()
    as_pb = b"\x0a\x05ADDED\x12" + bytes([len(ns) + 2]) + b"\x0a" + bytes([len(ns)]) + ns
    assert decode_message(as_pb, WatchEvent)["object"] == json.loads(
        (FIXTURES / "namespace.json").read_text()
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a\x05ab",  # string runs past the end
        b"\x0a",  # tag without value
        b"\x38\xff",  # truncated varint
        b"\x0b",  # group start: not used by Kubernetes
        b"\x0a\x02\xff\xfe",  # invalid UTF-8
        b"\x08\x01",  # name sent as a varint
    ],
)
def test_malformed_messages_are_protobuf_errors(raw: bytes) -> None:
    with pytest.raises(ProtobufError):
        decode_message(raw, ObjectMeta)


def test_encode_refuses_wrong_types() -> None:
    with pytest.raises(ProtobufError):
        encode_message({"name": 3}, ObjectMeta)
    with pytest.raises(ProtobufError):
        encode_message({"generation": "3"}, ObjectMeta)
    with pytest.raises(ProtobufError):
        encode_message({"labels": {"a": 1}}, ObjectMeta)


# ---------------------------------------------------------------- the tables


def test_tables_name_existing_fields() -> None:
    import importlib

    def cls_of(qual: str) -> Any:
        module, _, name = qual.partition(".")
        return getattr(importlib.import_module(f"kubelite.api.{module}"), name)

    for qual, fields in prototables.SPECIAL.items():
        if qual.startswith("test_"):
            continue
        known = fields_of(cls_of(qual))
        for name, kind in fields.items():
            assert name in known, (qual, name)
            assert kind in protobuf._SPECIAL_KINDS, (qual, kind)
    for qual, groups in prototables.INLINE.items():
        known = fields_of(cls_of(qual))
        for _, names in groups:
            assert set(names.split()) <= set(known), qual


def test_every_protobuf_model_compiles() -> None:
    """No two fields of a message share a number once inline structs are nested (catches a missing table row)."""
    import importlib

    for module in {r.model_path.partition(":")[0] for r in RESOURCES} | {"meta"}:
        mod = importlib.import_module(f"kubelite.api.{module}")
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, Model) and value.__module__ == mod.__name__:
                protobuf._schema(value)
