"""Login throttling: after five wrong passwords in a row a username waits fifteen minutes."""

from datetime import datetime, timedelta

MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def after_failure(failures: int, now: datetime) -> tuple[int, datetime | None]:
    """The count and lock after one more wrong password: the fifth in a row locks the username
    (and the count starts again for after the lock)."""
    failures += 1
    if failures >= MAX_FAILURES:
        return 0, now + LOCK_DURATION
    return failures, None
