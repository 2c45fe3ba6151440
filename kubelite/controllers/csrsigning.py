"""CSR signing: the cluster CA issues the certificates of approved requests (Kubernetes' csrsigning).

For every CertificateSigningRequest that is approved, not denied, not
failed and has no certificate yet, whose signer is one of
``kubernetes.io/kube-apiserver-client``, ``kubernetes.io/kube-apiserver-
client-kubelet`` or ``kubernetes.io/kubelet-serving``, the controller checks
the request against that signer's rules (``csrpolicy``): one that breaks
them gets the condition ``Failed`` (reason ``SignerValidationFailure``)
and is never signed; one that keeps them gets ``status.certificate``,
written through the status subresource. Requests for other signers are
somebody else's and left alone.

Options (``ControllerContext.options``, as kube-controller-manager's flags):
``cluster-signing-cert-file`` and ``cluster-signing-key-file`` (PEM; without
them the controller signs nothing and says so), ``cluster-signing-duration``
(seconds; default one year: the most any request gets, whatever its
``expirationSeconds``). The files are read again when they change, so a
rotated CA signs from then on.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import os
from typing import Any

from kubelite.api import csr as csrs
from kubelite.api.certificates_v1 import CertificateSigningRequestCondition
from kubelite.api.errors import StatusError
from kubelite.api.timestamps import rfc3339
from kubelite.client import lookup
from kubelite.controllers import csrpolicy
from kubelite.controllers.base import Controller, ControllerContext

CSR = lookup("certificates.k8s.io", "v1", "CertificateSigningRequest")


class CSRSigningController(Controller):
    NAME = "csrsigning"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.cert_file = str(ctx.option(self.NAME, "cluster-signing-cert-file", "") or "")
        self.key_file = str(ctx.option(self.NAME, "cluster-signing-key-file", "") or "")
        seconds = ctx.option(self.NAME, "cluster-signing-duration", None)
        self.limit = dt.timedelta(seconds=float(seconds)) if seconds else csrpolicy.DEFAULT_SIGNING_DURATION
        self._ca: csrpolicy.SigningCA | None = None
        self._ca_stamp: tuple[float, float] | None = None
        self.csrs = ctx.informers.informer_for(CSR)
        self.csrs.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)

    async def run(self) -> None:
        if not (self.cert_file and self.key_file):
            self.log.warning(
                "no cluster signing certificate and key (cluster-signing-cert-file/-key-file): "
                "certificate signing requests are not signed here"
            )
            return
        await super().run()

    async def _signing_ca(self) -> csrpolicy.SigningCA:
        """The CA, read again when either file changed since the last read."""

        def read() -> tuple[tuple[float, float], csrpolicy.SigningCA | None]:
            stamp = (os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime)
            if stamp == self._ca_stamp and self._ca is not None:
                return stamp, None
            with open(self.cert_file, "rb") as c, open(self.key_file, "rb") as k:
                return stamp, csrpolicy.SigningCA.from_pem(c.read(), k.read())

        stamp, fresh = await asyncio.to_thread(read)
        if fresh is not None:
            self._ca, self._ca_stamp = fresh, stamp
        assert self._ca is not None
        return self._ca

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or cached.status.certificate:
            return
        if not csrs.is_approved(cached) or csrs.has_failed(cached):
            return
        if cached.spec.signerName not in csrpolicy.SIGNERS:
            return
        obj = copy.deepcopy(cached)  # the informer's copy is shared: never change it
        try:
            request = csrs.parse_csr(obj.spec.request)
        except ValueError as e:  # validation lets none through; a stored one from elsewhere may be
            await self._fail(obj, f"unable to parse csr {obj.metadata.name!r}: {e}")
            return
        problem = csrpolicy.signer_check(
            obj.spec.signerName, csrs.requested_identity(request), obj.spec.usages
        )
        if problem:
            await self._fail(obj, problem)
            return
        ca = await self._signing_ca()
        cert = await asyncio.to_thread(
            csrpolicy.sign, ca, request, obj.spec.usages, obj.spec.expirationSeconds, self.limit
        )
        obj.status.certificate = cert
        try:
            await self.client.resource(CSR).update_status(obj)
        except StatusError as e:
            if e.code != 404:  # a request deleted meanwhile needs no certificate
                raise
            return
        self.log.info("signed %s for %s (%s)", obj.metadata.name, obj.spec.username, obj.spec.signerName)

    async def _fail(self, obj: Any, message: str) -> None:
        self.log.info("%s: not signing: %s", obj.metadata.name, message)
        obj.status.conditions.append(
            CertificateSigningRequestCondition(
                type=csrs.FAILED,
                status="True",
                reason="SignerValidationFailure",
                message=message,
                lastUpdateTime=rfc3339(self.clock.now()),
            )
        )
        try:
            await self.client.resource(CSR).update_status(obj)
        except StatusError as e:
            if e.code != 404:
                raise
