"""A recorded person found by the national identifier someone typed or read from a card."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.sql.base import ExecutableOption

from eprescription.domain import identifiers
from eprescription.domain.errors import InvalidIdentifier
from eprescription.domain.prescriptions import Problems
from eprescription.models import Person
from eprescription.services.uow import UnitOfWork

UNKNOWN = "no person is recorded with this national identifier"


def recorded(
    uow: UnitOfWork, national_id: str, options: Sequence[ExecutableOption] = ()
) -> Person | None:
    """The person recorded with this compact national identifier, if any (with what `options`
    load in the same statement, read afresh even if the session holds the person already)."""
    statement = select(Person).where(Person.national_id == national_id)
    if options:
        statement = statement.options(*options).execution_options(populate_existing=True)
    return uow.session.execute(statement).unique().scalar_one_or_none()


def by_national_id(
    uow: UnitOfWork,
    problems: Problems,
    field: str,
    nir: str | None,
    unknown: str | None,
    options: Sequence[ExecutableOption] = (),
) -> Person | None:
    """The recorded person with this national identifier, or None with the problem on `field`:
    not a valid identifier, or (with an `unknown` message) nobody recorded with it."""
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        problems.add(field, error.detail)
        return None
    person = recorded(uow, national_id, options)
    if person is None and unknown:
        problems.add(field, unknown)
    return person
