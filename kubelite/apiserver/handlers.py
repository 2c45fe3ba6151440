"""HTTP handlers for every resource verb: get, list, watch, create, update,
patch, delete and deletecollection, plus the status and scale subresources.

A handler parses the request (path, query, body), asks ``REST`` to do the
work and writes the answer. Errors are raised as ``StatusError`` and turned
into Status bodies by the app's error middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import orjson
from aiohttp import web

from kubelite.api import errors, protobuf
from kubelite.api.fieldvalidation import duplicate_fields
from kubelite.api.resources import Registry, Resource
from kubelite.apiserver import codec, tables
from kubelite.apiserver.binding import create_binding
from kubelite.apiserver.podproxy import SUBRESOURCES as NODE_SUBRESOURCES
from kubelite.apiserver.podproxy import PodProxy
from kubelite.apiserver.requestinfo import RequestInfo
from kubelite.apiserver.rest import (
    REST,
    DeleteOptions,
    ListOptions,
    WriteOptions,
    compile_selection,
    list_body,
)
from kubelite.apiserver.reviews import Reviews
from kubelite.apiserver.subresources import ScaleHandler
from kubelite.apiserver.watchcache import WatchClosed
from kubelite.storage.interface import CompactedError

log = logging.getLogger("kubelite.apiserver.handlers")

JSON_TYPE = "application/json"
BOOKMARK_INTERVAL = 5.0
DEFAULT_WATCH_TIMEOUT = 1800
WATCH_WRITE_EVENTS = 500  # events at most in one write of a watch stream


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON_TYPE, headers=headers)


def _bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}") from None


def _dry_run(query: Any, body_values: list[str] | None = None) -> bool:
    values = list(query.getall("dryRun", [])) + list(body_values or [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'unsupported dry run value "{v}"; supported values: "All"')
    return bool(values)


def _field_validation(query: Any) -> str:
    value = query.get("fieldValidation", "") or "Ignore"
    if value not in ("Ignore", "Warn", "Strict"):
        raise errors.bad_request(
            f"fieldValidation parameter unsupported: {value}. Supported values: Ignore, Warn, Strict"
        )
    return value


def _written(result: Any, opts: WriteOptions) -> web.Response:
    """The answer to a write, with field-validation findings as Warning headers."""
    response = json_response(result.body, result.code)
    for header in warning_headers([*opts.warnings, *result.warnings]):
        response.headers.add("Warning", header)
    return response


WARNINGS_TOTAL_CHARS = 4 * 1024  # past this, every warning is cut to WARNING_ITEM_CHARS...
WARNING_ITEM_CHARS = 256  # ...and once they fill it again, the rest are left out
# Control characters (C0, DEL, C1): a warning carrying one is left out, as Kubernetes does (field
# names in warnings come from request bodies, and a line break would end the header early).
_CONTROL = re.compile("[\\x00-\\x1f\\x7f-\\x9f]")


def warning_headers(texts: list[str]) -> list[str]:
    """The ``Warning`` header values (RFC 7234: code, agent, quoted text) for ``texts``, as
    Kubernetes' warning recorder writes them: empty and repeated texts and texts with control
    characters left out; once they pass 4096 characters in all, every one (those before too)
    cut to 256 characters, and once those reach 4096 again, the rest dropped."""
    kept: list[str] = []  # the texts written, in order
    recorded: list[str] = []  # every distinct text seen, for the cut-down replay
    seen: set[str] = set()
    written = 0
    cutting = False
    for text in texts:
        if not text or text in seen or (cutting and written >= WARNINGS_TOTAL_CHARS):
            continue
        seen.add(text)
        recorded.append(text)
        if cutting:
            text = text[:WARNING_ITEM_CHARS]
        if _CONTROL.search(text):
            continue
        if cutting or written + len(text) <= WARNINGS_TOTAL_CHARS:
            kept.append(text)
            written += len(text)
            continue
        cutting = True  # this one does not fit: all of them again, cut down
        kept = [cut for cut in (t[:WARNING_ITEM_CHARS] for t in recorded) if not _CONTROL.search(cut)]
        written = sum(map(len, kept))
    return ['299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' for text in kept]


def _canonical_json(body: bytes, data: Any) -> bool:
    """Whether ``body`` is exactly the compact JSON of ``data`` (its decoded form), around
    whitespace: then no object in it repeats a key, as none of the encoding does, and the
    slower search for duplicates can be skipped. kubectl's and the client libraries' bodies
    are written so (a body with escapes or spacing of its own is searched as before)."""
    if data is None:
        return False
    try:
        return orjson.dumps(data) == body.strip()
    except (orjson.JSONEncodeError, TypeError):
        return False


def _no_route() -> errors.StatusError:
    return errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})


class _TableRequest:
    """A request for ``meta.k8s.io`` Table output (kubectl's human formats)."""

    def __init__(self, version: str, include_object: str) -> None:
        self.version = version
        self.include_object = include_object
        self.first = True  # only a watch's first table carries the column definitions

    def build(
        self,
        res: Resource,
        objs: list[Any],
        rv: str,
        cont: str = "",
        remaining: int | None = None,
        columns: bool = True,
    ) -> dict[str, Any]:
        return tables.build_table(
            res.group,
            res.plural,
            objs,
            rv,
            self.include_object,
            time.time(),
            continue_token=cont,
            remaining=remaining,
            table_version=self.version,
            include_columns=columns,
        )


def _table_request(request: web.Request) -> _TableRequest | None:
    version = tables.table_version(request.headers.get("Accept", ""))
    if not version:
        return None
    include = request.query.get("includeObject", "")
    if include not in ("", "None", "Metadata", "Object"):
        raise errors.StatusError(
            406,
            "NotAcceptable",
            f'includeObject: Unsupported value: "{include}": supported values: "Metadata", "None", "Object"',
        )
    return _TableRequest(version, include or "Metadata")


class ResourceHandler:
    """Serves ``/api/...`` and ``/apis/...`` resource requests."""

    def __init__(self, rest: REST, registry: Registry, stopping: asyncio.Event) -> None:
        self.rest = rest
        self.registry = registry
        self.scale = ScaleHandler(rest)
        self.pods = PodProxy(rest, registry)  # log, exec, attach, portforward: served by the node's kubelet
        self.reviews = Reviews()  # the app gives it the server's authorizer and authenticator
        self._stopping = stopping

    def resolve(self, info: RequestInfo, method: str) -> Resource:
        """The resource a path names, refusing the paths Kubernetes does not route."""
        res = self.registry.get(info.group, info.version, info.resource)
        if res is None or (info.namespace and not res.namespaced and info.resource != "namespaces"):
            raise _no_route()
        if res.namespaced and info.name and not info.namespace and info.resource != "namespaces":
            raise _no_route()
        if res.namespaced and not info.namespace and not info.name and method in ("POST", "DELETE"):
            # Collections across all namespaces only read; writes need a namespace in the path.
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if info.subresource and info.subresource not in res.subresources:
            raise _no_route()
        return res

    async def handle(self, request: web.Request, info: RequestInfo, user: Any) -> web.StreamResponse:
        res = self.resolve(info, request.method)
        ns = info.namespace if res.namespaced else None
        method = request.method
        query = request.query
        sub = info.subresource
        if self.reviews.serves(res):  # create-only review kinds: answered, never stored
            self.reviews.check_request(method, info.name, sub)
            raw, data = await self._body(request, res)
            opts = self._write_options(request, user, raw, data)
            return _written(self.reviews.create(res, ns, data, opts), opts)
        if sub == "scale":
            return await self.scale.handle(request, res, ns, info.name, user)
        if sub in NODE_SUBRESOURCES and res.plural == "pods" and not res.group:
            return await self.pods.handle(request, res, ns, info.name, sub)
        if sub == "binding" and method == "POST" and res.plural == "pods":
            return await create_binding(self.rest, res, ns, info.name, (await self._body(request, res))[1])
        if sub not in ("", "status", "finalize", "approval") or (sub == "finalize" and method != "PUT"):
            raise errors.method_not_allowed(
                f"the server does not allow this method on the requested resource ({sub})"
            )
        if method == "GET":
            if info.name:
                body = await self.rest.get(res, ns, info.name)
                table = _table_request(request)
                if table is not None:
                    obj = orjson.loads(body)
                    rv = obj["metadata"].get("resourceVersion", "")
                    return json_response(orjson.dumps(table.build(res, [obj], rv)))
                return json_response(body)
            if info.legacy_watch or _bool(query.get("watch")):
                return await self.watch(request, res, ns)
            return await self.list(request, res, ns)
        if method == "POST":
            if info.name or sub:
                raise errors.method_not_allowed("POST is only allowed on collections")
            raw, data = await self._body(request, res)
            opts = self._write_options(request, user, raw, data)
            return _written(await self.rest.create(res, ns, data, opts), opts)
        if method == "PUT":
            if not info.name:
                raise errors.method_not_allowed("PUT requires a name")
            raw, data = await self._body(request, res)
            opts = self._write_options(request, user, raw, data)
            return _written(await self.rest.update(res, ns, info.name, data, opts, sub), opts)
        if method == "PATCH":
            if not info.name:
                raise errors.method_not_allowed("PATCH requires a name")
            patch_type = codec.media_type(request.headers.get("Content-Type"))
            raw, data = await self._body(request, res)
            if not patch_type:
                # Clients that send no Content-Type mean strategic merge for objects, JSON patch for lists.
                patch_type = codec.JSON_PATCH if isinstance(data, list) else codec.STRATEGIC_MERGE_PATCH
            opts = self._write_options(request, user, raw, data)
            if patch_type == codec.APPLY_PATCH:
                force = _bool(query.get("force"))
                result = await self.rest.apply(res, ns, info.name, data, opts, force, sub)
                return _written(result, opts)
            if patch_type not in (codec.JSON_PATCH, codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH):
                raise errors.unsupported_media_type(request.headers.get("Content-Type", ""))
            return _written(await self.rest.patch(res, ns, info.name, patch_type, data, opts, sub), opts)
        if method == "DELETE":
            if sub:
                raise errors.method_not_allowed("DELETE is not allowed on a subresource")
            dopts = await self._delete_options(request, user)
            if info.name:
                result = await self.rest.delete(res, ns, info.name, dopts)
                return json_response(result.body, result.code)
            lopts = self._list_options(query)
            return json_response(await self.rest.delete_collection(res, ns, lopts, dopts))
        raise errors.method_not_allowed(f"method {method} is not allowed")

    # ------------------------------------------------------------------ input

    async def _body(self, request: web.Request, res: Resource) -> tuple[bytes, Any]:
        """The raw body and its decoded form (plain data)."""
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.too_large() from None
        if not body:
            raise errors.bad_request("the request body is empty")
        content_type = request.headers.get("Content-Type")
        if codec.media_type(content_type) == codec.PROTOBUF and request.method in ("POST", "PUT"):
            try:
                return body, protobuf.decode_object(body, res.model)
            except protobuf.ProtobufError as e:
                raise errors.bad_request(f"error decoding protobuf body: {e}") from None
        return body, codec.decode_body(body, content_type)

    def _write_options(
        self, request: web.Request, user: Any, body: bytes = b"", data: Any = None
    ) -> WriteOptions:
        query = request.query
        opts = WriteOptions(
            dry_run=_dry_run(query),
            field_manager=query.get("fieldManager", ""),
            field_validation=_field_validation(query),
            user=user,
            user_agent=request.headers.get("User-Agent", ""),
        )
        if (
            opts.field_validation != "Ignore"
            and body
            and codec.media_type(request.headers.get("Content-Type"))
            in ("", codec.JSON, codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH)
        ):
            opts.duplicate_fields = [] if _canonical_json(body, data) else duplicate_fields(body)
        return opts

    def _list_options(self, query: Any) -> ListOptions:
        limit = _int(query, "limit") or 0
        return ListOptions(
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=max(limit, 0),
            continue_token=query.get("continue", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
        )

    async def _delete_options(self, request: web.Request, user: Any) -> DeleteOptions:
        query = request.query
        body: dict[str, Any] = {}
        raw = await request.read()
        if raw.strip():
            data = codec.decode_body(raw, request.headers.get("Content-Type"))
            if not isinstance(data, dict):
                raise errors.bad_request("the body of a DELETE must be a DeleteOptions object")
            body = data
        grace = _int(query, "gracePeriodSeconds")
        if grace is None and body.get("gracePeriodSeconds") is not None:
            grace = int(body["gracePeriodSeconds"])
        policy = query.get("propagationPolicy") or body.get("propagationPolicy")
        orphan = query.get("orphanDependents")
        orphan_flag = _bool(orphan) if orphan is not None else body.get("orphanDependents")
        if policy and orphan_flag is not None:
            raise errors.StatusError(
                422,
                "Invalid",
                "DeleteOptions is invalid: propagationPolicy: Invalid value: "
                f'"{policy}": orphanDependents and deletionPropagation cannot be both set',
            )
        if orphan_flag:
            policy = "Orphan"
        if policy and policy not in ("Foreground", "Background", "Orphan"):
            raise errors.StatusError(
                422,
                "Invalid",
                f'DeleteOptions is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan"',
            )
        pre = body.get("preconditions") or {}
        return DeleteOptions(
            grace_period_seconds=grace,
            propagation_policy=policy,
            preconditions_uid=pre.get("uid"),
            preconditions_rv=pre.get("resourceVersion"),
            dry_run=_dry_run(query, body.get("dryRun")),
            user=user,
        )

    # ------------------------------------------------------------------- list

    async def list(self, request: web.Request, res: Resource, ns: str | None) -> web.Response:
        table = _table_request(request)
        page = await self.rest.list(res, ns, self._list_options(request.query))
        if table is not None:
            objs = [orjson.loads(item) for item in page.items]
            doc = table.build(res, objs, str(page.revision), page.continue_token, page.remaining)
            return json_response(orjson.dumps(doc))
        return json_response(list_body(res, page.items, page.revision, page.continue_token, page.remaining))

    # ------------------------------------------------------------------ watch

    async def watch(self, request: web.Request, res: Resource, ns: str | None) -> web.StreamResponse:
        query = request.query
        sel = compile_selection(
            self.rest.stored(res), query.get("labelSelector", ""), query.get("fieldSelector", "")
        )
        rv_text = query.get("resourceVersion", "")
        try:
            revision = int(rv_text) if rv_text else 0
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv_text}"') from None
        timeout = _int(query, "timeoutSeconds") or DEFAULT_WATCH_TIMEOUT
        table = _table_request(request)
        bookmarks = _bool(query.get("allowWatchBookmarks"))
        cache = self.rest.cache
        sres = self.rest.stored(res)  # same storage prefix; events arrive in the stored version
        response = web.StreamResponse(status=200)
        response.content_type = JSON_TYPE
        response.enable_chunked_encoding()
        stream_ctx = cache.watch(
            res.storage_prefix, res.prefix(ns), revision, None if sel.empty else sel.matches
        )
        try:
            watcher = await stream_ctx.__aenter__()
        except CompactedError as e:
            await response.prepare(request)
            status = errors.gone(f"too old resource version: {e.requested} ({e.compacted})").status()
            await response.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
            await response.write_eof()
            return response
        try:
            await response.prepare(request)
            deadline = time.monotonic() + timeout
            while not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if not await watcher.wait(min(left, BOOKMARK_INTERVAL)):
                    if bookmarks:
                        await response.write(self._bookmark(res, cache.revision))
                    continue
                try:
                    events = watcher.take(WATCH_WRITE_EVENTS)
                except WatchClosed:
                    break
                # Everything pending goes out in one chunk: one TLS record and one send for a burst.
                lines = []
                for ev in events:
                    data = ev.obj.data if sres is res else self.rest.present(res, ev.obj.data)
                    if table is not None:
                        data = orjson.dumps(
                            table.build(res, [orjson.loads(data)], str(ev.revision), columns=table.first)
                        )
                        table.first = False
                    lines.append(b'{"type":"%s","object":%s}\n' % (ev.type.encode(), data))
                await response.write(b"".join(lines))
        except ConnectionResetError:
            pass
        finally:
            await stream_ctx.__aexit__(None, None, None)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def _bookmark(self, res: Resource, revision: int) -> bytes:
        obj = {
            "kind": res.kind,
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(revision)},
        }
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"
