"""Registry configuration: mirrors, credentials and TLS, in k3s' ``registries.yaml`` format.

```yaml
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000"]     # ("endpoints" is accepted too); "*" mirrors every registry
configs:
  "127.0.0.1:5000":                        # keyed by the host[:port] of a mirror or registry
    auth: {username: u, password: p}       # or auth: <base64 user:pass>, or identitytoken
    tls: {insecure_skip_verify: true, ca_file: ..., cert_file: ..., key_file: ...}
```

Mirrors are tried in order, then the registry itself (as containerd does). A
mirror endpoint may be plain ``http://``; the registry itself is spoken to over
https, except a loopback registry, which is tried over https and then http
(Docker treats 127.0.0.0/8 as insecure too).
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubelite.kubelet.images.reference import DEFAULT_DOMAIN

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"


class RegistryConfigError(ValueError):
    """The registries file is not valid."""


@dataclass
class RegistryAuth:
    username: str = ""
    password: str = ""
    identity_token: str = ""

    @property
    def has_basic(self) -> bool:
        return bool(self.username or self.password)


@dataclass
class TLSConfig:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass
class HostConfig:
    auth: RegistryAuth | None = None
    tls: TLSConfig | None = None


@dataclass
class Endpoint:
    """One place to ask for a repository's content: ``url`` is scheme://host[:port][/prefix]."""

    url: str
    host: str  # host[:port], the key into ``configs``
    mirror: bool
    # the registry the reference names (for credentials keyed by it, e.g. docker.io)
    registry: str = ""

    @property
    def api_base(self) -> str:
        """The URL that ``/<name>/manifests/...`` is appended to."""
        base = self.url.rstrip("/")
        return base if base.endswith("/v2") else base + "/v2"


@dataclass
class RegistriesConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    configs: dict[str, HostConfig] = field(default_factory=dict)

    @classmethod
    def load(cls, source: str | Path | dict[str, Any] | RegistriesConfig | None) -> RegistriesConfig:
        """From a file path, an already-parsed dict, or ``None`` (no mirrors, no credentials).
        A path that does not exist is an empty configuration."""
        if source is None:
            return cls()
        if isinstance(source, RegistriesConfig):
            return source
        if isinstance(source, dict):
            return cls.from_dict(source)
        path = Path(source)
        if not path.exists():
            return cls()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise RegistryConfigError(f"{path}: {e}") from e
        if not isinstance(data, dict):
            raise RegistryConfigError(f"{path}: expected a mapping at the top level")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistriesConfig:
        mirrors: dict[str, list[str]] = {}
        for name, m in (data.get("mirrors") or {}).items():
            m = m or {}
            endpoints = m.get("endpoint", m.get("endpoints")) or []
            if isinstance(endpoints, str):
                endpoints = [endpoints]
            for e in endpoints:
                if urlsplit(e).scheme not in ("http", "https"):
                    raise RegistryConfigError(f"mirror endpoint {e!r} of {name!r} needs http:// or https://")
            mirrors[str(name)] = [str(e) for e in endpoints]
        configs: dict[str, HostConfig] = {}
        for host, c in (data.get("configs") or {}).items():
            c = c or {}
            hc = HostConfig()
            if a := c.get("auth"):
                auth = RegistryAuth(
                    username=str(a.get("username") or ""),
                    password=str(a.get("password") or ""),
                    identity_token=str(a.get("identitytoken") or a.get("identity_token") or ""),
                )
                if a.get("auth") and not auth.has_basic:
                    try:
                        user, _, pw = base64.b64decode(a["auth"]).decode().partition(":")
                    except ValueError as e:
                        raise RegistryConfigError(f"configs.{host}.auth.auth is not base64 user:pass") from e
                    auth.username, auth.password = user, pw
                hc.auth = auth
            if t := c.get("tls"):
                hc.tls = TLSConfig(
                    insecure_skip_verify=bool(t.get("insecure_skip_verify", False)),
                    ca_file=str(t.get("ca_file") or ""),
                    cert_file=str(t.get("cert_file") or ""),
                    key_file=str(t.get("key_file") or ""),
                )
            configs[_host_key(str(host))] = hc
        return cls(mirrors=mirrors, configs=configs)

    def endpoints_for(self, domain: str) -> list[Endpoint]:
        """Where to look for images of registry ``domain``, in order."""
        endpoints = [
            Endpoint(url=u, host=urlsplit(u).netloc, mirror=True, registry=domain)
            for u in self.mirrors.get(domain, self.mirrors.get("*", []))
        ]
        if domain == DEFAULT_DOMAIN:
            endpoints.append(
                Endpoint(DOCKER_HUB_ENDPOINT, urlsplit(DOCKER_HUB_ENDPOINT).netloc, False, domain)
            )
        else:
            endpoints.append(Endpoint(f"https://{domain}", domain, False, domain))
            if _is_loopback(domain):
                endpoints.append(Endpoint(f"http://{domain}", domain, False, domain))
        return endpoints

    def host_config(self, endpoint: Endpoint) -> HostConfig:
        """The settings for an endpoint: by its host, else by the registry it stands for."""
        hc = self.configs.get(endpoint.host)
        if hc is None and not endpoint.mirror:
            hc = self.configs.get(endpoint.registry)
        return hc or HostConfig()

    def ssl_context(self, endpoint: Endpoint) -> ssl.SSLContext | bool:
        """What aiohttp's ``ssl=`` gets for this endpoint."""
        tls = self.host_config(endpoint).tls
        if tls is None:
            return True
        ctx = ssl.create_default_context(cafile=tls.ca_file or None)
        if tls.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if tls.cert_file:
            ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
        return ctx


def _host_key(host: str) -> str:
    return urlsplit(host).netloc if "://" in host else host.rstrip("/")


def _is_loopback(domain: str) -> bool:
    host = urlsplit(f"//{domain}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
