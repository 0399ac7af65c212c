"""Accounts of every role for the integration tests, made through the accounts service."""

from datetime import date

from eprescription.models import Account, Role
from eprescription.services import accounts
from eprescription.services.accounts import PersonDetails

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


def add_pharmacy(session):
    return accounts.create_pharmacy(
        session,
        finess=PHARMACY_FINESS,
        name="Pharmacie des Quais",
        address="2 quai Richelieu, Bordeaux",
    )


def add_account(session, role: Role) -> Account:
    """One account of `role` (its pharmacy too, for a pharmacist)."""
    username, person = PEOPLE[role]
    if role is Role.PHARMACIST:
        add_pharmacy(session)
    return accounts.create_account(
        session,
        username=username,
        password=PASSWORD,
        role=role,
        person=person,
        rpps="10001234565" if role is Role.PRESCRIBER else None,
        specialty="Cardiology",
        pharmacy_finess=PHARMACY_FINESS if role is Role.PHARMACIST else None,
    )
