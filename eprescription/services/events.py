"""Status events: written to the outbox in the change's transaction, subscriptions and their
scope, and the deliveries' state (due, delivered, retried with backoff, dead, replayed)."""

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased, selectinload

from eprescription.domain.errors import ValidationFailed
from eprescription.fhir import subscription as fhir_subscription
from eprescription.fhir import systems as fhir_systems
from eprescription.models import (
    EventDelivery,
    EventOutboxEntry,
    EventSubscription,
    Prescription,
    Role,
)
from eprescription.services import webhook_targets
from eprescription.services.uow import UnitOfWork

ISSUED = "prescription.issued"
CANCELLED = "prescription.cancelled"
DISPENSED = "prescription.dispensed"  # data.status: partially_dispensed or completed
REVERSED = "prescription.dispensation_reversed"
EXPIRING = "prescription.expiring"  # data.valid_until: nothing dispensed, ends within N days
RENEWAL_REQUESTED = "renewal.requested"
RENEWAL_DECLINED = "renewal.declined"
RENEWED = "renewal.renewed"
# A renewal request's answer (domain.renewals.RequestStatus) as its event type.
ANSWERS = {"renewed": RENEWED, "declined": RENEWAL_DECLINED}
TYPES = (
    ISSUED,
    CANCELLED,
    DISPENSED,
    REVERSED,
    EXPIRING,
    RENEWAL_REQUESTED,
    RENEWAL_DECLINED,
    RENEWED,
)
WEBHOOK = "webhook"  # a subscription's channel: the JSON event (FHIR's: fhir/subscription.py)
JSON = "application/json"

# A failed delivery is tried again after 10 s, 20 s, 40 s … (at most an hour); after
# MAX_ATTEMPTS failures it is dead: listed by `flask events dead`, sent again by `replay`.
FIRST_RETRY_SECONDS = 10
LONGEST_RETRY_SECONDS = 3600
MAX_ATTEMPTS = 8


def entry(uow: UnitOfWork, type: str, prescription: Prescription, **details: object) -> dict:
    """The outbox row's columns for a `type` event about `prescription`, sending no statement
    (for a caller that writes the row inside its own INSERT). No patient identifier goes into
    `data`. The row also names, for the subscriptions' scope, the prescriber's practice and
    the acting pharmacist's pharmacy: both loaded already (the prescription's prescriber, the
    caller's records)."""
    data = {"prescription": prescription.number, "status": prescription.status, **details}
    return {
        "event_id": str(uuid.uuid4()),
        "type": type,
        "occurred_at": uow.now,
        "prescription_number": prescription.number,
        "patient_person_id": prescription.patient_person_id,
        "prescription_id": prescription.id,
        "practice_id": prescription.prescriber.practice_id,
        "pharmacy_id": _acting_pharmacy(uow),
        "payload": json.dumps(data, sort_keys=True, default=str),
    }


def emit(uow: UnitOfWork, type: str, prescription: Prescription, **details: object) -> None:
    """Write a `type` event about `prescription` into the outbox, in this transaction: it
    exists if and only if the change commits."""
    uow.session.add(EventOutboxEntry(**entry(uow, type, prescription, **details)))


def _acting_pharmacy(uow: UnitOfWork) -> int | None:
    """The pharmacy of the acting pharmacist, or None (another role, the operator)."""
    account = uow.account
    if account is None or account.role is not Role.PHARMACIST or account.person is None:
        return None
    pharmacist = account.person.pharmacist
    return pharmacist.pharmacy_id if pharmacist is not None else None


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


@dataclass(frozen=True)
class Scope:
    """Whose events a subscription gets: a practice's (prescriptions written by its
    prescribers), a pharmacy's (those it dispensed from, and what it did), or, operator-wide,
    every prescription's (national systems, registered by the operator only)."""

    practice_id: int | None = None
    pharmacy_id: int | None = None
    operator_wide: bool = False

    def __post_init__(self) -> None:
        given = (self.practice_id is not None, self.pharmacy_id is not None, self.operator_wide)
        if sum(given) != 1:
            raise ValueError("a scope is one practice, one pharmacy, or operator-wide")

    def holds(self, subscription: EventSubscription) -> bool:
        """Whether `subscription` is one of this scope's (operator-wide: every one)."""
        if self.operator_wide:
            return True
        if self.practice_id is not None:
            return subscription.practice_id == self.practice_id
        return subscription.pharmacy_id == self.pharmacy_id

    @property
    def kind(self) -> str:
        """practice, pharmacy or operator."""
        if self.practice_id is not None:
            return "practice"
        return "pharmacy" if self.pharmacy_id is not None else "operator"

    @property
    def organisation_id(self) -> int | None:
        """The practice's or the pharmacy's row id (None: operator-wide)."""
        return self.practice_id if self.practice_id is not None else self.pharmacy_id

    @property
    def label(self) -> str:
        """How the CLI and the audit log name it: "practice:3", "pharmacy:7", "operator"."""
        if self.organisation_id is None:
            return self.kind
        return f"{self.kind}:{self.organisation_id}"


OPERATOR_WIDE = Scope(operator_wide=True)


def _public_only(uow: UnitOfWork, operator_wide: bool) -> bool:
    """Whether a subscription's URL must reach public addresses only: an organisation's does,
    unless the operator allows private ones (closed networks, tests); operator-wide ones are
    the operator's own choice."""
    return not operator_wide and not uow.settings.webhook_private_targets


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bracketed host that is no IPv6 address, a port out of range
        return False


def scope_of(subscription: EventSubscription) -> Scope:
    return Scope(subscription.practice_id, subscription.pharmacy_id, subscription.operator_wide)


def subscribe(
    uow: UnitOfWork,
    url: str,
    types: list[str],
    scope: Scope,
    *,
    channel: str = WEBHOOK,
    criteria: str | None = None,
    statuses: list[str] | None = None,
    reason: str | None = None,
    base_url: str | None = None,
) -> EventSubscription:
    """Register `url` for `types` (every type if none) in `scope`: it gets the events from
    now on, signed with a new secret (returned on the row, shown once)."""
    problems: dict[str, list[str]] = {}
    if not _is_http_url(url):
        problems["url"] = ["an http:// or https:// URL"]
    elif _public_only(uow, scope.operator_wide):
        refusal = webhook_targets.private_reason(url)
        if refusal is not None:
            problems["url"] = [f"a public address: {refusal}"]
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
        practice_id=scope.practice_id,
        pharmacy_id=scope.pharmacy_id,
        operator_wide=scope.operator_wide,
        channel=channel,
        criteria=criteria,
        statuses=" ".join(statuses) if statuses else None,
        reason=reason,
        base_url=base_url,
    )
    uow.session.add(subscription)
    uow.session.flush()
    return subscription


def subscriptions(uow: UnitOfWork, scope: Scope = OPERATOR_WIDE) -> list[EventSubscription]:
    """The subscriptions of `scope`, oldest first (operator-wide: every one)."""
    query = select(EventSubscription).order_by(EventSubscription.id)
    if scope.practice_id is not None:
        query = query.where(EventSubscription.practice_id == scope.practice_id)
    elif scope.pharmacy_id is not None:
        query = query.where(EventSubscription.pharmacy_id == scope.pharmacy_id)
    return list(uow.session.scalars(query))


def subscription(uow: UnitOfWork, subscription_id: int, scope: Scope) -> EventSubscription | None:
    """One subscription of `scope`, or None (none of that id, or another organisation's)."""
    row = uow.session.get(EventSubscription, subscription_id)
    return row if row is not None and scope.holds(row) else None


def unsubscribe(uow: UnitOfWork, subscription_id: int, scope: Scope = OPERATOR_WIDE) -> bool:
    """Remove a subscription of `scope` and its deliveries (False if there was none)."""
    row = subscription(uow, subscription_id, scope)
    if row is None:
        return False
    for delivery in uow.session.scalars(
        select(EventDelivery).where(EventDelivery.subscription_id == subscription_id)
    ):
        uow.session.delete(delivery)
    uow.session.flush()
    uow.session.delete(row)
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
    content_type: str = JSON
    public_only: bool = False  # check the URL's addresses again before posting


def payload(subscription: EventSubscription, event: EventOutboxEntry) -> tuple[str, bytes]:
    """What the subscription's channel sends of the event, and its media type: the JSON event
    for a webhook; for a FHIR Subscription an empty body or an id-only notification Bundle."""
    if subscription.channel == WEBHOOK:
        return JSON, body(event)
    if subscription.channel == fhir_subscription.EMPTY:
        return fhir_systems.MEDIA_TYPE, b""
    notified = fhir_subscription.Notified(
        event.event_id, event.id, event.type, event.occurred_at, event.prescription_number
    )
    bundle = fhir_subscription.notification(subscription.base_url or "", subscription.id, notified)
    return fhir_systems.MEDIA_TYPE, json.dumps(bundle, sort_keys=True).encode()


def in_scope(subscription: EventSubscription) -> ColumnElement[bool]:
    """Which outbox rows `subscription` may get: a practice's prescribers' prescriptions; for a
    pharmacy what it did, and every later event of a prescription it had dispensed from (after
    its first `prescription.dispensed` there, in outbox order)."""
    if subscription.operator_wide:
        return true()
    if subscription.practice_id is not None:
        return EventOutboxEntry.practice_id == subscription.practice_id
    if subscription.pharmacy_id is None:
        return false()
    earlier = aliased(EventOutboxEntry)
    dispensed_there = exists().where(
        earlier.prescription_id == EventOutboxEntry.prescription_id,
        earlier.pharmacy_id == subscription.pharmacy_id,
        earlier.type == DISPENSED,
        earlier.id < EventOutboxEntry.id,
    )
    return or_(EventOutboxEntry.pharmacy_id == subscription.pharmacy_id, dispensed_there)


def wants(subscription: EventSubscription, event: EventOutboxEntry) -> bool:
    """Whether the event's type, and its prescription status, are ones the subscription asked
    for (its scope is in_scope's)."""
    if event.type not in subscription.types.split():
        return False
    if subscription.statuses is None:
        return True
    return json.loads(event.payload).get("status") in subscription.statuses.split()


def fan_out(uow: UnitOfWork) -> int:
    """Give each subscription a delivery of every new event it wants in its scope."""
    added = 0
    for subscription in uow.session.scalars(
        select(EventSubscription).order_by(EventSubscription.id).with_for_update()
    ):
        new = uow.session.execute(
            select(EventOutboxEntry, in_scope(subscription).label("in_scope"))
            .where(EventOutboxEntry.id > subscription.cursor)
            .order_by(EventOutboxEntry.id)
        ).all()
        for event, scoped in new:
            if scoped and wants(subscription, event):
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
            subscription.cursor = new[-1][0].id
    uow.session.flush()
    return added


_DELIVERY_PARTS = (selectinload(EventDelivery.subscription), selectinload(EventDelivery.event))


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
        .options(*_DELIVERY_PARTS)
        .with_for_update(skip_locked=True)
    ).all()
    attempts = []
    for delivery in due:
        delivery.next_attempt_at = uow.now + hold
        content_type, sent = payload(delivery.subscription, delivery.event)
        attempts.append(
            Attempt(
                delivery.id,
                delivery.subscription.url,
                delivery.subscription.secret,
                delivery.event.event_id,
                sent,
                content_type,
                _public_only(uow, delivery.subscription.operator_wide),
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
            select(EventDelivery)
            .where(EventDelivery.dead.is_(True))
            .order_by(EventDelivery.id)
            .options(*_DELIVERY_PARTS)
        )
    )


def replay(uow: UnitOfWork, delivery_id: int) -> EventDelivery | None:
    """Put a dead (or delivered) delivery back in the queue, due now, with its attempts
    counted from zero; None if there is no such delivery."""
    delivery = uow.session.get(EventDelivery, delivery_id, options=_DELIVERY_PARTS)
    if delivery is None:
        return None
    delivery.dead = False
    delivery.delivered_at = None
    delivery.attempts = 0
    delivery.next_attempt_at = uow.now
    return delivery
