"""Signed documents this process verified, kept while the trust list they were checked against
is the current one: the same JWS and payload bytes under the same trust list verify the same."""

import hashlib
from dataclasses import replace

from eprescription.domain import bounded_json
from eprescription.domain.signed_prescription import Document
from eprescription.services import verification
from eprescription.services.uow import UnitOfWork
from eprescription.signing.jws import signing_time

KEPT = 5000  # documents per process at most; all dropped when full, or when the trust list changes


class _Kept:
    """The documents verified under one copy of the trust list (its identity: the copy of
    services/trust_cache.py, replaced when it is read again or this process changes it)."""

    def __init__(self) -> None:
        self.trust: object = None
        self.documents: dict[bytes, Document] = {}


_kept = _Kept()


def document(uow: UnitOfWork, token: str | None, stored_payload: bytes | None) -> Document:
    """verification.document(), a valid answer given again for the same bytes under the same
    trust list (its content decoded again, so that no caller shares it with another); a
    document that does not verify, or that names no signing time (its certificate is then
    checked at the time of each request), is checked again every time."""
    if not token or not stored_payload:
        return verification.document(uow, token, stored_payload)
    key = hashlib.sha256(token.encode("ascii", "replace") + b"." + stored_payload).digest()
    if _kept.trust is verification.trust(uow):
        found = _kept.documents.get(key)
        if found is not None:
            return replace(found, content=bounded_json.loads(stored_payload))
    found = verification.document(uow, token, stored_payload)
    if found.content is not None and signing_time(stored_payload) is not None:
        trust = verification.trust(uow)  # the one it was checked against (perhaps read again)
        if _kept.trust is not trust or len(_kept.documents) >= KEPT:
            _kept.trust, _kept.documents = trust, {}
        _kept.documents[key] = found
    return found
