"""A prescription as the health space shows it in plain words: what is left, what was given."""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from eprescription.domain import health_space as rules
from eprescription.domain.health_space import View
from eprescription.domain.prescriptions import Status
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.services import prescription_views
from eprescription.services.given_dispensations import GivenDispensation

if TYPE_CHECKING:  # renewal_requests builds on this module
    from eprescription.services.renewal_requests import RenewalState

# The fields of a CardLine that are its signed line's (prescription_views.LineView) as is.
AS_SIGNED = ("line", "quantity", "quantity_in_words", "substitutable", "ald", "status")


@dataclass(frozen=True)
class CardLine:
    """A signed line in plain words, with what is left of it."""

    line: int
    medication: str
    dosage: str
    quantity: int  # packs per supply
    quantity_text: str
    quantity_in_words: str | None  # written in full on a secure prescription (docs/rules.md)
    substitutable: bool
    ald: bool
    status: str
    total_quantity: int
    dispensed_quantity: int
    remaining_quantity: int
    remaining_now: int
    remaining_text: str


@dataclass(frozen=True)
class UnverifiedCard:
    """A prescription that cannot be verified: its number and why, nothing to collect."""

    id: str
    number: str
    verification_problems: list[str]
    relation: str
    view: str = str(View.HISTORY)  # nothing to collect from it
    verified: bool = False
    items: tuple = ()
    qr_text: None = None
    renewal: "RenewalState | None" = None  # added by services/renewal_requests


@dataclass(frozen=True)
class Card:
    """A verified prescription as the health space shows it; `qr_text` (its page, while it
    can be collected) and `renewal` (its renewal state) are added by the use cases."""

    id: str
    number: str
    status: str
    view: str
    relation: str
    patient: dict  # given_name, family_name, name
    prescriber: dict  # as signed, with name
    issued_at: str
    issued_on: str
    valid_from: str
    valid_until: str
    days_left: int
    validity_text: str
    renewals: int
    renewal_in_progress: int
    pickup_mode: str
    pickup_mode_prescribed: str
    pickup_text: str
    remaining_quantity: int
    lines: list[CardLine]
    dispensations: list[GivenDispensation]
    version: int
    verified: bool = True
    qr_text: str | None = None
    renewal: "RenewalState | None" = None  # added by services/renewal_requests


def card(
    found: SignedPrescription, today: date, relation: str, given: list[GivenDispensation]
) -> Card | UnverifiedCard:
    """What the health space shows of a prescription: the verified signed content in plain
    words, what is left to collect, days left, whose it is, and what was given (from
    `dispensations`); only its number and why when it cannot be verified."""
    if not found.verified:
        unverified = prescription_views.describe_unverified(found)
        return UnverifiedCard(
            unverified.id, unverified.number, unverified.verification_problems, relation
        )
    return verified_card(found, today, relation, given)


def verified_card(
    found: SignedPrescription, today: date, relation: str, given: list[GivenDispensation]
) -> Card:
    """card() of a verified prescription (ValueError for one that is not)."""
    signed = prescription_views.verified_view(found, today)
    status = Status(signed.status)
    lines = []
    progresses = []
    for item, line in zip(signed.items, found.lines, strict=True):
        progress = line.progress
        progresses.append(progress)
        medication = item.medication
        lines.append(
            CardLine(
                **{name: getattr(item, name) for name in AS_SIGNED},
                medication=rules.medication_words(
                    medication["name"], medication.get("strength"), medication.get("form")
                ),
                dosage=item.dosage["text"],
                quantity_text=rules.packs(item.quantity) + " per supply",
                total_quantity=progress.total,
                dispensed_quantity=progress.dispensed,
                remaining_quantity=progress.remaining_total,
                remaining_now=progress.remaining_in_period,
                remaining_text=rules.remaining_words(progress),
            )
        )
    valid_from, valid_until = found.valid_from, found.valid_until
    patient, prescriber = signed.patient, signed.prescriber
    return Card(
        id=signed.id,
        number=signed.number,
        status=str(status),
        view=str(rules.view_of(status)),
        relation=relation,
        patient={
            "given_name": patient["given_name"],
            "family_name": patient["family_name"],
            "name": f"{patient['given_name']} {patient['family_name']}",
        },
        prescriber={
            **prescriber,
            "name": f"Dr {prescriber['given_name']} {prescriber['family_name']}",
        },
        issued_at=signed.issued_at,
        issued_on=signed.issued_at[:10],
        valid_from=signed.valid_from,
        valid_until=signed.valid_until,
        days_left=rules.days_left(valid_until, today),
        validity_text=rules.validity_words(valid_from, valid_until, today),
        renewals=signed.renewals,
        renewal_in_progress=rules.renewal_in_progress(progresses),
        pickup_mode=found.pickup_mode,
        pickup_mode_prescribed=signed.pickup_mode,
        pickup_text=rules.PICKUP_WORDS.get(found.pickup_mode, found.pickup_mode),
        remaining_quantity=sum(progress.remaining_total for progress in progresses),
        lines=lines,
        dispensations=given,
        version=found.version,
    )
