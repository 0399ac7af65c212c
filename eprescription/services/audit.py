"""The audit log: events buffered per transaction, chained per patient, written in one batch;
and the check of every chain."""

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from eprescription.models import Account, Role
from eprescription.models.audit import AuditChain, AuditEvent
from eprescription.models.base import utcnow

if TYPE_CHECKING:  # for the annotation only (software_clients imports this module's users)
    from eprescription.services.software_clients import SoftwareCaller

EVENTS, CHAINS = cast(Table, AuditEvent.__table__), cast(Table, AuditChain.__table__)
GENESIS_HASH = "0" * 64
SUCCESS = "success"
PENDING = "eprescription.audit_pending"  # the key of the buffer in Session.info
HASHED_FIELDS = (
    "chain_key",
    "chain_seq",
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
    "software",  # in the hashed content only when not empty (canonical_event)
)
OPTIONAL_HASHED_FIELDS = ("software",)


@dataclass(frozen=True)
class Actor:
    """Who acts: an account with its role and organisation, or the operator at the CLI; and
    the software client it acts through, if any ("name version (client_id)")."""

    account_id: int | None
    role: str
    organisation: str = ""
    software: str = ""


OPERATOR = Actor(None, "operator", "command line")


def actor_for(account: Account | None, software: "SoftwareCaller | None" = None) -> Actor:
    """The actor behind an account: its role, and its pharmacy or its prescriber's RPPS (from
    the records loaded with the account, services/accounts.py); with the software client it
    acts through, if any (alone, the software is the actor, for its organisation)."""
    if software is not None:
        if account is None:
            return Actor(None, "software", software.organisation, software.label)
        return replace(actor_for(account), software=software.label)
    if account is None:
        return OPERATOR
    organisation = ""
    person = account.person
    if account.role is Role.PHARMACIST and person is not None:
        pharmacist = person.pharmacist
        if pharmacist is not None:
            organisation = f"{pharmacist.pharmacy.name} (FINESS {pharmacist.pharmacy.finess})"
    elif account.role is Role.PRESCRIBER and person is not None:
        prescriber = person.prescriber
        if prescriber is not None:
            organisation = f"RPPS {prescriber.rpps}"
    return Actor(account.id, str(account.role), organisation)


@dataclass(frozen=True)
class Event:
    """One thing to record: who did what to which object, about which patient, and how."""

    actor: Actor
    action: str
    object_type: str
    object_id: str
    patient_person_id: int | None
    outcome: str
    occurred_at: datetime

    @property
    def chain_key(self) -> str:
        """Its chain: the patient's; else the acting account's; else the object's own."""
        if self.patient_person_id is not None:
            return f"patient:{self.patient_person_id}"
        if self.actor.account_id is not None:
            return f"account:{self.actor.account_id}"
        return f"object:{self.object_type}:{self.object_id}"[:80]


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
) -> None:
    """Buffer one event in the session's transaction; write_pending() writes them at commit."""
    pending(session).append(
        Event(
            actor,
            action,
            object_type,
            str(object_id or "")[:64],
            patient_person_id,
            outcome[:48],
            at or utcnow(),
        )
    )


def pending(session: Session) -> list[Event]:
    """The events buffered in the session's current transaction."""
    return session.info.setdefault(PENDING, [])


def write_pending(session: Session) -> None:
    """Write the buffered events (the session is about to commit) and empty the buffer."""
    events = session.info.pop(PENDING, [])
    write(session, events)


def discard_pending(session: Session) -> None:
    """Forget the buffered events (the transaction was rolled back)."""
    session.info.pop(PENDING, None)


def write(session: Session, events: list[Event]) -> None:
    """Chain `events` and insert them: on PostgreSQL two statements whatever their number or
    chains, each of one fixed text (arrays as parameters, so nothing is compiled per call).

    1. Each chain's head row is created or advanced by its number of new events in one upsert,
       which locks those rows only (other patients' chains go on in parallel), in key order (so
       no two transactions wait on each other in a cycle), and answers where each chain stood;
    2. one statement inserts every event and gives the heads their new last hashes.
    """
    if not events:
        return
    counts = Counter(event.chain_key for event in events)
    keys = sorted(counts)
    postgres = session.get_bind().dialect.name == "postgresql"
    advance = _advance_heads_postgresql if postgres else _advance_heads_sqlite
    positions = advance(session, keys, [counts[key] for key in keys])
    rows: list[dict] = []
    last_hash: dict[str, str] = {}
    for event in events:
        key = event.chain_key
        sequence, previous = positions[key]
        row = _row(event, key, sequence, last_hash.get(key, previous))
        positions[key] = (sequence + 1, previous)
        last_hash[key] = row["hash"]
        rows.append(row)
    if postgres:
        columns = {name: [row[name] for row in rows] for name in (*HASHED_FIELDS, "hash")}
        session.execute(
            INSERT_AND_MOVE_HEADS,
            {**columns, "head_keys": list(last_hash), "head_hashes": list(last_hash.values())},
        )
        return
    session.execute(insert(EVENTS), rows)
    session.execute(
        update(CHAINS)
        .where(AuditChain.chain_key == bindparam("key"))
        .values(last_hash=bindparam("hash")),
        [{"key": key, "hash": last} for key, last in last_hash.items()],
    )


_EVENT_COLUMNS = (*HASHED_FIELDS, "hash")
_EVENT_TYPES = {
    "chain_seq": "bigint",
    "occurred_at": "timestamptz",
    "actor_account_id": "integer",
    "patient_person_id": "integer",
}
INSERT_AND_MOVE_HEADS = text(
    "WITH moved AS ("
    " UPDATE audit_chains SET last_hash = new_heads.hash"
    " FROM unnest(CAST(:head_keys AS varchar[]), CAST(:head_hashes AS varchar[]))"
    " AS new_heads(key, hash) WHERE audit_chains.chain_key = new_heads.key RETURNING 1)"
    f" INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)})"
    " SELECT * FROM unnest("
    + ", ".join(
        f"CAST(:{name} AS {_EVENT_TYPES.get(name, 'varchar')}[])" for name in _EVENT_COLUMNS
    )
    + ")"
)
ADVANCE_HEADS = text(
    "INSERT INTO audit_chains (chain_key, last_seq, last_hash)"
    " SELECT key, count, :genesis FROM unnest(CAST(:keys AS varchar[]), CAST(:counts AS bigint[]))"
    " AS new(key, count)"
    " ON CONFLICT (chain_key) DO UPDATE SET last_seq = audit_chains.last_seq + excluded.last_seq"
    " RETURNING chain_key, last_seq, last_hash"
)


def _advance_heads_postgresql(
    session: Session, keys: list[str], counts: list[int]
) -> dict[str, tuple[int, str]]:
    """Lock and advance the chains' heads; {key: (first new position, hash before it)}."""
    added = dict(zip(keys, counts, strict=True))
    answer = session.execute(
        ADVANCE_HEADS, {"keys": keys, "counts": counts, "genesis": GENESIS_HASH}
    )
    return {key: (last - added[key] + 1, previous) for key, last, previous in answer}


def _advance_heads_sqlite(
    session: Session, keys: list[str], counts: list[int]
) -> dict[str, tuple[int, str]]:
    """The same on SQLite (one writer at a time), as one multi-row upsert."""
    added = dict(zip(keys, counts, strict=True))
    statement = sqlite.insert(AuditChain).values(
        [
            {"chain_key": key, "last_seq": count, "last_hash": GENESIS_HASH}
            for key, count in added.items()
        ]
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[AuditChain.chain_key],
        set_={"last_seq": AuditChain.last_seq + statement.excluded.last_seq},
    ).returning(AuditChain.chain_key, AuditChain.last_seq, AuditChain.last_hash)
    answer = session.execute(upsert)
    return {key: (last - added[key] + 1, previous) for key, last, previous in answer}


def _row(event: Event, key: str, sequence: int, previous_hash: str) -> dict:
    row = {
        "chain_key": key,
        "chain_seq": sequence,
        "occurred_at": event.occurred_at,
        "actor_account_id": event.actor.account_id,
        "actor_role": event.actor.role,
        "organisation": event.actor.organisation[:256],
        "software": event.actor.software[:160],
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "patient_person_id": event.patient_person_id,
        "outcome": event.outcome,
        "previous_hash": previous_hash,
    }
    row["hash"] = hashlib.sha256(canonical_event(row)).hexdigest()
    return row


def canonical_event(fields) -> bytes:
    """The bytes an event's hash (and its Merkle leaf) covers: its hashed fields as canonical
    JSON (sorted keys, no spaces, UTF-8; for strings, integers and null this is RFC 8785).
    An optional field (the software) is left out when empty, so older events keep their hash."""
    content = {name: fields[name] for name in HASHED_FIELDS if name not in OPTIONAL_HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if fields.get(name):
            content[name] = fields[name]
    content["occurred_at"] = content["occurred_at"].isoformat(timespec="microseconds")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first event of a chain that does not hold, and why."""

    chain_key: str
    chain_seq: int
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "an event"
        return f"{where} (chain {self.chain_key}, position {self.chain_seq}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    """The result of walking every chain: events and chains checked, and each chain's break."""

    events: int
    chains: int
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_chains(session: Session, batch_size: int = 5000) -> ChainReport:
    """Walk every chain in order; report, per chain, the first event whose position, link or
    hash does not hold, and chains whose head names another end than their last event."""
    heads = {key: (seq, last) for key, seq, last in session.execute(select(AuditChain.__table__))}
    columns = [AuditEvent.__table__.c[name] for name in ("id", *HASHED_FIELDS, "hash")]
    rows = (
        session.execute(
            select(*columns).order_by(AuditEvent.chain_key, AuditEvent.chain_seq),
            execution_options={"yield_per": batch_size},
        )
        .mappings()
        .partitions()
    )
    breaks, events, chains = [], 0, set()
    for key, chain in _chains(row for part in rows for row in part):
        chains.add(key)
        checked, problem = _walk(key, chain, heads.get(key))
        events += checked
        if problem is not None:
            breaks.append(problem)
    for key in sorted(set(heads) - chains):
        breaks.append(Break(key, 1, None, "the chain's head names events that are all missing"))
    return ChainReport(events, len(chains | set(heads)), breaks)


def _chains(rows: Iterable) -> Iterator[tuple[str, list]]:
    """Consecutive rows grouped by chain key."""
    key, chain = "", []  # type: tuple[str, list]
    for row in rows:
        if row["chain_key"] != key:
            if chain:
                yield key, chain
            key, chain = row["chain_key"], []
        chain.append(row)
    if chain:
        yield key, chain


def _walk(key: str, chain: list, head: tuple[int, str] | None) -> tuple[int, Break | None]:
    previous_hash, expected = GENESIS_HASH, 1
    for row in chain:
        if row["chain_seq"] != expected:
            return len(chain), Break(key, expected, None, "this event is missing (deleted?)")
        if row["previous_hash"] != previous_hash:
            return len(chain), Break(
                key, expected, row["id"], "it does not point to the hash of the event before it"
            )
        if hashlib.sha256(canonical_event(row)).hexdigest() != row["hash"]:
            return len(chain), Break(
                key, expected, row["id"], "it was changed after it was written (hash mismatch)"
            )
        previous_hash, expected = row["hash"], expected + 1
    if head is None:
        return len(chain), Break(key, 1, chain[0]["id"], "the chain has no head (forged?)")
    if head != (expected - 1, previous_hash):
        return len(chain), Break(
            key,
            expected,
            None,
            f"the chain's head names position {head[0]}, but the chain ends at {expected - 1}"
            " (events removed from the end, or the head moved)",
        )
    return len(chain), None
