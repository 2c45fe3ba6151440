"""The write rules of CertificateSigningRequests (Kubernetes' csr, status and approval strategies).

The requester's identity is the API server's to fill, never the client's:
create stamps ``spec.username``/``uid``/``groups``/``extra`` from the
authenticated user and starts with an empty status, so nobody files a
pre-approved request. Afterwards the spec never changes. The three ways to
write keep apart the two concerns: the main resource changes only metadata;
``/approval`` only the conditions (approving or denying is a separate
permission from signing); ``/status`` anything of status but Approved and
Denied (the signer writes the certificate and Failed there; a change to
those is refused by validation). Conditions get
their lastUpdateTime and lastTransitionTime stamped when a client leaves
them out.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from kubelite.api.csr import APPROVED, DENIED
from kubelite.api.timestamps import rfc3339

_APPROVAL = (APPROVED, DENIED)


def prepare_for_create(obj: Any, user: Any) -> None:
    spec = obj.spec
    spec.username = getattr(user, "name", "") or ""
    spec.uid = getattr(user, "uid", "") or ""
    spec.groups = list(getattr(user, "groups", ()) or ())
    spec.extra = {k: list(v) for k, v in (getattr(user, "extra", None) or {}).items()}
    obj.status = type(obj.status)()


def prepare_for_status_update(new: Any, old: Any) -> None:
    """Status as sent, but each approval condition the client sent back as stored. A write that
    adds or removes one is kept as sent, so that validation refuses it (422) rather than the
    change being dropped without a word, as Kubernetes' preserveConditionInstances does."""
    for kind in _APPROVAL:
        _preserve_instances(new, old, kind)
    _stamp_conditions(new, old)


def _preserve_instances(new: Any, old: Any, kind: str) -> None:
    before = [c for c in old.status.conditions if c.type == kind]
    at = [i for i, c in enumerate(new.status.conditions) if c.type == kind]
    if len(at) != len(before):
        return  # added or removed: nothing to preserve; validation says no
    for i, stored in zip(at, before, strict=True):
        new.status.conditions[i] = copy.deepcopy(stored)


def prepare_for_approval_update(new: Any, old: Any) -> None:
    """The stored object with the sent conditions: spec and certificate stay as they are."""
    conditions = new.status.conditions
    new.spec = copy.deepcopy(old.spec)
    new.status = copy.deepcopy(old.status)
    new.status.conditions = conditions
    _stamp_conditions(new, old)


def _stamp_conditions(new: Any, old: Any) -> None:
    now = rfc3339(time.time())
    for c in new.status.conditions:
        if not c.status:
            c.status = "True"  # the v1 default of a condition's status
        if not c.lastUpdateTime:
            c.lastUpdateTime = now
        if not c.lastTransitionTime:
            # The same type and status already held: the transition happened then, not now.
            c.lastTransitionTime = next(
                (
                    o.lastTransitionTime
                    for o in old.status.conditions
                    if o.type == c.type and o.status == c.status and o.lastTransitionTime
                ),
                now,
            )
