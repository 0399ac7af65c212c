"""`flask users …`: create accounts and pharmacies; disable, enable, set a password, unlock."""

import click
from flask.cli import with_appcontext

from eprescription.domain.errors import DomainError
from eprescription.models import Role
from eprescription.services import accounts, audit, login_throttle, prescribing
from eprescription.use_cases import unit_of_work


class Refused(click.ClickException):
    """A domain refusal printed with every field's reason; exit code 1."""

    def __init__(self, error: DomainError):
        lines = [error.detail]
        for field, messages in error.errors.items():
            for message in [messages] if isinstance(messages, str) else messages:
                lines.append(f"  {field}: {message}")
        super().__init__("\n".join(lines))


@click.group("users", help="Accounts and pharmacies.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create an account (and its person, prescriber or pharmacist).")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--username", required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)
@click.option("--nir", "national_id", help="National identifier (NIR; isikukood in Estonia).")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--birth-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--rpps", help="RPPS number (prescribers).")
@click.option("--specialty", default="", help="Specialty (prescribers).")
@click.option("--finess", help="FINESS number of the pharmacy (pharmacists).")
@with_appcontext
def create(
    role,
    username,
    password,
    national_id,
    given_name,
    family_name,
    birth_date,
    rpps,
    specialty,
    finess,
) -> None:
    has_person = any((national_id, given_name, family_name, birth_date))
    person = (
        accounts.PersonDetails(
            national_id, given_name, family_name, birth_date.date() if birth_date else None
        )
        if has_person
        else None
    )
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            account = accounts.create_account(
                uow,
                username=username,
                password=password,
                role=role,
                person=person,
                rpps=rpps,
                specialty=specialty,
                pharmacy_finess=finess,
            )
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"Created the {account.role} account {account.username}.")


@users_group.command("create-pharmacy", help="Create a pharmacy identified by its FINESS number.")
@click.option("--finess", required=True)
@click.option("--name", required=True)
@click.option("--address", default="")
@with_appcontext
def create_pharmacy(finess, name, address) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            pharmacy = accounts.create_pharmacy(uow, finess=finess, name=name, address=address)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"Created the pharmacy {pharmacy.name} (FINESS {pharmacy.finess}).")


@users_group.command(
    "add-allergy",
    help="Record that a person is allergic to an active substance (BDPM substance code); "
    "the prescriber's review then warns before signing a line that contains it.",
)
@click.option("--nir", "national_id", required=True, help="The person's national identifier.")
@click.option("--substance-code", required=True, help="BDPM substance code (CIS_COMPO_bdpm).")
@with_appcontext
def add_allergy(national_id, substance_code) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            allergy = prescribing.record_allergy(uow, national_id, substance_code)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"Recorded an allergy to {allergy.substance_name} ({allergy.substance_code}).")


@users_group.command("unlock", help="Let a username log in again at once after too many failures.")
@click.argument("username")
@with_appcontext
def unlock(username: str) -> None:
    key = accounts.normalise_username(username)[: accounts.USERNAME_MAX_LENGTH]
    with unit_of_work(actor=audit.OPERATOR) as uow:
        unlocked = login_throttle.unlock(uow, key)
    if unlocked:
        click.echo(f"{key}: unlocked.")
    else:
        click.echo(f"{key}: was not locked.")


@users_group.command("disable", help="Disable an account: its sessions and tokens stop at once.")
@click.argument("username")
@with_appcontext
def disable(username: str) -> None:
    _set_active(username, False)


@users_group.command("enable", help="Enable a disabled account again (same password).")
@click.argument("username")
@with_appcontext
def enable(username: str) -> None:
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            account = accounts.set_active(uow, username, active)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"{account.username}: {'enabled' if active else 'disabled'}.")


@users_group.command("set-password", help="Set a new password; the account's tokens are revoked.")
@click.argument("username")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)
@with_appcontext
def set_password(username: str, password: str) -> None:
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            account = accounts.set_password(uow, username, password)
    except DomainError as error:
        raise Refused(error) from error
    click.echo(f"{account.username}: new password set, its API tokens revoked.")
