"""The GS1 DataMatrix of French medicine packs, read with python-stdnum's gs1_128."""

import calendar
import re
from dataclasses import dataclass
from datetime import date

from stdnum import ean, gs1_128
from stdnum.exceptions import ValidationError

from eprescription.domain.errors import InvalidGs1Code
from eprescription.domain.messages import Message

GS = "\x1d"  # FNC1 as a scanner transmits it between variable-length fields
# What keyboard-wedge scanners and people type for GS when the real character cannot pass.
GS_ALIASES = ("\u241d", "<GS>", "<gs>")
SYMBOLOGY_PREFIXES = ("]d2", "]C1", "]Q3", "]e0")
CIP13_PREFIX = "3400"
MAX_LENGTH = 128
BRACKETED = re.compile(r"\((\d{2,4})\)([^(]*)")
# GS1 character set 82, the only characters a batch (10) or a serial (21) may hold.
CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")
# In the pharmacist's words: what is wrong with the box's code, never application identifiers.
UNREADABLE = (
    "pack_code_unreadable",
    "This code is not the code of a medicine box: scan the box's DataMatrix again "
    "or type its CIP13.",
)
NOT_A_MEDICINE = (
    "pack_code_not_a_medicine",
    "This code is not a French medicine box's code (its CIP13 starts with 3400).",
)
NO_PRODUCT = (
    "pack_code_no_product",
    "This code does not say which medicine is in the box: scan the DataMatrix, not another code.",
)
BAD_EXPIRY = (
    "pack_code_bad_expiry",
    "The expiry date in the box's code is not a date: type the expiry printed on the box.",
)
BAD_BATCH = (
    "pack_code_bad_batch",
    "The batch in the box's code cannot be read: type the batch printed on the box.",
)
EMPTY = ("pack_code_empty", "Scan the box's DataMatrix or type its CIP13.")
BATCH_AND_SERIAL = (("10", BAD_BATCH), ("21", UNREADABLE))


@dataclass(frozen=True)
class PackCode:
    gtin: str
    cip13: str
    expiry: date | None
    batch: str | None
    serial: str | None


def _refused(message: tuple[str, str]) -> InvalidGs1Code:
    return InvalidGs1Code(Message(*message))


def parse(text: str | None) -> PackCode:
    """Read a GS1 element string as printed in a French pack's DataMatrix.

    Accepts the raw scanner output (optional symbology identifier, FNC1/GS separators) and the
    human-readable form with AIs in brackets, with any application identifier GS1 defines
    (French boxes carry more than 01/17/10/21, e.g. an NHRN); refuses anything else with
    InvalidGs1Code in the pharmacist's words.
    """
    elements = _elements(text)
    gtin = elements.get("01")
    if not isinstance(gtin, str):
        raise _refused(NO_PRODUCT)
    if not gtin.isdigit() or not ean.is_valid(gtin):
        raise _refused(UNREADABLE)
    if not (gtin.startswith("0") and gtin[1:].startswith(CIP13_PREFIX)):
        raise _refused(NOT_A_MEDICINE)
    expiry = elements.get("17")
    if expiry is not None and not isinstance(expiry, date):
        raise _refused(BAD_EXPIRY)
    batch, serial = (_text(elements.get(ai), problem) for ai, problem in BATCH_AND_SERIAL)
    return PackCode(gtin, gtin[1:], expiry, batch, serial)


def _text(value: object, problem: tuple[str, str]) -> str | None:
    """A batch or serial as GS1 allows it (character set 82), or refused with `problem`."""
    if value is None:
        return None
    if not (isinstance(value, str) and CSET82.fullmatch(value)):
        raise _refused(problem)
    return value


def _elements(text: str | None) -> dict[str, object]:
    """The application identifiers and their values, read by gs1_128.info with GS as FNC1."""
    raw = (text or "").strip()
    if not raw:
        raise _refused(EMPTY)
    if len(raw) > MAX_LENGTH:
        raise _refused(UNREADABLE)
    for prefix in SYMBOLOGY_PREFIXES:
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
            break
    for alias in GS_ALIASES:
        raw = raw.replace(alias, GS)
    if raw.startswith("("):
        raw = _unbracketed(raw)
    raw = raw.strip(GS)
    try:
        elements = gs1_128.info(raw, separator=GS)
    except ValidationError as error:
        raise _refused(UNREADABLE) from error
    except ValueError as error:  # a date that does not exist (only dates are parsed so)
        raise _refused(BAD_EXPIRY) from error
    # An element given twice is read once by info(): what was read is then shorter than what
    # was sent, and the box's code is ambiguous.
    try:
        read = gs1_128.encode(elements, separator=GS)
    except ValueError as error:
        raise _refused(UNREADABLE) from error
    if len(read.replace(GS, "")) != len(raw.replace(GS, "")) or any(
        value == "" for value in elements.values()
    ):
        raise _refused(UNREADABLE)
    return elements


def _unbracketed(raw: str) -> str:
    """(01)…(17)…(10)… as the element string a scanner sends (GS after each value)."""
    parts = BRACKETED.findall(raw)
    if not parts or "".join(f"({ai}){value}" for ai, value in parts) != raw:
        raise _refused(UNREADABLE)
    return GS.join(ai + value for ai, value in parts)


PRINTED_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
PRINTED_MONTH = (  # month/year as printed on boxes (07/2027), or year-month (2027-07)
    (re.compile(r"([0-9]{1,2})/([0-9]{4})"), (2, 1)),
    (re.compile(r"([0-9]{4})-([0-9]{1,2})"), (1, 2)),
)


def printed_expiry(text: str) -> date:
    """An expiry as typed from the box: YYYY-MM-DD, or the month printed on it (MM/YYYY or
    YYYY-MM), which means the last day of that month, as GS1's day 00 does; ValueError for
    anything else (a day that does not exist included)."""
    if day := PRINTED_DAY.fullmatch(text):
        return date(*(int(part) for part in day.groups()))
    for pattern, (year_at, month_at) in PRINTED_MONTH:
        if month := pattern.fullmatch(text):
            year, number = int(month.group(year_at)), int(month.group(month_at))
            return date(year, number, calendar.monthrange(year, number)[1])
    raise ValueError(text)
