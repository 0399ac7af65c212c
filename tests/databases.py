"""Throw-away test databases on SQLite and PostgreSQL."""

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI") == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop that lacks a service; fail in CI, where everything must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return None
    except Exception as error:  # any failure to connect means "not available"
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error.__class__.__name__}"
    finally:
        engine.dispose()


def create_database(engine_name: str, directory: Path) -> str:
    """Create an empty database and return its URL."""
    name = f"eprescription_test_{uuid.uuid4().hex[:12]}"
    if engine_name == "sqlite":
        return f"sqlite:///{directory / (name + '.sqlite3')}"
    problem = postgres_available()
    if problem:
        skip_or_fail(problem)
    _run_as_admin(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database made by create_database (SQLite files go with tmp_path)."""
    if not url.startswith("postgresql"):
        return
    _run_as_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _run_as_admin(statement: str) -> None:
    """Run a statement outside a transaction (CREATE/DROP DATABASE need that)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()
