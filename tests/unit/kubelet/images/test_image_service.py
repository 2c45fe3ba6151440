"""The ImageService over a store in a tmp dir: imports, pull policies, removal, GC, built-in images."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest
from image_testlib import BuiltImage, Entry, build_image, write_docker_archive, write_oci_archive

from kubelite.kubelet.images import (
    ImageNotFound,
    ImagePullError,
    ImageService,
    ensure_builtin_images,
)
from kubelite.kubelet.images.gc import candidates
from kubelite.kubelet.images.pull import PullResult
from kubelite.kubelet.images.store import ImageStore


def _image(tag: str) -> BuiltImage:
    return build_image(
        [
            [Entry("bin", "dir"), Entry("bin/sh", data=b"#!shell", mode=0o755), Entry("etc/old", data=b"o")],
            [Entry("etc/.wh.old"), Entry(f"data/{tag}", data=tag.encode() * 1000)],
        ],
        cmd=["sh", "-c", tag],
    )


def _exists(path: str | Path) -> bool:
    return os.path.lexists(path)


@pytest.fixture(params=["flat", "overlay"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> ImageService:
    mode = request.param
    if mode == "overlay" and os.geteuid() != 0:
        pytest.skip("overlay unpack mode needs root")
    return ImageService(tmp_path / "data", unpack_mode=mode)


async def test_oci_archive_import(service: ImageService, tmp_path: Path) -> None:
    img = _image("one")
    archive = tmp_path / "one.tar"
    write_oci_archive(archive, img, name="docker.io/library/one:latest")
    [info] = await service.import_archive(archive)
    assert info.names == ["docker.io/library/one:latest"]
    assert info.id == img.config_digest
    assert info.digest == f"docker.io/library/one@{img.manifest_digest}"
    assert info.config["Cmd"] == ["sh", "-c", "one"] and info.config["Entrypoint"] == []
    got = await service.ensure("one", "Never")
    assert got.ref == "docker.io/library/one:latest" and got.id == info.id
    top = Path(got.layers[-1])
    if service.store.mode == "flat":
        assert len(got.layers) == 1
        assert (top / "bin/sh").read_bytes() == b"#!shell"
        assert not (top / "etc/old").exists()
    else:
        assert len(got.layers) == 2
        assert (Path(got.layers[0]) / "bin/sh").exists() and (top / "etc/old").is_char_device()
    present = await service.present("one")  # ensure's answer in one trip to a thread
    assert present is not None and dataclasses.replace(present, last_used=got.last_used) == got
    assert await service.present("two") is None and await service.present("Bad//Name") is None
    # by id, short id and repo digest too
    assert (await service.ensure(info.digest, "Never")).id == info.id
    assert (await service.status(info.id)) is not None
    assert (await service.status(info.id[7:19])) is not None


async def test_import_with_name_and_unnamed(service: ImageService, tmp_path: Path) -> None:
    img = _image("two")
    archive = tmp_path / "two.tar"
    write_oci_archive(archive, img, platform=False)
    [unnamed] = await service.import_archive(archive)
    assert unnamed.names == [] and unnamed.ref == unnamed.id
    [named] = await service.import_archive(archive, name="example.com:5000/team/two:v2")
    assert named.names == ["example.com:5000/team/two:v2"]
    assert (await service.ensure("example.com:5000/team/two:v2", "Never")).id == img.config_digest


async def test_docker_archive_import(service: ImageService, tmp_path: Path) -> None:
    img = _image("three")
    archive = tmp_path / "three.tar"
    write_docker_archive(archive, img, ["three:1", "user/three:latest"])
    [info] = await service.import_archive(archive)
    assert sorted(info.names) == ["docker.io/library/three:1", "docker.io/user/three:latest"]
    assert info.id == img.config_digest and info.digest == ""
    got = await service.ensure("user/three", "IfNotPresent")
    assert _exists(Path(got.layers[-1], "data/three"))


async def test_docker_archive_with_wrong_diff_ids(service: ImageService, tmp_path: Path) -> None:
    img = _image("four")
    bad = BuiltImage(layers=[img.layers[1], img.layers[0]], config=img.config, manifest=img.manifest)
    archive = tmp_path / "bad.tar"
    write_docker_archive(archive, bad, ["bad:1"])
    with pytest.raises(ImagePullError, match="diffID"):
        await service.import_archive(archive)
    assert await service.status("bad:1") is None


async def test_never_and_if_not_present_without_registry(service: ImageService) -> None:
    with pytest.raises(
        ImageNotFound, match='Container image "nothere:1" is not present with pull policy of Never'
    ):
        await service.ensure("nothere:1", "Never")
    # IfNotPresent on a missing image pulls; nothing listens on this port
    service.registries.mirrors["docker.io"] = ["http://127.0.0.1:9"]
    with pytest.raises(ImagePullError, match='failed to pull image "nothere:1"') as e:
        await service.ensure("nothere:1", "IfNotPresent")
    assert e.value.reason == "Unavailable"
    with pytest.raises(ImagePullError, match="couldn't parse image name"):
        await service.ensure("Bad//Name", "IfNotPresent")


async def test_remove_untags_then_frees(service: ImageService, tmp_path: Path) -> None:
    img = _image("five")
    archive = tmp_path / "five.tar"
    write_docker_archive(archive, img, ["five:1", "five:2"])
    [info] = await service.import_archive(archive)
    used = (await service.fs_stats()).used_bytes
    assert used > 0
    await service.remove("five:1")
    assert (await service.status("five:2")) is not None
    assert all(_exists(d) for d in info.layers)
    await service.remove("five:2")
    assert await service.list() == []
    assert not any(_exists(d) for d in info.layers)
    assert os.listdir(service.store.blobs_dir) == []
    assert (await service.fs_stats()).used_bytes == 0
    with pytest.raises(ImageNotFound):
        await service.remove("five:2")


async def test_gc_least_recently_used_first_never_in_use(service: ImageService, tmp_path: Path) -> None:
    ids = {}
    for tag in ("a", "b", "c"):
        archive = tmp_path / f"{tag}.tar"
        write_docker_archive(archive, _image(tag), [f"gc-{tag}:1"])
        [info] = await service.import_archive(archive)
        ids[tag] = info.id
        with service.store.locked_index() as index:  # as if pulled: imported images are pinned
            index["images"][info.id]["imported"] = False
    # use order: b, a, c (c most recent)
    for tag in ("b", "a", "c"):
        await asyncio.sleep(0.01)
        await service.ensure(f"gc-{tag}:1", "Never")
    order = [r.id for r in candidates(service.store.records(), in_use={"gc-a:1"})]
    assert order == [ids["b"], ids["c"]]
    # one byte to free: the least recently used image that is not in use goes, and only it
    result = await service.gc(1, in_use={"docker.io/library/gc-b:1"})
    assert result.removed == [ids["a"]] and result.freed_bytes > 0
    # everything that may go, goes; in-use images stay whatever the target
    result = await service.gc(10**12, in_use={ids["b"]})
    assert result.removed == [ids["c"]]
    assert [i.id for i in await service.list()] == [ids["b"]]
    # the shared lower layer of b is still there and usable
    got = await service.ensure("gc-b:1", "Never")
    assert all(_exists(d) for d in got.layers)
    # too young, or imported (the node's offline copy): never collected
    assert (await service.gc(10**12, in_use=set(), min_age=3600)).removed == []
    service.store.mark_imported(ids["b"])
    assert (await service.gc(10**12, in_use=set())).removed == []
    assert [i.id for i in await service.list()] == [ids["b"]]


async def test_concurrent_pulls_share_one(service: ImageService, tmp_path: Path) -> None:
    img = _image("six")
    archive = tmp_path / "six.tar"
    write_oci_archive(archive, img, name="docker.io/library/six:latest")
    # put the blobs in the store as a pull would, then let a fake registry client "pull" them
    from kubelite.kubelet.images import archive as archive_mod

    [record] = await asyncio.to_thread(archive_mod.import_archive, str(archive), service.store)
    calls = 0

    async def fake_pull(ref, store, lease_id, credentials=None):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return PullResult(record, "fake")

    service.client.pull = fake_pull  # type: ignore[method-assign]
    a, b = await asyncio.gather(service.ensure("six", "Always"), service.pull("docker.io/library/six:latest"))
    assert calls == 1 and a.id == b.id == img.config_digest
    await service.ensure("six", "Always")
    assert calls == 2


async def test_ensure_builtin_images(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".build").mkdir(parents=True)
    service = ImageService(tmp_path / "data", unpack_mode="flat")
    assert await ensure_builtin_images(service, repo) == []
    write_oci_archive(repo / ".build/busybox-oci.tar", _image("bb"), name="docker.io/library/busybox:latest")
    assert await ensure_builtin_images(service, repo) == ["docker.io/library/busybox:latest"]
    assert await ensure_builtin_images(service, repo) == []
    info = await service.ensure("busybox", "Never")
    assert info.config["Cmd"] == ["sh", "-c", "bb"]
    # a rebuilt archive replaces the image
    write_oci_archive(repo / ".build/busybox-oci.tar", _image("bb2"), name="docker.io/library/busybox:latest")
    assert await ensure_builtin_images(service, repo) == ["docker.io/library/busybox:latest"]
    assert (await service.ensure("busybox", "Never")).config["Cmd"] == ["sh", "-c", "bb2"]


def test_store_survives_reopen_and_sweeps_debris(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images", mode="flat")
    digest = store.put_blob(b"hello")
    (Path(store.ingest_dir) / "partial").write_bytes(b"x")
    os.utime(Path(store.ingest_dir) / "partial", (0, 0))
    store.lease("l1", {digest})
    reopened = ImageStore(tmp_path / "images", mode="flat")
    reopened.sweep()
    assert reopened.has_blob(digest)  # leased
    assert not (Path(store.ingest_dir) / "partial").exists()
    reopened.release("l1")
    reopened.sweep()
    assert not reopened.has_blob(digest)


async def test_only_imported_images_are_a_fallback_for_failed_pulls(
    service: ImageService, tmp_path: Path
) -> None:
    img = _image("imp")
    archive = tmp_path / "imp.tar"
    write_oci_archive(archive, img, name="docker.io/library/imp:latest")
    [info] = await service.import_archive(archive)
    got = await service.imported_image("imp")
    assert got is not None and got.id == info.id
    assert await service.imported_image("absent:1") is None
    # an image in the store that was not imported (pulled) is no fallback
    record = service.store.lookup("docker.io/library/imp:latest")
    assert record is not None
    with service.store.locked_index() as index:
        index["images"][record.id]["imported"] = False
    assert await service.imported_image("imp") is None


def test_gc_spares_images_added_or_used_lately() -> None:
    from kubelite.kubelet.images.store import ImageRecord

    def record(id_: str, added: float, used: float, imported: bool = False) -> ImageRecord:
        return ImageRecord(id_, "", [], {}, 1, added_at=added, last_used=used, imported=imported)

    records = [
        record("old", 0, 10),
        record("used-lately", 0, 100),
        record("new", 90, 0),
        record("pinned", 0, 0, True),
    ]
    assert [r.id for r in candidates(records, set(), added_before=50)] == ["old"]
