"""Practices: an administrator records one, lists them, and puts a prescriber in one (what a
practice's software client is bound to)."""

from sqlalchemy import select

from eprescription.domain import identifiers
from eprescription.domain.errors import (
    AlreadyExists,
    InvalidIdentifier,
    NotFound,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.models import Practice, Prescriber
from eprescription.services.uow import UnitOfWork

NAME_MAX_LENGTH = 256
IDENTIFIER_LENGTHS = (9, 14)  # FINESS, SIRET
OBJECT = "practice"


def add(
    uow: UnitOfWork, *, name: str, identifier: str | None = None, is_demo: bool = False
) -> Practice:
    """Record a practice, with its FINESS (9 digits) or SIRET (14) number if it has one."""
    name = (name or "").strip()
    if not 0 < len(name) <= NAME_MAX_LENGTH:
        raise ValidationFailed(
            "The practice's name is not valid.",
            errors={
                "name": [
                    Message("between_characters", "1 to {count} characters", count=NAME_MAX_LENGTH)
                ]
            },
        )
    compact = "".join((identifier or "").split()) or None
    if compact is not None and (not compact.isdigit() or len(compact) not in IDENTIFIER_LENGTHS):
        raise ValidationFailed(
            "The practice's identifier is not valid.",
            errors={
                "identifier": [
                    Message("finess_or_siret", "a FINESS (9 digits) or SIRET (14 digits) number")
                ]
            },
        )
    if compact is not None and uow.session.scalar(
        select(Practice.id).where(Practice.identifier == compact)
    ):
        raise AlreadyExists(f"A practice with the identifier {compact} exists already.")
    practice = Practice(name=name, identifier=compact, is_demo=is_demo)
    uow.session.add(practice)
    uow.session.flush()
    uow.audit("practice_created", OBJECT, str(practice.id))
    return practice


def all_practices(uow: UnitOfWork) -> list[Practice]:
    """Every practice, in the order they were recorded."""
    return list(uow.session.scalars(select(Practice).order_by(Practice.id)))


def assign(uow: UnitOfWork, rpps: str, practice_id: int | None) -> Prescriber:
    """Put the prescriber with this RPPS in a practice (None: in none)."""
    try:
        number = identifiers.validate_rpps(rpps)
    except InvalidIdentifier as error:
        raise ValidationFailed(error.detail, errors={"rpps": [error.detail]}) from error
    prescriber = uow.session.scalar(select(Prescriber).where(Prescriber.rpps == number))
    if prescriber is None:
        raise NotFound(f"No prescriber has the RPPS number {number}.")
    if practice_id is not None and uow.session.get(Practice, practice_id) is None:
        raise NotFound(f"No practice has the id {practice_id}.")
    prescriber.practice_id = practice_id
    uow.audit("practice_assigned", "prescriber", number)
    return prescriber
