"""Status events: written to the outbox in the change's transaction, subscriptions, and the
deliveries' state (due, delivered, retried with backoff, dead, replayed)."""

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from eprescription.domain.errors import ValidationFailed
from eprescription.models import EventDelivery, EventOutboxEntry, EventSubscription, Prescription
from eprescription.services.uow import UnitOfWork

ISSUED = "prescription.issued"
CANCELLED = "prescription.cancelled"
DISPENSED = "prescription.dispensed"  # data.status: partially_dispensed or completed
REVERSED = "prescription.dispensation_reversed"
RENEWAL_REQUESTED = "renewal.requested"
RENEWAL_DECLINED = "renewal.declined"
RENEWED = "renewal.renewed"
# A renewal request's answer (domain.renewals.RequestStatus) as its event type.
ANSWERS = {"renewed": RENEWED, "declined": RENEWAL_DECLINED}
TYPES = (ISSUED, CANCELLED, DISPENSED, REVERSED, RENEWAL_REQUESTED, RENEWAL_DECLINED, RENEWED)

# A failed delivery is tried again after 10 s, 20 s, 40 s … (at most an hour); after
# MAX_ATTEMPTS failures it is dead: listed by `flask events dead`, sent again by `replay`.
FIRST_RETRY_SECONDS = 10
LONGEST_RETRY_SECONDS = 3600
MAX_ATTEMPTS = 8


def emit(uow: UnitOfWork, type: str, prescription: Prescription, **details: object) -> None:
    """Write a `type` event about `prescription` into the outbox, in this transaction: it
    exists if and only if the change commits. No patient identifier goes into `data`."""
    data = {"prescription": prescription.number, "status": prescription.status, **details}
    uow.session.add(
        EventOutboxEntry(
            event_id=str(uuid.uuid4()),
            type=type,
            occurred_at=uow.now,
            prescription_number=prescription.number,
            patient_person_id=prescription.patient_person_id,
            payload=json.dumps(data, sort_keys=True, default=str),
        )
    )


def body(event: EventOutboxEntry) -> bytes:
    """What a subscriber receives: {id, type, occurred_at, data}, as JSON."""
    return json.dumps(
        {
            "id": event.event_id,
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "data": json.loads(event.payload),
        },
        sort_keys=True,
    ).encode()


# -- subscriptions -------------------------------------------------------------------------------


def subscribe(uow: UnitOfWork, url: str, types: list[str]) -> EventSubscription:
    """Register `url` for `types` (every type if none): it gets the events from now on,
    signed with a new secret (returned on the row, shown once to the admin)."""
    problems: dict[str, list[str]] = {}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems["url"] = ["an http:// or https:// URL"]
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        problems["types"] = [f"unknown event types: {', '.join(unknown)}"]
    if problems:
        raise ValidationFailed("This subscription cannot be registered.", errors=problems)
    latest = uow.session.scalar(select(func.max(EventOutboxEntry.id))) or 0
    subscription = EventSubscription(
        url=url,
        secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        types=" ".join(sorted(set(types) or TYPES)),
        created_at=uow.now,
        cursor=latest,
    )
    uow.session.add(subscription)
    uow.session.flush()
    return subscription


def subscriptions(uow: UnitOfWork) -> list[EventSubscription]:
    return list(uow.session.scalars(select(EventSubscription).order_by(EventSubscription.id)))


def unsubscribe(uow: UnitOfWork, subscription_id: int) -> bool:
    """Remove a subscription and its deliveries (False if there was none)."""
    subscription = uow.session.get(EventSubscription, subscription_id)
    if subscription is None:
        return False
    for delivery in uow.session.scalars(
        select(EventDelivery).where(EventDelivery.subscription_id == subscription_id)
    ):
        uow.session.delete(delivery)
    uow.session.flush()
    uow.session.delete(subscription)
    return True


# -- deliveries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One delivery to make now: where, with which secret, what."""

    delivery_id: int
    url: str
    secret: str
    event_id: str
    body: bytes


def fan_out(uow: UnitOfWork) -> int:
    """Give each subscription a delivery of every new event of a type it wants."""
    added = 0
    for subscription in uow.session.scalars(
        select(EventSubscription).order_by(EventSubscription.id).with_for_update()
    ):
        wanted = subscription.types.split()
        new = uow.session.scalars(
            select(EventOutboxEntry)
            .where(EventOutboxEntry.id > subscription.cursor)
            .order_by(EventOutboxEntry.id)
        ).all()
        for event in new:
            if event.type in wanted:
                uow.session.add(
                    EventDelivery(
                        subscription_id=subscription.id,
                        event_id=event.id,
                        attempts=0,
                        next_attempt_at=uow.now,
                        dead=False,
                    )
                )
                added += 1
        if new:
            subscription.cursor = new[-1].id
    uow.session.flush()
    return added


def claim(uow: UnitOfWork, limit: int, hold: timedelta) -> list[Attempt]:
    """At most `limit` deliveries due now, oldest event first, held for `hold` (long enough
    to post them all) so that another worker leaves them alone meanwhile."""
    due = uow.session.scalars(
        select(EventDelivery)
        .where(
            EventDelivery.delivered_at.is_(None),
            EventDelivery.dead.is_(False),
            EventDelivery.next_attempt_at <= uow.now,
        )
        .order_by(EventDelivery.event_id, EventDelivery.id)
        .limit(limit)
        .options(selectinload(EventDelivery.subscription), selectinload(EventDelivery.event))
        .with_for_update(skip_locked=True)
    ).all()
    attempts = []
    for delivery in due:
        delivery.next_attempt_at = uow.now + hold
        attempts.append(
            Attempt(
                delivery.id,
                delivery.subscription.url,
                delivery.subscription.secret,
                delivery.event.event_id,
                body(delivery.event),
            )
        )
    return attempts


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 10 s × 2^(attempts - 1), at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), LONGEST_RETRY_SECONDS))


def record(uow: UnitOfWork, delivery_id: int, error: str | None) -> None:
    """What one attempt gave: delivered (error None), or failed and tried again later, or,
    after MAX_ATTEMPTS failures, dead."""
    delivery = uow.session.get(EventDelivery, delivery_id)
    if delivery is None:  # its subscription was removed meanwhile
        return
    delivery.attempts += 1
    if error is None:
        delivery.delivered_at = uow.now
        delivery.last_error = None
        return
    delivery.last_error = error[:500]
    delivery.dead = delivery.attempts >= MAX_ATTEMPTS
    delivery.next_attempt_at = uow.now + retry_delay(delivery.attempts)


def dead(uow: UnitOfWork) -> list[EventDelivery]:
    """The dead-letter list: deliveries given up after MAX_ATTEMPTS failures."""
    return list(
        uow.session.scalars(
            select(EventDelivery).where(EventDelivery.dead.is_(True)).order_by(EventDelivery.id)
        )
    )


def replay(uow: UnitOfWork, delivery_id: int) -> bool:
    """Put a dead (or delivered) delivery back in the queue, due now, with its attempts
    counted from zero; False if there is no such delivery."""
    delivery = uow.session.get(EventDelivery, delivery_id)
    if delivery is None:
        return False
    delivery.dead = False
    delivery.delivered_at = None
    delivery.attempts = 0
    delivery.next_attempt_at = uow.now
    return True
