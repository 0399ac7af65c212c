"""Flask CLI commands (`flask --app eprescription …`), thin callers of the services."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every command group on `app`."""
    from eprescription.cli.audit import audit_group
    from eprescription.cli.backup import backup_command, restore_command
    from eprescription.cli.catalog import catalog_group
    from eprescription.cli.db import db_group
    from eprescription.cli.demo import demo_group
    from eprescription.cli.events import events_group
    from eprescription.cli.idempotency import idempotency_group
    from eprescription.cli.keys import keys_group
    from eprescription.cli.pki import pki_group
    from eprescription.cli.practices import practices_group
    from eprescription.cli.representatives import representatives_group
    from eprescription.cli.software import software_group
    from eprescription.cli.users import users_group
    from eprescription.cli.verify import verify_command

    for group in (
        db_group,
        catalog_group,
        users_group,
        demo_group,
        pki_group,
        verify_command,
        audit_group,
        representatives_group,
        idempotency_group,
        events_group,
        keys_group,
        software_group,
        practices_group,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(group)
