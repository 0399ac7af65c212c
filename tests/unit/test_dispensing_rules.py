"""Dispensing rules without a database: periods, quantities, substitution, prices, states."""

from datetime import date

import pytest

from eprescription.domain import dispensing as rules
from eprescription.domain.dispensing import LineProgress, Pack, PrescribedLine
from eprescription.domain.errors import (
    PrescriptionCompleted,
    PrescriptionExpired,
    PrescriptionNotYetValid,
    QuantityExceeded,
    ValidationFailed,
)


def test_a_line_with_three_renewals_is_dispensed_one_period_at_a_time():
    line = LineProgress(line=1, quantity=2, periods=4, dispensed=0)
    assert (line.current_period, line.remaining_in_period, line.remaining_total) == (1, 2, 8)
    line = LineProgress(line=1, quantity=2, periods=4, dispensed=3)
    assert (line.current_period, line.remaining_in_period, line.remaining_total) == (2, 1, 5)
    line = LineProgress(line=1, quantity=2, periods=4, dispensed=8)
    assert (line.current_period, line.remaining_in_period, line.complete) == (4, 0, True)


def test_the_quantity_asked_is_summed_per_line_and_never_beyond_the_current_period():
    progress = [LineProgress(1, 2, 4, 0), LineProgress(2, 1, 1, 0)]
    assert rules.check_quantities(progress, [(1, 1), (1, 1), (2, 1)]) == {1: 2, 2: 1}
    with pytest.raises(QuantityExceeded) as refused:
        rules.check_quantities(progress, [(1, 3)])
    assert "period 1 of 4" in refused.value.detail


def test_a_cancelled_line_or_an_unknown_line_cannot_be_dispensed():
    progress = [LineProgress(1, 2, 1, 0, cancelled=True)]
    with pytest.raises(QuantityExceeded):
        rules.check_quantities(progress, [(1, 1)])
    with pytest.raises(ValidationFailed):
        rules.check_quantities(progress, [(7, 1)])
    with pytest.raises(ValidationFailed):
        rules.check_quantities(progress, [])


def test_closed_and_not_yet_valid_prescriptions_are_not_dispensable():
    today = date(2026, 3, 1)
    rules.check_dispensable("partially_dispensed", date(2026, 2, 1), today)
    with pytest.raises(PrescriptionExpired):
        rules.check_dispensable("expired", date(2026, 1, 1), today)
    with pytest.raises(PrescriptionCompleted):
        rules.check_dispensable("completed", date(2026, 1, 1), today)
    with pytest.raises(PrescriptionNotYetValid):
        rules.check_dispensable("active", date(2026, 3, 2), today)


PACK = Pack(
    "3400930000000", "60000001", "comprimé", frozenset({("1234", "500 mg")}), frozenset({7})
)


def test_the_prescribed_product_is_always_accepted_and_is_no_substitution():
    decision = rules.check_pack(PrescribedLine("60000001"), PACK, frozenset({7}))
    assert (decision.accepted, decision.substituted) == (True, False)


def test_a_substitute_must_share_a_generic_group_and_the_line_must_allow_it():
    line = PrescribedLine("60000002")
    assert rules.check_pack(line, PACK, frozenset({7})).substituted is True
    assert rules.check_pack(line, PACK, frozenset({8})).accepted is False
    locked = PrescribedLine("60000002", substitutable=False, non_substitution_reason="MTE")
    refused = rules.check_pack(locked, PACK, frozenset({7}))
    assert refused.accepted is False and "MTE" in refused.reason
    assert rules.substitution_policy(locked)[0] is False


def test_a_substance_line_accepts_any_pack_with_that_substance_strength_and_form():
    line = PrescribedLine(None, "1234", "500  MG", "Comprimé")
    assert rules.check_pack(line, PACK, frozenset()).accepted is True
    assert not rules.check_pack(
        PrescribedLine(None, "1234", "1 g", "comprimé"), PACK, frozenset()
    ).accepted
    assert not rules.check_pack(
        PrescribedLine(None, "1234", "500 mg", "gélule"), PACK, frozenset()
    ).accepted


def test_reimbursement_is_integer_cents_rounded_half_up_and_adds_up():
    price = rules.price_line(195, 3, 65, ald=False)  # 5.85 € at 65 % = 3.8025 → 3.80
    assert (price.total_cents, price.covered_cents, price.patient_share_cents) == (585, 380, 205)
    price = rules.price_line(101, 1, 15, ald=False)  # 15.15 cents → 15
    assert price.covered_cents + price.patient_share_cents == price.total_cents == 101


def test_an_ald_line_is_covered_in_full_but_not_a_non_reimbursable_pack():
    assert rules.price_line(795, 2, 30, ald=True).patient_share_cents == 0
    assert rules.price_line(795, 2, None, ald=True).covered_cents == 0


def test_a_pack_is_given_until_its_expiry_day_included():
    assert rules.pack_expiry_problem(date(2026, 3, 1), date(2026, 3, 1)) is None
    assert "expired" in rules.pack_expiry_problem(date(2026, 2, 28), date(2026, 3, 1))


def test_a_reversal_can_reopen_a_completed_prescription():
    assert rules.status_from_progress([LineProgress(1, 1, 1, 0)]) == "active"
    assert (
        rules.status_from_progress(
            [LineProgress(1, 1, 2, 1), LineProgress(2, 1, 1, 0, cancelled=True)]
        )
        == "partially_dispensed"
    )


# -- who sees and collects what by card ---------------------------------------------------------

MODES = ("public", "private", "authorised")


@pytest.mark.parametrize(
    ("identity_confirmed", "presenter", "seen"),
    [
        (True, rules.PATIENT, {"public", "private", "authorised"}),
        (True, rules.REPRESENTATIVE, {"public", "authorised"}),
        (True, rules.ANYONE, {"public"}),
        (False, rules.PATIENT, {"public"}),
        (False, rules.REPRESENTATIVE, {"public"}),
        (False, rules.ANYONE, {"public"}),
    ],
)
def test_what_the_card_shows_depends_on_who_is_at_the_counter_and_their_checked_identity(
    identity_confirmed, presenter, seen
):
    who = rules.at_counter(identity_confirmed, presenter)

    assert {mode for mode in MODES if rules.may_see_by_card(mode, who)} == seen
    assert {mode for mode in MODES if rules.card_problem(mode, who) is None} == seen


def test_a_card_refusal_says_who_may_open_it():
    assert "patient in person only" in rules.card_problem("private", rules.REPRESENTATIVE)
    assert "a representative they authorised" in rules.card_problem("authorised", rules.ANYONE)


NIR = "295067505612345"


@pytest.mark.parametrize(
    ("presenter_nir", "kind", "collector_nir", "refused"),
    [
        (None, "patient", None, False),  # the patient at the counter: nothing to match
        (None, "representative", NIR, False),
        (NIR, "representative", NIR, False),
        (NIR, "other", NIR, False),
        (NIR, "patient", None, True),  # the representative was checked, not the patient
        (NIR, "representative", "195067505612345", True),  # someone else than who was checked
        (NIR, "representative", None, True),
    ],
)
def test_with_number_and_nir_the_person_at_the_counter_is_the_one_who_collects(
    presenter_nir, kind, collector_nir, refused
):
    problem = rules.collector_problem(presenter_nir, kind, collector_nir)

    assert (problem is not None) is refused


@pytest.mark.parametrize(
    ("mode", "kind", "patient_confirmed", "known", "allowed"),
    [
        ("public", "other", False, False, True),
        ("private", "patient", True, False, True),
        ("private", "patient", False, False, False),
        ("private", "representative", False, True, False),
        ("authorised", "patient", True, False, True),
        ("authorised", "representative", False, True, True),
        ("authorised", "representative", False, False, False),
        ("authorised", "other", False, False, False),
    ],
)
def test_who_may_collect_under_each_pickup_mode(mode, kind, patient_confirmed, known, allowed):
    problem = rules.pickup_problem(mode, kind, patient_confirmed, representative_known=known)

    assert (problem is None) is allowed


@pytest.mark.parametrize(
    ("kind", "national_id", "name", "identified"),
    [
        ("patient", None, None, True),
        ("other", None, "Jean Martin", True),
        ("other", "180017505612345", None, True),
        ("representative", "280017505612345", "Léa Roux", True),
        ("other", None, None, False),
        ("representative", None, None, False),
        ("other", "  ", " ", False),
    ],
)
def test_someone_other_than_the_patient_who_collects_must_be_identified(
    kind, national_id, name, identified
):
    problem = rules.collector_identity_problem(kind, national_id, name)

    assert (problem is None) is identified
    assert problem in (None, rules.COLLECTOR_UNIDENTIFIED)
