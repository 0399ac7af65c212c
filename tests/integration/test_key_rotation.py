"""Every key rotates on both engines: what the old keys signed or sealed stays readable, and after
`flask keys rewrap` the old key-encryption key can go."""

import base64
import json
import re

import pytest
from sqlalchemy import select

from eprescription.domain.errors import ConfigurationError
from eprescription.models import (
    Prescriber,
    PrescriberCredential,
    Prescription,
    Role,
    ServiceKey,
)
from eprescription.services import pki
from eprescription.signing import keyring, keywrap
from tests.conftest import make_test_app
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, PEOPLE, operator
from tests.integration.test_dispensing_api import dispense, pack_line
from tests.integration.test_prescriptions_api import PIN, issue
from tests.unit.test_keywrap import legacy_blob

people, products = prescribing.people, prescribing.products
packs, pharmacist = dispensing.packs, dispensing.pharmacist
OLD_SECRET_KEY = "test-secret-key"  # make_test_app's


def cli(app, *args: str) -> str:
    """`flask ARGS` on `app` (in its own app context: a command runs in the current one)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def rotated_app(database_url, keyring: str, current: str, **settings):
    return make_test_app(
        database_url,
        KEY_ENCRYPTION_KEY=None,
        KEY_ENCRYPTION_KEYS=keyring,
        KEY_ENCRYPTION_KEY_ID=current,
        **settings,
    )


def header_x5c(jws: str) -> str:
    header = jws.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["x5c"][0]


def qr_text(client, people, number: str) -> str:
    """The patient's QR text, opened from its sealed access code."""
    response = client.get(f"/api/v1/me/prescriptions/{number}", headers=people["patient"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["qr_text"]


def assert_everything_reads(app, people, pharmacist, issued: list[dict], receipts: list[dict]):
    """Every prescription's QR code opens and scans, every prescription, receipt and signed
    tree head verifies, and the audit log is intact."""
    client = app.test_client()
    for prescription in issued:
        text = qr_text(client, people, prescription["id"])
        assert text == prescription["qr_text"]
        assert qr_svg(client, people, prescription["id"]).status_code == 200
        scan = client.post("/api/v1/pharmacy/scan", json={"code": text}, headers=pharmacist)
        assert scan.status_code == 200, scan.get_data(as_text=True)
        assert scan.get_json()["verified"] is True
        assert "ok   binding" in cli(app, "verify", prescription["id"])
    for receipt in receipts:
        report = client.post("/api/v1/verify", json={"jws": receipt["jws"]}).get_json()
        assert report["valid"], report
    cli(app, "audit", "seal")
    head = client.get("/api/v1/audit/checkpoint").get_json()
    assert client.post("/api/v1/verify", json={"jws": head["jws"]}).get_json()["valid"]
    assert "Audit log intact" in cli(app, "audit", "verify")


def qr_svg(client, people, number: str):
    return client.get(f"/api/v1/prescriptions/{number}/qr.svg", headers=people["patient"])


def log_in_patient(client) -> str:
    response = client.post(
        "/login", data={"username": PEOPLE[Role.PATIENT][0], "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get_cookie(client.application.config["SESSION_COOKIE_NAME"]).value


def loads_session(app, cookie: str) -> bool:
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return client.get("/me").status_code == 200


def test_every_key_rotates_and_the_old_key_encryption_key_goes_after_the_rewrap(
    app, database_url, db_session, client, people, products, packs, pharmacist
):
    old_kek = app.config["KEY_ENCRYPTION_KEY"].hex()
    cookie = log_in_patient(app.test_client())
    first = issue(client, people, products)
    receipts = [dispense(client, pharmacist, first, [pack_line(1, packs["doliprane"])]).get_json()]
    cli(app, "audit", "seal")

    # The service key: a new one signs from now on; the old one's receipt and heads still verify.
    assert "New service key" in cli(app, "keys", "rotate", "service")
    receipts.append(
        dispense(client, pharmacist, first, [pack_line(2, packs["amoxicilline"])]).get_json()
    )
    assert header_x5c(receipts[0]["jws"]) != header_x5c(receipts[1]["jws"])
    assert len(db_session.scalars(select(ServiceKey)).all()) == 2

    # The key-encryption key and SECRET_KEY live in the environment: the commands print them.
    printed = cli(app, "keys", "rotate", "kek")
    new_kek = re.search(r",k2:([0-9a-f]{64})\n", printed).group(1)
    assert "KEY_ENCRYPTION_KEY_ID=k2" in printed and old_kek not in printed
    new_secret_key = re.search(
        r"SECRET_KEY=([0-9a-f]{64})\n", cli(app, "keys", "rotate", "secret-key")
    ).group(1)
    rotated = rotated_app(
        database_url,
        f"k1:{old_kek},k2:{new_kek}",
        "k2",
        SECRET_KEY=new_secret_key,
        SECRET_KEY_FALLBACKS=OLD_SECRET_KEY,
    )
    without_k1 = rotated_app(database_url, f"k2:{new_kek}", "k2", SECRET_KEY=new_secret_key)
    try:
        assert loads_session(rotated, cookie)  # signed with the old SECRET_KEY
        assert not loads_session(without_k1, cookie)  # which only the fallback accepts
        rotated_client = rotated.test_client()
        second = issue(rotated_client, people, products)
        with rotated.app_context():
            rows = {
                row.number: row.access_code_key_id
                for row in db_session.scalars(
                    select(Prescription).execution_options(populate_existing=True)
                )
            }
        assert rows == {first["id"]: "k1", second["id"]: "k2"}
        receipts.append(
            dispense(
                rotated_client, pharmacist, second, [pack_line(1, packs["doliprane"])]
            ).get_json()
        )
        assert_everything_reads(rotated, people, pharmacist, [first, second], receipts)
        # Before the rewrap, k2 alone does not open what k1 sealed.
        assert qr_svg(without_k1.test_client(), people, first["id"]).status_code == 409
        assert qr_svg(without_k1.test_client(), people, second["id"]).status_code == 200

        report = cli(rotated, "keys", "rewrap", "--batch-size", "1")
        assert "access_codes: 1 moved to k2" in report
        assert "ca_keys: 1 moved to k2" in report
        assert "service_keys: 2 moved to k2" in report
        # The doctor's key moved when they signed under k2; the other doctor's moves now.
        assert "prescriber_keys: 1 moved to k2" in report
        assert "k1 can be removed from KEY_ENCRYPTION_KEYS" in report
        again = cli(rotated, "keys", "rewrap")
        assert "access_codes: 0 moved" in again and "Nothing left under another key" in again

        # k1 gone: everything still opens, signs and verifies.
        assert_everything_reads(without_k1, people, pharmacist, [first, second], receipts)
        # The other doctor's key, rewrapped without their PIN, opens with it.
        answer = without_k1.test_client().post(
            "/api/v1/prescriptions", json=prescribing.body(products), headers=people["other_doctor"]
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)
        third = answer.get_json()
        assert "New service key" in cli(without_k1, "keys", "rotate", "service")
        receipts.append(
            dispense(
                without_k1.test_client(), pharmacist, third, [pack_line(1, packs["doliprane"])]
            ).get_json()
        )
        assert_everything_reads(without_k1, people, pharmacist, [first, second, third], receipts)
        status = cli(without_k1, "keys", "status")
        assert "k2 (current)" in status and "k1" not in status
    finally:
        for extra in (rotated, without_k1):
            extra.extensions["db_engine"].dispose()


def test_a_legacy_prescriber_key_waits_for_its_pin_and_moves_at_its_next_signature(
    app, database_url, db_session, client, people, products
):
    doctor = people["doctor_account"]
    credential = db_session.scalar(
        select(PrescriberCredential)
        .join(Prescriber, Prescriber.id == PrescriberCredential.prescriber_id)
        .where(Prescriber.person_id == doctor.person_id)
    )
    purpose = f"prescriber:{credential.serial}"
    kek = app.config["KEY_ENCRYPTION_KEY"]
    key = keywrap.unwrap_private_key(
        credential.wrapped_key, server_secret=kek, purpose=purpose, pin=PIN
    )
    credential.wrapped_key = legacy_blob(key, pin=PIN, purpose=purpose, secret=kek)
    db_session.commit()
    new_kek = keyring.new_key().hex()
    rotated = rotated_app(database_url, f"k1:{kek.hex()},k2:{new_kek}", "k2")
    try:
        report = cli(rotated, "keys", "rewrap")
        assert (
            "prescriber_keys: 1 moved to k2, 1 waiting for their prescriber's next signature"
            in report
        )
        assert "Still under k1: keep it in the keyring for now." in report
        assert "in the legacy format (moved at their next signature): 1" in cli(
            rotated, "keys", "status"
        )

        issue(rotated.test_client(), people, products)  # the doctor signs with their PIN

        db_session.refresh(credential)
        assert credential.wrapping_key_id == "k2"
        assert keywrap.format_version(credential.wrapped_key) == keywrap.FORMAT_VERSION
        assert "Nothing left under another key: k1 can be removed" in cli(rotated, "keys", "rewrap")
    finally:
        rotated.extensions["db_engine"].dispose()


def test_a_key_encryption_key_that_does_not_open_a_signing_key_is_not_counted_as_a_wrong_pin(
    db_session, people
):
    doctor = people["doctor_account"]
    prescriber = db_session.scalar(
        select(Prescriber).where(Prescriber.person_id == doctor.person_id)
    )

    for _ in range(pki.MAX_PIN_ATTEMPTS + 1):
        with (
            pytest.raises(ConfigurationError, match="does not open"),
            operator(db_session, key_encryption_key=bytes(32), key_encryption_keys=None) as uow,
        ):
            pki.sign_as_prescriber(uow, prescriber, PIN, b"{}")

    credential = db_session.scalar(
        select(PrescriberCredential)
        .where(PrescriberCredential.prescriber_id == prescriber.id)
        .execution_options(populate_existing=True)
    )
    assert (credential.failed_pin_attempts, credential.blocked_at) == (0, None)
    with operator(db_session) as uow:
        assert pki.sign_as_prescriber(uow, prescriber, PIN, b"{}").count(".") == 2
