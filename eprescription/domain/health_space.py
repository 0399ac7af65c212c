"""The patient's health space rules: what is left to collect, days left, representatives, the
access log in plain words, and the patient's choice of pickup mode."""

import enum
import re
from datetime import date, datetime

from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import DuplicateRepresentative, ValidationFailed
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import (
    OPEN_STATES,
    PickupMode,
    Problems,
    Status,
    add_months,
    refuse_closed,
)

ADULT_AGE = 18
# "1 place de la Gare, 75010 Paris" → "Paris"; without a postcode, the part after the last comma.
POSTCODE_TOWN = re.compile(r"(?:^|[\s,])\d{5}\s+([^,\d][^,]*)$")
PAGE_SIZE_MAX = 100
PAGE_MAX = 10_000  # past any list; keeps the OFFSET a database can take (64 bits on PostgreSQL)


class View(enum.StrEnum):
    """The two lists of the health space: what can still be collected, and the rest."""

    ACTIVE = "active"  # active and partially dispensed, within validity
    HISTORY = "history"  # expired, completed, cancelled


class RepresentativeKind(enum.StrEnum):
    AUTHORISED = "authorised"  # named by the patient, who can revoke it
    PARENT = "parent"  # a parent of a minor, recorded by an administrator


def view_of(status: Status | str) -> View:
    """Which list a prescription in `status` (its effective status) belongs to."""
    return View.ACTIVE if Status(status) in OPEN_STATES else View.HISTORY


def days_left(valid_until: date, today: date) -> int:
    """Whole days after today it stays valid: 0 on its last day, negative once expired."""
    return (valid_until - today).days


def validity_words(valid_from: date, valid_until: date, today: date) -> str:
    """'12 days left', 'last day today', 'valid from 3 May 2026', 'expired'."""
    if today < valid_from:
        return f"valid from {_day(valid_from)}"
    left = days_left(valid_until, today)
    if left < 0:
        return "expired"
    if left == 0:
        return "last day today"
    return "1 day left" if left == 1 else f"{left} days left"


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def packs(quantity: int) -> str:
    return "1 pack" if quantity == 1 else f"{quantity} packs"


def renewal_in_progress(lines: list[LineProgress]) -> int:
    """The renewal being collected on the prescription (0: the first supply): the furthest
    period among lines that still have something to collect."""
    open_lines = [line for line in lines if line.remaining_total > 0]
    return max((line.current_period - 1 for line in open_lines), default=0)


def remaining_words(progress: LineProgress) -> str:
    if progress.cancelled:
        return "cancelled"
    if progress.remaining_total == 0:
        return "all collected"
    if progress.periods == 1:
        return f"{packs(progress.remaining_total)} to collect"
    now = packs(progress.remaining_in_period)
    return f"{now} to collect now, {packs(progress.remaining_total)} in all with the renewals"


# -- pickup mode ----------------------------------------------------------------------------------


PICKUP_WORDS: dict[str, str] = {
    PickupMode.PUBLIC: "anyone who shows the code",
    PickupMode.PRIVATE: "only me, in person",
    PickupMode.AUTHORISED: "me or a representative I named",
}


def pickup_change(status: Status | str, requested: str | None) -> PickupMode:
    """The new pickup mode, or why not: open prescriptions only, one of the three modes."""
    try:
        mode = PickupMode(requested or "")
    except ValueError as error:
        raise ValidationFailed(
            Message("choose_pickup_mode", "Choose how it may be collected."),
            errors={"pickup_mode": ["one of " + ", ".join(PickupMode)]},
        ) from error
    refuse_closed(status)  # open states pass
    return mode


# -- representatives -----------------------------------------------------------------------------


def representation_is_active(
    valid_until: date | None, revoked_at: datetime | None, today: date
) -> bool:
    """A representative sees until the end of `valid_until` and never after a revocation."""
    return revoked_at is None and (valid_until is None or today <= valid_until)


def check_representative(
    problems: Problems,
    *,
    patient_person_id: int,
    representative_person_id: int | None,
    valid_until: date | None,
    today: date,
) -> None:
    """The rules of naming someone that need no database: not oneself, an end in the future."""
    if representative_person_id is not None and representative_person_id == patient_person_id:
        problems.add(
            "nir",
            Message("own_national_id", "this is your own national identifier: name another person"),
        )
    if valid_until is not None and valid_until < today:
        problems.add("valid_until", Message("end_date_past", "the end date is in the past"))


def refuse_duplicate(already: bool) -> None:
    if already:
        raise DuplicateRepresentative(
            "This person is your representative already; revoke it first to change the end date.",
            errors={"nir": [Message("already_representative", "already your representative")]},
        )


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def coming_of_age(birth_date: date) -> date:
    """The day a child turns 18, when a parent's access ends (29 February → 28 February)."""
    return add_months(birth_date, 12 * ADULT_AGE)


def is_minor(birth_date: date | None, today: date) -> bool:
    return birth_date is not None and age_on(birth_date, today) < ADULT_AGE


# -- the access log in words ---------------------------------------------------------------------


ACTION_WORDS = {
    "issue": "issued {what}",
    "read": "opened {what}",
    "list": "saw {what} in a list",
    "cancel": "cancelled {what}",
    "view_qr": "displayed the QR code of {what}",
    "verify": "checked the signature of {what}",
    "scan": "scanned the QR code of {what}",
    "lookup_by_card": "read your card and looked up {what}",
    "dispense": "dispensed {what}",
    "reverse": "reversed a dispensation of {what}",
    "change_pickup_mode": "changed who may collect {what}",
    "grant": "named a representative",
    "revoke": "ended a representative's access",
    "request_renewal": "asked for a renewal of {what}",
    "decline_renewal": "declined the renewal request for {what}",
    "renew": "renewed {what} (a new prescription)",
    "read_dispensations": "saw the dispensations of {what}",
    "acknowledge_warnings": "signed {what} over the warnings it showed them",
    "prepare": "prepared {what} for signing in their own software",
}
ROLE_WORDS = {
    "prescriber": "prescriber",
    "pharmacist": "pharmacist",
    "patient": "patient",
    "representative": "your representative",
    "admin": "administrator",
    "operator": "operator",
}
# Actions whose words depend on the object: someone else than the patient at the pharmacy
# counter, presenting their own card as the patient's representative.
ACTION_ON_OBJECT_WORDS = {
    (
        "lookup_by_card",
        "representative",
    ): "looked up your prescriptions with a representative's card",
    ("lookup", "person"): "looked you up among their patients",
    ("review_warnings", "person"): "checked your allergies and treatments before prescribing",
    ("record_allergy", "person"): "recorded an allergy in your file",
}
SUCCESS = "success"
# An outcome that is not a refusal: a prescriber confirmed that a new patient was with them.
CONFIRMED_BY_PRESCRIBER = "confirmed_by_prescriber"


def action_words(action: str, object_type: str, object_id: str, outcome: str) -> str:
    """'opened prescription ABCD-EFGH-JKX', 'tried: opened … (refused: denied)'."""
    if object_type == "patient":
        what = "your prescriptions"
    elif object_type == "person":
        what = "your file"
    else:
        what = f"{object_type.replace('_', ' ')} {object_id}".strip()
    template = ACTION_ON_OBJECT_WORDS.get((action, object_type)) or ACTION_WORDS.get(
        action, "consulted {what}"
    )
    sentence = template.format(what=what)
    if outcome == CONFIRMED_BY_PRESCRIBER:
        sentence += " (they confirmed you were with them)"
    elif outcome != SUCCESS:
        sentence = f"tried: {sentence} (refused: {outcome.replace('_', ' ')})"
    return sentence


def medication_words(name: str, strength: str | None, form: str | None) -> str:
    """A product by its name; an active substance with its strength and form."""
    return f"{name} {strength}, {form}" if strength else name


def town_of(address: str) -> str:
    """The town of a pharmacy's address as recorded (no separate column): after the postcode,
    else after the last comma; empty when it cannot be told."""
    address = " ".join((address or "").split())
    found = POSTCODE_TOWN.search(address)
    if found:
        return found.group(1).strip()
    return address.rsplit(",", 1)[1].strip() if "," in address else ""
