"""`flask audit …`: verify the chains and the sealed log, seal new events, witness the heads
of any eprescription service, and make the log append-only for the application's role."""

import json
import time
from pathlib import Path

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import append_only, audit, audit_seal, audit_witness

audit_group = AppGroup("audit", help="The tamper-evident audit log.")


@audit_group.command(
    "verify",
    help="Check every chain (position, link, hash) and rebuild the sealed log against every "
    "signed head; exit 1 naming the first broken event of each chain.",
)
def verify() -> None:
    with operator_work() as uow:  # reads only
        chains = audit.verify_chains(uow.session)
        log = audit_seal.verify_log(uow)
    problems = [f"  broken at {problem}" for problem in chains.breaks]
    if not log.ok:
        problems.append(f"  sealed log broken: {log.problem}")
    if problems:
        raise click.ClickException(
            f"Audit log broken ({chains.events} events in {chains.chains} chains, "
            f"{log.leaves} sealed):\n" + "\n".join(problems)
        )
    click.echo(
        f"Audit log intact: {chains.events} events in {chains.chains} chains; "
        f"{log.leaves} sealed, {log.heads} signed heads match."
    )


@audit_group.command(
    "seal",
    help="Put new events into the global Merkle log and sign its new head (safe from cron and "
    "from several hosts at once).",
)
@click.option("--every", type=float, default=None, help="Keep sealing, every SECONDS.")
@click.option("--quiet", is_flag=True, help="Print nothing when nothing was sealed.")
def seal(every: float | None, quiet: bool) -> None:
    while True:
        with operator_work() as uow:
            sealed = audit_seal.seal(uow)
        if sealed.head is not None:
            click.echo(
                f"Sealed {sealed.events} events: the log holds {sealed.head.tree_size}, "
                f"root {audit_seal.b64(sealed.head.root_hash)}."
            )
        elif not quiet:
            click.echo("Nothing new to seal.")
        if every is None:
            return
        time.sleep(every)


@audit_group.command(
    "witness",
    help="Fetch a service's signed head, check it, and check it extends the last one this "
    "witness saw (kept in --state); exit 1 on a fork.",
    with_appcontext=False,  # an outside party's check: nothing of this app's is read
)
@click.argument("url")
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("audit-witness.json"),
    show_default=True,
    help="Where the last head seen is kept.",
)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The service's CA certificate (PEM); else the CA the service publishes.",
)
def witness(url: str, state: Path, ca: Path | None) -> None:
    previous = json.loads(state.read_text()) if state.exists() else None
    try:
        head = audit_witness.observe(url, previous, ca.read_bytes() if ca else None)
    except audit_witness.WitnessError as error:
        raise click.ClickException(str(error)) from error
    state.write_text(json.dumps(head, indent=2) + "\n")
    if previous is None:
        click.echo(f"First head seen: size {head['tree_size']}, signature valid.")
    else:
        click.echo(
            f"Head of size {head['tree_size']} extends the one of size "
            f"{previous['tree_size']} seen before (consistency proof checked)."
        )


@audit_group.command(
    "protect",
    help="PostgreSQL: let ROLE (the application's database role) only read and insert audit "
    "rows, never update or delete them. Run as the tables' owner, after each `db upgrade`.",
)
@click.argument("role")
def protect(role: str) -> None:
    with operator_work() as uow:
        statements = append_only.protect(uow, role)
    for statement in statements:
        click.echo(statement + ";")
    click.echo(f"The audit tables are append-only for {role}.")
