"""`flask idempotency prune`: delete Idempotency-Key answers older than a day (run from cron)."""

from datetime import timedelta

import click
from flask.cli import with_appcontext

from eprescription.cli.operator import operator_work
from eprescription.services import idempotency


@click.group("idempotency", help="The stored answers that make a retried POST safe.")
def idempotency_group() -> None:
    pass


@idempotency_group.command(
    "prune",
    help="Delete the keys (and their sealed answers) claimed more than HOURS ago (default 24); "
    "a retry after that is a new request. Safe from cron on several hosts at once.",
)
@click.option("--hours", type=click.IntRange(min=1), default=24, show_default=True)
@with_appcontext
def prune(hours: int) -> None:
    with operator_work() as uow:
        pruned = idempotency.prune(uow, timedelta(hours=hours))
    click.echo(f"Pruned {pruned} Idempotency-Key answers older than {hours} h.")
