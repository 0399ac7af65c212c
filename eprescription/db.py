"""The database engine and session factory of each app; one session per app context."""

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL")
RECYCLE_SECONDS = 1800
PREPARE_THRESHOLD = 5  # executions on a connection before psycopg prepares a statement


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite runs with WAL, foreign keys on and a busy timeout."""
    # hide_parameters: an error message must never carry a NIR or an access code hash.
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    # Server-side prepared statements (psycopg prepares a statement at its 5th execution on a
    # connection): parsed and, where PostgreSQL finds a generic plan as good, planned once per
    # connection rather than at every request: planning was most of the server's time of
    # every request (bench/README.md, "Prepared statements"). No ping at each
    # checkout (a round trip per request): a connection the server dropped fails the one
    # request that meets it (503 database_unavailable, errors.py), and that error empties the
    # pool, so the next ones connect anew; a connection is not kept longer than RECYCLE_SECONDS
    # (a firewall's idle timeout).
    return create_engine(
        url,
        pool_recycle=RECYCLE_SECONDS,
        hide_parameters=True,
        connect_args={"prepare_threshold": PREPARE_THRESHOLD},
    )


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to `app`, and close sessions after each request."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    """The engine of the current app."""
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The session of the current app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
