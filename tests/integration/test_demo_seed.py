"""`flask demo seed`: demo accounts of every role and the demo catalog, never over real data."""

import re

import pytest
from sqlalchemy import func, select

from eprescription import migrate
from eprescription.db import get_session
from eprescription.domain.errors import DomainError
from eprescription.models import Account, Product, Role
from eprescription.services import accounts, pki
from eprescription.services.verification import verify_document
from tests.conftest import make_test_app
from tests.integration.people import operator

LOGINS = {
    "demo-prescriber": "demo-prescriber-2026",
    "demo-pharmacist": "demo-pharmacist-2026",
    "demo-patient": "demo-patient-2026",
    "demo-admin": "demo-admin-2026",
    "demo-hospital": "demo-hospital-2026",  # a hospital neurologist (docs/rules.md)
}


@pytest.fixture
def make_app(fresh_database_url):
    """Apps on a freshly migrated database of their own (the demo catalog stays out of the
    shared one)."""
    migrate.upgrade(fresh_database_url)
    apps = []

    def make(**overrides):
        apps.append(make_test_app(fresh_database_url, **overrides))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["db_engine"].dispose()


def count(app, model, *where) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model).where(*where))


def test_the_demo_creates_an_account_of_each_role_and_prints_the_logins(make_app):
    app = make_app()

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code == 0, result.output
    for username, password in LOGINS.items():
        assert username in result.output and password in result.output
    with app.app_context(), operator(get_session()) as uow:
        roles = {
            accounts.authenticate(uow, username, password).role
            for username, password in LOGINS.items()
        }
        assert roles == set(Role)
        pharmacist = accounts.authenticate(uow, "demo-pharmacist", "demo-pharmacist-2026")
        assert accounts.profile(uow, pharmacist).pharmacy_name
    assert count(app, Account, Account.is_demo.is_(False)) == 0
    assert count(app, Product) > 0


def test_the_demo_prescriber_can_sign_with_the_printed_pin_1234(make_app):
    app = make_app()

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code == 0, result.output
    assert "signing PIN" in result.output and "1234" in result.output
    with app.app_context(), operator(get_session()) as uow:
        prescriber = pki.prescriber_for_username(uow, "demo-prescriber")
        token = pki.sign_as_prescriber(uow, prescriber, "1234", b"{}")
        assert verify_document(uow, token).valid


def test_seeding_again_unblocks_the_demo_prescribers_key(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "seed"])
    with app.app_context():
        for _ in range(3):
            with pytest.raises(DomainError), operator(get_session()) as uow:
                prescriber = pki.prescriber_for_username(uow, "demo-prescriber")
                pki.sign_as_prescriber(uow, prescriber, "0000", b"{}")

    assert runner.invoke(args=["demo", "seed"]).exit_code == 0

    with app.app_context(), operator(get_session()) as uow:
        prescriber = pki.prescriber_for_username(uow, "demo-prescriber")
        assert pki.sign_as_prescriber(uow, prescriber, "1234", b"{}")


def test_seeding_twice_keeps_the_accounts_and_prints_the_logins_again(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "seed"])

    again = runner.invoke(args=["demo", "seed"])

    assert again.exit_code == 0, again.output
    assert "demo-patient-2026" in again.output and "kept" in again.output
    assert count(app, Account) == len(LOGINS)


def test_the_demo_refuses_a_database_with_real_accounts(make_app):
    app = make_app()
    with app.app_context(), operator(get_session()) as uow:
        accounts.create_account(
            uow, username="root", password="correct-horse-battery", role=Role.ADMIN
        )

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code != 0
    assert "non-demo" in result.output
    assert count(app, Account) == 1
    assert count(app, Product) == 0


def test_the_demo_refuses_to_run_in_production(make_app):
    app = make_app(ENVIRONMENT="production", SECRET_KEY="s" * 32, KEY_ENCRYPTION_KEY="ab" * 32)

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code != 0
    assert "production" in result.output
    assert count(app, Account) == 0
    assert count(app, Product) == 0


def test_the_demo_works_for_estonia(make_app):
    app = make_app(COUNTRY="EE")

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        with operator(get_session()) as uow:
            patient = accounts.authenticate(uow, "demo-patient", "demo-patient-2026")
        assert patient.person.country == "EE"


def test_the_demo_keeps_a_catalog_already_loaded_instead_of_shrinking_it(make_app, bdpm_dir):
    app = make_app()
    assert (
        app.test_cli_runner().invoke(args=["catalog", "import-bdpm", str(bdpm_dir)]).exit_code == 0
    )
    removed_before = count(app, Product, Product.removed_from_bdpm_at.is_not(None))

    result = app.test_cli_runner().invoke(args=["demo", "seed"])

    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output
    assert count(app, Product, Product.removed_from_bdpm_at.is_not(None)) == removed_before


def test_the_demo_prints_a_qr_text_and_box_codes_that_the_counter_takes(make_app):
    """README's walkthrough without a scanner: what `demo seed` prints is typed at the counter."""
    app = make_app()
    output = app.test_cli_runner().invoke(args=["demo", "seed"]).output
    qr_text = re.search(r"^  (EP1\.\S+)$", output, re.MULTILINE).group(1)
    boxes = re.findall(r"^  (\(01\)\S+)$", output, re.MULTILINE)
    assert boxes, output
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token",
        json={"username": "demo-pharmacist", "password": LOGINS["demo-pharmacist"]},
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    scanned = client.post("/api/v1/pharmacy/scan", json={"code": qr_text}, headers=headers)
    assert scanned.status_code == 200, scanned.get_json()
    prescription = scanned.get_json()
    lines = [
        {"line": line["line"], "gs1": box, "quantity": 1}
        for line, box in zip(prescription["items"], boxes, strict=True)
    ]
    dispensed = client.post(
        f"/api/v1/prescriptions/{prescription['id']}/dispensations",
        json={"code": qr_text, "lines": lines, "collected_by": {"kind": "patient"}},
        headers=headers,
    )

    assert dispensed.status_code == 201, dispensed.get_json()
    assert [line["batch"] for line in dispensed.get_json()["lines"]] == ["DEMO1"] * len(boxes)
