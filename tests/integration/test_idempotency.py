"""Idempotency-Key on both engines: issuing, cancelling, asking for a renewal and declining one
replay their first answer byte for byte (dispensing: test_dispensing_api.py), a failed call
frees its key at once, answers are sealed at rest, and `flask idempotency prune` deletes them
after a day."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select, text, update

from eprescription.models import (
    AuditEvent,
    Dispensation,
    IdempotencyKey,
    Prescription,
    PrescriptionCancellation,
    RenewalRequest,
)
from eprescription.models.base import utcnow
from eprescription.services import accounts
from eprescription.services.idempotency import request_hash
from tests.conftest import postgresql_only
from tests.integration import test_dispensing_api as dispensing
from tests.integration.people import operator
from tests.integration.test_dispensing_api import count, dispense, item_quantities, pack_line
from tests.integration.test_prescriptions_api import PIN, assert_problem, body, issue
from tests.integration.test_renewal_requests import asked, running_out

# The dispensing side's fixtures: a prescriber, patients, real packs, a pharmacist's token.
people = dispensing.people
products = dispensing.products
packs = dispensing.packs
pharmacist = dispensing.pharmacist

TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER fail_dispensation BEFORE INSERT ON dispensations "
        "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fail_dispensation() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$",
        "CREATE TRIGGER fail_dispensation BEFORE INSERT ON dispensations "
        "FOR EACH ROW EXECUTE FUNCTION fail_dispensation()",
    ],
}
UNTRIGGER = {
    "sqlite": ["DROP TRIGGER fail_dispensation"],
    "postgresql": [
        "DROP TRIGGER fail_dispensation ON dispensations",
        "DROP FUNCTION fail_dispensation()",
    ],
}


def _run(session, statements) -> None:
    for statement in statements:
        session.execute(text(statement))
    session.commit()


def test_a_call_that_fails_after_claiming_its_key_can_be_retried_at_once(
    client, db_session, engine_name, people, products, packs, pharmacist
):
    """The database refuses the dispensation's row (a real error, after the claim): the 500
    rolls the claim back with it, and the same request with the same key then succeeds."""
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"])]
    key = {"Idempotency-Key": "fails-then-retried"}
    _run(db_session, TRIGGER[engine_name])
    try:
        failed = dispense(client, pharmacist, issued, lines, extra_headers=key)
    finally:
        _run(db_session, UNTRIGGER[engine_name])

    retried = dispense(client, pharmacist, issued, lines, extra_headers=key)
    again = dispense(client, pharmacist, issued, lines, extra_headers=key)

    assert_problem(failed, 500, "internal_error")
    assert retried.status_code == 201, retried.get_json()
    assert again.status_code == 201 and again.data == retried.data
    assert count(db_session, Dispensation) == 1
    assert item_quantities(db_session, issued) == [1, 0]


def test_the_stored_answer_is_sealed_and_still_replayed_byte_for_byte(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    key = {"Idempotency-Key": "sealed-1"}
    collector = {"kind": "other", "name": "Jeanne Voisine"}
    lines = [pack_line(1, packs["doliprane"])]

    first = dispense(client, pharmacist, issued, lines, extra_headers=key, collected_by=collector)
    again = dispense(client, pharmacist, issued, lines, extra_headers=key, collected_by=collector)

    stored = db_session.scalars(select(IdempotencyKey.response_body)).one()
    assert first.status_code == again.status_code == 201, first.get_json()
    assert again.data == first.data
    assert b"Jeanne Voisine" in first.data
    for clear in (b"Jeanne Voisine", issued["id"].encode(), first.get_json()["id"].encode()):
        assert clear not in stored
    assert not stored.startswith(b"{")


def test_prune_deletes_answers_older_than_a_day_and_keeps_the_others(
    client, db_session, runner, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    old = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(1, packs["doliprane"])],
        extra_headers={"Idempotency-Key": "old"},
    )
    recent = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(2, packs["amoxicilline"])],
        extra_headers={"Idempotency-Key": "recent"},
    )
    assert old.status_code == recent.status_code == 201
    db_session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "old")
        .values(created_at=utcnow() - timedelta(hours=24, minutes=1))
    )
    db_session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "recent")
        .values(created_at=utcnow() - timedelta(hours=23, minutes=59))
    )
    db_session.commit()

    result = runner.invoke(args=["idempotency", "prune"])

    assert result.exit_code == 0, result.output
    assert "Pruned 1 " in result.output
    db_session.expire_all()
    assert list(db_session.scalars(select(IdempotencyKey.key))) == ["recent"]


# -- the other retryable calls ----------------------------------------------------------------


@dataclass
class Call:
    """One retryable call ready to be made: where, as whom, a body, another body, its answer's
    status, and what it writes (a count that one call moves by one)."""

    url: str
    headers: dict
    body: dict
    other_body: dict
    status: int
    writes: Callable[[], int]


def _rows(session, model, *where) -> Callable[[], int]:
    def counted() -> int:
        session.expire_all()
        return session.scalar(select(func.count()).select_from(model).where(*where))

    return counted


def issuing(client, session, people, products) -> Call:
    return Call(
        "/api/v1/prescriptions",
        people["doctor"],
        body(products),
        body(products, renewals=1),
        201,
        _rows(session, Prescription),
    )


def cancelling(client, session, people, products) -> Call:
    issued = issue(client, people, products)
    return Call(
        f"/api/v1/prescriptions/{issued['id']}/cancel",
        people["doctor"],
        {"pin": PIN, "reason": "allergy discovered"},
        {"pin": PIN, "reason": "allergy discovered", "lines": [2]},
        200,
        _rows(session, PrescriptionCancellation),
    )


def asking(client, session, people, products) -> Call:
    issued = running_out(client, people, products)
    return Call(
        f"/api/v1/me/prescriptions/{issued['id']}/renewal-request",
        people["patient"],
        {"message": "My treatment runs out in three weeks."},
        {"message": "Please renew it."},
        201,
        _rows(session, RenewalRequest),
    )


def declining(client, session, people, products) -> Call:
    made = asked(client, people, running_out(client, people, products)["id"])
    return Call(
        f"/api/v1/renewal-requests/{made['id']}/decline",
        people["doctor"],
        {"message": "Please book an appointment first."},
        {"message": "No."},
        200,
        _rows(session, AuditEvent, AuditEvent.action == "decline_renewal"),
    )


CALLS = [issuing, cancelling, asking, declining]


def without_pin(body: dict) -> dict:
    return {name: value for name, value in body.items() if name != "pin"}


@pytest.mark.parametrize("make", CALLS, ids=lambda make: make.__name__)
def test_a_retry_with_the_same_key_gets_the_first_answer_byte_for_byte_and_writes_nothing(
    client, db_session, people, products, make
):
    call = make(client, db_session, people, products)
    before = call.writes()
    headers = {**call.headers, "Idempotency-Key": f"{make.__name__}-retry-1"}

    first = client.post(call.url, json=call.body, headers=headers)
    # The same body in another order and spacing is the same request.
    respaced = json.dumps(dict(reversed(call.body.items())), indent=2)
    again = client.post(call.url, data=respaced, content_type="application/json", headers=headers)

    assert first.status_code == call.status, first.get_data(as_text=True)
    assert again.status_code == call.status
    assert again.data == first.data
    assert again.mimetype == "application/json"
    assert call.writes() == before + 1
    stored = db_session.scalars(select(IdempotencyKey.response_body)).one()
    assert not stored.startswith(b"{")


@pytest.mark.parametrize("make", CALLS, ids=lambda make: make.__name__)
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    client, db_session, people, products, make
):
    call = make(client, db_session, people, products)
    headers = {**call.headers, "Idempotency-Key": f"{make.__name__}-reused"}
    first = client.post(call.url, json=call.body, headers=headers)
    after_first = call.writes()

    other = client.post(call.url, json=call.other_body, headers=headers)

    assert first.status_code == call.status, first.get_data(as_text=True)
    assert_problem(other, 422, "idempotency_key_reused")
    assert call.writes() == after_first


@pytest.mark.parametrize("make", CALLS, ids=lambda make: make.__name__)
def test_without_a_key_the_call_answers_as_before_and_stores_no_answer(
    client, db_session, people, products, make
):
    call = make(client, db_session, people, products)
    before = call.writes()

    answered = client.post(call.url, json=call.body, headers=call.headers)

    assert answered.status_code == call.status, answered.get_data(as_text=True)
    assert answered.mimetype == "application/json"
    assert call.writes() == before + 1
    assert count(db_session, IdempotencyKey) == 0


@pytest.mark.parametrize("make", CALLS, ids=lambda make: make.__name__)
def test_a_bad_key_is_refused_before_anything_is_done(client, db_session, people, products, make):
    call = make(client, db_session, people, products)
    before = call.writes()

    refused = client.post(
        call.url, json=call.body, headers={**call.headers, "Idempotency-Key": "k" * 129}
    )

    problem = assert_problem(refused, 422, "validation_failed")
    assert "Idempotency-Key" in problem["errors"]
    assert call.writes() == before


# PostgreSQL only: SQLite locks the whole database for one writer, so no call can hold a key
# while another runs (test_32_retries_of_one_idempotency_key_at_once_… in test_dispensing_api
# covers SQLite's racing retries).
@postgresql_only
@pytest.mark.parametrize("outcome", ["rolled_back", "answered"])
@pytest.mark.parametrize("make", CALLS, ids=lambda make: make.__name__)
def test_a_call_whose_key_is_in_flight_waits_for_it_then_runs_or_replays(
    app, client, db_session, database_url, people, products, make, outcome
):
    """Another transaction holds the key's claim, uncommitted (a first call still running, on
    PostgreSQL, where rows lock one by one): the retry waits on the key, then runs when that
    call rolls back, or replays its answer when it commits one; it never does the work twice."""
    call = make(client, db_session, people, products)
    before = call.writes()
    key = f"{make.__name__}-in-flight"
    with operator(db_session) as uow:
        account_id = accounts.account_for_token(uow, call.headers["Authorization"][7:]).id
    held_engine = create_engine(database_url)
    held = held_engine.connect()
    answers: list = []

    def retry():
        with app.test_client() as own:
            headers = {**call.headers, "Idempotency-Key": key}
            answers.append(own.post(call.url, json=call.body, headers=headers))

    waiting = threading.Thread(target=retry)
    try:
        held.execute(
            insert(IdempotencyKey).values(
                account_id=account_id,
                scope=f"POST {call.url}",
                key=key,
                request_hash=request_hash(json.dumps(without_pin(call.body)).encode()),
                created_at=utcnow(),
            )
        )
        waiting.start()
        waiting.join(timeout=1.5)
        assert waiting.is_alive(), "the retry should wait for the call holding its key"
        if outcome == "answered":
            held.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == key)
                .values(response_status=call.status, response_body=b'{"first": "answer"}')
            )
            held.commit()
        else:
            held.rollback()
        waiting.join(timeout=30)
    finally:
        held.close()
        held_engine.dispose()
        waiting.join(timeout=30)

    (answer,) = answers
    assert answer.status_code == call.status, answer.get_data(as_text=True)
    if outcome == "answered":
        assert answer.data == b'{"first": "answer"}'
        assert call.writes() == before
    else:
        assert call.writes() == before + 1


@pytest.mark.parametrize("make", [issuing, cancelling], ids=lambda make: make.__name__)
def test_the_signing_pin_is_not_kept_even_hashed_so_a_retry_replays_whatever_pin_it_sends(
    client, db_session, people, products, make
):
    call = make(client, db_session, people, products)
    headers = {**call.headers, "Idempotency-Key": f"{make.__name__}-pin"}
    first = client.post(call.url, json=call.body, headers=headers)
    after_first = call.writes()

    again = client.post(call.url, json={**call.body, "pin": "0000"}, headers=headers)

    assert first.status_code == again.status_code == call.status, first.get_data(as_text=True)
    assert again.data == first.data
    assert call.writes() == after_first
    stored = db_session.scalars(select(IdempotencyKey.request_hash)).one()
    assert stored == request_hash(json.dumps(without_pin(call.body)).encode())
    assert stored != request_hash(json.dumps(call.body).encode())
