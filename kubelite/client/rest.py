"""The async REST client every component uses to talk to the API server.

``Client`` owns one aiohttp session (connection reuse, a bounded timeout per
request, a ``kubelite-<component>/0.1.0`` User-Agent) and turns every error
answer into ``StatusError`` carrying the server's Status. ``client.resource(res)``
gives a ``ResourceClient`` with the verbs of one kind: get, list, create,
update, patch, apply, delete, delete_collection, scale and watch.

Objects come back as the kind's typed model (decoded by msgspec straight from
the response bytes) unless the ResourceClient is ``raw``, in which case they
are plain dicts (custom resources). Writes accept typed objects or dicts.

Connection failures surface as ``aiohttp.ClientError`` or ``TimeoutError``:
they are not API answers, and callers (informers, controllers) retry them.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import msgspec
import orjson

from kubelite.api import meta
from kubelite.api.resources import Registry, Resource
from kubelite.client.errors import ResourceExpired, status_error
from kubelite.client.kubeconfig import load_kubeconfig
from kubelite.client.lean import LeanPool
from kubelite.client.objects import name_of, namespace_of
from kubelite.client.watch import WatchEvent, WatchStream

__all__ = [
    "Client",
    "ResourceClient",
    "ResourceExpired",
    "WatchEvent",
    "WatchStream",
    "lookup",
    "status_error",
]

log = logging.getLogger(__name__)

VERSION = "0.1.0"
DEFAULT_TIMEOUT = 30.0

PATCH_CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
PatchType = Literal["strategic", "merge", "json", "apply"]


def lookup(group: str, version: str, kind: str, registry: Registry | None = None) -> Resource:
    """The built-in ``Resource`` of group/version/kind (LookupError if there is none)."""
    res = (registry or Registry()).by_kind(group, version, kind)
    if res is None:
        raise LookupError(f"no resource for {group or 'core'}/{version} {kind}")
    return res


def _encode(obj: Any) -> bytes:
    if isinstance(obj, bytes | bytearray):
        return bytes(obj)
    if isinstance(obj, msgspec.Struct):
        return msgspec.json.encode(obj)
    return orjson.dumps(obj)


class Client:
    """An async client of one API server.

    Create it anywhere; the HTTP session opens on first use inside the running
    loop. Close it with ``await client.close()`` or ``async with``. Safe to
    share between all tasks of a component.
    """

    def __init__(
        self,
        base_url: str,
        ssl: Any = None,
        token: str | None = None,
        *,
        component: str = "client",
        timeout: float = DEFAULT_TIMEOUT,
        registry: Registry | None = None,
        lean_http: bool = False,
        lean_connections: int = 100,
        lean_pipeline: int = 1,
        unix_socket: str | None = None,
    ) -> None:
        """``unix_socket``: connect there instead of to ``base_url``'s host and port, which
        then only names the server in requests (the API server's loopback, for the
        components in its own process: ``kubelite.apiserver.loopback``)."""
        if unix_socket == "":
            raise ValueError("unix_socket: an empty path")  # not "no socket": that is None
        self.base_url = base_url.rstrip("/")
        self.unix_socket = unix_socket
        self.ssl = ssl
        self.token = token
        self.component = component
        self.user_agent = f"kubelite-{component}/{VERSION}"
        self.timeout = timeout
        self.registry = registry or Registry()
        self.lean_http = lean_http
        self.lean_connections = lean_connections
        self.lean_pipeline = lean_pipeline
        self._session: aiohttp.ClientSession | None = None
        self._lean: LeanPool | None = None

    @classmethod
    def from_kubeconfig(
        cls, path: str, context: str | None = None, *, component: str = "client", **kw: Any
    ) -> Client:
        """A client for the cluster and user of ``context`` in the kubeconfig at ``path``.

        Reads files: call at start-up, or via ``asyncio.to_thread`` on a running loop.
        """
        access = load_kubeconfig(path, context)
        return cls(access.server, ssl=access.ssl, token=access.token, component=component, **kw)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def with_lean_http(self, connections: int = 100, pipeline: int = 1) -> Client:
        """A client of the same server and credentials whose plain requests use the lean
        transport (see ``kubelite.client.lean``) over at most ``connections`` connections
        (more requests at once wait for one), pipelining up to ``pipeline`` requests on a
        connection (see ``LeanPool``: for independent requests only); close it when done."""
        return Client(
            self.base_url,
            self.ssl,
            self.token,
            component=self.component,
            timeout=self.timeout,
            registry=self.registry,
            lean_http=True,
            lean_connections=connections,
            lean_pipeline=pipeline,
            unix_socket=self.unix_socket,
        )

    async def close(self) -> None:
        """Close pooled connections. Idempotent; the client reopens if used again."""
        if self._lean is not None:
            lean, self._lean = self._lean, None
            lean.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _session_(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = self._headers()
            connector: aiohttp.BaseConnector
            if self.unix_socket is not None:
                connector = aiohttp.UnixConnector(self.unix_socket, limit=100)
            else:
                connector = aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True, limit=100)
            self._session = aiohttp.ClientSession(headers=headers, connector=connector)
        return self._session

    # -------------------------------------------------------------- resources

    def resource(self, res: Resource, *, raw: bool = False, model: Any = None) -> ResourceClient:
        """The verbs of one kind. ``raw=True`` reads and returns plain dicts; ``model`` decodes
        what is read into another struct (e.g. ``PartialObjectMetadata``: the metadata alone)."""
        return ResourceClient(self, res, raw=raw, model=model)

    def resource_for(self, group: str, version: str, kind: str, *, raw: bool = False) -> ResourceClient:
        """``resource()`` looked up by group/version/kind; LookupError if unknown."""
        return ResourceClient(self, lookup(group, version, kind, self.registry), raw=raw)

    # ------------------------------------------------------------------- HTTP

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Send one request and return the response body.

        ``path`` is absolute (``/api/v1/...``). ``body`` may be bytes, a typed
        object or plain data (encoded as JSON). Any status >= 400 raises
        ``StatusError`` (``ResourceExpired`` for 410). Bounded by ``timeout``
        seconds (default: the client's).
        """
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = _encode(body)
            hdrs["Content-Type"] = content_type
        if self.lean_http:
            if self._lean is None:
                self._lean = LeanPool(
                    self.base_url,
                    self.ssl,
                    self._headers(),
                    self.lean_connections,
                    self.lean_pipeline,
                    unix_socket=self.unix_socket,
                )
            status, reason, payload = await self._lean.request(
                method, path, params, data, hdrs, timeout or self.timeout
            )
            if status >= 400:
                raise status_error(status, payload, reason)
            return payload
        t = aiohttp.ClientTimeout(total=timeout or self.timeout)
        async with self._session_().request(
            method, self.base_url + path, params=params, data=data, headers=hdrs, timeout=t
        ) as resp:
            payload = await resp.read()
            if resp.status >= 400:
                raise status_error(resp.status, payload, resp.reason or "")
            return payload

    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        """Open a streaming response (watch, logs). The caller must ``release()`` it.

        Raises ``StatusError`` when the server answers >= 400. ``timeout`` bounds
        the whole stream (None: unbounded); connecting is bounded by the
        client's timeout.
        """
        t = aiohttp.ClientTimeout(total=timeout, connect=self.timeout, sock_connect=self.timeout)
        resp = await self._session_().request(method, self.base_url + path, params=params, timeout=t)
        if resp.status >= 400:
            try:
                payload = await resp.read()
            finally:
                resp.release()
            raise status_error(resp.status, payload, resp.reason or "")
        return resp


def _drop_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_nulls(v) for v in data]
    return data


class _Codec:
    """Decoders of one model and of its list, built once per model."""

    _cache: dict[Any, _Codec] = {}

    def __init__(self, model: Any) -> None:
        self.model = model
        self.item = msgspec.json.Decoder(model, strict=False)
        list_type = msgspec.defstruct(
            f"{model.__name__}ListWire",
            [
                ("metadata", meta.ListMeta, msgspec.field(default_factory=meta.ListMeta)),
                ("items", list[model], []),
            ],
        )
        self.list = msgspec.json.Decoder(list_type, strict=False)

    @classmethod
    def of(cls, model: Any) -> _Codec:
        codec = cls._cache.get(model)
        if codec is None:
            codec = cls._cache[model] = cls(model)
        return codec

    def decode(self, data: bytes) -> Any:
        try:
            return self.item.decode(data)
        except msgspec.ValidationError:
            # Go writes explicit nulls for some unset fields; msgspec refuses them for lists/maps.
            return msgspec.convert(_drop_nulls(orjson.loads(data)), self.model, strict=False)


class ResourceClient:
    """The verbs of one resource (kind) on one client.

    ``namespace`` arguments default to the object's own namespace for writes;
    for a namespaced kind, ``namespace=None`` on list/watch/delete_collection
    means all namespaces. Every method raises ``StatusError`` with the
    server's Status on failure.
    """

    def __init__(self, client: Client, res: Resource, *, raw: bool = False, model: Any = None) -> None:
        self.client = client
        self.res = res
        self.raw = raw
        self._codec = None if raw else _Codec.of(model or res.model)
        base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
        self._base = base

    def __repr__(self) -> str:
        return f"ResourceClient({self.res.group_resource}/{self.res.version}, raw={self.raw})"

    # ------------------------------------------------------------------ paths

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        """The URL path of the collection, one object, or one object's subresource."""
        parts = [self._base]
        if self.res.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.res.plural)
        if name:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)

    def _ns_for_write(self, obj: Any, namespace: str | None) -> str | None:
        if not self.res.namespaced:
            return None
        ns = namespace or namespace_of(obj)
        if not ns:
            raise ValueError(f"{self.res.kind} is namespaced: give a namespace or set metadata.namespace")
        return ns

    def _ns_for_name(self, namespace: str | None) -> str | None:
        if self.res.namespaced and not namespace:
            raise ValueError(f"{self.res.kind} is namespaced: give a namespace")
        return namespace if self.res.namespaced else None

    def decode(self, data: bytes) -> Any:
        """One object from response bytes: the typed model, or a dict when raw."""
        if self._codec is None:
            return orjson.loads(data)
        return self._codec.decode(data)

    def _decode_result(self, data: bytes) -> Any:
        """A write's answer: the object, or (DELETE of some kinds) a Status dict."""
        if self._codec is None:
            return orjson.loads(data)
        head = orjson.loads(data)
        if isinstance(head, dict) and head.get("kind") not in (None, "", self.res.kind):
            return head
        return msgspec.convert(_drop_nulls(head), self.res.model, strict=False)

    def _body(self, obj: Any) -> Any:
        """The object to send, with kind/apiVersion filled in when missing."""
        if isinstance(obj, msgspec.Struct):
            if not getattr(obj, "kind", "") or not getattr(obj, "apiVersion", ""):
                obj = msgspec.structs.replace(obj, kind=self.res.kind, apiVersion=self.res.api_version)
            return obj
        if isinstance(obj, dict) and (not obj.get("kind") or not obj.get("apiVersion")):
            obj = {**obj, "kind": obj.get("kind") or self.res.kind}
            obj["apiVersion"] = obj.get("apiVersion") or self.res.api_version
        return obj

    @staticmethod
    def _write_params(dry_run: bool, field_manager: str) -> dict[str, str]:
        params: dict[str, str] = {}
        if dry_run:
            params["dryRun"] = "All"
        if field_manager:
            params["fieldManager"] = field_manager
        return params

    # ------------------------------------------------------------------ reads

    async def get(self, name: str, namespace: str | None = None) -> Any:
        """The object ``name`` (404 NotFound when absent)."""
        data = await self.client.request("GET", self.path(self._ns_for_name(namespace), name))
        return self.decode(data)

    async def list(
        self,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_: str = "",
        resource_version: str = "",
    ) -> tuple[builtins.list[Any], str, str]:
        """One page: ``(items, list resourceVersion, continue token or "")``.

        A non-empty continue token means more pages follow; pass it back as
        ``continue_`` with the same selectors (410 when it has expired).
        """
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit:
            params["limit"] = str(limit)
        if continue_:
            params["continue"] = continue_
        if resource_version:
            params["resourceVersion"] = resource_version
        data = await self.client.request("GET", self.path(namespace), params=params)
        if self._codec is None:
            doc = orjson.loads(data)
            lm = doc.get("metadata") or {}
            return list(doc.get("items") or []), lm.get("resourceVersion", ""), lm.get("continue", "")
        try:
            page: Any = self._codec.list.decode(data)
        except msgspec.ValidationError:
            doc = _drop_nulls(orjson.loads(data))
            page = msgspec.convert(doc, self._codec.list.type, strict=False)
        items = page.items
        return items, page.metadata.resourceVersion, page.metadata.continue_

    async def list_all(
        self,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
        resource_version: str = "",
    ) -> tuple[builtins.list[Any], str]:
        """Every item, following continue tokens: ``(items, resourceVersion of the first page)``.

        The pages form one consistent snapshot (the server serves them at the
        first page's revision). A 410 on an expired token propagates.
        """
        items, rv, token = await self.list(
            namespace, label_selector, field_selector, page_size, "", resource_version
        )
        while token:
            more, _, token = await self.list(namespace, label_selector, field_selector, page_size, token)
            items.extend(more)
        return items, rv

    # ----------------------------------------------------------------- writes

    async def create(
        self, obj: Any, namespace: str | None = None, dry_run: bool = False, field_manager: str = ""
    ) -> Any:
        """Create ``obj`` (409 AlreadyExists if the name is taken); returns the stored object."""
        ns = self._ns_for_write(obj, namespace)
        data = await self.client.request(
            "POST", self.path(ns), params=self._write_params(dry_run, field_manager), body=self._body(obj)
        )
        return self.decode(data)

    async def update(
        self,
        obj: Any,
        subresource: str = "",
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = "",
    ) -> Any:
        """Replace ``obj`` (PUT). With ``metadata.resourceVersion`` set, 409 Conflict if it is stale."""
        ns = self._ns_for_write(obj, namespace)
        path = self.path(ns, name_of(obj), subresource)
        data = await self.client.request(
            "PUT", path, params=self._write_params(dry_run, field_manager), body=self._body(obj)
        )
        return self.decode(data)

    async def update_status(self, obj: Any, namespace: str | None = None, field_manager: str = "") -> Any:
        """``update(obj, "status")``: write only the status (the spec part is ignored by the server)."""
        return await self.update(obj, "status", namespace, field_manager=field_manager)

    async def patch(
        self,
        name: str,
        patch: Any,
        patch_type: PatchType = "strategic",
        namespace: str | None = None,
        subresource: str = "",
        field_manager: str = "",
        force: bool = False,
        dry_run: bool = False,
    ) -> Any:
        """PATCH ``name`` with a strategic, merge, JSON (a list of ops) or apply patch."""
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"unknown patch type {patch_type!r}") from None
        params = self._write_params(dry_run, field_manager)
        if force:
            params["force"] = "true"
        data = await self.client.request(
            "PATCH",
            self.path(self._ns_for_name(namespace), name, subresource),
            params=params,
            body=patch,
            content_type=content_type,
        )
        return self.decode(data)

    async def apply(
        self,
        obj: Any,
        field_manager: str,
        force: bool = False,
        namespace: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Any:
        """Server-side apply: ``obj`` is this manager's whole intent (409 on conflicts unless ``force``)."""
        if not field_manager:
            raise ValueError("server-side apply needs a field manager")
        ns = self._ns_for_write(obj, namespace)
        return await self.patch(
            name_of(obj),
            self._body(obj),
            "apply",
            ns,
            subresource,
            field_manager=field_manager,
            force=force,
            dry_run=dry_run,
        )

    @staticmethod
    def _delete_options(
        propagation_policy: str | None,
        grace_period_seconds: int | None,
        preconditions_uid: str | None = None,
        preconditions_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        pre = {}
        if preconditions_uid:
            pre["uid"] = preconditions_uid
        if preconditions_resource_version:
            pre["resourceVersion"] = preconditions_resource_version
        if pre:
            opts["preconditions"] = pre
        if dry_run:
            opts["dryRun"] = ["All"]
        return opts

    async def delete(
        self,
        name: str,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions_uid: str | None = None,
        preconditions_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Delete ``name``. Returns the object (when the server answers with it,
        e.g. still terminating with finalizers) or the success Status as a dict."""
        opts = self._delete_options(
            propagation_policy,
            grace_period_seconds,
            preconditions_uid,
            preconditions_resource_version,
            dry_run,
        )
        data = await self.client.request("DELETE", self.path(self._ns_for_name(namespace), name), body=opts)
        return self._decode_result(data)

    async def delete_collection(
        self,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Delete every matching object; returns what the server answers (a list or Status) as a dict."""
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        opts = self._delete_options(propagation_policy, grace_period_seconds, dry_run=dry_run)
        data = await self.client.request("DELETE", self.path(namespace), params=params, body=opts)
        return orjson.loads(data)

    # ------------------------------------------------------------------ scale

    async def get_scale(self, name: str, namespace: str | None = None) -> Any:
        """The autoscaling/v1 Scale of ``name`` (typed, or a dict when raw)."""
        data = await self.client.request("GET", self.path(self._ns_for_name(namespace), name, "scale"))
        return self._decode_scale(data)

    async def update_scale(self, name: str, scale: Any, namespace: str | None = None) -> Any:
        """Write a Scale (``spec.replicas``); a stale resourceVersion in it gives 409."""
        ns = self._ns_for_name(namespace or namespace_of(scale) or None)
        data = await self.client.request("PUT", self.path(ns, name, "scale"), body=scale)
        return self._decode_scale(data)

    def _decode_scale(self, data: bytes) -> Any:
        if self.raw:
            return orjson.loads(data)
        from kubelite.api.autoscaling_v1 import Scale

        return _Codec.of(Scale).decode(data)

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> WatchStream:
        """A stream of changes after ``resource_version`` (all current objects as ADDED when "").

        Iterate it with ``async for``; it ends when the server closes the
        watch (timeout). Raises ``ResourceExpired`` when the version is
        compacted, ``StatusError`` on other ERROR events. Close it early with
        ``await stream.aclose()`` or ``async with``.
        """
        params = {"watch": "1"}
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if timeout_seconds:
            params["timeoutSeconds"] = str(int(timeout_seconds))
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        return WatchStream(self.client, self.path(namespace), params, timeout_seconds, self.decode)
