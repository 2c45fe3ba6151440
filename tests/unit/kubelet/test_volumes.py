"""Volumes: the atomic writer, configMap/secret/downwardAPI/projected content, hostPath, emptyDir."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest
from podworker_fakes import Objects, inline, make_pod

from kubelite.api.core_v1 import ConfigMap, Container, Secret
from kubelite.kubelet.volumes import VolumeError, VolumeManager, container_mounts, write_atomic


def test_atomic_writer_swaps_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_atomic(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert first.startswith("..") and (target / first).is_dir()
    assert os.readlink(target / "a") == "..data/a" and (target / "a").read_bytes() == b"1"
    assert (target / "dir" / "b").read_bytes() == b"2"
    assert oct((target / "dir" / "b").stat().st_mode & 0o777) == oct(0o600)
    assert not write_atomic(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})  # same content: no swap
    assert write_atomic(target, {"a": (b"changed", 0o644)})
    second = os.readlink(target / "..data")
    assert second != first and not (target / first).exists()  # the old version is gone
    assert (target / "a").read_bytes() == b"changed"
    assert not (target / "dir").exists()  # names no longer present are unlinked
    with pytest.raises(ValueError):
        write_atomic(target, {"../escape": (b"", 0o644)})


def _manager(tmp_path: Path, objects: Objects) -> VolumeManager:
    return VolumeManager(
        tmp_path / "pods", objects, node_allocatable={"cpu": "2", "memory": "1Gi"}, offload=inline
    )


async def test_configmap_volume_and_refresh(tmp_path: Path) -> None:
    objects = Objects(configmaps={"cfg": ConfigMap(data={"greeting": "hi", "other": "x"})})
    vm = _manager(tmp_path, objects)
    pod = make_pod({"containers": [], "volumes": [{"name": "config", "configMap": {"name": "cfg"}}]})
    vols = await vm.setup(pod)
    path = Path(vols["config"].host_path)
    assert vols["config"].read_only and (path / "greeting").read_text() == "hi"
    objects.configmaps["cfg"] = ConfigMap(data={"greeting": "hello"})
    assert await vm.refresh(pod) == ["config"]
    assert (path / "greeting").read_text() == "hello" and not (path / "other").exists()
    assert await vm.refresh(pod) == []
    del objects.configmaps["cfg"]
    assert await vm.refresh(pod) == []  # gone meanwhile: the last content stays
    assert (path / "greeting").read_text() == "hello"
    await vm.teardown(pod.metadata.uid)
    assert not path.exists()


async def test_items_modes_optional_and_errors(tmp_path: Path) -> None:
    objects = Objects(
        secrets={"sec": Secret(data={"password": b"s3cr3t"})}, configmaps={"cfg": ConfigMap(data={"a": "1"})}
    )
    vm = _manager(tmp_path, objects)
    pod = make_pod(
        {
            "containers": [],
            "volumes": [
                {
                    "name": "s",
                    "secret": {
                        "secretName": "sec",
                        "defaultMode": 0o400,
                        "items": [{"key": "password", "path": "p/pw"}],
                    },
                },
                {"name": "opt", "configMap": {"name": "missing", "optional": True}},
            ],
        }
    )
    vols = await vm.setup(pod)
    pw = Path(vols["s"].host_path) / "p" / "pw"
    assert pw.read_bytes() == b"s3cr3t" and pw.stat().st_mode & 0o777 == 0o400
    assert os.listdir(vols["opt"].host_path) == ["..data"] or sorted(os.listdir(vols["opt"].host_path))[
        0
    ].startswith("..")
    bad = make_pod(
        {"containers": [], "volumes": [{"name": "v", "configMap": {"name": "missing"}}]}, name="bad"
    )
    with pytest.raises(VolumeError, match='configmap "missing" not found'):
        await vm.setup(bad)
    bad_key = make_pod(
        {
            "containers": [],
            "volumes": [{"name": "v", "configMap": {"name": "cfg", "items": [{"key": "zz", "path": "z"}]}}],
        },
        name="bk",
    )
    with pytest.raises(VolumeError, match="non-existent config key: zz"):
        await vm.setup(bad_key)


async def test_downward_and_projected(tmp_path: Path) -> None:
    objects = Objects(configmaps={"cfg": ConfigMap(data={"a": "1"})})
    vm = _manager(tmp_path, objects)
    pod = make_pod(
        {
            "containers": [{"name": "c", "image": "x", "resources": {"limits": {"memory": "64Mi"}}}],
            "volumes": [
                {
                    "name": "info",
                    "downwardAPI": {
                        "items": [
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                            {
                                "path": "mem",
                                "resourceFieldRef": {
                                    "containerName": "c",
                                    "resource": "limits.memory",
                                    "divisor": "1Mi",
                                },
                            },
                        ]
                    },
                },
                {
                    "name": "all",
                    "projected": {
                        "sources": [
                            {"configMap": {"name": "cfg"}},
                            {
                                "downwardAPI": {
                                    "items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                                }
                            },
                        ]
                    },
                },
            ],
        },
        labels={"b": "2", "a": "1"},
    )
    vols = await vm.setup(pod)
    info = Path(vols["info"].host_path)
    assert (info / "labels").read_text() == 'a="1"\nb="2"'
    assert (info / "name").read_text() == "p" and (info / "mem").read_text() == "64"
    everything = Path(vols["all"].host_path)
    assert (everything / "a").read_text() == "1" and (everything / "ns").read_text() == "default"


async def test_empty_dir_host_path_and_mounts(tmp_path: Path) -> None:
    vm = _manager(tmp_path, Objects())
    host = tmp_path / "host" / "data"
    pod = make_pod(
        {
            "containers": [],
            "volumes": [
                {"name": "work", "emptyDir": {}},
                {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "h", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
            ],
        }
    )
    vols = await vm.setup(pod)
    assert host.is_dir() and Path(vols["work"].host_path).is_dir()
    # without host mounts (not root, not runc) a Memory emptyDir is a plain shared directory;
    # tests/e2e/test_node_agent.py checks the tmpfs one under runc
    assert vols["mem"].kind == "bind" and Path(vols["mem"].host_path).is_dir()
    c = msgspec.convert(
        {
            "name": "c",
            "volumeMounts": [
                {"name": "work", "mountPath": "/w"},
                {"name": "work", "mountPath": "/sub", "subPath": "x/y"},
                {"name": "mem", "mountPath": "/m"},
                {"name": "h", "mountPath": "/h", "readOnly": True},
            ],
        },
        Container,
    )
    mounts = {m.container_path: m for m in container_mounts(c, vols, {})}
    assert mounts["/sub"].host_path.endswith("x/y") and os.path.isdir(mounts["/sub"].host_path)
    assert mounts["/m"].host_path == vols["mem"].host_path and mounts["/h"].read_only
    missing = make_pod(
        {
            "containers": [],
            "volumes": [{"name": "h", "hostPath": {"path": str(tmp_path / "nope"), "type": "Directory"}}],
        },
        name="m",
    )
    with pytest.raises(VolumeError, match="does not exist"):
        await vm.setup(missing)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to another group, tmpfs mounts)")


@needs_root
async def test_fs_group_owns_the_volumes(tmp_path: Path) -> None:
    objects = Objects(secrets={"sec": Secret(data={"k": b"v"})})
    vm = _manager(tmp_path, objects)
    pod = make_pod(
        {
            "securityContext": {"fsGroup": 2000},
            "containers": [],
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "s", "secret": {"secretName": "sec", "defaultMode": 0o400}},
            ],
        }
    )
    vols = await vm.setup(pod)
    scratch = Path(vols["scratch"].host_path)
    st = scratch.stat()
    assert st.st_gid == 2000 and oct(st.st_mode & 0o7777) == oct(0o2777)  # drwxrwsrwx root:2000
    (scratch / "new").write_text("x")
    assert (scratch / "new").stat().st_gid == 2000  # setgid: files made later join the group
    secret = Path(vols["s"].host_path) / "k"
    assert secret.stat().st_gid == 2000 and secret.stat().st_mode & 0o440 == 0o440
    assert os.lstat(Path(vols["s"].host_path) / "k").st_gid == 2000  # the symlink too
    assert oct(secret.stat().st_mode & 0o777) == oct(0o440)  # 0400 made group-readable
    data = os.readlink(Path(vols["s"].host_path) / "..data")
    assert await vm.refresh(pod) == []  # unchanged content is not published again
    assert os.readlink(Path(vols["s"].host_path) / "..data") == data
    objects.secrets["sec"] = Secret(data={"k": b"new"})
    assert await vm.refresh(pod) == ["s"]
    assert secret.read_bytes() == b"new" and secret.stat().st_gid == 2000  # owned before the swap
    await vm.teardown(pod.metadata.uid)


@needs_root
async def test_secrets_live_in_memory(tmp_path: Path) -> None:
    objects = Objects(
        secrets={"sec": Secret(data={"k": b"v"})}, configmaps={"cfg": ConfigMap(data={"a": "1"})}
    )
    vm = VolumeManager(tmp_path / "pods", objects, offload=inline, mount_tmpfs=True)
    pod = make_pod(
        {
            "containers": [],
            "volumes": [
                {"name": "s", "secret": {"secretName": "sec"}},
                {"name": "c", "configMap": {"name": "cfg"}},
            ],
        }
    )
    try:
        try:
            vols = await vm.setup(pod)
        except VolumeError as e:
            if "not permitted" in str(e):
                pytest.skip(f"root without the right to mount a tmpfs here: {e}")
            raise
        assert os.path.ismount(vols["s"].host_path) and not os.path.ismount(vols["c"].host_path)
        assert (Path(vols["s"].host_path) / "k").read_bytes() == b"v"
        assert await vm.refresh(pod) == []  # the tmpfs is there already: kept
    finally:
        await vm.teardown(pod.metadata.uid)
    assert not os.path.exists(tmp_path / "pods" / pod.metadata.uid / "volumes")
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()  # unmounted
