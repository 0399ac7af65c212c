"""`flask software …` and `flask practices …`: an administrator registers programs, lists,
revokes and rotates them, records practices; every command audited, refusals exit 1."""

import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.models import AuditEvent, Prescriber, Role, SoftwareClient
from eprescription.services import practices, software_clients
from tests.integration.people import add_account, add_pharmacy, operator
from tests.integration.test_oauth import PHARMACY_FINESS, PRESCRIBER_RPPS, basic


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def printed(output: str, name: str) -> str:
    return re.search(rf"^{name}: (\S+)$", output, re.MULTILINE).group(1)


def register_for_pharmacy(runner, *more: str):
    return runner.invoke(
        args=[
            "software",
            "register",
            "--name",
            "OffiPlus",
            "--vendor",
            "Pharma Soft",
            "--version",
            "11.2",
            "--pharmacy",
            PHARMACY_FINESS,
            "--scopes",
            "dispense,read",
            *more,
        ]
    )


def test_register_prints_the_secret_once_and_it_works(app, runner, client, db_session):
    add_pharmacy(db_session)

    result = register_for_pharmacy(runner)

    assert result.exit_code == 0, result.output
    client_id, secret = printed(result.output, "client_id"), printed(result.output, "client_secret")
    assert "shown this once" in result.output
    token = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )
    assert token.get_json()["scope"] == "read"
    listed = runner.invoke(args=["software", "list"])
    assert client_id in listed.output and "Pharmacie des Quais" in listed.output
    assert secret not in listed.output and "active" in listed.output
    assert [event.object_id for event in events(app, "software_registered")] == [client_id]
    assert events(app, "software_registered")[0].actor_role == "operator"


def test_register_with_a_public_key_gives_no_secret(runner, db_session, tmp_path):
    add_pharmacy(db_session)
    for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)):
        pem = tmp_path / "key.pem"
        pem.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

        result = register_for_pharmacy(runner, "--public-key", str(pem))

        assert result.exit_code == 0, result.output
        assert "client_secret" not in result.output
    assert "key" in runner.invoke(args=["software", "list"]).output


def test_bad_registrations_are_refused_with_every_reason(runner, db_session, tmp_path):
    add_pharmacy(db_session)
    weak = tmp_path / "weak.pem"
    weak.write_bytes(
        rsa.generate_private_key(65537, 1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    issue_at_a_pharmacy = runner.invoke(
        args=[
            "software", "register", "--name", "X", "--vendor", "Y", "--version", "1",
            "--pharmacy", PHARMACY_FINESS, "--scopes", "issue", "--public-key", str(weak),
        ]
    )  # fmt: skip
    both = runner.invoke(
        args=[
            "software", "register", "--name", "", "--vendor", "Y", "--version", "1",
            "--pharmacy", PHARMACY_FINESS, "--practice", "1", "--scopes", "read",
        ]
    )  # fmt: skip

    assert issue_at_a_pharmacy.exit_code == 1
    assert "scopes:" in issue_at_a_pharmacy.output and "public_key:" in issue_at_a_pharmacy.output
    assert both.exit_code == 1 and "organisation:" in both.output and "name:" in both.output
    assert db_session.scalar(select(SoftwareClient.id)) is None


def test_revoke_and_rotate_secret(app, runner, client, db_session):
    add_pharmacy(db_session)
    registered = register_for_pharmacy(runner)
    client_id, old = (
        printed(registered.output, "client_id"),
        printed(registered.output, "client_secret"),
    )

    rotated = runner.invoke(args=["software", "rotate-secret", client_id])

    assert rotated.exit_code == 0, rotated.output
    new = printed(rotated.output, "client_secret")
    form = {"grant_type": "client_credentials"}
    assert (
        client.post("/api/v1/oauth/token", data=form, headers=basic(client_id, old)).status_code
        == 401
    )
    assert (
        client.post("/api/v1/oauth/token", data=form, headers=basic(client_id, new)).status_code
        == 200
    )
    revoked = runner.invoke(args=["software", "revoke", client_id])
    assert revoked.exit_code == 0 and "tokens are ended" in revoked.output
    assert (
        client.post("/api/v1/oauth/token", data=form, headers=basic(client_id, new)).status_code
        == 401
    )
    assert "revoked" in runner.invoke(args=["software", "list"]).output
    assert runner.invoke(args=["software", "revoke", "sw_nobody"]).exit_code == 1
    assert events(app, "software_secret_rotated") and events(app, "software_revoked")


def test_practices_add_list_assign(app, runner, db_session):
    add_account(db_session, Role.PRESCRIBER)

    added = runner.invoke(
        args=["practices", "add", "Cabinet des Quais", "--identifier", "330012345"]
    )

    assert added.exit_code == 0, added.output
    practice_id = int(re.search(r"id (\d+)", added.output).group(1))
    assert "Cabinet des Quais" in runner.invoke(args=["practices", "list"]).output
    assigned = runner.invoke(args=["practices", "assign", PRESCRIBER_RPPS, str(practice_id)])
    assert assigned.exit_code == 0, assigned.output
    db_session.expire_all()
    assert db_session.scalar(select(Prescriber.practice_id)) == practice_id
    assert runner.invoke(args=["practices", "assign", PRESCRIBER_RPPS, "999"]).exit_code == 1
    assert runner.invoke(args=["practices", "add", "Autre", "--identifier", "12"]).exit_code == 1
    assert events(app, "practice_created") and events(app, "practice_assigned")


def test_a_practice_client_registered_from_the_cli(runner, db_session):
    with operator(db_session) as uow:
        practice = practices.add(uow, name="Maison de santé")
    result = runner.invoke(
        args=[
            "software", "register", "--name", "MedLogic", "--vendor", "Acme", "--version", "4",
            "--practice", str(practice.id), "--scopes", "issue,read,events",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = software_clients.client_named(operator(db_session), printed(result.output, "client_id"))
    assert (row.practice_id, row.scopes) == (practice.id, "events issue read")
