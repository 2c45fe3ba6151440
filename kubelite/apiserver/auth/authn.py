"""Authentication: who is making a request.

An ``Authenticator`` looks at a request's headers and its verified TLS client
certificate and answers with a ``UserInfo``, with ``None`` when the request
carries no credentials it understands, or raises ``AuthenticationError`` when
it carries credentials that are present but wrong (an unknown bearer token):
the API server answers that with 401 without asking anyone else.

Built-ins, as in Kubernetes: ``X509Authenticator`` (CN is the user, each O a
group), ``TokenFileAuthenticator`` (the ``--token-auth-file`` CSV) and
``UnionAuthenticator`` (the first that recognises the request wins). Every
authenticated user is also in the group ``system:authenticated``. A request
that no authenticator recognises is ``ANONYMOUS``; the API server lets
anonymous requests reach only the paths for which ``anonymous_allowed`` is true
(health, version, discovery, OpenAPI) and answers 401 to the rest.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"


@dataclass(frozen=True)
class UserInfo:
    """The user a request acts as (Kubernetes' ``user.Info``)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS.name


ANONYMOUS = UserInfo("system:anonymous", (UNAUTHENTICATED_GROUP,))


class AuthenticationError(Exception):
    """Credentials were presented but are not valid: the request gets 401 Unauthorized."""


class Authenticator(Protocol):
    def authenticate(self, headers: Mapping[str, str], peercert: dict[str, Any] | None) -> UserInfo | None:
        """The user these credentials name, ``None`` if they say nothing to this
        authenticator, or raise ``AuthenticationError`` if they are present but wrong.

        ``headers`` is the request's headers (case-insensitive mappings such as
        aiohttp's, or a plain dict); ``peercert`` is ``ssl.SSLSocket.getpeercert()``
        of the connection: a verified client certificate, or None/{} without one.
        Must not block: it runs on the event loop for every request.
        """
        ...


def authenticated(user: UserInfo) -> UserInfo:
    """``user`` with the group ``system:authenticated`` added (once)."""
    if AUTHENTICATED_GROUP in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED_GROUP), user.uid, user.extra)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` in any letter case, also for a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None (as Kubernetes'
    bearertoken authenticator: another scheme or an empty token is no token)."""
    value = header(headers, "Authorization")
    if not value:
        return None
    parts = value.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


class X509Authenticator:
    """Users from verified TLS client certificates: the subject's CN is the user name and
    every O is a group (so the admin certificate, O=system:masters, is a cluster admin)."""

    def authenticate(self, headers: Mapping[str, str], peercert: dict[str, Any] | None) -> UserInfo | None:
        if not peercert:
            return None
        name = ""
        groups: list[str] = []
        for rdn in peercert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    name = value  # the last CN wins, as in Go's pkix.Name
                elif key == "organizationName":
                    groups.append(value)
        if not name:
            return None
        return authenticated(UserInfo(name, tuple(groups)))


class TokenFileError(ValueError):
    """The static token file cannot be used; the server refuses to start."""


class StaticTokenAuthenticator:
    """Bearer tokens of a fixed table (token -> user)."""

    def __init__(self, tokens: dict[str, UserInfo]) -> None:
        self.tokens = tokens

    def authenticate(self, headers: Mapping[str, str], peercert: dict[str, Any] | None) -> UserInfo | None:
        token = bearer_token(headers)
        if token is None:
            return None
        user = self.tokens.get(token)
        if user is None:
            raise AuthenticationError("invalid bearer token")
        return user


class TokenFileAuthenticator(StaticTokenAuthenticator):
    """Bearer tokens from Kubernetes' static token file (``--token-auth-file``).

    A CSV file with at least three columns, ``token,user,uid``, and an optional
    fourth of comma-separated groups (quoted): ``t0k3n,alice,1001,"dev,ops"``.
    Rows with an empty token are skipped, a repeated token keeps its last row.
    The file is read once, at construction.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        super().__init__(parse_token_file(self.path))


def parse_token_file(path: Path) -> dict[str, UserInfo]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TokenFileError(f"cannot read token file {path}: {e.strerror}") from e
    return parse_tokens(text.splitlines(), str(path))


def parse_tokens(lines: Iterable[str], source: str = "token file") -> dict[str, UserInfo]:
    """Token -> user from the lines of a static token file (see ``TokenFileAuthenticator``)."""
    tokens: dict[str, UserInfo] = {}
    try:
        for record_num, record in enumerate(csv.reader(lines), start=1):
            if not record:
                continue  # blank line
            if len(record) < 3:
                raise TokenFileError(
                    f"token file '{source}' must have at least 3 columns (token, user name, user uid), "
                    f"found {len(record)} in record {record_num}"
                )
            token, name, uid = record[0], record[1], record[2]
            if not token:
                log.warning("empty token in token file %s, record %d: skipped", source, record_num)
                continue
            if token in tokens:
                log.warning(
                    "duplicate token in token file %s, record %d: the last one wins", source, record_num
                )
            groups = tuple(g for g in record[3].split(",") if g) if len(record) >= 4 else ()
            tokens[token] = authenticated(UserInfo(name, groups, uid))
    except csv.Error as e:
        raise TokenFileError(f"token file '{source}': {e}") from e
    return tokens


class UnionAuthenticator:
    """Asks each authenticator in turn; the first user found wins. If none finds one and
    some raised ``AuthenticationError``, raises one with all their messages (as
    Kubernetes' union authenticator); if none recognised the request, returns None."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = list(authenticators)

    def authenticate(self, headers: Mapping[str, str], peercert: dict[str, Any] | None) -> UserInfo | None:
        errors: list[str] = []
        for authenticator in self.authenticators:
            try:
                user = authenticator.authenticate(headers, peercert)
            except AuthenticationError as e:
                errors.append(str(e))
                continue
            if user is not None:
                return authenticated(user)
        if errors:
            raise AuthenticationError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return None


# --- anonymous access ------------------------------------------------------------------------------

_HEALTH = ("healthz", "livez", "readyz")
_CLUSTER_INFO = ["api", "v1", "namespaces", "kube-public", "configmaps", "cluster-info"]
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def anonymous_allowed(path: str, method: str = "GET") -> bool:
    """Whether an anonymous request may see ``path`` (Kubernetes' public-info-viewer and
    discovery roles): /healthz, /livez, /readyz and their checks, /version, /api, /apis,
    /api/<v>, /apis/<group>, /apis/<group>/<version>, /openapi/v2 and /openapi/v3[/...];
    and a GET of the ``kube-public/cluster-info`` ConfigMap, as kubeadm's role for
    ``system:anonymous`` allows, so that a joining node reads it without sending its token
    to a server it cannot verify yet (kubelite.cli.jointoken).

    Anything else, in particular a resource path, needs credentials. Paths with
    empty, ``.``/``..`` or percent-encoded segments are refused outright, so a
    path cannot pass here and route somewhere else after normalisation.
    """
    path = path.split("?", 1)[0]
    if not path.startswith("/") or "%" in path or "\\" in path:
        return False
    trimmed = path[1:].removesuffix("/")
    if not trimmed:
        return False
    segments = trimmed.split("/")
    if any(not _SEGMENT.match(s) for s in segments):
        return False
    head, n = segments[0], len(segments)
    if segments == _CLUSTER_INFO:
        return method in ("GET", "HEAD")
    if head in _HEALTH:
        return True
    if head == "version":
        return n == 1
    if head == "api":
        return n <= 2
    if head == "apis":
        return n <= 3
    if head == "openapi":
        return n >= 2 and segments[1] in ("v2", "v3")
    return False
