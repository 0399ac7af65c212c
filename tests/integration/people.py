"""Accounts of every role for the integration tests, made through the accounts service."""

from dataclasses import replace
from datetime import date, datetime

from eprescription.models import Account, Role
from eprescription.services import accounts, audit
from eprescription.services.accounts import PersonDetails
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import settings

PASSWORD = "correct-horse-battery"
PHARMACY_FINESS = "330004565"
PEOPLE = {
    Role.PRESCRIBER: (
        "dr.martin",
        PersonDetails("172116912304521", "Claire", "Martin", date(1972, 11, 5)),
    ),
    Role.PHARMACIST: (
        "ph.bernard",
        PersonDetails("190063306320126", "Julien", "Bernard", date(1990, 6, 18)),
    ),
    Role.PATIENT: (
        "camille",
        PersonDetails("285037505612306", "Camille", "Dubois", date(1985, 3, 12)),
    ),
    Role.ADMIN: ("admin", None),
}


def operator(session, *, now: datetime | None = None, **settings_changes) -> UnitOfWork:
    """A unit of work of the operator on `session` (inside an app context), committed by
    `with`: how the tests set up what they need through the services. `settings_changes`
    override the app's settings (country="EE")."""
    return UnitOfWork(
        session, replace(settings(), **settings_changes), actor=audit.OPERATOR, now=now
    )


def acting(session, account: Account) -> UnitOfWork:
    """A unit of work of `account` on `session` (inside an app context)."""
    return UnitOfWork(session, settings(), account)


def add_pharmacy(session):
    with operator(session) as uow:
        return _add_pharmacy(uow)


def add_account(session, role: Role) -> Account:
    """One account of `role` (its pharmacy too, for a pharmacist)."""
    username, person = PEOPLE[role]
    with operator(session) as uow:
        if role is Role.PHARMACIST:
            _add_pharmacy(uow)
        return accounts.create_account(
            uow,
            username=username,
            password=PASSWORD,
            role=role,
            person=person,
            rpps="10001234565" if role is Role.PRESCRIBER else None,
            specialty="Cardiology",
            pharmacy_finess=PHARMACY_FINESS if role is Role.PHARMACIST else None,
        )


def _add_pharmacy(uow: UnitOfWork):
    return accounts.create_pharmacy(
        uow,
        finess=PHARMACY_FINESS,
        name="Pharmacie des Quais",
        address="2 quai Richelieu, Bordeaux",
    )
