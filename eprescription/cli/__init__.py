"""Flask CLI commands (`flask --app eprescription …`), thin callers of the services."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every command group on `app`."""
    from eprescription.cli.db import db_group

    for group in (db_group,):
        app.cli.add_command(group)
