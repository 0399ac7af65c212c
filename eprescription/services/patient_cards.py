"""A prescription as the health space shows it in plain words: what is left, what was given."""

from datetime import date

from eprescription.domain import health_space as rules
from eprescription.domain.health_space import View
from eprescription.domain.prescriptions import Status
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.services import prescription_views


def card(found: SignedPrescription, today: date, relation: str, given: list[dict]) -> dict:
    """What the health space shows of a prescription: the verified signed content in plain
    words, what is left to collect, days left, whose it is, and what was given (from
    `dispensations`); only its number and why when it cannot be verified."""
    if not found.verified:
        unverified = prescription_views.describe_unverified(found)
        return {
            "id": unverified.id,
            "number": unverified.number,
            "verified": False,
            "verification_problems": unverified.verification_problems,
            "items": [],
            "relation": relation,
            "view": str(View.HISTORY),  # nothing to collect from it
        }
    signed = prescription_views.verified_view(found, today)
    status = Status(signed.status)
    lines = []
    progresses = []
    for item, line in zip(signed.items, found.lines, strict=True):
        progress = line.progress
        progresses.append(progress)
        medication = item.medication
        lines.append(
            {
                "line": item.line,
                "medication": rules.medication_words(
                    medication["name"], medication.get("strength"), medication.get("form")
                ),
                "dosage": item.dosage["text"],
                "quantity": item.quantity,
                "quantity_text": rules.packs(item.quantity) + " per supply",
                # Written in full on a secure prescription (docs/rules.md).
                "quantity_in_words": item.quantity_in_words,
                "substitutable": item.substitutable,
                "ald": item.ald,
                "status": item.status,
                "total_quantity": progress.total,
                "dispensed_quantity": progress.dispensed,
                "remaining_quantity": progress.remaining_total,
                "remaining_now": progress.remaining_in_period,
                "remaining_text": rules.remaining_words(progress),
            }
        )
    valid_from, valid_until = found.valid_from, found.valid_until
    patient, prescriber = signed.patient, signed.prescriber
    return {
        "id": signed.id,
        "number": signed.number,
        "verified": True,
        "status": str(status),
        "view": str(rules.view_of(status)),
        "relation": relation,
        "patient": {
            "given_name": patient["given_name"],
            "family_name": patient["family_name"],
            "name": f"{patient['given_name']} {patient['family_name']}",
        },
        "prescriber": {
            **prescriber,
            "name": f"Dr {prescriber['given_name']} {prescriber['family_name']}",
        },
        "issued_at": signed.issued_at,
        "issued_on": signed.issued_at[:10],
        "valid_from": signed.valid_from,
        "valid_until": signed.valid_until,
        "days_left": rules.days_left(valid_until, today),
        "validity_text": rules.validity_words(valid_from, valid_until, today),
        "renewals": signed.renewals,
        "renewal_in_progress": rules.renewal_in_progress(progresses),
        "pickup_mode": found.pickup_mode,
        "pickup_mode_prescribed": signed.pickup_mode,
        "pickup_text": rules.PICKUP_WORDS.get(found.pickup_mode, found.pickup_mode),
        "remaining_quantity": sum(progress.remaining_total for progress in progresses),
        "lines": lines,
        "dispensations": given,
        "version": found.version,
    }
