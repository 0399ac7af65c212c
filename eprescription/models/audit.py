"""The audit log: events chained per patient (or per account), and the chains' heads."""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from eprescription.models.base import Base, UTCDateTime


class AuditEvent(Base):
    """Who did what to which object, when, and how it went; hash-chained within its chain.

    `chain_key` names the chain (one per patient; per account, or per object, for events
    about no patient), `chain_seq` the event's place in it (1, 2, …). `hash` covers every
    other column but `id`, including the previous event's hash, so changing, removing or
    inserting an event breaks its chain from there on (services.audit.verify_chains). Rows
    are only ever inserted: on PostgreSQL the application's role may not update or delete
    them (docs/architecture.md).
    """

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain_key", "chain_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chain_key: Mapped[str] = mapped_column(String(80))
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(256), default="")
    # The software client that acted for the actor ("" when none): hashed only when present,
    # so events from before it existed keep their hashes (services/audit.canonical_event).
    software: Mapped[str] = mapped_column(String(160), default="", server_default="")
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    # Not a foreign key: the log must outlive what it mentions, and read fast by patient.
    patient_person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(48))
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The head of one chain: its last position and hash; a writer locks only its own chains."""

    __tablename__ = "audit_chains"

    chain_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditLogEntry(Base):
    """An event's place in the one global append-only log that the sealer builds (RFC 9162):
    its leaf index and leaf hash. Written only by the sealer, never on the request path."""

    __tablename__ = "audit_log_entries"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditTreeNode(Base):
    """The hash of one perfect subtree of the log: leaves [index·2^level, (index+1)·2^level)."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head: the log's size and root hash at a time, signed by the service key."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    jws: Mapped[str] = mapped_column(Text)
