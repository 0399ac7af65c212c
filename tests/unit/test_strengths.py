"""One strength however it is written (domain/strengths.py): what substitution compares."""

from decimal import Decimal

import pytest

from eprescription.domain import dispensing
from eprescription.domain.strengths import canonical, same_strength


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("1 g", "1000 mg"),
        ("1 g", "1 000 mg"),
        ("500mg", "0,5 g"),
        ("0.5 g", "500 MG"),
        ("100 microgrammes", "0,1 mg"),
        ("50 µg", "50 μg"),  # the micro sign and the Greek mu
        ("50 mcg", "0,05 mg"),
        ("5 mg/ml", "25 mg/5 ml"),
        ("1 g/l", "1 mg/ml"),
        ("50 µg/h", "1,2 mg/24 h"),
        ("10 000 UI", "10000 U.I."),
        ("2,5 milligrammes", "2.5 mg"),
    ],
)
def test_the_same_strength_written_two_ways_is_one(one, other):
    assert same_strength(one, other)
    assert canonical(one) == canonical(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("1 g", "100 mg"), ("5 mg/ml", "5 mg"), ("10 mg", "10 ml"), ("500 mg", "500 UI")],
)
def test_different_strengths_differ(one, other):
    assert not same_strength(one, other)


def test_a_text_the_rule_does_not_read_is_compared_as_text():
    assert canonical("2CH à 30CH et 4DH à 60DH") is None
    assert canonical("qsp 100 mg") is None
    assert canonical("5 mg/0 ml") is None
    assert same_strength("4CH à 30CH", " 4ch  à 30CH")
    assert not same_strength("4CH à 30CH", "5CH à 30CH")
    assert canonical("1 g") == (Decimal(1_000_000), "mass", "")


def test_a_pack_of_1000_mg_is_given_for_a_line_of_1_g():
    line = dispensing.PrescribedLine(None, "1234", "1 g", "comprimé")
    pack = dispensing.Pack(
        "3400000000001", "60000001", "comprimé", frozenset({("1234", "1000 mg")}), frozenset()
    )

    assert dispensing.check_pack(line, pack, frozenset()).accepted
