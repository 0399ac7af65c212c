"""Flask CLI commands (`flask --app eprescription …`), thin callers of the services."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every command group on `app`."""
    from eprescription.cli.catalog import catalog_group
    from eprescription.cli.db import db_group
    from eprescription.cli.demo import demo_group
    from eprescription.cli.users import users_group

    for group in (db_group, catalog_group, users_group, demo_group):
        app.cli.add_command(group)
