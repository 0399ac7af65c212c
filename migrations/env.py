"""Alembic environment: runs revisions against the URL given by eprescription.migrate."""

from alembic import context

from eprescription.db import make_engine
from eprescription.models import Base
from eprescription.models.base import UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, item, autogen_context):
    """Render app-only column types as plain SQLAlchemy types: revisions never import the app."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = make_engine(config.attributes["database_url"])
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                render_item=render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
