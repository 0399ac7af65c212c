"""Renewal requests: the patient asks, the prescriber renews or declines; each one transaction."""

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from eprescription.domain import health_space as space_rules
from eprescription.domain import prescription_codes as codes
from eprescription.domain import renewals as rules
from eprescription.domain.errors import (
    PermissionDenied,
    RenewalRequestPending,
    SignatureInvalid,
    ValidationFailed,
)
from eprescription.domain.prescriptions import Problems, today_of
from eprescription.domain.renewals import RequestStatus
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import Account, Prescription, RenewalRequest, Role
from eprescription.services import (
    access,
    events,
    paging,
    patient_cards,
    patient_prescriptions,
    prescriber_lists,
    prescribers,
    renewal_claims,
    signed_documents,
)
from eprescription.services import representation as representing
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = renewal_claims.OBJECT_TYPE
LIST_MAX = 100
OPEN = (RequestStatus.PENDING, RequestStatus.RENEWED)  # what stops a new request


def _now(uow: UnitOfWork) -> datetime:
    return uow.now.replace(microsecond=0)


def _problems_raise(problems: Problems) -> None:
    if problems:
        raise ValidationFailed(
            "Some fields are not valid: " + ", ".join(map(str, problems.errors)),
            errors=problems.errors,
        )


def _loaded():
    return (
        selectinload(RenewalRequest.prescription).selectinload(Prescription.items),
        selectinload(RenewalRequest.renewed_prescription),
        selectinload(RenewalRequest.patient),
    )


@dataclass(frozen=True)
class Named:
    name: str


@dataclass(frozen=True)
class PrescriptionRef:
    """A prescription by its id and its number as typed (ABCD-EFGH-JKX)."""

    id: str
    number: str

    @classmethod
    def of(cls, prescription: Prescription) -> "PrescriptionRef":
        return cls(prescription.number, codes.display_number(prescription.number))


@dataclass(frozen=True)
class RequestView:
    """A request as the patient and the prescriber see it (its status as of when it was read)."""

    id: int
    status: str
    requested_at: datetime
    lapses_at: datetime
    patient_message: str | None
    decided_at: datetime | None
    decline_message: str | None
    relation: str | None
    patient: Named
    prescriber: Named
    prescription: PrescriptionRef
    medications: list[str]
    renewed_prescription: PrescriptionRef | None


@dataclass(frozen=True)
class RenewalState:
    """What the health space shows about renewing a prescription: its latest request, and
    whether a new one can be made (or the code of the reason why not)."""

    request: RequestView | None
    can_ask: bool
    why_not: str | None


def view(row: RenewalRequest, now: datetime, relation: str | None = None) -> RequestView:
    """A request as the patient and the prescriber see it (its status as of `now`)."""
    prescription, renewed = row.prescription, row.renewed_prescription
    prescriber = prescription.prescriber.person
    return RequestView(
        id=row.id,
        status=str(row.status_at(now)),
        requested_at=row.requested_at,
        lapses_at=row.lapses_at,
        patient_message=row.patient_message,
        decided_at=row.decided_at,
        decline_message=row.decline_message,
        relation=relation,
        patient=Named(row.patient.full_name),
        prescriber=Named(f"Dr {prescriber.given_name} {prescriber.family_name}"),
        prescription=PrescriptionRef.of(prescription),
        medications=[item.medication_name for item in prescription.items if not item.is_cancelled],
        renewed_prescription=PrescriptionRef.of(renewed) if renewed is not None else None,
    )


# -- the patient ------------------------------------------------------------------------------


def _person_id(account: Account | None) -> int:
    if account is None or account.role is not Role.PATIENT or account.person_id is None:
        raise PermissionDenied("Renewal requests are made from the health space, by patients.")
    return account.person_id


def _renewal_in_progress(found: SignedPrescription) -> int:
    """The supply being collected (0: the first), as the health space counts it."""
    return space_rules.renewal_in_progress([line.progress for line in found.lines])


def request_renewal(uow: UnitOfWork, number: str, *, message: str | None = None) -> RequestView:
    """The patient (or their representative) asks the prescriber to renew a long-term
    treatment, with an optional short message; one pending request per prescription."""
    session = uow.session
    now = _now(uow)
    today = today_of(now)
    _person_id(uow.account)
    opened = access.open_prescription(uow, number, access.Action.REQUEST_RENEWAL, today)
    prescription, relation = opened.object, opened.relation
    problems = Problems()
    text = rules.message(problems, "message", message, required=False)
    _problems_raise(problems)
    found = signed_documents.require(uow, prescription, "request_renewal")
    earlier = session.scalars(
        select(RenewalRequest).where(
            RenewalRequest.prescription_id == prescription.id,
            RenewalRequest.status.in_([str(status) for status in OPEN]),
        )
    ).all()
    states = {row.status_at(now) for row in earlier}
    rules.ensure_renewable(
        found.status_on(today),
        renewals=found.renewals,
        renewal_in_progress=_renewal_in_progress(found),
        valid_until=found.valid_until,
        today=today,
        pending=RequestStatus.PENDING in states,
        renewed=RequestStatus.RENEWED in states,
    )
    row = RenewalRequest(
        prescription=prescription,
        patient_person_id=prescription.patient_person_id,
        prescriber_id=prescription.prescriber_id,
        requested_by_account_id=uow.require_account().id,
        requested_at=now,
        lapses_at=rules.lapses_at(now),
        patient_message=text,
        status=str(RequestStatus.PENDING),
    )
    _close_lapsed(session, prescription.id, now)
    try:
        # In a savepoint: when the unique index refuses the row, only the row is undone.
        with uow.savepoint():
            session.add(row)
            session.flush()
    except IntegrityError as error:  # a request made at the same moment won the unique index
        raise RenewalRequestPending(rules.ALREADY_ASKED) from error
    uow.audit(
        "request_renewal",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        actor=access.audit_actor(uow, relation),
    )
    events.emit(uow, events.RENEWAL_REQUESTED, prescription, renewal_request=row.id)
    return view(row, now, relation)


def _close_lapsed(session: Session, prescription_id: int, now: datetime) -> None:
    """Store the prescription's lapsed request (if any) as expired, in the transaction of the
    new request, so that the unique index of pending requests admits the new one: the database
    alone is right, and no reader ever writes the lapse.

    On SQLite this UPDATE also begins the real transaction: pysqlite begins one at the first
    write, and a SAVEPOINT outside one is a transaction of its own that its RELEASE commits, so
    the new request commits or rolls back with the use case (and its audit event). PostgreSQL
    needs nothing.
    """
    session.execute(
        update(RenewalRequest)
        .where(RenewalRequest.prescription_id == prescription_id, RenewalRequest.lapsed_by(now))
        .values(status=str(RequestStatus.EXPIRED), decided_at=RenewalRequest.lapses_at)
        .execution_options(synchronize_session="fetch")
    )


def _persons_seen(uow: UnitOfWork, today: date) -> dict[int, access.Relation]:
    """person id → relation, for the account's patient and the people it represents today."""
    person_id = _person_id(uow.account)
    seen = {person_id: access.Relation.PATIENT}
    for represented in representing.represented(uow, person_id, today):
        seen.setdefault(represented, access.Relation.REPRESENTATIVE)
    return seen


def list_for_patient(uow: UnitOfWork) -> list:
    """The requests on the account's prescriptions and those of the people it represents,
    newest first, each with its outcome; every prescription shown is audited."""
    now = _now(uow)
    seen = _persons_seen(uow, today_of(now))
    rows = uow.session.scalars(
        select(RenewalRequest)
        .where(RenewalRequest.patient_person_id.in_(seen))
        .order_by(RenewalRequest.requested_at.desc(), RenewalRequest.id.desc())
        .limit(LIST_MAX)
        .options(*_loaded())
    ).all()
    views = []
    for row in rows:
        relation = seen[row.patient_person_id]
        uow.audit(
            "list",
            OBJECT_TYPE,
            row.prescription.number,
            patient_person_id=row.patient_person_id,
            actor=access.audit_actor(uow, relation),
        )
        views.append(view(row, now, relation))
    return views


def _latest(uow: UnitOfWork, numbers: list[str]) -> dict[str, RenewalRequest]:
    """The latest request of each prescription numbered in `numbers`."""
    rows = uow.session.scalars(
        select(RenewalRequest)
        .join(Prescription, Prescription.id == RenewalRequest.prescription_id)
        .where(Prescription.number.in_(numbers))
        .order_by(RenewalRequest.requested_at, RenewalRequest.id)
        .options(*_loaded())
    ).all()
    return {row.prescription.number: row for row in rows}


def _renewal_state(
    card: patient_cards.Card | patient_cards.UnverifiedCard,
    row: RenewalRequest | None,
    now: datetime,
) -> RenewalState:
    """The renewal state of a card as of `now`."""
    latest = view(row, now, card.relation) if row is not None else None
    if not isinstance(card, patient_cards.Card):  # nothing can be done with it, nor a renewal
        return RenewalState(latest, can_ask=False, why_not=SignatureInvalid.code)
    refusal = rules.refusal(
        card.status,
        renewals=card.renewals,
        renewal_in_progress=card.renewal_in_progress,
        valid_until=date.fromisoformat(card.valid_until),
        today=today_of(now),
    )
    waiting = latest is not None and latest.status in OPEN
    return RenewalState(
        latest,
        can_ask=refusal is None and not waiting,
        why_not=refusal.code if refusal is not None else None,
    )


def list_with_requests(
    uow: UnitOfWork, *, view: str, page: int = 1, page_size: int = 20
) -> paging.Page:
    """The health space's list (audited there), each prescription with its renewal state."""
    now = _now(uow)
    listing = patient_prescriptions.list_prescriptions(
        uow, view=view, page=page, page_size=page_size
    )
    latest = _latest(uow, [card.id for card in listing.items])
    listing.items[:] = [
        replace(card, renewal=_renewal_state(card, latest.get(card.id), now))
        for card in listing.items
    ]
    return listing


def get_with_request(uow: UnitOfWork, number: str) -> patient_cards.Card:
    """One prescription of the health space (audited there) with its renewal state."""
    now = _now(uow)
    card = patient_prescriptions.get_prescription(uow, number)
    return replace(card, renewal=_renewal_state(card, _latest(uow, [card.id]).get(card.id), now))


# -- the prescriber ---------------------------------------------------------------------------


def list_for_prescriber(uow: UnitOfWork, *, status: str | None = RequestStatus.PENDING) -> list:
    """The requests on this prescriber's prescriptions in `status` as of now (default pending,
    the oldest first: it lapses first; else newest first; a lapsed one is listed as expired);
    every prescription shown is audited."""
    now = _now(uow)
    prescriber = prescribers.prescriber_of(uow)
    try:
        wanted = RequestStatus(status or RequestStatus.PENDING)
    except ValueError as error:
        raise ValidationFailed(
            "Unknown status.", errors={"status": ["one of " + ", ".join(RequestStatus)]}
        ) from error
    pending = wanted is RequestStatus.PENDING
    order = RenewalRequest.requested_at.asc() if pending else RenewalRequest.requested_at.desc()
    rows = uow.session.scalars(
        select(RenewalRequest)
        .where(
            RenewalRequest.prescriber_id == prescriber.id,
            RenewalRequest.in_status_at(wanted, now),
        )
        .order_by(order, RenewalRequest.id)
        .limit(LIST_MAX)
        .options(*_loaded())
    ).all()
    for row in rows:
        uow.audit(
            "list", OBJECT_TYPE, row.prescription.number, patient_person_id=row.patient_person_id
        )
    return [view(row, now) for row in rows]


@dataclass(frozen=True)
class Desk:
    """The prescriber's list page: the pending renewal requests, then their prescriptions."""

    requests: list[RequestView]
    prescriptions: prescriber_lists.Page


def desk(
    uow: UnitOfWork,
    *,
    patient_nir: str | None = None,
    status: str | None = None,
    page: int = 1,
) -> Desk:
    """The prescriptions as filtered (a bad filter is refused first), and the pending requests."""
    listing = prescriber_lists.list_for_prescriber(
        uow, patient_nir=patient_nir, status=status, page=page
    )
    return Desk(list_for_prescriber(uow), listing)


def _pending(
    uow: UnitOfWork, request_id: int, action: access.Action, target: RequestStatus
) -> tuple[RenewalRequest, datetime]:
    """A pending request of this prescriber, opened for `action` on the way to `target`."""
    now = _now(uow)
    prescribers.prescriber_of(uow)
    return renewal_claims.handled_by(uow, request_id, action, today_of(now), target=target), now


def open_pending(uow: UnitOfWork, request_id: int) -> tuple[RequestView, SignedPrescription]:
    """A pending request of this prescriber and its prescription as verified, to answer it
    (the renewal form prefilled from it, or the decline form); the read is audited."""
    row, now = _pending(uow, request_id, access.Action.READ, RequestStatus.RENEWED)
    found = signed_documents.require(uow, row.prescription, "read")
    uow.audit("read", OBJECT_TYPE, row.prescription.number, patient_person_id=row.patient_person_id)
    return view(row, now), found


def decline(uow: UnitOfWork, request_id: int, *, message: str | None) -> RequestView:
    """The prescriber declines a pending request with a message for the patient (required)."""
    row, now = _pending(uow, request_id, access.Action.DECLINE, RequestStatus.DECLINED)
    problems = Problems()
    text = rules.message(problems, "message", message, required=True)
    _problems_raise(problems)
    row.decline_message = text
    renewal_claims.decide(uow, row, RequestStatus.DECLINED, row.status, now, "decline_renewal")
    return view(row, now)
