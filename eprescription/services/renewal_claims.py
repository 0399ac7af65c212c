"""A renewal request inside the issue transaction: checked before signing, renewed with it."""

from datetime import date, datetime

from sqlalchemy import select

from eprescription.domain import renewals as rules
from eprescription.domain.errors import ValidationFailed
from eprescription.domain.renewals import RequestStatus
from eprescription.models import Person, Prescription, RenewalRequest
from eprescription.services import access, events
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "prescription"  # events name the prescription asked for, as the patient knows it


def handled_by(
    uow: UnitOfWork,
    request_id: int,
    action: access.Action,
    today: date,
    *,
    target: RequestStatus,
) -> RenewalRequest:
    """The request opened for `action` by the access rule (its prescriber's), still pending
    as of now (a lapsed one is refused as expired; nothing is written)."""
    row = access.open_renewal_request(uow, request_id, action, today).object
    rules.transition(row.status_at(uow.now.replace(microsecond=0)), target)
    return row


def claim(
    uow: UnitOfWork, patient: Person, request_id: int | None, today: date
) -> RenewalRequest | None:
    """Before signing: the request the new prescription answers (None when there is none)."""
    if request_id is None:
        return None
    row = handled_by(uow, request_id, access.Action.RENEW, today, target=RequestStatus.RENEWED)
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
    row = uow.session.scalars(
        select(RenewalRequest)
        .where(RenewalRequest.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row.renewed_prescription = prescription
    decide(uow, row, RequestStatus.RENEWED, row.status_at(now), now, "renew")


def decide(
    uow: UnitOfWork,
    row: RenewalRequest,
    target: RequestStatus,
    current: str,
    now: datetime,
    action: str,
) -> None:
    """Move the request from `current` to `target` (renewed or declined), decided now by the
    caller, and audit it as `action` on the prescription asked for."""
    row.status = str(rules.transition(current, target))
    row.decided_at = now
    row.decided_by_account_id = uow.require_account().id
    uow.audit(action, OBJECT_TYPE, row.prescription.number, patient_person_id=row.patient_person_id)
    events.emit(uow, events.ANSWERS[target], row.prescription, renewal_request=row.id)
