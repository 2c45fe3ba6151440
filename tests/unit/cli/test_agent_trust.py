"""How a joining agent settles the cluster CA before it sends its token (cli/agent.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.apiserver.auth.certs import ensure_pki
from kubelite.cli import agent, jointoken


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    base = tmp_path_factory.mktemp("trust-cas")
    return ensure_pki(base / "one", ["127.0.0.1"]).ca_pem(), ensure_pki(base / "two", ["127.0.0.1"]).ca_pem()


@pytest.fixture
def discovered(monkeypatch: pytest.MonkeyPatch, cas: tuple[bytes, bytes]) -> list[str]:
    """cluster-info's answer is the first CA; the servers asked are recorded."""
    asked: list[str] = []

    async def discover(server: str, token: jointoken.JoinToken) -> bytes:
        asked.append(server)
        assert token.ca_hash is not None
        return jointoken.check_pin(cas[0], token.ca_hash)

    monkeypatch.setattr(jointoken, "discover_ca", discover)
    return asked


def connection(token: jointoken.JoinToken | None, ca: bytes | None = None) -> agent.Connection:
    return agent.Connection("https://10.0.0.1:6443", ca, False, token=token)


async def settle(conn: agent.Connection, saved: bytes | None) -> bool:
    try:
        return await agent._trust_and_bootstrap(conn, saved)
    finally:
        await conn.close()


def pinned(ca: bytes) -> jointoken.JoinToken:
    return jointoken.JoinToken("abcdef.0123456789abcdef", jointoken.ca_hash(ca))


async def test_a_pinning_token_discovers_the_ca_once_then_the_saved_one_serves(
    cas: tuple[bytes, bytes], discovered: list[str]
) -> None:
    conn = connection(pinned(cas[0]))
    assert await settle(conn, None) is True and conn.ca_pem == cas[0] and discovered
    again = connection(pinned(cas[0]))
    assert await settle(again, cas[0]) is False and again.ca_pem == cas[0]
    assert len(discovered) == 1  # a restart verifies with what it saved


async def test_a_saved_ca_the_token_does_not_pin_is_not_used(
    cas: tuple[bytes, bytes], discovered: list[str]
) -> None:
    conn = connection(pinned(cas[0]))
    assert await settle(conn, cas[1]) is True and conn.ca_pem == cas[0]
    unreadable = connection(pinned(cas[0]))
    assert await settle(unreadable, b"not a certificate") is True and unreadable.ca_pem == cas[0]


async def test_a_given_ca_must_be_the_pinned_one(cas: tuple[bytes, bytes], discovered: list[str]) -> None:
    with pytest.raises(jointoken.JoinTokenError):
        await settle(connection(pinned(cas[0]), ca=cas[1]), None)
    given = connection(pinned(cas[0]), ca=cas[0])
    assert await settle(given, None) is False and not discovered


async def test_without_a_pin_or_a_ca_nothing_is_trusted(
    cas: tuple[bytes, bytes], discovered: list[str]
) -> None:
    bare = jointoken.JoinToken("abcdef.0123456789abcdef")
    with pytest.raises(jointoken.JoinTokenError, match="no cluster CA"):
        await settle(connection(bare), None)
    saved: Any = connection(bare)
    assert await settle(saved, cas[1]) is False and saved.ca_pem == cas[1]  # what it joined with
    assert not discovered
