"""`flask software …`: an administrator registers a program and its OAuth 2.0 client
credentials, lists them, revokes one, gives it a new secret (docs/software-clients.md)."""

from pathlib import Path

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import software_clients

software_group = AppGroup("software", help="Software clients (OAuth 2.0 client credentials).")


@software_group.command(
    "register",
    help="Register a program for one pharmacy or one practice and print its client_id (and "
    "its secret, shown this once, unless --public-key is given for private_key_jwt).",
)
@click.option("--name", required=True)
@click.option("--vendor", required=True)
@click.option("--version", "version_", required=True, help="The program's version.")
@click.option("--pharmacy", "pharmacy_finess", help="FINESS number of its pharmacy.")
@click.option("--practice", "practice_id", type=int, help="Id of its practice (practices list).")
@click.option(
    "--scopes",
    required=True,
    help=f"Comma-separated, among {', '.join(software_clients.SCOPES)}.",
)
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of its public key (P-256 or RSA): it signs JWTs instead of using a secret.",
)
def register(name, vendor, version_, pharmacy_finess, practice_id, scopes, public_key) -> None:
    with operator_work() as uow:
        registered = software_clients.register(
            uow,
            name=name,
            vendor=vendor,
            version=version_,
            scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
            pharmacy_finess=pharmacy_finess,
            practice_id=practice_id,
            public_key_pem=public_key.read_text() if public_key else None,
        )
        client = registered.client
        where = software_clients.organisation(client)
    click.echo(f"Registered {client.name} {client.version} for {where}; scopes: {client.scopes}.")
    _echo_credentials(registered)


def _echo_credentials(registered: software_clients.Registered) -> None:
    """The client_id, and the secret if it has one: shown this once."""
    click.echo(f"client_id: {registered.client.client_id}")
    if registered.secret is not None:
        click.echo(f"client_secret: {registered.secret}")
        click.echo("The secret is shown this once: only its hash is kept.")


@software_group.command("list", help="Every software client, with its organisation and state.")
def list_clients() -> None:
    with operator_work() as uow:
        lines = [
            "\t".join(
                (
                    client.client_id,
                    f"{client.name} {client.version} ({client.vendor})",
                    software_clients.organisation(client),
                    client.scopes,
                    "key" if client.public_key_pem else "secret",
                    f"revoked {client.revoked_at:%Y-%m-%d %H:%M}"
                    if client.revoked_at
                    else "active",
                )
            )
            for client in software_clients.all_clients(uow)
        ]
    click.echo("\n".join(lines) if lines else "No software client is registered.")


@software_group.command("revoke", help="Revoke a client: it gets no token, its tokens end now.")
@click.argument("client_id")
def revoke(client_id) -> None:
    with operator_work() as uow:
        client = software_clients.revoke(uow, client_id)
    click.echo(f"Revoked {client.client_id} ({client.name}); its tokens are ended.")


@software_group.command("rotate-secret", help="Give a client a new secret (the old one stops).")
@click.argument("client_id")
def rotate_secret(client_id) -> None:
    with operator_work() as uow:
        registered = software_clients.rotate_secret(uow, client_id)
    _echo_credentials(registered)
