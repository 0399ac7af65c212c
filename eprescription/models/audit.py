"""The audit log: hash-chained events, one per read or change of a protected object."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from eprescription.models.base import Base, UTCDateTime


class AuditEvent(Base):
    """Who did what to which object, when, and how it went; chained by SHA-256.

    `hash` covers every other column and the previous event's hash, so changing, removing
    or inserting an event breaks the chain from there on (services.audit.verify_chain).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the chain (1, 2, …); unique, so two writers cannot both extend one head.
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(256), default="")
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    # Not a foreign key: the log must outlive what it mentions, and read fast by patient.
    patient_person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(48))
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The single row naming the chain's last event; writers lock it to append in turn."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
