"""Cancelling a prescription or some of its lines, signed with the prescriber's PIN."""

import hashlib
from dataclasses import replace

from eprescription.domain import prescriptions as rules
from eprescription.domain import signed_prescription as signed
from eprescription.domain.errors import (
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import (
    Problems,
    today_of,
)
from eprescription.domain.signed_prescription import SignedPrescription, iso_seconds
from eprescription.models import (
    PrescriptionCancellation,
)
from eprescription.services import (
    access,
    events,
    prescribers,
    prescription_events,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

CANCELLATION_TYPE = signed.CANCELLATION_TYPE


def cancel(
    uow: UnitOfWork,
    number: str,
    *,
    pin: str,
    reason: str | None,
    lines: list[int] | None = None,
) -> SignedPrescription:
    """Cancel the whole prescription or some lines, nothing dispensed; signed with the PIN.
    What is dispensed and cancelled already is what the verified documents say."""
    session = uow.session
    now = uow.now.replace(microsecond=0)
    prescription = access.open_prescription(uow, number, access.Action.CANCEL, today_of(now)).object
    problems = Problems()
    reason = rules.check_reason(problems, reason)
    if problems:
        raise ValidationFailed(
            Message("reason_for_cancelling", "Say why it is cancelled."), errors=problems.errors
        )
    before = signed_documents.require(uow, prescription, "cancel")
    current = before.status_on(today_of(now))
    states = [line.state for line in before.lines]
    chosen = rules.lines_to_cancel(current, states, lines)
    prescriber = prescription.prescriber
    document = {
        "type": CANCELLATION_TYPE,
        "version": signed.VERSION,
        "prescription": {
            "number": prescription.number,
            "payload_sha256": hashlib.sha256(prescription.payload).hexdigest(),
        },
        "lines": chosen,
        "reason": reason,
        "cancelled_at": iso_seconds(now),
        "prescriber": {
            "rpps": prescriber.rpps,
            "family_name": prescriber.person.family_name,
            "given_name": prescriber.person.given_name,
        },
    }
    payload = canonical_json(document)
    jws = prescribers.sign(
        uow,
        prescriber,
        pin,
        payload,
        "cancel",
        prescription.number,
        prescription.patient_person_id,
    )
    cancellation = PrescriptionCancellation(
        prescription=prescription,
        account_id=uow.require_account().id,
        cancelled_at=now,
        reason=reason,
        payload=payload,
        jws=jws,
    )
    session.add(cancellation)
    session.flush()
    for item in prescription.items:
        if item.line in chosen:
            item.cancellation_id = cancellation.id
    after = rules.status_from_lines(
        replace(line.state, cancelled=line.cancelled or line.line in chosen)
        for line in before.lines
    )
    if after != current:
        prescription.status = str(rules.transition(current, after))
    prescription.version += 1
    prescription_events.record(uow, "cancel", prescription)
    events.emit(uow, events.CANCELLED, prescription, lines=sorted(chosen))
    return signed_documents.check_one(uow, prescription)
