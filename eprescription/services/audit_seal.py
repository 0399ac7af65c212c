"""The audit sealer: puts new events into the one global append-only log, an RFC 9162 Merkle
tree, and signs each new tree head with the service key; and reads heads and proofs back."""

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import RowMapping, func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from eprescription.domain.errors import NotFound, ValidationFailed
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import AuditCheckpoint, AuditEvent, AuditLogEntry, AuditTreeNode
from eprescription.services import audit, pki
from eprescription.services.uow import UnitOfWork
from eprescription.signing import jws, merkle
from eprescription.signing.canonical import canonical_json

CHECKPOINT_TYPE = "eprescription.audit_checkpoint"
CHECKPOINT_VERSION = 1
SEALER_LOCK = 0x5EA1  # the advisory lock that lets one sealer at a time extend the log
BATCH_MAX = 50_000
# Events get their ids as they are written, just before their transaction commits, so an
# unsealed event is never far below the newest sealed one: the sealer looks back this far.
LOOK_BACK_IDS = 100_000
SIZE_MAX = 2**62  # sizes asked for beyond this are not ours (BIGINT columns)


@dataclass(frozen=True)
class Head:
    """A signed tree head: the log's size and root at a time, and the service's JWS of it."""

    tree_size: int
    root_hash: bytes
    timestamp: str
    jws: str


@dataclass(frozen=True)
class Sealed:
    """What one run of the sealer did: events added, and the head it signed (None: no change)."""

    events: int
    head: Head | None


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def seal(uow: UnitOfWork, batch_max: int = BATCH_MAX) -> Sealed:
    """Give the committed events not yet in the log their leaf indexes, in id order, extend
    the tree and sign its new head. Safe to run from several hosts at once (an advisory lock
    on PostgreSQL; SQLite has one writer)."""
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEALER_LOCK})
    size = tree_size(session)
    rows = _unsealed(session, batch_max)
    if not rows:
        return Sealed(0, None)
    leaves = [merkle.leaf_hash(audit.canonical_event(row)) for row in rows]
    lookup = _node_lookup(session)
    created = merkle.new_nodes(size, leaves, lookup)
    session.execute(
        insert(AuditLogEntry),
        [
            {"leaf_index": size + offset, "event_id": row["id"], "leaf_hash": leaf.hex()}
            for offset, (row, leaf) in enumerate(zip(rows, leaves, strict=True))
        ],
    )
    session.execute(
        insert(AuditTreeNode),
        [
            {"level": level, "index": index, "hash": digest.hex()}
            for level, index, digest in created
        ],
    )
    new_size = size + len(rows)
    fresh = {(level, index): digest for level, index, digest in created}
    root = merkle.root(
        new_size, lambda level, index: fresh.get((level, index)) or lookup(level, index)
    )
    timestamp = iso_seconds(uow.now)
    payload = canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "version": CHECKPOINT_VERSION,
            "tree_size": new_size,
            "root_hash": b64(root),
            "timestamp": timestamp,
        }
    )
    jws = pki.sign_as_service(uow, payload)
    session.add(
        AuditCheckpoint(tree_size=new_size, root_hash=root.hex(), signed_at=uow.now, jws=jws)
    )
    return Sealed(len(rows), Head(new_size, root, timestamp, jws))


def tree_size(session: Session) -> int:
    """How many events the log holds."""
    last = session.scalar(select(func.max(AuditLogEntry.leaf_index)))
    return 0 if last is None else last + 1


def _unsealed(session: Session, batch_max: int) -> Sequence[RowMapping]:
    newest_sealed = session.scalar(select(func.max(AuditLogEntry.event_id))) or 0
    columns = [AuditEvent.__table__.c[name] for name in ("id", *audit.HASHED_FIELDS)]
    return (
        session.execute(
            select(*columns)
            .outerjoin(AuditLogEntry, AuditLogEntry.event_id == AuditEvent.id)
            .where(AuditLogEntry.event_id.is_(None))
            .where(AuditEvent.id > newest_sealed - LOOK_BACK_IDS)
            .order_by(AuditEvent.id)
            .limit(batch_max)
        )
        .mappings()
        .all()
    )


def _node_lookup(session: Session) -> Callable[[int, int], bytes]:
    """Stored perfect-subtree hashes, read one at a time (O(log n) per proof or root)."""

    def node(level: int, index: int) -> bytes:
        stored = session.scalar(
            select(AuditTreeNode.hash).where(
                AuditTreeNode.level == level, AuditTreeNode.index == index
            )
        )
        if stored is None:
            raise LookupError(f"the audit tree has no node ({level}, {index})")
        return bytes.fromhex(stored)

    return node


def _prefetched(session: Session, proofs: list[Callable]) -> Callable[[int, int], bytes]:
    """A node lookup holding every node that `proofs` will ask for, read in one statement.

    Which nodes a proof needs depends only on sizes and indexes, never on hash values, so a
    dry run with placeholder hashes names them all first."""
    wanted: set[tuple[int, int]] = set()

    def placeholder(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(merkle.HASH_SIZE)

    for proof in proofs:
        proof(placeholder)
    found = {}
    if wanted:
        rows = session.execute(
            select(AuditTreeNode.level, AuditTreeNode.index, AuditTreeNode.hash).where(
                tuple_(AuditTreeNode.level, AuditTreeNode.index).in_(sorted(wanted))
            )
        )
        found = {(level, index): bytes.fromhex(digest) for level, index, digest in rows}

    def node(level: int, index: int) -> bytes:
        if (level, index) not in found:
            raise LookupError(f"the audit tree has no node ({level}, {index})")
        return found[(level, index)]

    return node


# -- reading heads and proofs ---------------------------------------------------------------


def _head(row: AuditCheckpoint) -> Head:
    return Head(row.tree_size, bytes.fromhex(row.root_hash), iso_seconds(row.signed_at), row.jws)


def latest_head(uow: UnitOfWork) -> Head:
    """The newest signed tree head, or NotFound while nothing is sealed."""
    row = uow.session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    )
    if row is None:
        raise NotFound("The audit log has no signed tree head yet.")
    return _head(row)


def head_at(uow: UnitOfWork, size: int) -> Head:
    """The signed tree head of the log at `size` events, or NotFound."""
    row = uow.session.get(AuditCheckpoint, size) if 0 < size <= SIZE_MAX else None
    if row is None:
        raise NotFound(f"No signed tree head has the size {size}.")
    return _head(row)


def consistency(uow: UnitOfWork, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof from the head of `old_size` to that of `new_size`."""
    current = tree_size(uow.session)
    if not 0 < old_size <= new_size <= current:
        raise ValidationFailed(
            f"Need 0 < from ≤ to ≤ {current} (the log's size).",
            errors={"from": ["out of range"], "to": ["out of range"]},
        )
    lookup = _prefetched(
        uow.session, [lambda node: merkle.consistency_proof(old_size, new_size, node)]
    )
    return merkle.consistency_proof(old_size, new_size, lookup)


@dataclass(frozen=True)
class Inclusion:
    """Where an event sits in the log, its leaf bytes, and its proof against a head's size."""

    leaf_index: int
    leaf_data: bytes
    tree_size: int
    hashes: list[bytes]


def inclusions(uow: UnitOfWork, events: list[AuditEvent]) -> dict[int, Inclusion]:
    """{event id: its inclusion proof in the newest signed head}, for the sealed ones."""
    session = uow.session
    head = session.scalar(select(func.max(AuditCheckpoint.tree_size)))
    if not events or head is None:
        return {}
    indexes = dict(
        session.execute(
            select(AuditLogEntry.event_id, AuditLogEntry.leaf_index).where(
                AuditLogEntry.event_id.in_([event.id for event in events]),
                AuditLogEntry.leaf_index < head,
            )
        ).all()
    )
    sealed = [event for event in events if event.id in indexes]
    lookup = _prefetched(
        session,
        [
            lambda node, index=indexes[event.id]: merkle.inclusion_proof(index, head, node)
            for event in sealed
        ],
    )
    return {
        event.id: Inclusion(
            indexes[event.id],
            audit.canonical_event({name: getattr(event, name) for name in audit.HASHED_FIELDS}),
            head,
            merkle.inclusion_proof(indexes[event.id], head, lookup),
        )
        for event in sealed
    }


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogReport:
    """The result of rebuilding the log from the events: leaves and heads checked, first break."""

    leaves: int
    heads: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_log(uow: UnitOfWork, batch_size: int = 5000) -> LogReport:
    """Rebuild the tree from the events themselves (not from stored nodes) and check every
    leaf against its event and every signed head against the root at its size and its
    signature; name the first leaf or head that does not hold."""
    session = uow.session
    heads = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)).all()
    anchors = pki.trust_anchors(uow)
    columns = [AuditEvent.__table__.c[name] for name in ("id", *audit.HASHED_FIELDS)]
    rows = (
        session.execute(
            select(
                AuditLogEntry.leaf_index, AuditLogEntry.leaf_hash, AuditLogEntry.event_id, *columns
            )
            .outerjoin(AuditEvent, AuditEvent.id == AuditLogEntry.event_id)
            .order_by(AuditLogEntry.leaf_index),
            execution_options={"yield_per": batch_size},
        )
        .mappings()
        .partitions()
    )
    frontier: list[tuple[int, bytes]] = []  # perfect subtrees (size, hash), largest first
    pending_heads, size = list(heads), 0
    for row in (row for part in rows for row in part):
        index = row["leaf_index"]
        if index != size:
            return LogReport(size, 0, f"leaf {size} is missing from the log")
        if row["id"] is None:
            return LogReport(size, 0, f"leaf {index}: event {row['event_id']} was deleted")
        leaf = merkle.leaf_hash(audit.canonical_event(row))
        if leaf.hex() != row["leaf_hash"]:
            return LogReport(
                size, 0, f"leaf {index}: event {row['event_id']} was changed after it was sealed"
            )
        _push(frontier, leaf)
        size += 1
        while pending_heads and pending_heads[0].tree_size == size:
            problem = _check_head(pending_heads.pop(0), _fold(frontier), anchors)
            if problem:
                return LogReport(size, len(heads) - len(pending_heads) - 1, problem)
    if pending_heads:
        return LogReport(
            size,
            len(heads) - len(pending_heads),
            f"the signed head of size {pending_heads[0].tree_size} is past the log's end "
            f"({size} leaves): leaves were removed",
        )
    return LogReport(size, len(heads))


def _push(frontier: list[tuple[int, bytes]], leaf: bytes) -> None:
    """Append a leaf to the list of perfect subtrees, merging equal sizes (a binary counter)."""
    frontier.append((1, leaf))
    while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
        (width, right), (_, left) = frontier.pop(), frontier.pop()
        frontier.append((2 * width, merkle.node_hash(left, right)))


def _fold(frontier: list[tuple[int, bytes]]) -> bytes:
    """RFC 9162's root of the perfect subtrees: hashed from the right."""
    digest = frontier[-1][1]
    for _width, left in reversed(frontier[:-1]):
        digest = merkle.node_hash(left, digest)
    return digest


def _check_head(head: AuditCheckpoint, root: bytes, anchors) -> str | None:
    if head.root_hash != root.hex():
        return f"the signed head of size {head.tree_size} does not match the events (forked?)"
    report = jws.verify_compact(head.jws, trust_anchors=anchors)
    payload = canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "version": CHECKPOINT_VERSION,
            "tree_size": head.tree_size,
            "root_hash": b64(root),
            "timestamp": iso_seconds(head.signed_at),
        }
    )
    if not report.valid or report.payload != payload:
        return f"the signed head of size {head.tree_size} has no valid service signature"
    return None
