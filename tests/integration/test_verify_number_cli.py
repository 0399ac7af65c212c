"""`flask verify NUMBER`: a stored prescription is checked, its payload against the stored one."""

from sqlalchemy import select

from eprescription.models import Prescription
from tests.integration.test_prescriptions_api import issue, people, products  # noqa: F401


def test_flask_verify_number_passes_every_check_of_a_stored_prescription(
    app,
    client,
    people,  # noqa: F811
    products,  # noqa: F811
):
    issued = issue(client, people, products)

    result = app.test_cli_runner().invoke(args=["verify", issued["number"]])

    assert result.exit_code == 0, result.output
    for name in ("signature", "chain", "validity", "revocation", "payload"):
        assert f"ok   {name}:" in result.output
    assert "The signature is valid." in result.output


def test_flask_verify_number_fails_when_the_stored_content_was_altered(
    app,
    client,
    db_session,
    people,  # noqa: F811
    products,  # noqa: F811
):
    issued = issue(client, people, products)
    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    stored.payload = stored.payload.replace(b'"renewals":', b'"renewals": ')
    db_session.commit()

    result = app.test_cli_runner().invoke(args=["verify", issued["number"]])

    assert result.exit_code == 1
    assert "FAIL payload:" in result.output


def test_flask_verify_refuses_an_unknown_number(app, db_session):
    result = app.test_cli_runner().invoke(args=["verify", "NOPE-NOPE"])

    assert result.exit_code != 0
