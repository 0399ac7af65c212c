"""The prescriptions a prescriber issued, a page at a time, each one listed audited."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select

from eprescription.domain import identifiers
from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import (
    InvalidIdentifier,
)
from eprescription.domain.prescriptions import Problems, Status, today_of
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    Person,
    Prescription,
)
from eprescription.services import paging, prescribers, prescription_events, signed_documents
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class Page:
    items: list[SignedPrescription]  # each verified, or saying why it cannot be
    total: int
    page: int
    page_size: int
    today: date


def list_for_prescriber(
    uow: UnitOfWork,
    *,
    patient_nir: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """The prescriptions the account's prescriber issued, newest first; each listed is audited."""
    prescriber = prescribers.prescriber_of(uow)
    today = today_of(uow.now)
    problems = Problems()
    conditions = [Prescription.prescriber_id == prescriber.id]
    if patient_nir:
        try:
            national_id = identifiers.validate_national_id(patient_nir, uow.settings.country)
        except InvalidIdentifier as error:
            problems.add("patient", error.detail)
        else:
            conditions.append(
                Prescription.patient_person_id.in_(
                    select(Person.id).where(Person.national_id == national_id)
                )
            )
    if status:
        try:
            conditions.append(_status_condition(Status(status), today))
        except ValueError:
            problems.add("status", "one of " + ", ".join(Status))
    paging.check_page(problems, page, page_size)
    if problems:
        raise problems.refusal()
    rows, total = paging.newest_prescriptions(uow, conditions, page, page_size)
    for prescription in rows:
        prescription_events.record(uow, "list", prescription)
    checked = signed_documents.check(uow, rows)
    return Page([checked[row.id] for row in rows], total, page, page_size, today)


def _status_condition(status: Status, today: date):
    open_states = [str(s) for s in rules.OPEN_STATES]
    if status is Status.EXPIRED:
        return or_(
            Prescription.status == str(Status.EXPIRED),
            and_(Prescription.status.in_(open_states), Prescription.valid_until < today),
        )
    if status in rules.OPEN_STATES:
        return and_(Prescription.status == str(status), Prescription.valid_until >= today)
    return Prescription.status == str(status)
