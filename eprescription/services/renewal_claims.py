"""A renewal request inside the issue transaction: checked before signing, renewed with it."""

from datetime import datetime
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from eprescription.domain import renewals as rules
from eprescription.domain.errors import NotFound, ValidationFailed
from eprescription.domain.renewals import RequestStatus
from eprescription.models import Account, Person, Prescriber, Prescription, RenewalRequest
from eprescription.services import audit

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


def refuse(
    session: Session, account: Account, action: str, request_id: int, row: RenewalRequest | None
) -> NoReturn:
    """Audit a refused or missing request, commit, and answer the same NotFound either way."""
    audit.record(
        session,
        audit.actor_for(session, account),
        action,
        OBJECT_TYPE if row is not None else REQUEST_OBJECT,
        row.prescription.number if row is not None else str(request_id),
        patient_person_id=row.patient_person_id if row is not None else None,
        outcome="denied" if row is not None else "not_found",
    )
    session.commit()
    raise NotFound(NOT_VISIBLE)


def handled_by(
    session: Session,
    account: Account,
    prescriber: Prescriber,
    request_id: int,
    action: str,
    now: datetime,
    *,
    target: RequestStatus,
) -> RenewalRequest:
    """The prescriber's own request, still pending (a lapse is stored before the refusal)."""
    row = session.get(RenewalRequest, request_id)
    if row is None or row.prescriber_id != prescriber.id:
        refuse(session, account, action, request_id, row)
    if settle(row, now):
        session.commit()
    rules.transition(row.status, target)
    return row


def claim(
    session: Session,
    account: Account,
    prescriber: Prescriber,
    patient: Person,
    request_id: int | None,
    *,
    now: datetime,
) -> RenewalRequest | None:
    """Before signing: the request the new prescription answers (None when there is none)."""
    if request_id is None:
        return None
    row = handled_by(
        session, account, prescriber, request_id, "renew", now, target=RequestStatus.RENEWED
    )
    if row.patient_person_id != patient.id:
        raise ValidationFailed(
            "This renewal request is from another patient.",
            errors={"renewal_request": ["this request is from another patient"]},
        )
    return row


def fulfil(
    session: Session,
    account: Account,
    row: RenewalRequest | None,
    prescription: Prescription,
    *,
    now: datetime,
) -> None:
    """In the issue transaction: mark the request renewed by `prescription`, and audit it.

    The row is read again under a lock, so two signatures cannot both renew one request.
    """
    if row is None:
        return
    row = session.scalar(
        select(RenewalRequest)
        .where(RenewalRequest.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    current = rules.effective_status(row.status, row.requested_at, now)
    row.status = str(rules.transition(current, RequestStatus.RENEWED))
    row.decided_at = now
    row.decided_by_account_id = account.id
    row.renewed_prescription = prescription
    audit.record(
        session,
        audit.actor_for(session, account),
        "renew",
        OBJECT_TYPE,
        row.prescription.number,
        patient_person_id=row.patient_person_id,
        at=now,
    )
