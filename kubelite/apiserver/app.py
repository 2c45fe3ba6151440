"""The API server: routes, the request pipeline, and its lifetime.

Pipeline of every request: parse the path -> authenticate -> authorize ->
handler (admission and validation happen in ``REST``) -> Status on error;
each request is counted in /metrics. It runs on aiohttp's low-level server
(one handler, no router, no middleware chain: every path comes here), and a
connection's user is worked out once per client certificate and token.
``APIServer.run`` owns everything it starts (store, watch cache, namespace
clean-up, HTTP site) in one task group and releases it all when cancelled or
stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys
import time
import weakref
from typing import Any, cast

import orjson
from aiohttp import HttpVersion11, web

from kubelite import __version__
from kubelite.api import errors
from kubelite.api.resources import Registry, Resource
from kubelite.apiserver import discovery, openapi, openapi_proto
from kubelite.apiserver.admission import AdmissionPlugin
from kubelite.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from kubelite.apiserver.admission.priority import Priority
from kubelite.apiserver.admission.service_allocation import ServiceAllocation
from kubelite.apiserver.auth.authn import (
    ANONYMOUS,
    AuthenticationError,
    Authenticator,
    StaticTokenAuthenticator,
    TokenFileAuthenticator,
    UnionAuthenticator,
    UserInfo,
    X509Authenticator,
    anonymous_allowed,
    bearer_token,
    parse_tokens,
)
from kubelite.apiserver.auth.authz import (
    AlwaysAllow,
    Authorizer,
    NodeBootstrapperLimit,
    is_node_bootstrapper,
    request_attributes,
)
from kubelite.apiserver.auth.certs import pki_for
from kubelite.apiserver.bootstrap import (
    ensure_kubernetes_service,
    ensure_system_namespaces,
    ensure_system_priority_classes,
)
from kubelite.apiserver.config import ServerConfig
from kubelite.apiserver.handlers import ResourceHandler, json_response
from kubelite.apiserver.leanhttp import LeanFront
from kubelite.apiserver.loopback import Loopback
from kubelite.apiserver.metrics import APIServerMetrics, Gauges
from kubelite.apiserver.requestinfo import RequestInfo, parse_request_path
from kubelite.apiserver.rest import REST
from kubelite.apiserver.reviews import Reviews
from kubelite.apiserver.watchcache import WatchCache
from kubelite.storage import open_store
from kubelite.storage.interface import Store

log = logging.getLogger("kubelite.apiserver")

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": f"v1.32.0+kubelite-{__version__}",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "python",
    "compiler": "cpython",
    "platform": "linux/amd64",
}

HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
USER_KEY = web.RequestKey("user", object)  # the authenticated UserInfo (None on plain HTTP)
# Authenticators whose answer depends only on the connection's client certificate and the
# Authorization header: their user can be remembered per connection.
_PER_CONNECTION = (X509Authenticator, StaticTokenAuthenticator)


class APIServer:
    """One API server. ``await run()`` serves until cancelled or ``stop()``."""

    def __init__(self, config: ServerConfig, store: Store | None = None) -> None:
        self.config = config
        self.registry = Registry()
        self.metrics = APIServerMetrics()
        self.url = ""
        # The in-process components' way in (a Unix socket, plain HTTP, a token of this run).
        self.loopback: Loopback | None = Loopback() if config.loopback else None
        self._store = store
        self._stopping = asyncio.Event()
        self._ready = False
        self.authenticator: Authenticator | None = None
        self.authorizer: Authorizer = AlwaysAllow()
        self.rest: REST | None = None
        self.resources: ResourceHandler | None = None
        # transport -> (Authorization header, user) of its last authenticated request
        self._users: weakref.WeakKeyDictionary[Any, tuple[str | None, Any]] = weakref.WeakKeyDictionary()
        self._users_cacheable = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        interval = self.config.switch_interval
        previous = sys.getswitchinterval()
        if interval:
            sys.setswitchinterval(interval)
        try:
            await self._run(ready)
        finally:
            if interval and abs(sys.getswitchinterval() - interval) < 1e-9:  # nobody changed it since
                sys.setswitchinterval(previous)

    async def _run(self, ready: asyncio.Event | None) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = self._store
        if store is None:
            store = await asyncio.to_thread(open_store, config.store, config.data_dir)
        ssl_context = None
        authenticators: list[Authenticator] = []
        if config.tls:
            pki = await asyncio.to_thread(pki_for, config)
            ssl_context = pki.server_ssl_context()
            authenticators.append(X509Authenticator())
        if config.token_file:
            authenticators.append(TokenFileAuthenticator(config.token_file))
        if config.token_rows:
            authenticators.append(StaticTokenAuthenticator(parse_tokens(config.token_rows, "token rows")))
        self.authenticator = UnionAuthenticator(authenticators) if config.tls else None
        self._users_cacheable = all(isinstance(a, _PER_CONNECTION) for a in authenticators)
        prefixes = sorted({r.storage_prefix for r in _stored(self.registry)})
        cache = WatchCache(store, prefixes)
        rest = REST(store, cache, self.registry)
        plugins: list[AdmissionPlugin] = [
            NamespaceLifecycle(self._namespace_getter(rest)),
            Priority(self._priority_class_lister(rest)),
        ]
        rest.admission.extend(p for p in plugins if p.NAME not in config.disable_admission_plugins)
        # Not a plugin in Kubernetes (its Service registry allocates), so never switched off.
        rest.admission.append(ServiceAllocation(config.service_cidr, self._service_lister(rest)))
        self.rest = rest
        self.resources = ResourceHandler(rest, self.registry, self._stopping)
        if config.tls:
            await asyncio.to_thread(self.resources.pods.use_pki, pki)  # kubelet client certificate
        self.resources.reviews = Reviews(
            lambda: NodeBootstrapperLimit(self.authorizer), lambda: self.authenticator
        )
        self._add_store_metrics(store, cache)
        loop = asyncio.get_running_loop()

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.Request:
            return web.Request(
                message, payload, protocol, writer, task, loop, client_max_size=config.max_body_bytes
            )

        http = web.Server(self._pipeline, request_factory=make_request, access_log=None)
        runner = web.ServerRunner(http, handle_signals=False, shutdown_timeout=1.0)
        front: LeanFront | None = None
        listeners: list[asyncio.Server] = []
        closed = False

        async def close_connections() -> None:
            """Answer (or, after a grace period, cancel) the requests in flight and close the
            connections; once, and while the watch cache and the store still run, since the
            requests may wait on them."""
            nonlocal closed
            if closed:
                return
            closed = True
            self._ready = False
            cache.close_watches()  # so that their handlers return before the connections close
            for listener in listeners:
                listener.close()
            if front is not None:
                await front.shutdown()
            with contextlib.suppress(Exception):
                await runner.cleanup()

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(cache.run(), name="watch-cache")
                maintain = getattr(store, "maintain", None)
                if maintain is not None:
                    tg.create_task(maintain(), name="store-maintenance")
                await cache.wait_ready()
                await ensure_system_namespaces(rest, self.registry)
                await ensure_system_priority_classes(rest, self.registry)
                await runner.setup()
                assert runner.server is not None
                front = LeanFront(self._pipeline, runner.server, config.max_body_bytes)
                sock = _listen(config.bind_address, config.port)
                listeners.append(await loop.create_server(front, sock=sock, ssl=ssl_context))
                if self.loopback is not None:
                    path = await asyncio.to_thread(self.loopback.open)
                    listeners.append(await loop.create_unix_server(front, path, backlog=1024))
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                self.url = f"{'https' if config.tls else 'http'}://{shown}:{port}"
                advertised = "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
                await ensure_kubernetes_service(rest, self.registry, config.service_cidr, advertised, port)
                self._ready = True
                log.info("serving the Kubernetes API at %s (store: %s)", self.url, config.store)
                if config.warm_openapi:
                    tg.create_task(self._warm_openapi(), name="openapi-warmup")
                if ready is not None:
                    ready.set()
                await self._stopping.wait()
                await close_connections()  # inside the task group: the cache still runs
                raise _Stop()
        except* _Stop:
            pass
        finally:
            self._stopping.set()
            await close_connections()  # if something failed before
            if self.loopback is not None:
                await asyncio.to_thread(self.loopback.close)
            if self._store is None:
                await store.close()

    def _namespace_getter(self, rest: REST) -> Any:
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None

        decoded: dict[str, tuple[int, dict[str, Any]]] = {}  # name -> (revision, namespace)

        async def get_namespace(name: str) -> dict[str, Any] | None:
            key = namespaces.key(None, name)
            obj = rest.cache.get(namespaces.storage_prefix, key)
            if obj is None:
                # Only a miss is worth a consistent read, as Kubernetes' NamespaceLifecycle does.
                await rest.cache.wait_fresh()
                obj = rest.cache.get(namespaces.storage_prefix, key)
                if obj is None:
                    return None
            seen = decoded.get(name)
            if seen is None or seen[0] != obj.revision:
                seen = decoded[name] = (obj.revision, orjson.loads(obj.data))
            return seen[1]

        return get_namespace

    def _service_lister(self, rest: REST) -> Any:
        services = self.registry.get("", "v1", "services")
        assert services is not None

        async def list_services() -> list[dict[str, Any]]:
            await rest.cache.wait_fresh()
            return [
                orjson.loads(o.data)
                for o in rest.cache.objects(services.storage_prefix, services.storage_prefix)
            ]

        return list_services

    def _priority_class_lister(self, rest: REST) -> Any:
        classes = self.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert classes is not None
        decoded: dict[str, tuple[int, dict[str, Any]]] = {}  # key -> (revision, class)

        async def list_classes(fresh: bool) -> list[dict[str, Any]]:
            if fresh:
                await rest.cache.wait_fresh()
            out = []
            for o in rest.cache.objects(classes.storage_prefix, classes.storage_prefix):
                seen = decoded.get(o.key)
                if seen is None or seen[0] != o.revision:
                    seen = decoded[o.key] = (o.revision, orjson.loads(o.data))
                out.append(seen[1])
            return out

        return list_classes

    def _add_store_metrics(self, store: Store, cache: WatchCache) -> None:
        def storage() -> dict[tuple[str, ...], float]:
            return {(k,): float(v) for k, v in store.stats().items()}

        def watchers() -> dict[tuple[str, ...], float]:
            return {(p,): float(n) for p, n in cache.watch_count().items()}

        def objects() -> dict[tuple[str, ...], float]:
            return {(r.group_resource,): float(cache.count(r.storage_prefix)) for r in _stored(self.registry)}

        self.metrics.add_gauges(Gauges("kubelite_storage", "Store statistics.", ("stat",), storage))
        self.metrics.add_gauges(
            Gauges("apiserver_registered_watchers", "Open watches per storage prefix.", ("prefix",), watchers)
        )
        self.metrics.add_gauges(
            Gauges("apiserver_storage_objects", "Objects stored per resource.", ("resource",), objects)
        )

    # ---------------------------------------------------------------- pipeline

    async def _pipeline(self, request: web.BaseRequest) -> web.StreamResponse:
        # aiohttp's (made by make_request), or leanhttp's stand-in with the parts read here
        request = cast(web.Request, request)
        started = time.monotonic()
        path = request.path.rstrip("/") or "/"
        info = parse_request_path(path)
        verb = request.method
        if info.resource_request and verb == "GET" and not info.name:
            watching = request.query.get("watch") in ("true", "1") or info.legacy_watch
            verb = "WATCH" if watching else "LIST"
        code = 500
        try:
            if request.headers.get("Expect"):
                await _expect(request)
            request[USER_KEY] = self._authenticate(request)
            response = await self._route(request, path, info)
            code = response.status
            return response
        except errors.StatusError as e:
            code = e.code
            return web.Response(
                body=e.to_bytes(), status=e.code, content_type="application/json", headers=e.headers
            )
        except web.HTTPException as e:
            code = e.status
            status = errors.StatusError(e.status, e.reason.replace(" ", ""), e.reason)
            return web.Response(body=status.to_bytes(), status=e.status, content_type="application/json")
        except (asyncio.CancelledError, ConnectionResetError):
            code = 499
            raise
        except Exception as e:
            log.exception("internal error serving %s %s", request.method, request.path)
            err = errors.internal_error(str(e))
            return web.Response(body=err.to_bytes(), status=500, content_type="application/json")
        finally:
            self.metrics.observe(verb, info.group, info.resource, code, time.monotonic() - started)

    def _authenticate(self, request: web.Request) -> Any:
        if self.authenticator is None:  # plain HTTP for tests: everyone is the admin
            return None
        transport = request.transport
        token = request.headers.get("Authorization")
        seen = self._users.get(transport) if transport is not None and self._users_cacheable else None
        if seen is not None and seen[0] == token:
            user = seen[1]
        else:
            user = self._loopback_user(transport, request.headers)
            if user is None:
                peercert = None
                if transport is not None:
                    peercert = transport.get_extra_info("peercert")
                try:
                    user = self.authenticator.authenticate(request.headers, peercert)
                except AuthenticationError:
                    raise errors.unauthorized() from None
            if transport is not None and self._users_cacheable:
                self._users[transport] = (token, user)
        if user is None:
            if not anonymous_allowed(request.path, request.method):
                raise errors.unauthorized()
            user = ANONYMOUS
        return user

    def _loopback_user(self, transport: Any, headers: Any) -> UserInfo | None:
        """The loopback user for a request with the loopback token on the loopback socket;
        401 for that token anywhere else; None for other requests."""
        loopback = self.loopback
        if loopback is None or not loopback.is_token(bearer_token(headers)):
            return None
        if transport is None or transport.get_extra_info("sockname") != loopback.socket_path:
            raise errors.unauthorized()
        return loopback.user()

    def _authorize(self, request: web.Request) -> None:
        user = request.get(USER_KEY)
        if user is None or (isinstance(self.authorizer, AlwaysAllow) and not is_node_bootstrapper(user)):
            return
        attrs = request_attributes(user, request.method, request.path, request.query)
        decision = NodeBootstrapperLimit(self.authorizer).authorize(attrs)
        if not decision.allowed:
            what = attrs.resource or attrs.path
            raise errors.forbidden_error(
                f'{what} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{what}"'
                + (f": {decision.reason}" if decision.reason else "")
            )

    async def _route(self, request: web.Request, path: str, info: RequestInfo) -> web.StreamResponse:
        self._authorize(request)
        if info.resource_request:
            assert self.resources is not None
            return await self.resources.handle(request, info, request.get(USER_KEY))
        if path == "/version":
            return json_response(orjson.dumps(VERSION_INFO))
        if path.startswith(HEALTH_PATHS):
            if path.startswith("/readyz") and not self._ready:
                return web.Response(text="[-]not ready\nreadyz check failed\n", status=500)
            return web.Response(text="ok")
        if path == "/metrics":
            return web.Response(text=self.metrics.render(), content_type="text/plain", charset="utf-8")
        if path in ("/api", "/apis"):
            version = discovery.aggregated_version(request.headers.get("Accept", ""))
            if version:
                aggregated = discovery.aggregated_discovery(self.registry, path == "/api", version)
                return web.Response(
                    body=orjson.dumps(aggregated),
                    headers={"Content-Type": discovery.aggregated_content_type(version)},
                )
            if path == "/api":
                return json_response(orjson.dumps(discovery.api_versions(_address_of(request))))
            return json_response(orjson.dumps(discovery.api_group_list(self.registry)))
        if path.startswith("/openapi/"):
            return self._openapi(request, path)
        doc: dict[str, Any] | None = None
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) == 2:
            doc = discovery.api_resource_list(self.registry, "", parts[1])
        elif parts[:1] == ["apis"] and len(parts) == 2:
            doc = discovery.api_group(self.registry, parts[1])
        elif parts[:1] == ["apis"] and len(parts) == 3:
            doc = discovery.api_resource_list(self.registry, parts[1], parts[2])
        if doc is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
        return json_response(orjson.dumps(doc))

    async def _warm_openapi(self) -> None:
        """Build the served /openapi/v2 forms now, off the loop (see ServerConfig.warm_openapi)."""
        try:
            await asyncio.to_thread(openapi_proto.v2_body, self.registry, True)
        except Exception as e:  # a resource registered meanwhile, say: the first request builds it
            log.debug("building /openapi/v2 ahead of its first request failed: %s", e)

    def _openapi(self, request: web.Request, path: str) -> web.Response:
        if path == "/openapi/v3":
            return json_response(orjson.dumps(openapi.v3_index(self.registry)))
        if path == "/openapi/v2":
            # kubectl's client-side validation asks for gnostic's protobuf form.
            v2 = openapi_proto.v2_body(
                self.registry, openapi_proto.wants_proto(request.headers.get("Accept", ""))
            )
            headers = {"ETag": v2.etag, "Vary": "Accept"}
            if openapi_proto.etag_matches(request.headers.get("If-None-Match", ""), v2.etag):
                return web.Response(status=304, headers=headers)
            return web.Response(body=v2.body, headers={**headers, "Content-Type": v2.content_type})
        if path.startswith("/openapi/v3/"):
            doc_path = path.removeprefix("/openapi/v3/")
            body = openapi.v3_document_bytes(self.registry, doc_path)
            if body is not None:
                response = json_response(body)
                if request.query.get("hash") == openapi.v3_hash(self.registry, doc_path):
                    response.headers["Cache-Control"] = "public, immutable"
                return response
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})


class _Stop(Exception):
    """Raised inside the task group to end it when stop() is called."""


def _stored(registry: Registry) -> list[Resource]:
    """Resources that keep objects (the review kinds, create-only, keep none)."""
    return [r for r in registry.all() if "list" in r.verbs]


def _address_of(request: web.Request) -> str:
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple):  # an IP socket (a Unix socket's name is its path)
        host = sock[0]
        return f"[{host}]:{sock[1]}" if ":" in host else f"{host}:{sock[1]}"
    return request.host


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _expect(request: web.Request) -> None:
    """Answer ``Expect: 100-continue`` before the body is read, as aiohttp's router did
    (the low-level server leaves it to the handler); another expectation is a 417."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11:
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the answer's own size starts after the interim response
    await request.writer.drain()
