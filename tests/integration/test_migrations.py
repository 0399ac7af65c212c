"""The Alembic revisions build the schema the models describe, on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from eprescription import migrate
from eprescription.db import make_engine
from eprescription.models import Base


def test_upgrade_head_on_an_empty_database_creates_every_table(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    engine = make_engine(fresh_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    head = ScriptDirectory.from_config(
        migrate.alembic_config(fresh_database_url)
    ).get_current_head()
    assert migrate.current(fresh_database_url) == head


def test_the_migrated_schema_matches_the_models(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrading_twice_changes_nothing(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    migrate.upgrade(fresh_database_url)

    assert migrate.current(fresh_database_url) is not None
