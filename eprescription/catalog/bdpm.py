"""Reading the BDPM files (ANSM): encodings, columns, quirks and bad lines, without a database."""

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Integer, SmallInteger, String

from eprescription.domain.errors import CatalogFileRefused
from eprescription.models import catalog as tables
from eprescription.models.base import Base

PRODUCTS = "CIS_bdpm.txt"
PRESENTATIONS = "CIS_CIP_bdpm.txt"
COMPOSITIONS = "CIS_COMPO_bdpm.txt"
GENERIC_GROUPS = "CIS_GENER_bdpm.txt"
CONDITIONS = "CIS_CPD_bdpm.txt"
REQUIRED_FILES = (PRODUCTS, PRESENTATIONS, COMPOSITIONS, GENERIC_GROUPS)
ALL_FILES = (*REQUIRED_FILES, CONDITIONS)

WINDOWS_1252 = "cp1252"
UTF_8 = "utf-8"

CIS = re.compile(r"\d{8}")
CIP7 = re.compile(r"\d{7}")
CIP13 = re.compile(r"\d{13}")
# "30,36", "1,466,29" and, in other releases, "1 466,29" or "1.466,29": the last comma is decimal.
PRICE = re.compile(r"(\d{1,3}(?:[,. \u00a0]\d{3})*|\d+),(\d{2})")
RATE = re.compile(r"(\d{1,3})\s*%")
GENERIC_TYPES = frozenset({0, 1, 2, 4})
# The largest value of each integer column type on PostgreSQL (SQLite stores 64 bits).
INTEGER_MAXIMUMS = ((SmallInteger, 2**15 - 1), (BigInteger, 2**63 - 1), (Integer, 2**31 - 1))


class MalformedLine(ValueError):
    """A line that cannot be read; its message is the reason shown to the operator."""


@dataclass(frozen=True)
class SkippedLine:
    """A line left out of the import, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class BdpmFile:
    """The readable rows of one file (line number, column values) and its skipped lines."""

    name: str
    encoding: str
    rows: list[tuple[int, dict]] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)


@dataclass
class Release:
    """A consistent set of BDPM files, each row ready to be stored, bad lines set aside."""

    files: dict[str, BdpmFile]

    def rows(self, name: str) -> list[dict]:
        return [row for _, row in self.files[name].rows] if name in self.files else []

    @property
    def skipped(self) -> list[SkippedLine]:
        lines = [line for bdpm_file in self.files.values() for line in bdpm_file.skipped]
        return sorted(lines, key=lambda line: (ALL_FILES.index(line.file), line.line))


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The text of a file and its encoding: UTF-8 (BOM or not) if it decodes, else Windows-1252."""
    if b"\x00" in data:
        raise CatalogFileRefused(f"{name} is a binary file, not a BDPM text file")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode(UTF_8), UTF_8
        except UnicodeDecodeError as error:
            raise CatalogFileRefused(f"{name} starts as UTF-8 but is not UTF-8 text") from error
    try:
        return data.decode(UTF_8), UTF_8
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(WINDOWS_1252), WINDOWS_1252
    except UnicodeDecodeError as error:
        raise CatalogFileRefused(f"{name} is neither UTF-8 nor Windows-1252 text") from error


def split_lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of each non-blank line; CRLF or LF."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line.split("\t")


def _matched(pattern: re.Pattern, text: str, field: str, meaning: str) -> re.Match | None:
    """`pattern` matched over all of `text` (trimmed); None when blank; MalformedLine ("price
    '…' is not a number of euros") when it does not match."""
    text = text.strip()
    if not text:
        return None
    match = pattern.fullmatch(text)
    if not match:
        raise MalformedLine(f"{field} {text!r} is not {meaning}")
    return match


def parse_price(text: str) -> int | None:
    """A price in euros as the BDPM writes it ("1,466,29") → integer cents (146629)."""
    if (match := _matched(PRICE, text, "price", "a number of euros")) is None:
        return None
    euros = re.sub(r"\D", "", match.group(1))
    return int(euros) * 100 + int(match.group(2))


def parse_rate(text: str) -> int | None:
    """A reimbursement rate ("65%", "65 %") → 65."""
    if (match := _matched(RATE, text, "reimbursement rate", "a percentage")) is None:
        return None
    return int(match.group(1))


def parse_date(text: str) -> date | None:
    """A date written dd/mm/yyyy, or nothing."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError as error:
        raise MalformedLine(f"date {text!r} is not a valid dd/mm/yyyy date") from error


def parse_yes_no(text: str) -> bool | None:
    """Yes or no written oui/non in any case; empty → None."""
    value = text.strip().casefold()
    if not value:
        return None
    if value not in ("oui", "non"):
        raise MalformedLine(f"{text!r} is neither oui nor non")
    return value == "oui"


def parse_int(text: str, what: str, *, required: bool = True) -> int | None:
    text = text.strip()
    if not text and not required:
        return None
    if not (text.isascii() and text.isdigit()):
        raise MalformedLine(f"{what} {text!r} is not a whole number")
    return int(text)


def required(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise MalformedLine(f"{what} is empty")
    return text


def product_row(f: list[str]) -> dict:
    return {
        "cis": cis_code(f[0]),
        "name": required(f[1], "name"),
        "form": f[2].strip(),
        "routes": f[3].strip(),
        "authorisation_status": f[4].strip(),
        "authorisation_procedure": f[5].strip(),
        "marketing_status": f[6].strip(),
        "authorisation_date": parse_date(f[7]),
        "bdm_status": f[8].strip(),
        "eu_authorisation_number": f[9].strip(),
        "holders": f[10].strip(),
        "reinforced_monitoring": bool(parse_yes_no(f[11])),
    }


def presentation_row(f: list[str]) -> dict:
    cip7 = f[1].strip()
    if cip7 and not CIP7.fullmatch(cip7):
        raise MalformedLine(f"CIP7 {cip7!r} is not 7 digits")
    cip13 = f[6].strip()
    if not CIP13.fullmatch(cip13):
        raise MalformedLine(f"CIP13 {cip13!r} is not 13 digits")
    return {
        "cis": cis_code(f[0]),
        "cip7": cip7,
        "label": f[2].strip(),
        "administrative_status": f[3].strip(),
        "marketing_status": f[4].strip(),
        "marketing_date": parse_date(f[5]),
        "cip13": cip13,
        "collectivities_approved": parse_yes_no(f[7]),
        "reimbursement_rate": parse_rate(f[8]),
        "price_cents": parse_price(f[9]),
        "price_with_fees_cents": parse_price(f[10]),
        "dispensing_fees_cents": parse_price(f[11]),
        "reimbursement_indications": f[12].strip() if len(f) > 12 else "",
    }


def composition_row(f: list[str]) -> dict:
    nature = f[6].strip()
    if nature not in ("SA", "FT"):
        raise MalformedLine(f"nature {nature!r} is neither SA nor FT")
    return {
        "cis": cis_code(f[0]),
        "element": f[1].strip(),
        "substance_code": required(f[2], "substance code"),
        "substance_name": required(f[3], "substance name"),
        "strength": f[4].strip(),
        "reference_quantity": f[5].strip(),
        "nature": nature,
        "link_number": parse_int(f[7], "link number", required=False),
    }


def generic_member_row(f: list[str]) -> dict:
    generic_type = parse_int(f[3], "generic type")
    if generic_type not in GENERIC_TYPES:
        raise MalformedLine(f"generic type {generic_type} is not 0, 1, 2 or 4")
    return {
        "group_id": parse_int(f[0], "generic group id"),
        "label": required(f[1], "generic group label"),
        "cis": cis_code(f[2]),
        "generic_type": generic_type,
        "sort_order": parse_int(f[4], "sort order"),
    }


def condition_row(f: list[str]) -> dict:
    return {"cis": cis_code(f[0]), "condition": required(f[1], "condition")}


def cis_code(text: str) -> str:
    text = text.strip()
    if not CIS.fullmatch(text):
        raise MalformedLine(f"CIS {text!r} is not 8 digits")
    return text


@dataclass(frozen=True)
class FileSpec:
    """How to read one file: its columns (the last ones may be missing if optional), and the
    tables its rows go to, whose columns of the same name bound each field."""

    columns: int
    required_columns: int
    parse: Callable[[list[str]], dict]
    tables: tuple[type[Base], ...]


SPECS = {
    PRODUCTS: FileSpec(12, 12, product_row, (tables.Product,)),
    # The reimbursement indications, last, are often cut off with their tab.
    PRESENTATIONS: FileSpec(13, 12, presentation_row, (tables.Presentation,)),
    COMPOSITIONS: FileSpec(8, 8, composition_row, (tables.CompositionLine,)),
    # The group's label goes to GenericGroup, the rest of the line to GenericGroupMember.
    GENERIC_GROUPS: FileSpec(
        5, 5, generic_member_row, (tables.GenericGroupMember, tables.GenericGroup)
    ),
    CONDITIONS: FileSpec(2, 2, condition_row, (tables.PrescribingCondition,)),
}


def field_limits(spec: FileSpec) -> dict[str, int]:
    """The most each field of a row may hold, from its column in the model: characters for a
    String(n), the largest value for an integer. A field with no such column has no limit.

    PostgreSQL refuses a longer value (and with it the whole import) where SQLite would store
    it silently: checking here makes it one skipped line on both.
    """
    limits: dict[str, int] = {}
    for model in reversed(spec.tables):  # the first table that has the column wins
        for column in model.__table__.columns:
            if isinstance(column.type, String) and column.type.length:
                limits[column.key] = column.type.length
            for kind, maximum in INTEGER_MAXIMUMS:
                if isinstance(column.type, kind):
                    limits[column.key] = maximum
                    break
    return limits


def check_limits(row: dict, limits: dict[str, int]) -> dict:
    """`row`, or MalformedLine naming the first field too long (or too large) for its column."""
    for key, value in row.items():
        limit = limits.get(key)
        if limit is None or value is None or isinstance(value, bool):
            continue
        if isinstance(value, str) and len(value) > limit:
            raise MalformedLine(f"field {key!r} is {len(value):,} characters, at most {limit:,}")
        if isinstance(value, int) and value > limit:
            raise MalformedLine(f"field {key!r} is {value:,}, at most {limit:,}")
    return row


def parse_fields(fields: list[str], spec: FileSpec, limits: dict[str, int] | None = None) -> dict:
    """One line's row; trailing empty fields (a trailing tab) are tolerated, other extras not."""
    extra = fields[spec.columns :]
    if any(value.strip() for value in extra) or len(fields) < spec.required_columns:
        plural = "s" if len(fields) > 1 else ""
        raise MalformedLine(f"{len(fields)} column{plural} instead of {spec.columns}")
    row = spec.parse(fields[: spec.columns])
    return check_limits(row, field_limits(spec) if limits is None else limits)


def parse_file(name: str, data: bytes) -> BdpmFile:
    """Read one file's bytes; refuse it if most of its lines are not BDPM lines of that file."""
    spec = SPECS[name]
    limits = field_limits(spec)
    text, encoding = decode(data, name)
    result = BdpmFile(name, encoding)
    for number, fields in split_lines(text):
        try:
            result.rows.append((number, parse_fields(fields, spec, limits)))
        except MalformedLine as error:
            result.skipped.append(SkippedLine(name, number, str(error)))
    if len(result.skipped) > len(result.rows):
        first = result.skipped[0]
        raise CatalogFileRefused(
            f"{name} is not a BDPM file: {len(result.skipped)} of "
            f"{len(result.skipped) + len(result.rows)} lines are unreadable "
            f"(line {first.line}: {first.reason})"
        )
    return result


def read_release(directory: Path, progress: Callable[[str], None] = lambda _: None) -> Release:
    """Read and cross-check the files of `directory`; refuse it if it is not a BDPM release."""
    if not directory.is_dir():
        raise CatalogFileRefused(f"{directory} is not a directory")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise CatalogFileRefused(f"{directory} is not a BDPM release: missing {', '.join(missing)}")
    files = {}
    for name in ALL_FILES:
        path = directory / name
        if path.is_file():
            files[name] = parse_file(name, path.read_bytes())
            progress(
                f"Read {name} ({files[name].encoding}): {len(files[name].rows):,} rows, "
                f"{len(files[name].skipped):,} unreadable lines"
            )
    if not files[PRODUCTS].rows:
        raise CatalogFileRefused(f"{PRODUCTS} holds no product")
    _drop_duplicates(files[PRODUCTS], ("cis",))
    _drop_duplicates(files[PRESENTATIONS], ("cip13",))
    _drop_duplicates(files[GENERIC_GROUPS], ("group_id", "cis"))
    known = {row["cis"] for _, row in files[PRODUCTS].rows}
    for name in ALL_FILES[1:]:
        if name in files:
            _drop_unknown_products(files[name], known)
    return Release(files)


def _drop_duplicates(bdpm_file: BdpmFile, key: tuple[str, ...]) -> None:
    seen: dict[tuple, int] = {}
    kept = []
    for number, row in bdpm_file.rows:
        value = tuple(row[column] for column in key)
        if value in seen:
            bdpm_file.skipped.append(
                SkippedLine(bdpm_file.name, number, f"duplicate of line {seen[value]}")
            )
        else:
            seen[value] = number
            kept.append((number, row))
    bdpm_file.rows = kept


def _drop_unknown_products(bdpm_file: BdpmFile, known: set[str]) -> None:
    kept = []
    for number, row in bdpm_file.rows:
        if row["cis"] in known:
            kept.append((number, row))
        else:
            reason = f"CIS {row['cis']} is not in {PRODUCTS}"
            bdpm_file.skipped.append(SkippedLine(bdpm_file.name, number, reason))
    bdpm_file.rows = kept


@dataclass(frozen=True)
class Subset:
    """The products and generic groups of a demo catalog."""

    cis: frozenset[str]
    group_ids: frozenset[int]


def select_subset(release: Release, brands: Iterable[str]) -> Subset:
    """Marketed products named after `brands`, plus every member of their generic groups."""
    # A brand may carry a strength ("TAHOR 10 mg"); the name must not go on with a letter.
    named = re.compile("|".join(re.escape(brand) + r"(?!\w)" for brand in brands), re.IGNORECASE)
    seeds = {
        row["cis"]
        for row in release.rows(PRODUCTS)
        if named.match(row["name"])
        and row["authorisation_status"] == "Autorisation active"
        and row["marketing_status"] == "Commercialisée"
    }
    members = release.rows(GENERIC_GROUPS)
    group_ids = {row["group_id"] for row in members if row["cis"] in seeds}
    cis = seeds | {row["cis"] for row in members if row["group_id"] in group_ids}
    return Subset(frozenset(cis), frozenset(group_ids))


def write_subset(release: Release, subset: Subset, source: Path, target: Path) -> dict[str, int]:
    """Copy the lines of `subset` from `source` to `target` byte for byte; lines per file."""
    target.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, bdpm_file in release.files.items():
        data = (source / name).read_bytes()
        bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
        raw_lines = data[len(bom) :].split(b"\n")
        numbers = [number for number, row in bdpm_file.rows if _in_subset(name, row, subset)]
        (target / name).write_bytes(bom + b"".join(raw_lines[n - 1] + b"\n" for n in numbers))
        written[name] = len(numbers)
    return written


def _in_subset(name: str, row: dict, subset: Subset) -> bool:
    # Group lines are chosen by group, so that every group in the demo is complete.
    if name == GENERIC_GROUPS:
        return row["group_id"] in subset.group_ids
    return row["cis"] in subset.cis
