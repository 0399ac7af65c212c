"""An organisation's event subscriptions (webhooks and FHIR Subscriptions) and the operator's
dead-letter list, each command audited (docs/events.md)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from eprescription.domain.errors import (
    EventDeliveryNotFound,
    EventSubscriptionNotFound,
    NoOrganisation,
    NotFound,
    ValidationFailed,
)
from eprescription.models import EventDelivery, EventSubscription, Pharmacy, Practice, Role
from eprescription.services import events
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = "event_subscription"
DELIVERY = "event_delivery"
SUBSCRIBED = "event_subscription_created"
LISTED = "event_subscriptions_listed"
REMOVED = "event_subscription_removed"
DEAD_LISTED = "event_dead_letters_listed"
REPLAYED = "event_delivery_replayed"


def caller_scope(uow: UnitOfWork, software: events.Scope | None = None) -> events.Scope:
    """The organisation whose subscriptions the caller manages: its software client's when it
    calls through one bound to an organisation, else the prescriber's practice or the
    pharmacist's pharmacy; NoOrganisation for a prescriber in no practice."""
    if software is not None:
        return software
    account = uow.require_account()
    person = account.person
    pharmacist = person.pharmacist if person is not None else None
    prescriber = person.prescriber if person is not None else None
    if account.role is Role.PHARMACIST and pharmacist is not None:
        return events.Scope(pharmacy_id=pharmacist.pharmacy_id)
    if account.role is Role.PRESCRIBER and prescriber is not None and prescriber.practice_id:
        return events.Scope(practice_id=prescriber.practice_id)
    raise NoOrganisation(
        "Your account belongs to no practice: an administrator must record your practice first."
    )


def named_scope(
    uow: UnitOfWork,
    *,
    practice_id: int | None = None,
    pharmacy_finess: str | None = None,
    operator_wide: bool = False,
) -> events.Scope:
    """The operator's choice of scope (exactly one), the organisation checked to exist."""
    if sum((practice_id is not None, pharmacy_finess is not None, operator_wide)) != 1:
        raise ValidationFailed(
            "A subscription belongs to one practice, one pharmacy, or is operator-wide.",
            errors={"scope": ["exactly one of --practice, --pharmacy, --operator-wide"]},
        )
    if practice_id is not None:
        if uow.session.get(Practice, practice_id) is None:
            raise NotFound(f"No practice has the id {practice_id}.")
        return events.Scope(practice_id=practice_id)
    if pharmacy_finess is not None:
        pharmacy = uow.session.scalar(select(Pharmacy).where(Pharmacy.finess == pharmacy_finess))
        if pharmacy is None:
            raise NotFound(f"No pharmacy has the FINESS {pharmacy_finess}.")
        return events.Scope(pharmacy_id=pharmacy.id)
    return events.OPERATOR_WIDE


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the API shows it (never its secret)."""

    id: int
    url: str
    types: list[str]
    channel: str
    scope: events.Scope
    created_at: datetime


def view(row: EventSubscription) -> SubscriptionView:
    return SubscriptionView(
        row.id, row.url, row.types.split(), row.channel, events.scope_of(row), row.created_at
    )


@dataclass(frozen=True)
class Subscribed:
    """A new subscription, with its secret: the only time the secret is given."""

    row: EventSubscription
    secret: str

    @property
    def subscription(self) -> SubscriptionView:
        return view(self.row)


@dataclass(frozen=True)
class FhirChannel:
    """What a FHIR Subscription adds to a webhook (fhir/subscription.Requested)."""

    channel: str
    criteria: str
    reason: str
    statuses: tuple[str, ...] | None
    base_url: str


def subscribe(
    uow: UnitOfWork,
    scope: events.Scope,
    url: str,
    types: list[str],
    fhir: FhirChannel | None = None,
) -> Subscribed:
    """Register a subscription of `scope` (a FHIR Subscription with `fhir`), audited."""
    if fhir is None:
        row = events.subscribe(uow, url, types, scope)
    else:
        row = events.subscribe(
            uow,
            url,
            types,
            scope,
            channel=fhir.channel,
            criteria=fhir.criteria,
            statuses=list(fhir.statuses) if fhir.statuses else None,
            reason=fhir.reason,
            base_url=fhir.base_url,
        )
    uow.audit(SUBSCRIBED, OBJECT_TYPE, str(row.id))
    return Subscribed(row, row.secret)


def listed(
    uow: UnitOfWork, scope: events.Scope, channels: tuple[str, ...] | None = None
) -> list[EventSubscription]:
    """The subscriptions of `scope` (of those `channels` if given), oldest first, audited."""
    rows = events.subscriptions(uow, scope)
    uow.audit(LISTED, OBJECT_TYPE, scope.label)
    return [row for row in rows if channels is None or row.channel in channels]


def one(
    uow: UnitOfWork,
    scope: events.Scope,
    subscription_id: int,
    channels: tuple[str, ...] | None = None,
) -> EventSubscription:
    """One subscription of `scope` (of those `channels` if given), audited; another
    organisation's answers as one that does not exist."""
    row = events.subscription(uow, subscription_id, scope)
    if row is None or (channels is not None and row.channel not in channels):
        raise EventSubscriptionNotFound(f"No subscription {subscription_id} is yours.")
    uow.audit("read", OBJECT_TYPE, str(row.id))
    return row


def remove(
    uow: UnitOfWork,
    scope: events.Scope,
    subscription_id: int,
    channels: tuple[str, ...] | None = None,
) -> None:
    """Remove a subscription of `scope` (of those `channels` if given) and its pending
    deliveries, audited."""
    row = events.subscription(uow, subscription_id, scope)
    if row is None or (channels is not None and row.channel not in channels):
        raise EventSubscriptionNotFound(f"No subscription {subscription_id} is yours.")
    events.unsubscribe(uow, subscription_id, scope)
    uow.audit(REMOVED, OBJECT_TYPE, str(subscription_id))


def dead_letters(uow: UnitOfWork) -> list[EventDelivery]:
    """The dead-letter list (the operator's), audited."""
    rows = events.dead(uow)
    uow.audit(DEAD_LISTED, DELIVERY)
    return rows


def replay(uow: UnitOfWork, delivery_id: int) -> EventDelivery:
    """Send a dead delivery again, its attempts from zero, audited."""
    delivery = events.replay(uow, delivery_id)
    if delivery is None:
        raise EventDeliveryNotFound(f"No delivery {delivery_id}.")
    uow.audit(REPLAYED, DELIVERY, str(delivery_id))
    return delivery
