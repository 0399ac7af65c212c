"""Dispensations after the fact: the receipt reopened, the pharmacy's recent ones, and the
reversal signed by the service like the receipt; each one unit of work, audited."""

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import selectinload

from eprescription.domain import dispensing as rules
from eprescription.domain import signed_prescription
from eprescription.domain.errors import (
    DomainError,
    ReversalRefused,
    ValidationFailed,
)
from eprescription.models import Dispensation, Pharmacist, PrescriptionItem
from eprescription.services import access, counter, pki, signed_documents, verification
from eprescription.services.prescriptions import iso_seconds
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

REVERSAL_TYPE = signed_prescription.REVERSAL_TYPE
REVERSAL_VERSION = signed_prescription.VERSION
OBJECT_TYPE = "dispensation"
REASON_MAX = 500
PER_PAGE = 20
PER_PAGE_MAX = 100
PAGE_MAX = 10_000
REVERSAL_WINDOW = timedelta(hours=rules.REVERSAL_WINDOW_HOURS)


# -- what callers show --------------------------------------------------------------------------


def describe(dispensation: Dispensation) -> dict:
    """The receipt's signed content, its JWS, the prescription's state after it, and the
    reversal (its signed document) when there is one."""
    prescription = dispensation.prescription
    reversal = None
    if dispensation.reversed_at is not None:
        payload = dispensation.reversal_payload
        reversal = {
            "reversed_at": iso_seconds(dispensation.reversed_at),
            "reason": dispensation.reversal_reason,
            "document": json.loads(payload) if payload else None,
            "jws": dispensation.reversal_jws,
        }
    return {
        **json.loads(dispensation.payload),
        "prescription_status": prescription.status,
        "prescription_version": prescription.version,
        "reversed_at": reversal["reversed_at"] if reversal else None,
        "reversible_until": iso_seconds(dispensation.dispensed_at + REVERSAL_WINDOW),
        "reversal": reversal,
        "jws": dispensation.jws,
    }


def _checked(uow: UnitOfWork, token: str | None, payload: bytes | None) -> dict:
    """A signature's verification as data: valid, algorithm, each check."""
    if not token or not payload:
        return {"valid": False, "alg": None, "checks": []}
    report = verification.verify_document(uow, token, payload)
    return {
        "valid": report.valid,
        "alg": (report.header or {}).get("alg"),
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
    }


# -- reopen one ---------------------------------------------------------------------------------


def read(uow: UnitOfWork, dispensation_id: str) -> dict:
    """One dispensation of the pharmacist's own pharmacy, as its receipt, with the receipt's
    (and the reversal's) signature verified and whether it can still be reversed; audited."""
    counter.pharmacist_of(uow)
    dispensation = access.open_dispensation(uow, dispensation_id, access.Action.READ).object
    view = describe(dispensation)
    view["receipt_signature"] = _checked(uow, dispensation.jws, dispensation.payload)
    if view["reversal"] is not None:
        view["reversal"]["signature"] = _checked(
            uow, dispensation.reversal_jws, dispensation.reversal_payload
        )
    view["reversible"] = (
        dispensation.reversed_at is None and uow.now - dispensation.dispensed_at <= REVERSAL_WINDOW
    )
    uow.audit(
        "read",
        OBJECT_TYPE,
        dispensation.id,
        patient_person_id=dispensation.prescription.patient_person_id,
    )
    return view


# -- the pharmacy's recent dispensations ----------------------------------------------------------


def recent(uow: UnitOfWork, *, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """The dispensations of the pharmacist's pharmacy, newest first, one page at a time; each
    one shown is audited (it names a patient)."""
    pharmacist = counter.pharmacist_of(uow)
    if not 1 <= page <= PAGE_MAX or not 1 <= per_page <= PER_PAGE_MAX:
        raise ValidationFailed(
            "Ask for a page from 1, of 1 to 100 dispensations.",
            errors={"page": [f"1 to {PAGE_MAX}"], "per_page": [f"1 to {PER_PAGE_MAX}"]},
        )
    rows = uow.session.scalars(
        select(Dispensation)
        .where(Dispensation.pharmacy_id == pharmacist.pharmacy_id)
        .order_by(Dispensation.dispensed_at.desc(), Dispensation.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
        .options(selectinload(Dispensation.prescription))
    ).all()
    shown = rows[:per_page]
    items = []
    for dispensation in shown:
        receipt = json.loads(dispensation.payload)
        patient = dispensation.prescription.patient
        items.append(
            {
                "id": dispensation.id,
                "dispensed_at": receipt["issued_at"],
                "prescription_number": receipt["prescription"]["number"],
                "patient": {"given_name": patient.given_name, "family_name": patient.family_name},
                "pharmacist": receipt["pharmacist"],
                "products": [line["product"] for line in receipt["lines"]],
                "total_cents": dispensation.total_cents,
                "patient_share_cents": dispensation.patient_share_cents,
                "reversed_at": (
                    iso_seconds(dispensation.reversed_at) if dispensation.reversed_at else None
                ),
            }
        )
        uow.audit("list", OBJECT_TYPE, dispensation.id, patient_person_id=patient.id)
    return {
        "dispensations": items,
        "page": page,
        "per_page": per_page,
        "has_next": len(rows) > per_page,
    }


# -- reversal -----------------------------------------------------------------------------------


def reverse(uow: UnitOfWork, dispensation_id: str, reason: str | None) -> Dispensation:
    """Undo a dispensation within 24 hours, by the pharmacy that made it: quantities restored,
    and a reversal document signed by the service key like the receipt."""
    session = uow.session
    now = uow.now.replace(microsecond=0)
    pharmacist = counter.pharmacist_of(uow)
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise ValidationFailed(
            "Say why it is reversed.", errors={"reason": [f"1 to {REASON_MAX} characters"]}
        )
    dispensation = access.open_dispensation(uow, dispensation_id, access.Action.REVERSE).object
    prescription = dispensation.prescription
    try:
        prescription = counter.lock_prescription(uow, prescription.id)
        session.refresh(dispensation)
        if dispensation.reversed_at is not None:
            raise ReversalRefused("This dispensation was reversed already.")
        if now - dispensation.dispensed_at > REVERSAL_WINDOW:
            raise ReversalRefused(
                f"A dispensation can be reversed within {rules.REVERSAL_WINDOW_HOURS} hours only."
            )
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
        dispensation.reversal_payload = _reversal_document(dispensation, pharmacist, reason, now)
        dispensation.reversal_jws = pki.sign_as_service(uow, dispensation.reversal_payload)
    except DomainError as error:
        counter.record_refusal(uow, prescription, "reverse", error)
        raise
    uow.audit(
        "reverse",
        counter.OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
    )
    return dispensation


def _reversal_document(
    dispensation: Dispensation, pharmacist: Pharmacist, reason: str, now: datetime
) -> bytes:
    """The canonical JSON the service signs: which receipt is undone, by whom, why, and the
    quantities given back to each line."""
    receipt = json.loads(dispensation.payload)
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
