"""`flask users …`: create accounts and pharmacies; disable, enable, set a password, unlock."""

import click
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.domain import prescribing_rules
from eprescription.models import Role
from eprescription.services import accounts, allergies, login_throttle, registration

users_group = AppGroup("users", help="Accounts and pharmacies.")
# The option of the commands that set a password.
new_password = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)


@users_group.command("create", help="Create an account (and its person, prescriber or pharmacist).")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--username", required=True)
@new_password
@click.option("--nir", "national_id", help="National identifier (NIR; isikukood in Estonia).")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--birth-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--rpps", help="RPPS number (prescribers).")
@click.option(
    "--specialty", default="", help="Specialty (prescribers), as the BDPM names it: CARDIOLOGIE."
)
@click.option(
    "--setting",
    type=click.Choice(prescribing_rules.SETTINGS),
    default=prescribing_rules.COMMUNITY,
    show_default=True,
    help="Where the prescriber practises (hospital-only prescriptions need hospital).",
)
@click.option("--finess", "pharmacy_finess", help="FINESS number of the pharmacy (pharmacists).")
def create(birth_date, **options) -> None:
    new = registration.NewAccount.of(
        birth_date=birth_date.date() if birth_date else None, **options
    )
    with operator_work() as uow:
        account = registration.create_account(uow, new)
    click.echo(f"Created the {account.role} account {account.username}.")


@users_group.command("create-pharmacy", help="Create a pharmacy identified by its FINESS number.")
@click.option("--finess", required=True)
@click.option("--name", required=True)
@click.option("--address", default="")
def create_pharmacy(finess, name, address) -> None:
    with operator_work() as uow:
        pharmacy = registration.create_pharmacy(uow, finess=finess, name=name, address=address)
    click.echo(f"Created the pharmacy {pharmacy.name} (FINESS {pharmacy.finess}).")


@users_group.command(
    "add-allergy",
    help="Record that a person is allergic to an active substance (BDPM substance code); "
    "the prescriber's review then warns before signing a line that contains it.",
)
@click.option("--nir", "national_id", required=True, help="The person's national identifier.")
@click.option("--substance-code", required=True, help="BDPM substance code (CIS_COMPO_bdpm).")
def add_allergy(national_id, substance_code) -> None:
    with operator_work() as uow:
        allergy = allergies.record_allergy(uow, national_id, substance_code)
    click.echo(f"Recorded an allergy to {allergy.substance_name} ({allergy.substance_code}).")


@users_group.command("unlock", help="Let a username log in again at once after too many failures.")
@click.argument("username")
def unlock(username: str) -> None:
    key = accounts.normalise_username(username)[: accounts.USERNAME_MAX_LENGTH]
    with operator_work() as uow:
        unlocked = login_throttle.unlock(uow, key)
    if unlocked:
        click.echo(f"{key}: unlocked.")
    else:
        click.echo(f"{key}: was not locked.")


@users_group.command("disable", help="Disable an account: its sessions and tokens stop at once.")
@click.argument("username")
def disable(username: str) -> None:
    _set_active(username, False)


@users_group.command("enable", help="Enable a disabled account again (same password).")
@click.argument("username")
def enable(username: str) -> None:
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    with operator_work() as uow:
        account = accounts.set_active(uow, username, active)
    click.echo(f"{account.username}: {'enabled' if active else 'disabled'}.")


@users_group.command("set-password", help="Set a new password; the account's tokens are revoked.")
@click.argument("username")
@new_password
def set_password(username: str, password: str) -> None:
    with operator_work() as uow:
        account = accounts.set_password(uow, username, password)
    click.echo(f"{account.username}: new password set, its API tokens revoked.")
