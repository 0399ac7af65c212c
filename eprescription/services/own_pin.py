"""A prescriber changes their own signing PIN: the current one first (counted as when signing)."""

from eprescription.domain.errors import DomainError
from eprescription.services import pki, prescribers
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "account"
CHANGED = "own_pin_changed"


def change(uow: UnitOfWork, pin: str, new_pin: str) -> None:
    """Open the acting prescriber's key with `pin` (WrongPin, SigningKeyBlocked at the third
    wrong one in a row, as when signing) and wrap it again under `new_pin` (enrolment's rule);
    audited, a refusal too (kept through the rollback)."""
    prescriber = prescribers.prescriber_of(uow)
    username = uow.require_account().username
    try:
        pki.change_pin(uow, prescriber, pin, new_pin)
    except DomainError as error:
        uow.refuse(CHANGED, OBJECT_TYPE, username, outcome=error.code)
        raise
    uow.audit(CHANGED, OBJECT_TYPE, username)
