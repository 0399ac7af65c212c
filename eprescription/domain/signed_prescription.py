"""The signature is the truth: a prescription as its signed documents say, compared with the
row that stores it, every disagreement named (pure; docs/signing.md)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from eprescription.domain.dispensing import LineProgress, PrescribedLine
from eprescription.domain.dispensing_periods import LineRules
from eprescription.domain.messages import Message
from eprescription.domain.prescribing_conditions import from_items
from eprescription.domain.prescriptions import (
    LineState,
    Status,
    effective_status,
    status_from_lines,
    today_of,
)

PRESCRIPTION_TYPE = "eprescription.prescription"
CANCELLATION_TYPE = "eprescription.cancellation"
RECEIPT_TYPE = "eprescription.dispensation"
REVERSAL_TYPE = "eprescription.dispensation_reversal"
PICKUP_CHOICE_TYPE = "eprescription.pickup_choice"
VERSION = 1
# The columns of a line that repeat its signed content, as `_item_columns` reads them.
ITEM_FIELDS = (
    "cis",
    "substance_code",
    "strength",
    "form",
    "medication_name",
    "dosage_text",
    "dose",
    "dose_unit",
    "frequency_per_day",
    "duration_days",
    "quantity",
    "substitutable",
    "non_substitution_reason",
    "ald",
)
RECEIPT_LINE_FIELDS = (
    "line",
    "period",
    "cip13",
    "substituted",
    "quantity",
    "batch",
    "expiry",
    "serial",
    "unit_price_cents",
    "total_cents",
    "reimbursement_rate",
    "covered_cents",
    "patient_share_cents",
)
# The texts of the signed parties that faces show, by path (no column repeats these words).
SIGNED_TEXTS = (
    ("patient", "given_name"),
    ("patient", "family_name"),
    ("patient", "identifier", "system"),
    ("patient", "identifier", "value"),
    ("prescriber", "given_name"),
    ("prescriber", "family_name"),
    ("prescriber", "rpps"),
)
NOT_OURS = Message(
    "signed_not_ours", "the signed content is not a prescription as this service signs them"
)
CANNOT_BE_VERIFIED = Message("cannot_be_verified", "it cannot be verified")
MALFORMED = (KeyError, TypeError, AttributeError, ValueError)  # content of another shape


def iso_seconds(moment: datetime) -> str:
    """A UTC time as signed documents write it: 2026-11-28T13:15:01Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- what the service hands over: signed documents and the row's columns -----------------------


@dataclass(frozen=True)
class Document:
    """A signed document as the service verified it: its decoded content when the signature
    holds (chain, validity, revocation, and the stored payload byte for byte), else why not."""

    content: dict | None
    problems: tuple[str, ...] = ()
    signer_rpps: str | None = None  # the RPPS of the signing certificate (None: not a prescriber)
    by_service: bool = False  # signed by one of the service's own keys
    payload_sha256: str = ""  # of the stored payload
    checks: tuple[tuple[str, bool, str], ...] = ()  # (name, ok, detail) of each check made


@dataclass(frozen=True)
class ItemColumns:
    """One prescription_items row: the values that repeat the signed line, and the state."""

    line: int
    values: dict  # ITEM_FIELDS → the row's value
    quantity_total: int
    dispensed: int
    cancellation_id: int | None


@dataclass(frozen=True)
class CancellationColumns:
    id: int
    cancelled_at: datetime
    reason: str
    document: Document
    jws: str


@dataclass(frozen=True)
class ReceiptColumns:
    """One dispensation row with its lines (each a dict of RECEIPT_LINE_FIELDS), its receipt,
    and its reversal (document and columns) when it has one."""

    id: str
    dispensed_at: datetime
    collected_by: dict
    total_cents: int
    covered_cents: int
    patient_share_cents: int
    lines: tuple[dict, ...]
    receipt: Document
    reversed_at: datetime | None = None
    reversal_reason: str | None = None
    reversal: Document | None = None


@dataclass(frozen=True)
class PrescriptionColumns:
    """A prescriptions row and what it is bound to: its patient's national identifier and its
    prescriber's RPPS (through the row's foreign keys), its lines, cancellations, receipts."""

    number: str
    patient_national_id: str
    prescriber_rpps: str
    issued_at: datetime
    valid_from: date
    valid_until: date
    renewals: int
    pickup_mode: str
    status: str
    version: int
    jws: str
    items: tuple[ItemColumns, ...]
    cancellations: tuple[CancellationColumns, ...] = ()
    receipts: tuple[ReceiptColumns, ...] = ()
    pickup_choice: Document | None = None


# -- what every face shows and acts on ---------------------------------------------------------


@dataclass(frozen=True)
class SignedCancellation:
    id: int
    cancelled_at: datetime
    reason: str
    lines: tuple[int, ...]
    jws: str


@dataclass(frozen=True)
class SignedLine:
    """A line as signed, with what the verified receipts and cancellations say of it."""

    line: int
    content: dict  # the signed line: medication, dosage, quantity, substitution, ald
    quantity: int  # packs per period
    periods: int  # 1 + renewals
    dispensed: int  # the sum of the verified, unreversed receipts
    cancellation: SignedCancellation | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancellation is not None

    @property
    def total(self) -> int:
        return self.quantity * self.periods

    @property
    def progress(self) -> LineProgress:
        return LineProgress(self.line, self.quantity, self.periods, self.dispensed, self.cancelled)

    @property
    def rules(self) -> LineRules:
        """What the dispensing rules need of the line, as it is signed (docs/rules.md)."""
        return LineRules(
            self.progress,
            from_items(self.content.get("conditions")),
            self.content["dosage"].get("duration_days"),
            self.content.get("fractionation_days"),
            self.content.get("overlap_allowed", False),
        )

    @property
    def state(self) -> LineState:
        """What the cancellation rules need of the line."""
        return LineState(self.line, self.total, self.dispensed, self.cancelled)

    @property
    def prescribed(self) -> PrescribedLine:
        """What the substitution rules need of the line, as it is signed."""
        drug = self.content["medication"]
        return PrescribedLine(
            cis=drug.get("cis"),
            substance_code=drug.get("substance_code"),
            strength=drug.get("strength"),
            form=drug.get("form"),
            substitutable=self.content["substitutable"],
            non_substitution_reason=self.content.get("non_substitution_reason"),
        )


@dataclass(frozen=True)
class SignedPrescription:
    """A prescription as its signed documents say, once the row was found to agree with them
    (`verified`), or the disagreements (`problems`) and nothing else: an unverified one shows
    its number and why, and nothing can be done with it."""

    number: str
    verified: bool
    problems: tuple[str, ...] = ()
    content: dict | None = None
    lines: tuple[SignedLine, ...] = ()
    cancellations: tuple[SignedCancellation, ...] = ()
    pickup_mode: str = ""  # in force: the patient's signed choice, else the prescriber's
    status: Status = Status.ACTIVE  # the stored status, equal to the one the lines imply
    version: int = 0
    jws: str = ""
    checks: tuple[tuple[str, bool, str], ...] = ()  # the prescriber's signature, check by check

    @property
    def signed_content(self) -> dict:
        """The signed content; ValueError for one that cannot be verified (nothing vouches)."""
        if not self.verified or self.content is None:
            raise ValueError(f"prescription {self.number} cannot be verified")
        return self.content

    @property
    def valid_from(self) -> date:
        return date.fromisoformat(self.signed_content["valid_from"])

    @property
    def valid_until(self) -> date:
        return date.fromisoformat(self.signed_content["valid_until"])

    @property
    def issued_on(self) -> date:
        """The day it was written (UTC), from which the narcotics' 3 days count."""
        return today_of(datetime.fromisoformat(self.signed_content["issued_at"]))

    @property
    def renewals(self) -> int:
        return self.signed_content["renewals"]

    def status_on(self, today: date) -> Status:
        """Its status as of `today` (an open one past its signed validity reads as expired)."""
        return effective_status(self.status, self.valid_until, today)

    def progress(self) -> list[LineProgress]:
        self.signed_content  # noqa: B018 — refuses one that cannot be verified
        return [line.progress for line in self.lines]


def unverified(number: str, problems, checks=()) -> SignedPrescription:
    return SignedPrescription(
        number, False, tuple(problems) or (CANNOT_BE_VERIFIED,), checks=tuple(checks)
    )


def as_issued(content: dict, *, version: int, jws: str) -> SignedPrescription:
    """A prescription just signed from `content` in this use case (nothing dispensed or
    cancelled yet): the row was built from this very content."""
    periods = 1 + content["renewals"]
    lines = tuple(
        SignedLine(item["line"], item, item["quantity"], periods, 0) for item in content["items"]
    )
    return SignedPrescription(
        content["number"],
        True,
        content=content,
        lines=lines,
        pickup_mode=content["pickup_mode"],
        status=Status.ACTIVE,
        version=version,
        jws=jws,
    )


def read(columns: PrescriptionColumns, document: Document) -> SignedPrescription:
    """The prescription its documents sign, if the row and every document agree; else the
    list of disagreements (the prescriber's signature, the binding of number, patient and
    prescriber, each repeated column, the cancellations, the receipts, the pickup choice)."""
    problems = list(document.problems)
    content = document.content
    if content is None:
        return unverified(columns.number, problems, document.checks)
    try:
        problems += _binding(content, columns, document)
        if problems:  # another prescription's content: comparing its lines would say nothing
            return unverified(columns.number, problems, document.checks)
        cancellations, cancelled = _cancellations(columns, document, problems)
        dispensed = _dispensed(columns, document, problems)
        pickup_mode = _pickup_mode(columns, document, content, problems)
        lines = _lines(content, columns, cancelled, dispensed, problems)
        implied = status_from_lines(
            LineState(line.line, line.total, line.dispensed, line.cancelled) for line in lines
        )
        if not problems and Status(columns.status) is not implied:
            problems.append(
                Message(
                    "status_differs",
                    "the status is {here} here, but the signed documents make it {signed}",
                    here=str(columns.status),
                    signed=str(implied),
                )
            )
    except MALFORMED:
        return unverified(columns.number, [*problems, NOT_OURS], document.checks)
    if problems:
        return unverified(columns.number, problems, document.checks)
    return SignedPrescription(
        columns.number,
        True,
        content=content,
        lines=tuple(lines),
        cancellations=tuple(cancellations),
        pickup_mode=pickup_mode,
        status=Status(columns.status),
        version=columns.version,
        jws=columns.jws,
        checks=document.checks,
    )


def _differs(field: str, here, signed, line: int | None = None) -> Message:
    """A stored value that is not the signed one; `field` named in words ("valid until")."""
    if line is None:
        english = "{field} is {here} here, {signed} in the signed prescription"
        return Message(
            "value_differs", english, field=field, here=_shown(here), signed=_shown(signed)
        )
    english = "line {line}: {field} is {here} here, {signed} in the signed prescription"
    return Message(
        "line_value_differs",
        english,
        line=line,
        field=field,
        here=_shown(here),
        signed=_shown(signed),
    )


# Why a signed document is not this row's, in plain words by code (the pages word the code).
PLAIN_REASONS = {
    "not_a_cancellation": "it is not a cancellation",
    "not_by_prescriber": "it is not signed by this prescription's prescriber",
    "reason_differs": "its reason differs from the stored one",
    "not_our_document": "it is not a document as this service signs them",
    "about_another_prescription": "it is about another prescription",
    "not_by_service": "it is not signed by the service",
    "receipt_of_another": "it is the receipt of another dispensation",
    "time_differs": "its time differs from the stored one",
    "collector_differs": "who collected it differs from the stored one",
    "reversal_unmarked": "a signed reversal is stored but it is not marked reversed",
    "reversal_unsigned": "it is marked reversed without a signed reversal",
    "reversal_not_by_service": "its reversal is not signed by the service",
    "reversal_of_another": "its reversal undoes another receipt",
    "reversal_differs": "its reversal's time or reason differs from the stored one",
    "reversal_quantities_differ": "its reversal gives back other quantities than the receipt gave",
}


def _said(code: str) -> Message:
    return Message(code, PLAIN_REASONS[code])


def _shown(value) -> str:
    if value is None:
        return "empty"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _binding(content: dict, columns: PrescriptionColumns, document: Document) -> list[str]:
    """The document is this row's: its type, number, patient, prescriber and signer. Values
    are not named: they would tell one patient about another."""
    problems: list[str] = []
    if content.get("type") != PRESCRIPTION_TYPE or content.get("version") != VERSION:
        return [NOT_OURS]
    if not _names_people(content):
        return [NOT_OURS]
    if content["number"] != columns.number:
        problems.append(
            Message(
                "signed_other_number",
                "the signature is that of another prescription (its number differs)",
            )
        )
    if content["patient"]["identifier"]["value"] != columns.patient_national_id:
        problems.append(
            Message(
                "signed_other_patient",
                "the signed patient is not the patient this prescription is stored for",
            )
        )
    rpps = content["prescriber"]["rpps"]
    if rpps != columns.prescriber_rpps:
        problems.append(
            Message(
                "signed_other_prescriber",
                "the signed prescriber is not the prescriber this prescription names",
            )
        )
    if document.signer_rpps != rpps:
        problems.append(
            Message(
                "signed_other_certificate",
                "it is not signed with the certificate of the prescriber it names",
            )
        )
    return problems


def _names_people(content: dict) -> bool:
    """The patient and the prescriber are named as the service signs them (no column repeats
    these words, so nothing else checks them before every face shows them)."""
    for path in SIGNED_TEXTS:
        value: object = content
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, str):
            return False
    return isinstance(content["patient"].get("birth_date"), str | None)


def _item_columns(signed: dict) -> dict:
    """What the row of a signed line holds, field by field (as issue() writes it)."""
    drug, dosage = signed["medication"], signed["dosage"]
    return {
        "cis": drug.get("cis"),
        "substance_code": drug.get("substance_code"),
        "strength": drug.get("strength"),
        "form": drug.get("form"),
        "medication_name": drug["name"],
        "dosage_text": dosage["text"],
        "dose": dosage.get("dose"),
        "dose_unit": dosage.get("dose_unit"),
        "frequency_per_day": dosage.get("frequency_per_day"),
        "duration_days": dosage.get("duration_days"),
        "quantity": signed["quantity"],
        "substitutable": signed["substitutable"],
        "non_substitution_reason": signed.get("non_substitution_reason"),
        "ald": signed["ald"],
    }


def _lines(content, columns, cancelled, dispensed, problems) -> list[SignedLine]:
    for field in ("issued_at", "valid_from", "valid_until"):
        value = getattr(columns, field)
        here = iso_seconds(value) if field == "issued_at" else value.isoformat()
        if here != content[field]:
            problems.append(_differs(field, here, content[field]))
    renewals = content["renewals"]
    if columns.renewals != renewals:
        problems.append(_differs("renewals", columns.renewals, renewals))
    rows = {item.line: item for item in columns.items}
    signed_lines = {item["line"]: item for item in content["items"]}
    if set(rows) != set(signed_lines):
        problems.append(
            Message(
                "lines_differ",
                "the lines are {here} here, {signed} in the signed prescription",
                here=str(sorted(rows)),
                signed=str(sorted(signed_lines)),
            )
        )
    lines = []
    for number, signed in sorted(signed_lines.items()):
        row = rows.get(number)
        if row is None:
            continue
        expected = _item_columns(signed)
        for field in ITEM_FIELDS:
            if row.values.get(field) != expected[field]:
                what = field.replace("_", " ")
                problems.append(_differs(what, row.values.get(field), expected[field], number))
        total = signed["quantity"] * (1 + renewals)
        if row.quantity_total != total:
            problems.append(_differs("the total", row.quantity_total, total, number))
        given = dispensed.get(number, 0)
        if row.dispensed != given:
            problems.append(
                Message(
                    "line_dispensed_differs",
                    "line {line}: {here} dispensed here, {signed} in the signed receipts",
                    line=number,
                    here=row.dispensed,
                    signed=given,
                )
            )
        periods = 1 + renewals
        cancellation = cancelled.get(number)
        lines.append(SignedLine(number, signed, signed["quantity"], periods, given, cancellation))
    return lines


def _cancellations(columns, document, problems) -> tuple[list, dict[int, SignedCancellation]]:
    """The verified cancellations, and the line each one cancels; the rows' links checked."""
    verified, by_line = [], {}
    for row in columns.cancellations:
        found = _checked(_cancellation_problems, row, columns, document.payload_sha256)
        if found:
            problems.append(
                Message(
                    "cancellation_problems",
                    "cancellation of {when}: {problems}",
                    when=row.cancelled_at,
                    problems=tuple(found),
                )
            )
            continue
        lines = tuple(sorted(row.document.content["lines"]))
        signed = SignedCancellation(row.id, row.cancelled_at, row.reason, lines, row.jws)
        verified.append(signed)
        by_line.update(dict.fromkeys(signed.lines, signed))
    known = {row.id for row in columns.cancellations}
    for item in columns.items:
        if item.cancellation_id is not None and item.cancellation_id not in known:
            problems.append(
                Message(
                    "cancelled_unsigned",
                    "line {line} is marked cancelled without a signed cancellation",
                    line=item.line,
                )
            )
    return verified, by_line


def _cancellation_problems(row: CancellationColumns, columns, payload_sha256: str) -> list[str]:
    doc = row.document
    content = doc.content
    if content is None:
        return list(doc.problems)
    found = [
        *([] if content.get("type") == CANCELLATION_TYPE else [_said("not_a_cancellation")]),
        *_about_this(content["prescription"], columns.number, payload_sha256),
    ]
    rpps = columns.prescriber_rpps
    if content["prescriber"]["rpps"] != rpps or doc.signer_rpps != rpps:
        found.append(_said("not_by_prescriber"))
    if content["reason"] != row.reason:
        found.append(_said("reason_differs"))
    if content["cancelled_at"] != iso_seconds(row.cancelled_at):
        found.append("its time differs from the stored one")
    linked = sorted(item.line for item in columns.items if item.cancellation_id == row.id)
    if linked != sorted(content["lines"]):
        found.append(
            Message(
                "cancels_other_lines",
                "it cancels lines {signed}, {here} here",
                signed=str(sorted(content["lines"])),
                here=str(linked),
            )
        )
    return found


def _checked(compare, *args) -> list[str]:
    """compare(*args): the disagreements, or the words for a document of another shape."""
    try:
        return compare(*args)
    except MALFORMED:
        return [_said("not_our_document")]


def _about_this(reference: dict, number: str, payload_sha256: str) -> list[str]:
    """A document's reference to the prescription: its number and its payload's SHA-256."""
    if reference["number"] != number or reference["payload_sha256"] != payload_sha256:
        return [_said("about_another_prescription")]
    return []


def _dispensed(columns, document, problems) -> dict[int, int]:
    """Packs given per line, by the verified receipts not reversed."""
    given: dict[int, int] = {}
    for row in columns.receipts:
        found = _checked(_receipt_problems, row, columns.number, document.payload_sha256)
        if found:
            problems.append(
                Message(
                    "receipt_problems", "receipt {id}: {problems}", id=row.id, problems=tuple(found)
                )
            )
            continue
        if row.reversed_at is None:
            for line in row.receipt.content["lines"]:
                given[line["line"]] = given.get(line["line"], 0) + line["quantity"]
    return given


def _receipt_problems(row: ReceiptColumns, number: str, payload_sha256: str) -> list[str]:
    doc = row.receipt
    content = doc.content
    if content is None:
        return list(doc.problems)
    found: list[str] = [] if doc.by_service else [_said("not_by_service")]
    if content.get("type") != RECEIPT_TYPE or content["id"] != row.id:
        found.append(_said("receipt_of_another"))
    found += _about_this(content["prescription"], number, payload_sha256)
    if content["issued_at"] != iso_seconds(row.dispensed_at):
        found.append(_said("time_differs"))
    if content["collected_by"] != row.collected_by:
        found.append(_said("collector_differs"))
    for field in ("total_cents", "covered_cents", "patient_share_cents"):
        if content[field] != getattr(row, field):
            found.append(
                Message(
                    "receipt_value_differs",
                    "{field} is {here} here, {signed} in the receipt",
                    field=field.replace("_", " "),
                    here=getattr(row, field),
                    signed=content[field],
                )
            )
    signed_lines = [{f: line.get(f) for f in RECEIPT_LINE_FIELDS} for line in content["lines"]]
    for index, (here, signed) in enumerate(zip(row.lines, signed_lines, strict=False), 1):
        for field in RECEIPT_LINE_FIELDS:
            if here.get(field) != signed[field]:
                found.append(
                    Message(
                        "pack_value_differs",
                        "pack {index}: {field} is {here} here, {signed} in the signed receipt",
                        index=index,
                        field=field.replace("_", " "),
                        here=_shown(here.get(field)),
                        signed=_shown(signed[field]),
                    )
                )
    if len(row.lines) != len(signed_lines):
        stored, signed_count = len(row.lines), len(signed_lines)
        english = "{here} packs here, {signed} in the signed receipt"
        found.append(Message("pack_count_differs", english, here=stored, signed=signed_count))
    found += _reversal_problems(row, signed_lines)
    return found


def _reversal_problems(row: ReceiptColumns, signed_lines: list[dict]) -> list[str]:
    if row.reversed_at is None:
        return [_said("reversal_unmarked")] if row.reversal else []
    doc = row.reversal
    if doc is None:
        return [_said("reversal_unsigned")]
    content = doc.content
    if content is None:
        return [
            Message("reversal_problems", "its reversal: {problems}", problems=tuple(doc.problems))
        ]
    found: list[str] = [] if doc.by_service else [_said("reversal_not_by_service")]
    reversed_receipt = content["dispensation"]
    if (
        content.get("type") != REVERSAL_TYPE
        or content["id"] != row.id
        or reversed_receipt["id"] != row.id
        or reversed_receipt["receipt_sha256"] != row.receipt.payload_sha256
    ):
        found.append(_said("reversal_of_another"))
    if content["issued_at"] != iso_seconds(row.reversed_at) or content["reason"] != (
        row.reversal_reason
    ):
        found.append(_said("reversal_differs"))
    undone = [(line["line"], line["quantity"]) for line in content["lines"]]
    if undone != [(line["line"], line["quantity"]) for line in signed_lines]:
        found.append(_said("reversal_quantities_differ"))
    return found


def _pickup_mode(columns, document, content: dict, problems: list[str]) -> str:
    """The mode in force: the patient's signed choice, else the prescriber's; the column must
    say the same."""
    mode = content["pickup_mode"]
    choice = columns.pickup_choice
    if choice is not None:
        found = _checked(_choice_problems, choice, columns.number, document.payload_sha256)
        if found:
            problems.append(
                Message(
                    "pickup_choice_problems",
                    "the patient's pickup choice: {problems}",
                    problems=tuple(found),
                )
            )
            return mode
        mode = choice.content["pickup_mode"]
    if columns.pickup_mode != mode:
        english = (
            "pickup mode is {here} here, {signed} in the patient's signed choice"
            if choice is not None
            else "pickup mode is {here} here, {signed} in the signed prescription"
        )
        code = "pickup_choice_differs" if choice is not None else "pickup_mode_differs"
        problems.append(Message(code, english, here=columns.pickup_mode, signed=mode))
    return mode


def _choice_problems(choice: Document, number: str, payload_sha256: str) -> list[str]:
    chosen = choice.content
    if chosen is None:
        return list(choice.problems)
    found = []
    if not choice.by_service or chosen.get("type") != PICKUP_CHOICE_TYPE:
        found.append("it is not a pickup choice signed by the service")
    found += _about_this(chosen["prescription"], number, payload_sha256)
    if not isinstance(chosen["pickup_mode"], str):
        found.append("it names no pickup mode")
    return found
