"""`flask practices …`: an administrator records practices and puts prescribers in them."""

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import practices

practices_group = AppGroup("practices", help="Practices, which a practice's software is bound to.")


@practices_group.command("add", help="Record a practice and print its id.")
@click.argument("name")
@click.option("--identifier", help="Its FINESS (9 digits) or SIRET (14 digits) number.")
def add(name, identifier) -> None:
    with operator_work() as uow:
        practice = practices.add(uow, name=name, identifier=identifier)
        practice_id = practice.id
    click.echo(f"Recorded the practice {name} (id {practice_id}).")


@practices_group.command("list", help="Every practice: id, name, identifier.")
def list_practices() -> None:
    with operator_work() as uow:
        lines = [
            f"{practice.id}\t{practice.name}\t{practice.identifier or ''}"
            for practice in practices.all_practices(uow)
        ]
    click.echo("\n".join(lines) if lines else "No practice is recorded.")


@practices_group.command("assign", help="Put the prescriber with this RPPS in a practice.")
@click.argument("rpps")
@click.argument("practice_id", type=int)
def assign(rpps, practice_id) -> None:
    with operator_work() as uow:
        prescriber = practices.assign(uow, rpps, practice_id)
    click.echo(f"The prescriber {prescriber.rpps} works in practice {practice_id}.")
