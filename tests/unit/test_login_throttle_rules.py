"""The login throttle's rule: five wrong passwords are free, then a wait that doubles from one
minute up to fifteen; a day without a failure forgets them."""

from datetime import UTC, datetime, timedelta

from eprescription.domain import login_throttle as rules

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_four_wrong_passwords_cost_nothing_and_the_fifth_costs_a_minute():
    for failures in range(rules.MAX_FAILURES):
        assert rules.delay(failures) == timedelta(0)
        assert rules.locked_until(failures, NOW) is None
    assert rules.delay(rules.MAX_FAILURES) == timedelta(minutes=1)


def test_each_further_wrong_password_doubles_the_wait_up_to_fifteen_minutes():
    waits = [rules.delay(rules.MAX_FAILURES + n).total_seconds() / 60 for n in range(6)]

    assert waits == [1, 2, 4, 8, 15, 15]
    assert rules.delay(10_000) == rules.MAX_DELAY


def test_a_wait_holds_until_its_last_instant_only():
    until = NOW + timedelta(minutes=1)
    assert rules.wait(rules.MAX_FAILURES, NOW, NOW) == timedelta(minutes=1)
    assert rules.wait(rules.MAX_FAILURES, NOW, until - timedelta(microseconds=1))
    assert rules.wait(rules.MAX_FAILURES, NOW, until) is None
    assert rules.wait(rules.MAX_FAILURES - 1, NOW, NOW) is None
    assert rules.wait(rules.MAX_FAILURES, None, NOW) is None


def test_failures_are_forgotten_a_day_after_the_last_one():
    assert not rules.is_forgotten(NOW, NOW + rules.FORGET_AFTER)
    assert rules.is_forgotten(NOW, NOW + rules.FORGET_AFTER + timedelta(seconds=1))
