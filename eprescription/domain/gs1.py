"""The GS1 DataMatrix of French medicine packs: GTIN-14 (→ CIP13), expiry, batch, serial."""

import calendar
import re
from dataclasses import dataclass
from datetime import date

from stdnum import ean

from eprescription.domain.errors import InvalidGs1Code

GS = "\x1d"  # FNC1 as a scanner transmits it between variable-length fields
# What keyboard-wedge scanners and people type for GS when the real character cannot pass.
GS_ALIASES = ("\u241d", "<GS>", "<gs>")
SYMBOLOGY_PREFIXES = ("]d2", "]C1", "]Q3", "]e0")
FIXED = {"01": 14, "17": 6}  # AIs whose length is fixed
VARIABLE = {"10": 20, "21": 20}  # AIs ended by GS or the end, with their longest length
CIP13_PREFIX = "3400"
MAX_LENGTH = 128
# GS1 character set 82, the only characters AIs 10 and 21 may hold.
CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")


@dataclass(frozen=True)
class PackCode:
    gtin: str
    cip13: str
    expiry: date | None
    batch: str | None
    serial: str | None


def parse(text: str | None) -> PackCode:
    """Read a GS1 element string as printed in a French pack's DataMatrix.

    Accepts the raw scanner output (optional symbology identifier, FNC1/GS separators) and the
    human-readable form with AIs in brackets; refuses anything else with InvalidGs1Code.
    """
    elements = _elements(text)
    if "01" not in elements:
        raise InvalidGs1Code("The code has no GTIN (AI 01).")
    gtin = elements["01"]
    if not gtin.isdigit() or not ean.is_valid(gtin):
        raise InvalidGs1Code(f"The GTIN {gtin} is not valid (check digit).")
    if not (gtin.startswith("0") and gtin[1:].startswith(CIP13_PREFIX)):
        raise InvalidGs1Code(f"The GTIN {gtin} is not a French medicine pack (CIP13 3400…).")
    expiry = _expiry(elements["17"]) if "17" in elements else None
    for ai in ("10", "21"):
        value = elements.get(ai)
        if value is not None and not CSET82.fullmatch(value):
            raise InvalidGs1Code(f"AI {ai} holds characters GS1 does not allow.")
    return PackCode(gtin, gtin[1:], expiry, elements.get("10"), elements.get("21"))


def _elements(text: str | None) -> dict[str, str]:
    raw = (text or "").strip()
    if not raw:
        raise InvalidGs1Code("The GS1 code is empty.")
    if len(raw) > MAX_LENGTH:
        raise InvalidGs1Code("This text is too long to be a medicine pack's GS1 code.")
    for prefix in SYMBOLOGY_PREFIXES:
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
            break
    if raw.startswith("("):
        return _bracketed(raw)
    for alias in GS_ALIASES:
        raw = raw.replace(alias, GS)
    raw = raw.lstrip(GS)
    elements: dict[str, str] = {}
    position = 0
    while position < len(raw):
        ai = raw[position : position + 2]
        position += 2
        if ai in FIXED:
            value = raw[position : position + FIXED[ai]]
            if len(value) != FIXED[ai] or GS in value:
                raise InvalidGs1Code(f"AI {ai} needs {FIXED[ai]} characters (truncated?).")
            position += FIXED[ai]
            if raw[position : position + 1] == GS:  # tolerated, though not needed
                position += 1
        elif ai in VARIABLE:
            end = raw.find(GS, position)
            end = len(raw) if end < 0 else end
            value = raw[position:end]
            position = end + 1
            if not value or len(value) > VARIABLE[ai]:
                raise InvalidGs1Code(f"AI {ai} holds 1 to {VARIABLE[ai]} characters.")
        else:
            raise InvalidGs1Code(
                f"Unexpected application identifier {ai!r}: a medicine pack carries "
                "01 (GTIN), 17 (expiry), 10 (batch) and 21 (serial)."
            )
        if ai in elements:
            raise InvalidGs1Code(f"AI {ai} appears twice.")
        elements[ai] = value
    return elements


def _bracketed(raw: str) -> dict[str, str]:
    parts = re.findall(r"\((\d{2})\)([^(]*)", raw)
    if not parts or "".join(f"({ai}){value}" for ai, value in parts) != raw:
        raise InvalidGs1Code("Could not read the bracketed application identifiers.")
    elements: dict[str, str] = {}
    for ai, value in parts:
        limit = FIXED.get(ai) or VARIABLE.get(ai)
        if limit is None:
            raise InvalidGs1Code(f"Unexpected application identifier {ai!r}.")
        if (ai in FIXED and len(value) != limit) or not value or len(value) > limit:
            raise InvalidGs1Code(f"AI {ai} has the wrong length.")
        if ai in elements:
            raise InvalidGs1Code(f"AI {ai} appears twice.")
        elements[ai] = value
    return elements


def _expiry(value: str) -> date:
    """YYMMDD; a day of 00 means the last day of the month (GS1 General Specifications)."""
    if not value.isdigit():
        raise InvalidGs1Code("The expiry date (AI 17) is YYMMDD digits.")
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:])
    if not 1 <= month <= 12:
        raise InvalidGs1Code(f"The expiry date {value} has no month {month}.")
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        raise InvalidGs1Code(f"The expiry date {value} is not a date.")
    return date(year, month, day)
