"""Validation of certificates.k8s.io/v1 CertificateSigningRequests, as Kubernetes validates them.

A request must carry a PEM CERTIFICATE REQUEST whose signature verifies, a
well-formed signerName (``domain.tld/path``), usages from the known set
without repeats, and expirationSeconds of at least 600 (and an int32) when set. Conditions
have a type and a status (Approved, Denied and Failed only ``True``);
Approved and Denied exclude each other and no update removes either, or
Failed. ``status.certificate`` holds only PEM CERTIFICATE blocks, is set only
through the status subresource, only once, and only on an approved request.
Approval conditions change only through the approval subresource (the
subresource an update came through is told by ``via``). Kubernetes keeps some
of these rules loose for objects already stored in breach of them; so do we.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import csr as csrs
from kubelite.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid_value,
    not_supported,
    required,
    too_long,
)
from kubelite.api.validation.common import inclusive_range_error, is_dns1123_label, is_dns1123_subdomain

MIN_EXPIRATION_SECONDS = 600
MAX_INT32 = 2**31 - 1
_TRUE_ONLY = frozenset({csrs.APPROVED, csrs.DENIED, csrs.FAILED})
_ALL_STATUSES = ["False", "True", "Unknown"]
_KNOWN_USAGES = frozenset(csrs.KNOWN_USAGES)
_SIGNER_DOMAIN_MAX = 253
_SIGNER_NAME_MAX = 253 + (253 + 63 + 1) + 1


def validate_signer_name(name: str, path: str) -> list[FieldError]:
    """``domain/path``: a domain of at least two DNS labels, a path of DNS subdomains."""
    if not name:
        return [required(path, "signerName must be provided")]
    segments = name.split("/")
    if len(segments) != 2:
        return [
            invalid_value(
                path, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'"
            )
        ]
    domain, rest = segments
    errs: list[FieldError] = []
    if len(domain) > _SIGNER_DOMAIN_MAX:
        errs.append(too_long(path, "", _SIGNER_DOMAIN_MAX))
    labels = domain.split(".")
    for label in labels:
        found = is_dns1123_label(label)
        if found:
            errs += [invalid_value(path, domain, f'validating label "{label}": {m}') for m in found]
            break  # later labels would only repeat the same complaint
    if len(labels) < 2:
        errs.append(
            invalid_value(path, domain, "should be a domain with at least two segments separated by dots")
        )
    for label in rest.split("."):
        found = is_dns1123_subdomain(label)
        if found:
            errs += [invalid_value(path, rest, f'validating label "{label}": {m}') for m in found]
            break
    if len(name) > _SIGNER_NAME_MAX:
        errs.append(too_long(path, "", _SIGNER_NAME_MAX))
    return errs


def _loose(old: Any) -> dict[str, bool]:
    """What an update may keep because the stored object already has it (Kubernetes'
    compatibility allowances for data written under older rules)."""
    if old is None:
        return {}
    conditions = list(old.status.conditions)
    types = [c.type for c in conditions]
    usages = list(old.spec.usages)
    return {
        "both": csrs.APPROVED in types and csrs.DENIED in types,
        "legacy_signer": old.spec.signerName == csrs.LEGACY_UNKNOWN,
        "duplicate_types": len(types) != len(set(types)),
        "empty_type": "" in types,
        "unknown_usages": any(u not in _KNOWN_USAGES for u in usages),
        "duplicate_usages": len(usages) != len(set(usages)),
        "bad_certificate": bool(csrs.certificate_pem_error(old.status.certificate)),
    }


def _validate(obj: Any, old: Any) -> list[FieldError]:
    loose = _loose(old)
    spec = obj.spec
    errs: list[FieldError] = []
    try:
        csrs.parse_csr(spec.request)
    except ValueError as e:
        errs.append(invalid_value("spec.request", list(spec.request), str(e)))
    if not spec.usages:
        errs.append(required("spec.usages", "usages must be provided"))
    seen: set[str] = set()
    for i, usage in enumerate(spec.usages):
        if usage not in _KNOWN_USAGES and not loose.get("unknown_usages"):
            errs.append(not_supported(f"spec.usages[{i}]", usage, sorted(_KNOWN_USAGES)))
        if usage in seen and not loose.get("duplicate_usages"):
            errs.append(duplicate(f"spec.usages[{i}]", usage))
        seen.add(usage)
    if spec.signerName == csrs.LEGACY_UNKNOWN and not loose.get("legacy_signer"):
        errs.append(
            invalid_value(
                "spec.signerName",
                spec.signerName,
                "the legacy signerName is not allowed via this API version",
            )
        )
    elif spec.signerName != csrs.LEGACY_UNKNOWN:
        errs += validate_signer_name(spec.signerName, "spec.signerName")
    if spec.expirationSeconds is not None and spec.expirationSeconds < MIN_EXPIRATION_SECONDS:
        errs.append(
            invalid_value(
                "spec.expirationSeconds",
                spec.expirationSeconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    elif spec.expirationSeconds is not None and spec.expirationSeconds > MAX_INT32:
        # An int32 in Kubernetes (refused when decoded); unchecked here, a huge one would
        # overflow the signer's arithmetic on every attempt instead.
        errs.append(
            invalid_value(
                "spec.expirationSeconds",
                spec.expirationSeconds,
                inclusive_range_error(MIN_EXPIRATION_SECONDS, MAX_INT32),
            )
        )
    errs += _validate_conditions(obj, loose)
    unchanged = old is not None and obj.status.certificate == old.status.certificate
    if not unchanged and not loose.get("bad_certificate"):
        problem = csrs.certificate_pem_error(obj.status.certificate)
        if problem:
            errs.append(invalid_value("status.certificate", "<certificate data>", problem))
    return errs


def _validate_conditions(obj: Any, loose: dict[str, bool]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    seen_decisions: set[str] = set()
    for i, c in enumerate(obj.status.conditions):
        path = f"status.conditions[{i}]"
        if not c.type and not loose.get("empty_type"):
            errs.append(required(f"{path}.type"))
        allowed = ["True"] if c.type in _TRUE_ONLY else _ALL_STATUSES
        if not c.status:
            errs.append(required(f"{path}.status"))
        elif c.status not in allowed:
            errs.append(not_supported(f"{path}.status", c.status, allowed))
        if not loose.get("both") and c.type in (csrs.APPROVED, csrs.DENIED):
            if (csrs.DENIED if c.type == csrs.APPROVED else csrs.APPROVED) in seen_decisions:
                errs.append(
                    invalid_value(
                        f"{path}.type", c.type, "Approved and Denied conditions are mutually exclusive"
                    )
                )
            seen_decisions.add(c.type)
        if c.type in seen and not loose.get("duplicate_types"):
            errs.append(duplicate(f"{path}.type", c.type))
        seen.add(c.type)
    return errs


def validate_csr(obj: Any) -> list[FieldError]:
    """A new request (create)."""
    return _validate(obj, None)


def _of_type(obj: Any, kind: str) -> list[Any]:
    return [c for c in obj.status.conditions if c.type == kind]


def validate_csr_update(new: Any, old: Any, via: str = "") -> list[FieldError]:
    """An update through the main resource (``via`` ""), ``status`` or ``approval``."""
    errs = _validate(new, old)
    for kind in (csrs.APPROVED, csrs.DENIED, csrs.FAILED):
        if len(_of_type(new, kind)) < len(_of_type(old, kind)):
            errs.append(
                forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
            )
    if via != "approval":
        for kind in (csrs.APPROVED, csrs.DENIED):
            before, after = _of_type(old, kind), _of_type(new, kind)
            if len(after) > len(before):
                errs.append(
                    forbidden("status.conditions", f'updates may not add a condition of type "{kind}"')
                )
            elif len(after) == len(before) and after != before:
                errs.append(
                    forbidden("status.conditions", f'updates may not modify a condition of type "{kind}"')
                )
    if new.spec != old.spec:
        errs.append(
            forbidden("spec", "updates may not change the request: a CertificateSigningRequest is immutable")
        )
    if new.status.certificate != old.status.certificate:
        if via != "status":
            errs.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif old.status.certificate:
            errs.append(
                forbidden("status.certificate", "updates may not modify existing certificate content")
            )
        elif not csrs.is_approved(new):
            errs.append(
                forbidden("status.certificate", "a certificate may only be issued for an approved request")
            )
    return errs


def validate_csr_status_update(new: Any, old: Any) -> list[FieldError]:
    return validate_csr_update(new, old, "status")


def validate_csr_approval_update(new: Any, old: Any) -> list[FieldError]:
    return validate_csr_update(new, old, "approval")
