"""FHIR R4 Subscription (rest-hook) both ways, and its notifications (docs/events.md, "FHIR")."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from eprescription.domain.errors import ValidationFailed
from eprescription.fhir import systems

REST_HOOK = "rest-hook"
# A channel's payload: none (an empty POST, "something changed") or an id-only notification
# Bundle, as the R4B Subscriptions backport shapes it, in R4.
EMPTY = "fhir_empty"
BUNDLE = "fhir_bundle"
PAYLOADS = {None: EMPTY, systems.MEDIA_TYPE: BUNDLE}
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
NOTIFICATION_PROFILE = f"{BACKPORT}/backport-subscription-notification-r4"
STATUS_PROFILE = f"{BACKPORT}/backport-subscription-status-r4"
EVENT_TYPE = f"{systems.OURS}/CodeSystem/event-type"
SECRET_EXTENSION = f"{systems.OURS}/StructureDefinition/webhook-secret"

# The prescription statuses behind each R4 medicationrequest-status a criteria may ask for
# (fhir/medication_request.STATUS_CODES the other way).
STATUSES = {
    "active": ("active", "partially_dispensed"),
    "completed": ("completed",),
    "cancelled": ("cancelled",),
    "stopped": ("expired",),
}
PRESCRIPTION_TYPES = (
    "prescription.issued",
    "prescription.cancelled",
    "prescription.dispensed",
    "prescription.dispensation_reversed",
    "prescription.expiring",
    "renewal.requested",
    "renewal.declined",
    "renewal.renewed",
)
# The event types a criteria's resource type stands for.
RESOURCE_TYPES = {
    "MedicationRequest": PRESCRIPTION_TYPES,
    "MedicationDispense": ("prescription.dispensed", "prescription.dispensation_reversed"),
}


@dataclass(frozen=True)
class Requested:
    """A Subscription as POSTed, checked: what to register."""

    endpoint: str
    criteria: str
    reason: str
    channel: str  # EMPTY or BUNDLE
    types: tuple[str, ...]
    statuses: tuple[str, ...] | None  # prescription statuses; None: any


@dataclass(frozen=True)
class Registered:
    """A stored subscription as FHIR shows it."""

    id: int
    endpoint: str
    criteria: str
    reason: str
    channel: str


def parse(resource: object) -> Requested:
    """A POSTed Subscription, or ValidationFailed naming every field it cannot take."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise ValidationFailed("The body must be a FHIR R4 Subscription resource.")
    problems: dict[str, list[str]] = {}
    if resource.get("status") not in ("requested", "active"):
        problems["status"] = ["requested (it becomes active)"]
    reason = resource.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems["reason"] = ["required: why the subscription is made"]
    for unsupported in ("end", "contact", "error"):
        if unsupported in resource:
            problems[unsupported] = ["not supported here"]
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        problems["channel"] = ["required: {type: rest-hook, endpoint, payload}"]
        channel = {}
    if channel.get("type") != REST_HOOK:
        problems["channel.type"] = ["rest-hook is the only channel"]
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        problems["channel.endpoint"] = ["required: the URL notifications are POSTed to"]
    if channel.get("payload") not in PAYLOADS:
        problems["channel.payload"] = [f"absent (an empty POST) or {systems.MEDIA_TYPE}"]
    if "header" in channel:
        problems["channel.header"] = ["not supported: notifications are signed instead"]
    criteria = resource.get("criteria")
    types, statuses = _criteria(criteria, problems)
    if problems:
        raise ValidationFailed("This Subscription cannot be registered.", errors=problems)
    return Requested(
        str(endpoint),
        str(criteria),
        str(reason).strip(),
        PAYLOADS[channel.get("payload")],
        types,
        statuses,
    )


def _criteria(
    criteria: object, problems: dict[str, list[str]]
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The event types and prescription statuses of `MedicationRequest[?status=a,b]` or
    `MedicationDispense`; anything else goes into `problems`."""
    supported = "MedicationRequest, MedicationRequest?status=active,completed,…, MedicationDispense"
    if not isinstance(criteria, str):
        problems["criteria"] = [f"required, one of: {supported}"]
        return (), None
    resource_type, _, query = criteria.partition("?")
    if resource_type not in RESOURCE_TYPES:
        problems["criteria"] = [f"one of: {supported}"]
        return (), None
    statuses: list[str] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        codes = value.split(",")
        if resource_type != "MedicationRequest" or name != "status":
            problems["criteria"] = [f"the search parameter {name} is not supported: {supported}"]
        elif not all(code in STATUSES for code in codes):
            problems["criteria"] = [f"status: any of {', '.join(STATUSES)}"]
        else:
            statuses += [ours for code in codes for ours in STATUSES[code]]
    return RESOURCE_TYPES[resource_type], tuple(dict.fromkeys(statuses)) or None


def resource(row: Registered, secret: str | None = None) -> dict:
    """The Subscription as stored (status active); `secret` only in the answer to its POST,
    the once it is shown, in an extension."""
    channel: dict = {"type": REST_HOOK, "endpoint": row.endpoint}
    if row.channel == BUNDLE:
        channel["payload"] = systems.MEDIA_TYPE
    subscription = {
        "resourceType": "Subscription",
        "id": str(row.id),
        "status": "active",
        "reason": row.reason,
        "criteria": row.criteria,
        "channel": channel,
    }
    if secret is not None:
        subscription["extension"] = [{"url": SECRET_EXTENSION, "valueString": secret}]
    return subscription


def searchset(rows: list[Registered]) -> dict:
    """Every subscription of the caller's organisation, as a searchset Bundle."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(rows),
        "entry": [{"resource": resource(row), "search": {"mode": "match"}} for row in rows],
    }


@dataclass(frozen=True)
class Notified:
    """One event, as much of it as a notification says: no patient, only the prescription."""

    event_id: str
    event_number: int
    type: str
    occurred_at: datetime
    prescription_number: str


def notification(base_url: str, subscription_id: int, event: Notified) -> dict:
    """An id-only notification Bundle (history): the subscription's status, then the
    prescription (its first line's MedicationRequest) by URL only, to read as one may."""
    subscription = f"{base_url}/Subscription/{subscription_id}"
    focus = f"{base_url}/MedicationRequest/{event.prescription_number}"
    at = event.occurred_at.isoformat()
    status = {
        "resourceType": "Parameters",
        "id": event.event_id,
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": subscription}},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(event.event_number)},
                    {"name": "timestamp", "valueInstant": at},
                    {"name": "focus", "valueReference": {"reference": focus}},
                ],
            },
        ],
    }
    return {
        "resourceType": "Bundle",
        "id": event.event_id,
        "meta": {
            "profile": [NOTIFICATION_PROFILE],
            "tag": [{"system": EVENT_TYPE, "code": event.type}],
        },
        "type": "history",
        "timestamp": at,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{event.event_id}",
                "resource": status,
                "request": {"method": "GET", "url": f"{subscription}/$status"},
                "response": {"status": "200"},
            },
            {
                "fullUrl": focus,
                "request": {
                    "method": "PUT",
                    "url": f"MedicationRequest/{event.prescription_number}",
                },
                "response": {"status": "200"},
            },
        ],
    }
