"""FHIR searches by patient (the prescriptions of one national identifier the caller may read),
the patient read, and the directory reads: a prescriber by RPPS, a pharmacy by FINESS."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from eprescription.domain import identifiers
from eprescription.domain.errors import InvalidIdentifier, NotFound, PermissionDenied
from eprescription.domain.prescriptions import today_of
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import Dispensation, Person, Pharmacy, Prescriber, Prescription, Role
from eprescription.services import (
    access,
    prescribers,
    prescription_events,
    representation,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork

PERSON = "person"
LOOKUP = "lookup"  # on the person: worded in the access log the patient sees
LIST = "list"
PHARMACISTS_REFUSED = (
    "A pharmacist finds a patient's prescriptions at the counter, with the patient's card: "
    "POST /api/v1/pharmacy/card-lookup. Search by patient is for the patient, their "
    "representatives and their prescribers."
)
NO_PATIENT = "No Patient with this id is visible to you."
_READERS = access.RULES[(access.Kind.PRESCRIPTION, access.Action.READ)].may


@dataclass(frozen=True)
class Found:
    """A prescription the caller may read, verified, with its dispensations oldest first."""

    row: Prescription
    signed: SignedPrescription
    relation: access.Relation
    dispensations: list[Dispensation]


def national_id(uow: UnitOfWork, value: str) -> str:
    """The compact national identifier of a search token's value, or InvalidIdentifier (whose
    words never repeat the value)."""
    try:
        return identifiers.validate_national_id(value, uow.settings.country)
    except InvalidIdentifier as error:
        raise InvalidIdentifier(
            error.detail, errors={"patient.identifier": [str(error.detail)]}
        ) from error


def of_patient(uow: UnitOfWork, national_id_text: str) -> list[Found]:
    """The verified prescriptions of the person with this national identifier that the access
    rule lets the caller read (newest first): all of them for the patient and a representative
    today, a prescriber's own for a prescriber. An unknown identifier and one the caller may
    see nothing of get the same empty list; that refusal is audited on the person. Pharmacists:
    PermissionDenied. Nothing is audited as read here: see record()."""
    account = uow.require_account()
    if account.role is Role.PHARMACIST:
        raise PermissionDenied(PHARMACISTS_REFUSED)
    today = today_of(uow.now)
    patient_id = uow.session.scalar(
        select(Person.id).where(Person.national_id == national_id(uow, national_id_text))
    )
    if patient_id is None:
        return []
    conditions = [Prescription.patient_person_id == patient_id]
    if account.role is Role.PRESCRIBER:
        conditions.append(Prescription.prescriber_id == prescribers.prescriber_of(uow).id)
    rows = list(
        uow.session.scalars(
            select(Prescription)
            .where(*conditions)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .options(*signed_documents.PARTS)
        ).unique()
    )
    relations = {row.id: access.relation_to_prescription(uow, row, today) for row in rows}
    readable = [row for row in rows if relations[row.id] in _READERS]
    if not readable:
        uow.audit(LOOKUP, PERSON, str(patient_id), patient_person_id=patient_id, outcome="denied")
        return []
    dispensations = signed_documents.dispensations_of(uow, readable)
    checked = signed_documents.check(uow, readable, dispensations)
    return [
        Found(row, checked[row.id], relations[row.id], dispensations[row.id])
        for row in readable
        if checked[row.id].verified
    ]


def record(uow: UnitOfWork, action: str, returned: list[Found]) -> None:
    """Audit `action` ("list", "read_dispensations") on each prescription returned, in this
    transaction, as the relation that let the caller see it."""
    for found in returned:
        actor = access.audit_actor(uow, found.relation)
        prescription_events.record(uow, action, found.row, actor=actor)


def prescriber(uow: UnitOfWork, rpps: str) -> Prescriber:
    """The prescriber with this RPPS number (with their person), or NotFound."""
    found = uow.session.scalar(
        select(Prescriber).where(Prescriber.rpps == rpps).options(joinedload(Prescriber.person))
    )
    if found is None:
        raise NotFound("No prescriber has this RPPS number.")
    return found


def pharmacy(uow: UnitOfWork, finess: str) -> Pharmacy:
    """The pharmacy with this FINESS number, or NotFound."""
    found = uow.session.scalar(select(Pharmacy).where(Pharmacy.finess == finess))
    if found is None:
        raise NotFound("No pharmacy has this FINESS number.")
    return found


def patient(uow: UnitOfWork, resource_id: str) -> Person:
    """The person with this id (our Patient id) for the patient themselves, a person
    representing them today, or a prescriber who prescribed for them; anybody else and an
    unknown id get the same NotFound. Audited (`lookup` on the person) either way."""
    account = uow.require_account()
    person = None
    if resource_id.isdigit() and len(resource_id) <= 18:
        person = uow.session.get(Person, int(resource_id))
    if person is not None and _may_see(uow, account.role, account.person_id, person.id):
        represented = account.role is Role.PATIENT and account.person_id != person.id
        actor = representation.actor(account) if represented else None  # logged as such
        uow.audit(LOOKUP, PERSON, str(person.id), patient_person_id=person.id, actor=actor)
        return person
    outcome = "not_found" if person is None else "denied"
    patient_id = None if person is None else person.id
    uow.refuse(LOOKUP, PERSON, resource_id[:64], patient_person_id=patient_id, outcome=outcome)
    raise NotFound(NO_PATIENT)


def _may_see(uow: UnitOfWork, role: Role, own_id: int | None, person_id: int) -> bool:
    if own_id is None:
        return False
    if role is Role.PATIENT:
        today = today_of(uow.now)
        return own_id == person_id or representation.represents(uow, own_id, person_id, today)
    if role is not Role.PRESCRIBER:
        return False
    prescribed = select(Prescription.id).where(
        Prescription.prescriber_id == prescribers.prescriber_of(uow).id,
        Prescription.patient_person_id == person_id,
    )
    return uow.session.scalar(prescribed.limit(1)) is not None
