"""The registry client: pull an image over the OCI distribution API (aiohttp).

For each endpoint of the reference's registry (mirrors first, see ``config``)
it asks for the manifest with every manifest type in ``Accept``, picks the host
platform's manifest out of an index, then fetches the config and the layers
that are not in the store yet, each verified against its digest before it is
renamed into the store. Authentication follows the registry's challenge:
``Bearer realm=...,service=...,scope=...`` gets a token from the realm (with
basic credentials from the configuration, if any, else anonymously);
``Basic`` sends the credentials. The first endpoint that serves the image
wins; if none does, the error of the most telling failure is raised (a digest
mismatch or a refused authorisation over a mere "not found", and "not found"
over a connection failure).

Requests have connect and read timeouts; there is no progress reporting.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from kubelite.kubelet.images import manifest as mf
from kubelite.kubelet.images.config import Endpoint, RegistriesConfig, RegistryAuth
from kubelite.kubelet.images.errors import DigestMismatch, ImagePullError
from kubelite.kubelet.images.reference import Reference
from kubelite.kubelet.images.store import ImageRecord, ImageStore, sha256_digest

log = logging.getLogger("kubelite.kubelet.images")

MAX_MANIFEST_BYTES = 4 << 20
PARALLEL_BLOBS = 3
_RANK = {"Unavailable": 0, "NotFound": 1}  # everything else ranks above both


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            value = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(rest[i])
                i += 1
            i += 1
            params[key] = "".join(value)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            params[key] = rest[i:end].strip()
            i = end
    return scheme.lower(), params


def _registry_error(body: bytes) -> str:
    try:
        doc = orjson.loads(body)
        errs = doc.get("errors") or []
        if errs:
            return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errs)
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return body[:200].decode("utf-8", "replace").strip()


@dataclass
class PullResult:
    record: ImageRecord  # blobs in the store, layers not unpacked yet
    endpoint: str


class _EndpointSession:
    """Requests to one endpoint for one repository, with the authorisation it negotiated."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoint: Endpoint,
        repo: str,
        auth: RegistryAuth | None,
        ssl: Any,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self.repo = repo
        self.auth = auth
        self.ssl = ssl
        self.authorization: str | None = None

    def url(self, kind: str, obj: str) -> str:
        return f"{self.endpoint.api_base}/{self.repo}/{kind}/{obj}"

    async def request(self, method: str, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """The response (the caller releases it), authorising once if the registry asks to."""
        for attempt in range(2):
            h = dict(headers)
            if self.authorization:
                h["Authorization"] = self.authorization
            try:
                resp = await self.http.request(method, url, headers=h, ssl=self.ssl)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise ImagePullError(f'{method} "{url}": {_describe(e)}', "Unavailable") from e
            if resp.status != 401 or attempt == 1:
                return resp
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.release()
            await self._authorize(challenge, url)
        raise AssertionError("unreachable")

    async def _authorize(self, challenge: str, url: str) -> None:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            if self.auth is None or not self.auth.has_basic:
                raise ImagePullError(
                    f"failed to authorize: {url}: the registry wants basic credentials and none are configured",
                    "Unauthorized",
                )
            self.authorization = _basic(self.auth)
            return
        if scheme != "bearer" or not params.get("realm"):
            raise ImagePullError(
                f"failed to authorize: {url}: unsupported challenge {challenge!r}", "Unauthorized"
            )
        query = {"scope": params.get("scope") or f"repository:{self.repo}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Authorization": _basic(self.auth)} if self.auth and self.auth.has_basic else {}
        who = "authorized" if headers else "anonymous"
        try:
            async with self.http.get(params["realm"], params=query, headers=headers, ssl=self.ssl) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise ImagePullError(
                        f"failed to authorize: failed to fetch {who} token: unexpected status from GET request "
                        f"to {params['realm']}: {resp.status} {resp.reason}",
                        "Unauthorized",
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise ImagePullError(
                f"failed to authorize: failed to fetch {who} token from {params['realm']}: {_describe(e)}",
                "Unavailable",
            ) from e
        try:
            doc = orjson.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not token:
            raise ImagePullError(f"failed to authorize: {params['realm']} returned no token", "Unauthorized")
        self.authorization = f"Bearer {token}"


def _basic(auth: RegistryAuth) -> str:
    return "Basic " + base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__


class RegistryClient:
    """Pulls images into an ``ImageStore``; one client serves many pulls."""

    def __init__(
        self,
        config: RegistriesConfig,
        platform: mf.Platform | None = None,
        connect_timeout: float = 15.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.config = config
        self.platform = platform or mf.host_platform()
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )

    async def pull(
        self,
        ref: Reference,
        store: ImageStore,
        lease_id: str,
        credentials: dict[str, RegistryAuth] | None = None,
    ) -> PullResult:
        """Fetch ``ref``'s manifest, config and layer blobs into ``store`` under ``lease_id`` (the
        caller releases the lease once the image is recorded). Raises ``ImagePullError`` with a
        message without the 'failed to pull image' prefix."""
        errors: list[ImagePullError] = []
        for endpoint in self.config.endpoints_for(ref.domain):
            try:
                record = await self._pull_from(endpoint, ref, store, lease_id, credentials or {})
                return PullResult(record, endpoint.url)
            except ImagePullError as e:
                log.debug("pull %s from %s: %s", ref, endpoint.url, e)
                errors.append(e)
        best = max(reversed(errors), key=lambda e: _RANK.get(e.reason, 2))  # the last of the most telling
        raise best

    async def _pull_from(
        self,
        endpoint: Endpoint,
        ref: Reference,
        store: ImageStore,
        lease_id: str,
        credentials: dict[str, RegistryAuth],
    ) -> ImageRecord:
        auth = credentials.get(endpoint.host) or credentials.get(ref.domain)
        if auth is None:
            auth = self.config.host_config(endpoint).auth
        ssl = self.config.ssl_context(endpoint) if endpoint.url.startswith("https:") else False
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            s = _EndpointSession(http, endpoint, ref.path, auth, ssl)
            body, content_type = await self._manifest(s, ref, ref.object)
            top_digest = sha256_digest(body)
            if ref.digest and top_digest != ref.digest:
                raise DigestMismatch(f"manifest of {ref} from {endpoint.url} has digest {top_digest}")
            doc = mf.parse_json(body, "manifest")
            media_type = mf.media_type_of(doc, content_type)
            blobs: dict[str, bytes] = {top_digest: body}
            manifest_digest, manifest = top_digest, doc
            if media_type in mf.INDEX_TYPES:
                desc = mf.select_manifest(doc, self.platform)
                manifest_digest = desc["digest"]
                child, child_type = await self._manifest(s, ref, manifest_digest)
                if sha256_digest(child) != manifest_digest:
                    raise DigestMismatch(
                        f"manifest {manifest_digest} of {ref}: content has digest {sha256_digest(child)}"
                    )
                manifest = mf.parse_json(child, "manifest")
                if mf.media_type_of(manifest, child_type) not in mf.MANIFEST_TYPES:
                    raise ImagePullError(
                        f"manifest {manifest_digest} of {ref} is not an image manifest", "InvalidImage"
                    )
                blobs[manifest_digest] = child
            config_desc = manifest.get("config") or {}
            config_digest = str(config_desc.get("digest", ""))
            layer_digests = [str(d.get("digest", "")) for d in manifest.get("layers") or []]
            await asyncio.to_thread(store.lease, lease_id, {*blobs, config_digest, *layer_digests})
            for digest, data in blobs.items():
                await asyncio.to_thread(store.put_blob, data, digest)
            if not await asyncio.to_thread(store.has_blob, config_digest):
                await self._blob(s, store, config_digest, config_desc.get("size"))
            config = mf.parse_json(await asyncio.to_thread(store.read_blob, config_digest), "image config")
            record = mf.image_record(
                manifest_digest,
                manifest,
                config_digest,
                config,
                names=[str(ref)] if ref.tag else [],
                repo_digests=[f"{ref.repository}@{top_digest}"],
            )
            await asyncio.to_thread(store.lease, lease_id, set(record.diff_ids))
            sem = asyncio.Semaphore(PARALLEL_BLOBS)

            async def fetch(digest: str, size: int) -> None:
                async with sem:
                    if not await asyncio.to_thread(store.has_blob, digest):
                        await self._blob(s, store, digest, size)

            try:
                async with asyncio.TaskGroup() as tg:
                    for layer in record.layers:
                        tg.create_task(fetch(layer.digest, layer.size))
            except BaseExceptionGroup as eg:
                raise _first_leaf(eg) from None
            return record

    async def _manifest(self, s: _EndpointSession, ref: Reference, obj: str) -> tuple[bytes, str]:
        url = s.url("manifests", obj)
        resp = await s.request("GET", url, {"Accept": mf.ACCEPT})
        try:
            if resp.status == 404:
                raise ImagePullError(
                    f'failed to resolve reference "{ref}": {ref}: not found'
                    if obj == ref.object
                    else f"manifest {obj} of {ref}: not found",
                    "NotFound",
                )
            if resp.status == 401 or resp.status == 403:
                raise ImagePullError(
                    f'failed to resolve reference "{ref}": pull access denied, repository does not exist or '
                    f"may require authorization: {resp.status} {resp.reason}: {_registry_error(await resp.read())}",
                    "Unauthorized",
                )
            if resp.status != 200:
                raise ImagePullError(
                    f'failed to resolve reference "{ref}": unexpected status from GET request to {url}: '
                    f"{resp.status} {resp.reason}: {_registry_error(await resp.read())}",
                    "Unavailable" if resp.status >= 500 else "Unknown",
                )
            if (resp.content_length or 0) > MAX_MANIFEST_BYTES:
                raise ImagePullError(f"manifest of {ref} is too large", "InvalidImage")
            try:
                body = await resp.content.read(MAX_MANIFEST_BYTES + 1)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise ImagePullError(f'failed to read manifest "{url}": {_describe(e)}', "Unavailable") from e
            if len(body) > MAX_MANIFEST_BYTES:
                raise ImagePullError(f"manifest of {ref} is too large", "InvalidImage")
            return body, resp.headers.get("Content-Type", "")
        finally:
            resp.release()

    async def _blob(self, s: _EndpointSession, store: ImageStore, digest: str, size: Any) -> None:
        url = s.url("blobs", digest)
        resp = await s.request("GET", url, {})
        try:
            if resp.status == 404:
                raise ImagePullError(f"failed to copy: blob {digest} of {s.repo}: not found", "NotFound")
            if resp.status != 200:
                raise ImagePullError(
                    f"failed to copy: unexpected status from GET request to {url}: {resp.status} {resp.reason}: "
                    f"{_registry_error(await resp.read())}",
                    "Unauthorized" if resp.status in (401, 403) else "Unavailable",
                )
            writer = await asyncio.to_thread(
                store.blob_writer, digest, int(size) if size is not None else None
            )
            try:
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(1 << 16):
                    buf += chunk
                    if len(buf) >= 1 << 20:
                        await asyncio.to_thread(writer.write, bytes(buf))
                        buf.clear()
                await asyncio.to_thread(writer.write, bytes(buf))
                await asyncio.to_thread(writer.commit)
            except DigestMismatch as e:
                raise DigestMismatch(f"failed to copy: blob {digest} from {s.endpoint.url}: {e}") from e
            except (aiohttp.ClientError, TimeoutError) as e:
                await asyncio.to_thread(writer.abort)
                raise ImagePullError(
                    f'failed to copy: reading blob "{url}": {_describe(e)}', "Unavailable"
                ) from e
            except BaseException:
                await asyncio.to_thread(writer.abort)
                raise
        finally:
            resp.release()


def _first_leaf(eg: BaseExceptionGroup[BaseException]) -> BaseException:
    e: BaseException = eg
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e


def new_lease_id() -> str:
    return f"pull-{uuid.uuid4().hex}"
