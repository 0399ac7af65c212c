"""Event subscriptions of the caller's practice or pharmacy (/api/v1/event-subscriptions), and
the operator's dead-letter list (/api/v1/admin/event-deliveries): docs/events.md."""

from eprescription.api import retries
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account, current_software
from eprescription.errors import CREATED, NO_CONTENT
from eprescription.models import Role
from eprescription.schemas.events import (
    EventDeliveryListSchema,
    EventDeliverySchema,
    EventSubscriptionCreatedSchema,
    EventSubscriptionCreateSchema,
    EventSubscriptionListSchema,
    EventSubscriptionSchema,
)
from eprescription.services import event_subscriptions, events
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_event_subscriptions",
    "/api/v1",
    "Status events pushed as signed webhooks to a practice's or a pharmacy's software.",
)
PROFESSIONALS = (Role.PRESCRIBER, Role.PHARMACIST)
ITEM = "/event-subscriptions/<row_id:subscription_id>"


def caller_scope(uow: UnitOfWork) -> events.Scope:
    """The caller's organisation: its software client's if bound to one, else its own."""
    software = current_software()
    bound = None
    if software is not None and software.practice_id is not None:
        bound = events.Scope(practice_id=software.practice_id)
    elif software is not None and software.pharmacy_id is not None:
        bound = events.Scope(pharmacy_id=software.pharmacy_id)
    return event_subscriptions.caller_scope(uow, bound)


@blp.operation(
    "POST /event-subscriptions",
    *PROFESSIONALS,
    response=EventSubscriptionCreatedSchema,
    status=CREATED,
)
@blp.arguments(EventSubscriptionCreateSchema)
@retries.keyed
def create(body: dict):
    """Subscribe a URL to the events of my practice's prescriptions (a prescriber) or of the
    prescriptions my pharmacy dispensed from (a pharmacist); the secret is in this answer only."""
    return retries.answer_once(
        EventSubscriptionCreatedSchema(),
        CREATED,
        lambda uow: event_subscriptions.subscribe(
            uow, caller_scope(uow), body["url"], body["types"]
        ),
    )


@blp.operation("GET /event-subscriptions", *PROFESSIONALS, response=EventSubscriptionListSchema)
def list_mine():
    """My organisation's subscriptions (webhooks and FHIR Subscriptions), oldest first."""
    with unit_of_work(current_account()) as uow:
        rows = event_subscriptions.listed(uow, caller_scope(uow))
    return {"items": [event_subscriptions.view(row) for row in rows]}


@blp.operation(f"GET {ITEM}", *PROFESSIONALS, response=EventSubscriptionSchema)
def get(subscription_id: int):
    """One of my organisation's subscriptions (another's: 404)."""
    with unit_of_work(current_account()) as uow:
        row = event_subscriptions.one(uow, caller_scope(uow), subscription_id)
    return event_subscriptions.view(row)


@blp.operation(f"DELETE {ITEM}", *PROFESSIONALS, status=NO_CONTENT)
@blp.response(NO_CONTENT, description="Removed, with its pending deliveries")
def delete(subscription_id: int):
    """Remove one of my organisation's subscriptions (another's: 404)."""
    with unit_of_work(current_account()) as uow:
        event_subscriptions.remove(uow, caller_scope(uow), subscription_id)
    return "", NO_CONTENT


@blp.operation("GET /admin/event-deliveries/dead", Role.ADMIN, response=EventDeliveryListSchema)
def dead_letters():
    """The dead-letter list: deliveries given up after too many failures (the administrator)."""
    with unit_of_work(current_account()) as uow:
        items = event_subscriptions.dead_letters(uow)
    return {"items": items}


@blp.operation(
    "POST /admin/event-deliveries/<row_id:delivery_id>/replay",
    Role.ADMIN,
    response=EventDeliverySchema,
)
def replay(delivery_id: int):
    """Send a dead delivery again, its attempts counted from zero (the administrator)."""
    with unit_of_work(current_account()) as uow:
        delivery = event_subscriptions.replay(uow, delivery_id)
    return delivery
