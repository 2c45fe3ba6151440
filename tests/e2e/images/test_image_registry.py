"""Pulls from a real Docker distribution registry (``docker-registry``) on 127.0.0.1, loaded with
``skopeo`` from the busybox archive ``tools/build_busybox_image.py`` builds: mirrors, direct
pulls over http, digests, pull policies, digest verification, bearer-token auth with a token
server run by the test. Skipped, naming what is missing, without docker-registry, skopeo or
busybox-static.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelite.kubelet.images import DigestMismatch, ImageNotFound, ImagePullError, ImageService, RegistryAuth

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localregistry import REGISTRY_BIN, SKOPEO_BIN, Registry, TokenServer, skopeo_push, start_registry

REPO_ROOT = Path(__file__).resolve().parents[3]
BUSYBOX = "/bin/busybox"


def _missing() -> list[str]:
    missing = []
    if REGISTRY_BIN is None:
        missing.append("docker-registry (apt-get install docker-registry)")
    if SKOPEO_BIN is None:
        missing.append("skopeo (apt-get install skopeo)")
    if not os.path.isfile(BUSYBOX):
        missing.append("busybox-static (/bin/busybox)")
    return missing


@pytest.fixture(scope="module", autouse=True)
def _requirements() -> None:
    if missing := _missing():
        pytest.skip("needs " + ", ".join(missing))


def _archive_digests(archive: Path) -> tuple[str, str]:
    """(manifest digest, config digest) of the built busybox archive."""
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        digest = index["manifests"][0]["digest"]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{digest[7:]}"))  # type: ignore[arg-type]
    return digest, manifest["config"]["digest"]


@pytest.fixture(scope="module")
def busybox_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("busybox") / "busybox-oci.tar"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools/build_busybox_image.py"), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, busybox_archive: Path) -> Iterator[Registry]:
    base = tmp_path_factory.mktemp("registry")
    reg = start_registry(base, base / "storage")
    try:
        skopeo_push(busybox_archive, f"docker://{reg.host}/library/busybox:latest")
        skopeo_push(busybox_archive, f"docker://{reg.host}/other/app:v1")
        yield reg
    finally:
        reg.stop()


def _mirror(reg: Registry) -> dict[str, Any]:
    return {"mirrors": {"docker.io": {"endpoint": [reg.url]}}}


def _exists(path: str | Path) -> bool:
    return os.path.lexists(path)


async def test_pull_through_docker_io_mirror(
    registry: Registry, busybox_archive: Path, tmp_path: Path
) -> None:
    manifest_digest, config_digest = _archive_digests(busybox_archive)
    images = ImageService(tmp_path / "data", _mirror(registry))
    info = await images.ensure("busybox", "IfNotPresent")
    assert info.ref == "docker.io/library/busybox:latest"
    assert info.id == config_digest
    assert info.digest == f"docker.io/library/busybox@{manifest_digest}"
    assert info.config["Cmd"] == ["sh"] and info.config["Env"][0].startswith("PATH=")
    assert _exists(Path(info.layers[-1], "bin/busybox"))
    assert os.readlink(Path(info.layers[-1], "bin/sh")) == "busybox"
    assert [i.names for i in await images.list()] == [["docker.io/library/busybox:latest"]]


async def test_pull_direct_over_http_and_by_digest(
    registry: Registry, busybox_archive: Path, tmp_path: Path
) -> None:
    manifest_digest, config_digest = _archive_digests(busybox_archive)
    images = ImageService(tmp_path / "data")
    info = await images.pull(f"{registry.host}/other/app:v1")
    assert info.id == config_digest
    by_digest = await images.ensure(f"{registry.host}/other/app@{manifest_digest}", "Always")
    assert by_digest.id == config_digest
    assert by_digest.digest == f"{registry.host}/other/app@{manifest_digest}"
    assert [i.names for i in await images.list()] == [[f"{registry.host}/other/app:v1"]]


async def test_not_found(registry: Registry, tmp_path: Path) -> None:
    images = ImageService(tmp_path / "data")
    ref = f"{registry.host}/library/nope:1"
    with pytest.raises(ImagePullError) as e:
        await images.ensure(ref, "IfNotPresent")
    assert e.value.reason == "NotFound"
    assert str(e.value).startswith(f'failed to pull image "{ref}": ')
    assert "not found" in str(e.value)


async def test_pull_policies(registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "data"
    images = ImageService(data, _mirror(registry))
    with pytest.raises(ImageNotFound):
        await images.ensure("busybox", "Never")
    calls = 0
    real_pull = images.client.pull

    async def counting_pull(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await real_pull(*args, **kwargs)

    images.client.pull = counting_pull  # type: ignore[method-assign]
    first = await images.ensure("busybox", "IfNotPresent")
    await images.ensure("busybox", "IfNotPresent")
    await images.ensure("busybox", "Never")
    assert calls == 1
    await images.ensure("busybox", "Always")
    assert calls == 2
    # the registry unreachable: IfNotPresent and Never use the local image, Always fails
    offline = ImageService(data, {"mirrors": {"docker.io": {"endpoint": ["http://127.0.0.1:9"]}}})
    assert (await offline.ensure("busybox", "IfNotPresent")).id == first.id
    assert (await offline.ensure("busybox", "Never")).id == first.id
    with pytest.raises(ImagePullError) as e:
        await offline.ensure("busybox", "Always")
    assert e.value.reason == "Unavailable"


async def test_digest_verification_failure(busybox_archive: Path, tmp_path: Path) -> None:
    reg = start_registry(tmp_path / "reg", tmp_path / "storage")
    try:
        skopeo_push(busybox_archive, f"docker://{reg.host}/library/busybox:latest")
        with tarfile.open(busybox_archive) as tar:
            digest = json.load(tar.extractfile("index.json"))["manifests"][0]["digest"]  # type: ignore[arg-type]
            manifest = json.load(tar.extractfile(f"blobs/sha256/{digest[7:]}"))  # type: ignore[arg-type]
        layer = manifest["layers"][0]["digest"]
        data = reg.blob_data(layer)
        content = bytearray(data.read_bytes())
        content[len(content) // 2] ^= 0xFF  # same size, other bytes: the registry serves it as is
        data.write_bytes(bytes(content))
        images = ImageService(tmp_path / "data", _mirror(reg))
        with pytest.raises(DigestMismatch) as e:
            await images.ensure("busybox", "IfNotPresent")
        assert e.value.reason == "DigestMismatch"
        assert "digest mismatch" in str(e.value) and layer in str(e.value)
        assert await images.list() == []
        assert not images.store.has_blob(layer)
    finally:
        reg.stop()


async def test_bearer_token_auth(registry: Registry, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, "alice", "s3cret")
    await tokens.start()
    # a second registry on the same storage, behind token auth
    reg = start_registry(tmp_path / "reg", registry.storage, tokens.registry_auth())
    try:
        ref = f"{reg.host}/library/busybox:latest"
        anonymous = ImageService(tmp_path / "anon")
        with pytest.raises(ImagePullError) as e:
            await anonymous.ensure(ref, "IfNotPresent")
        assert e.value.reason == "Unauthorized"
        assert "failed to fetch anonymous token" in str(e.value)
        assert tokens.requests[-1] == {"scope": "repository:library/busybox:pull", "service": tokens.service}

        config = {"configs": {reg.host: {"auth": {"username": "alice", "password": "s3cret"}}}}
        images = ImageService(tmp_path / "data", config)
        info = await images.ensure(ref, "IfNotPresent")
        assert _exists(Path(info.layers[-1], "bin/busybox"))
        # credentials passed per call (imagePullSecrets) work without configuration too
        other = ImageService(tmp_path / "other")
        info2 = await other.ensure(ref, "Always", credentials={reg.host: RegistryAuth("alice", "s3cret")})
        assert info2.id == info.id
        wrong = ImageService(
            tmp_path / "wrong", {"configs": {reg.host: {"auth": {"username": "alice", "password": "x"}}}}
        )
        with pytest.raises(ImagePullError) as e:
            await wrong.ensure(ref, "IfNotPresent")
        assert e.value.reason == "Unauthorized" and "failed to fetch authorized token" in str(e.value)
    finally:
        reg.stop()
        await tokens.stop()


def test_cli_pull_ls_rm(registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "registries.yaml").write_text(yaml.safe_dump(_mirror(registry)))
    kubelite = [sys.executable, "-m", "kubelite.cli.main"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*kubelite, "image", *args, "--data-dir", str(data)], capture_output=True, text=True
        )

    pulled = run("pull", "busybox")
    assert pulled.returncode == 0, pulled.stderr
    listed = run("ls")
    assert "docker.io/library/busybox" in listed.stdout and "latest" in listed.stdout
    missing = run("pull", "library/nope:1")
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert run("rm", "busybox").returncode == 0
    with contextlib.suppress(FileNotFoundError):
        assert os.listdir(data / "images/blobs/sha256") == []
