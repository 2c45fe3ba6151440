"""Image references, parsed and normalised as Docker and Kubernetes do.

``busybox`` is ``docker.io/library/busybox:latest``; ``user/app:1`` is
``docker.io/user/app:1``; ``host:5000/x/y@sha256:...`` names a registry by its
first component when that has a dot or a port or is ``localhost``. A reference
with a digest and no tag gets no default tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class InvalidReference(ValueError):
    """The string is not an image reference."""


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """``docker.io/library/busybox``: the name without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """``busybox`` for ``docker.io/library/busybox`` (as ``docker images`` shows it)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
            return self.path[len(OFFICIAL_REPO_PREFIX) :]
        return self.path

    @property
    def object(self) -> str:
        """What the registry's manifest endpoint is asked for: the digest, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, "")

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, "", digest)

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def parse_reference(ref: str) -> Reference:
    """Parse and normalise ``ref``; raises ``InvalidReference``."""
    s = ref.strip()
    if not s:
        raise InvalidReference("empty image reference")
    digest = ""
    if "@" in s:
        s, digest = s.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference(f'invalid reference format: invalid digest in "{ref}"')
        if digest.startswith("sha256:") and not _SHA256_RE.match(digest):
            raise InvalidReference(f'invalid reference format: invalid sha256 digest in "{ref}"')
    tag = ""
    # a tag is after the last colon, unless that colon is part of the domain's port
    slash = s.rfind("/")
    colon = s.rfind(":")
    if colon > slash:
        s, tag = s[:colon], s[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidReference(f'invalid reference format: invalid tag in "{ref}"')
    domain, sep, rest = s.partition("/")
    if not sep or not ("." in domain or ":" in domain or domain == "localhost" or domain.startswith("[")):
        domain, rest = DEFAULT_DOMAIN, s
    elif not _DOMAIN_RE.match(domain):
        raise InvalidReference(f'invalid reference format: invalid registry "{domain}" in "{ref}"')
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if rest != rest.lower():
        raise InvalidReference(f'invalid reference format: repository name must be lowercase: "{ref}"')
    if not _PATH_RE.match(rest):
        raise InvalidReference(f'invalid reference format: "{ref}"')
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_REPO_PREFIX + rest
    if len(domain) + 1 + len(rest) > 255:
        raise InvalidReference(f'invalid reference format: repository name too long: "{ref}"')
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, rest, tag, digest)


def normalize(ref: str) -> str:
    """The fully qualified form of ``ref`` (``docker.io/library/busybox:latest``)."""
    return str(parse_reference(ref))


def is_image_id(s: str) -> bool:
    """``sha256:<64 hex>`` or 64 hex: an image id rather than a name."""
    return bool(_SHA256_RE.match(s)) or bool(re.fullmatch(r"[a-f0-9]{64}", s))
