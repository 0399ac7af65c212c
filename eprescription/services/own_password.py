"""Every user changes their own password: the current one first (throttled like a login)."""

from eprescription.services import accounts
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "account"


def change(uow: UnitOfWork, current: str, new: str) -> None:
    """Check the current password (AuthenticationFailed, counted like a wrong login), set the
    new one (the CLI's rules); every session and token of the account ends; audited."""
    account = uow.require_account()
    accounts.authenticate(uow, account.username, current)
    accounts.set_password(uow, account.username, new)
    uow.audit("own_password_changed", OBJECT_TYPE, account.username)
