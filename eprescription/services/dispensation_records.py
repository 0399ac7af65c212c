"""Reading the dispensations of a prescription: who may see which, audited in one transaction."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from eprescription.domain import prescription_codes as codes
from eprescription.models import Account, Dispensation, Pharmacist, Prescription, Role
from eprescription.models.base import utcnow
from eprescription.services import audit, prescriptions, representation

ACTION = "read_dispensations"
PHARMACIST = "pharmacist"


@dataclass(frozen=True)
class Records:
    """A prescription and the dispensations of it the reader may see, oldest first."""

    prescription: Prescription
    dispensations: list[Dispensation]


def for_prescription(
    session: Session, account: Account, number_text: str, *, now: datetime | None = None
) -> Records:
    """The dispensations of a prescription: all of them for its patient, their representatives
    and its prescriber; a pharmacist sees those of their own pharmacy, and only once it has
    dispensed some. Anybody else, and an unknown number, get the same NotFound (audited)."""
    number = codes.validate_number(number_text)
    prescription = session.scalar(
        select(Prescription)
        .where(Prescription.number == number)
        .options(selectinload(Prescription.items))
    )
    today = prescriptions.today_of(now or utcnow())
    relation, dispensations = None, []
    if prescription is not None:
        relation, dispensations = _visible(session, account, prescription, today)
    if relation is None:
        prescriptions.refuse_unseen(session, account, ACTION, number, prescription)
    actor = (
        representation.actor(account)
        if relation == representation.ROLE
        else audit.actor_for(session, account)
    )
    audit.record(
        session,
        actor,
        ACTION,
        prescriptions.OBJECT_TYPE,
        number,
        patient_person_id=prescription.patient_person_id,
    )
    session.commit()
    return Records(prescription, dispensations)


def _visible(session: Session, account: Account, prescription: Prescription, today: date):
    """(relation, the dispensations it may see), or (None, []) when it may see none."""
    if account.person_id is None:
        return None, []
    every = _dispensations(session, prescription)
    relation = prescriptions.relation_of(session, account, prescription, today)
    if relation is not None:
        return relation, every
    if account.role is Role.PHARMACIST:
        pharmacist = session.scalar(
            select(Pharmacist).where(Pharmacist.person_id == account.person_id)
        )
        own = [d for d in every if pharmacist and d.pharmacy_id == pharmacist.pharmacy_id]
        if own:
            return PHARMACIST, own
    return None, []


def _dispensations(session: Session, prescription: Prescription) -> list[Dispensation]:
    """Oldest first."""
    rows = session.scalars(
        select(Dispensation)
        .where(Dispensation.prescription_id == prescription.id)
        .options(selectinload(Dispensation.lines), selectinload(Dispensation.pharmacy))
    )
    return sorted(rows, key=Dispensation.chronological_key)
