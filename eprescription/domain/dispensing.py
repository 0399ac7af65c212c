"""Dispensing rules: quantities per renewal period, substitution, reimbursement, pack expiry."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from eprescription.domain.errors import (
    PrescriptionNotYetValid,
    QuantityExceeded,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import (
    Action,
    Problems,
    ensure_allowed,
    normalise_text,
    transition,
)
from eprescription.domain.strengths import same_strength

REVERSAL_WINDOW_HOURS = 24
REVERSAL_WINDOW = timedelta(hours=REVERSAL_WINDOW_HOURS)
FULL_COVER_RATE = 100  # an ALD line is covered in full (when the pack is reimbursable at all)


# -- quantities and renewal periods -----------------------------------------------------------


@dataclass(frozen=True)
class LineProgress:
    """How far one line is dispensed: `quantity` packs per period, `periods` = 1 + renewals.

    Renewals are dispensed one period at a time: period 2 opens once period 1 is given in full.
    """

    line: int
    quantity: int
    periods: int
    dispensed: int
    cancelled: bool = False

    @property
    def total(self) -> int:
        return self.quantity * self.periods

    @property
    def remaining_total(self) -> int:
        return 0 if self.cancelled else max(self.total - self.dispensed, 0)

    @property
    def complete(self) -> bool:
        return self.dispensed >= self.total

    @property
    def current_period(self) -> int:
        """The period in progress (1-based); the last one once everything is given."""
        return min(self.dispensed // self.quantity + 1, self.periods)

    @property
    def remaining_in_period(self) -> int:
        """What may be given now: the rest of the current period, never beyond."""
        if self.cancelled or self.complete:
            return 0
        return self.quantity - self.dispensed % self.quantity

    @property
    def dispensable_now(self) -> bool:
        """Whether the counter may give anything of this line today."""
        return self.remaining_in_period > 0


def check_dispensable(status: str, valid_from: date, today: date) -> None:
    """Refuse dispensing a closed prescription (409 with its state's code) or one not valid yet.

    `status` must be the effective status (expiry by time already applied by the caller).
    """
    ensure_allowed("pharmacist", Action.DISPENSE, status)
    if today < valid_from:
        raise PrescriptionNotYetValid(
            Message(
                "dispensable_from", "This prescription can be dispensed from {day}.", day=valid_from
            )
        )


def check_quantities(
    progress: Iterable[LineProgress], requested: Iterable[tuple[int, int]]
) -> dict[int, int]:
    """The quantity asked per line (summed over packs and batches), or the refusal.

    Unknown lines and quantities below 1 are a malformed request (422); a cancelled line or a
    quantity above what remains of the current period is a conflict with the state (409).
    """
    by_line = {line.line: line for line in progress}
    asked: dict[int, int] = {}
    malformed, conflicts = Problems(), Problems()
    for number, quantity in requested:
        if number not in by_line:
            malformed.add("lines", Message("no_such_line", "there is no line {line}", line=number))
        elif quantity < 1:
            malformed.add(
                "lines",
                Message(
                    "line_quantity_at_least_one",
                    "line {line}: the quantity is at least 1 pack",
                    line=number,
                ),
            )
        else:
            asked[number] = asked.get(number, 0) + quantity
    if not asked and not malformed:
        malformed.add("lines", Message("dispense_a_line", "dispense at least one line"))
    if malformed:
        raise ValidationFailed(
            "These lines cannot be read: " + "; ".join(malformed.errors["lines"]),
            errors=malformed.errors,
        )
    for number, quantity in sorted(asked.items()):
        line = by_line[number]
        if line.cancelled:
            conflicts.add(
                "lines", Message("line_is_cancelled", "line {line} is cancelled", line=number)
            )
        elif quantity > line.remaining_in_period:
            conflicts.add(
                "lines",
                Message(
                    "more_than_left",
                    "line {line}: {asked} asked, {left} left in period {period} of {periods}",
                    line=number,
                    asked=quantity,
                    left=line.remaining_in_period,
                    period=line.current_period,
                    periods=line.periods,
                ),
            )
    if conflicts:
        raise QuantityExceeded(
            "Nothing was dispensed: " + "; ".join(conflicts.errors["lines"]),
            errors=conflicts.errors,
        )
    return asked


# -- substitution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrescribedLine:
    """What the line names: a product (cis) or a substance with strength and form."""

    cis: str | None
    substance_code: str | None = None
    strength: str | None = None
    form: str | None = None
    substitutable: bool = True
    non_substitution_reason: str | None = None

    @property
    def by_substance(self) -> bool:
        """Prescribed by active substance (DCI): any pack of it at that strength and form."""
        return self.cis is None


@dataclass(frozen=True)
class Pack:
    """A presentation as the catalog describes it, with what substitution needs."""

    cip13: str
    cis: str
    form: str
    substances: frozenset[tuple[str, str]]  # (substance code, strength) of SA lines
    generic_groups: frozenset[int]


@dataclass(frozen=True)
class Substitution:
    """Whether a pack may be given for a line, whether that is a substitution, and why."""

    accepted: bool
    substituted: bool
    reason: str


def _same(a: str | None, b: str | None) -> bool:
    return normalise_text(a).casefold() == normalise_text(b).casefold()


def substitution_policy(line: PrescribedLine) -> tuple[bool, Message]:
    """What the pharmacist is told before choosing a pack: allowed or not, and why."""
    if line.by_substance:
        return True, Message(
            "by_substance",
            "prescribed by active substance: any pack with this substance, strength and form",
        )
    if not line.substitutable:
        return False, Message(
            "not_substitutable",
            "not substitutable ({reason}): give this product",
            reason=line.non_substitution_reason,
        )
    return True, Message(
        "substitutable", "substitutable within the product's generic group (CIS_GENER)"
    )


def check_pack(line: PrescribedLine, pack: Pack, prescribed_groups: frozenset[int]) -> Substitution:
    """May `pack` be given for `line`? `prescribed_groups`: the prescribed product's groups."""
    if line.by_substance:
        matches = any(
            code == line.substance_code and same_strength(strength, line.strength)
            for code, strength in pack.substances
        )
        if matches and _same(pack.form, line.form):
            return Substitution(True, False, "same substance, strength and form")
        return Substitution(
            False,
            False,
            Message(
                "not_the_substance",
                "this pack does not contain the prescribed substance at {strength} as {form}",
                strength=line.strength,
                form=line.form,
            ),
        )
    if pack.cis == line.cis:
        return Substitution(True, False, "the prescribed product")
    if not line.substitutable:
        return Substitution(
            False,
            False,
            Message(
                "only_the_product",
                "the line is not substitutable ({reason}): only the prescribed product",
                reason=line.non_substitution_reason,
            ),
        )
    if prescribed_groups & pack.generic_groups:
        return Substitution(True, True, "a substitute from the same generic group")
    return Substitution(
        False,
        False,
        Message("not_in_group", "not in the prescribed product's generic group"),
    )


# -- reimbursement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinePrice:
    """Integer cents: total = covered + patient share."""

    unit_price_cents: int
    quantity: int
    total_cents: int
    rate: int  # percent actually applied
    covered_cents: int
    patient_share_cents: int


def applied_rate(catalog_rate: int | None, ald: bool) -> int:
    """The catalog's rate (0 when not reimbursable); 100 % for an ALD line that is reimbursable.

    ALD covers in full what is reimbursable; it does not make a non-reimbursable pack so.
    """
    if not catalog_rate:
        return 0
    return FULL_COVER_RATE if ald else catalog_rate


def price_line(unit_price_cents: int, quantity: int, catalog_rate: int | None, ald: bool):
    """Price, covered amount and patient share of `quantity` packs (covered rounded half up)."""
    if unit_price_cents < 0 or quantity < 1:
        raise ValueError("a price is not negative and a quantity is at least 1")
    total = unit_price_cents * quantity
    rate = applied_rate(catalog_rate, ald)
    covered = (total * rate + 50) // 100
    return LinePrice(unit_price_cents, quantity, total, rate, covered, total - covered)


# -- the pack itself --------------------------------------------------------------------------


def pack_expiry_problem(expiry: date, today: date) -> Message | None:
    """A pack is given up to and including its expiry day."""
    if expiry < today:
        return Message("pack_expired", "this pack expired on {day}", day=expiry)
    return None


def status_from_progress(lines: Iterable[LineProgress]) -> str:
    """The status the lines imply (expiry aside); after a reversal it may reopen a completed one."""
    lines = list(lines)
    live = [line for line in lines if not line.cancelled]
    if not live:
        return "cancelled"
    if all(line.complete for line in live):
        return "completed"
    if any(line.dispensed > 0 for line in lines):
        return "partially_dispensed"
    return "active"


# -- who may collect --------------------------------------------------------------------------

COLLECTOR_KINDS = ("patient", "representative", "other")
# Who is at the counter, as far as the card rules go.
PATIENT, REPRESENTATIVE, ANYONE = "patient", "representative", "anyone"
# Lookup by card (or number + NIR typed by hand): the pickup modes each of them may see.
SEEN_BY_CARD = {
    PATIENT: frozenset({"public", "private", "authorised"}),
    REPRESENTATIVE: frozenset({"public", "authorised"}),
    ANYONE: frozenset({"public"}),
}


# Lookup by card answers a page at a time (a patient may hold over a hundred prescriptions).
CARD_PAGE_SIZE = 20
CARD_PAGE_SIZE_MAX = 50


def at_counter(identity_confirmed: bool, presenter: str) -> str:
    """Whom the card rules see: the presenter (the patient, or an active representative of
    theirs) once the pharmacist has checked their identity; anyone holding the card otherwise."""
    return presenter if identity_confirmed else ANYONE


def may_see_by_card(pickup_mode: str, who: str) -> bool:
    """Whether `who` (at_counter's answer) is shown a prescription of this pickup mode by card:
    public ones to anyone, authorised ones to a representative too, private ones to the
    patient only."""
    return pickup_mode in SEEN_BY_CARD[who]


def card_problem(pickup_mode: str, who: str) -> Message | None:
    """Why number + NIR does not open this prescription for `who`, or None."""
    if may_see_by_card(pickup_mode, who):
        return None
    if pickup_mode == "private":
        return Message(
            "card_patient_only",
            "it is opened by card for the patient in person only (confirm their identity)",
        )
    return Message(
        "card_patient_or_representative",
        "it is opened by card for the patient or a representative they authorised, "
        "identity confirmed",
    )


COLLECTOR_UNIDENTIFIED = Message(
    "collector_unidentified",
    "someone other than the patient collects it: give their name or national id",
)


def collector_identity_problem(
    kind: str, national_id: str | None, name: str | None
) -> Message | None:
    """Why the record of who collects is not enough, or None: anyone but the patient (a
    representative, someone else) is identified by a national id or a name, whatever the face
    the dispensation comes from."""
    if kind != PATIENT and not ((national_id or "").strip() or (name or "").strip()):
        return COLLECTOR_UNIDENTIFIED
    return None


def collector_problem(
    presenter_nir: str | None, collector_kind: str, collector_nir: str | None
) -> Message | None:
    """With number + NIR, someone other than the patient at the counter (`presenter_nir`) is the
    one who collects: not the patient, and under that NIR (both compact)."""
    if presenter_nir is None:
        return None
    if collector_kind == "patient" or collector_nir != presenter_nir:
        return Message(
            "presenter_collects",
            "the person at the counter collects it: their NIR, as read from their card",
        )
    return None


def pickup_problem(
    pickup_mode: str, collector_kind: str, identity_confirmed: bool, representative_known: bool
) -> Message | None:
    """Why this person may not collect under the pickup mode, or None.

    public: anyone presenting the code; private: the patient, identity confirmed (the
    pharmacist checked that the patient is the one at the counter); authorised: the patient
    (confirmed) or a representative the patient authorised (`representative_known`).
    """
    patient_in_person = collector_kind == "patient" and identity_confirmed
    if pickup_mode == "public":
        return None
    if pickup_mode == "private" and not patient_in_person:
        return Message(
            "private_in_person",
            "a private prescription is collected by the patient in person (confirm identity)",
        )
    if pickup_mode == "authorised" and not patient_in_person:
        if collector_kind != "representative":
            return Message(
                "authorised_collectors",
                "collected by the patient in person or a representative they authorised",
            )
        if not representative_known:
            return Message(
                "not_authorised_representative",
                "this person is not a representative authorised by the patient",
            )
    return None


def transition_for_dispensing(current: str, after: str) -> str:
    """The move a dispensation makes (active/partially_dispensed → partially_dispensed or
    completed), through the lifecycle's table so an illegal one is refused."""
    return transition(current, after)


def reversal_problem(
    dispensed_at: datetime, reversed_at: datetime | None, now: datetime
) -> Message | None:
    """Why a dispensation can no longer be reversed (reversed already, or past the window from
    its receipt's time), or None while it can."""
    if reversed_at is not None:
        return Message("reversed_already", "This dispensation was reversed already.")
    if now - dispensed_at > REVERSAL_WINDOW:
        return Message(
            "reversal_window",
            "A dispensation can be reversed within {hours} hours only.",
            hours=REVERSAL_WINDOW_HOURS,
        )
    return None
