"""`flask representatives …`: an administrator records a parent of a minor, or ends a
representation."""

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import patient_representatives

representatives_group = AppGroup(
    "representatives", help="Who may see and collect a person's prescriptions."
)


@representatives_group.command(
    "add-parent",
    help="Record a parent (or legal guardian) of a minor, after checking the family record "
    "book or the court decision. Access ends the day before the 18th birthday unless --until.",
)
@click.option("--child-nir", required=True, help="The minor's national identifier.")
@click.option("--parent-nir", required=True, help="The parent's national identifier.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
def add_parent(child_nir, parent_nir, until) -> None:
    with operator_work() as uow:
        row = patient_representatives.record_parent(
            uow,
            child_nir=child_nir,
            parent_nir=parent_nir,
            valid_until=until.date() if until else None,
        )
    click.echo(
        f"Recorded {row.representative.full_name} as parent of {row.patient.full_name} "
        f"until {row.valid_until} (representation {row.id})."
    )


@representatives_group.command("end", help="End a representation at once (any kind).")
@click.argument("representation_id", type=int)
def end(representation_id) -> None:
    with operator_work() as uow:
        row = patient_representatives.end_by_administrator(uow, representation_id)
    click.echo(f"Representation {row.id} ended at {row.revoked_at:%Y-%m-%d %H:%M} UTC.")
