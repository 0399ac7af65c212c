"""`flask representatives …`: an administrator records a parent of a minor, or ends a
representation."""

import click
from flask.cli import with_appcontext

from eprescription.cli.users import Refused
from eprescription.domain.errors import DomainError
from eprescription.services import audit, health_space
from eprescription.use_cases import unit_of_work


@click.group("representatives", help="Who may see and collect a person's prescriptions.")
def representatives_group() -> None:
    pass


@representatives_group.command(
    "add-parent",
    help="Record a parent (or legal guardian) of a minor, after checking the family record "
    "book or the court decision. Access ends the day before the 18th birthday unless --until.",
)
@click.option("--child-nir", required=True, help="The minor's national identifier.")
@click.option("--parent-nir", required=True, help="The parent's national identifier.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@with_appcontext
def add_parent(child_nir, parent_nir, until) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            row = health_space.record_parent(
                uow,
                child_nir=child_nir,
                parent_nir=parent_nir,
                valid_until=until.date() if until else None,
            )
    except DomainError as error:
        raise Refused(error) from error
    click.echo(
        f"Recorded {row.representative.full_name} as parent of {row.patient.full_name} "
        f"until {row.valid_until} (representation {row.id})."
    )


@representatives_group.command("end", help="End a representation at once (any kind).")
@click.argument("representation_id", type=int)
@with_appcontext
def end(representation_id) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            row = health_space.end_by_administrator(uow, representation_id)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"Representation {row.id} ended at {row.revoked_at:%Y-%m-%d %H:%M} UTC.")
