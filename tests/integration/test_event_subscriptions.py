"""Scoped event subscriptions on both engines: a practice gets its prescribers' prescriptions,
a pharmacy what it dispensed from; the expiry sweep (once per prescription, also from two
hosts at once); /api/v1/event-subscriptions and the admin's dead letters; each audited."""

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from eprescription.domain.errors import NotFound
from eprescription.models import (
    AuditEvent,
    EventDelivery,
    EventOutboxEntry,
    EventSubscription,
    ExpiryReminder,
    Pharmacy,
    Practice,
    Prescriber,
    Role,
)
from eprescription.services import event_subscriptions, events, expiry_reminders
from tests.conftest import postgresql_only
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_events as webhooks
from tests.integration import test_oauth as oauth
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, PHARMACY_FINESS, add_account, operator
from tests.integration.test_dispensing_api import dispense, pack_line
from tests.integration.test_events import deliver, make_due, subscribe, verified
from tests.integration.test_prescriptions_api import (
    PATIENT_NIR,
    assert_problem,
    bearer,
    cancel,
    issue,
)

people = prescribing.people
products = prescribing.products
pharmacist = dispensing.pharmacist
other_pharmacist = dispensing.other_pharmacist
packs = dispensing.packs
receiver = webhooks.receiver

SUBSCRIPTIONS = "/api/v1/event-subscriptions"
UNKNOWN_FINESS = "999999999"


@pytest.fixture(autouse=True)
def private_targets(app, monkeypatch):
    """The receivers here listen on 127.0.0.1: an organisation's webhooks may go there."""
    monkeypatch.setitem(app.config, "EVENT_WEBHOOK_PRIVATE_TARGETS", True)


@pytest.fixture
def practice(db_session, people):
    """The doctor's practice (the other doctor is in none)."""
    row = Practice(name="Cabinet des Lilas", identifier="12345678901234")
    db_session.add(row)
    db_session.flush()
    doctor = db_session.scalar(
        select(Prescriber).where(Prescriber.person_id == people["doctor_account"].person_id)
    )
    doctor.practice_id = row.id
    db_session.commit()
    return row


def actions(session, prefix: str = "event_") -> list[str]:
    session.expire_all()
    return [
        action
        for action in session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        if action.startswith(prefix)
    ]


# -- scope -------------------------------------------------------------------------------------


def test_a_practice_gets_its_prescribers_prescriptions_only(
    client, runner, people, products, practice, receiver
):
    subscribe(runner, receiver.url, scope=("--practice", str(practice.id)))
    mine = issue(client, people, products)
    client_other = client.post(
        "/api/v1/prescriptions",
        json=prescribing.body(products),
        headers=people["other_doctor"],
    )
    assert client_other.status_code == 201, client_other.get_data(as_text=True)
    cancel(client, people, mine)

    deliver(runner)

    sent = [(event["type"], event["data"]["prescription"]) for event in receiver.events()]
    assert sent == [("prescription.issued", mine["id"]), ("prescription.cancelled", mine["id"])]
    assert not any(PATIENT_NIR.encode() in body for _, body in receiver.got)


def test_a_pharmacy_gets_what_it_dispensed_from_and_what_happens_to_it_next(
    client, db_session, runner, people, products, packs, pharmacist, other_pharmacist, receiver
):
    _, secret = subscribe(runner, receiver.url, scope=("--pharmacy", PHARMACY_FINESS))
    theirs = issue(client, people, products)  # never dispensed here: none of its events
    ours = issue(client, people, products)
    elsewhere = dispense(client, other_pharmacist, theirs, [pack_line(1, packs["doliprane"])])
    assert elsewhere.status_code == 201, elsewhere.get_data(as_text=True)
    here = dispense(client, pharmacist, ours, [pack_line(1, packs["doliprane"])])
    assert here.status_code == 201, here.get_data(as_text=True)
    assert cancel(client, people, ours).status_code == 200  # after: the pharmacy hears of it

    deliver(runner)

    sent = [(event["type"], event["data"]["prescription"]) for event in receiver.events()]
    assert sent == [("prescription.dispensed", ours["id"]), ("prescription.cancelled", ours["id"])]
    assert all(verified(secret, headers, body) for headers, body in receiver.got)


def test_an_operator_wide_subscription_gets_every_prescription(
    client, runner, people, products, practice, receiver
):
    subscribe(runner, receiver.url, events.ISSUED)
    issue(client, people, products)
    client.post(
        "/api/v1/prescriptions", json=prescribing.body(products), headers=people["other_doctor"]
    )

    deliver(runner)

    assert [event["type"] for event in receiver.events()] == ["prescription.issued"] * 2


# -- about to expire, uncollected ----------------------------------------------------------------


def soon(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def test_the_sweep_tells_once_of_each_prescription_ending_soon_with_nothing_collected(
    client, db_session, runner, people, products, packs, pharmacist, receiver
):
    subscribe(runner, receiver.url, events.EXPIRING)
    ending = issue(client, people, products, valid_until=soon(3))
    issue(client, people, products, valid_until=soon(30))  # not yet
    collected = issue(client, people, products, valid_until=soon(2))
    given = dispense(client, pharmacist, collected, [pack_line(1, packs["doliprane"])])
    assert given.status_code == 201, given.get_data(as_text=True)

    first = runner.invoke(args=["events", "sweep"])
    again = runner.invoke(args=["events", "sweep"])

    assert "Expiring soon: 1 reminded." in first.output, first.output
    assert "Expiring soon: 0 reminded." in again.output
    deliver(runner)
    [event] = receiver.events()
    assert event["type"] == "prescription.expiring"
    assert event["data"] == {
        "prescription": ending["id"],
        "status": "active",
        "valid_until": soon(3),
    }
    assert actions(db_session, "expiry_") == ["expiry_reminder"]
    wider = runner.invoke(args=["events", "sweep", "--days", "40"])
    assert "Expiring soon: 1 reminded." in wider.output  # the 30-day one; never the first again


@postgresql_only  # SQLite has one writer at a time: two sweeps at once is PostgreSQL's case
def test_two_sweeps_at_once_write_one_event(app, db_session, client, people, products):
    issue(client, people, products, valid_until=soon(1))
    sessions = app.extensions["db_sessionmaker"]
    counted: list[int] = []

    second = sessions()
    second_work = operator(second)  # made here: the thread has no app context

    def second_host() -> None:
        try:
            with second_work as uow:
                counted.append(expiry_reminders.sweep(uow, 7))
        finally:
            second.close()

    first = sessions()
    try:
        with operator(first) as uow:
            counted.append(expiry_reminders.sweep(uow, 7))
            other = threading.Thread(target=second_host)
            other.start()
            other.join(1.0)
            assert other.is_alive()  # waiting on the reminder's primary key
    finally:
        first.close()
    other.join(30)

    assert counted == [1, 0]
    db_session.expire_all()
    assert len(db_session.scalars(select(ExpiryReminder)).all()) == 1
    expiring = select(EventOutboxEntry.type).where(EventOutboxEntry.type == events.EXPIRING)
    assert db_session.scalars(expiring).all() == [events.EXPIRING]


# -- the API -----------------------------------------------------------------------------------


def test_a_prescriber_subscribes_their_practice_lists_and_removes_audited(
    client, db_session, people, products, practice, runner, receiver
):
    headers = {**people["doctor"], "Idempotency-Key": "sub-1"}
    body = {"url": receiver.url, "types": ["prescription.issued"]}

    made = client.post(SUBSCRIPTIONS, json=body, headers=headers)
    again = client.post(SUBSCRIPTIONS, json=body, headers=headers)

    assert made.status_code == 201, made.get_data(as_text=True)
    assert again.status_code == 201 and again.get_data() == made.get_data()
    created = made.get_json()
    subscription = created["subscription"]
    assert created["secret"].startswith("whsec_")
    assert subscription["scope"] == {"kind": "practice", "id": practice.id}
    assert subscription["types"] == ["prescription.issued"]
    listed = client.get(SUBSCRIPTIONS, headers=people["doctor"]).get_json()["items"]
    assert [row["id"] for row in listed] == [subscription["id"]]
    assert "secret" not in json.dumps(listed)

    issue(client, people, products)
    deliver(runner)
    [(sent_headers, sent)] = receiver.got
    assert verified(created["secret"], sent_headers, sent)

    one = f"{SUBSCRIPTIONS}/{subscription['id']}"
    assert client.get(one, headers=people["doctor"]).status_code == 200
    assert client.delete(one, headers=people["doctor"]).status_code == 204
    assert_problem(
        client.delete(one, headers=people["doctor"]), 404, "event_subscription_not_found"
    )
    assert client.get(SUBSCRIPTIONS, headers=people["doctor"]).get_json() == {"items": []}
    assert actions(db_session) == [
        "event_subscription_created",
        "event_subscriptions_listed",
        "event_subscription_removed",
        "event_subscriptions_listed",
    ]


def test_another_organisation_sees_nothing_of_a_subscription(
    client, db_session, people, practice, pharmacist
):
    made = client.post(
        SUBSCRIPTIONS, json={"url": "https://lgo.example/h"}, headers=people["doctor"]
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    one = f"{SUBSCRIPTIONS}/{made.get_json()['subscription']['id']}"

    assert_problem(client.get(one, headers=pharmacist), 404, "event_subscription_not_found")
    assert_problem(client.delete(one, headers=pharmacist), 404, "event_subscription_not_found")
    assert client.get(SUBSCRIPTIONS, headers=pharmacist).get_json() == {"items": []}
    ours = client.post(SUBSCRIPTIONS, json={"url": "https://lgo.example/p"}, headers=pharmacist)
    assert ours.get_json()["subscription"]["scope"]["kind"] == "pharmacy"
    assert len(made.get_json()["subscription"]["types"]) == len(events.TYPES)


def test_a_prescriber_in_no_practice_and_a_bad_body_are_refused_without_a_row(
    client, db_session, people
):
    refused = client.post(
        SUBSCRIPTIONS, json={"url": "https://lgo.example/h"}, headers=people["other_doctor"]
    )
    assert_problem(refused, 403, "no_organisation")
    bad = client.post(
        SUBSCRIPTIONS, json={"url": "ftp://x", "types": ["nope"]}, headers=people["doctor"]
    )
    assert_problem(bad, 422, "validation_failed")
    assert_problem(client.get(SUBSCRIPTIONS, headers=people["patient"]), 403, "permission_denied")
    db_session.expire_all()
    assert db_session.scalars(select(EventSubscription)).all() == []


def test_the_admin_lists_and_replays_dead_letters_through_the_api(
    client, db_session, runner, people, products, receiver
):
    admin = bearer(db_session, add_account(db_session, Role.ADMIN))
    subscribe(runner, receiver.url, events.ISSUED)
    receiver.answers = [503] * events.MAX_ATTEMPTS
    issue(client, people, products)
    for _ in range(events.MAX_ATTEMPTS):
        deliver(runner)
        make_due(db_session)

    dead = client.get("/api/v1/admin/event-deliveries/dead", headers=admin)

    assert dead.status_code == 200, dead.get_data(as_text=True)
    [letter] = dead.get_json()["items"]
    assert (letter["type"], letter["dead"], letter["last_error"]) == (
        "prescription.issued",
        True,
        "HTTP 503",
    )
    assert_problem(
        client.get("/api/v1/admin/event-deliveries/dead", headers=people["doctor"]),
        403,
        "permission_denied",
    )
    replayed = client.post(f"/api/v1/admin/event-deliveries/{letter['id']}/replay", headers=admin)
    assert replayed.status_code == 200 and replayed.get_json()["attempts"] == 0
    assert_problem(
        client.post("/api/v1/admin/event-deliveries/999999/replay", headers=admin),
        404,
        "event_delivery_not_found",
    )
    assert "Delivered 1, failed 0" in deliver(runner)
    assert db_session.scalars(select(EventDelivery.dead)).all() == [False]
    assert actions(db_session, "event_d") == [
        "event_dead_letters_listed",
        "event_delivery_replayed",
    ]


def test_cli_commands_are_audited(db_session, runner):
    subscription, _ = subscribe(runner, "http://127.0.0.1:9/hooks")
    runner.invoke(args=["events", "list"])
    runner.invoke(args=["events", "remove", str(subscription)])
    runner.invoke(args=["events", "dead"])

    assert actions(db_session) == [
        "event_subscription_created",
        "event_subscriptions_listed",
        "event_subscription_removed",
        "event_dead_letters_listed",
    ]


def test_the_scope_is_one_practice_one_pharmacy_or_operator_wide(db_session):
    with pytest.raises(ValueError):
        events.Scope()
    with pytest.raises(ValueError):
        events.Scope(practice_id=1, operator_wide=True)
    with operator(db_session) as uow, pytest.raises(NotFound):
        event_subscriptions.named_scope(uow, pharmacy_finess=UNKNOWN_FINESS)


def test_a_pharmacy_software_subscribes_for_its_pharmacy_with_the_events_scope(client, db_session):
    client_id, secret = oauth.pharmacy_client(db_session, ("dispense", "read", "events"))
    form = {"grant_type": "password", "username": "ph.bernard", "password": PASSWORD}

    def token(scope: str) -> dict:
        answer = client.post(
            "/api/v1/oauth/token",
            data={**form, "scope": scope},
            headers=oauth.basic(client_id, secret),
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return oauth.bearer(answer.get_json()["access_token"])

    made = client.post(
        SUBSCRIPTIONS, json={"url": "https://offi.example/h"}, headers=token("events")
    )

    assert made.status_code == 201, made.get_data(as_text=True)
    pharmacy = db_session.scalar(select(Pharmacy).where(Pharmacy.finess == oauth.PHARMACY_FINESS))
    assert made.get_json()["subscription"]["scope"] == {"kind": "pharmacy", "id": pharmacy.id}
    created = db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "event_subscription_created")
    )
    assert created.software == f"OffiPlus 11 ({client_id})"
    refused = client.get(SUBSCRIPTIONS, headers=token("read"))
    assert_problem(refused, 403, "insufficient_scope")


def test_an_organisation_webhook_goes_to_public_addresses_only(
    app, client, db_session, runner, monkeypatch, people, products, practice, receiver
):
    subscribe(runner, receiver.url, scope=("--practice", str(practice.id)))
    monkeypatch.setitem(app.config, "EVENT_WEBHOOK_PRIVATE_TARGETS", False)
    for url in (
        "http://127.0.0.1:9/h",
        "http://10.1.2.3/h",
        "http://[::1]/h",
        "http://nx.invalid/",
    ):
        refused = client.post(SUBSCRIPTIONS, json={"url": url}, headers=people["doctor"])
        problem = assert_problem(refused, 422, "validation_failed")
        assert "a public address" in problem["errors"]["url"][0], problem
    issue(client, people, products)

    assert "Delivered 0, failed 1" in deliver(runner)  # made while allowed, refused now

    assert receiver.got == []
    delivery = db_session.scalars(select(EventDelivery)).one()
    assert delivery.last_error.startswith("refused: 127.0.0.1 is not a public address")
    operator_wide, _ = subscribe(runner, receiver.url)  # the operator's own choice
    assert operator_wide
