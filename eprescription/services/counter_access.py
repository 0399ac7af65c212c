"""What opens a prescription at the counter: its QR text, or its number with the patient's NIR."""

from dataclasses import dataclass

from eprescription import qr
from eprescription.domain import dispensing as rules
from eprescription.domain import identifiers
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    InvalidIdentifier,
    PickupRefused,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import today_of
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    Person,
    Prescription,
)
from eprescription.services import access, counter, signed_documents
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class Credentials:
    """What proves the right to redeem: the QR text, or the number with the patient's NIR
    (read from the card or typed) and, when a representative is at the counter, their own NIR
    (`presenter_nir`); plus the pharmacist's check of the identity of the person there."""

    qr_text: str | None = None
    number: str | None = None
    patient_nir: str | None = None
    identity_confirmed: bool = False
    presenter_nir: str | None = None


def national_id_on(value: str | None, country: str, field: str) -> str:
    """The compact national identifier, or InvalidIdentifier with the error on `field`."""
    try:
        return identifiers.validate_national_id(value, country)
    except InvalidIdentifier as error:
        raise InvalidIdentifier(error.detail, errors={field: [error.detail]}) from error


def compact_presenter_nir(value: str | None, country: str) -> str | None:
    """The presenter's compact NIR if one is given; InvalidIdentifier on presenter_nir."""
    return None if value is None else national_id_on(value, country, "presenter_nir")


def open_prescription(
    uow: UnitOfWork, credentials: Credentials, action: access.Action, *, for_update: bool = False
) -> Prescription:
    """The prescription the credentials open for `action`, or PrescriptionNotFound (audited,
    kept): an unknown number, a wrong access code and a NIR that is not the patient's all get
    the same answer, so nothing tells which part was wrong. Read with its dispensations in one
    statement (what the counter shows and a dispensation decides on); `for_update`: under its
    row lock."""
    if credentials.qr_text is not None:
        token = qr.decode(credentials.qr_text)
        number, proof = token.number, access.Proof(access_code=token.access_code)
    else:
        number = codes.validate_number(credentials.number)
        national_id = national_id_on(credentials.patient_nir, uow.settings.country, "patient_nir")
        proof = access.Proof(patient_national_id=national_id)
    today = today_of(uow.now)
    return access.open_prescription(
        uow,
        number,
        action,
        today,
        proof=proof,
        load=signed_documents.DISPENSED_PARTS,
        for_update=for_update,
    ).object


def check_card(
    uow: UnitOfWork, found: SignedPrescription, patient: Person, credentials, presenter_nir, today
) -> None:
    """Number + NIR open a prescription only for whom lookup by card would show it (by the
    pickup mode in force, as signed)."""
    presenter, _ = counter.presenter(uow, patient, presenter_nir, today)
    who = rules.at_counter(credentials.identity_confirmed, presenter)
    problem = rules.card_problem(found.pickup_mode, who)
    if problem:
        raise pickup_refused(found.pickup_mode, problem)


def pickup_refused(mode: str, problem: str) -> PickupRefused:
    """The refusal of a collection the pickup mode in force does not allow, and why."""
    return PickupRefused(
        Message(
            "pickup_refused", "This prescription is {mode}: {problem}.", mode=mode, problem=problem
        )
    )
