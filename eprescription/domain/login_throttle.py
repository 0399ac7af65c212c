"""Login throttling: after five wrong passwords a username (or a known device) waits, longer
after each further one, up to fifteen minutes; a day without a failure forgets them."""

from datetime import datetime, timedelta

MAX_FAILURES = 5  # wrong passwords before any wait
FIRST_DELAY = timedelta(minutes=1)  # after the fifth; doubled by each further one
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)  # since the last failure: the count starts again


def delay(failures: int) -> timedelta:
    """How long a username waits after its `failures`-th wrong password in a row."""
    if failures < MAX_FAILURES:
        return timedelta(0)
    doublings = min(failures - MAX_FAILURES, 16)  # 2**16 minutes is past MAX_DELAY already
    return min(MAX_DELAY, FIRST_DELAY * 2**doublings)


def locked_until(failures: int, last_failure_at: datetime | None) -> datetime | None:
    """Until when no password is tried for the username, or None."""
    if last_failure_at is None or failures < MAX_FAILURES:
        return None
    return last_failure_at + delay(failures)


def wait(failures: int, last_failure_at: datetime | None, now: datetime) -> timedelta | None:
    """What is left of the wait at `now`, or None if a password may be tried."""
    until = locked_until(failures, last_failure_at)
    if until is None or now >= until:
        return None
    return until - now


def is_forgotten(last_failure_at: datetime, now: datetime) -> bool:
    """Whether the failures before `last_failure_at` no longer count at `now`."""
    return now - last_failure_at > FORGET_AFTER
