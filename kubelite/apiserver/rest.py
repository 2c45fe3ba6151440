"""The generic REST logic: create, read, update, patch and delete of any kind.

This is the "registry" box of DESIGN.md: everything between a decoded
request and the store. The HTTP layer (handlers.py) parses the request and
calls one method here; this module turns it into store operations with
Kubernetes' semantics: metadata filled by the server, defaulting,
admission, validation, optimistic concurrency, generation, status kept
apart from spec, finalizers and graceful deletion. Nothing half-written
reaches the store: every check runs before the single write.
"""

from __future__ import annotations

import base64
import copy
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from kubelite.api import errors
from kubelite.api.apply import server_side_apply
from kubelite.api.conversion import CONVERSIONS
from kubelite.api.defaults import apply_defaults
from kubelite.api.fielddiff import skeleton
from kubelite.api.fields import field_label_error, field_set
from kubelite.api.fieldvalidation import unknown_fields
from kubelite.api.managedfields import default_manager, update_managed_fields
from kubelite.api.meta import ManagedFieldsEntry
from kubelite.api.patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from kubelite.api.resources import Registry, Resource
from kubelite.api.selectors import parse_field_selector, parse_label_selector
from kubelite.api.strategic import StrategicMergePatchError
from kubelite.api.timestamps import rfc3339
from kubelite.api.validation import validate_create, validate_status_update, validate_update
from kubelite.apiserver import codec, strategy
from kubelite.apiserver.admission import AdmissionAttributes, AdmissionPlugin
from kubelite.apiserver.watchcache import CachedObject, WatchCache, make_cached
from kubelite.storage.interface import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
)

log = logging.getLogger("kubelite.apiserver.rest")

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes draws generateName suffixes from
_PATCH_RETRIES = 5


def check_fields(res: Resource, data: Any, opts: WriteOptions) -> None:
    """Unknown and duplicate fields under fieldValidation Strict (an error) or Warn (warnings)."""
    if opts.field_validation == "Ignore" or not isinstance(data, dict):
        return
    problems = [f'unknown field "{path}"' for path in _unknown_fields(res, data)]
    problems += [f'duplicate field "{name}"' for name in opts.duplicate_fields]
    if not problems:
        return
    if opts.field_validation == "Strict":
        raise errors.bad_request(
            f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
            f"strict decoding error: {', '.join(problems)}"
        )
    opts.warnings.extend(problems)


# unknown_fields answers by (model, skeleton of the body); see _unknown_fields.
_UNKNOWN: dict[tuple[Any, ...], tuple[str, ...]] = {}
_UNKNOWN_MAX = 512


def _unknown_fields(res: Resource, data: dict[str, Any]) -> list[str]:
    """``unknown_fields`` of a body, remembered per skeleton: which members a kind declares
    is a matter of keys, the types of values and list items alone, and kubectl sends every
    Strict create of a template with the skeleton of the one before."""
    shape = skeleton(data)
    if shape is None:
        return unknown_fields(data, res.model)
    key = (res.model, shape)
    found = _UNKNOWN.get(key)
    if found is None:
        if len(_UNKNOWN) >= _UNKNOWN_MAX:
            _UNKNOWN.clear()
        found = _UNKNOWN[key] = tuple(unknown_fields(data, res.model))
    return list(found)


def decode_body(res: Resource, data: Any, ns: str | None, name: str | None = None) -> Any:
    """The typed object of a write's body, checked against the URL as Kubernetes does: its
    apiVersion and kind, namespace (filled in from the URL) and name (must match it)."""
    if not isinstance(data, dict):
        raise errors.bad_request(f"the body of the request was not a JSON object; expected a {res.kind}")
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if api_version and api_version != res.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})"
        )
    if kind and kind != res.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
        )
    obj = codec.to_model(data, res.model, res.kind, res.api_version)
    meta = obj.metadata
    if res.namespaced:
        if meta.namespace and ns and meta.namespace != ns:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta.namespace = ns or meta.namespace
    else:
        meta.namespace = ""
    if name is not None and meta.name and meta.name != name:
        raise errors.bad_request("the name of the object does not match the name on the URL")
    return obj


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Ignore"  # Ignore, Warn or Strict
    user: Any = None
    duplicate_fields: list[str] = field(default_factory=list)  # found by the HTTP layer in the raw body
    warnings: list[str] = field(default_factory=list)  # filled here; sent back as Warning headers
    user_agent: str = ""  # names the field manager when the request names none
    fields_checked: bool = False  # a patch retried on a newer object checks its fields once

    @property
    def manager(self) -> str:
        return self.field_manager or default_manager(self.user_agent)


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Foreground, Background, Orphan
    preconditions_uid: str | None = None
    preconditions_rv: str | None = None
    dry_run: bool = False
    user: Any = None


@dataclass
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass
class Selection:
    """A compiled label and field selector."""

    labels: Any = None
    fields: Any = None

    def matches(self, obj: CachedObject) -> bool:
        if self.labels is not None and not self.labels.matches(obj.labels):
            return False
        return self.fields is None or self.fields.matches(obj.fields)

    @property
    def empty(self) -> bool:
        return self.labels is None and self.fields is None


def compile_selection(res: Resource, label_selector: str, field_selector: str) -> Selection:
    sel = Selection()
    if label_selector:
        try:
            sel.labels = parse_label_selector(label_selector)
        except ValueError as e:
            raise errors.bad_request(f"unable to parse requirement: {e}") from None
    if field_selector:
        try:
            sel.fields = parse_field_selector(field_selector)
        except ValueError as e:
            raise errors.bad_request(f"invalid field selector: {e}") from None
        for name, _op, _value in sel.fields.requirements:
            problem = field_label_error(res.kind, name)
            if problem:
                raise errors.bad_request(problem)
    return sel


@dataclass
class ListPage:
    items: list[bytes]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass
class Result:
    """What a write answers: the HTTP code and the body bytes."""

    code: int
    body: bytes
    warnings: list[str] = field(default_factory=list)


class _StaleCopy(Exception):
    """A write started from the watch cache's copy would change nothing: that copy may be
    behind the store, so the answer must come from the store's copy (as Kubernetes'
    GuaranteedUpdate refreshes a cached origState before calling a write a no-op)."""


class UIDSource:
    """Random (version 4) UUIDs for ``metadata.uid``, 256 per read of the OS's random source.

    ``uuid.uuid4()`` reads 16 bytes per call, and ``os.urandom`` releases the
    GIL: on a busy event loop every create then waited for the store's
    writer thread to give it back.
    """

    BATCH = 256

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def __call__(self) -> str:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(16 * self.BATCH)
            at = 0
        self._at = at + 16
        n = int.from_bytes(self._pool[at : at + 16], "big")
        # RFC 4122: version 4 in the high nibble of octet 6, variant 10 in the top bits of octet 8.
        n = (n & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class REST:
    """Generic REST operations over every registered resource."""

    def __init__(
        self,
        store: Store,
        cache: WatchCache,
        registry: Registry,
        admission: list[AdmissionPlugin] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cache = cache
        self.registry = registry
        self.admission = admission or []
        self.clock = clock
        self.new_uid = UIDSource()
        self._stamp_second = -1
        self._stamp_text = ""

    # ------------------------------------------------------------- conversion

    def stored(self, res: Resource) -> Resource:
        """The resource whose version is kept in the store for ``res``."""
        return self.registry.storage_resource(res)

    def to_storage(self, res: Resource, data: Any) -> Any:
        conv = CONVERSIONS.get((res.group, res.version, res.kind))
        if conv is None or not isinstance(data, dict):
            return data
        api_version = data.get("apiVersion")
        if api_version and api_version != res.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})"
            )
        return conv[0](data)

    def present(self, res: Resource, data: bytes) -> bytes:
        """Stored bytes as the served version of ``res``."""
        conv = CONVERSIONS.get((res.group, res.version, res.kind))
        if conv is None:
            return data
        return orjson.dumps(conv[1](orjson.loads(data)))

    def _present_result(self, res: Resource, result: Result) -> Result:
        if result.body.startswith(b'{"kind":"Status"'):
            return result
        return Result(result.code, self.present(res, result.body), result.warnings)

    # ---------------------------------------------------------------- helpers

    def _decode_stored(self, res: Resource, value: bytes, revision: int) -> Any:
        obj = msgspec.json.decode(value, type=res.model)
        obj.metadata.resourceVersion = str(revision)
        return obj

    def _encode_for_store(self, res: Resource, obj: Any) -> bytes:
        obj.kind = res.kind
        obj.apiVersion = res.api_version
        obj.metadata.resourceVersion = ""
        return msgspec.json.encode(obj)

    async def _admit(
        self, op: str, res: Resource, sub: str, ns: str, name: str, obj: Any, old: Any, user: Any, dry: bool
    ) -> None:
        attrs = AdmissionAttributes(op, res, sub, ns, name, obj, old, user, dry)
        for plugin in self.admission:
            await plugin.admit(attrs)

    def _stamp(self, now: float) -> str:
        """``rfc3339(now)``, formatted once per second."""
        second = int(now)
        if second != self._stamp_second:
            self._stamp_text = rfc3339(now)
            self._stamp_second = second
        return self._stamp_text

    def _expect(self, res: Resource, key: str, value: bytes, doc: dict[str, Any] | None) -> None:
        """Tell the watch cache the labels and fields of ``value`` (``doc`` is it as plain data),
        so that it need not decode the bytes again when the write's event arrives."""
        if doc is None:
            return
        labels = (doc.get("metadata") or {}).get("labels") or {}
        self.cache.expect(key, value, dict(labels), field_set(res.kind, doc))

    def _invalid(self, res: Resource, obj: Any, errs: list[errors.FieldError]) -> errors.StatusError:
        name = obj.metadata.name or obj.metadata.generateName or ""
        return errors.invalid(res.kind, name, errs, res.group)

    async def _read(self, res: Resource, ns: str | None, name: str) -> tuple[Any, int]:
        kv = await self.store.get(res.key(ns, name))
        if kv is None:
            raise errors.not_found_error(res.plural, name, res.group)
        return self._decode_stored(res, kv.value, kv.mod_revision), kv.mod_revision

    async def _read_for_write(
        self, res: Resource, ns: str | None, name: str, cached: bool
    ) -> tuple[Any, int, bool]:
        """The object a write starts from, its revision, and whether that is the store's copy.

        With ``cached``, the watch cache's copy when it has one, as Kubernetes' cacher hands
        GuaranteedUpdate its cached object (no store read; a store read runs on a reader
        thread). The copy may be behind: the write's compare-and-swap on the revision
        catches that, and a write refused on a cached copy must be tried again on the
        store's (Kubernetes does the same when ``origStateIsCurrent`` is false).
        """
        if cached:
            found = self.cache.get(res.storage_prefix, res.key(ns, name))
            if found is not None:
                return self._decode_stored(res, found.data, found.revision), found.revision, False
        obj, rev = await self._read(res, ns, name)
        return obj, rev, True

    # ------------------------------------------------------------------- read

    async def get(self, res: Resource, ns: str | None, name: str) -> bytes:
        kv = await self.store.get(res.key(ns, name))
        if kv is None:
            raise errors.not_found_error(res.plural, name, res.group)
        return self.present(res, codec.with_resource_version(kv.value, kv.mod_revision))

    async def list(self, res: Resource, ns: str | None, opts: ListOptions) -> ListPage:
        page = await self._list(self.stored(res), ns, opts)
        if self.stored(res) is not res:
            page.items = [self.present(res, item) for item in page.items]
        return page

    async def _list(self, res: Resource, ns: str | None, opts: ListOptions) -> ListPage:
        sel = compile_selection(res, opts.label_selector, opts.field_selector)
        if opts.continue_token:
            rv, start = _decode_continue(opts.continue_token)
            return await self._list_from_store(res, ns, sel, opts.limit, rv, res.prefix(ns) + start)
        if opts.resource_version_match and not opts.resource_version:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if opts.resource_version_match == "Exact":
            rv = _parse_rv(opts.resource_version)
            return await self._list_from_store(res, ns, sel, opts.limit, rv, None)
        if opts.resource_version_match not in ("", "NotOlderThan"):
            raise errors.bad_request(f"unsupported resourceVersionMatch: {opts.resource_version_match}")
        if opts.resource_version == "0":
            revision = self.cache.revision
        elif opts.resource_version:
            wanted = _parse_rv(opts.resource_version)
            try:
                await self.cache.wait_for(wanted, timeout=3.0)
            except TimeoutError:
                raise errors.StatusError(
                    504,
                    "Timeout",
                    f"Too large resource version: {wanted}, current: {self.cache.revision}",
                    {
                        "causes": [
                            {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                        ],
                        "retryAfterSeconds": 1,
                    },
                ) from None
            revision = self.cache.revision
        else:
            revision = await self.cache.wait_fresh()
        objs = self.cache.objects(res.storage_prefix, res.prefix(ns))
        if not sel.empty:
            objs = [o for o in objs if sel.matches(o)]
        page = ListPage([], revision)
        if opts.limit and len(objs) > opts.limit:
            page.remaining = len(objs) - opts.limit
            objs = objs[: opts.limit]
            page.continue_token = _encode_continue(revision, objs[-1].key[len(res.prefix(ns)) :])
        page.items = [o.data for o in objs]
        return page

    async def _list_from_store(
        self,
        res: Resource,
        ns: str | None,
        sel: Selection,
        limit: int,
        revision: int,
        start_after: str | None,
    ) -> ListPage:
        prefix = res.prefix(ns)
        items: list[bytes] = []
        last_key = ""
        more = False
        try:
            while True:
                want = max(limit - len(items), 0) if limit else 0
                batch = await self.store.list(prefix, revision=revision, start_after=start_after, limit=want)
                revision = batch.revision
                for kv in batch.items:
                    last_key = kv.key
                    if not sel.empty:
                        if not sel.matches(make_cached(kv.key, kv.value, kv.mod_revision)):
                            continue
                    items.append(codec.with_resource_version(kv.value, kv.mod_revision))
                more = batch.more
                if not more or not limit or len(items) >= limit:
                    break
                start_after = last_key
        except CompactedError:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
                if start_after is not None
                else "The resourceVersion for the provided list is too old."
            ) from None
        except FutureRevisionError:
            raise errors.StatusError(504, "Timeout", f"Too large resource version: {revision}") from None
        page = ListPage(items, revision)
        if more:
            page.continue_token = _encode_continue(revision, last_key[len(prefix) :])
        return page

    # ----------------------------------------------------------------- create

    async def create(self, res: Resource, ns: str | None, data: Any, opts: WriteOptions) -> Result:
        sres = self.stored(res)
        check_fields(res, data, opts)
        obj = decode_body(sres, self.to_storage(res, data), ns, None)
        if obj.metadata.resourceVersion:
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        meta = obj.metadata
        if not meta.name and meta.generateName:
            meta.name = meta.generateName + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
        return self._present_result(res, await self._create_object(sres, obj, opts))

    def _track_fields(
        self, res: Resource, new: Any, old: Any, opts: WriteOptions, subresource: str
    ) -> dict[str, Any]:
        """Record in managedFields which fields this write's manager now owns.

        Returns ``new`` as plain data (its managedFields aside), which the
        caller reuses for the watch cache.
        """
        doc = msgspec.to_builtins(new)
        entries = update_managed_fields(
            msgspec.to_builtins(old) if old is not None else None,
            doc,
            opts.manager,
            "Update",
            res.model,
            self._stamp(self.clock()),
            subresource,
            # The body may leave apiVersion out (the URL says it); an entry without one is not valid.
            api_version=res.api_version,
        )
        try:  # the entries are ours, with exactly the fields of the model: no need to convert
            new.metadata.managedFields = [ManagedFieldsEntry(**entry) for entry in entries]
        except TypeError:
            new.metadata.managedFields = msgspec.convert(entries, list[ManagedFieldsEntry])
        return doc

    async def _create_object(
        self, res: Resource, obj: Any, opts: WriteOptions, applied: bool = False
    ) -> Result:
        meta = obj.metadata
        meta.uid = self.new_uid()
        meta.creationTimestamp = self._stamp(self.clock())
        meta.resourceVersion = ""
        meta.generation = 0
        meta.deletionTimestamp = None
        meta.deletionGracePeriodSeconds = None
        strategy.prepare_for_create(res, obj, opts.user)
        apply_defaults(obj)
        await self._admit("CREATE", res, "", meta.namespace, meta.name, obj, None, opts.user, opts.dry_run)
        doc = None if applied else self._track_fields(res, obj, None, opts, "")
        errs = validate_create(obj)
        if errs:
            raise self._invalid(res, obj, errs)
        value = self._encode_for_store(res, obj)
        key = res.key(meta.namespace, meta.name)
        if opts.dry_run:
            if await self.store.get(key) is not None:
                raise errors.already_exists(res.plural, meta.name, res.group)
            return Result(201, value)
        self._expect(res, key, value, doc)
        try:
            rev = await self.store.create(key, value)
        except BaseException as e:
            self.cache.unexpect(key, value)
            if isinstance(e, KeyExistsError):
                raise errors.already_exists(res.plural, meta.name, res.group) from None
            raise
        return Result(201, codec.with_resource_version(value, rev))

    # ----------------------------------------------------------------- update

    async def update(
        self, res: Resource, ns: str | None, name: str, data: Any, opts: WriteOptions, subresource: str = ""
    ) -> Result:
        sres = self.stored(res)
        return self._present_result(
            res, await self._update(sres, ns, name, self.to_storage(res, data), opts, subresource)
        )

    async def _update(
        self, res: Resource, ns: str | None, name: str, data: Any, opts: WriteOptions, subresource: str
    ) -> Result:
        for cached in (True, False):
            new = decode_body(res, data, ns, name)  # anew each time: the attempt changes it
            if not new.metadata.name:
                new.metadata.name = name
            try:
                old, old_rev, current = await self._read_for_write(res, ns, name, cached)
            except errors.StatusError as e:
                if e.code == 404 and not subresource and (res.group, res.plural) in strategy.CREATE_ON_UPDATE:
                    return await self._create_object(res, new, opts)
                raise
            try:
                if new.metadata.resourceVersion and new.metadata.resourceVersion != str(old_rev):
                    raise errors.conflict(res.plural, name, res.group)
                return await self._update_object(res, new, old, old_rev, opts, subresource, current=current)
            except (errors.StatusError, _StaleCopy):
                if current:
                    raise
        raise errors.conflict(res.plural, name, res.group)  # not reached: the second try is current

    async def _update_object(
        self,
        res: Resource,
        new: Any,
        old: Any,
        old_rev: int,
        opts: WriteOptions,
        subresource: str,
        applied: bool = False,
        current: bool = True,
    ) -> Result:
        meta, old_meta = new.metadata, old.metadata
        meta.namespace = old_meta.namespace
        meta.name = old_meta.name
        # A client may leave the uid out (it is kept) but not change it: validation says so.
        meta.uid = meta.uid or old_meta.uid
        meta.creationTimestamp = old_meta.creationTimestamp
        meta.deletionTimestamp = old_meta.deletionTimestamp
        meta.deletionGracePeriodSeconds = old_meta.deletionGracePeriodSeconds
        if not meta.generateName:
            meta.generateName = old_meta.generateName
        if subresource == "status":
            strategy.prepare_for_status_update(res, new, old)
        elif subresource == "finalize":
            strategy.prepare_for_finalize(res, new, old)
        elif subresource == "approval":
            strategy.prepare_for_approval_update(res, new, old)
        else:
            strategy.prepare_for_update(res, new, old)
        apply_defaults(new)
        if old_meta.deletionTimestamp and set(meta.finalizers) - set(old_meta.finalizers):
            raise self._invalid(
                res,
                new,
                [
                    errors.forbidden(
                        "metadata.finalizers", "no new finalizers can be added if the object is being deleted"
                    )
                ],
            )
        await self._admit(
            "UPDATE", res, subresource, meta.namespace, meta.name, new, old, opts.user, opts.dry_run
        )
        doc = None if applied else self._track_fields(res, new, old, opts, subresource)
        errs = validate_status_update(new, old) if subresource == "status" else validate_update(new, old)
        if errs:
            raise self._invalid(res, new, errs)
        key = res.key(meta.namespace, meta.name)
        # Removing the last finalizer of an object being deleted completes its deletion.
        if meta.deletionTimestamp and not meta.finalizers and not strategy.blocks_deletion(res, new):
            value = self._encode_for_store(res, new)
            if opts.dry_run:
                return Result(200, value)
            try:
                last = await self.store.delete(key, expected_revision=old_rev)
            except ConflictError:
                raise errors.conflict(res.plural, meta.name, res.group) from None
            except KeyNotFoundError:
                raise errors.not_found_error(res.plural, meta.name, res.group) from None
            # Clients expect the updated object from a successful update, not the Status a DELETE answers.
            return Result(200, codec.with_resource_version(value, last.mod_revision))
        value = self._encode_for_store(res, new)
        if value == self._encode_for_store(res, copy.copy(old)) and not opts.dry_run:
            if not current:
                raise _StaleCopy()
            # Kubernetes skips no-op writes: the resourceVersion stays.
            return Result(200, codec.with_resource_version(value, old_rev))
        if opts.dry_run:
            return Result(200, codec.with_resource_version(value, old_rev))
        self._expect(res, key, value, doc)
        try:
            rev = await self.store.update(key, value, expected_revision=old_rev)
        except BaseException as e:
            self.cache.unexpect(key, value)
            if isinstance(e, ConflictError):
                raise errors.conflict(res.plural, meta.name, res.group) from None
            if isinstance(e, KeyNotFoundError):
                raise errors.not_found_error(res.plural, meta.name, res.group) from None
            raise
        return Result(200, codec.with_resource_version(value, rev))

    # ------------------------------------------------------------------ patch

    async def patch(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Result:
        served, res = res, self.stored(res)
        conv = CONVERSIONS.get((served.group, served.version, served.kind))
        for attempt in range(_PATCH_RETRIES):
            # The first attempt starts from the watch cache's copy, later ones from the store.
            old, old_rev, stored = await self._read_for_write(res, ns, name, attempt == 0)
            try:
                result = await self._patch_once(
                    res, served, conv, ns, name, patch_type, patch, opts, subresource, old, old_rev, stored
                )
                return self._present_result(served, result)
            except _StaleCopy:
                continue
            except errors.StatusError as e:
                if not stored:
                    continue  # refused on a copy that may be behind: decide on the store's
                if e.reason == "Conflict" and attempt < _PATCH_RETRIES - 1:
                    continue  # another write came between our read and write: patch again
                raise
        raise errors.conflict(res.plural, name, res.group)

    async def _patch_once(
        self,
        res: Resource,
        served: Resource,
        conv: Any,
        ns: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions,
        subresource: str,
        old: Any,
        old_rev: int,
        stored: bool,
    ) -> Result:
        """One attempt of ``patch`` on ``old`` (at ``old_rev``, the store's copy if ``stored``);
        StatusError when refused, _StaleCopy when it would change nothing on a cached copy."""
        current = orjson.loads(self._encode_for_store(res, copy.copy(old)))
        current["metadata"]["resourceVersion"] = str(old_rev)
        if conv is not None:
            current = conv[1](current)
        try:
            if patch_type == codec.JSON_PATCH:
                if not isinstance(patch, list):
                    raise errors.bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    )
                patched = apply_json_patch(current, patch)
            elif patch_type == codec.MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request("merge patch must be a JSON object")
                patched = apply_merge_patch(current, patch)
            elif patch_type == codec.STRATEGIC_MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request("strategic merge patch must be a JSON object")
                patched = apply_strategic_merge_patch(current, patch, served.model)
            else:
                raise errors.unsupported_media_type(patch_type)
        except StrategicMergePatchError as e:
            if e.code == 400:
                raise errors.bad_request(str(e)) from None
            raise errors.StatusError(e.code, "Invalid" if e.code == 422 else "", str(e)) from None
        except PatchError as e:
            raise errors.StatusError(422, "Invalid", str(e)) from None
        # A resourceVersion the patch sets is a precondition; otherwise patch the latest
        # (the current object carries its own, so only a different one can appear here).
        asked_rv = (
            (patched.get("metadata") or {}).get("resourceVersion") if isinstance(patched, dict) else None
        )
        if asked_rv and asked_rv != str(old_rev):
            raise errors.conflict(res.plural, name, res.group)
        if not opts.fields_checked:  # once per request (Warn adds its warnings once)
            check_fields(served, patched, opts)
            opts.fields_checked = True
        if conv is not None and isinstance(patched, dict):
            patched = conv[0](patched)
        new = decode_body(res, patched, ns, name)
        return await self._update_object(res, new, old, old_rev, opts, subresource, current=stored)

    # ------------------------------------------------------------------ apply

    async def apply(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        config: Any,
        opts: WriteOptions,
        force: bool,
        subresource: str = "",
    ) -> Result:
        """Server-side apply: merge ``config`` as ``opts.field_manager`` owns it; create if missing (201)."""
        served, res = res, self.stored(res)
        if not opts.field_manager:
            raise errors.StatusError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the apply configuration must be an object")
        conv = CONVERSIONS.get((served.group, served.version, served.kind))
        check_fields(served, config, opts)
        for attempt in range(_PATCH_RETRIES):
            try:
                old, old_rev = await self._read(res, ns, name)
            except errors.StatusError as e:
                if e.code != 404 or subresource:
                    raise
                old, old_rev = None, 0
            live = None
            if old is not None:
                live = orjson.loads(self._encode_for_store(res, copy.copy(old)))
                live["metadata"]["resourceVersion"] = str(old_rev)
                if conv is not None:
                    live = conv[1](live)
            merged = server_side_apply(
                live,
                config,
                opts.field_manager,
                force,
                served.model,
                served.api_version,
                rfc3339(self.clock()),
                kind=served.kind,
                subresource=subresource,
            )
            if conv is not None:
                merged = conv[0](merged)
            obj = decode_body(res, merged, ns, name)
            if not obj.metadata.name:
                obj.metadata.name = name
            try:
                if old is None:
                    result = await self._create_object(res, obj, opts, applied=True)
                else:
                    result = await self._update_object(
                        res, obj, old, old_rev, opts, subresource, applied=True
                    )
            except errors.StatusError as e:
                if e.reason in ("Conflict", "AlreadyExists") and attempt < _PATCH_RETRIES - 1:
                    continue
                raise
            return self._present_result(served, result)
        raise errors.conflict(res.plural, name, res.group)

    # ----------------------------------------------------------------- delete

    async def delete(self, res: Resource, ns: str | None, name: str, opts: DeleteOptions) -> Result:
        served, res = res, self.stored(res)
        for attempt in range(_PATCH_RETRIES):
            try:
                # The first attempt starts from the watch cache's copy, later ones from the store.
                result = await self._delete_once(res, ns, name, opts, attempt == 0)
            except ConflictError:
                if opts.preconditions_rv or attempt == _PATCH_RETRIES - 1:
                    raise errors.conflict(res.plural, name, res.group) from None
                continue
            if result is not None:
                return self._present_result(served, result)
        raise errors.conflict(res.plural, name, res.group)

    async def _delete_once(
        self, res: Resource, ns: str | None, name: str, opts: DeleteOptions, cached: bool
    ) -> Result | None:
        """One attempt; None when it was refused on a cached copy that may be behind."""
        obj, rev, stored = await self._read_for_write(res, ns, name, cached)
        try:
            return await self._delete_object(res, name, opts, obj, rev, stored)
        except (ConflictError, errors.StatusError, _StaleCopy):
            if stored:
                raise
            return None

    async def _delete_object(
        self, res: Resource, name: str, opts: DeleteOptions, obj: Any, rev: int, current: bool
    ) -> Result:
        meta = obj.metadata
        if opts.preconditions_uid and opts.preconditions_uid != meta.uid:
            raise errors.conflict(
                res.plural,
                name,
                res.group,
                f"Precondition failed: UID in precondition: {opts.preconditions_uid}, UID in object meta: {meta.uid}",
            )
        if opts.preconditions_rv and opts.preconditions_rv != str(rev):
            raise errors.conflict(
                res.plural,
                name,
                res.group,
                f"Precondition failed: ResourceVersion in precondition: {opts.preconditions_rv}, "
                f"ResourceVersion in object meta: {rev}",
            )
        await self._admit("DELETE", res, "", meta.namespace, name, None, obj, opts.user, opts.dry_run)
        key = res.key(meta.namespace, name)
        changed = False
        policy = opts.propagation_policy
        if policy == "Foreground" and "foregroundDeletion" not in meta.finalizers:
            meta.finalizers = [*meta.finalizers, "foregroundDeletion"]
            changed = True
        elif policy == "Orphan" and "orphan" not in meta.finalizers:
            meta.finalizers = [*meta.finalizers, "orphan"]
            changed = True
        grace = self._grace_period(res, obj, opts)
        now = self.clock()
        if meta.finalizers or grace > 0 or (res.group, res.plural) == ("", "namespaces"):
            # Deletion is deferred: mark the object and let finalizers or the node agent finish.
            if not meta.deletionTimestamp:
                meta.deletionTimestamp = rfc3339(now + grace)
                meta.deletionGracePeriodSeconds = grace
                changed = True
            elif meta.deletionGracePeriodSeconds is not None and grace < meta.deletionGracePeriodSeconds:
                meta.deletionTimestamp = rfc3339(now + grace)
                meta.deletionGracePeriodSeconds = grace
                changed = True
            if (res.group, res.plural) == ("", "namespaces"):
                if obj.status.phase != "Terminating":
                    obj.status.phase = "Terminating"
                    changed = True
                if not obj.spec.finalizers and not meta.finalizers:
                    return await self._finish_delete(res, key, rev, obj, opts)
            if not changed:
                if not current:
                    raise _StaleCopy()
                return Result(200, codec.with_resource_version(self._encode_for_store(res, obj), rev))
            value = self._encode_for_store(res, obj)
            if opts.dry_run:
                return Result(200, codec.with_resource_version(value, rev))
            new_rev = await self.store.update(key, value, expected_revision=rev)
            return Result(200, codec.with_resource_version(value, new_rev))
        return await self._finish_delete(res, key, rev, obj, opts)

    def _grace_period(self, res: Resource, obj: Any, opts: DeleteOptions) -> int:
        if (res.group, res.plural) != ("", "pods"):
            return 0
        if not obj.spec.nodeName or obj.status.phase in ("Succeeded", "Failed"):
            return 0
        if opts.grace_period_seconds is not None:
            return max(opts.grace_period_seconds, 0)
        tgps = obj.spec.terminationGracePeriodSeconds
        return 30 if tgps is None else max(tgps, 0)

    async def _finish_delete(
        self, res: Resource, key: str, rev: int, obj: Any, opts: DeleteOptions
    ) -> Result:
        if opts.dry_run:
            return self._deleted_answer(res, obj, self._encode_for_store(res, obj), rev)
        return await self._delete_now(res, key, rev, obj)

    async def _delete_now(self, res: Resource, key: str, rev: int, obj: Any) -> Result:
        try:
            last = await self.store.delete(key, expected_revision=rev)
        except KeyNotFoundError:
            raise errors.not_found_error(res.plural, obj.metadata.name, res.group) from None
        return self._deleted_answer(res, obj, last.value, last.mod_revision)

    def _deleted_answer(self, res: Resource, obj: Any, value: bytes, rev: int) -> Result:
        if (res.group, res.plural) in strategy.RETURNS_DELETED_OBJECT:
            return Result(200, codec.with_resource_version(value, rev))
        details: dict[str, Any] = {"name": obj.metadata.name}
        if res.group:
            details["group"] = res.group
        details["kind"] = res.plural
        details["uid"] = obj.metadata.uid
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        return Result(200, orjson.dumps(status))

    async def delete_collection(
        self, res: Resource, ns: str | None, lopts: ListOptions, dopts: DeleteOptions
    ) -> bytes:
        page = await self.list(
            res, ns, ListOptions(lopts.label_selector, lopts.field_selector, 0, "", lopts.resource_version)
        )
        deleted: list[bytes] = []
        for item in page.items:
            meta = orjson.loads(item)["metadata"]
            try:
                await self.delete(res, meta.get("namespace") or ns, meta["name"], dopts)
            except errors.StatusError as e:
                if e.code == 404:  # deleted meanwhile by someone else
                    continue
                raise
            deleted.append(item)
        return list_body(res, deleted, page.revision)


def _parse_rv(rv: str) -> int:
    try:
        value = int(rv)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{rv}"') from None
    if value < 0:
        raise errors.bad_request(f'invalid resource version "{rv}"')
    return value


def _encode_continue(revision: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        return int(data["rv"]), str(data["start"])
    except Exception:
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion"
        ) from None


def list_body(
    res: Resource, items: list[bytes], revision: int, continue_token: str = "", remaining: int | None = None
) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    head = b'{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[' % (
        res.list_kind.encode(),
        res.api_version.encode(),
        orjson.dumps(meta),
    )
    return head + b",".join(items) + b"]}"
