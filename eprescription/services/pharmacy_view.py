"""What a pharmacist sees of a prescription: signed content, each line's progress, signature."""

from dataclasses import dataclass, replace
from datetime import date

from eprescription.domain import dispensing as rules
from eprescription.domain import dispensing_periods as periods
from eprescription.domain import prescription_codes as codes
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.services import prescription_views, signature_views


@dataclass(frozen=True)
class CounterLine:
    """A line as the counter needs it: what is signed, what is left now and overall, whether a
    substitute may be given."""

    line: int
    medication: dict  # as signed
    dosage: dict  # as signed
    ald: bool
    status: str  # active or cancelled
    dispensable: bool  # something of it may be given today
    quantity_per_period: int
    prescribed_total: int
    dispensed: int
    remaining_total: int
    period: dict  # current, of, remaining, opens (the day it opens, when after today)
    substitution: dict  # allowed, reason, non_substitution_reason
    conditions: list  # the product's prescribing conditions, as signed (docs/rules.md)


@dataclass(frozen=True)
class CounterView:
    """A verified prescription as a pharmacist sees it, with the signature check by check."""

    id: str
    number: str
    status: str
    version: int
    issued_at: str
    valid_from: str
    valid_until: str
    valid_today: bool
    renewals: int
    pickup_mode: str  # in force: the one the counter applies
    patient: dict
    prescriber: dict
    signature: signature_views.SignatureView
    items: list[CounterLine]
    jws: str
    verified: bool = True


def describe(found: SignedPrescription, today: date) -> CounterView | prescription_views.Unverified:
    """The prescription as a pharmacist sees it: the verified signed content, progress per
    line from the verified receipts, the signature; only the number and why when the row
    does not agree with its signed documents."""
    if not found.verified:
        return replace(
            prescription_views.describe_unverified(found),
            signature=signature_views.of_prescription(found),
        )
    return counter_view(found, today)


def counter_view(found: SignedPrescription, today: date) -> CounterView:
    """describe() of a verified prescription (ValueError for one that is not)."""
    content = found.signed_content
    status = found.status_on(today)
    lines: list[CounterLine] = []
    for line in found.lines:
        signed, state = line.content, line.progress
        allowed, why = rules.substitution_policy(line.prescribed)
        lines.append(
            CounterLine(
                line=line.line,
                medication=signed["medication"],
                dosage=signed["dosage"],
                ald=signed["ald"],
                status="cancelled" if line.cancelled else "active",
                dispensable=state.dispensable_now,
                quantity_per_period=state.quantity,
                prescribed_total=state.total,
                dispensed=state.dispensed,
                remaining_total=state.remaining_total,
                period={
                    "current": state.current_period,
                    "of": state.periods,
                    "remaining": state.remaining_in_period,
                    "opens": periods.opens_after(line.rules, found.valid_from, today),
                },
                substitution={
                    "allowed": allowed,
                    "reason": why,
                    "non_substitution_reason": signed.get("non_substitution_reason"),
                },
                conditions=signed.get("conditions", []),
            )
        )
    return CounterView(
        id=found.number,
        number=codes.display_number(found.number),
        status=str(status),
        version=found.version,
        issued_at=content["issued_at"],
        valid_from=content["valid_from"],
        valid_until=content["valid_until"],
        valid_today=found.valid_from <= today <= found.valid_until,
        renewals=content["renewals"],
        pickup_mode=found.pickup_mode,  # in force: the one the counter applies
        patient=content["patient"],
        prescriber=content["prescriber"],
        signature=signature_views.of_prescription(found),
        items=lines,
        jws=found.jws,
    )
