"""The prescriber's patients: the recent ones, those found by name as typed, and one found by
NIR."""

from sqlalchemy import func, select

from eprescription.domain import identifiers
from eprescription.domain.errors import (
    InvalidIdentifier,
    NotFound,
    PatientConfirmationRequired,
)
from eprescription.models import (
    Person,
    Prescription,
)
from eprescription.services import allergies, audit, prescribers
from eprescription.services.uow import UnitOfWork

RECENT_PATIENTS = 8
CONFIRM = (
    "You have not prescribed for this NIR before: confirm that the patient is with you (their "
    "card read) to see who it is."
)
CONFIRMED = "confirmed_by_prescriber"  # the audit outcome of a lookup confirmed that way


def recent_patients(uow: UnitOfWork, limit: int = RECENT_PATIENTS) -> list:
    """The patients this prescriber issued prescriptions for, most recent first."""
    prescriber = prescribers.prescriber_of(uow)
    latest = func.max(Prescription.issued_at).label("latest")
    rows = uow.session.execute(
        select(Person, latest)
        .join(Prescription, Prescription.patient_person_id == Person.id)
        .where(Prescription.prescriber_id == prescriber.id)
        .group_by(Person.id)
        .order_by(latest.desc())
        .limit(limit)
    ).all()
    return [person for person, _ in rows]


SEARCH_MIN = 2  # characters typed before the prescriber's patients are searched


def search_mine(uow: UnitOfWork, text: str | None, limit: int = RECENT_PATIENTS) -> list[Person]:
    """The patients this prescriber prescribed for whose name (family or given, or both in
    either order) or NIR starts as typed, most recent first; nobody else is ever offered."""
    words = " ".join((text or "").split()).lower()
    prescriber = prescribers.prescriber_of(uow)
    if len(words) < SEARCH_MIN:
        return []
    like = words.replace("\\", "").replace("%", "").replace("_", "") + "%"
    family, given = func.lower(Person.family_name), func.lower(Person.given_name)
    latest = func.max(Prescription.issued_at).label("latest")
    rows = uow.session.execute(
        select(Person, latest)
        .join(Prescription, Prescription.patient_person_id == Person.id)
        .where(
            Prescription.prescriber_id == prescriber.id,
            family.like(like)
            | given.like(like)
            | (given + " " + family).like(like)
            | (family + " " + given).like(like)
            | Person.national_id.like(like.replace(" ", "").upper()),
        )
        .group_by(Person.id)
        .order_by(latest.desc())
        .limit(limit)
    ).all()
    return [person for person, _ in rows]


def find_patient(uow: UnitOfWork, nir: str | None, *, confirmed: bool = False) -> Person:
    """The recorded person with this NIR, for a prescriber confirming whom they prescribe for;
    an invalid NIR is a ValidationFailed on `patient_nir`. Audited.

    Only a patient this prescriber prescribed for before is named at once. For any other NIR,
    recorded or not, the answer is the same PatientConfirmationRequired until the prescriber
    `confirmed` that the patient is with them (their card read): then the person, or NotFound;
    the caller throttles those (docs/security.md, "NIR enumeration").
    """
    prescriber = prescribers.prescriber_of(uow)
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        detail = error.detail[:1].upper() + error.detail[1:] + "."
        raise InvalidIdentifier(detail, errors={"patient_nir": [error.detail]}) from error
    patient = uow.session.scalar(select(Person).where(Person.national_id == national_id))
    related = patient is not None and _prescribed_for(uow, prescriber.id, patient.id)
    if not related and not confirmed:
        raise PatientConfirmationRequired(CONFIRM)
    if patient is None:
        raise NotFound(
            "No patient is recorded with this NIR: check it with the patient's card, or have "
            "the patient registered first."
        )
    outcome = audit.SUCCESS if related else CONFIRMED
    uow.audit(
        "lookup", allergies.PERSON, str(patient.id), patient_person_id=patient.id, outcome=outcome
    )
    return patient


def _prescribed_for(uow: UnitOfWork, prescriber_id: int, person_id: int) -> bool:
    return (
        uow.session.scalar(
            select(Prescription.id)
            .where(Prescription.prescriber_id == prescriber_id)
            .where(Prescription.patient_person_id == person_id)
            .limit(1)
        )
        is not None
    )
