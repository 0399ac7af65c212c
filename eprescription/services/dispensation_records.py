"""Reading the dispensations of a prescription: who may see which, audited in one unit of work."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from eprescription.domain import prescription_codes as codes
from eprescription.models import Dispensation, Pharmacist, Prescription, Role
from eprescription.services import prescriptions, representation
from eprescription.services.uow import UnitOfWork

ACTION = "read_dispensations"
PHARMACIST = "pharmacist"


@dataclass(frozen=True)
class Records:
    """A prescription and the dispensations of it the reader may see, oldest first."""

    prescription: Prescription
    dispensations: list[Dispensation]


def for_prescription(uow: UnitOfWork, number_text: str) -> Records:
    """The dispensations of a prescription: all of them for its patient, their representatives
    and its prescriber; a pharmacist sees those of their own pharmacy, and only once it has
    dispensed some. Anybody else, and an unknown number, get the same NotFound (audited)."""
    number = codes.validate_number(number_text)
    prescription = uow.session.scalar(
        select(Prescription)
        .where(Prescription.number == number)
        .options(selectinload(Prescription.items))
    )
    today = prescriptions.today_of(uow.now)
    relation, dispensations = None, []
    if prescription is not None:
        relation, dispensations = _visible(uow, prescription, today)
    if relation is None:
        prescriptions.refuse_unseen(uow, ACTION, number, prescription)
    uow.audit(
        ACTION,
        prescriptions.OBJECT_TYPE,
        number,
        patient_person_id=prescription.patient_person_id,
        actor=representation.actor(uow.account) if relation == representation.ROLE else None,
    )
    return Records(prescription, dispensations)


def _visible(uow: UnitOfWork, prescription: Prescription, today: date):
    """(relation, the dispensations it may see), or (None, []) when it may see none."""
    account = uow.account
    if account is None or account.person_id is None:
        return None, []
    every = _dispensations(uow, prescription)
    relation = prescriptions.relation_of(uow, prescription, today)
    if relation is not None:
        return relation, every
    if account.role is Role.PHARMACIST:
        pharmacist = uow.session.scalar(
            select(Pharmacist).where(Pharmacist.person_id == account.person_id)
        )
        own = [d for d in every if pharmacist and d.pharmacy_id == pharmacist.pharmacy_id]
        if own:
            return PHARMACIST, own
    return None, []


def _dispensations(uow: UnitOfWork, prescription: Prescription) -> list[Dispensation]:
    """Oldest first."""
    rows = uow.session.scalars(
        select(Dispensation)
        .where(Dispensation.prescription_id == prescription.id)
        .options(selectinload(Dispensation.lines), selectinload(Dispensation.pharmacy))
    )
    return sorted(rows, key=Dispensation.chronological_key)
