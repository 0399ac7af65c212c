"""`flask audit verify`: walk the hash chain of the audit log and report the first broken link."""

import click
from flask.cli import with_appcontext

from eprescription.db import get_session
from eprescription.services import audit


@click.group("audit", help="The tamper-evident audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify", help="Check every event's hash and link; exit 1 at a broken link.")
@with_appcontext
def verify() -> None:
    report = audit.verify_chain(get_session())
    if not report.ok:
        raise click.ClickException(
            f"Audit chain broken at event {report.broken_at}: {report.reason} "
            f"({report.events} events before it are intact)."
        )
    click.echo(f"Audit chain intact: {report.events} events.")
