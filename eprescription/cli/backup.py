"""`flask backup FILE` / `flask restore FILE`: the whole database, consistent while it runs."""

from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from eprescription import backup as backups

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command(
    "backup",
    help="Write a consistent copy of the whole database to FILE (pg_dump custom format on "
    "PostgreSQL, an SQLite file on SQLite), safe while the service runs.",
)
@click.argument("file", type=FILE)
@with_appcontext
def backup_command(file: Path) -> None:
    _run(backups.backup, file)
    click.echo(f"Backed up the database to {file} ({file.stat().st_size} bytes).")


@click.command(
    "restore",
    help="Replace the whole database with the backup in FILE, in one step (stop the service "
    "first); then run `flask audit verify`.",
)
@click.argument("file", type=FILE)
@click.confirmation_option(prompt="Replace the whole database with this backup?")
@with_appcontext
def restore_command(file: Path) -> None:
    _run(backups.restore, file)
    click.echo(f"Restored the database from {file}; check it with `flask audit verify`.")


def _run(step: Callable[[str, Path], None], file: Path) -> None:
    """Back up or restore this app's database, a failure told as a command-line error."""
    try:
        step(current_app.config["DATABASE_URL"], file)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from error
