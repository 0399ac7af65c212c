"""Reversing a dispensation within 24 hours: quantities given back, signed by the service."""

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, update

from eprescription.domain import dispensing as rules
from eprescription.domain import signed_prescription
from eprescription.domain.errors import (
    DomainError,
    ReceiptSignatureInvalid,
    ReversalRefused,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import Dispensation, Pharmacist, PrescriptionItem
from eprescription.services import (
    access,
    counter,
    events,
    pki,
    prescription_events,
    receipts,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

REVERSAL_TYPE = signed_prescription.REVERSAL_TYPE
REVERSAL_VERSION = signed_prescription.VERSION
REASON_MAX = 500


def reverse(uow: UnitOfWork, dispensation_id: str, reason: str | None) -> Dispensation:
    """Undo a dispensation within 24 hours, by the pharmacy that made it: quantities restored,
    and a reversal document signed by the service key like the receipt."""
    session = uow.session
    now = uow.now.replace(microsecond=0)
    pharmacist = counter.pharmacist_of(uow)
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise ValidationFailed(
            Message("reason_for_reversing", "Say why it is reversed."),
            errors={
                "reason": [Message("characters_range", "1 to {max} characters", max=REASON_MAX)]
            },
        )
    dispensation = access.open_dispensation(uow, dispensation_id, access.Action.REVERSE).object
    prescription = dispensation.prescription
    try:
        prescription = counter.lock_prescription(uow, prescription.id)
        session.refresh(dispensation)
        # What is given back is what the verified receipt gave (never a row that disagrees).
        receipt = receipts.check(uow, dispensation)
        if receipt.content is None:
            raise ReceiptSignatureInvalid(receipts.cannot_be_verified(receipt))
        problem = rules.reversal_problem(dispensation.dispensed_at, dispensation.reversed_at, now)
        if problem:
            raise ReversalRefused(problem)
        # The receipt's lines and every line's progress as the verified documents say.
        found = signed_documents.require(uow, prescription)
        items = {item.id: item for item in prescription.items}
        given_back: dict[int, int] = {}
        for line in dispensation.lines:
            result = session.execute(
                update(PrescriptionItem)
                .where(PrescriptionItem.id == line.item_id)
                .where(PrescriptionItem.dispensed_quantity >= line.quantity)
                .values(dispensed_quantity=PrescriptionItem.dispensed_quantity - line.quantity)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult, result).rowcount != 1:  # an UPDATE's, typed as Result
                raise ReversalRefused(f"Line {line.line} no longer holds what was dispensed.")
            items[line.item_id].dispensed_quantity -= line.quantity
            given_back[line.line] = given_back.get(line.line, 0) + line.quantity
        prescription.status = rules.status_from_progress(
            replace(state, dispensed=state.dispensed - given_back.get(state.line, 0))
            for state in found.progress()
        )
        prescription.version += 1
        dispensation.reversed_at = now
        dispensation.reversed_by_account_id = uow.require_account().id
        dispensation.reversal_reason = reason
        dispensation.reversal_payload = _reversal_document(
            dispensation, receipt.content, pharmacist, reason, now
        )
        dispensation.reversal_jws = pki.sign_as_service(uow, dispensation.reversal_payload)
    except DomainError as error:
        counter.record_refusal(uow, prescription, "reverse", error)
        raise
    prescription_events.record(uow, "reverse", prescription)
    events.emit(uow, events.REVERSED, prescription, dispensation=dispensation.id)
    return dispensation


def _reversal_document(
    dispensation: Dispensation, receipt: dict, pharmacist: Pharmacist, reason: str, now: datetime
) -> bytes:
    """The canonical JSON the service signs: which receipt (its verified content) is undone, by
    whom, why, and the quantities given back to each line."""
    return canonical_json(
        {
            "type": REVERSAL_TYPE,
            "version": REVERSAL_VERSION,
            "id": dispensation.id,
            "issued_at": iso_seconds(now),
            "dispensation": {
                "id": dispensation.id,
                "issued_at": receipt["issued_at"],
                "receipt_sha256": hashlib.sha256(dispensation.payload).hexdigest(),
            },
            "prescription": receipt["prescription"],
            "pharmacy": {"finess": pharmacist.pharmacy.finess, "name": pharmacist.pharmacy.name},
            "pharmacist": {
                "family_name": pharmacist.person.family_name,
                "given_name": pharmacist.person.given_name,
                "rpps": pharmacist.rpps,
            },
            "reason": reason,
            "lines": [
                {
                    "line": line.line,
                    "period": line.period,
                    "cip13": line.cip13,
                    "batch": line.batch,
                    "quantity": line.quantity,
                }
                for line in dispensation.lines
            ],
        }
    )
