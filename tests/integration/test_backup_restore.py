"""`flask backup` / `flask restore` on both engines: back up, destroy, restore; every row
committed before the backup is back, every signature verifies, the audit proofs verify."""

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from eprescription import migrate
from eprescription.db import get_session
from eprescription.models import Base, Dispensation, Prescription, Role
from eprescription.services import accounts
from eprescription.services.verification import verify_document
from tests.conftest import make_test_app
from tests.databases import POSTGRES_ADMIN_URL
from tests.integration.people import PASSWORD, operator


@pytest.fixture
def app(fresh_database_url):
    """An app on a database of its own (this test destroys it)."""
    migrate.upgrade(fresh_database_url)
    app = make_test_app(fresh_database_url)
    yield app
    app.extensions["db_engine"].dispose()


def snapshot(app) -> dict[str, list]:
    """Every row of every table (and the schema revision), sorted."""
    with app.app_context():
        session = get_session()
        rows = {
            table.name: sorted(map(repr, session.execute(select(table)).all()))
            for table in Base.metadata.sorted_tables
        }
        rows["alembic_version"] = list(
            session.scalars(text("SELECT version_num FROM alembic_version"))
        )
        session.rollback()
    return rows


def destroy(app, database_url: str) -> None:
    """Lose the database: the SQLite file deleted, the PostgreSQL database dropped and made
    again empty."""
    app.extensions["db_engine"].dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def add_account_after_the_backup(app) -> None:
    with app.app_context(), operator(get_session()) as uow:
        accounts.create_account(uow, username="late", password=PASSWORD, role=Role.ADMIN)


def test_back_up_destroy_restore_then_every_signature_and_audit_proof_verifies(
    app, fresh_database_url, tmp_path
):
    runner = app.test_cli_runner()
    for command in (["demo", "seed"], ["audit", "seal"]):
        done = runner.invoke(args=command)
        assert done.exit_code == 0, done.output
    before = snapshot(app)
    assert before["prescriptions"] and before["audit_events"]
    backup_file = tmp_path / "eprescription.backup"

    backed_up = runner.invoke(args=["backup", str(backup_file)])
    add_account_after_the_backup(app)
    destroy(app, fresh_database_url)
    restored = runner.invoke(args=["restore", "--yes", str(backup_file)])
    verified = runner.invoke(args=["audit", "verify"])

    assert backed_up.exit_code == 0, backed_up.output
    assert restored.exit_code == 0, restored.output
    assert snapshot(app) == before  # all of it, and not what came after the backup
    assert verified.exit_code == 0, verified.output
    assert "Audit log intact" in verified.output
    with app.app_context():
        session = get_session()
        with operator(session) as uow:
            documents = [(p.jws, p.payload) for p in session.scalars(select(Prescription))]
            documents += [(d.jws, d.payload) for d in session.scalars(select(Dispensation))]
            reports = [verify_document(uow, jws, payload) for jws, payload in documents]
    assert reports and all(report.valid for report in reports), reports


def test_restore_refuses_a_file_that_is_no_backup_and_changes_nothing(app, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    before = snapshot(app)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")

    refused = runner.invoke(args=["restore", "--yes", str(junk)])
    missing = runner.invoke(args=["restore", "--yes", str(tmp_path / "none")])

    assert refused.exit_code == 1 and "is not" in refused.output
    assert missing.exit_code == 1 and "no such file" in missing.output
    assert snapshot(app) == before
