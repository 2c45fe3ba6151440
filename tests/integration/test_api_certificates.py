"""certificates.k8s.io/v1 CertificateSigningRequests through the official client over HTTPS:
the requester stamped from the authenticated user, the approval and status subresources
and their separation, validation as Kubernetes answers it, discovery and tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client
from kubernetes.client.rest import ApiException
from threaded_apiserver import tls_server_with_tokens

from kubelite.apiserver.app import APIServer
from kubelite.apiserver.auth.certs import pki_for
from kubelite.apiserver.config import ServerConfig

TOKEN = "bootstrap-0123456789"
KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"


def csr_pem(cn: str, orgs: tuple[str, ...] = ()) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return req.public_bytes(serialization.Encoding.PEM)


def body(name: str, request: bytes, **spec: Any) -> client.V1CertificateSigningRequest:
    return client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1CertificateSigningRequestSpec(
            request=__import__("base64").b64encode(request).decode(),
            signer_name=spec.pop("signer_name", KUBELET),
            usages=spec.pop("usages", ["digital signature", "client auth"]),
            **spec,
        ),
    )


def error_of(e: ApiException) -> dict[str, Any]:
    return json.loads(e.body)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[APIServer, ServerConfig]]:
    tokens = f'{TOKEN},system:bootstrap:abcdef,b-1,"system:bootstrappers"\n'
    with tls_server_with_tokens(tmp_path_factory.mktemp("csr-tls"), tokens) as (running, config):
        yield running.server, config


def _client(server: APIServer, config: ServerConfig, token: str | None) -> client.ApiClient:
    pki = pki_for(config)
    cfg = client.Configuration()
    cfg.host = server.url
    cfg.ssl_ca_cert = str(pki.ca_cert)
    if token is None:
        cfg.cert_file, cfg.key_file = str(pki.admin_cert), str(pki.admin_key)
    else:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


@pytest.fixture(scope="module")
def admin(tls_server: tuple[APIServer, ServerConfig]) -> Iterator[client.CertificatesV1Api]:
    with _client(*tls_server, None) as api:
        yield client.CertificatesV1Api(api)


@pytest.fixture(scope="module")
def bootstrapper(tls_server: tuple[APIServer, ServerConfig]) -> Iterator[client.CertificatesV1Api]:
    with _client(*tls_server, TOKEN) as api:
        yield client.CertificatesV1Api(api)


def test_create_stamps_the_requester_and_clears_status(bootstrapper: client.CertificatesV1Api) -> None:
    csr = body(
        "node-a", csr_pem("system:node:a", ("system:nodes",)), username="mallory", groups=["system:masters"]
    )
    csr.status = client.V1CertificateSigningRequestStatus(
        conditions=[client.V1CertificateSigningRequestCondition(type="Approved", status="True")]
    )
    made = bootstrapper.create_certificate_signing_request(csr)
    assert made.spec.username == "system:bootstrap:abcdef"
    assert made.spec.uid == "b-1"
    assert made.spec.groups == ["system:bootstrappers", "system:authenticated"]
    assert not (made.status and made.status.conditions)


def test_approval_and_status_subresources(admin: client.CertificatesV1Api) -> None:
    admin.create_certificate_signing_request(body("to-approve", csr_pem("system:node:b", ("system:nodes",))))
    csr = admin.read_certificate_signing_request("to-approve")
    # The main resource does not take conditions (nor spec changes): they are dropped.
    csr.status = client.V1CertificateSigningRequestStatus(
        conditions=[client.V1CertificateSigningRequestCondition(type="Approved", status="True")]
    )
    csr.spec.usages = ["server auth"]
    replaced = admin.replace_certificate_signing_request("to-approve", csr)
    assert not (replaced.status and replaced.status.conditions)
    assert replaced.spec.usages == ["digital signature", "client auth"]
    # The status subresource does not approve: adding Approved there is refused, not dropped.
    csr = admin.read_certificate_signing_request("to-approve")
    csr.status = client.V1CertificateSigningRequestStatus(
        conditions=[client.V1CertificateSigningRequestCondition(type="Approved", status="True")]
    )
    with pytest.raises(ApiException) as e:
        admin.replace_certificate_signing_request_status("to-approve", csr)
    assert e.value.status == 422
    assert 'updates may not add a condition of type \\"Approved\\"' in e.value.body
    assert not admin.read_certificate_signing_request("to-approve").status.conditions
    # Approval: the condition is stamped with its times.
    csr = admin.read_certificate_signing_request("to-approve")
    csr.status = client.V1CertificateSigningRequestStatus(
        conditions=[
            client.V1CertificateSigningRequestCondition(
                type="Approved", status="True", reason="KubectlApprove", message="ok"
            )
        ]
    )
    approved = admin.replace_certificate_signing_request_approval("to-approve", csr)
    (cond,) = approved.status.conditions
    assert (cond.type, cond.status, cond.reason) == ("Approved", "True", "KubectlApprove")
    assert cond.last_update_time is not None and cond.last_transition_time is not None
    # Denied on top of Approved is refused; removing Approved too.
    approved.status.conditions.append(
        client.V1CertificateSigningRequestCondition(type="Denied", status="True")
    )
    with pytest.raises(ApiException) as e:
        admin.replace_certificate_signing_request_approval("to-approve", approved)
    assert e.value.status == 422
    assert "Approved and Denied conditions are mutually exclusive" in error_of(e.value)["message"]
    current = admin.read_certificate_signing_request("to-approve")
    current.status.conditions = []
    with pytest.raises(ApiException) as e:
        admin.replace_certificate_signing_request_approval("to-approve", current)
    assert 'updates may not remove a condition of type \\"Approved\\"' in e.value.body


def test_certificate_content_is_checked(admin: client.CertificatesV1Api) -> None:
    admin.create_certificate_signing_request(
        body("cert-content", csr_pem("system:node:c", ("system:nodes",)))
    )
    csr = admin.read_certificate_signing_request("cert-content")
    csr.status = client.V1CertificateSigningRequestStatus(
        conditions=[client.V1CertificateSigningRequestCondition(type="Approved", status="True")]
    )
    admin.replace_certificate_signing_request_approval("cert-content", csr)
    csr = admin.read_certificate_signing_request("cert-content")
    csr.status.certificate = __import__("base64").b64encode(csr_pem("not a certificate")).decode()
    with pytest.raises(ApiException) as e:
        admin.replace_certificate_signing_request_status("cert-content", csr)
    assert e.value.status == 422
    assert "only CERTIFICATE PEM blocks are allowed" in e.value.body


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"signer_name": ""}, "spec.signerName", "Required value"),
        ({"signer_name": "no-slash"}, "spec.signerName", "must be a fully qualified domain and path"),
        ({"signer_name": "example/x"}, "spec.signerName", "at least two segments"),
        ({"usages": ["flying"]}, "spec.usages[0]", "Unsupported value"),
        ({"usages": ["client auth", "client auth"]}, "spec.usages[1]", "Duplicate value"),
        ({"usages": []}, "spec.usages", "Required value"),
        ({"expiration_seconds": 599}, "spec.expirationSeconds", "less than 600 seconds"),
    ],
)
def test_validation(admin: client.CertificatesV1Api, spec: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ApiException) as e:
        admin.create_certificate_signing_request(body("bad", csr_pem("x"), **spec))
    assert e.value.status == 422
    causes = error_of(e.value)["details"]["causes"]
    assert any(c["field"] == field and words in c["message"] for c in causes), causes


def test_a_request_that_is_not_a_csr_is_refused(admin: client.CertificatesV1Api) -> None:
    with pytest.raises(ApiException) as e:
        admin.create_certificate_signing_request(body("garbage", b"hello"))
    assert e.value.status == 422
    assert "PEM block type must be CERTIFICATE REQUEST" in e.value.body


def test_discovery_and_table(
    tls_server: tuple[APIServer, ServerConfig], admin: client.CertificatesV1Api
) -> None:
    api = admin.api_client
    resources = client.CertificatesV1Api(api).get_api_resources()
    by_name = {r.name: r for r in resources.resources}
    assert by_name["certificatesigningrequests"].short_names == ["csr"]
    assert not by_name["certificatesigningrequests"].namespaced
    assert {"certificatesigningrequests/approval", "certificatesigningrequests/status"} <= set(by_name)
    response = api.call_api(
        "GET",
        api.configuration.host + "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    response.read()
    table = json.loads(response.data)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Age",
        "SignerName",
        "Requestor",
        "RequestedDuration",
        "Condition",
    ]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["node-a"][2:] == [KUBELET, "system:bootstrap:abcdef", "<none>", "Pending"]


def test_field_selector_on_signer_name(admin: client.CertificatesV1Api) -> None:
    admin.create_certificate_signing_request(
        body("other-signer", csr_pem("x"), signer_name="example.com/other", usages=["client auth"])
    )
    names = {
        c.metadata.name
        for c in admin.list_certificate_signing_request(
            field_selector="spec.signerName=example.com/other"
        ).items
    }
    assert names == {"other-signer"}
    with pytest.raises(ApiException) as e:
        admin.list_certificate_signing_request(field_selector="spec.usages=x")
    assert e.value.status == 400
