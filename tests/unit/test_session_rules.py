"""How long a login lasts: idle and absolute timeouts, and a clock that went backwards."""

from datetime import UTC, datetime, timedelta

from eprescription.domain.sessions import is_current

LOGIN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
IDLE, ABSOLUTE = timedelta(minutes=15), timedelta(hours=12)


def holds(seen: datetime, now: datetime, started: datetime = LOGIN) -> bool:
    return is_current(started, seen, now, idle=IDLE, absolute=ABSOLUTE)


def test_a_session_holds_until_its_idle_time_runs_out():
    assert holds(LOGIN, LOGIN + IDLE - timedelta(seconds=1))
    assert not holds(LOGIN, LOGIN + IDLE)


def test_a_session_in_use_ends_twelve_hours_after_login():
    late = LOGIN + ABSOLUTE - timedelta(seconds=1)
    assert holds(late - timedelta(minutes=1), late)
    assert not holds(LOGIN + ABSOLUTE - timedelta(minutes=1), LOGIN + ABSOLUTE)


def test_times_in_the_future_end_the_session():
    assert not holds(LOGIN + timedelta(minutes=5), LOGIN)
    assert not holds(LOGIN, LOGIN + timedelta(minutes=1), started=LOGIN + timedelta(minutes=1))
