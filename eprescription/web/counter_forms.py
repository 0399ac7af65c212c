"""The counter's forms read through the pharmacy API's schemas (web/forms.py): each form shaped
as the API's body, and the refusals (the schema's or the service's) put back by its fields."""

import re
from collections.abc import Mapping

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from eprescription.domain import dispensing as rules
from eprescription.domain import gs1
from eprescription.domain.messages import Message
from eprescription.schemas.coded import CodedSchema
from eprescription.schemas.dispensing import CardLookupRequestSchema, DispenseSchema, ScanSchema

INPUT_MAX = 256  # longer than any QR text, number, NIR or GS1 string we accept
LINE_FIELD = re.compile(r"lines-([0-9]{1,2})-(pack|quantity|batch|expiry)")
LINE_FIELDS = ("pack", "quantity", "batch", "expiry")
SCAN_FIELDS = tuple(ScanSchema._declared_fields)
# The collector's fields on the page, by their name in the API's collected_by.
COLLECTOR_FIELDS = {
    "kind": "collected_kind",
    "national_id": "collected_national_id",
    "name": "collected_name",
}
CIP13_LENGTH = 13
DIGITS_MAX = 18  # a whole number typed in a form; longer stays text, which the schema refuses
VERSION_MAX = 2**31  # a prescription version; far below what canonical JSON can carry (2**53)
PRESENTERS = (rules.PATIENT, rules.REPRESENTATIVE)
PRESENTER_NIR_REQUIRED = Message(
    "presenter_nir_required", "a representative at the counter: their NIR, from their own card"
)


def _whole(text: str) -> int | str:
    """A whole number typed in a form as the number a JSON body would carry; anything else as
    typed, for the schema to refuse ('²', '1.5', 'x')."""
    if text.isascii() and text.isdigit() and len(text) <= DIGITS_MAX:
        return int(text)
    return text


def typed(form: Mapping[str, str], limit: int | None = INPUT_MAX) -> dict:
    """The dispensing form as typed, per prescription line: shown again with its errors (cut
    at `limit`), or read whole (`limit` None) for the schema."""
    lines: dict[int, dict] = {}
    for key, value in form.items():
        if match := LINE_FIELD.fullmatch(key):
            line = lines.setdefault(int(match.group(1)), dict.fromkeys(LINE_FIELDS, ""))
            line[match.group(2)] = value[:limit].strip()
    shown = {page: form.get(page, "")[:limit].strip() for page in COLLECTOR_FIELDS.values()}
    return {
        "lines": dict(sorted(lines.items())),
        **shown,
        "collected_kind": shown["collected_kind"] or rules.PATIENT,
    }


def given_lines(values: dict) -> list[int]:
    """The prescription lines the form gives a pack for, in the order the body sends them."""
    return [number for number, line in values["lines"].items() if line["pack"]]


def _pack_line(number: int, line: dict) -> dict:
    """A line of the form as a PackLineSchema line: its pack is a CIP13 (digits, 13 of them
    or too few) or the box's scanned DataMatrix text."""
    pack = line["pack"]
    is_cip13 = len(pack) <= CIP13_LENGTH and pack.isascii() and pack.isdigit()
    body = {
        "line": number,
        "cip13" if is_cip13 else "gs1": pack,
        "quantity": _whole(line["quantity"]),
        "batch": line["batch"],
        "expiry": line["expiry"],
    }
    return {name: value for name, value in body.items() if value != ""}


class DispenseForm(DispenseSchema):
    """The dispensing form: the API's dispensation, with what the API carries in headers (the
    version read, for If-Match; the Idempotency-Key) as hidden fields."""

    version = fields.Integer(strict=True, validate=validate.Range(min=1, max=VERSION_MAX))
    idempotency_key = fields.String(validate=validate.Length(max=INPUT_MAX))

    @pre_load
    def _as_the_api_body(self, data, **_):
        values = typed(data, limit=None)
        body = {name: data[name] for name in (*SCAN_FIELDS, "idempotency_key") if name in data}
        if "version" in data:
            body["version"] = _whole(data["version"])
        body["lines"] = [
            _pack_line(number, values["lines"][number]) for number in given_lines(values)
        ]
        collector = {api: values[page] for api, page in COLLECTOR_FIELDS.items()}
        body["collected_by"] = {api: value for api, value in collector.items() if value}
        return body


class CardForm(CardLookupRequestSchema):
    """The card lookup, with who is at the counter: the patient, or a representative whose
    own NIR is then required (and only then read)."""

    presenter = fields.String(load_default=rules.PATIENT, validate=validate.OneOf(PRESENTERS))

    @pre_load
    def _presenter_nir_of_a_representative(self, data, **_):
        if data.get("presenter") == rules.REPRESENTATIVE:
            return data
        return {name: value for name, value in data.items() if name != "presenter_nir"}

    @validates_schema
    def _representative_identified(self, data, **_):
        if data["presenter"] == rules.REPRESENTATIVE and "presenter_nir" not in data:
            raise ValidationError(PRESENTER_NIR_REQUIRED, "presenter_nir")


class PackCodeForm(CodedSchema):
    """A box's code read back for the dispensing form (what PackLineSchema's gs1 takes); an
    empty one is the service's to explain."""

    code = fields.String(load_default="", validate=validate.Length(max=gs1.MAX_LENGTH))


def _add(errors: dict, path: tuple, messages) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).extend(messages)


def page_errors(errors: dict, numbers: list[int]) -> dict:
    """The refusals of a dispensation (the schema's or the service's, by the API's fields and
    the index of each line sent) by the fields of the form (per prescription line)."""
    shown: dict = {}
    for key, value in errors.items():
        if key == "lines" and isinstance(value, dict):
            for index, line in value.items():
                if not isinstance(line, dict):
                    _add(shown, ("lines_form",), line)
                    continue
                for field, messages in line.items():
                    name = field if field in ("batch", "expiry", "quantity") else "pack"
                    _add(shown, ("lines", numbers[int(index)], name), messages)
        elif key == "lines":
            _add(shown, ("lines_form",), value)
        elif key == "collected_by" and isinstance(value, dict):
            for field, messages in value.items():
                _add(shown, (COLLECTOR_FIELDS.get(field, "collected_kind"),), messages)
        elif key == "collected_by":
            _add(shown, ("collected_kind",), value)
        else:  # the hidden fields (how it was opened, version, key): said above the form
            _add(shown, ("form",), value if isinstance(value, list) else [value])
    return shown
