"""Rules that lived in views or services and are now domain rules, exercised without a database."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from eprescription.domain import dispensing, health_space
from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import SelfPrescriptionRefused, ValidationFailed
from eprescription.domain.prescriptions import Problems, today_of
from eprescription.domain.signed_prescription import SignedLine

GIVEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_dispensation_can_be_reversed_for_24_hours_and_only_once():
    assert dispensing.reversal_problem(GIVEN, None, GIVEN + timedelta(hours=24)) is None
    late = dispensing.reversal_problem(GIVEN, None, GIVEN + timedelta(hours=24, seconds=1))
    assert late == "A dispensation can be reversed within 24 hours only."
    again = dispensing.reversal_problem(GIVEN, GIVEN + timedelta(hours=1), GIVEN)
    assert again == "This dispensation was reversed already."


def test_a_line_is_dispensable_only_while_its_current_period_has_something_left():
    assert LineProgress(1, quantity=2, periods=2, dispensed=1).dispensable_now
    assert LineProgress(1, quantity=2, periods=2, dispensed=2).dispensable_now  # period 2 opens
    assert not LineProgress(1, quantity=2, periods=2, dispensed=4).dispensable_now
    assert not LineProgress(1, quantity=2, periods=1, dispensed=0, cancelled=True).dispensable_now


def test_a_signed_line_gives_the_cancellation_and_substitution_rules_what_is_signed():
    line = SignedLine(
        line=2,
        content={
            "medication": {"type": "substance", "substance_code": "1234", "name": "X"}
            | {"strength": "500 mg", "form": "comprimé"},
            "substitutable": False,
            "non_substitution_reason": "MTE",
        },
        quantity=3,
        periods=2,
        dispensed=4,
    )
    assert (line.state.line, line.state.quantity_total, line.state.dispensed) == (2, 6, 4)
    assert not line.state.cancelled
    prescribed = line.prescribed
    assert (prescribed.cis, prescribed.substance_code, prescribed.strength) == (
        None,
        "1234",
        "500 mg",
    )
    assert (prescribed.substitutable, prescribed.non_substitution_reason) == (False, "MTE")


@pytest.mark.parametrize(
    ("address", "town"),
    [
        ("1 place de la Gare, 75010 Paris", "Paris"),
        ("3 rue Haute 69002  Lyon", "Lyon"),
        ("Pharmacie du Port, Marseille", "Marseille"),
        ("somewhere", ""),
        ("", ""),
    ],
)
def test_the_town_of_a_pharmacy_is_read_after_its_postcode_or_its_last_comma(address, town):
    assert health_space.town_of(address) == town


def test_a_product_is_named_alone_and_a_substance_with_its_strength_and_form():
    assert health_space.medication_words("Doliprane 500 mg", None, None) == "Doliprane 500 mg"
    assert health_space.medication_words("paracétamol", "500 mg", "comprimé") == (
        "paracétamol 500 mg, comprimé"
    )


def test_one_refusal_names_every_field_with_a_problem_and_carries_them_all():
    problems = Problems()
    problems.add(("items", 0, "quantity"), "at least 1")
    problems.add("patient_nir", "unknown")
    refusal = problems.refusal()
    assert type(refusal) is ValidationFailed
    assert refusal.detail == "Some fields are not valid: items, patient_nir"
    assert refusal.errors == {
        "items": {0: {"quantity": ["at least 1"]}},
        "patient_nir": ["unknown"],
    }
    assert type(problems.refusal(SelfPrescriptionRefused)) is SelfPrescriptionRefused


def test_validity_is_counted_in_utc_days():
    half_past_midnight_in_paris = datetime(2026, 3, 3, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert today_of(half_past_midnight_in_paris) == date(2026, 3, 2)
