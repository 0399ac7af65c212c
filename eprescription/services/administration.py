"""An administrator's acts on accounts from the browser (the CLI's rules), audited and listed."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from eprescription.domain.errors import NotFound, PermissionDenied, ValidationFailed
from eprescription.domain.messages import Message
from eprescription.models import Account, AuditEvent, Person, Role
from eprescription.services import accounts, login_throttle, pki, registration
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "account"
FOUND_MAX = 50
HISTORY_MAX = 50
QUERY_MAX = 64
# What an administrator does to an account, as its audit action says it.
ACTIONS = ("disable", "enable", "unlock", "reset_password", "unblock_key", "revoke_key")
# What the history lists: those acts, and the accounts and pharmacies created (registration).
LISTED = (*(f"admin_{action}" for action in ACTIONS), *registration.CREATED)


@dataclass(frozen=True)
class AccountRow:
    """An account as the administrator's list shows it."""

    username: str
    role: str
    name: str
    active: bool
    key: str | None  # a prescriber's signing key: usable, blocked, revoked, or None (no key)


@dataclass(frozen=True)
class Act:
    """Who did which act to which account (or pharmacy, by FINESS), and when (from the audit
    log); no actor: the operator at the command line."""

    occurred_at: datetime
    actor: str | None
    action: str
    username: str


def _administrator(uow: UnitOfWork) -> Account:
    account = uow.require_account()
    if account.role is not Role.ADMIN:
        raise PermissionDenied(Message("admin_only", "Only an administrator may do this."))
    return account


def find(uow: UnitOfWork, query: str) -> list[AccountRow]:
    """Accounts whose username or name holds `query` (all when empty), newest first."""
    _administrator(uow)
    words = (query or "").strip()[:QUERY_MAX]
    statement = select(Account).outerjoin(Account.person).order_by(Account.created_at.desc())
    if words:
        like = f"%{words.lower()}%"
        statement = statement.where(
            or_(
                func.lower(Account.username).like(like),
                func.lower(Person.family_name).like(like),
                func.lower(Person.given_name).like(like),
            )
        )
    return [_row(uow, account) for account in uow.session.scalars(statement.limit(FOUND_MAX))]


def _row(uow: UnitOfWork, account: Account) -> AccountRow:
    person = account.person
    name = f"{person.given_name} {person.family_name}" if person else ""
    key = None
    prescriber = person.prescriber if person is not None else None
    credential = pki.current_credential(uow, prescriber) if prescriber is not None else None
    if credential is not None:
        key = (
            "revoked" if credential.revoked_at else "blocked" if credential.blocked_at else "usable"
        )
    return AccountRow(account.username, account.role.value, name, account.is_active, key)


def act(
    uow: UnitOfWork, username: str, action: str, *, password: str = "", reason: str = ""
) -> None:
    """Disable or enable an account, lift its login wait, set a new password (every session
    ends), unblock or revoke a prescriber's signing key; audited on the account."""
    administrator = _administrator(uow)
    if action not in ACTIONS:
        raise ValidationFailed(
            errors={"action": [Message("one_of", "one of {choices}", choices=", ".join(ACTIONS))]}
        )
    account = uow.session.scalar(
        select(Account).where(Account.username == accounts.normalise_username(username))
    )
    if account is None:
        raise NotFound(Message("no_such_account", "No account has this username."))
    if action in ("disable", "reset_password") and account.id == administrator.id:
        raise PermissionDenied(
            Message("not_yourself", "Another administrator must do this to your account.")
        )
    if action in ("disable", "enable"):
        accounts.set_active(uow, account.username, action == "enable")
    elif action == "unlock":
        login_throttle.unlock(uow, account.username)
    elif action == "reset_password":
        accounts.set_password(uow, account.username, password)
    else:
        prescriber = pki.prescriber_for_username(uow, account.username)
        if action == "unblock_key":
            pki.unblock(uow, prescriber)
        else:
            pki.revoke(uow, prescriber, reason)
    uow.audit(f"admin_{action}", OBJECT_TYPE, account.username)


def history(uow: UnitOfWork) -> list[Act]:
    """The administrators' (and the operator's) latest acts on accounts and pharmacies, newest
    first."""
    _administrator(uow)
    actor = aliased(Account)
    rows = uow.session.execute(
        select(AuditEvent.occurred_at, actor.username, AuditEvent.action, AuditEvent.object_id)
        .outerjoin(actor, actor.id == AuditEvent.actor_account_id)
        .where(AuditEvent.object_type.in_((OBJECT_TYPE, registration.PHARMACY)))
        .where(AuditEvent.action.in_(LISTED))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(HISTORY_MAX)
    ).all()
    return [
        Act(row.occurred_at, row.username, row.action.removeprefix("admin_"), row.object_id)
        for row in rows
    ]
