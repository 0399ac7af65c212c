"""`flask pki …`: the certificate authority and prescribers' signing keys."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import pki

PRODUCTION = "production"
pem_file = click.Path(exists=True, dir_okay=False, path_type=Path)


pki_group = AppGroup("pki", help="The prescriber certificate authority and signing keys.")


@pki_group.command(
    "init",
    help="Create a development CA (ECDSA P-256), or import an external CA with --ca-cert and "
    "--ca-key (PEM; the only way in production).",
)
@click.option("--ca-cert", type=pem_file, help="PEM certificate of an external CA to import.")
@click.option("--ca-key", type=pem_file, help="PEM private key (unencrypted) of that CA.")
@click.option("--common-name", default=pki.DEVELOPMENT_CA_NAME, show_default=True)
def init(ca_cert: Path | None, ca_key: Path | None, common_name: str) -> None:
    with operator_work() as uow:
        authority = pki.init_ca(
            uow,
            common_name=common_name,
            import_cert_pem=ca_cert.read_bytes() if ca_cert else None,
            import_key_pem=ca_key.read_bytes() if ca_key else None,
            production=current_app.config["ENVIRONMENT"] == PRODUCTION,
        )
    kind = "Imported the external" if authority.is_external else "Created the development"
    click.echo(
        f"{kind} CA {authority.common_name} (serial {authority.serial}), "
        f"valid until {authority.not_valid_after:%Y-%m-%d}."
    )


@pki_group.command("enroll", help="Give a prescriber a signing key and certificate.")
@click.option("--username", required=True, help="The prescriber's account.")
@click.option(
    "--pin",
    prompt="Signing PIN (4 to 8 digits)",
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)
def enroll(username: str, pin: str) -> None:
    with operator_work() as uow:
        prescriber = pki.prescriber_for_username(uow, username)
        credential = pki.enroll_prescriber(uow, prescriber, pin)
    click.echo(
        f"Enrolled {username}: certificate {credential.serial}, valid until "
        f"{credential.not_valid_after:%Y-%m-%d}."
    )


@pki_group.command("unblock", help="Lift the block after three wrong PINs.")
@click.argument("username")
def unblock(username: str) -> None:
    with operator_work() as uow:
        pki.unblock(uow, pki.prescriber_for_username(uow, username))
    click.echo(f"Unblocked the signing key of {username}.")


@pki_group.command("revoke", help="Revoke a prescriber's certificate: it signs no more.")
@click.argument("username")
@click.option("--reason", required=True, help="Why (kept and published with the revocation).")
@click.option(
    "--key-compromise",
    is_flag=True,
    help="The key may be in other hands: distrust every signature it made, even earlier ones.",
)
def revoke(username: str, reason: str, key_compromise: bool) -> None:
    with operator_work() as uow:
        prescriber = pki.prescriber_for_username(uow, username)
        credential = pki.revoke(uow, prescriber, reason, key_compromise=key_compromise)
    click.echo(f"Revoked certificate {credential.serial} of {username}.")
