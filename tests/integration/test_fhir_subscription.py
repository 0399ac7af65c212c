"""FHIR R4 Subscription (rest-hook) on both engines: created, read, searched and deleted for the
caller's organisation; notifications (an id-only Bundle, or an empty body) POSTed signed to a
real receiver; every resource checked by fhir.resources and R4's required codes."""

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from eprescription.fhir import subscription as fhir_subscription
from eprescription.models import EventSubscription
from eprescription.services import events
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_event_subscriptions as scoped
from tests.integration import test_events as webhooks
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.test_dispensing_api import dispense, pack_line
from tests.integration.test_events import deliver, verified
from tests.integration.test_prescriptions_api import PATIENT_NIR, cancel, issue

people = prescribing.people
products = prescribing.products
pharmacist = dispensing.pharmacist
packs = dispensing.packs
practice = scoped.practice
receiver = webhooks.receiver

FHIR = "/fhir/r4"
FHIR_JSON = "application/fhir+json"
SECRET_EXTENSION = "https://eprescription.example/fhir/StructureDefinition/webhook-secret"
# R4 (4.0.1) required bindings the R4B models type as plain codes.
R4_CODES = {
    ("Subscription", "status"): {"requested", "active", "error", "off"},
    ("Bundle", "type"): {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    },
}
CHANNEL_TYPES = {"rest-hook", "websocket", "email", "sms", "message"}


@pytest.fixture(autouse=True)
def private_targets(app, monkeypatch):
    """The receivers here listen on 127.0.0.1: an organisation's webhooks may go there."""
    monkeypatch.setitem(app.config, "EVENT_WEBHOOK_PRIVATE_TARGETS", True)


def validated(resource: dict) -> dict:
    """`resource` once the independent validator accepted it (and R4's required codes)."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    for (resource_type, field), codes in R4_CODES.items():
        if kind == resource_type:
            assert resource[field] in codes, (kind, field, resource[field])
    if kind == "Subscription":
        assert resource["channel"]["type"] in CHANNEL_TYPES
    for entry in resource.get("entry", []):
        if "resource" in entry:
            validated(entry["resource"])
    return resource


def subscription(endpoint: str, criteria: str = "MedicationRequest", **channel) -> dict:
    return validated(
        {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "Tell the practice software",
            "criteria": criteria,
            "channel": {"type": "rest-hook", "endpoint": endpoint, **channel},
        }
    )


def post(client, headers, resource: dict):
    return client.post(
        f"{FHIR}/Subscription",
        data=json.dumps(resource),
        headers={**headers, "Content-Type": FHIR_JSON},
    )


def test_a_subscription_is_created_read_searched_and_deleted(
    client, db_session, people, practice, pharmacist
):
    made = post(client, people["doctor"], subscription("https://lgo.example/fhir-hook"))

    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.mimetype == FHIR_JSON
    created = validated(made.get_json())
    assert created["status"] == "active" and created["criteria"] == "MedicationRequest"
    [secret] = [e["valueString"] for e in created["extension"] if e["url"] == SECRET_EXTENSION]
    assert secret.startswith("whsec_")
    assert made.headers["Location"].endswith(f"{FHIR}/Subscription/{created['id']}")
    one = f"{FHIR}/Subscription/{created['id']}"
    read = validated(client.get(one, headers=people["doctor"]).get_json())
    assert "extension" not in read and read["channel"] == created["channel"]
    found = validated(client.get(f"{FHIR}/Subscription", headers=people["doctor"]).get_json())
    assert [entry["resource"]["id"] for entry in found["entry"]] == [created["id"]]
    other = client.get(one, headers=pharmacist)
    assert other.status_code == 404 and other.mimetype == FHIR_JSON
    validated(other.get_json())
    assert client.delete(one, headers=pharmacist).status_code == 404

    assert client.delete(one, headers=people["doctor"]).status_code == 204
    assert client.get(one, headers=people["doctor"]).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"criteria": "Patient"}, "criteria"),
        ({"criteria": "MedicationRequest?patient.identifier=x"}, "criteria"),
        ({"criteria": "MedicationRequest?status=on-hold"}, "criteria"),
        ({"criteria": "MedicationDispense?status=completed"}, "criteria"),
        ({"channel": {"type": "websocket"}}, "channel.type"),
        ({"channel": {"type": "rest-hook", "endpoint": "ftp://x"}}, "url"),
        ({"channel": {"type": "rest-hook", "endpoint": "https://a.example", "payload": "x"}}, None),
        (
            {"channel": {"type": "rest-hook", "endpoint": "https://a.example", "header": ["A: b"]}},
            None,
        ),
        ({"reason": ""}, "reason"),
        ({"end": "2027-01-01T00:00:00Z"}, "end"),
    ],
)
def test_what_cannot_be_honoured_is_refused_with_an_operation_outcome(
    client, db_session, people, practice, change, field
):
    resource = {**subscription("https://lgo.example/h"), **change}

    refused = post(client, people["doctor"], resource)

    assert refused.status_code == 422, refused.get_data(as_text=True)
    outcome = validated(refused.get_json())
    assert outcome["resourceType"] == "OperationOutcome"
    if field is not None:
        assert field in json.dumps(outcome)
    db_session.expire_all()
    assert db_session.scalars(select(EventSubscription)).all() == []


def test_not_a_subscription_and_no_organisation_are_refused(client, people, practice):
    assert post(client, people["doctor"], {"resourceType": "Patient"}).status_code == 422
    refused = post(client, people["other_doctor"], subscription("https://lgo.example/h"))
    assert refused.status_code == 403 and "no_organisation" in refused.get_data(as_text=True)
    assert post(client, people["patient"], subscription("https://x.example")).status_code == 403


def test_an_id_only_bundle_is_posted_signed_for_the_statuses_asked(
    client, runner, people, products, practice, receiver
):
    resource = subscription(receiver.url, "MedicationRequest?status=cancelled", payload=FHIR_JSON)
    created = post(client, people["doctor"], resource).get_json()
    [secret] = [e["valueString"] for e in created["extension"]]
    kept = issue(client, people, products)  # active: not asked for
    cancelled = issue(client, people, products)
    assert cancel(client, people, cancelled).status_code == 200

    deliver(runner)

    [(headers, body)] = receiver.got
    assert headers["Content-Type"] == FHIR_JSON
    assert verified(secret, headers, body)
    bundle = validated(json.loads(body))
    assert bundle["type"] == "history"
    assert bundle["meta"]["tag"][0]["code"] == "prescription.cancelled"
    status, focus = bundle["entry"]
    assert status["resource"]["resourceType"] == "Parameters"
    parts = {
        part["name"]: part
        for parameter in status["resource"]["parameter"]
        if parameter["name"] == "notification-event"
        for part in parameter["part"]
    }
    assert parts["focus"]["valueReference"]["reference"].endswith(
        f"{FHIR}/MedicationRequest/{cancelled['id']}"
    )
    assert focus["fullUrl"].endswith(f"/MedicationRequest/{cancelled['id']}")
    assert kept["id"].encode() not in body and PATIENT_NIR.encode() not in body
    assert headers["Webhook-Id"] == bundle["id"]


def test_an_empty_payload_and_medication_dispense_criteria(
    client, runner, people, products, packs, pharmacist, receiver
):
    created = post(client, pharmacist, subscription(receiver.url, "MedicationDispense")).get_json()
    [secret] = [e["valueString"] for e in created["extension"]]
    issued = issue(client, people, products)
    given = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    assert given.status_code == 201, given.get_data(as_text=True)
    cancelled = cancel(client, people, issued)  # the rest: not a MedicationDispense event
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)

    deliver(runner)

    [(headers, body)] = receiver.got
    assert body == b"" and verified(secret, headers, body)
    assert headers["Content-Type"] == FHIR_JSON


def test_the_criteria_cover_exactly_the_event_types():
    assert set(fhir_subscription.PRESCRIPTION_TYPES) == set(events.TYPES)
    for types in fhir_subscription.RESOURCE_TYPES.values():
        assert set(types) <= set(events.TYPES)


def test_a_public_endpoint_is_taken_and_a_private_one_refused(
    app, client, db_session, monkeypatch, people, practice
):
    monkeypatch.setitem(app.config, "EVENT_WEBHOOK_PRIVATE_TARGETS", False)

    public = post(client, people["doctor"], subscription("https://93.184.216.34/hook"))
    private = post(client, people["doctor"], subscription("http://169.254.169.254/latest"))

    assert public.status_code == 201, public.get_data(as_text=True)
    assert validated(public.get_json())["reason"] == "Tell the practice software"
    assert private.status_code == 422 and "not a public address" in private.get_data(as_text=True)
