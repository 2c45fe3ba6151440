"""Validation of CertificateSigningRequests: the rules of Kubernetes' certificates validation."""

from __future__ import annotations

import copy

from csr_testing import pem_of, request_pem, self_signed

from kubelite.api import csr as csrs
from kubelite.api.certificates_v1 import (
    CertificateSigningRequest,
    CertificateSigningRequestCondition,
    CertificateSigningRequestSpec,
)
from kubelite.api.meta import ObjectMeta
from kubelite.api.validation import validate_create, validate_status_update, validate_update
from kubelite.api.validation.certificates import validate_signer_name


def csr(**spec: object) -> CertificateSigningRequest:
    fields: dict[str, object] = {
        "request": request_pem(),
        "signerName": csrs.KUBE_APISERVER_CLIENT_KUBELET,
        "usages": ["digital signature", "client auth"],
    }
    fields.update(spec)
    return CertificateSigningRequest(
        metadata=ObjectMeta(name="r", resourceVersion="1", uid="u"),
        spec=CertificateSigningRequestSpec(**fields),  # type: ignore[arg-type]
    )


def fields_of(errs: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(e.field, e.type) for e in errs]


def test_a_good_request_is_valid() -> None:
    assert validate_create(csr()) == []


def test_the_request_must_be_a_signed_pem_csr() -> None:
    errs = validate_create(csr(request=b"nope"))
    assert fields_of(errs) == [("spec.request", "FieldValueInvalid")]
    assert "PEM block type must be CERTIFICATE REQUEST" in errs[0].detail
    # A certificate where a request should be is refused by block type.
    assert validate_create(csr(request=pem_of(self_signed(days=1))))[0].detail.startswith("PEM block type")
    # A request whose signature does not match its content is refused.
    pem = request_pem("system:node:a")
    other = request_pem("system:node:b")
    der_a = csrs.pem_blocks(pem)[0].der
    der_b = csrs.pem_blocks(other)[0].der
    forged = der_a[: len(der_a) - 72] + der_b[len(der_b) - 72 :]
    import base64

    forged_pem = b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(forged)
    forged_pem += b"-----END CERTIFICATE REQUEST-----\n"
    bad = validate_create(csr(request=forged_pem))
    assert fields_of(bad) == [("spec.request", "FieldValueInvalid")]


def test_signer_names() -> None:
    assert validate_signer_name("example.com/my-signer", "f") == []
    assert validate_signer_name("example.com/ns.name", "f") == []
    assert fields_of(validate_signer_name("", "f")) == [("f", "FieldValueRequired")]
    assert "fully qualified domain" in validate_signer_name("a/b/c", "f")[0].detail
    assert "at least two segments" in validate_signer_name("example/x", "f")[0].detail
    assert 'validating label "Bad"' in validate_signer_name("example.com/Bad", "f")[0].detail


def test_usages_and_expiration() -> None:
    assert fields_of(validate_create(csr(usages=[]))) == [("spec.usages", "FieldValueRequired")]
    assert validate_create(csr(usages=[]))[0].detail == "usages must be provided"  # Kubernetes' words
    assert validate_create(csr(signerName=""))[0].detail == "signerName must be provided"
    assert fields_of(validate_create(csr(usages=["client auth", "fly"]))) == [
        ("spec.usages[1]", "FieldValueNotSupported")
    ]
    assert fields_of(validate_create(csr(usages=["client auth", "client auth"]))) == [
        ("spec.usages[1]", "FieldValueDuplicate")
    ]
    assert validate_create(csr(expirationSeconds=600)) == []
    assert fields_of(validate_create(csr(expirationSeconds=599))) == [
        ("spec.expirationSeconds", "FieldValueInvalid")
    ]
    assert validate_create(csr(expirationSeconds=2**31 - 1)) == []
    # Beyond an int32 (Kubernetes' type): refused, not left to overflow the signer.
    assert fields_of(validate_create(csr(expirationSeconds=10**18))) == [
        ("spec.expirationSeconds", "FieldValueInvalid")
    ]
    assert "legacy signerName" in validate_create(csr(signerName=csrs.LEGACY_UNKNOWN))[0].detail


def _with(obj: CertificateSigningRequest, *types: str) -> CertificateSigningRequest:
    new = copy.deepcopy(obj)
    new.status.conditions = [CertificateSigningRequestCondition(type=t, status="True") for t in types]
    return new


def test_conditions() -> None:
    base = csr()
    both = _with(base, "Approved", "Denied")
    assert any("mutually exclusive" in e.detail for e in validate_create(both))
    false_approval = _with(base, "Approved")
    false_approval.status.conditions[0].status = "False"
    assert fields_of(validate_create(false_approval)) == [
        ("status.conditions[0].status", "FieldValueNotSupported")
    ]
    assert fields_of(validate_create(_with(base, "Failed", "Failed"))) == [
        ("status.conditions[1].type", "FieldValueDuplicate")
    ]
    approved = _with(base, "Approved")
    # Approval (update through the main resource path after the strategy, or /approval) may not
    # remove a condition; /status may not add or change Approved/Denied.
    removed = validate_update(base, approved)
    assert any('remove a condition of type "Approved"' in e.detail for e in removed)
    added = validate_status_update(approved, base)
    assert any('may not add a condition of type "Approved"' in e.detail for e in added)
    failed_gone = validate_status_update(approved, _with(base, "Approved", "Failed"))
    assert any('remove a condition of type "Failed"' in e.detail for e in failed_gone)


def test_certificates_only_through_status_and_only_when_approved() -> None:
    base = _with(csr(), "Approved")
    issued = copy.deepcopy(base)
    issued.status.certificate = pem_of(self_signed(days=1))
    assert validate_status_update(issued, base) == []
    assert any("may not set certificate content" in e.detail for e in validate_update(issued, base))
    pending = csr()
    pending_issued = copy.deepcopy(pending)
    pending_issued.status.certificate = pem_of(self_signed(days=1))
    assert any("approved request" in e.detail for e in validate_status_update(pending_issued, pending))
    again = copy.deepcopy(issued)
    again.status.certificate = pem_of(self_signed(days=1))
    assert any("modify existing certificate" in e.detail for e in validate_status_update(again, issued))
    junk = copy.deepcopy(base)
    junk.status.certificate = request_pem()
    errs = validate_status_update(junk, base)
    assert ("status.certificate", "FieldValueInvalid") in fields_of(errs)


def test_the_spec_is_immutable() -> None:
    old = csr()
    new = copy.deepcopy(old)
    new.spec.usages = ["digital signature", "key encipherment", "client auth"]
    assert ("spec", "FieldValueForbidden") in fields_of(validate_update(new, old))


def test_pem_helpers() -> None:
    assert csrs.certificate_pem_error(b"") == ""
    assert csrs.certificate_pem_error(b"junk") == "must contain at least one CERTIFICATE PEM block"
    assert csrs.certificate_pem_error(pem_of(self_signed(days=1)) + pem_of(self_signed(days=1))) == ""
    assert len(csrs.certificates_of(pem_of(self_signed(days=1)) + pem_of(self_signed(days=1)))) == 2
