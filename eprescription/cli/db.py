"""`flask db …`: bring the schema to the newest Alembic revision, or make a new revision."""

import click
from flask import current_app
from flask.cli import AppGroup

from eprescription import migrate

db_group = AppGroup("db", help="Database schema (Alembic migrations).")


@db_group.command("upgrade", help="Upgrade the database to a revision (default: head).")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database at {revision}.")


@db_group.command("current", help="Show the database's current revision.")
def current() -> None:
    click.echo(migrate.current(current_app.config["DATABASE_URL"]) or "(empty database)")


@db_group.command("revision", help="Write a new revision by comparing the models to the database.")
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    migrate.revision(current_app.config["DATABASE_URL"], message)
