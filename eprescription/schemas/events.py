"""Request and response bodies of event subscriptions and the dead-letter list."""

from marshmallow import Schema, fields, validate

from eprescription.schemas.pages import list_of
from eprescription.services import events

URL_MAX = 2048


class EventSubscriptionCreateSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=URL_MAX),
        metadata={"description": "Where the events are POSTed: an http:// or https:// URL."},
    )
    types = fields.List(
        fields.String(validate=validate.OneOf(events.TYPES)),
        load_default=list,
        validate=validate.Length(max=len(events.TYPES)),
        metadata={"description": "The event types wanted; none: every type (docs/events.md)."},
    )


class ScopeSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["practice", "pharmacy", "operator"]),
        metadata={"description": "Whose events: a practice's, a pharmacy's, every one."},
    )
    id = fields.Integer(
        required=True,
        allow_none=True,
        attribute="organisation_id",
        metadata={"description": "The practice's or the pharmacy's id; null: operator-wide."},
    )


class EventSubscriptionSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    types = fields.List(fields.String(), required=True)
    channel = fields.String(
        required=True,
        validate=validate.OneOf(["webhook", "fhir_empty", "fhir_bundle"]),
        metadata={"description": "webhook (the JSON events), or a FHIR Subscription's."},
    )
    scope = fields.Nested(ScopeSchema, required=True)
    created_at = fields.DateTime(required=True)


class EventSubscriptionCreatedSchema(Schema):
    """The new subscription, and its secret: shown in this answer only."""

    subscription = fields.Nested(EventSubscriptionSchema, required=True)
    secret = fields.String(
        required=True,
        metadata={"description": "whsec_…: the key of Webhook-Signature, shown once."},
    )


EventSubscriptionListSchema = list_of(EventSubscriptionSchema)


class EventDeliverySchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True, attribute="event.event_id")
    type = fields.String(required=True, attribute="event.type")
    occurred_at = fields.DateTime(required=True, attribute="event.occurred_at")
    subscription_id = fields.Integer(required=True)
    url = fields.String(required=True, attribute="subscription.url")
    attempts = fields.Integer(required=True)
    dead = fields.Boolean(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(required=True)
    last_error = fields.String(allow_none=True)


EventDeliveryListSchema = list_of(EventDeliverySchema)
