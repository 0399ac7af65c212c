"""What the prescriber's and the patient's faces show of a prescription (verified or not)."""

from dataclasses import dataclass, field
from datetime import date, datetime

from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as rules
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.services.signature_views import SignatureView


@dataclass(frozen=True)
class Unverified:
    """What every face shows of a prescription that cannot be verified: its number and why;
    none of its content, which nothing vouches for (and, at the counter, the signature)."""

    id: str
    number: str
    verification_problems: list[str]
    verified: bool = False
    items: tuple = ()
    signature: SignatureView | None = None


@dataclass(frozen=True)
class LineView:
    """A signed line with what the verified receipts and cancellations say of it."""

    line: int
    medication: dict  # as signed: product (cis) or substance (code, strength, form), name
    dosage: dict  # as signed: text, and dose, unit, frequency, duration when given
    quantity: int
    substitutable: bool
    non_substitution_reason: str | None
    ald: bool
    status: str  # active or cancelled
    dispensed_quantity: int
    cancellable: bool
    # As signed (docs/rules.md): the product's conditions, the prescriber's express renewal of
    # a liste I line, the initial prescription it renews.
    conditions: list = field(default_factory=list)
    renewal_authorised: bool = False
    initial_prescription: str | None = None
    fractionation_days: int | None = None  # a narcotic given N days at a time, as written
    overlap_allowed: bool = False  # "chevauchement autorisé" (R5132-33)
    quantity_in_words: str | None = None  # a secure prescription's line (docs/rules.md)


@dataclass(frozen=True)
class CancellationView:
    cancelled_at: datetime
    reason: str
    lines: list[int]
    jws: str


@dataclass(frozen=True)
class PrescriptionView:
    """A verified prescription as its prescriber and patient see it."""

    id: str
    number: str
    status: str
    cancellable: bool
    version: int
    issued_at: str
    valid_from: str
    valid_until: str
    renewals: int
    pickup_mode: str  # as prescribed
    patient: dict  # as signed: identifier, names, birth date
    prescriber: dict  # as signed: RPPS, names
    items: list[LineView]
    cancellations: list[CancellationView]
    jws: str
    verified: bool = True


def describe_unverified(found: SignedPrescription) -> Unverified:
    """The number of a prescription that cannot be verified, and why."""
    return Unverified(found.number, codes.display_number(found.number), list(found.problems))


def describe(found: SignedPrescription, today: date) -> PrescriptionView | Unverified:
    """The prescription as its prescriber and patient see it: the verified signed content, what
    the verified receipts and cancellations say of each line, and its state."""
    return verified_view(found, today) if found.verified else describe_unverified(found)


def verified_view(found: SignedPrescription, today: date) -> PrescriptionView:
    """describe() of a verified prescription (ValueError for one that is not)."""
    content = found.signed_content
    status = found.status_on(today)
    items = [
        LineView(
            line=line.line,
            medication=line.content["medication"],
            dosage=line.content["dosage"],
            quantity=line.content["quantity"],
            substitutable=line.content["substitutable"],
            non_substitution_reason=line.content.get("non_substitution_reason"),
            ald=line.content["ald"],
            status="cancelled" if line.cancelled else "active",
            dispensed_quantity=line.dispensed,
            cancellable=rules.line_cancellable(status, line.state),
            conditions=line.content.get("conditions", []),
            renewal_authorised=line.content.get("renewal_authorised", False),
            initial_prescription=line.content.get("initial_prescription"),
            fractionation_days=line.content.get("fractionation_days"),
            overlap_allowed=line.content.get("overlap_allowed", False),
            quantity_in_words=line.content.get("quantity_in_words"),
        )
        for line in found.lines
    ]
    return PrescriptionView(
        id=found.number,
        number=codes.display_number(found.number),
        status=str(status),
        cancellable=rules.cancellable(status, (line.state for line in found.lines)),
        version=found.version,
        issued_at=content["issued_at"],
        valid_from=content["valid_from"],
        valid_until=content["valid_until"],
        renewals=content["renewals"],
        pickup_mode=content["pickup_mode"],
        patient=content["patient"],
        prescriber=content["prescriber"],
        items=items,
        cancellations=[
            CancellationView(c.cancelled_at, c.reason, list(c.lines), c.jws)
            for c in found.cancellations
        ],
        jws=found.jws,
    )
