"""Idempotency-Key on both engines: a failed call frees its key at once, answers are sealed at
rest, and `flask idempotency prune` deletes them after a day."""

from datetime import timedelta

from sqlalchemy import select, text, update

from eprescription.models import Dispensation, IdempotencyKey
from eprescription.models.base import utcnow
from tests.integration import test_dispensing_api as dispensing
from tests.integration.test_dispensing_api import count, dispense, item_quantities, pack_line
from tests.integration.test_prescriptions_api import assert_problem, issue

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
