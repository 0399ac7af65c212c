"""The sealed audit log: signed tree heads, inclusion and consistency proofs checked by the
independent script (tools/verify_audit_proof.py), `audit verify` catching a rewritten history,
a witness catching a fork, and the append-only role on PostgreSQL."""

import hashlib
import importlib.util
import json
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import ProgrammingError
from werkzeug.serving import make_server

from eprescription.models import AuditChain, AuditCheckpoint, AuditEvent
from eprescription.services import audit, audit_seal
from eprescription.services.uow import Settings, UnitOfWork
from eprescription.use_cases import unit_of_work
from tests.conftest import postgresql_only

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_proof.py"
SETTINGS = Settings(country="FR", key_encryption_key=b"\x01" * 32)
READER = audit.Actor(41, "pharmacist", "Pharmacie du Centre (FINESS 750000001)")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("verify_audit_proof", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sealer(app, runner, db_session):
    """A development CA (the service key is certified by it) and a way to seal now."""
    assert runner.invoke(args=["pki", "init"]).exit_code == 0

    def seal():
        result = runner.invoke(args=["audit", "seal"])
        assert result.exit_code == 0, result.output
        return result.output

    return seal


def record(session, patient_ids):
    with UnitOfWork(session, SETTINGS, actor=READER) as uow:
        for patient_id in patient_ids:
            uow.audit("read", "prescription", f"RX{patient_id}", patient_person_id=patient_id)


def ca_pem(client) -> bytes:
    trust = client.get("/api/v1/trust/certificates").get_json()
    return trust["authorities"][0]["pem"].encode()


def test_nothing_is_signed_before_the_first_seal(client):
    response = client.get("/api/v1/audit/checkpoint")

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_the_signed_head_verifies_with_the_independent_script(client, db_session, sealer, script):
    record(db_session, [1, 2, 3])
    assert "Sealed 3 events: the log holds 3" in sealer()

    head = client.get("/api/v1/audit/checkpoint").get_json()

    assert head["tree_size"] == 3
    checked = script.verify_signed_head(head, ca_pem=ca_pem(client))
    assert checked.tree_size == 3
    changed = {**head, "root_hash": head["root_hash"][::-1]}
    with pytest.raises(script.VerificationError):
        script.verify_signed_head(changed, ca_pem=ca_pem(client))
    assert client.get("/api/v1/audit/checkpoints/3").get_json() == head


def test_a_second_seal_is_consistent_with_the_first_by_the_scripts_check(
    client, db_session, sealer, script
):
    record(db_session, [1, 2, 3])
    sealer()
    record(db_session, [4, 1])
    sealer()
    old = client.get("/api/v1/audit/checkpoints/3").get_json()
    new = client.get("/api/v1/audit/checkpoints/5").get_json()

    answer = client.get("/api/v1/audit/consistency?from=3&to=5").get_json()

    proof = [__import__("base64").b64decode(h) for h in answer["proof"]]
    old_root = __import__("base64").b64decode(old["root_hash"])
    new_root = __import__("base64").b64decode(new["root_hash"])
    assert script.verify_consistency(3, 5, old_root, new_root, proof)
    assert not script.verify_consistency(3, 5, new_root, new_root, proof)
    assert client.get("/api/v1/audit/consistency?from=5&to=9").status_code == 422


def test_each_sealed_event_has_an_inclusion_proof_the_script_accepts(
    app, client, db_session, sealer, script
):
    record(db_session, [1, 2, 3, 4, 5])
    sealer()
    events = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    with app.app_context(), unit_of_work() as uow:
        proofs = audit_seal.inclusions(uow, events)
    head = client.get("/api/v1/audit/checkpoints/5").get_json()
    root = __import__("base64").b64decode(head["root_hash"])

    assert sorted(p.leaf_index for p in proofs.values()) == [0, 1, 2, 3, 4]
    for proof in proofs.values():
        leaf = script.leaf_hash(proof.leaf_data)
        assert script.verify_inclusion(leaf, proof.leaf_index, 5, proof.hashes, root)
        assert not script.verify_inclusion(
            script.leaf_hash(proof.leaf_data + b" "), proof.leaf_index, 5, proof.hashes, root
        )


def test_audit_verify_checks_the_sealed_log(db_session, runner, sealer):
    record(db_session, [1, 2])
    sealer()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert "2 sealed, 1 signed heads match" in result.output


def _rewrite_chain(session, patient_id, change):
    """An insider with write access and no key: edit an event, recompute every hash after it
    in its chain and move the head, so that the chain alone looks intact."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_key == f"patient:{patient_id}")
        .order_by(AuditEvent.chain_seq)
    ).all()
    previous = audit.GENESIS_HASH
    for index, event in enumerate(events):
        if index == 0:
            change(event)
        event.previous_hash = previous
        fields = {name: getattr(event, name) for name in audit.HASHED_FIELDS}
        event.hash = hashlib.sha256(audit.canonical_event(fields)).hexdigest()
        previous = event.hash
    session.execute(
        update(AuditChain)
        .where(AuditChain.chain_key == f"patient:{patient_id}")
        .values(last_hash=previous)
    )
    session.commit()


def test_a_rewritten_chain_passes_the_chain_check_but_not_the_sealed_log(
    db_session, runner, sealer
):
    record(db_session, [1, 1, 1])
    sealer()
    first = db_session.scalar(select(AuditEvent).order_by(AuditEvent.id).limit(1))

    _rewrite_chain(db_session, 1, lambda event: setattr(event, "actor_role", "prescriber"))
    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "broken at" not in result.output  # the chain itself was rebuilt consistently
    assert f"leaf 0: event {first.id} was changed after it was sealed" in result.output


def test_events_cut_off_the_end_and_the_head_moved_back_are_caught(db_session, runner, sealer):
    record(db_session, [1, 1, 1])
    sealer()
    last = db_session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    db_session.execute(delete(AuditEvent).where(AuditEvent.id == last.id))
    db_session.execute(update(AuditChain).values(last_seq=2, last_hash=last.previous_hash))
    db_session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"leaf 2: event {last.id} was deleted" in result.output


def test_a_forged_signed_head_is_caught(db_session, runner, sealer):
    record(db_session, [1, 2])
    sealer()
    db_session.execute(update(AuditCheckpoint).values(root_hash="ab" * 32))
    db_session.commit()

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "the signed head of size 2 does not match the events" in result.output


@pytest.fixture
def served(app):
    """The app served over HTTP on a loopback port, for the witness."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def test_a_witness_accepts_a_growing_log_and_catches_a_fork(
    db_session, runner, sealer, served, tmp_path
):
    state = tmp_path / "witness.json"
    witness = ["audit", "witness", served, "--state", str(state)]
    record(db_session, [1, 2, 3])
    sealer()

    first = runner.invoke(args=witness)
    assert first.exit_code == 0, first.output
    assert "First head seen: size 3" in first.output
    record(db_session, [2])
    sealer()
    grown = runner.invoke(args=witness)
    assert grown.exit_code == 0, grown.output
    assert "size 4 extends the one of size 3" in grown.output

    # An insider with the database and the service key rewrites history and signs it anew.
    for table in ("audit_checkpoints", "audit_tree_nodes", "audit_log_entries"):
        db_session.execute(text(f"DELETE FROM {table}"))
    db_session.execute(delete(AuditEvent).where(AuditEvent.chain_key == "patient:1"))
    db_session.commit()
    record(db_session, [5, 6])
    sealer()
    forked = runner.invoke(args=witness)

    assert forked.exit_code == 1
    assert "FORK" in forked.output
    assert json.loads(state.read_text())["tree_size"] == 4  # the head it trusts is kept


@postgresql_only  # roles and grants are PostgreSQL's; a SQLite file has no roles
def test_the_application_role_cannot_update_or_delete_audit_rows(app, db_session, runner):
    role = f"eprescription_app_{uuid.uuid4().hex[:8]}"
    db_session.execute(text(f'CREATE ROLE "{role}"'))
    db_session.execute(
        text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
    )
    db_session.commit()
    record(db_session, [1])
    try:
        result = runner.invoke(args=["audit", "protect", role])
        assert result.exit_code == 0, result.output

        db_session.execute(text(f'SET LOCAL ROLE "{role}"'))
        assert db_session.scalar(text("SELECT count(*) FROM audit_events")) == 1
        with pytest.raises(ProgrammingError, match="permission denied"):
            db_session.execute(text("UPDATE audit_events SET outcome = 'success'"))
        db_session.rollback()
        db_session.execute(text(f'SET LOCAL ROLE "{role}"'))
        with pytest.raises(ProgrammingError, match="permission denied"):
            db_session.execute(text("DELETE FROM audit_events"))
        db_session.rollback()
        db_session.execute(text(f'SET LOCAL ROLE "{role}"'))
        record(db_session, [2])  # inserting, as every use case does, still works
    finally:
        db_session.rollback()
        db_session.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"'))
        db_session.execute(text(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{role}"'))
        db_session.execute(text(f'DROP ROLE "{role}"'))
        db_session.commit()
