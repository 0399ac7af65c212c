"""National and professional identifiers: valid ones come back compact, others with the reason."""

from datetime import date

import pytest

from eprescription.domain import identifiers
from eprescription.domain.errors import InvalidIdentifier

NIR_DIGITS_ONLY = "an NIR has only digits, except 2A or 2B (Corsica) in the 6th and 7th places"


def reason(validate, value) -> str:
    with pytest.raises(InvalidIdentifier) as raised:
        validate(value)
    return raised.value.detail


@pytest.mark.parametrize(
    ("value", "compact"),
    [
        ("2 95 10 99 126 111 93", "295109912611193"),  # python-stdnum's documented example
        ("1 89 07 99 123 456 37", "189079912345637"),
        ("285037505612306", "285037505612306"),
        ("253072B07300470", "253072B07300470"),  # born in Haute-Corse
        ("253072a07300443", "253072A07300443"),  # Corse-du-Sud, typed in lower case
        ("2.85.03.75.056.123.06", "285037505612306"),
    ],
)
def test_a_valid_nir_is_returned_in_compact_form(value, compact):
    assert identifiers.validate_nir(value) == compact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("295109912611112", "the NIR's key should be 93, not 12"),
        ("189079912345612", "the NIR's key should be 37, not 12"),
        ("29510991261119", "an NIR has 15 characters, not 14"),
        ("2951099126111930", "an NIR has 15 characters, not 16"),
        ("253072C07300443", NIR_DIGITS_ONLY),
        ("29510X912611193", NIR_DIGITS_ONLY),
        ("595109912611193", "an NIR starts with 1 or 2 (or 3, 7, 8), not 5"),
        ("", "the NIR is missing"),
        (None, "the NIR is missing"),
    ],
)
def test_an_invalid_nir_is_refused_with_the_reason(value, expected):
    assert reason(identifiers.validate_nir, value) == expected


def test_the_nir_must_agree_with_the_birth_year_and_month():
    assert identifiers.nir_agrees_with_birth_date("285037505612306", date(1985, 3, 12))
    assert not identifiers.nir_agrees_with_birth_date("285037505612306", date(1985, 4, 12))
    assert not identifiers.nir_agrees_with_birth_date("285037505612306", date(1986, 3, 12))


def test_a_nir_with_an_unknown_birth_month_only_has_its_year_compared():
    assert identifiers.nir_agrees_with_birth_date("185997505612345", date(1985, 7, 1))


def test_the_country_chooses_the_national_identifier():
    assert identifiers.validate_national_id("285037505612306", "FR") == "285037505612306"
    assert identifiers.validate_national_id("36805280109", "EE") == "36805280109"
    assert "isikukood" in reason(
        lambda v: identifiers.validate_national_id(v, "EE"), "285037505612306"
    )


@pytest.mark.parametrize("value", ["36805280109", "48503120124", "3 6805280109"])
def test_a_valid_isikukood_is_accepted(value):
    assert identifiers.validate_isikukood(value) == value.replace(" ", "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("36805280108", "the isikukood's check digit should be 9, not 8"),
        ("3680528010", "an isikukood has 11 digits, not 10"),
        ("3680528010A", "an isikukood has only digits"),
        ("36813280109", "the isikukood's first 7 digits are not a valid birth date"),
        ("96805280109", "the isikukood's first 7 digits are not a valid birth date"),
    ],
)
def test_an_invalid_isikukood_is_refused_with_the_reason(value, expected):
    assert reason(identifiers.validate_isikukood, value) == expected


def test_the_birth_date_is_read_from_an_isikukood():
    assert identifiers.isikukood_birth_date("36805280109") == date(1968, 5, 28)


@pytest.mark.parametrize(
    ("value", "compact"),
    [
        ("10001234565", "10001234565"),
        ("100 0123 4565", "10001234565"),
        ("10007654329", "10007654329"),
    ],
)
def test_a_valid_rpps_number_is_accepted(value, compact):
    assert identifiers.validate_rpps(value) == compact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10001234560", "the RPPS number's check digit should be 5, not 0"),
        ("1000123456", "an RPPS number has 11 digits, not 10"),
        ("1000123456A", "an RPPS number has only digits"),
        ("810001234565", "this looks like a national identifier (8 + RPPS): drop the leading 8"),
        ("", "the RPPS number is missing"),
    ],
)
def test_an_invalid_rpps_number_is_refused_with_the_reason(value, expected):
    assert reason(identifiers.validate_rpps, value) == expected


@pytest.mark.parametrize(
    ("value", "compact"),
    [
        ("750712184", "750712184"),
        ("75 000 123 2", "750001232"),
        ("2A0000014", "2A0000014"),
        ("2b0000046", "2B0000046"),
    ],
)
def test_a_valid_finess_number_is_accepted(value, compact):
    assert identifiers.validate_finess(value) == compact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("750712185", "the FINESS number's key should be 4, not 5"),
        ("75071218", "a FINESS number has 9 characters, not 8"),
        ("2C0000014", "a FINESS number has only digits, except 2A or 2B (Corsica) at the start"),
        ("75071218X", "a FINESS number has only digits, except 2A or 2B (Corsica) at the start"),
    ],
)
def test_an_invalid_finess_number_is_refused_with_the_reason(value, expected):
    assert reason(identifiers.validate_finess, value) == expected
