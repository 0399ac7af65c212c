"""`flask verify FILE|NUMBER`: check a signed document and print every check."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from eprescription.cli.operator import operator_work
from eprescription.services import prescription_reading
from eprescription.services.verification import verify_document

BINDING = "binding"
AGREES = (
    "the row (number, patient, prescriber, dates, lines, quantities, pickup mode, status), its "
    "cancellations and its receipts agree with the signed documents"
)


@click.command(
    "verify",
    help="Verify a signed document: FILE holding a compact JWS, or a prescription NUMBER "
    "(then the signed payload is also compared with the stored content, and the whole stored "
    "prescription with its signed documents).",
)
@click.argument("target", metavar="FILE|NUMBER")
@click.option(
    "--payload",
    "payload_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With FILE: a file holding the content that should have been signed.",
)
@with_appcontext
def verify_command(target: str, payload_file: Path | None) -> None:
    path = Path(target)
    token, stored, found = None, None, None
    if path.is_file():
        token = path.read_text(encoding="ascii", errors="replace").strip()
    with operator_work() as uow:
        if token is None:
            document = prescription_reading.signed_document(uow, target.strip())
            token, stored, found = document.jws, document.payload, document.signed
        if payload_file is not None:
            stored = payload_file.read_bytes()
        report = verify_document(uow, token, stored)
    for check in report.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if not report.valid:
        raise click.ClickException("The signature is NOT valid.")
    if found is not None:  # a stored prescription: the row must agree with what is signed
        if not found.verified:
            for problem in found.problems:
                click.echo(f"FAIL {BINDING}: {problem}")
            raise click.ClickException(
                "The signature is valid, but the stored prescription does NOT agree with it: "
                "it cannot be verified, and nothing can be dispensed from it."
            )
        click.echo(f"ok   {BINDING}: {AGREES}")
    click.echo("The signature is valid.")
