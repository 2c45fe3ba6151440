"""CSR approving: nodes get their certificates without an administrator (Kubernetes' csrapproving).

A pending request (neither approved nor denied, no certificate) is approved
through the approval subresource, with reason ``AutoApproved``, when:

- it is a kubelet client certificate (signer ``kubernetes.io/kube-apiserver-
  client-kubelet``, and the request keeps that signer's rules: O
  ``system:nodes``, CN ``system:node:<name>``, no SANs, client usages) and
  the authorizer, asked with a SubjectAccessReview on behalf of the
  requester, lets them ``create certificatesigningrequests/selfnodeclient``
  (renewal: the CN is the requester's own name) or, failing that,
  ``.../nodeclient`` (a bootstrapper asking for a new node's first
  certificate). This is what Kubernetes does.
- it is a kubelet serving certificate (signer ``kubernetes.io/kubelet-
  serving``) that a node asks for itself: the requester is
  ``system:node:<name>`` in the group ``system:nodes``, the CN is the
  requester, O exactly ``system:nodes``, the usages exactly the kubelet's
  ({digital signature, server auth}, with key encipherment for RSA keys), no
  email or URI SANs, and every IP and DNS SAN is one of the addresses the
  Node ``<name>`` reports in ``status.addresses`` or its name. Kubernetes
  ships no approver for kubelet-serving (clusters run their own or approve by
  hand); kubelite approves this narrow case so that a node joining with a
  token serves its kubelet API without an administrator. Anything else for
  that signer (another address, another user) stays pending for
  ``kubectl certificate approve`` or ``deny``.

The approver never denies: what it does not recognise, or the authorizer
does not allow, is left for a person.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from kubelite.api import csr as csrs
from kubelite.api.authorization_v1 import ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec
from kubelite.api.certificates_v1 import CertificateSigningRequestCondition
from kubelite.api.errors import StatusError
from kubelite.api.timestamps import rfc3339
from kubelite.client import lookup
from kubelite.controllers import csrpolicy
from kubelite.controllers.base import Controller, ControllerContext

CSR = lookup("certificates.k8s.io", "v1", "CertificateSigningRequest")
NODE = lookup("", "v1", "Node")
SAR = lookup("authorization.k8s.io", "v1", "SubjectAccessReview")

SELF_NODE_CLIENT_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
NODE_CLIENT_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
NODE_SERVING_MESSAGE = "Auto approving kubelet serving certificate: the node asked for its own addresses."


def is_node_client_request(obj: Any, ident: csrs.RequestedIdentity) -> bool:
    return obj.spec.signerName == csrs.KUBE_APISERVER_CLIENT_KUBELET and not csrpolicy.kubelet_client_error(
        ident, obj.spec.usages
    )


def is_self_node_client_request(obj: Any, ident: csrs.RequestedIdentity) -> bool:
    return obj.spec.username == ident.common_name and is_node_client_request(obj, ident)


def node_serving_refusal(obj: Any, ident: csrs.RequestedIdentity, node: Any) -> str:
    """Why a kubelet-serving request is not one this approver grants ("" when it is)."""
    user = obj.spec.username
    if obj.spec.signerName != csrs.KUBELET_SERVING:
        return "not a kubelet-serving request"
    if not user.startswith(csrs.NODE_USER_PREFIX) or csrs.NODES_GROUP not in obj.spec.groups:
        return f"requester {user} is not a node"
    if ident.common_name != user:
        return f"common name {ident.common_name} is not the requester {user}"
    problem = csrpolicy.kubelet_serving_error(ident, obj.spec.usages)
    if problem:
        return problem
    name = user.removeprefix(csrs.NODE_USER_PREFIX)
    if node is None:
        return f"node {name} does not exist"
    known = {_canonical(name)} | {_canonical(a.address) for a in (node.status.addresses or []) if a.address}
    for host in (*ident.dns_names, *ident.ip_addresses):
        if _canonical(host) not in known:
            return f"{host} is not an address of node {name}"
    return ""


def _canonical(host: str) -> str:
    """An IP in one spelling ("fd00:0::7" and "fd00::7" are one address), a name in lower case."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


class CSRApprovingController(Controller):
    NAME = "csrapproving"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.csrs = ctx.informers.informer_for(CSR)
        self.nodes = ctx.informers.informer_for(NODE)
        self.csrs.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)
        # A serving request may arrive before its node reports the addresses it names.
        self.nodes.add_handler(self._node_changed, lambda old, new: self._node_changed(new), None)

    def _node_changed(self, node: Any) -> None:
        user = csrs.NODE_USER_PREFIX + node.metadata.name
        for obj in self.csrs.list():
            if obj.spec.signerName == csrs.KUBELET_SERVING and obj.spec.username == user and _pending(obj):
                self.enqueue(obj)

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or not _pending(cached):
            return
        try:
            ident = csrs.requested_identity(csrs.parse_csr(cached.spec.request))
        except ValueError:
            return  # nothing to approve; the signer marks it failed if it ever gets approved
        tried: list[str] = []
        if is_self_node_client_request(cached, ident):
            tried.append("selfnodeclient")
            if await self._allowed(cached, "selfnodeclient"):
                await self._approve(cached, SELF_NODE_CLIENT_MESSAGE)
                return
        if is_node_client_request(cached, ident):
            tried.append("nodeclient")
            if await self._allowed(cached, "nodeclient"):
                await self._approve(cached, NODE_CLIENT_MESSAGE)
                return
        if tried:
            self.log.info(
                "recognized %s as %s but the SubjectAccessReview did not allow it",
                cached.metadata.name,
                tried,
            )
            return
        if cached.spec.signerName == csrs.KUBELET_SERVING:
            name = cached.spec.username.removeprefix(csrs.NODE_USER_PREFIX)
            refusal = node_serving_refusal(cached, ident, self.nodes.get_by(None, name))
            if refusal:
                self.log.info("%s is left for an administrator: %s", cached.metadata.name, refusal)
                return
            await self._approve(cached, NODE_SERVING_MESSAGE)

    async def _allowed(self, obj: Any, subresource: str) -> bool:
        review = SubjectAccessReview(
            spec=SubjectAccessReviewSpec(
                user=obj.spec.username,
                uid=obj.spec.uid,
                groups=list(obj.spec.groups),
                extra={k: list(v) for k, v in obj.spec.extra.items()},
                resourceAttributes=ResourceAttributes(
                    group="certificates.k8s.io",
                    version="*",
                    resource="certificatesigningrequests",
                    subresource=subresource,
                    verb="create",
                ),
            )
        )
        answer = await self.client.resource(SAR).create(review)
        return bool(answer.status.allowed)

    async def _approve(self, cached: Any, message: str) -> None:
        obj = copy.deepcopy(cached)  # the informer's copy is shared: never change it
        now = rfc3339(self.clock.now())
        obj.status.conditions.append(
            CertificateSigningRequestCondition(
                type=csrs.APPROVED,
                status="True",
                reason="AutoApproved",
                message=message,
                lastUpdateTime=now,
                lastTransitionTime=now,
            )
        )
        try:
            await self.client.resource(CSR).update(obj, "approval")
        except StatusError as e:
            if e.code != 404:
                raise
            return
        self.log.info("approved %s: %s", obj.metadata.name, message)


def _pending(obj: Any) -> bool:
    if obj.status.certificate:
        return False
    return not any(c.type in (csrs.APPROVED, csrs.DENIED) for c in obj.status.conditions)
