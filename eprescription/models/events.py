"""Status events: the outbox written with each change, the subscribers and their deliveries."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime


class EventOutboxEntry(Base):
    """One status event, inserted in the transaction of the change it tells (docs/events.md).

    `patient_person_id` is kept for deciding who may see the event; it is never sent."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # a UUID, sent to subscribers
    type: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prescription_number: Mapped[str] = mapped_column(String(32))
    patient_person_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)  # the `data` object sent, JSON


class EventSubscription(Base):
    """A subscriber's URL, the secret its deliveries are signed with and the types it wants;
    `cursor` is the last outbox id already fanned out to it (it gets what comes after)."""

    __tablename__ = "event_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(64))  # "whsec_" + base64 of 24 random bytes
    types: Mapped[str] = mapped_column(Text)  # space-separated event types
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cursor: Mapped[int] = mapped_column(Integer, default=0)


class EventDelivery(Base):
    """One event to one subscription: tried until delivered or, after too many failures, dead
    (the dead-letter list, which an admin may replay)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_event_deliveries_due", "delivered_at", "dead", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("event_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event_outbox.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)

    subscription: Mapped[EventSubscription] = relationship()
    event: Mapped[EventOutboxEntry] = relationship()
