"""Every login of an account at once: its session version (named by each session cookie) and
its API tokens."""

from sqlalchemy import delete, update

from eprescription.models import Account, ApiToken
from eprescription.services.uow import UnitOfWork


def end_all(uow: UnitOfWork, account: Account) -> None:
    """End every session and API token of `account` (logout, a new password, disable): the
    version is raised in the database itself, so two of these at once both count."""
    uow.session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(session_version=Account.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    uow.session.execute(delete(ApiToken).where(ApiToken.account_id == account.id))
    uow.session.refresh(account, ["session_version"])
