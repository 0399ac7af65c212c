"""`flask events …`: webhook subscriptions, the delivery worker, the dead-letter list."""

import time

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import event_delivery, events

events_group = AppGroup("events", help="Status events sent to subscribed software (webhooks).")


@events_group.command(
    "subscribe",
    help="Register URL for the given event types (all if none); prints the signing secret.",
)
@click.argument("url")
@click.option(
    "--types",
    "types",
    multiple=True,
    help=f"An event type, repeatable or comma-separated: {', '.join(events.TYPES)}.",
)
def subscribe(url: str, types: tuple[str, ...]) -> None:
    wanted = [name.strip() for value in types for name in value.split(",") if name.strip()]
    with operator_work() as uow:
        subscription = events.subscribe(uow, url, wanted)
        shown = (subscription.id, subscription.secret, subscription.types)
    click.echo(f"Subscription {shown[0]} for {url}: {shown[2]}")
    click.echo(f"Secret (shown once, keep it with the subscriber): {shown[1]}")


@events_group.command("list", help="The subscriptions: id, URL, event types.")
def list_subscriptions() -> None:
    with operator_work() as uow:
        rows = [(row.id, row.url, row.types) for row in events.subscriptions(uow)]
    for row_id, url, types in rows:
        click.echo(f"{row_id}\t{url}\t{types}")


@events_group.command("remove", help="Remove a subscription and its pending deliveries.")
@click.argument("subscription_id", type=int)
def remove(subscription_id: int) -> None:
    with operator_work() as uow:
        removed = events.unsubscribe(uow, subscription_id)
    _said(
        removed, f"Removed subscription {subscription_id}.", f"No subscription {subscription_id}."
    )


@events_group.command(
    "deliver",
    help="Send the due events to their subscribers (at least once, retried with backoff); "
    "one round with --once, else every --every SECONDS.",
)
@click.option("--once", is_flag=True, help="One round, then exit (tests, cron).")
@click.option("--every", type=float, default=2.0, show_default=True)
@click.option("--timeout", type=float, default=event_delivery.TIMEOUT_SECONDS, show_default=True)
@click.option("--quiet", is_flag=True, help="Print nothing when nothing was sent.")
def deliver(once: bool, every: float, timeout: float, quiet: bool) -> None:
    while True:
        done = event_delivery.deliver_once(operator_work, timeout)
        if done.delivered or done.failed or not quiet:
            click.echo(f"Delivered {done.delivered}, failed {done.failed}.")
        if once:
            return
        time.sleep(every)


@events_group.command("dead", help="The dead-letter list: deliveries given up.")
def dead() -> None:
    with operator_work() as uow:
        rows = [
            (row.id, row.event.event_id, row.event.type, row.subscription.url, row.last_error)
            for row in events.dead(uow)
        ]
    for row in rows:
        click.echo("\t".join(str(value) for value in row))


@events_group.command("replay", help="Send a dead delivery again (attempts counted afresh).")
@click.argument("delivery_id", type=int)
def replay(delivery_id: int) -> None:
    with operator_work() as uow:
        replayed = events.replay(uow, delivery_id)
    _said(replayed, f"Delivery {delivery_id} is due again.", f"No delivery {delivery_id}.")


def _said(done: bool, success: str, missing: str) -> None:
    """Print what was done, or exit 1 saying there was nothing of that id."""
    if not done:
        raise click.ClickException(missing)
    click.echo(success)
