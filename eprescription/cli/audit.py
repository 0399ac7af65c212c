"""`flask audit verify`: walk every chain of the audit log and report each one's first break."""

import click
from flask.cli import with_appcontext

from eprescription.db import get_session
from eprescription.services import audit


@click.group("audit", help="The tamper-evident audit log.")
def audit_group() -> None:
    pass


@audit_group.command(
    "verify", help="Check every event's position, link and hash, chain by chain; exit 1 if broken."
)
@with_appcontext
def verify() -> None:
    report = audit.verify_chains(get_session())
    if not report.ok:
        lines = "\n".join(f"  broken at {problem}" for problem in report.breaks)
        raise click.ClickException(
            f"Audit log broken in {len(report.breaks)} of {report.chains} chains "
            f"({report.events} events read):\n{lines}"
        )
    click.echo(f"Audit log intact: {report.events} events in {report.chains} chains.")
