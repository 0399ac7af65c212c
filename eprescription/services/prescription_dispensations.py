"""The dispensations of one prescription (FHIR MedicationDispense): who may see which, audited."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from eprescription.domain.prescriptions import today_of
from eprescription.models import Dispensation, Prescription
from eprescription.services import (
    access,
    prescription_events,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork

ACTION = "read_dispensations"
_ITEMS = (selectinload(Prescription.items),)


@dataclass(frozen=True)
class Records:
    """A prescription and the dispensations of it the reader may see, oldest first."""

    prescription: Prescription
    dispensations: list[Dispensation]


def for_prescription(uow: UnitOfWork, number_text: str) -> Records:
    """The dispensations of a prescription: all of them for its patient, their representatives
    and its prescriber; a pharmacist sees those of their own pharmacy, and only once it has
    dispensed some. Anybody else, and an unknown number, get the same NotFound (audited)."""
    today = today_of(uow.now)
    opened = access.open_prescription(
        uow, number_text, access.Action.READ_DISPENSATIONS, today, load=_ITEMS
    )
    prescription = opened.object
    dispensations = _dispensations(uow, prescription)
    if opened.relation is access.Relation.DISPENSING_PHARMACY:
        pharmacy_id = access.acting_pharmacy_id(uow)
        dispensations = [row for row in dispensations if row.pharmacy_id == pharmacy_id]
    # What was dispensed is what the verified receipts say (the rows checked against them).
    signed_documents.require(uow, prescription, ACTION)
    prescription_events.record_opened(uow, ACTION, opened)
    return Records(prescription, dispensations)


def _dispensations(uow: UnitOfWork, prescription: Prescription) -> list[Dispensation]:
    """Oldest first."""
    rows = uow.session.scalars(
        select(Dispensation)
        .where(Dispensation.prescription_id == prescription.id)
        .options(selectinload(Dispensation.lines), selectinload(Dispensation.pharmacy))
    )
    return sorted(rows, key=Dispensation.chronological_key)
