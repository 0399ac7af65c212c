"""Whole-database backups and their restore: pg_dump / pg_restore on PostgreSQL, SQLite's
online backup API on SQLite; both consistent while the service runs."""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be made; nothing was changed."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the whole database to `target` (replaced only once the copy
    is complete)."""
    url = make_url(database_url)
    partial = target.with_name(target.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_path(url), partial)
        else:
            _pg("pg_dump", url, "--format=custom", "--no-password", f"--file={partial}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(database_url: str, source: Path) -> None:
    """Replace the whole database with the backup in `source`, in one step: on PostgreSQL one
    transaction (pg_restore --single-transaction), on SQLite one backup-API copy."""
    url = make_url(database_url)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    with source.open("rb") as file:
        magic = file.read(len(SQLITE_MAGIC))
    if url.get_backend_name() == "sqlite":
        if not magic.startswith(SQLITE_MAGIC):
            raise BackupError(f"{source} is not an SQLite backup")
        _check_sqlite(source)
        _sqlite_copy(source, _sqlite_path(url))
        return
    if not magic.startswith(PG_CUSTOM_MAGIC):
        raise BackupError(f"{source} is not a pg_dump backup (custom format)")
    _pg(
        "pg_restore",
        url,
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        str(source),
    )


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Page by page with the online backup API: readers and writers go on meanwhile, and the
    copy is one consistent snapshot."""
    if not source.is_file():
        raise BackupError(f"{source}: no such database file")
    target.parent.mkdir(parents=True, exist_ok=True)
    origin = sqlite3.connect(source)
    destination = sqlite3.connect(target)
    try:
        origin.backup(destination)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from error
    finally:
        destination.close()
        origin.close()


def _check_sqlite(source: Path) -> None:
    """Refuse a damaged file, or one that is no eprescription database."""
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as error:
        raise BackupError(f"{source} cannot be read: {error}") from error
    finally:
        connection.close()
    if verdict != "ok":
        raise BackupError(f"{source} is damaged: {verdict}")
    if "alembic_version" not in tables:
        raise BackupError(f"{source} is not an eprescription database")


def _pg(program: str, url: URL, *arguments: str) -> None:
    """Run pg_dump or pg_restore on `url`; the connection goes in the environment (a password
    must not show in the process list)."""
    binary = shutil.which(program)
    if binary is None:
        raise BackupError(f"{program} is not installed (PostgreSQL client tools)")
    environment = {
        **os.environ,
        "PGHOST": url.host or "",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
    }
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    if program == "pg_restore":
        arguments = (f"--dbname={url.database}", *arguments)
    done = subprocess.run(
        [binary, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()}")
