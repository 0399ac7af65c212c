"""Verifying a signed document against this service's trust list, one reported check at a time."""

from eprescription.services import pki
from eprescription.services.uow import UnitOfWork
from eprescription.signing import jws
from eprescription.signing.jws import VerificationReport


def verify_document(
    uow: UnitOfWork, token: str, stored_payload: bytes | None = None
) -> VerificationReport:
    """Check `token` (a compact JWS): signature, chain to a CA of ours, certificate valid at the
    signing time (the payload's issued_at) and not revoked then; and, when `stored_payload` is
    given, that the signed payload is byte for byte the stored content."""
    report = jws.verify_compact(
        token,
        trust_anchors=pki.trust_anchors(uow),
        revocations=pki.revocations(uow),
        now=uow.now,
    )
    if stored_payload is not None:
        if report.payload is None:
            report.add(jws.PAYLOAD, False, "not checked: the JWS could not be read")
        elif report.payload == stored_payload:
            report.add(jws.PAYLOAD, True, "the signed payload is byte for byte the stored content")
        else:
            report.add(jws.PAYLOAD, False, "the signed payload differs from the stored content")
    return report
