"""Every write the API server acknowledged survives a SIGKILL of the server (issue 2).

A real ``kubelite server`` (sqlite store) takes ConfigMap creates over HTTPS from several
concurrent writers, each authenticated with the admin client certificate of the written
kubeconfig, as kubectl would be. A name is recorded only once its 201 came back. After a
few hundred acknowledged writes the server is SIGKILLed with creates still in flight,
restarted on the same data dir, and every acknowledged ConfigMap must be there with its
data intact. Two rounds on the same data dir also check that a killed store reopens and
takes writes again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import yaml
from serverproc import KubeliteServer

WRITERS = 8
KILL_AFTER = 300  # acknowledged writes before the SIGKILL
NAMESPACE = "durability"


def client_ssl_context(server: KubeliteServer, scratch: Path) -> ssl.SSLContext:
    """TLS as the admin kubeconfig describes it: the cluster CA and the admin client cert."""
    doc = yaml.safe_load(server.kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    cert, key = scratch / "admin.crt", scratch / "admin.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    key.chmod(0o600)
    ctx.load_cert_chain(cert, key)
    return ctx


def data_for(name: str) -> dict[str, str]:
    """The data a ConfigMap is created with: a payload of a few hundred bytes and its digest."""
    payload = (name * 40)[:400]
    return {"name": name, "payload": payload, "sha256": hashlib.sha256(payload.encode()).hexdigest()}


@dataclass
class Round:
    tag: str
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # answered, but not with 201


async def write_until_killed(server: KubeliteServer, ctx: ssl.SSLContext, round_: Round) -> None:
    """Writers create ConfigMaps until the server dies; the SIGKILL comes from the writer that
    records the KILL_AFTER-th acknowledgement, so other creates are still in flight."""
    assert server.process is not None
    process = server.process
    url = f"{server.url}/api/v1/namespaces/{NAMESPACE}/configmaps"
    killed = asyncio.Event()

    async def writer(w: int) -> None:
        connector = aiohttp.TCPConnector(ssl=ctx, limit=1)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            i = 0
            while True:
                name = f"{round_.tag}-w{w}-{i}"
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name},
                    "data": data_for(name),
                }
                try:
                    async with session.post(url, json=body) as response:
                        await response.read()
                        status = response.status
                except (TimeoutError, aiohttp.ClientError, OSError):
                    if killed.is_set():
                        return
                    raise
                if status == 201:
                    round_.acknowledged.append(name)
                    if len(round_.acknowledged) == KILL_AFTER:
                        process.kill()  # SIGKILL, mid-stream
                        killed.set()
                else:
                    round_.refused.append(f"{name}: {status}")
                    if killed.is_set():
                        return
                i += 1

    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(WRITERS))), timeout=120)
    process.wait(10)


async def read_back(server: KubeliteServer, ctx: ssl.SSLContext) -> dict[str, dict[str, str]]:
    """Every ConfigMap of the namespace, by name, read page by page."""
    found: dict[str, dict[str, str]] = {}
    url = f"{server.url}/api/v1/namespaces/{NAMESPACE}/configmaps"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        params = {"limit": "500"}
        while True:
            async with session.get(url, params=params) as response:
                assert response.status == 200, await response.text()
                page = await response.json()
            for item in page["items"]:
                found[item["metadata"]["name"]] = item.get("data", {})
            token = page["metadata"].get("continue")
            if not token:
                return found
            params = {"limit": "500", "continue": token}


async def create_namespace(server: KubeliteServer, ctx: ssl.SSLContext) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        async with session.post(f"{server.url}/api/v1/namespaces", json=body) as response:
            assert response.status == 201, await response.text()


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = KubeliteServer(data_dir, log_path=tmp_path / "server-0.log").start()
    acknowledged: list[str] = []
    try:
        ctx = client_ssl_context(server, tmp_path)
        asyncio.run(create_namespace(server, ctx))
        for n in (1, 2):
            round_ = Round(tag=f"r{n}")
            asyncio.run(write_until_killed(server, ctx, round_))
            assert not server.running
            assert server.process is not None and server.process.returncode == -9
            assert len(round_.acknowledged) >= KILL_AFTER
            assert not round_.refused, round_.refused[:5]
            acknowledged += round_.acknowledged

            server = KubeliteServer(data_dir, log_path=tmp_path / f"server-{n}.log").start()
            ctx = client_ssl_context(server, tmp_path)
            found = asyncio.run(read_back(server, ctx))
            lost = [name for name in acknowledged if name not in found]
            assert not lost, (
                f"round {n}: {len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:10]}"
            )
            damaged = [name for name in acknowledged if found[name] != data_for(name)]
            assert not damaged, f"round {n}: data changed for {damaged[:10]}"
            # anything else there is a create that was in flight at the kill: whole, not torn
            for name, data in found.items():
                assert data == data_for(name), name
    finally:
        code = server.stop()
    if code != 0:
        pytest.fail(f"the restarted server exited with {code}:\n{server.log_tail()}")
