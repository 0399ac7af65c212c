"""Reading one prescription: by its prescriber, patient or representative; the operator's check."""

from dataclasses import dataclass

from sqlalchemy import select

from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    NotFound,
)
from eprescription.domain.prescriptions import OBJECT_TYPE, today_of
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    Prescription,
)
from eprescription.services import access, audit, prescription_events, signed_documents
from eprescription.services.uow import UnitOfWork


def _load(uow: UnitOfWork, number: str) -> Prescription | None:
    return (
        uow.session.scalars(
            select(Prescription)
            .where(Prescription.number == number)
            .options(*signed_documents.PARTS)
        )
        .unique()
        .one_or_none()
    )


def get(uow: UnitOfWork, number: str) -> SignedPrescription:
    """A prescription for its prescriber, its patient or a person representing the patient today
    (anybody else: NotFound), as its verified signed documents say (SignatureInvalid when the
    row disagrees with them); audited, a representative's read as such."""
    opened = access.open_prescription(uow, number, access.Action.READ, today_of(uow.now))
    prescription = opened.object
    found = signed_documents.require(uow, prescription, "read")
    prescription_events.record_opened(uow, "read", opened)
    return found


@dataclass(frozen=True)
class Stored:
    """A stored prescription for the operator's verify command: its JWS and stored payload,
    and the whole row checked against its signed documents."""

    jws: str
    payload: bytes
    signed: SignedPrescription


def signed_document(uow: UnitOfWork, number: str) -> Stored:
    """The stored prescription numbered `number`, checked, for the operator's verify command."""
    number = codes.validate_number(number)
    prescription = _load(uow, number)
    if prescription is None:
        raise NotFound(f"No prescription has the number {codes.display_number(number)}.")
    uow.audit(
        "verify",
        OBJECT_TYPE,
        number,
        patient_person_id=prescription.patient_person_id,
        actor=audit.OPERATOR,
    )
    found = signed_documents.check_one(uow, prescription)
    return Stored(prescription.jws, prescription.payload, found)
