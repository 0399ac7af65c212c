"""The health space rules without a database: what is left, days left, words, representatives."""

import re
from datetime import UTC, date, datetime

import pytest

from eprescription.domain import health_space as rules
from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import PrescriptionCancelled, ValidationFailed
from eprescription.domain.prescriptions import Problems
from eprescription.web import patient_filters
from tests.conftest import REPO_ROOT

TODAY = date(2026, 3, 10)


def test_a_line_without_renewals_has_its_quantity_left_until_dispensed():
    fresh = LineProgress(line=1, quantity=2, periods=1, dispensed=0)
    done = LineProgress(line=1, quantity=2, periods=1, dispensed=2)

    assert (fresh.remaining_total, fresh.remaining_in_period, fresh.current_period) == (2, 2, 1)
    assert rules.remaining_words(fresh) == "2 packs to collect"
    assert (done.remaining_total, rules.remaining_words(done)) == (0, "all collected")


def test_renewals_are_collected_one_supply_at_a_time():
    progress = LineProgress(line=1, quantity=2, periods=3, dispensed=3)

    assert (progress.total, progress.remaining_total, progress.current_period) == (6, 3, 2)
    assert progress.remaining_in_period == 1
    assert (
        rules.remaining_words(progress) == "1 pack to collect now, 3 packs in all with the renewals"
    )
    assert rules.renewal_in_progress([progress]) == 1


def test_a_cancelled_line_has_nothing_left_to_collect():
    progress = LineProgress(line=1, quantity=3, periods=2, dispensed=0, cancelled=True)

    assert progress.remaining_total == 0 and rules.remaining_words(progress) == "cancelled"
    assert rules.renewal_in_progress([progress]) == 0


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "words"),
    [
        (date(2026, 3, 1), date(2026, 3, 22), "12 days left"),
        (date(2026, 3, 1), date(2026, 3, 11), "1 day left"),
        (date(2026, 3, 1), TODAY, "last day today"),
        (date(2026, 3, 1), date(2026, 3, 9), "expired"),
        (date(2026, 4, 3), date(2026, 7, 3), "valid from 3 April 2026"),
    ],
)
def test_validity_is_said_in_days_left(valid_from, valid_until, words):
    assert rules.validity_words(valid_from, valid_until, TODAY) == words


def test_the_access_log_says_what_happened_in_words():
    assert rules.action_words("read", "prescription", "ABCD-EFGH-JKX", "success") == (
        "opened prescription ABCD-EFGH-JKX"
    )
    assert rules.action_words("view_qr", "prescription", "X", "denied") == (
        "tried: displayed the QR code of prescription X (refused: denied)"
    )
    assert rules.action_words("grant", "representative", "7", "success") == "named a representative"
    # An action without words of its own still reads as a sentence, never as an internal code.
    assert rules.action_words("new_thing", "prescription", "X", "success") == (
        "consulted prescription X"
    )
    assert rules.action_words("lookup", "person", "3", "success") == (
        "looked you up among their patients"
    )
    assert rules.action_words("lookup", "person", "3", "confirmed_by_prescriber") == (
        "looked you up among their patients (they confirmed you were with them)"
    )
    assert rules.action_words("review_warnings", "person", "3", "success") == (
        "checked your allergies and treatments before prescribing"
    )


def _audited_actions_about_a_patient() -> set[str]:
    """The action names the services record with a patient (read from their source)."""
    found = set()
    for source in (REPO_ROOT / "eprescription" / "services").glob("*.py"):
        text = source.read_text()
        for call in re.finditer(
            r"\b(audit|refuse|record|record_opened)\(\s*(?:uow,\s*)?\"(\w+)\"", text
        ):
            rest = text[call.end() : call.end() + 240]
            if call.group(1).startswith("record") or "patient_person_id" in rest.split("\n\n")[0]:
                found.add(call.group(2))
    return found


def test_every_action_about_a_patient_has_words_in_the_access_log_and_on_its_page():
    worded = set(rules.ACTION_WORDS) | {action for action, _ in rules.ACTION_ON_OBJECT_WORDS}
    actions = _audited_actions_about_a_patient()

    assert {"read", "dispense", "lookup", "review_warnings"} <= actions
    assert actions - worded == set()
    # The page's words (web/patient_filters.py) say the same things as the API's.
    assert set(patient_filters.ACTION_LABELS) == set(rules.ACTION_WORDS)
    assert set(patient_filters.ACTION_ON_OBJECT_LABELS) == set(rules.ACTION_ON_OBJECT_WORDS)


def test_the_pickup_mode_changes_only_on_an_open_prescription_to_a_known_mode():
    assert rules.pickup_change("active", "private") == "private"
    assert rules.pickup_change("partially_dispensed", "authorised") == "authorised"
    with pytest.raises(ValidationFailed):
        rules.pickup_change("active", "everyone")
    with pytest.raises(PrescriptionCancelled):
        rules.pickup_change("cancelled", "public")


def test_a_representation_ends_after_its_last_day_or_when_revoked():
    revoked = datetime(2026, 3, 1, tzinfo=UTC)

    assert rules.representation_is_active(None, None, TODAY)
    assert rules.representation_is_active(TODAY, None, TODAY)
    assert not rules.representation_is_active(date(2026, 3, 9), None, TODAY)
    assert not rules.representation_is_active(None, revoked, TODAY)


def test_naming_oneself_or_an_end_date_in_the_past_is_refused():
    problems = Problems()

    rules.check_representative(
        problems,
        patient_person_id=1,
        representative_person_id=1,
        valid_until=date(2026, 3, 9),
        today=TODAY,
    )

    assert set(problems.errors) == {"nir", "valid_until"}


def test_a_child_comes_of_age_on_the_18th_birthday():
    assert rules.coming_of_age(date(2010, 2, 28)) == date(2028, 2, 28)
    assert rules.coming_of_age(date(2008, 2, 29)) == date(2026, 2, 28)
    assert rules.is_minor(date(2008, 3, 11), TODAY)
    assert not rules.is_minor(date(2008, 3, 10), TODAY)
    assert not rules.is_minor(None, TODAY)
