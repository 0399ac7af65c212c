"""Status events: the outbox written with each change, the subscribers and their deliveries."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime


class EventOutboxEntry(Base):
    """One status event, inserted in the transaction of the change it tells (docs/events.md).

    `patient_person_id` is never sent; `prescription_id`, `practice_id` (the prescriber's
    practice then) and `pharmacy_id` (the pharmacy acting, if one did) say which scoped
    subscriptions get it, decided when the event is fanned out (services/events.in_scope)."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # a UUID, sent to subscribers
    type: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prescription_number: Mapped[str] = mapped_column(String(32))
    patient_person_id: Mapped[int | None] = mapped_column(Integer)
    prescription_id: Mapped[int | None] = mapped_column(Integer, index=True)
    practice_id: Mapped[int | None] = mapped_column(Integer)
    pharmacy_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)  # the `data` object sent, JSON


class EventSubscription(Base):
    """A subscriber's URL, the secret its deliveries are signed with and the types it wants;
    `cursor` is the last outbox id already fanned out to it (it gets what comes after).

    It belongs to one practice, one pharmacy, or (`operator_wide`, made by the operator for
    national systems) to no organisation. A FHIR Subscription is one too: its `criteria`,
    `reason`, `base_url` and `channel` ("fhir_empty" or "fhir_bundle"; "webhook" for the JSON
    events), and `statuses`, the prescription statuses its criteria ask for (None: any)."""

    __tablename__ = "event_subscriptions"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN practice_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN pharmacy_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN operator_wide THEN 1 ELSE 0 END) = 1",
            name="one_scope",
        ),
        CheckConstraint("channel IN ('webhook', 'fhir_empty', 'fhir_bundle')", name="channel_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(64))  # "whsec_" + base64 of 24 random bytes
    types: Mapped[str] = mapped_column(Text)  # space-separated event types
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    operator_wide: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    criteria: Mapped[str | None] = mapped_column(Text)
    statuses: Mapped[str | None] = mapped_column(Text)  # space-separated prescription statuses
    reason: Mapped[str | None] = mapped_column(Text)
    base_url: Mapped[str | None] = mapped_column(Text)  # the FHIR base its notifications name


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


class ExpiryReminder(Base):
    """The `prescription.expiring` event written for a prescription: at most one each (the
    primary key), whichever sweep on whichever host comes first."""

    __tablename__ = "event_expiry_reminders"

    prescription_id: Mapped[int] = mapped_column(
        ForeignKey("prescriptions.id"), primary_key=True, autoincrement=False
    )
    reminded_at: Mapped[datetime] = mapped_column(UTCDateTime)
