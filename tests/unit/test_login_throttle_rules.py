"""The login throttle's rule: the fifth wrong password in a row locks for fifteen minutes."""

from datetime import UTC, datetime, timedelta

from eprescription.domain import login_throttle as rules

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_four_wrong_passwords_count_the_fifth_locks_and_starts_the_count_again():
    failures, locked_until = 0, None
    for expected in (1, 2, 3, 4):
        failures, locked_until = rules.after_failure(failures, NOW)
        assert (failures, locked_until) == (expected, None)

    assert rules.after_failure(failures, NOW) == (0, NOW + timedelta(minutes=15))


def test_a_lock_holds_until_its_last_instant_only():
    until = NOW + rules.LOCK_DURATION
    assert rules.is_locked(until, NOW)
    assert rules.is_locked(until, until - timedelta(microseconds=1))
    assert not rules.is_locked(until, until)
    assert not rules.is_locked(None, NOW)
