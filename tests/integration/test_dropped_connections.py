"""Without a ping at each checkout (eprescription/db.py), a connection the server dropped fails
the one use that meets it (a call answers 503 database_unavailable), and the next ones get new
connections."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eprescription.db import make_engine
from tests.conftest import make_test_app, postgresql_only

pytestmark = postgresql_only  # SQLite has no server to drop a connection


def test_a_dropped_connection_fails_once_then_the_pool_connects_anew(database_url):
    engine, other = make_engine(database_url), make_engine(database_url)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with engine.connect() as connection:  # the same connection, back from the pool
            assert connection.scalar(text("SELECT pg_backend_pid()")) == first
        with other.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})

        with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()
        other.dispose()


def test_the_call_that_meets_a_dropped_connection_answers_503_and_the_next_one_works(
    database_url,
):
    app = make_test_app(database_url)
    engine, other = app.extensions["db_engine"], make_engine(database_url)
    client = app.test_client()
    try:
        before = client.get("/api/v1/audit/checkpoint")
        assert before.status_code < 500
        with engine.connect() as connection:  # the pooled connection the call used
            pid = connection.scalar(text("SELECT pg_backend_pid()"))
        with other.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        lost = client.get("/api/v1/audit/checkpoint")
        assert lost.status_code == 503
        assert lost.get_json()["code"] == "database_unavailable"
        assert lost.headers["Retry-After"] == "1"
        again = client.get("/api/v1/audit/checkpoint")
        assert again.status_code == before.status_code
    finally:
        engine.dispose()
        other.dispose()
