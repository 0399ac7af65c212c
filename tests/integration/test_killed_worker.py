"""A gunicorn worker killed in the middle of a dispensation (SIGKILL, real gunicorn on
loopback, both engines): the database ends its transaction, and the same request with the same
Idempotency-Key succeeds at once."""

import os
import signal
import sqlite3
import threading
import time

from sqlalchemy import text
from sqlalchemy.engine import make_url

from eprescription.models import Dispensation
from tests.gunicorn_server import gunicorn
from tests.integration import test_dispensing_api as dispensing
from tests.integration.test_dispensing_api import count, dispensations_url, pack_line
from tests.integration.test_prescriptions_api import issue

people = dispensing.people
products = dispensing.products
packs = dispensing.packs
pharmacist = dispensing.pharmacist

# Each makes the dispensation's INSERT slow (after the key's claim, inside its transaction), so
# the test can kill the worker while that transaction is open.
SLOW = {
    "sqlite": [
        "CREATE TRIGGER slow_dispensation BEFORE INSERT ON dispensations BEGIN "
        "SELECT count(*) FROM medication_presentations, "
        "(SELECT 1 FROM medication_presentations LIMIT 2000); END"
    ],
    "postgresql": [
        "CREATE FUNCTION slow_dispensation() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$",
        "CREATE TRIGGER slow_dispensation BEFORE INSERT ON dispensations "
        "FOR EACH ROW EXECUTE FUNCTION slow_dispensation()",
    ],
}
FAST = {
    "sqlite": ["DROP TRIGGER slow_dispensation"],
    "postgresql": [
        "DROP TRIGGER slow_dispensation ON dispensations",
        "DROP FUNCTION slow_dispensation()",
    ],
}


def _run(session, statements) -> None:
    for statement in statements:
        session.execute(text(statement))
    session.commit()


def _transaction_open(engine_name: str, database_url: str, session) -> bool:
    """Whether a dispensation's transaction is running now: on SQLite someone holds the write
    lock, on PostgreSQL a backend sleeps in the trigger."""
    if engine_name == "sqlite":
        probe = sqlite3.connect(make_url(database_url).database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:  # database is locked
            return True
        finally:
            probe.close()
    sleeping = session.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event = 'PgSleep'"
        )
    )
    session.rollback()
    return sleeping > 0


def test_a_worker_killed_mid_dispensation_leaves_the_key_free_for_an_immediate_retry(
    client, db_session, engine_name, database_url, tmp_path, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    body = {
        "code": issued["qr_text"],
        "lines": [pack_line(1, packs["doliprane"])],
        "collected_by": {"kind": "patient"},
    }
    headers = {**pharmacist, "Idempotency-Key": "killed-mid-request"}
    url = dispensations_url(issued)
    with gunicorn(tmp_path, database_url) as server:
        _run(db_session, SLOW[engine_name])
        outcome: dict = {}

        def first_call():
            try:
                outcome["answer"] = server.call("POST", url, body, headers)
            except OSError as error:  # the connection dropped with the worker
                outcome["dropped"] = error

        caller = threading.Thread(target=first_call)
        caller.start()
        deadline = time.monotonic() + 30
        while not _transaction_open(engine_name, database_url, db_session):
            assert time.monotonic() < deadline, "the dispensation never started"
            assert caller.is_alive(), outcome
            time.sleep(0.005)
        killed = server.worker_pid()
        os.kill(killed, signal.SIGKILL)
        caller.join(30)
        _run(db_session, FAST[engine_name])  # on PostgreSQL: once the dead transaction ended
        dispensed_before_retry = count(db_session, Dispensation)
        server.wait_ready(after_pid=killed)
        started = time.monotonic()
        retried = server.call("POST", url, body, headers)
        seconds = time.monotonic() - started
        again = server.call("POST", url, body, headers)

    assert "dropped" in outcome, outcome
    assert dispensed_before_retry == 0
    assert retried[0] == 201, retried
    assert seconds < 5
    assert again == retried
    assert count(db_session, Dispensation) == 1
