"""Status events on both engines: written with the change, posted by `flask events deliver` to a
real HTTP receiver started here, signed (checked here with hmac), retried, dead, replayed."""

import base64
import hashlib
import hmac
import json
import re
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from eprescription.models import EventDelivery, EventOutboxEntry, Role
from eprescription.models.base import utcnow
from eprescription.services import events
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PEOPLE
from tests.integration.test_dispensing_api import dispense, pack_line
from tests.integration.test_prescriptions_api import PATIENT_NIR, cancel, issue

people = prescribing.people
products = prescribing.products
pharmacist = dispensing.pharmacist
packs = dispensing.packs


class Receiver:
    """A webhook receiver on 127.0.0.1 (random port): answers the next status of `answers`
    (200 once they are used up) and keeps every request it got."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.got: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def subscribe(runner, url: str, *types: str, scope=("--operator-wide",)) -> tuple[int, str]:
    arguments = ["events", "subscribe", url, *scope] + [
        value for name in types for value in ("--types", name)
    ]
    result = runner.invoke(args=arguments)
    assert result.exit_code == 0, result.output
    subscription = int(re.search(r"Subscription (\d+)", result.output).group(1))
    return subscription, re.search(r"(whsec_\S+)", result.output).group(1)


def deliver(runner) -> str:
    result = runner.invoke(args=["events", "deliver", "--once", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    return result.output


def verified(secret: str, headers: dict, body: bytes) -> bool:
    """The Standard Webhooks check, written here from the scheme (docs/events.md), not
    imported: HMAC-SHA256 keyed with the secret's bytes over "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, value.removeprefix("v1,"))
        for value in headers["Webhook-Signature"].split()
    )


def make_due(session) -> None:
    """As if the retry delay had passed: every waiting delivery due now."""
    session.execute(
        update(EventDelivery)
        .where(EventDelivery.delivered_at.is_(None))
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()


def test_an_issued_prescription_reaches_the_subscriber_signed_and_without_the_patient(
    client, runner, people, products, receiver
):
    _, secret = subscribe(runner, receiver.url, events.ISSUED)

    issued = issue(client, people, products)
    output = deliver(runner)

    assert "Delivered 1, failed 0" in output
    [(headers, body)] = receiver.got
    assert verified(secret, headers, body)
    assert not verified("whsec_" + base64.b64encode(b"x" * 24).decode(), headers, body)
    sent = json.loads(body)
    assert sent["type"] == "prescription.issued" and sent["id"] == headers["Webhook-Id"]
    assert sent["data"] == {"prescription": issued["id"], "status": "active"}
    assert abs(int(headers["Webhook-Timestamp"]) - utcnow().timestamp()) < 60
    patient = PEOPLE[Role.PATIENT][1]
    for secret_word in (PATIENT_NIR, patient.given_name, patient.family_name):
        assert secret_word.encode() not in body
    assert "Delivered 0, failed 0" in deliver(runner)  # delivered once, not again


def test_a_500_is_retried_later_and_the_event_id_lets_the_receiver_deduplicate(
    client, db_session, runner, people, products, receiver
):
    subscribe(runner, receiver.url)
    receiver.answers = [500]
    issue(client, people, products)

    assert "Delivered 0, failed 1" in deliver(runner)
    assert "Delivered 0, failed 0" in deliver(runner)  # not due yet: backoff
    row = db_session.scalars(select(EventDelivery)).one()
    assert (row.attempts, row.last_error, row.dead) == (1, "HTTP 500", False)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=5)
    make_due(db_session)

    assert "Delivered 1, failed 0" in deliver(runner)
    first, second = receiver.events()
    assert first["id"] == second["id"] and first == second
    assert "Delivered 0, failed 0" in deliver(runner)


def test_after_too_many_failures_the_delivery_is_dead_and_a_replay_sends_it(
    client, db_session, runner, people, products, receiver
):
    subscribe(runner, receiver.url, events.ISSUED)
    receiver.answers = [503] * events.MAX_ATTEMPTS
    issue(client, people, products)

    for _ in range(events.MAX_ATTEMPTS):
        assert "failed 1" in deliver(runner)
        make_due(db_session)
    assert "Delivered 0, failed 0" in deliver(runner)
    listed = runner.invoke(args=["events", "dead"])
    delivery = db_session.scalars(select(EventDelivery)).one()
    assert delivery.dead and f"{delivery.id}\t" in listed.output and "HTTP 503" in listed.output

    replayed = runner.invoke(args=["events", "replay", str(delivery.id)])

    assert replayed.exit_code == 0, replayed.output
    assert "Delivered 1, failed 0" in deliver(runner)
    assert runner.invoke(args=["events", "dead"]).output == ""
    assert len({event["id"] for event in receiver.events()}) == 1
    assert runner.invoke(args=["events", "replay", "999999"]).exit_code == 1


def test_dispensing_cancelling_and_reversing_each_send_their_event(
    client, db_session, runner, people, products, packs, pharmacist, receiver
):
    subscribe(runner, receiver.url)
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    assert receipt.status_code == 201, receipt.get_data(as_text=True)
    reversal = client.post(
        f"/api/v1/dispensations/{receipt.get_json()['id']}/reversal",
        json={"reason": "erreur de boîte"},
        headers=pharmacist,
    )
    assert reversal.status_code == 200, reversal.get_data(as_text=True)
    cancelled = cancel(client, people, issued)
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)

    deliver(runner)

    sent = [(event["type"], event["data"]) for event in receiver.events()]
    dispensation = receipt.get_json()["id"]
    assert not any(PATIENT_NIR.encode() in body for _, body in receiver.got)
    assert sent == [
        ("prescription.issued", {"prescription": issued["id"], "status": "active"}),
        (
            "prescription.dispensed",
            {
                "prescription": issued["id"],
                "status": "partially_dispensed",
                "dispensation": dispensation,
            },
        ),
        (
            "prescription.dispensation_reversed",
            {"prescription": issued["id"], "status": "active", "dispensation": dispensation},
        ),
        (
            "prescription.cancelled",
            {"prescription": issued["id"], "status": "cancelled", "lines": [1, 2]},
        ),
    ]


def test_a_refused_dispensation_writes_no_event(
    client, db_session, runner, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    refused = dispense(client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 3)])

    assert refused.status_code == 409, refused.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalars(select(EventOutboxEntry.type)).all() == ["prescription.issued"]


def test_renewal_requested_declined_and_renewed_are_events(
    client, db_session, runner, people, products, receiver
):
    subscribe(
        runner, receiver.url, events.RENEWAL_REQUESTED, events.RENEWAL_DECLINED, events.RENEWED
    )
    ending = (date.today() + timedelta(days=20)).isoformat()
    first = issue(client, people, products, renewals=1, valid_until=ending)
    second = issue(client, people, products, renewals=1, valid_until=ending)
    ask = "/api/v1/me/prescriptions/{}/renewal-request"
    made = [
        client.post(ask.format(number), json={}, headers=people["patient"]).get_json()
        for number in (first["id"], second["id"])
    ]
    declined = client.post(
        f"/api/v1/renewal-requests/{made[0]['id']}/decline",
        json={"message": "Please book an appointment first."},
        headers=people["doctor"],
    )
    assert declined.status_code == 200, declined.get_data(as_text=True)
    issue(client, people, products, renewal_request=made[1]["id"])

    deliver(runner)

    sent = [(event["type"], event["data"]["prescription"]) for event in receiver.events()]
    assert sent == [
        ("renewal.requested", first["id"]),
        ("renewal.requested", second["id"]),
        ("renewal.declined", first["id"]),
        ("renewal.renewed", second["id"]),
    ]
    assert all(event["data"]["renewal_request"] for event in receiver.events())


def test_a_subscription_is_checked_listed_and_removed(runner):
    bad = runner.invoke(
        args=["events", "subscribe", "ftp://example.org", "--operator-wide", "--types", "nope"]
    )
    assert bad.exit_code == 1 and "unknown event types: nope" in bad.output
    unscoped = runner.invoke(args=["events", "subscribe", "http://127.0.0.1:9/hooks"])
    assert unscoped.exit_code == 1 and "exactly one of" in unscoped.output

    subscription, _ = subscribe(runner, "http://127.0.0.1:9/hooks", "prescription.issued")

    listed = runner.invoke(args=["events", "list"]).output
    assert listed == (
        f"{subscription}\toperator\twebhook\thttp://127.0.0.1:9/hooks\tprescription.issued\n"
    )
    assert runner.invoke(args=["events", "remove", str(subscription)]).exit_code == 0
    assert runner.invoke(args=["events", "list"]).output == ""
    assert runner.invoke(args=["events", "remove", str(subscription)]).exit_code == 1


def test_the_retry_delay_doubles_from_10_seconds_up_to_an_hour():
    assert [events.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert events.retry_delay(20) == timedelta(hours=1)
