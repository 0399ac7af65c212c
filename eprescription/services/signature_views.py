"""A signature as callers show it: valid or not, and each check with its detail."""

from dataclasses import dataclass

from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.services import verification
from eprescription.services.uow import UnitOfWork
from eprescription.signing.jws import Check

BINDING = "binding"
AGREES = "the stored prescription, its cancellations and receipts agree with the signed documents"


@dataclass(frozen=True)
class SignatureView:
    valid: bool
    checks: list[Check]
    alg: str | None = None


def of_document(uow: UnitOfWork, token: str | None, payload: bytes | None) -> SignatureView:
    """A service-signed document (a receipt, a reversal) verified, check by check."""
    if not token or not payload:
        return SignatureView(False, [])
    report = verification.verify_document(uow, token, payload)
    return SignatureView(report.valid, list(report.checks), (report.header or {}).get("alg"))


def of_prescription(found: SignedPrescription) -> SignatureView:
    """The prescriber's signature check by check, then whether the row agrees with it."""
    binding = AGREES if found.verified else "; ".join(found.problems)
    checks = [Check(name, ok, detail) for name, ok, detail in found.checks]
    return SignatureView(found.verified, [*checks, Check(BINDING, found.verified, binding)])
