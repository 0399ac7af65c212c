"""The login throttle's use cases: refuse a username (or known device) that must wait, count a
wrong password exactly under concurrency, clear."""

import math
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, case, delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from eprescription.domain import login_throttle as rules
from eprescription.domain.errors import TooManyLoginFailures
from eprescription.domain.messages import Message
from eprescription.models import LoginThrottle
from eprescription.services.uow import UnitOfWork

LOCKED = "Too many wrong passwords for this username: try again in {minutes} min."
DEVICE_SEPARATOR = "/"  # in no username (services/accounts.py USERNAME_PATTERN)


def key(username: str, device: str | None) -> str:
    """Whose wrong passwords count: those from a known device (its owner logged in from it
    before) its own, the others the username's, so that guesses from elsewhere never slow the
    owner down on their device."""
    return username + DEVICE_SEPARATOR + device if device else username


def check(uow: UnitOfWork, throttle_key: str, now: datetime) -> None:
    """TooManyLoginFailures while `throttle_key` must wait (the password is not even tried)."""
    row = uow.session.get(LoginThrottle, throttle_key, populate_existing=True)
    if row is None:
        return
    left = rules.wait(row.failures, row.last_failure_at, now)
    if left is not None:
        seconds = math.ceil(left.total_seconds())
        minutes = max(1, math.ceil(seconds / 60))
        raise TooManyLoginFailures(
            Message("login_locked", LOCKED, minutes=minutes), retry_after=seconds
        )


def record_failure(uow: UnitOfWork, throttle_key: str, now: datetime) -> None:
    """Count one more wrong password for `throttle_key`: kept by the unit of work though the
    login then fails (a wrong password has no audit event).

    One INSERT … ON CONFLICT DO UPDATE on both engines: the database adds one to
    the row as it stands, so ten wrong passwords at once count ten (no count read earlier is
    written back)."""

    def count(session: Session) -> None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        forgotten = LoginThrottle.last_failure_at < now - rules.FORGET_AFTER
        statement = (
            dialect.insert(LoginThrottle)
            .values(username=throttle_key, failures=1, last_failure_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.username],
                set_={
                    "failures": case(
                        (or_(LoginThrottle.last_failure_at.is_(None), forgotten), 1),
                        else_=LoginThrottle.failures + 1,
                    ),
                    "last_failure_at": now,
                },
            )
        )
        session.execute(statement)

    # Kept through the rollback of the refused login, without an event of its own.
    uow.keep(count)


def clear(uow: UnitOfWork, throttle_key: str) -> None:
    """Forget the wrong passwords counted under `throttle_key` (a successful login)."""
    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == throttle_key))


def unlock(uow: UnitOfWork, username: str) -> bool:
    """An administrator lifts the waits of a username and of its known devices at once; True
    if there was anything to clear."""
    cleared = uow.session.execute(
        delete(LoginThrottle).where(
            or_(
                LoginThrottle.username == username,
                LoginThrottle.username.startswith(username + DEVICE_SEPARATOR, autoescape=True),
            )
        )
    )
    return cast(CursorResult, cleared).rowcount > 0  # a DELETE's result, typed as Result
