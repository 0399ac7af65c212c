"""The rules of issue 12 as pure functions: at issue (judge) and at the counter (periods, caps)."""

from datetime import date, timedelta

import pytest

from eprescription.domain import dispensing_periods as periods
from eprescription.domain import prescribing_rules as rules
from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import DispensingRuleRefused, RenewalPeriodNotOpen
from eprescription.domain.prescribing_conditions import classify_all

NARCOTIC = classify_all(
    ["stupéfiants", "prescription limitée à 4 semaines", "délivrance fractionnée de 7 jours"]
)
LIST_I = classify_all(["liste I"])
RITALINE = classify_all(
    [
        "prescription réservée aux spécialistes et services NEUROLOGIE",
        "prescription réservée aux spécialistes et services PSYCHIATRIE",
        "prescription initiale annuelle réservée à certains spécialistes",
        "stupéfiants",
    ]
)
GLIVEC = classify_all(
    [
        "prescription initiale hospitalière semestrielle",
        "renouvellement de la prescription réservé aux spécialistes en ONCOLOGIE MEDICALE",
    ]
)
GP = rules.Prescriber("Médecine générale")
PSYCHIATRIST = rules.Prescriber("Psychiatrie", rules.HOSPITAL)
ONCOLOGIST = rules.Prescriber("Oncologie médicale")


def codes(line: rules.Line, who: rules.Prescriber = GP) -> list[str]:
    return [refusal.code for refusal in rules.judge(line, who).refusals]


def test_a_narcotic_takes_the_shorter_of_28_days_and_its_own_limit():
    assert codes(rules.Line(NARCOTIC, 28, 0)) == []
    assert codes(rules.Line(NARCOTIC, 29, 0)) == ["rule_duration_over_limit"]
    assert codes(rules.Line(NARCOTIC, 7, 1)) == ["rule_narcotic_renewal"]


def test_what_the_rules_cannot_judge_is_accepted_and_said():
    judgement = rules.judge(rules.Line(NARCOTIC, None, 0), GP)

    assert judgement.refusals == ()
    assert [note.code for note in judgement.notes] == ["rule_duration_not_judged"]


def test_liste_i_renewal_needs_the_prescribers_express_word():
    assert codes(rules.Line(LIST_I, 30, 2)) == ["rule_list_i_renewal"]
    assert codes(rules.Line(LIST_I, 30, 2, renewal_authorised=True)) == []
    assert codes(rules.Line(LIST_I, 120, 3, renewal_authorised=True)) == [
        "rule_duration_over_limit"
    ]


def test_the_specialists_of_an_initial_prescription_write_it_and_anyone_renews_it():
    assert codes(rules.Line(RITALINE, 28, 0)) == ["rule_specialist"]
    assert codes(rules.Line(RITALINE, 28, 0), PSYCHIATRIST) == []
    assert codes(rules.Line(RITALINE, 28, 0, initial_prescription="Dr X 2026-11-02")) == []


def test_an_initial_hospital_prescription_is_renewed_only_by_the_named_specialists():
    assert codes(rules.Line(GLIVEC, 30, 0)) == ["rule_initial_hospital"]
    renewal = rules.Line(GLIVEC, 30, 0, initial_prescription="CHU 2026-10-02")
    assert codes(renewal) == ["rule_renewal_specialist"]
    assert codes(renewal, ONCOLOGIST) == []


def test_a_secure_prescription_writes_its_quantity_in_full():
    assert rules.is_secure(NARCOTIC) and not rules.is_secure(LIST_I)
    assert [rules.quantity_in_words(n) for n in (1, 4, 20)] == ["un", "quatre", "vingt"]


def test_specialties_match_whatever_the_accents_case_and_wording():
    assert rules.specialty_matches("Oncologie", ["ONCOLOGIE MEDICALE"])
    assert rules.specialty_matches("NEUROLOGIE", ["Neurologie"])
    assert not rules.specialty_matches("", ["NEUROLOGIE"])
    assert not rules.specialty_matches("Cardiologie", ["NEUROLOGIE"])


# -- at the counter -------------------------------------------------------------------------------

ISSUED = date(2026, 3, 1)


def counter_line(conditions=(), duration=30, quantity=1, periods_=3, dispensed=0):
    return periods.LineRules(
        LineProgress(1, quantity, periods_, dispensed), tuple(conditions), duration
    )


@pytest.mark.parametrize(
    ("days_after_issue", "opens"),
    [(26, date(2026, 3, 31)), (27, None), (30, None)],  # period 2 opens on day 30, 3 days early
)
def test_a_renewal_period_opens_at_issue_plus_its_duration_with_three_days_early(
    days_after_issue, opens
):
    line = counter_line(dispensed=1)
    today = ISSUED + timedelta(days=days_after_issue)

    assert periods.opening_problem(line, ISSUED, today) == opens


def test_without_a_duration_in_days_periods_are_whole_months():
    assert periods.period_opens(date(2026, 1, 31), 2, None) == date(2026, 2, 28)
    assert periods.period_opens(ISSUED, 3, 10) == date(2026, 3, 21)


def test_a_dispensation_before_its_period_refuses_the_whole_request():
    with pytest.raises(RenewalPeriodNotOpen):
        periods.check([(counter_line(dispensed=1), 1)], ISSUED, ISSUED, ISSUED)


def test_liste_i_is_given_one_month_at_a_time_one_pack_never_split():
    line = counter_line(LIST_I, duration=90, quantity=3, periods_=1)

    assert periods.cap(line, ISSUED, ISSUED, ISSUED).packs == 1
    with pytest.raises(DispensingRuleRefused):
        periods.check([(line, 2)], ISSUED, ISSUED, ISSUED)
    limited = periods.check([(line, 1)], ISSUED, ISSUED, ISSUED)
    assert limited[1].code == "rule_one_month"


def test_a_narcotic_presented_after_three_days_gives_what_is_left_of_the_treatment():
    line = counter_line(NARCOTIC[:1], duration=28, quantity=4, periods_=1)

    assert periods.cap(line, ISSUED, ISSUED, ISSUED + timedelta(days=3)) is None
    late = periods.cap(line, ISSUED, ISSUED, ISSUED + timedelta(days=14))
    assert (late.packs, late.rule.code) == (2, "rule_narcotic_late")
    assert periods.cap(line, ISSUED, ISSUED, ISSUED + timedelta(days=28)).packs == 0


def test_a_line_without_a_duration_has_no_cap_it_could_not_judge():
    assert periods.cap(counter_line(NARCOTIC, duration=None), ISSUED, ISSUED, ISSUED) is None


# -- written by the prescriber: fractionation (R5132-30) and overlap (R5132-33) -------------------

MORPHINE = classify_all(["stupéfiants"])
NO_OVERLAP = classify_all(
    ["liste I", "chevauchement interdit sauf mention expresse du prescripteur sur l'ordonnance"]
)


def test_only_a_narcotic_is_fractioned_as_the_prescriber_writes():
    assert codes(rules.Line(MORPHINE, 28, 0, fractionation_days=7)) == []
    assert codes(rules.Line(LIST_I, 28, 0, fractionation_days=7)) == ["rule_fractionation_narcotic"]


def test_the_prescribers_fractionation_gives_a_narcotic_that_many_days_at_a_time():
    line = periods.LineRules(LineProgress(1, 4, 1, 0), tuple(MORPHINE), 28, fractionation_days=7)

    first = periods.cap(line, ISSUED, ISSUED, ISSUED)
    assert (first.packs, first.rule.code) == (1, "rule_fractioned_by_prescriber")
    given_one = periods.LineRules(LineProgress(1, 4, 1, 1), tuple(MORPHINE), 28, 7)
    assert periods.cap(given_one, ISSUED, ISSUED, ISSUED + timedelta(days=3)).packs == 0
    assert periods.cap(given_one, ISSUED, ISSUED, ISSUED + timedelta(days=4)).packs == 1
    # Written for a product that is not a narcotic (an older or foreign payload): no cap.
    not_narcotic = periods.LineRules(LineProgress(1, 4, 1, 0), tuple(LIST_I), 28, 7)
    assert periods.cap(not_narcotic, ISSUED, ISSUED, ISSUED) is None


def test_a_narcotic_does_not_overlap_a_running_treatment_unless_the_prescriber_wrote_so():
    running = [periods.Running(ISSUED, periods.covered_days(3, 4, 28))]  # 21 days of 28
    line = periods.LineRules(LineProgress(1, 4, 1, 0), tuple(MORPHINE), 28)
    allowed = periods.LineRules(LineProgress(1, 4, 1, 0), tuple(MORPHINE), 28, None, True)

    assert periods.overlap_until(line, running, ISSUED + timedelta(days=20)) == date(2026, 3, 22)
    assert periods.overlap_until(line, running, ISSUED + timedelta(days=21)) is None
    assert periods.overlap_until(allowed, running, ISSUED) is None
    with pytest.raises(DispensingRuleRefused) as refusal:
        periods.check([(line, 1)], ISSUED, ISSUED, ISSUED, running={1: running})
    assert refusal.value.detail.code == "rule_overlap"
    assert periods.check([(allowed, 1)], ISSUED, ISSUED, ISSUED, running={1: running}) == {}


def test_the_bdpms_no_overlap_condition_is_kept_for_other_products_too():
    line = periods.LineRules(LineProgress(1, 1, 1, 0), tuple(NO_OVERLAP), 30)
    listed_only = periods.LineRules(LineProgress(1, 1, 1, 0), tuple(LIST_I), 30)

    assert line.no_overlap and not listed_only.no_overlap
