"""A renewal request inside the issue transaction: checked before signing, renewed with it."""

from datetime import datetime
from typing import NoReturn

from sqlalchemy import select

from eprescription.domain import renewals as rules
from eprescription.domain.errors import NotFound, ValidationFailed
from eprescription.domain.renewals import RequestStatus
from eprescription.models import Person, Prescriber, Prescription, RenewalRequest
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "prescription"  # events name the prescription asked for, as the patient knows it
REQUEST_OBJECT = "renewal_request"
NOT_VISIBLE = "No renewal request with this id is visible to you."


def settle(row: RenewalRequest, now: datetime) -> bool:
    """Store a lapsed pending request as expired (so a new one may be made); True if it was."""
    if rules.effective_status(row.status, row.requested_at, now) == row.status:
        return False
    row.status = str(rules.transition(row.status, RequestStatus.EXPIRED))
    row.decided_at = rules.lapses_at(row.requested_at)
    return True


def refuse(uow: UnitOfWork, action: str, request_id: int, row: RenewalRequest | None) -> NoReturn:
    """Audit a refused or missing request (kept whatever follows), and answer the same NotFound
    either way."""
    uow.refuse(
        action,
        OBJECT_TYPE if row is not None else REQUEST_OBJECT,
        row.prescription.number if row is not None else str(request_id),
        patient_person_id=row.patient_person_id if row is not None else None,
        outcome="denied" if row is not None else "not_found",
    )
    raise NotFound(NOT_VISIBLE)


def handled_by(
    uow: UnitOfWork,
    prescriber: Prescriber,
    request_id: int,
    action: str,
    *,
    target: RequestStatus,
) -> RenewalRequest:
    """The prescriber's own request, still pending (a lapsed one is refused; every reader
    stores or reads the lapse as such, so it need not outlive the refusal)."""
    row = uow.session.get(RenewalRequest, request_id)
    if row is None or row.prescriber_id != prescriber.id:
        refuse(uow, action, request_id, row)
    settle(row, uow.now.replace(microsecond=0))
    rules.transition(row.status, target)
    return row


def claim(
    uow: UnitOfWork,
    prescriber: Prescriber,
    patient: Person,
    request_id: int | None,
) -> RenewalRequest | None:
    """Before signing: the request the new prescription answers (None when there is none)."""
    if request_id is None:
        return None
    row = handled_by(uow, prescriber, request_id, "renew", target=RequestStatus.RENEWED)
    if row.patient_person_id != patient.id:
        raise ValidationFailed(
            "This renewal request is from another patient.",
            errors={"renewal_request": ["this request is from another patient"]},
        )
    return row


def fulfil(uow: UnitOfWork, row: RenewalRequest | None, prescription: Prescription) -> None:
    """In the issue transaction: mark the request renewed by `prescription`, and audit it.

    The row is read again under a lock, so two signatures cannot both renew one request.
    """
    if row is None:
        return
    now = uow.now.replace(microsecond=0)
    row = uow.session.scalar(
        select(RenewalRequest)
        .where(RenewalRequest.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    current = rules.effective_status(row.status, row.requested_at, now)
    row.status = str(rules.transition(current, RequestStatus.RENEWED))
    row.decided_at = now
    row.decided_by_account_id = uow.account.id
    row.renewed_prescription = prescription
    uow.audit(
        "renew",
        OBJECT_TYPE,
        row.prescription.number,
        patient_person_id=row.patient_person_id,
    )
