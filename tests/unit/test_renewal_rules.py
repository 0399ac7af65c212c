"""Renewal request rules without a database: the 8-day lapse, eligibility, transitions."""

from datetime import UTC, date, datetime, timedelta

import pytest

from eprescription.domain import errors
from eprescription.domain import renewals as rules
from eprescription.domain.prescriptions import Problems, Status
from eprescription.domain.renewals import RequestStatus

ASKED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TODAY = date(2026, 3, 1)


# -- the lapse --------------------------------------------------------------------------------


def test_a_pending_request_lapses_exactly_eight_days_after_it_was_made():
    lapse = ASKED + timedelta(days=8)
    assert rules.lapses_at(ASKED) == lapse
    assert rules.effective_status("pending", lapse, lapse - timedelta(seconds=1)) == "pending"
    assert rules.effective_status("pending", lapse, lapse) == "expired"
    assert rules.effective_status("pending", lapse, lapse + timedelta(days=30)) == "expired"


def test_the_lapse_is_read_from_the_stored_lapses_at_not_from_when_it_was_asked():
    """A request stores its lapses_at when made; what decides is that, not requested_at + 8 days."""
    stored_lapse = ASKED + timedelta(days=2)
    assert rules.is_lapsed("pending", stored_lapse, ASKED + timedelta(days=3))
    assert rules.effective_status("pending", stored_lapse, ASKED + timedelta(days=3)) == "expired"
    assert not rules.is_lapsed("pending", stored_lapse, ASKED + timedelta(days=1))


@pytest.mark.parametrize("stored", ["renewed", "declined", "expired"])
def test_a_decided_request_keeps_its_status_whatever_the_time(stored):
    later = ASKED + timedelta(days=100)
    assert rules.effective_status(stored, rules.lapses_at(ASKED), later) == stored
    assert not rules.is_lapsed(stored, rules.lapses_at(ASKED), later)


# -- transitions ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["renewed", "declined", "expired"])
def test_a_pending_request_can_be_renewed_declined_or_lapse(target):
    assert rules.transition("pending", target) == target


@pytest.mark.parametrize(
    ("current", "error"),
    [
        ("renewed", errors.RenewalRequestRenewed),
        ("declined", errors.RenewalRequestDeclined),
        ("expired", errors.RenewalRequestExpired),
    ],
)
@pytest.mark.parametrize("target", ["pending", "renewed", "declined", "expired"])
def test_a_closed_request_refuses_every_move_with_its_own_code(current, error, target):
    with pytest.raises(error) as refused:
        rules.transition(current, target)
    assert isinstance(refused.value, errors.Conflict)  # 409 at the edge


def test_pending_to_pending_is_refused():
    with pytest.raises(errors.RenewalRequestPending):
        rules.transition(RequestStatus.PENDING, RequestStatus.PENDING)


# -- which prescriptions may be asked for ------------------------------------------------------


def refusal(status="active", *, renewals=2, in_progress=2, valid_until=TODAY + timedelta(days=60)):
    return rules.refusal(
        status,
        renewals=renewals,
        renewal_in_progress=in_progress,
        valid_until=valid_until,
        today=TODAY,
    )


def test_a_long_term_treatment_in_its_last_supply_may_be_asked_for():
    assert refusal(in_progress=2) is None
    assert refusal("partially_dispensed", in_progress=2) is None


def test_too_early_until_the_last_supply_or_the_last_30_days():
    too_early = refusal(in_progress=1, valid_until=TODAY + timedelta(days=31))
    assert isinstance(too_early, errors.RenewalNotAllowed)
    assert "too early" in too_early.detail
    assert refusal(in_progress=1, valid_until=TODAY + timedelta(days=30)) is None
    assert refusal(in_progress=0, valid_until=TODAY) is None


def test_a_one_off_treatment_is_never_renewed_on_request():
    assert isinstance(refusal(renewals=0, in_progress=0), errors.RenewalNotAllowed)
    assert isinstance(refusal("completed", renewals=0, in_progress=0), errors.RenewalNotAllowed)


def test_a_cancelled_prescription_is_refused_as_cancelled():
    assert isinstance(refusal("cancelled"), errors.PrescriptionCancelled)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.EXPIRED])
def test_an_ended_treatment_may_be_asked_for_six_months_after_its_last_day(status):
    ended = date(2025, 9, 1)  # + 6 months = 1 March 2026, today
    assert refusal(status, in_progress=0, valid_until=ended) is None
    too_old = refusal(status, in_progress=0, valid_until=ended - timedelta(days=1))
    assert isinstance(too_old, errors.RenewalNotAllowed)


def test_one_pending_request_and_no_new_one_after_a_renewal():
    eligible = {"renewals": 1, "renewal_in_progress": 1, "valid_until": TODAY, "today": TODAY}
    rules.ensure_renewable("active", pending=False, renewed=False, **eligible)
    with pytest.raises(errors.RenewalRequestPending):
        rules.ensure_renewable("active", pending=True, renewed=False, **eligible)
    with pytest.raises(errors.PrescriptionAlreadyRenewed):
        rules.ensure_renewable("active", pending=False, renewed=True, **eligible)
    with pytest.raises(errors.RenewalNotAllowed):
        rules.ensure_renewable("active", pending=False, renewed=False, **eligible | {"renewals": 0})


# -- messages ---------------------------------------------------------------------------------


def test_messages_are_trimmed_bounded_and_a_declines_is_required():
    problems = Problems()
    assert rules.message(problems, "message", "  out of pills  ", required=False) == "out of pills"
    assert rules.message(problems, "message", "   ", required=False) is None
    assert not problems
    rules.message(problems, "message", " ", required=True)
    rules.message(problems, "other", "x" * (rules.MESSAGE_MAX + 1), required=False)
    assert set(problems.errors) == {"message", "other"}
