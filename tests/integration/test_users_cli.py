"""`flask users create` and `flask users create-pharmacy`: accounts from the command line."""

from sqlalchemy import func, select

from eprescription.db import get_session
from eprescription.models import Account, AuditEvent, Person, Pharmacy, Role
from eprescription.services import accounts
from tests.integration.people import operator

PATIENT = [
    "users",
    "create",
    "--role",
    "patient",
    "--username",
    "camille",
    "--given-name",
    "Camille",
    "--family-name",
    "Dubois",
    "--birth-date",
    "1985-03-12",
]


def count(app, model) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model))


def test_a_prescriber_is_created_with_every_detail(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "prescriber",
            "--username",
            "dr.martin",
            "--password",
            "correct-horse-battery",
            "--nir",
            "1 72 11 69 123 045 21",
            "--given-name",
            "Claire",
            "--family-name",
            "Martin",
            "--birth-date",
            "1972-11-05",
            "--rpps",
            "10001234565",
            "--specialty",
            "CARDIOLOGIE",
            "--setting",
            "hospital",
        ]
    )

    assert result.exit_code == 0, result.output
    assert "Created the prescriber account dr.martin." in result.output
    with app.app_context(), operator(get_session()) as uow:
        account = accounts.authenticate(uow, "dr.martin", "correct-horse-battery")
        assert account.role is Role.PRESCRIBER
        assert accounts.profile(uow, account).rpps == "10001234565"
        prescriber = account.person.prescriber
        assert (prescriber.specialty, prescriber.setting) == ("CARDIOLOGIE", "hospital")


def test_a_prescriber_setting_other_than_community_or_hospital_is_refused(app, runner):
    result = runner.invoke(
        args=[
            *PATIENT[:3],
            "prescriber",
            "--username",
            "dr.x",
            "--password",
            "x" * 12,
            "--rpps",
            "10001234565",
            "--setting",
            "clinic",
        ]
    )

    assert result.exit_code == 2
    assert "'clinic' is not one of 'community', 'hospital'" in result.output
    assert count(app, Account) == 0


def test_an_invalid_nir_is_refused_with_the_reason_and_nothing_stored(app, runner):
    result = runner.invoke(
        args=[*PATIENT, "--password", "correct-horse-battery", "--nir", "285037505612312"]
    )

    assert result.exit_code != 0
    assert "national_id: the NIR's key should be 06, not 12" in result.output
    assert count(app, Account) == 0 and count(app, Person) == 0


def test_the_password_is_asked_for_twice_when_not_given(app, runner):
    result = runner.invoke(
        args=[*PATIENT, "--nir", "285037505612306"],
        input="correct-horse-battery\ncorrect-horse-battery\n",
    )

    assert result.exit_code == 0, result.output
    assert "correct-horse-battery" not in result.output
    assert count(app, Account) == 1


def test_a_pharmacist_is_created_in_a_pharmacy_created_first(app, runner):
    pharmacy = runner.invoke(
        args=[
            "users",
            "create-pharmacy",
            "--finess",
            "330004565",
            "--name",
            "Pharmacie des Quais",
            "--address",
            "Bordeaux",
        ]
    )
    pharmacist = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "pharmacist",
            "--username",
            "ph.bernard",
            "--password",
            "correct-horse-battery",
            "--nir",
            "190063306320126",
            "--given-name",
            "Julien",
            "--family-name",
            "Bernard",
            "--birth-date",
            "1990-06-18",
            "--finess",
            "330004565",
        ]
    )

    assert pharmacy.exit_code == 0, pharmacy.output
    assert pharmacist.exit_code == 0, pharmacist.output
    assert "Created the pharmacist account ph.bernard." in pharmacist.output


def test_an_invalid_finess_is_refused_with_the_reason(app, runner):
    result = runner.invoke(
        args=["users", "create-pharmacy", "--finess", "330004566", "--name", "Pharmacie des Quais"]
    )

    assert result.exit_code != 0
    assert "finess: the FINESS number's key should be 5, not 6" in result.output
    assert count(app, Pharmacy) == 0


def test_an_admin_needs_no_person(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "admin",
            "--username",
            "root",
            "--password",
            "correct-horse-battery",
        ]
    )

    assert result.exit_code == 0, result.output
    assert count(app, Person) == 0


def test_the_command_line_creates_through_the_administrators_service_audited(app, runner):
    pharmacy = runner.invoke(
        args=["users", "create-pharmacy", "--finess", "330004565", "--name", "Pharmacie"]
    )
    patient = runner.invoke(args=[*PATIENT, "--password", "x" * 12, "--nir", "285037505612306"])

    assert pharmacy.exit_code == 0 and patient.exit_code == 0, patient.output
    with app.app_context():
        rows = get_session().execute(
            select(AuditEvent.action, AuditEvent.object_id, AuditEvent.actor_role)
        )
        assert set(rows) >= {
            ("admin_create_pharmacy", "330004565", "operator"),
            ("admin_create_account", "camille", "operator"),
        }
