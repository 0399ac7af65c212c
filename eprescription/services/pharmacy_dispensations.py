"""The pharmacy's dispensations: one reopened with its signatures checked, and the recent ones."""

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from eprescription.domain import dispensing as rules
from eprescription.domain.errors import (
    ReceiptSignatureInvalid,
    ValidationFailed,
)
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import Dispensation
from eprescription.services import (
    access,
    audit,
    counter,
    receipts,
    signature_views,
)
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "dispensation"
PER_PAGE = 20
PER_PAGE_MAX = 100
PAGE_MAX = 10_000


def read(uow: UnitOfWork, dispensation_id: str) -> receipts.Receipt:
    """One dispensation of the pharmacist's own pharmacy, as its receipt, with the receipt's
    (and the reversal's) signature verified and whether it can still be reversed; audited."""
    counter.pharmacist_of(uow)
    dispensation = access.open_dispensation(uow, dispensation_id, access.Action.READ).object
    try:
        view = receipts.reopened(uow, dispensation)
    except ReceiptSignatureInvalid as error:
        uow.refuse(
            "read",
            OBJECT_TYPE,
            dispensation.id,
            patient_person_id=dispensation.prescription.patient_person_id,
            outcome=error.code,
        )
        raise
    reversal = view.reversal
    if reversal is not None:
        reversal = replace(
            reversal,
            signature=signature_views.of_document(
                uow, dispensation.reversal_jws, dispensation.reversal_payload
            ),
        )
    uow.audit(
        "read",
        OBJECT_TYPE,
        dispensation.id,
        patient_person_id=dispensation.prescription.patient_person_id,
    )
    return replace(
        view,
        reversal=reversal,
        receipt_signature=signature_views.of_document(uow, dispensation.jws, dispensation.payload),
        reversible=not rules.reversal_problem(
            dispensation.dispensed_at, dispensation.reversed_at, uow.now
        ),
    )


@dataclass(frozen=True)
class Summary:
    """One dispensation in the pharmacy's list, as its verified receipt says; one whose receipt
    cannot be verified shows only when, of which prescription, for whom, and why (its row's)."""

    id: str
    dispensed_at: str
    prescription_number: str
    patient: dict  # given and family name, never the NIR
    pharmacist: dict | None
    products: list[str]
    total_cents: int | None
    patient_share_cents: int | None
    reversed_at: str | None
    verified: bool = True
    verification_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recent:
    dispensations: list[Summary]
    page: int
    per_page: int
    has_next: bool


def recent(uow: UnitOfWork, *, page: int = 1, per_page: int = PER_PAGE) -> Recent:
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
    items: list[Summary] = []
    for dispensation in shown:
        summary = _summary(uow, dispensation)
        items.append(summary)
        uow.audit(
            "list",
            OBJECT_TYPE,
            dispensation.id,
            patient_person_id=dispensation.prescription.patient_person_id,
            outcome=audit.SUCCESS if summary.verified else ReceiptSignatureInvalid.code,
        )
    return Recent(items, page, per_page, has_next=len(rows) > per_page)


def _summary(uow: UnitOfWork, dispensation: Dispensation) -> Summary:
    """The row as its verified receipt says, else its time, prescription and patient and why."""
    checked = receipts.check(uow, dispensation)
    prescription, reversed_at = dispensation.prescription, dispensation.reversed_at
    patient = prescription.patient
    receipt = checked.content or {
        "issued_at": iso_seconds(dispensation.dispensed_at),
        "prescription": {"number": prescription.number},
    }
    return Summary(
        id=dispensation.id,
        dispensed_at=receipt["issued_at"],
        prescription_number=receipt["prescription"]["number"],
        patient={"given_name": patient.given_name, "family_name": patient.family_name},
        pharmacist=receipt.get("pharmacist"),
        products=[line["product"] for line in receipt.get("lines", [])],
        total_cents=receipt.get("total_cents"),
        patient_share_cents=receipt.get("patient_share_cents"),
        reversed_at=iso_seconds(reversed_at) if reversed_at else None,
        verified=checked.verified,
        verification_problems=checked.problems,
    )
