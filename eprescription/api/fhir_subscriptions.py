"""FHIR R4 Subscription (rest-hook) under /fhir/r4: the same subscriptions and signed deliveries
as /api/v1/event-subscriptions, for the caller's practice or pharmacy (docs/events.md, "FHIR")."""

from flask import Response, json, request

from eprescription.api.event_subscriptions import PROFESSIONALS, caller_scope
from eprescription.api.fhir import URL_PREFIX, documented
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.errors import CREATED, NO_CONTENT, OK
from eprescription.fhir import subscription as fhir_subscription
from eprescription.fhir import systems
from eprescription.models import EventSubscription
from eprescription.services import event_subscriptions
from eprescription.use_cases import unit_of_work

FHIR_CHANNELS = (fhir_subscription.EMPTY, fhir_subscription.BUNDLE)

blp = ApiBlueprint(
    "fhir_r4_subscriptions",
    URL_PREFIX,
    "FHIR R4 Subscription (rest-hook): status events of my practice's or pharmacy's "
    "prescriptions, signed as the webhooks are (docs/events.md).",
)


def _fhir(body: dict, status: int = OK, **headers: str) -> Response:
    return Response(json.dumps(body), status=status, mimetype=systems.MEDIA_TYPE, headers=headers)


def _registered(row: EventSubscription) -> fhir_subscription.Registered:
    return fhir_subscription.Registered(
        row.id, row.url, row.criteria or "", row.reason or "", row.channel
    )


@blp.operation(
    "POST /Subscription",
    *PROFESSIONALS,
    responses=documented("The Subscription, active, with its secret (once)", CREATED),
)
def create():
    """Subscribe (channel rest-hook; criteria MedicationRequest[?status=…] or
    MedicationDispense; payload absent or application/fhir+json): the webhook secret is in
    this answer only, in an extension."""
    requested = fhir_subscription.parse(request.get_json(silent=True))
    base_url = request.url_root.rstrip("/") + URL_PREFIX
    fhir = event_subscriptions.FhirChannel(
        requested.channel, requested.criteria, requested.reason, requested.statuses, base_url
    )
    with unit_of_work(current_account()) as uow:
        made = event_subscriptions.subscribe(
            uow, caller_scope(uow), requested.endpoint, list(requested.types), fhir
        )
    resource = fhir_subscription.resource(_registered(made.row), made.secret)
    location = f"{base_url}/Subscription/{made.row.id}"
    return _fhir(resource, CREATED, Location=location)


@blp.operation(
    "GET /Subscription",
    *PROFESSIONALS,
    responses=documented("A Bundle (searchset) of my organisation's Subscriptions"),
)
def search():
    """My organisation's FHIR Subscriptions (no search parameters)."""
    with unit_of_work(current_account()) as uow:
        rows = event_subscriptions.listed(uow, caller_scope(uow), FHIR_CHANNELS)
    return _fhir(fhir_subscription.searchset([_registered(row) for row in rows]))


@blp.operation(
    "GET /Subscription/<row_id:subscription_id>",
    *PROFESSIONALS,
    responses=documented("A Subscription"),
)
def read(subscription_id: int):
    """One of my organisation's Subscriptions (another's, or a JSON webhook's: 404)."""
    with unit_of_work(current_account()) as uow:
        row = event_subscriptions.one(uow, caller_scope(uow), subscription_id, FHIR_CHANNELS)
    return _fhir(fhir_subscription.resource(_registered(row)))


@blp.operation(
    "DELETE /Subscription/<row_id:subscription_id>",
    *PROFESSIONALS,
    responses=documented("Removed, with its pending notifications", NO_CONTENT),
)
def delete(subscription_id: int):
    """Remove one of my organisation's Subscriptions (another's: 404)."""
    with unit_of_work(current_account()) as uow:
        event_subscriptions.remove(uow, caller_scope(uow), subscription_id, FHIR_CHANNELS)
    return Response(status=NO_CONTENT)
