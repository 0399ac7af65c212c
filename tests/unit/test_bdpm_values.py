"""Reading single BDPM values: prices, rates, dates, encodings."""

import codecs
from datetime import date

import pytest

from eprescription.catalog.bdpm import (
    MalformedLine,
    decode,
    parse_date,
    parse_price,
    parse_rate,
)
from eprescription.domain.errors import CatalogFileRefused


def test_a_price_with_a_decimal_comma_is_read_in_cents():
    assert parse_price("30,36") == 3036


def test_a_price_with_a_thousands_separator_is_read_in_cents():
    assert parse_price("1,466,29") == 146629


def test_a_price_with_a_space_or_a_dot_as_thousands_separator_is_read_in_cents():
    assert parse_price("1 466,29") == 146629
    assert parse_price("12.345,60") == 1234560


def test_an_empty_price_is_no_price():
    assert parse_price("") is None
    assert parse_price("  ") is None


@pytest.mark.parametrize("text", ["abc", "1466.29", "1,4,6", "12,3"])
def test_a_price_that_is_not_euros_and_cents_is_malformed(text):
    with pytest.raises(MalformedLine, match="price"):
        parse_price(text)


@pytest.mark.parametrize(("text", "rate"), [("65%", 65), ("65 %", 65), ("100%", 100), ("", None)])
def test_a_reimbursement_rate_is_read_with_or_without_a_space(text, rate):
    assert parse_rate(text) == rate


def test_a_date_is_read_day_first():
    assert parse_date("16/03/2011") == date(2011, 3, 16)
    assert parse_date("") is None


def test_a_date_that_is_not_day_month_year_is_malformed():
    with pytest.raises(MalformedLine, match="dd/mm/yyyy"):
        parse_date("2011-03-16")


def test_windows_1252_text_is_detected():
    assert decode("Présentation".encode("cp1252"), "f") == ("Présentation", "cp1252")


def test_utf_8_text_is_detected_with_or_without_a_bom():
    text = "Présentation"
    assert decode(text.encode(), "f") == (text, "utf-8")
    assert decode(codecs.BOM_UTF8 + text.encode(), "f") == (text, "utf-8")


def test_a_binary_file_is_refused():
    with pytest.raises(CatalogFileRefused, match="binary"):
        decode(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "CIS_bdpm.txt")
