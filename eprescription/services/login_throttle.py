"""The login throttle's use cases: refuse a locked username, count a wrong password, clear."""

import math
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from eprescription.domain import login_throttle as rules
from eprescription.domain.errors import TooManyLoginFailures
from eprescription.models import LoginThrottle
from eprescription.services.uow import UnitOfWork

LOCKED = "Too many wrong passwords for this username: try again in {minutes} minutes."


def check(uow: UnitOfWork, username: str, now: datetime) -> None:
    """TooManyLoginFailures while the username is locked (the password is not even tried)."""
    row = uow.session.get(LoginThrottle, username)
    locked_until = row.locked_until if row is not None else None
    if locked_until is not None and rules.is_locked(locked_until, now):
        minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
        raise TooManyLoginFailures(LOCKED.format(minutes=minutes))


def record_failure(uow: UnitOfWork, username: str, now: datetime) -> None:
    """Count one more wrong password for the username, locking it at the fifth: kept by the
    unit of work though the login then fails (a wrong password has no audit event).

    The row is made if missing (racing first failures make one), then read under a lock, so
    two wrong passwords at once both count.
    """

    def count(session: Session) -> None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(LoginThrottle)
            .values(username=username, failures=0)
            .on_conflict_do_nothing(index_elements=[LoginThrottle.username])
        )
        row = session.get_one(LoginThrottle, username, with_for_update=True, populate_existing=True)
        row.failures, row.locked_until = rules.after_failure(row.failures, now)

    # Kept through the rollback of the refused login, without an event of its own.
    uow.keep(count)


def clear(uow: UnitOfWork, username: str) -> None:
    """Forget the wrong passwords of a username (a successful login)."""
    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


def unlock(uow: UnitOfWork, username: str) -> bool:
    """An administrator lifts a lock at once; True if there was anything to clear."""
    cleared = uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))
    return cast(CursorResult, cleared).rowcount > 0  # a DELETE's result, typed as Result
