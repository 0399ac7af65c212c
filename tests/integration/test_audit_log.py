"""The audit log: events chained per patient, written in one batch per transaction, without a
global lock; `flask audit verify` names the first event of a chain that was tampered with."""

import threading

import pytest
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.exc import OperationalError

from eprescription.models import AuditChain, AuditEvent
from eprescription.services import audit
from eprescription.services.uow import Settings, UnitOfWork
from tests.conftest import postgresql_only

SETTINGS = Settings(country="FR", key_encryption_key=b"\x01" * 32)
PHARMACIST = audit.Actor(41, "pharmacist", "Pharmacie du Centre (FINESS 750000001)")


def record(session, patient_ids, action="read", actor=PHARMACIST):
    """One use case that reads a prescription of each patient, committed by its unit of work."""
    with UnitOfWork(session, SETTINGS, actor=actor) as uow:
        for patient_id in patient_ids:
            uow.audit(action, "prescription", f"RX{patient_id}", patient_person_id=patient_id)


def chain(session, patient_id):
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_key == f"patient:{patient_id}")
        .order_by(AuditEvent.chain_seq)
    ).all()


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_events_are_chained_per_patient_with_positions_from_one(db_session):
    record(db_session, [1, 2])
    record(db_session, [1])

    first, second = chain(db_session, 1)
    assert (first.chain_seq, second.chain_seq) == (1, 2)
    assert first.previous_hash == audit.GENESIS_HASH
    assert second.previous_hash == first.hash
    assert [e.chain_seq for e in chain(db_session, 2)] == [1]
    head = db_session.get(AuditChain, "patient:1")
    assert (head.last_seq, head.last_hash) == (2, second.hash)


def test_events_about_no_patient_are_chained_per_account(db_session):
    record(db_session, [None, None], action="search")

    events = db_session.scalars(select(AuditEvent).order_by(AuditEvent.chain_seq)).all()
    assert [(e.chain_key, e.chain_seq) for e in events] == [("account:41", 1), ("account:41", 2)]


def test_a_rolled_back_use_case_leaves_no_event_but_a_refusal_survives(db_session):
    with pytest.raises(RuntimeError), UnitOfWork(db_session, SETTINGS, actor=PHARMACIST) as uow:
        uow.audit("read", "prescription", "RX1", patient_person_id=1)
        uow.refuse("scan", "prescription", "RX1", patient_person_id=1, outcome="wrong_code")
        raise RuntimeError("the use case fails")

    events = chain(db_session, 1)
    assert [(e.action, e.outcome) for e in events] == [("scan", "wrong_code")]


def test_a_page_of_one_hundred_events_is_written_in_three_statements_at_most(
    app, db_session, engine_name
):
    statements = []
    engine = app.extensions["db_engine"]

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with UnitOfWork(db_session, SETTINGS, actor=PHARMACIST) as uow:
        for patient_id in range(1, 101):
            uow.audit("list", "prescription", f"RX{patient_id}", patient_person_id=patient_id)
        event.listen(engine, "before_cursor_execute", count)
    event.remove(engine, "before_cursor_execute", count)

    assert len(statements) <= (2 if engine_name == "postgresql" else 3), statements
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.chain_seq == 1).limit(1))
    assert len(db_session.scalars(select(AuditEvent)).all()) == 100


def test_audit_verify_says_intact_for_untouched_chains(db_session, runner):
    record(db_session, [1, 2, 3])
    record(db_session, [1, 2])

    result = verify(runner)

    assert result.exit_code == 0, result.output
    assert "5 events in 3 chains" in result.output


def test_audit_verify_names_an_edited_event(db_session, runner):
    record(db_session, [1])
    record(db_session, [1])
    record(db_session, [1])
    edited = chain(db_session, 1)[1]
    db_session.execute(update(AuditEvent).where(AuditEvent.id == edited.id).values(outcome="ok"))
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert f"event {edited.id} (chain patient:1, position 2)" in result.output
    assert "hash mismatch" in result.output


def test_audit_verify_names_a_deleted_event(db_session, runner):
    for _ in range(3):
        record(db_session, [1])
    db_session.execute(delete(AuditEvent).where(AuditEvent.id == chain(db_session, 1)[1].id))
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert "(chain patient:1, position 2): this event is missing" in result.output


def test_audit_verify_names_an_inserted_event(db_session, runner):
    for _ in range(2):
        record(db_session, [1])
    last = chain(db_session, 1)[-1]
    forged = {name: getattr(last, name) for name in audit.HASHED_FIELDS if name != "previous_hash"}
    forged.update(chain_seq=3, previous_hash=last.hash, outcome="success", action="cancel")
    db_session.add(AuditEvent(**forged, hash=""))
    db_session.flush()
    row = chain(db_session, 1)[-1]
    row.hash = __import__("hashlib").sha256(audit.canonical_event(forged)).hexdigest()
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert "chain patient:1" in result.output
    assert "head names position 2, but the chain ends at 3" in result.output


def test_audit_verify_names_reordered_events(db_session, runner):
    for _ in range(3):
        record(db_session, [1])
    first, second, _third = chain(db_session, 1)
    # Swap positions 1 and 2 (through a free value: the pair is unique).
    db_session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(chain_seq=99))
    db_session.execute(update(AuditEvent).where(AuditEvent.id == second.id).values(chain_seq=1))
    db_session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(chain_seq=2))
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert f"event {second.id} (chain patient:1, position 1)" in result.output


def test_audit_verify_names_a_chain_cut_off_at_the_end(db_session, runner):
    for _ in range(3):
        record(db_session, [1])
    db_session.execute(delete(AuditEvent).where(AuditEvent.id == chain(db_session, 1)[-1].id))
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert "head names position 3, but the chain ends at 2" in result.output


def test_audit_verify_names_a_forged_or_deleted_head(db_session, runner):
    record(db_session, [1])
    record(db_session, [2])
    db_session.execute(
        update(AuditChain).where(AuditChain.chain_key == "patient:1").values(last_hash="f" * 64)
    )
    db_session.execute(delete(AuditChain).where(AuditChain.chain_key == "patient:2"))
    db_session.commit()

    result = verify(runner)

    assert result.exit_code == 1
    assert "(chain patient:1, position 2): the chain's head names position 1" in result.output
    assert "(chain patient:2, position 1): the chain has no head" in result.output


@postgresql_only  # SQLite has one writer at a time: the parallel case is PostgreSQL's
def test_different_patients_are_audited_in_parallel_and_one_patient_in_turn(app, db_session):
    sessions = app.extensions["db_sessionmaker"]
    holder = sessions()
    holder_uow = UnitOfWork(holder, SETTINGS, actor=PHARMACIST)
    holder_uow.audit("read", "prescription", "RX1", patient_person_id=1)
    audit.write(holder, audit.pending(holder))  # patient 1's head is now locked, uncommitted
    audit.discard_pending(holder)
    try:
        other = sessions()
        record(other, [2])  # another patient: commits while the first transaction is open
        other.close()

        same = sessions()
        same.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            record(same, [1])  # the same patient waits for the first transaction
        same.close()
    finally:
        holder.commit()
        holder.close()

    record(db_session, [1])
    assert [e.chain_seq for e in chain(db_session, 1)] == [1, 2]
    assert [e.chain_seq for e in chain(db_session, 2)] == [1]


def test_concurrent_use_cases_on_one_patient_never_fork_its_chain(app, db_session):
    sessions = app.extensions["db_sessionmaker"]
    errors = []

    def worker():
        session = sessions()
        try:
            for _ in range(5):
                record(session, [7, 8])
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert [e.chain_seq for e in chain(db_session, 7)] == list(range(1, 21))
    assert [e.previous_hash for e in chain(db_session, 7)[1:]] == [
        e.hash for e in chain(db_session, 7)[:-1]
    ]
