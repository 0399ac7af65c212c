"""The GS1 DataMatrix of French packs: what scanners send, and what is refused."""

from datetime import date

import pytest
from stdnum import ean

from eprescription.domain import gs1
from eprescription.domain.errors import InvalidGs1Code

CIP13 = "340093000001" + ean.calc_check_digit("340093000001")
GTIN = "0" + CIP13


def test_a_scanner_string_with_fnc1_separators_gives_cip13_expiry_batch_and_serial():
    pack = gs1.parse(f"]d201{GTIN}17280531" + f"10AB12C{gs1.GS}21SN0001")
    assert pack == gs1.PackCode(GTIN, CIP13, date(2028, 5, 31), "AB12C", "SN0001")


def test_the_order_of_elements_and_the_bracketed_form_do_not_matter():
    raw = gs1.parse(f"01{GTIN}21SN0001{gs1.GS}17280500{gs1.GS}10AB12C")
    bracketed = gs1.parse(f"(01){GTIN}(17)280500(10)AB12C(21)SN0001")
    assert raw == bracketed
    assert raw.expiry == date(2028, 5, 31)  # day 00: the end of the month


def test_a_gs_typed_as_a_placeholder_is_understood():
    assert gs1.parse(f"01{GTIN}10LOT1<GS>17280101").batch == "LOT1"


def test_a_real_french_box_with_more_application_identifiers_is_read():
    # Boxes carry more than 01/17/10/21: a national healthcare reimbursement number (710…714),
    # a company's internal data (91…99).
    scanned = f"01{GTIN}17280300" + f"10LOT7{gs1.GS}21SER9{gs1.GS}710{CIP13}{gs1.GS}91INTERNE"
    bracketed = f"(01){GTIN}(17)280300(10)LOT7(21)SER9(710){CIP13}(91)INTERNE"
    expected = gs1.PackCode(GTIN, CIP13, date(2028, 3, 31), "LOT7", "SER9")
    assert gs1.parse(scanned) == gs1.parse(bracketed) == expected


def test_the_refusals_speak_of_the_box_not_of_application_identifiers():
    for text in (f"01{GTIN[:-1]}9", "0105012345678900", f"01{GTIN}17280230", "17280101"):
        with pytest.raises(InvalidGs1Code) as refused:
            gs1.parse(text)
        assert "box" in refused.value.detail
        assert "AI" not in refused.value.detail and "identifier" not in refused.value.detail


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        f"01{GTIN[:-1]}",  # truncated GTIN
        f"01{GTIN[:-1]}9",  # wrong check digit
        "0105012345678900",  # not a French pack
        f"01{GTIN}171313",  # month 13
        f"01{GTIN}17280230",  # 30 February
        f"01{GTIN}10",  # empty batch
        f"01{GTIN}10{'X' * 21}",  # batch too long
        f"01{GTIN}23ABC",  # an application identifier GS1 does not define
        f"01{GTIN}01{GTIN}",  # twice
        f"17280101{gs1.GS}10AB",  # no GTIN
        f"(01){GTIN}(10)",
    ],
)
def test_malformed_strings_are_refused_with_a_clear_error(text):
    with pytest.raises(InvalidGs1Code) as refused:
        gs1.parse(text)
    assert refused.value.code == "invalid_gs1_code"
    assert refused.value.detail
