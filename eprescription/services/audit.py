"""The tamper-evident audit log: append events in the caller's transaction, verify the chain."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from eprescription.models import Account, Pharmacist, Prescriber, Role
from eprescription.models.audit import AuditChainHead, AuditEvent
from eprescription.models.base import utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1
HASHED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_account_id",
    "actor_role",
    "organisation",
    "action",
    "object_type",
    "object_id",
    "patient_person_id",
    "outcome",
    "previous_hash",
)
SUCCESS = "success"


@dataclass(frozen=True)
class Actor:
    """Who acts: an account with its role and organisation, or the operator at the CLI."""

    account_id: int | None
    role: str
    organisation: str = ""


OPERATOR = Actor(None, "operator", "command line")


def actor_for(session: Session, account: Account | None) -> Actor:
    """The actor behind an account: its role, and its pharmacy or its prescriber's RPPS."""
    if account is None:
        return OPERATOR
    organisation = ""
    if account.role is Role.PHARMACIST and account.person_id is not None:
        pharmacist = session.scalar(
            select(Pharmacist).where(Pharmacist.person_id == account.person_id)
        )
        if pharmacist is not None:
            organisation = f"{pharmacist.pharmacy.name} (FINESS {pharmacist.pharmacy.finess})"
    elif account.role is Role.PRESCRIBER and account.person_id is not None:
        prescriber = session.scalar(
            select(Prescriber).where(Prescriber.person_id == account.person_id)
        )
        if prescriber is not None:
            organisation = f"RPPS {prescriber.rpps}"
    return Actor(account.id, str(account.role), organisation)


def _canonical(fields: dict) -> bytes:
    """Sorted keys, no spaces, UTF-8: for strings, integers and null this is RFC 8785."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) of the canonical JSON of every column but `id` and `hash`."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["occurred_at"] = _timestamp(event.occurred_at)
    return hashlib.sha256(_canonical(fields)).hexdigest()


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str = "",
    *,
    patient_person_id: int | None = None,
    outcome: str = SUCCESS,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (no commit).

    The chain head is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite has one writer), so
    concurrent transactions append one after the other, never from the same head.
    """
    head = session.scalar(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).with_for_update()
    )
    if head is None:
        head = AuditChainHead(id=HEAD_ID, sequence=0, last_hash=GENESIS_HASH)
        session.add(head)
    event = AuditEvent(
        sequence=head.sequence + 1,
        occurred_at=at or utcnow(),
        actor_account_id=actor.account_id,
        actor_role=actor.role,
        organisation=actor.organisation[:256],
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        patient_person_id=patient_person_id,
        outcome=outcome[:48],
        previous_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    head.sequence, head.last_hash = event.sequence, event.hash
    session.add(event)
    return event


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: events checked and the first broken link, if any."""

    events: int
    broken_at: int | None = None  # the sequence number of the first bad event
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(session: Session, batch_size: int = 1000) -> ChainReport:
    """Walk the events in order; report the first whose hash or link does not hold."""
    previous_hash, expected_sequence, checked = GENESIS_HASH, 1, 0
    while True:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.sequence >= expected_sequence)
            .order_by(AuditEvent.sequence)
            .limit(batch_size)
        ).all()
        if not events:
            break
        for event in events:
            if event.sequence != expected_sequence:
                return ChainReport(
                    checked, expected_sequence, f"event {expected_sequence} is missing"
                )
            if event.previous_hash != previous_hash:
                return ChainReport(
                    checked,
                    event.sequence,
                    f"event {event.sequence} does not point to the hash of the event before it",
                )
            if event_hash(event) != event.hash:
                return ChainReport(
                    checked,
                    event.sequence,
                    f"event {event.sequence} was changed after it was written (hash mismatch)",
                )
            previous_hash, expected_sequence = event.hash, expected_sequence + 1
            checked += 1
    head = session.get(AuditChainHead, HEAD_ID)
    if head is not None and (head.sequence, head.last_hash) != (checked, previous_hash):
        return ChainReport(
            checked,
            checked + 1,
            f"the chain head names event {head.sequence}, but the chain ends at event {checked}"
            " (events removed from the end?)",
        )
    return ChainReport(checked)
