"""Creating accounts and pharmacies, by the operator (CLI) or an administrator (page), audited."""

from dataclasses import dataclass, field
from typing import Any

from eprescription.domain.errors import PermissionDenied
from eprescription.domain.messages import Message
from eprescription.models import Account, Pharmacy, Role
from eprescription.services import accounts, audit
from eprescription.services.uow import UnitOfWork

ACCOUNT = "account"
PHARMACY = "pharmacy"
# The audit actions, as the administrator's history lists them (services/administration.py).
ACCOUNT_CREATED = "admin_create_account"
PHARMACY_CREATED = "admin_create_pharmacy"
CREATED = (ACCOUNT_CREATED, PHARMACY_CREATED)
PERSON_FIELDS = ("national_id", "given_name", "family_name", "birth_date")


@dataclass(frozen=True)
class NewAccount:
    """An account to create: the person's details where given (every role but admin needs
    them); `professional`: rpps, specialty, setting (prescribers), pharmacy_finess (pharmacists)."""

    role: str
    username: str
    password: str
    person: accounts.PersonDetails | None = None
    professional: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, *, role: str, username: str, password: str, **details: Any) -> "NewAccount":
        """From `flask users create`'s options or the administrator's form (the same names)."""
        person = {name: details.pop(name, None) for name in PERSON_FIELDS}
        given = accounts.PersonDetails(**person) if any(person.values()) else None
        return cls(role, username, password, given, details)


def _may_create(uow: UnitOfWork) -> None:
    """The operator at the command line, or an administrator, creates accounts."""
    if uow.actor is audit.OPERATOR:
        return
    account = uow.require_account()
    if account.role is not Role.ADMIN:
        raise PermissionDenied(Message("admin_only", "Only an administrator may do this."))


def create_account(uow: UnitOfWork, new: NewAccount) -> Account:
    """An account with its role's records (services/accounts.add_account's rules: every
    problem refused at once, nothing written); audited on the account."""
    _may_create(uow)
    named = {"role": new.role, "username": new.username, "password": new.password}
    account = accounts.create_account(uow, person=new.person, **named, **new.professional)
    uow.audit(ACCOUNT_CREATED, ACCOUNT, account.username)
    return account


def create_pharmacy(uow: UnitOfWork, *, finess: str, name: str, address: str = "") -> Pharmacy:
    """A pharmacy identified by its FINESS number (refused if recorded already); audited."""
    _may_create(uow)
    pharmacy = accounts.create_pharmacy(uow, finess=finess, name=name, address=address)
    uow.audit(PHARMACY_CREATED, PHARMACY, pharmacy.finess)
    return pharmacy
