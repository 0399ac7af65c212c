"""`flask demo seed`: demo accounts of every role and the bundled demo catalog."""

import click
from flask import current_app
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import demo, demo_counter, software_demo

demo_group = AppGroup("demo", help="A demo database to try the service.")


@demo_group.command("seed")
def seed() -> None:
    """Create demo accounts (printed) and load the demo catalog; print what to type at the
    demo counter without a scanner."""
    with operator_work() as uow:
        result = demo.seed(uow, environment=current_app.config["ENVIRONMENT"], progress=click.echo)
    click.echo(result.catalog_summary)
    if result.prescription_number:
        click.echo(
            f"Issued the demo prescription {result.prescription_number} for demo-patient "
            "(signed by demo-prescriber)."
        )
    click.echo("\nDemo logins (demo data only; never use these passwords for real):\n")
    rows = [("role", "username", "password", "signing PIN", "status")]
    for login in result.logins:
        status = "new" if login.created else "kept"
        rows.append((login.role.value, login.username, login.password, login.pin or "", status))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    click.echo("\nDemo software clients (OAuth 2.0 client credentials, docs/software-clients.md):")
    for software in software_demo.DEMO_SOFTWARE:
        click.echo(f"  {software.client_id}  {software.secret}  scopes: {software.scopes}")
    with operator_work() as uow:
        counter = demo_counter.demo_counter(uow)
    if counter is not None:
        click.echo(
            f"\nAt the counter without a scanner (as demo-pharmacist, Scan a prescription), type "
            f"the QR text of prescription {counter.number}:\n  {counter.qr_text}"
        )
        for box in counter.boxes:
            click.echo(
                f"and for the box of {box.product_name} (CIP13 {box.cip13}):\n  {box.datamatrix}"
            )
