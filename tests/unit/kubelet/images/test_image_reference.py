"""Image references are normalised as Docker and Kubernetes do."""

from __future__ import annotations

import pytest

from kubelite.kubelet.images import default_pull_policy
from kubelite.kubelet.images.reference import InvalidReference, is_image_id, parse_reference

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("user/app:1", "docker.io/user/app:1"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("host:5000/x/y@" + D, "host:5000/x/y@" + D),
        ("quay.io/a/b/c:v1", "quay.io/a/b/c:v1"),
        ("busybox:1@" + D, "docker.io/library/busybox:1@" + D),
        ("127.0.0.1:5000/library/busybox", "127.0.0.1:5000/library/busybox:latest"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("my_org/app-name.x", "docker.io/my_org/app-name.x:latest"),
    ],
)
def test_normalise(ref: str, want: str) -> None:
    assert str(parse_reference(ref)) == want


def test_parts() -> None:
    r = parse_reference("host:5000/x/y@" + D)
    assert (r.domain, r.path, r.tag, r.digest) == ("host:5000", "x/y", "", D)
    assert r.repository == "host:5000/x/y"
    assert r.object == D
    assert parse_reference("busybox").familiar_name == "busybox"
    assert parse_reference("user/app").familiar_name == "user/app"
    assert parse_reference("quay.io/a/b").familiar_name == "quay.io/a/b"


@pytest.mark.parametrize(
    "ref", ["", "Busybox", "busybox:", "busybox@sha256:abc", "a//b", "-x", "busybox:tag with space", "x/../y"]
)
def test_invalid(ref: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(ref)


def test_image_ids_and_default_policy() -> None:
    assert is_image_id(D) and is_image_id("a" * 64)
    assert not is_image_id("busybox")
    assert default_pull_policy("busybox") == "Always"
    assert default_pull_policy("busybox:latest") == "Always"
    assert default_pull_policy("busybox:1.36") == "IfNotPresent"
    assert default_pull_policy("busybox@" + D) == "IfNotPresent"
