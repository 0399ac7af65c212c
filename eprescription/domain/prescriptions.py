"""Prescription rules: lifecycle states and transitions, validity and renewals, item rules."""

import calendar
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from eprescription.domain.errors import (
    IllegalTransition,
    PrescriptionCancelled,
    PrescriptionCompleted,
    PrescriptionConflict,
    PrescriptionExpired,
    PrescriptionNotCancellable,
    ValidationFailed,
)
from eprescription.domain.messages import Message

OBJECT_TYPE = "prescription"  # what the audit log calls a prescription


def today_of(now: datetime) -> date:
    """The calendar day validity is counted in (UTC)."""
    return now.astimezone(UTC).date()


class Status(enum.StrEnum):
    ACTIVE = "active"
    PARTIALLY_DISPENSED = "partially_dispensed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PickupMode(enum.StrEnum):
    PUBLIC = "public"  # anyone presenting the code
    PRIVATE = "private"  # the patient in person only
    AUTHORISED = "authorised"  # the patient or a representative they authorised


class NonSubstitutionReason(enum.StrEnum):
    """The French "non substituable" mentions (arrêté du 12 novembre 2019)."""

    MTE = "MTE"  # marge thérapeutique étroite
    EFG = "EFG"  # enfant de moins de 6 ans, no suitable generic form
    CIF = "CIF"  # contre-indication formelle à un excipient à effet notoire


class Action(enum.StrEnum):
    VIEW = "view"
    VIEW_QR = "view_qr"
    CANCEL = "cancel"
    DISPENSE = "dispense"


# Every legal move; dispensing may repeat partially_dispensed → partially_dispensed.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.ACTIVE: frozenset(
        {Status.PARTIALLY_DISPENSED, Status.COMPLETED, Status.CANCELLED, Status.EXPIRED}
    ),
    Status.PARTIALLY_DISPENSED: frozenset(
        {Status.PARTIALLY_DISPENSED, Status.COMPLETED, Status.EXPIRED}
    ),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}
OPEN_STATES = frozenset({Status.ACTIVE, Status.PARTIALLY_DISPENSED})

# Which actions each role may attempt on a prescription it has access to, and in which states.
# Access itself (its prescriber, its patient) is checked by the service; this is the state rule.
ALLOWED: dict[tuple[str, Action], frozenset[Status]] = {
    ("prescriber", Action.VIEW): frozenset(Status),
    # A QR code is shown only while it can be collected: a closed prescription has none to show.
    ("prescriber", Action.VIEW_QR): OPEN_STATES,
    ("prescriber", Action.CANCEL): OPEN_STATES,
    ("patient", Action.VIEW): frozenset(Status),
    ("patient", Action.VIEW_QR): OPEN_STATES,
    ("pharmacist", Action.VIEW): frozenset(Status),
    ("pharmacist", Action.DISPENSE): OPEN_STATES,
}

VALIDITY_MONTHS_DEFAULT = 3
VALIDITY_MONTHS_MAX = 3  # without renewals
VALIDITY_MONTHS_MAX_WITH_RENEWALS = 12
START_MONTHS_AHEAD_MAX = 3  # a prescription may start later, but not more than this
RENEWALS_MAX = 11
QUANTITY_MAX = 20  # packs per dispensing period; more is a typo, not a treatment
ITEMS_MAX = 20
DOSAGE_TEXT_MAX = 500
REASON_MAX = 500
INITIAL_REFERENCE_MAX = 128
FRACTIONATION_DAYS_MAX = 28  # a narcotic's fractions: at most its 28 days (CSP R5132-30)
DOSE_MAX = Decimal(10_000)
FREQUENCY_PER_DAY_MAX = 24
DURATION_DAYS_MAX = 366
DOSE_UNIT_MAX = 32


def add_months(day: date, months: int) -> date:
    """`day` plus whole months; the 31st becomes the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Problems:
    """Field path → messages, gathered so that one refusal reports every problem at once.

    Paths are tuples such as ("items", 0, "quantity"); they nest like marshmallow's errors.
    """

    def __init__(self) -> None:
        self.errors: dict = {}

    def add(self, path: tuple | str, message: str) -> None:
        path = (path,) if isinstance(path, str) else path
        node = self.errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def refusal(self, kind: type[ValidationFailed] = ValidationFailed) -> ValidationFailed:
        """One error naming every field that has a problem, and carrying them all."""
        return kind(
            "Some fields are not valid: " + ", ".join(map(str, self.errors)), errors=self.errors
        )


# -- lifecycle ------------------------------------------------------------------------------


def is_expired(valid_until: date, today: date) -> bool:
    """Valid until the end of `valid_until` (inclusive)."""
    return today > valid_until


def effective_status(stored: Status | str, valid_until: date, today: date) -> Status:
    """The status as of `today`: an open prescription past its validity is expired."""
    stored = Status(stored)
    if stored in OPEN_STATES and is_expired(valid_until, today):
        return Status.EXPIRED
    return stored


def transition(current: Status | str, target: Status | str) -> Status:
    """`target` if the move is legal, else the typed refusal that explains why."""
    current, target = Status(current), Status(target)
    if target in TRANSITIONS[current]:
        return target
    refuse_closed(current)
    raise IllegalTransition(f"A prescription cannot go from {current} to {target}.")


def refuse_closed(status: Status | str) -> None:
    """Raise the refusal of a closed state (cancelled, expired, completed); open states pass."""
    status = Status(status)
    if status is Status.CANCELLED:
        raise PrescriptionCancelled(Message("cancelled", "This prescription has been cancelled."))
    if status is Status.EXPIRED:
        raise PrescriptionExpired(Message("expired", "This prescription is past its validity."))
    if status is Status.COMPLETED:
        raise PrescriptionCompleted(
            Message("completed", "Everything on this prescription has been dispensed.")
        )


def ensure_allowed(role: str, action: Action, status: Status | str) -> None:
    """Refuse `action` by `role` in `status` (409 with the closed state's code)."""
    status = Status(status)
    allowed = ALLOWED.get((str(role), action))
    if allowed is None:
        raise PrescriptionConflict(f"A {role} cannot {action} a prescription.")
    if status not in allowed:
        refuse_closed(status)
        raise PrescriptionConflict(f"A {role} cannot {action} a prescription that is {status}.")


@dataclass(frozen=True)
class LineState:
    """What the lifecycle needs to know of one line."""

    line: int
    quantity_total: int  # prescribed quantity × (1 + renewals)
    dispensed: int
    cancelled: bool


def status_from_lines(lines: Iterable[LineState]) -> Status:
    """The open or final status implied by the lines (expiry aside)."""
    lines = list(lines)
    live = [line for line in lines if not line.cancelled]
    if not live:
        return Status.CANCELLED
    if all(line.dispensed >= line.quantity_total for line in live):
        return Status.COMPLETED
    if any(line.dispensed > 0 for line in lines):
        return Status.PARTIALLY_DISPENSED
    return Status.ACTIVE


def line_cancellable(status: Status | str, line: LineState) -> bool:
    """Whether the prescriber may cancel this line now: the prescription is in a state that may
    be cancelled (open), and nothing of the line was cancelled or dispensed yet."""
    allowed = ALLOWED[("prescriber", Action.CANCEL)]
    return Status(status) in allowed and not line.cancelled and not line.dispensed


def cancellable(status: Status | str, lines: Iterable[LineState]) -> bool:
    """Whether the prescription can be cancelled now, wholly or in part: some line can be."""
    return any(line_cancellable(status, line) for line in lines)


def lines_to_cancel(
    status: Status | str, lines: Iterable[LineState], requested: Iterable[int] | None
) -> list[int]:
    """The line numbers a cancellation covers, or why not.

    Only lines with nothing dispensed can be cancelled; `requested` None means every such
    line. A partially dispensed prescription keeps its dispensed lines.
    """
    ensure_allowed("prescriber", Action.CANCEL, status)
    by_number = {line.line: line for line in lines}
    if requested is None:
        chosen = [n for n, line in by_number.items() if line_cancellable(status, line)]
        if not chosen:
            raise PrescriptionNotCancellable(
                "Every line is either cancelled already or (partly) dispensed."
            )
        return sorted(chosen)
    requested = sorted(set(requested))
    problems = Problems()
    for number in requested:
        line = by_number.get(number)
        if line is None:
            problems.add("lines", Message("no_such_line", "there is no line {line}", line=number))
        elif line.cancelled:
            problems.add(
                "lines", Message("line_cancelled", "line {line} is cancelled already", line=number)
            )
        elif line.dispensed:
            problems.add(
                "lines",
                Message("line_dispensed", "line {line} has been (partly) dispensed", line=number),
            )
    if not requested:
        problems.add(
            "lines",
            Message(
                "name_a_line", "name at least one line, or leave lines out to cancel everything"
            ),
        )
    if problems:
        raise PrescriptionNotCancellable(
            "These lines cannot be cancelled: " + "; ".join(problems.errors["lines"]),
            errors=problems.errors,
        )
    return requested


def total_quantity(quantity: int, renewals: int) -> int:
    """What may be dispensed in all over the prescription's life."""
    return quantity * (1 + renewals)


# -- validity and renewals ------------------------------------------------------------------


@dataclass(frozen=True)
class Validity:
    valid_from: date
    valid_until: date
    renewals: int


def validity(
    problems: Problems,
    issued_on: date,
    valid_from: date | None,
    valid_until: date | None,
    renewals: int | None,
) -> Validity | None:
    """Fill the defaults and check the limits; None (and problems added) when refused.

    valid_from defaults to the issue date and may be up to 3 months later; valid_until
    defaults to 3 months after valid_from; at most 3 months of validity without renewals,
    12 with; renewals 0 to 11.
    """
    renewals = 0 if renewals is None else renewals
    if not 0 <= renewals <= RENEWALS_MAX:
        problems.add("renewals", _between(0, RENEWALS_MAX))
    start = valid_from or issued_on
    _within(
        problems,
        "valid_from",
        (start, issued_on, add_months(issued_on, START_MONTHS_AHEAD_MAX)),
        Message("before_issue_date", "cannot be before the issue date"),
        Message(
            "months_after_issue",
            "at most {months} months after the issue date",
            months=START_MONTHS_AHEAD_MAX,
        ),
    )
    end = valid_until or add_months(start, VALIDITY_MONTHS_DEFAULT)
    longest = VALIDITY_MONTHS_MAX_WITH_RENEWALS if renewals > 0 else VALIDITY_MONTHS_MAX
    _within(
        problems,
        "valid_until",
        (end, start, add_months(start, longest)),
        Message("before_valid_from", "cannot be before valid_from"),
        Message("months_after_start", "at most {months} months after valid_from", months=longest)
        if renewals > 0
        else Message(
            "months_without_renewals",
            "at most {months} months after valid_from without renewals ({longer} with)",
            months=longest,
            longer=VALIDITY_MONTHS_MAX_WITH_RENEWALS,
        ),
    )
    if problems:
        return None
    return Validity(start, end, renewals)


def _within(
    problems: Problems,
    field: str,
    days: tuple[date, date, date],
    too_early: Message,
    too_late: Message,
) -> None:
    """`days` is (the day, the earliest it may be, the latest): the problem when outside."""
    day, earliest, latest = days
    if day < earliest:
        problems.add(field, too_early)
    elif day > latest:
        problems.add(field, too_late)


# -- items ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemDraft:
    """One line as the prescriber asked for it, before the catalog is consulted."""

    cis: str | None = None
    substance_code: str | None = None
    strength: str | None = None
    form: str | None = None
    dosage_text: str | None = None
    dose: Decimal | str | None = None
    dose_unit: str | None = None
    frequency_per_day: int | None = None
    duration_days: int | None = None
    quantity: int | None = None
    substitutable: bool = True
    non_substitution_reason: str | None = None
    ald: bool = False
    renewal_authorised: bool = False  # "renouvelable" written expressly (liste I, R5132-22)
    initial_prescription: str | None = None  # the initial (hospital) prescription it renews
    fractionation_days: int | None = None  # a narcotic given N days at a time (R5132-30)
    overlap_allowed: bool = False  # "chevauchement autorisé" written expressly (R5132-33)


def normalise_text(value: str | None) -> str:
    """Spaces collapsed and trimmed, for comparing catalog texts typed by hand."""
    return " ".join((value or "").split())


def dose_text(dose: Decimal | str | int | float | None) -> str | None:
    """A dose as a plain decimal string ("0.5", "2"), the form stored and signed."""
    if dose is None:
        return None
    value = Decimal(str(dose)).normalize()
    return format(value, "f")


def check_item(problems: Problems, index: int, item: ItemDraft) -> None:
    """The rules of one line that need no catalog (that lookup is the service's)."""

    def add(field: str, message: str) -> None:
        problems.add(("items", index, field), message)

    by_product = bool(item.cis)
    by_substance = any((item.substance_code, item.strength, item.form))
    if by_product and by_substance:
        add(
            "medication",
            Message("product_or_substance", "name a product (cis) or a substance, not both"),
        )
    elif not by_product and not by_substance:
        add(
            "medication",
            Message(
                "medication_required",
                "name a product (cis) or a substance with its strength and form",
            ),
        )
    elif item.cis and not re.fullmatch(r"\d{8}", item.cis):
        add("cis", Message("cis_digits", "a CIS code has 8 digits"))
    elif by_substance:
        for field in ("substance_code", "strength", "form"):
            if not normalise_text(getattr(item, field)):
                add(
                    field,
                    Message(
                        "substance_part_required", "required when prescribing by active substance"
                    ),
                )
    text = (item.dosage_text or "").strip()
    if not text:
        add("dosage_text", Message("dosage_required", "the dosage instructions are required"))
    elif len(text) > DOSAGE_TEXT_MAX:
        add("dosage_text", _at_most_characters(DOSAGE_TEXT_MAX))
    if item.dose is not None:
        try:
            dose = Decimal(str(item.dose))
        except InvalidOperation:
            add("dose", Message("a_number", "a number"))
        else:
            if not dose.is_finite() or not 0 < dose <= DOSE_MAX:
                add("dose", Message("dose_range", "more than 0 and at most {max}", max=DOSE_MAX))
    if item.dose_unit is not None and len(item.dose_unit.strip()) > DOSE_UNIT_MAX:
        add("dose_unit", _at_most_characters(DOSE_UNIT_MAX))
    if item.frequency_per_day is not None and not (
        1 <= item.frequency_per_day <= FREQUENCY_PER_DAY_MAX
    ):
        add("frequency_per_day", _between(1, FREQUENCY_PER_DAY_MAX))
    if item.duration_days is not None and not 1 <= item.duration_days <= DURATION_DAYS_MAX:
        add("duration_days", _between(1, DURATION_DAYS_MAX))
    if item.quantity is None:
        add("quantity", Message("quantity_required", "the quantity (packs) is required"))
    elif not 1 <= item.quantity <= QUANTITY_MAX:
        add(
            "quantity",
            Message("packs_between", "between 1 and {max} packs", max=QUANTITY_MAX),
        )
    if item.fractionation_days is not None and not (
        1 <= item.fractionation_days <= FRACTIONATION_DAYS_MAX
    ):
        add("fractionation_days", _between(1, FRACTIONATION_DAYS_MAX))
    if item.initial_prescription is not None and not (
        0 < len(item.initial_prescription.strip()) <= INITIAL_REFERENCE_MAX
    ):
        add(
            "initial_prescription",
            Message(
                "initial_reference_length",
                "the initial prescription's reference and date, 1 to {max} characters",
                max=INITIAL_REFERENCE_MAX,
            ),
        )
    reason = item.non_substitution_reason
    if item.substitutable:
        if reason:
            add(
                "non_substitution_reason",
                Message(
                    "reason_only_if_not_substitutable", "only for a line that is not substitutable"
                ),
            )
    else:
        if reason not in set(NonSubstitutionReason):
            add(
                "non_substitution_reason",
                Message(
                    "reason_required",
                    "a non-substitutable line needs a reason: {reasons}",
                    reasons=", ".join(NonSubstitutionReason),
                ),
            )
        if by_substance and not by_product:
            add(
                "substitutable",
                Message(
                    "substance_is_substitutable",
                    "a line prescribed by active substance is substitutable by nature; "
                    "name the product (cis) to forbid substitution",
                ),
            )


def _between(low: int, high: int) -> Message:
    return Message("between", "between {low} and {high}", low=low, high=high)


def _at_most_characters(count: int) -> Message:
    return Message("at_most_characters", "at most {count} characters", count=count)


def check_items(problems: Problems, items: list[ItemDraft]) -> None:
    if not items:
        problems.add("items", Message("at_least_one_line", "at least one line"))
    elif len(items) > ITEMS_MAX:
        problems.add("items", Message("lines_at_most", "at most {max} lines", max=ITEMS_MAX))
    for index, item in enumerate(items[:ITEMS_MAX]):
        check_item(problems, index, item)


def check_reason(problems: Problems, reason: str | None) -> str | None:
    """A cancellation reason: required, at most REASON_MAX characters."""
    reason = normalise_text(reason)
    if not reason:
        problems.add("reason", Message("reason_for_cancelling", "say why it is cancelled"))
    elif len(reason) > REASON_MAX:
        problems.add("reason", _at_most_characters(REASON_MAX))
    return reason or None
