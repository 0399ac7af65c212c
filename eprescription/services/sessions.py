"""The logins of an account: all at once (its session version, named by each session cookie,
and its API tokens), or one API token."""

import hashlib

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


def end_token(uow: UnitOfWork, token: str) -> None:
    """End the bearer token `token` of the acting account (an API client's logout); its other
    tokens and sessions go on."""
    account = uow.require_account()
    uow.session.execute(
        delete(ApiToken).where(
            ApiToken.token_hash == token_hash(token), ApiToken.account_id == account.id
        )
    )


def token_hash(token: str) -> str:
    """What is stored of a bearer token: a plain SHA-256 is enough, as the token has 256
    random bits, unlike a password."""
    return hashlib.sha256(token.encode()).hexdigest()
