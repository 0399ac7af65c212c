"""One strength, however it is written: "1 g" is "1000 mg", "0,5 g" is "500mg", "5 mg/5 ml"."""

import re
from decimal import Decimal, InvalidOperation

# Each unit: its words (a final "s" aside), then its dimension and its factor to the
# dimension's base unit (µg, ml, UI, hour, dose).
UNIT_TABLE = """
g gramme: mass 1000000
mg milligramme: mass 1000
µg μg ug mcg microgramme: mass 1
ng nanogramme: mass 0.001
l litre: volume 1000
ml millilitre: volume 1
ui u.i. unite unité: units 1
h heure: time 1
dose: dose 1
"""
UNITS = {
    word: (dimension, Decimal(factor))
    for words, dimension, factor in (
        re.fullmatch(r"(.+): (\w+) ([\d.]+)", row).groups()  # type: ignore[union-attr]
        for row in UNIT_TABLE.strip().splitlines()
    )
    for word in words.split()
}
NUMBER = r"\d+(?:[ \u00a0\u202f]\d{3})*(?:[.,]\d+)?"
UNIT = r"[^\W\d_][\w.]*"
STRENGTH = re.compile(
    rf"(?P<amount>{NUMBER})\s*(?P<unit>{UNIT})"
    rf"(?:\s*/\s*(?P<per_amount>{NUMBER})?\s*(?P<per_unit>{UNIT}))?"
)


def _number(text: str) -> Decimal:
    return Decimal(re.sub(r"[ \u00a0\u202f]", "", text).replace(",", "."))


def _unit(word: str) -> tuple[str, Decimal] | None:
    return UNITS.get(word) or UNITS.get(word.removesuffix("s"))


def canonical(strength: str | None) -> tuple[Decimal, str, str] | None:
    """The strength as (amount in the base unit per base unit, dimension, per dimension):
    "1 g", "1000 mg" and "1 000 mg" are one; None for a text this rule does not read (a
    homeopathic dilution, "qsp …", several amounts)."""
    text = " ".join((strength or "").split()).casefold()
    match = STRENGTH.fullmatch(text)
    if match is None:
        return None
    unit = _unit(match["unit"])
    per = _unit(match["per_unit"]) if match["per_unit"] else ("", Decimal(1))
    if unit is None or per is None:
        return None
    try:
        amount = _number(match["amount"]) * unit[1]
        per_amount = _number(match["per_amount"]) if match["per_amount"] else Decimal(1)
        value = amount / (per_amount * per[1])
    except (InvalidOperation, ArithmeticError):
        return None
    return value.normalize(), unit[0], per[0]


def same_strength(a: str | None, b: str | None) -> bool:
    """Whether two strengths are the same: by value when both read ("1 g" = "1000 mg"), else
    as texts (spaces and case aside)."""
    left, right = canonical(a), canonical(b)
    if left is not None and right is not None:
        return left == right
    return " ".join((a or "").split()).casefold() == " ".join((b or "").split()).casefold()
