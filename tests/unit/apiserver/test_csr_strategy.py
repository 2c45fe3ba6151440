"""The write rules of CertificateSigningRequests: who asked, and what each subresource may change."""

from __future__ import annotations

import copy

from kubelite.api.certificates_v1 import (
    CertificateSigningRequest,
    CertificateSigningRequestCondition,
    CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
)
from kubelite.api.resources import Registry
from kubelite.api.validation.certificates import validate_csr_status_update
from kubelite.apiserver import strategy
from kubelite.apiserver.auth.authn import UserInfo

CSR = Registry().get("certificates.k8s.io", "v1", "certificatesigningrequests")


def _csr(
    *conditions: CertificateSigningRequestCondition, certificate: bytes = b""
) -> CertificateSigningRequest:
    return CertificateSigningRequest(
        spec=CertificateSigningRequestSpec(request=b"r", signerName="example.com/s", usages=["client auth"]),
        status=CertificateSigningRequestStatus(conditions=list(conditions), certificate=certificate),
    )


def _cond(kind: str, **kw: str) -> CertificateSigningRequestCondition:
    return CertificateSigningRequestCondition(type=kind, status=kw.pop("status", "True"), **kw)


def test_create_takes_the_requester_from_the_user_and_clears_status() -> None:
    assert CSR is not None
    obj = _csr(_cond("Approved"), certificate=b"x")
    obj.spec.username, obj.spec.groups = "mallory", ["system:masters"]
    user = UserInfo("system:node:a", ("system:nodes", "system:authenticated"), "u-1", {"k": ("v",)})
    strategy.prepare_for_create(CSR, obj, user)
    assert (obj.spec.username, obj.spec.uid) == ("system:node:a", "u-1")
    assert obj.spec.groups == ["system:nodes", "system:authenticated"]
    assert obj.spec.extra == {"k": ["v"]}
    assert obj.status.conditions == [] and obj.status.certificate == b""


def test_the_main_resource_keeps_spec_and_status() -> None:
    assert CSR is not None
    old = _csr()
    new = _csr(_cond("Approved"))
    new.spec.usages = ["server auth"]
    strategy.prepare_for_update(CSR, new, old)
    assert new.spec == old.spec and new.status == old.status


def test_status_keeps_the_stored_approval_and_approval_keeps_the_certificate() -> None:
    assert CSR is not None
    old = _csr(
        _cond("Approved", lastTransitionTime="2026-01-01T00:00:00Z", lastUpdateTime="2026-01-01T00:00:00Z")
    )
    stored = copy.deepcopy(old.status.conditions[0])
    # Approved sent back changed: the stored one stays, in its place.
    new = _csr(_cond("Failed", reason="X"), _cond("Approved", reason="Forged"), certificate=b"cert")
    strategy.prepare_for_status_update(CSR, new, copy.deepcopy(old))
    assert [c.type for c in new.status.conditions] == ["Failed", "Approved"]
    assert new.status.conditions[1] == stored
    assert new.status.certificate == b"cert"
    failed = new.status.conditions[0]
    assert failed.lastUpdateTime and failed.lastTransitionTime  # stamped
    # Approved removed and Denied added: kept as sent, so that validation refuses the write
    # (as Kubernetes does) instead of the change vanishing without a word.
    new = _csr(_cond("Denied"), _cond("Failed", reason="X"))
    strategy.prepare_for_status_update(CSR, new, copy.deepcopy(old))
    assert [c.type for c in new.status.conditions] == ["Denied", "Failed"]
    details = [e.detail for e in validate_csr_status_update(new, old)]
    assert 'updates may not remove a condition of type "Approved"' in details
    assert 'updates may not add a condition of type "Denied"' in details

    via_approval = _csr(_cond("Approved", status=""), certificate=b"forged")
    strategy.prepare_for_approval_update(CSR, via_approval, copy.deepcopy(old))
    (approved,) = via_approval.status.conditions
    assert approved.status == "True"  # the v1 default
    assert approved.lastTransitionTime == "2026-01-01T00:00:00Z"  # same type and status as stored
    assert via_approval.status.certificate == b""
