"""The agent's stored certificates: when a pair is reused, what its requests say, file modes."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from csr_testing import issue, make_ca, pem_of

from kubelite.api import csr as csrs
from kubelite.api.certificates_v1 import (
    CertificateSigningRequest,
    CertificateSigningRequestCondition,
    CertificateSigningRequestSpec,
)
from kubelite.api.errors import StatusError
from kubelite.api.meta import ObjectMeta
from kubelite.kubelet.certificates import (
    CertificateFiles,
    CertificateRequestRefused,
    client_request_name,
    ensure_client_certificate,
    make_request,
    serving_hosts,
)


def test_a_stored_pair_is_reused_while_young_and_ours(tmp_path: Path) -> None:
    ca = make_ca()
    ca_pem = pem_of(ca[0])
    files = CertificateFiles(tmp_path / "pki", "kubelet-client")
    assert not files.usable("system:node:a", ca_pem)
    key = files.key_for_request()
    assert files.key_for_request().private_numbers() == key.private_numbers()  # kept across restarts
    files.store(issue(ca, make_request(key, "system:node:a"), days=365), key)
    assert not files.pending_key.exists()
    for path in (files.cert, files.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert files.usable("system:node:a", ca_pem)
    assert files.usable("system:node:a", None)
    assert not files.usable("system:node:b", ca_pem)  # another node's name
    assert not files.usable("system:node:a", pem_of(make_ca()[0]))  # another CA
    # Ageing: less than a fifth of its life left -> replaced, though still loadable for renewal.
    files.store(issue(ca, make_request(key, "system:node:a"), days=10, age=9), key)
    assert not files.usable("system:node:a", ca_pem)
    assert files.load("system:node:a", ca_pem) is not None


def test_requests_name_the_node_and_its_hosts() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = make_request(key, "system:node:a", ["10.0.0.7", "a.example", "10.0.0.7"])
    ident = csrs.requested_identity(csrs.parse_csr(pem))
    assert ident.common_name == "system:node:a"
    assert ident.organizations == ("system:nodes",)
    assert ident.ip_addresses == ("10.0.0.7",)
    assert ident.dns_names == ("a.example",)
    assert client_request_name(key, "system:node:a") == client_request_name(key, "system:node:a")
    assert client_request_name(key, "system:node:a").startswith("node-csr-")
    assert serving_hosts("10.0.0.7, fd00::7")[:2] == ["10.0.0.7", "fd00::7"]


def test_renewal_is_due_when_a_fifth_of_the_lifetime_is_left(tmp_path: Path) -> None:
    ca = make_ca()
    files = CertificateFiles(tmp_path / "pki", "kubelet-server")
    assert files.renewal_delay() == 0.0  # nothing stored: due now
    key = files.key_for_request()
    files.store(issue(ca, make_request(key, "system:node:a", ["10.0.0.7"]), days=10), key)
    delay = files.renewal_delay()
    assert abs(delay - 8 * 86400) < 60
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=9)
    assert files.renewal_delay(now=later) == 0.0


class _AnsweringCSRs:
    """The CSR API of a cluster that answers the requests filed, in turn, as ``answers`` say:
    "deny", "wrong key" (signed, but for another key) or "sign"."""

    def __init__(self, ca: Any, *answers: str) -> None:
        self.ca = ca
        self.answers = list(answers)
        self.objects: dict[str, CertificateSigningRequest] = {}

    def resource(self, _kind: Any) -> _AnsweringCSRs:
        return self

    async def create(self, body: dict[str, Any]) -> CertificateSigningRequest:
        name = body["metadata"]["name"]
        if name in self.objects:
            raise StatusError(409, "AlreadyExists", f"{name} already exists")
        request = base64.b64decode(body["spec"]["request"])
        obj = CertificateSigningRequest(
            metadata=ObjectMeta(name=name),
            spec=CertificateSigningRequestSpec(
                request=request, signerName=body["spec"]["signerName"], usages=body["spec"]["usages"]
            ),
        )
        answer = self.answers.pop(0)
        if answer == "deny":
            obj.status.conditions.append(CertificateSigningRequestCondition(type="Denied", status="True"))
        else:
            obj.status.conditions.append(CertificateSigningRequestCondition(type="Approved", status="True"))
            if answer == "wrong key":
                request = make_request(ec.generate_private_key(ec.SECP256R1()), "system:node:a")
            obj.status.certificate = issue(self.ca, request, days=365)
        self.objects[name] = obj
        return obj

    async def get(self, name: str) -> CertificateSigningRequest:
        return self.objects[name]


@pytest.mark.parametrize(
    ("answer", "words"), [("deny", "was denied"), ("wrong key", "a certificate that is not for its key")]
)
async def test_a_refused_request_is_not_asked_for_again(tmp_path: Path, answer: str, words: str) -> None:
    ca = make_ca()
    files = CertificateFiles(tmp_path / "pki", "kubelet-client")
    api = _AnsweringCSRs(ca, answer, "sign")
    with pytest.raises(CertificateRequestRefused, match=words):
        await ensure_client_certificate(files, api, "a", pem_of(ca[0]))  # type: ignore[arg-type]
    assert not files.cert.exists()  # nothing kept of it
    # The next try (a renewal retry, a restart) files a new request, which may be approved.
    await ensure_client_certificate(files, api, "a", pem_of(ca[0]))  # type: ignore[arg-type]
    assert len(api.objects) == 2
    assert files.usable("system:node:a", pem_of(ca[0]))
