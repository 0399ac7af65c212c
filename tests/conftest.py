"""Fixtures shared by every test: apps on SQLite and PostgreSQL, clients, the real BDPM files."""

import os
from pathlib import Path

import pytest
from sqlalchemy import delete

from eprescription import create_app, migrate, throttling
from eprescription.catalog.importer import import_bdpm
from eprescription.db import get_session
from eprescription.models import Base
from tests.databases import create_database, drop_database, skip_or_fail

ENGINES = ["sqlite", "postgresql"]
# A test of what only a database server has (concurrent writers, roles, connections to drop):
# collected for PostgreSQL alone, where it runs (or skips without a server, outside CI).
postgresql_only = pytest.mark.parametrize("engine_name", ["postgresql"], indirect=True)
REPO_ROOT = Path(__file__).resolve().parents[1]
BDPM_DIR = Path(os.environ.get("BDPM_DIR", REPO_ROOT.parent / "shared" / "data" / "bdpm"))
CATALOG_TABLE_PREFIXES = ("medication_", "catalog_")


def make_test_app(database_url: str, **overrides):
    """An app in the testing environment on `database_url`."""
    config = {
        "ENVIRONMENT": "testing",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def bdpm_dir() -> Path:
    """The real BDPM files shipped in ../shared/data/bdpm."""
    if not (BDPM_DIR / "CIS_bdpm.txt").exists():
        skip_or_fail(f"the BDPM files are not at {BDPM_DIR} (set BDPM_DIR)")
    return BDPM_DIR


@pytest.fixture(scope="session", params=ENGINES)
def engine_name(request) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture(scope="session")
def database_url(engine_name, tmp_path_factory):
    """A database migrated to head, shared by the tests of one engine."""
    url = create_database(engine_name, tmp_path_factory.mktemp(engine_name))
    migrate.upgrade(url)
    yield url
    drop_database(url)


@pytest.fixture
def fresh_database_url(engine_name, tmp_path):
    """An empty database (no schema) of the current engine, dropped afterwards."""
    url = create_database(engine_name, tmp_path)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app(database_url):
    """The app on the shared test database of the current engine."""
    app = make_test_app(database_url)
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def catalog(app, bdpm_dir):
    """The full BDPM imported once per engine into the shared test database: its ImportReport."""
    with app.app_context():
        return import_bdpm(get_session(), bdpm_dir)


@pytest.fixture(scope="module")
def unthrottled(app):
    """For a module that is not about throttles but asks many refusals of one client (the
    access table): the limits are raised out of its way while it runs (test_throttling.py
    tests them at their defaults)."""
    saved = {key: app.config[key] for key in ("THROTTLE_GUESSES", "THROTTLE_TARGET_GUESSES")}
    app.config.update(THROTTLE_GUESSES="100000 per day", THROTTLE_TARGET_GUESSES="100000 per day")
    yield
    app.config.update(saved)
    throttling.reset(app)


@pytest.fixture
def db_session(app):
    """A session inside an app context; every non-catalog row is deleted afterwards."""
    with app.app_context():
        yield get_session()
    _delete_non_catalog_rows(app)


@pytest.fixture
def client(app, db_session):
    """A browser-like client that prefers English (with no preference the pages are in French)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def runner(app):
    yield app.test_cli_runner()
    _delete_non_catalog_rows(app)


def _delete_non_catalog_rows(app) -> None:
    throttling.reset(app)  # the throttles' counts too: each test starts with none
    with app.app_context():
        session = get_session()
        for table in reversed(Base.metadata.sorted_tables):
            if not table.name.startswith(CATALOG_TABLE_PREFIXES):
                session.execute(delete(table))
        session.commit()
