"""registries.yaml (k3s format) and registry challenges."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kubelite.kubelet.images.config import RegistriesConfig, RegistryConfigError
from kubelite.kubelet.images.pull import _parse_challenge


def test_registries_yaml(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(
        f"""
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000", "https://mirror.example.com/v2"]
  "*":
    endpoints: ["https://all.example.com"]
configs:
  "127.0.0.1:5000":
    auth: {{username: u, password: p}}
  https://mirror.example.com:
    auth: {{auth: {base64.b64encode(b"x:y:z").decode()}}}
    tls: {{insecure_skip_verify: true}}
"""
    )
    c = RegistriesConfig.load(path)
    hub = c.endpoints_for("docker.io")
    assert [e.url for e in hub] == [
        "http://127.0.0.1:5000",
        "https://mirror.example.com/v2",
        "https://registry-1.docker.io",
    ]
    assert [e.api_base for e in hub[:2]] == ["http://127.0.0.1:5000/v2", "https://mirror.example.com/v2"]
    assert [e.mirror for e in hub] == [True, True, False]
    auth = c.host_config(hub[0]).auth
    assert auth is not None and (auth.username, auth.password) == ("u", "p")
    auth = c.host_config(hub[1]).auth
    assert auth is not None and (auth.username, auth.password) == ("x", "y:z")
    ctx = c.ssl_context(hub[1])
    assert not isinstance(ctx, bool) and not ctx.check_hostname
    # "*" mirrors registries without their own entry; a registry itself is last
    assert [e.url for e in c.endpoints_for("quay.io")] == ["https://all.example.com", "https://quay.io"]
    # a loopback registry is tried over https, then http
    assert [e.url for e in RegistriesConfig().endpoints_for("127.0.0.1:5000")] == [
        "https://127.0.0.1:5000",
        "http://127.0.0.1:5000",
    ]
    assert RegistriesConfig.load(tmp_path / "missing.yaml").mirrors == {}


def test_bad_config() -> None:
    with pytest.raises(RegistryConfigError):
        RegistriesConfig.from_dict({"mirrors": {"docker.io": {"endpoint": ["127.0.0.1:5000"]}}})


def test_challenge() -> None:
    scheme, params = _parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/busybox:pull,push",
    }
    assert _parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
