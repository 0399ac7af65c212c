"""The login throttle's use cases: refuse a locked username, count a wrong password, clear."""

import math
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from eprescription.domain import login_throttle as rules
from eprescription.domain.errors import TooManyLoginFailures
from eprescription.models import LoginThrottle

LOCKED = "Too many wrong passwords for this username: try again in {minutes} minutes."


def check(session: Session, username: str, now: datetime) -> None:
    """TooManyLoginFailures while the username is locked (the password is not even tried)."""
    row = session.get(LoginThrottle, username)
    if row is not None and rules.is_locked(row.locked_until, now):
        minutes = max(1, math.ceil((row.locked_until - now).total_seconds() / 60))
        raise TooManyLoginFailures(LOCKED.format(minutes=minutes))


def record_failure(session: Session, username: str, now: datetime) -> None:
    """Count one more wrong password for the username, locking it at the fifth; committed.

    The row is read under a lock (two wrong passwords at once both count); a first failure
    racing another one's insert is retried once.
    """
    for attempt in range(2):
        row = session.get(LoginThrottle, username, with_for_update=True)
        if row is None:
            row = LoginThrottle(username=username, failures=0)
            session.add(row)
        row.failures, row.locked_until = rules.after_failure(row.failures, now)
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt:
                raise


def clear(session: Session, username: str) -> None:
    """Forget the wrong passwords of a username (a successful login); the caller commits."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


def unlock(session: Session, username: str) -> bool:
    """An administrator lifts a lock at once; True if there was anything to clear."""
    cleared = session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))
    session.commit()
    return cleared.rowcount > 0
