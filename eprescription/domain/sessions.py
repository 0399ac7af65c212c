"""How long a login lasts: an idle timeout by role and an absolute one, whatever the activity."""

from datetime import datetime, timedelta


def is_current(
    started_at: datetime, seen_at: datetime, now: datetime, *, idle: timedelta, absolute: timedelta
) -> bool:
    """Whether a session begun at `started_at` and last used at `seen_at` still holds at `now`
    (a clock that went backwards ends it too)."""
    if seen_at > now or started_at > seen_at:
        return False
    return now - seen_at < idle and now - started_at < absolute
