"""The patient's access log: who looked at their data, with each sealed entry's inclusion proof."""

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    func,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from eprescription.domain import health_space as rules
from eprescription.domain import prescription_codes as codes
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import (
    OBJECT_TYPE,
    Problems,
)
from eprescription.models import (
    Account,
    AuditEvent,
    Person,
    Role,
)
from eprescription.services import (
    audit_seal,
    paging,
    patient_account,
)
from eprescription.services.uow import UnitOfWork

ACCESS_LOG_OBJECT = "access_log"


@dataclass(frozen=True)
class LogEntry:
    """One line of "who looked at my prescriptions"."""

    sequence: int
    occurred_at: datetime
    actor_name: str
    actor_role: str
    organisation: str
    action: str
    object_type: str
    object_id: str
    outcome: str
    what: str
    # Once sealed: its place in the global log, its leaf bytes and its RFC 9162 inclusion
    # proof against the newest signed head (base64), for anyone to check (docs/health-space.md).
    leaf_index: int | None = None
    leaf_data: str | None = None
    inclusion_proof: dict | None = None
    # The program the actor used ("MedLogic 4.2"), or "" (docs/software-clients.md).
    software: str = ""


def read(uow: UnitOfWork, *, page: int = 1, page_size: int = 20) -> paging.Page:
    """Every audited access by others to the patient's data (prescriptions, dispensations,
    representatives), newest first. The patient's own actions are left out: they did them."""
    session = uow.session
    person_id = patient_account.patient_person_id(uow.account)
    problems = Problems()
    paging.check_page(problems, page, page_size)
    if problems:
        raise problems.refusal()
    own_accounts = select(Account.id).where(
        Account.person_id == person_id, Account.role == Role.PATIENT
    )
    conditions = [
        AuditEvent.patient_person_id == person_id,
        AuditEvent.object_type != ACCESS_LOG_OBJECT,  # reading the log is not news
        or_(
            AuditEvent.actor_account_id.is_(None),
            AuditEvent.actor_account_id.not_in(own_accounts),
        ),
    ]
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    actor_account, actor_person = aliased(Account), aliased(Person)
    rows = session.execute(
        select(AuditEvent, actor_account.username, actor_person)
        .outerjoin(actor_account, actor_account.id == AuditEvent.actor_account_id)
        .outerjoin(actor_person, actor_person.id == actor_account.person_id)
        .where(*conditions)
        .order_by(AuditEvent.chain_seq.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    proofs = audit_seal.inclusions(uow, [event for event, _username, _person in rows])
    entries = [
        _entry(event, username, person, proofs.get(event.id)) for event, username, person in rows
    ]
    uow.audit("read", ACCESS_LOG_OBJECT, patient_person_id=person_id)
    return paging.Page(entries, total, page, page_size)


def _entry(
    event: AuditEvent,
    username: str | None,
    person: Person | None,
    proof: audit_seal.Inclusion | None,
) -> LogEntry:
    if person is not None:
        name = person.full_name
        if event.actor_role == "prescriber":
            name = f"Dr {name}"
    elif event.actor_role == "operator":
        name = Message("service_operator", "Service operator")
    else:
        name = username or Message("unknown_account", "unknown account")
    object_id = event.object_id
    if event.object_type == OBJECT_TYPE and object_id:
        object_id = codes.display_number(object_id)
    return LogEntry(
        sequence=event.id,
        occurred_at=event.occurred_at,
        actor_name=name,
        actor_role=rules.ROLE_WORDS.get(event.actor_role, event.actor_role),
        organisation=event.organisation,
        software=event.software.rsplit(" (", 1)[0],
        action=event.action,
        object_type=event.object_type,
        object_id=object_id,
        outcome=event.outcome,
        what=rules.action_words(event.action, event.object_type, object_id, event.outcome),
        leaf_index=proof.leaf_index if proof else None,
        leaf_data=base64.b64encode(proof.leaf_data).decode() if proof else None,
        inclusion_proof=(
            {"tree_size": proof.tree_size, "hashes": [audit_seal.b64(h) for h in proof.hashes]}
            if proof
            else None
        ),
    )
