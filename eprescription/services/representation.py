"""Who represents whom today: the access rule the health space and the prescription read share."""

from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from eprescription.models import Account, Representative
from eprescription.services import audit
from eprescription.services.uow import UnitOfWork

ROLE = "representative"


def ongoing(today: date):
    """Representations in force on `today`: not revoked, and no end date or one not yet past."""
    return and_(
        Representative.revoked_at.is_(None),
        or_(Representative.valid_until.is_(None), Representative.valid_until >= today),
    )


def represented(uow: UnitOfWork, person_id: int, today: date) -> dict[int, Representative]:
    """The people `person_id` represents today, by their person id."""
    rows = uow.session.scalars(
        select(Representative)
        .where(Representative.representative_person_id == person_id, ongoing(today))
        .options(selectinload(Representative.patient))
    ).all()
    return {row.patient_person_id: row for row in rows}


def represents(uow: UnitOfWork, person_id: int, patient_person_id: int, today: date) -> bool:
    """Whether `person_id` represents `patient_person_id` today (read on every request)."""
    return (
        uow.session.scalar(
            select(Representative.id).where(
                Representative.representative_person_id == person_id,
                Representative.patient_person_id == patient_person_id,
                ongoing(today),
            )
        )
        is not None
    )


def actor(account: Account) -> audit.Actor:
    """A representative's audit actor: the patient sees them as "your representative"."""
    return audit.Actor(account.id, ROLE, "")
