"""`flask events …`: webhook subscriptions, the delivery worker, the expiry sweep, the
dead-letter list."""

import time

import click
from flask import current_app
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import event_delivery, event_subscriptions, events, expiry_reminders

events_group = AppGroup("events", help="Status events sent to subscribed software (webhooks).")


@events_group.command(
    "subscribe",
    help="Register URL for the given event types (all if none), for one practice, one "
    "pharmacy or operator-wide (exactly one); prints the signing secret.",
)
@click.argument("url")
@click.option(
    "--types",
    "types",
    multiple=True,
    help=f"An event type, repeatable or comma-separated: {', '.join(events.TYPES)}.",
)
@click.option("--practice", "practice_id", type=int, help="The practice's id: its prescriptions.")
@click.option("--pharmacy", "finess", help="The pharmacy's FINESS: what it dispensed from.")
@click.option("--operator-wide", is_flag=True, help="Every prescription (national systems).")
def subscribe(
    url: str,
    types: tuple[str, ...],
    practice_id: int | None,
    finess: str | None,
    operator_wide: bool,
) -> None:
    wanted = [name.strip() for value in types for name in value.split(",") if name.strip()]
    with operator_work() as uow:
        scope = event_subscriptions.named_scope(
            uow, practice_id=practice_id, pharmacy_finess=finess, operator_wide=operator_wide
        )
        made = event_subscriptions.subscribe(uow, scope, url, wanted)
        shown = (made.row.id, made.secret, made.row.types, scope.label)
    click.echo(f"Subscription {shown[0]} ({shown[3]}) for {url}: {shown[2]}")
    click.echo(f"Secret (shown once, keep it with the subscriber): {shown[1]}")


def _echo_rows(rows: list[tuple]) -> None:
    """Print one tab-separated line per row."""
    for row in rows:
        click.echo("\t".join(str(value) for value in row))


@events_group.command("list", help="The subscriptions: id, scope, channel, URL, event types.")
def list_subscriptions() -> None:
    with operator_work() as uow:
        rows = [
            (row.id, events.scope_of(row).label, row.channel, row.url, row.types)
            for row in event_subscriptions.listed(uow, events.OPERATOR_WIDE)
        ]
    _echo_rows(rows)


@events_group.command("remove", help="Remove a subscription and its pending deliveries.")
@click.argument("subscription_id", type=int)
def remove(subscription_id: int) -> None:
    with operator_work() as uow:
        event_subscriptions.remove(uow, events.OPERATOR_WIDE, subscription_id)
    click.echo(f"Removed subscription {subscription_id}.")


@events_group.command(
    "deliver",
    help="Send the due events to their subscribers (at least once, retried with backoff); "
    "one round with --once, else every --every SECONDS; sweeps for expiring prescriptions "
    "every --sweep-every SECONDS (0: never).",
)
@click.option("--once", is_flag=True, help="One round, then exit (tests, cron).")
@click.option("--every", type=float, default=2.0, show_default=True)
@click.option("--timeout", type=float, default=event_delivery.TIMEOUT_SECONDS, show_default=True)
@click.option("--sweep-every", type=float, default=300.0, show_default=True)
@click.option("--quiet", is_flag=True, help="Print nothing when nothing was sent.")
def deliver(once: bool, every: float, timeout: float, sweep_every: float, quiet: bool) -> None:
    swept_at = None
    while True:
        if sweep_every and (swept_at is None or time.monotonic() - swept_at >= sweep_every):
            _sweep(quiet)
            swept_at = time.monotonic()
        done = event_delivery.deliver_once(operator_work, timeout)
        if done.delivered or done.failed or not quiet:
            click.echo(f"Delivered {done.delivered}, failed {done.failed}.")
        if once:
            return
        time.sleep(every)


@events_group.command(
    "sweep",
    help="Write prescription.expiring for each prescription with nothing dispensed whose "
    "validity ends within --days days (once per prescription; safe on several hosts).",
)
@click.option("--days", type=int, help="Default: EVENT_EXPIRY_NOTICE_DAYS (7).")
def sweep(days: int | None) -> None:
    _sweep(False, days)


def _sweep(quiet: bool, days: int | None = None) -> None:
    notice = current_app.config["EVENT_EXPIRY_NOTICE_DAYS"] if days is None else days
    with operator_work() as uow:
        reminded = expiry_reminders.sweep(uow, notice)
    if reminded or not quiet:
        click.echo(f"Expiring soon: {reminded} reminded.")


@events_group.command("dead", help="The dead-letter list: deliveries given up.")
def dead() -> None:
    with operator_work() as uow:
        rows = [
            (row.id, row.event.event_id, row.event.type, row.subscription.url, row.last_error)
            for row in event_subscriptions.dead_letters(uow)
        ]
    _echo_rows(rows)


@events_group.command("replay", help="Send a dead delivery again (attempts counted afresh).")
@click.argument("delivery_id", type=int)
def replay(delivery_id: int) -> None:
    with operator_work() as uow:
        event_subscriptions.replay(uow, delivery_id)
    click.echo(f"Delivery {delivery_id} is due again.")
