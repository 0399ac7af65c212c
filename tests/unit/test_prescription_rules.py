"""Prescription rules without a database: lifecycle, validity, items, codes, QR text."""

import itertools
import random
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag

from eprescription import qr
from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import (
    IllegalTransition,
    InvalidPrescriptionNumber,
    InvalidQrCode,
    PrescriptionCancelled,
    PrescriptionCompleted,
    PrescriptionExpired,
    PrescriptionNotCancellable,
)
from eprescription.domain.prescriptions import ItemDraft, LineState, Problems, Status

ISSUED = date(2026, 1, 31)


def line(number, total=2, dispensed=0, cancelled=False):
    return LineState(number, total, dispensed, cancelled)


# -- lifecycle --------------------------------------------------------------------------------


def test_an_active_prescription_can_be_cancelled_dispensed_or_expire():
    for target in (Status.CANCELLED, Status.PARTIALLY_DISPENSED, Status.COMPLETED, Status.EXPIRED):
        assert rules.transition(Status.ACTIVE, target) is target


def test_a_cancelled_prescription_cannot_be_dispensed():
    with pytest.raises(PrescriptionCancelled):
        rules.transition(Status.CANCELLED, Status.COMPLETED)
    with pytest.raises(PrescriptionCancelled):
        rules.ensure_allowed("pharmacist", rules.Action.DISPENSE, Status.CANCELLED)


def test_an_expired_prescription_cannot_be_cancelled():
    with pytest.raises(PrescriptionExpired):
        rules.ensure_allowed("prescriber", rules.Action.CANCEL, Status.EXPIRED)


def test_a_completed_prescription_cannot_move_again():
    with pytest.raises(PrescriptionCompleted):
        rules.transition(Status.COMPLETED, Status.CANCELLED)


def test_a_partially_dispensed_prescription_cannot_become_cancelled_as_a_whole():
    with pytest.raises(IllegalTransition) as refused:
        rules.transition(Status.PARTIALLY_DISPENSED, Status.CANCELLED)
    assert refused.value.code == "illegal_transition"


def test_an_open_prescription_reads_as_expired_the_day_after_valid_until():
    until = date(2026, 4, 30)
    assert rules.effective_status("active", until, until) is Status.ACTIVE
    assert rules.effective_status("active", until, date(2026, 5, 1)) is Status.EXPIRED
    assert rules.effective_status("cancelled", until, date(2027, 1, 1)) is Status.CANCELLED


def test_a_patient_cannot_cancel_and_a_pharmacist_cannot_show_the_qr_code():
    with pytest.raises(rules.PrescriptionConflict):
        rules.ensure_allowed("patient", rules.Action.CANCEL, Status.ACTIVE)
    with pytest.raises(rules.PrescriptionConflict):
        rules.ensure_allowed("pharmacist", rules.Action.VIEW_QR, Status.ACTIVE)


def test_cancelling_everything_takes_only_the_lines_with_nothing_dispensed():
    lines = [line(1, dispensed=1), line(2), line(3, cancelled=True)]

    assert rules.lines_to_cancel(Status.PARTIALLY_DISPENSED, lines, None) == [2]


def test_a_dispensed_or_unknown_line_cannot_be_cancelled_and_all_reasons_are_given():
    lines = [line(1, dispensed=1), line(2)]

    with pytest.raises(PrescriptionNotCancellable) as refused:
        rules.lines_to_cancel(Status.ACTIVE, lines, [1, 7])
    assert len(refused.value.errors["lines"]) == 2


@pytest.mark.parametrize("status", ["active", "partially_dispensed"])
def test_an_open_prescription_can_be_cancelled_while_a_line_has_nothing_dispensed(status):
    assert rules.line_cancellable(status, line(1))
    assert not rules.line_cancellable(status, line(1, dispensed=1))
    assert not rules.line_cancellable(status, line(1, cancelled=True))
    assert rules.cancellable(status, [line(1, dispensed=1), line(2)])
    assert not rules.cancellable(status, [line(1, dispensed=1), line(2, cancelled=True)])


@pytest.mark.parametrize("status", ["completed", "cancelled", "expired"])
def test_a_closed_prescription_cannot_be_cancelled_even_with_untouched_lines(status):
    assert not rules.line_cancellable(status, line(1))
    assert not rules.cancellable(status, [line(1), line(2)])


def test_what_can_be_cancelled_is_what_cancelling_everything_takes():
    lines = [line(1, dispensed=1), line(2), line(3, cancelled=True), line(4)]

    taken = rules.lines_to_cancel(Status.PARTIALLY_DISPENSED, lines, None)

    assert taken == [n.line for n in lines if rules.line_cancellable("partially_dispensed", n)]


def test_the_status_after_cancelling_follows_the_lines():
    assert rules.status_from_lines([line(1, cancelled=True)]) is Status.CANCELLED
    assert rules.status_from_lines([line(1, cancelled=True), line(2)]) is Status.ACTIVE
    assert rules.status_from_lines([line(1, cancelled=True), line(2, 2, 2)]) is Status.COMPLETED
    assert rules.status_from_lines([line(1, cancelled=True), line(2, 2, 1)]) is (
        Status.PARTIALLY_DISPENSED
    )


def test_renewals_multiply_the_quantity_that_may_be_dispensed():
    assert rules.total_quantity(2, 0) == 2
    assert rules.total_quantity(2, 3) == 8


# -- validity ---------------------------------------------------------------------------------


def check_validity(valid_from=None, valid_until=None, renewals=0):
    problems = Problems()
    return rules.validity(problems, ISSUED, valid_from, valid_until, renewals), problems.errors


def test_validity_defaults_to_three_months_from_the_issue_date_at_the_month_end():
    validity, errors = check_validity()

    assert errors == {}
    assert (validity.valid_from, validity.valid_until) == (ISSUED, date(2026, 4, 30))


def test_more_than_three_months_is_refused_without_renewals_and_allowed_with():
    _, errors = check_validity(valid_until=date(2026, 6, 1))
    assert "valid_until" in errors

    validity, errors = check_validity(valid_until=date(2027, 1, 31), renewals=3)
    assert errors == {} and validity.renewals == 3


def test_more_than_twelve_months_is_refused_even_with_renewals():
    _, errors = check_validity(valid_until=date(2027, 2, 1), renewals=11)
    assert "valid_until" in errors


def test_renewals_out_of_range_and_backdated_start_are_all_reported_at_once():
    _, errors = check_validity(valid_from=date(2026, 1, 1), renewals=12)
    assert set(errors) == {"renewals", "valid_from"}


def test_valid_until_before_valid_from_is_refused():
    _, errors = check_validity(valid_from=date(2026, 2, 10), valid_until=date(2026, 2, 9))
    assert "valid_until" in errors


# -- items ------------------------------------------------------------------------------------


def item_errors(**fields):
    draft = {"cis": "60234100", "dosage_text": "1 comprimé le soir", "quantity": 1} | fields
    problems = Problems()
    rules.check_item(problems, 0, ItemDraft(**draft))
    return problems.errors.get("items", {}).get(0, {})


def test_a_plain_product_line_is_accepted():
    assert item_errors() == {}


def test_quantity_zero_negative_or_absurd_is_refused():
    for quantity in (0, -1, rules.QUANTITY_MAX + 1, None):
        assert "quantity" in item_errors(quantity=quantity)


def test_a_line_needs_dosage_instructions():
    assert "dosage_text" in item_errors(dosage_text="   ")


def test_non_substitution_needs_one_of_the_french_reasons():
    assert "non_substitution_reason" in item_errors(substitutable=False)
    assert "non_substitution_reason" in item_errors(
        substitutable=False, non_substitution_reason="X"
    )
    assert item_errors(substitutable=False, non_substitution_reason="MTE") == {}
    assert "non_substitution_reason" in item_errors(non_substitution_reason="CIF")


def test_a_substance_line_needs_strength_and_form_and_is_always_substitutable():
    errors = item_errors(cis=None, substance_code="2202", strength="500 mg")
    assert "form" in errors
    errors = item_errors(
        cis=None,
        substance_code="2202",
        strength="500 mg",
        form="comprimé",
        substitutable=False,
        non_substitution_reason="MTE",
    )
    assert "substitutable" in errors


def test_a_line_naming_both_product_and_substance_is_refused():
    assert "medication" in item_errors(substance_code="2202", strength="1 g", form="comprimé")


def test_structured_dosage_out_of_range_is_refused():
    errors = item_errors(dose="0", frequency_per_day=25, duration_days=0)
    assert set(errors) == {"dose", "frequency_per_day", "duration_days"}


# -- the number and the access code ----------------------------------------------------------


def test_a_new_number_is_valid_and_uses_only_unambiguous_characters():
    for _ in range(200):
        number = codes.new_number()
        assert codes.validate_number(number) == number
        assert set(number) <= set(codes.NUMBER_ALPHABET)


def test_the_number_is_read_back_from_its_grouped_lowercase_form():
    number = codes.new_number()
    shown = codes.display_number(number)

    assert shown.count("-") == 2
    assert codes.validate_number(f" {shown.lower()} ") == number


def test_the_check_character_catches_every_single_character_typo():
    rng = random.Random(3)
    for _ in range(30):
        number = codes.new_number()
        for position, wrong in itertools.product(range(len(number)), codes.NUMBER_ALPHABET):
            if wrong == number[position]:
                continue
            typo = number[:position] + wrong + number[position + 1 :]
            with pytest.raises(InvalidPrescriptionNumber):
                codes.validate_number(typo)
        rng.random()


def test_the_check_character_catches_every_adjacent_transposition():
    for _ in range(300):
        number = codes.new_number()
        for position in range(len(number) - 1):
            a, b = number[position], number[position + 1]
            if a == b:
                continue
            swapped = number[:position] + b + a + number[position + 2 :]
            with pytest.raises(InvalidPrescriptionNumber):
                codes.validate_number(swapped)


def test_a_number_of_the_wrong_length_is_refused_with_a_clear_reason():
    with pytest.raises(InvalidPrescriptionNumber, match="11 characters"):
        codes.validate_number("ABC")


def test_the_access_code_has_128_bits_and_only_its_hash_matches():
    code = codes.new_access_code()
    stored = codes.hash_access_code(code)

    assert len(code) == 26 and codes.is_well_formed_access_code(code)
    assert codes.access_code_matches(code, stored)
    assert not codes.access_code_matches(codes.new_access_code(), stored)
    assert code not in stored


def test_a_sealed_access_code_opens_only_with_its_number_and_secret():
    code, number = codes.new_access_code(), codes.new_number()
    sealed = codes.seal_access_code(code, number, b"k" * 32)

    assert codes.open_access_code(sealed, number, b"k" * 32) == code
    with pytest.raises(InvalidTag):
        codes.open_access_code(sealed, codes.new_number(), b"k" * 32)


# -- the QR text ------------------------------------------------------------------------------


def test_the_qr_text_round_trips():
    number, code = codes.new_number(), codes.new_access_code()

    token = qr.decode(qr.encode(number, code))

    assert (token.number, token.access_code) == (number, code)


def test_the_qr_text_as_a_wedge_scanner_types_it_is_accepted():
    number, code = codes.new_number(), codes.new_access_code()

    assert qr.decode(qr.encode(number, code).lower() + "\r\n").number == number


@pytest.mark.parametrize(
    "garbage",
    ["", "hello", "EP2.ABC.DEF", "EP1.", "EP1.0123456789A", "x" * 500, "EP1.A.B.C"],
)
def test_garbage_qr_text_is_refused(garbage):
    with pytest.raises(InvalidQrCode):
        qr.decode(garbage)


def test_truncated_or_mistyped_qr_text_is_refused():
    text = qr.encode(codes.new_number(), codes.new_access_code())

    for cut in range(1, len(text)):
        with pytest.raises(InvalidQrCode):
            qr.decode(text[:cut])
