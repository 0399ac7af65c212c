"""The prescriber PKI on both engines: `flask pki …`, the PIN's three tries, the trust list."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.domain.errors import (
    CertificateExpired,
    CertificateRevoked,
    NoSigningCredential,
    SigningKeyBlocked,
    WrongPin,
)
from eprescription.models import CertificateAuthority, PrescriberCredential, Role
from eprescription.services import pki
from eprescription.signing import certificates, jws
from eprescription.signing.canonical import canonical_json
from eprescription.signing.keyring import Keyring
from tests.conftest import make_test_app
from tests.integration.people import add_account, operator

USERNAME = "dr.martin"
PIN = "1234"


def payload() -> bytes:
    return canonical_json({"issued_at": datetime.now(UTC).isoformat(), "number": "TEST"})


@pytest.fixture
def prescriber(db_session):
    """An enrolled prescriber (PIN 1234) under a development CA."""
    add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        pki.init_ca(uow)
        prescriber = pki.prescriber_for_username(uow, USERNAME)
        pki.enroll_prescriber(uow, prescriber, PIN)
    return prescriber


def sign(session, prescriber, pin: str, **now) -> str:
    """Sign as `prescriber` in a unit of work of its own (committed, or rolled back)."""
    with operator(session, **now) as uow:
        return pki.sign_as_prescriber(uow, prescriber, pin, payload())


def credential_row(app) -> PrescriberCredential:
    with app.app_context():
        return get_session().scalar(select(PrescriberCredential))


def invoke(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def test_pki_init_creates_a_development_ca_once(app, db_session, runner):
    result = runner.invoke(args=["pki", "init"])

    assert result.exit_code == 0, result.output
    assert "development CA" in result.output
    authority = db_session.scalar(select(CertificateAuthority))
    certificate = certificates.from_pem(authority.certificate_pem)
    assert certificates.is_ca(certificate)
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc > timedelta(days=3000)
    again = runner.invoke(args=["pki", "init"])
    assert again.exit_code != 0 and "already" in again.output


def test_the_ca_private_key_is_stored_only_wrapped(db_session):
    with operator(db_session) as uow:
        authority = pki.init_ca(uow)

    assert b"PRIVATE KEY" not in authority.wrapped_key
    with pytest.raises(Exception, match="KEY_ENCRYPTION_KEY"):
        pki._authority_key(authority, Keyring.of_one(bytes(32)))


def test_a_development_ca_is_refused_in_production_but_an_external_ca_is_imported(
    database_url, runner, tmp_path
):
    # No db_session here: its app context would make the CLI run in the testing app.
    app = make_test_app(
        database_url, ENVIRONMENT="production", SECRET_KEY="s" * 32, KEY_ENCRYPTION_KEY="cd" * 32
    )
    try:
        refused = invoke(app, "pki", "init")
        assert refused.exit_code != 0 and "production" in refused.output

        ca_certificate, ca_key = certificates.create_ca("Agence du Numérique en Santé test", _now())
        (tmp_path / "ca.pem").write_text(certificates.to_pem(ca_certificate))
        (tmp_path / "ca.key").write_bytes(
            ca_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        imported = invoke(
            app,
            "pki",
            "init",
            "--ca-cert",
            str(tmp_path / "ca.pem"),
            "--ca-key",
            str(tmp_path / "ca.key"),
        )
        assert imported.exit_code == 0, imported.output
        assert "Imported the external CA" in imported.output
        with app.app_context():
            add_account(get_session(), Role.PRESCRIBER)
        enrolled = invoke(app, "pki", "enroll", "--username", USERNAME, "--pin", PIN)
        assert enrolled.exit_code == 0, enrolled.output
        leaf = certificates.from_pem(credential_row(app).certificate_pem)
        assert certificates.issued_by(leaf, ca_certificate)
    finally:
        app.extensions["db_engine"].dispose()


def test_an_imported_ca_whose_key_does_not_match_is_refused(db_session, runner, tmp_path):
    ca_certificate, _key = certificates.create_ca("External", _now())
    _other, other_key = certificates.create_ca("Other", _now())
    (tmp_path / "ca.pem").write_text(certificates.to_pem(ca_certificate))
    (tmp_path / "ca.key").write_bytes(
        other_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    result = runner.invoke(
        args=[
            "pki",
            "init",
            "--ca-cert",
            str(tmp_path / "ca.pem"),
            "--ca-key",
            str(tmp_path / "ca.key"),
        ]
    )

    assert result.exit_code != 0 and "does not match" in result.output
    assert db_session.scalar(select(CertificateAuthority)) is None


def test_pki_enroll_issues_a_certificate_naming_the_prescriber_and_their_rpps(
    app, db_session, runner
):
    add_account(db_session, Role.PRESCRIBER)
    assert runner.invoke(args=["pki", "init"]).exit_code == 0

    result = runner.invoke(args=["pki", "enroll", "--username", USERNAME, "--pin", PIN])

    assert result.exit_code == 0, result.output
    row = credential_row(app)
    certificate = certificates.from_pem(row.certificate_pem)
    assert certificates.common_name_of(certificate) == "Claire Martin"
    assert certificates.rpps_of(certificate) == "10001234565"
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=3 * 365) <= lifetime <= timedelta(days=3 * 366)
    assert row.serial == certificates.serial_hex(certificate)
    assert b"PRIVATE KEY" not in row.wrapped_key


def test_pki_enroll_asks_for_the_pin_twice_hidden_when_not_given(app, db_session, runner):
    add_account(db_session, Role.PRESCRIBER)
    runner.invoke(args=["pki", "init"])

    result = runner.invoke(args=["pki", "enroll", "--username", USERNAME], input="4321\n4321\n")

    assert result.exit_code == 0, result.output
    assert "4321" not in result.output
    with app.app_context(), operator(get_session()) as uow:
        prescriber = pki.prescriber_for_username(uow, USERNAME)
        assert pki.sign_as_prescriber(uow, prescriber, "4321", b"{}")


@pytest.mark.parametrize("pin", ["123", "123456789", "12ab", ""])
def test_pki_enroll_refuses_a_pin_that_is_not_4_to_8_digits(app, db_session, runner, pin):
    add_account(db_session, Role.PRESCRIBER)
    runner.invoke(args=["pki", "init"])

    result = runner.invoke(args=["pki", "enroll", "--username", USERNAME, "--pin", pin])

    assert result.exit_code != 0
    assert credential_row(app) is None


def test_pki_enroll_needs_a_ca_a_prescriber_and_no_usable_key_already(app, db_session, runner):
    add_account(db_session, Role.PRESCRIBER)
    no_ca = runner.invoke(args=["pki", "enroll", "--username", USERNAME, "--pin", PIN])
    assert no_ca.exit_code != 0 and "pki init" in no_ca.output
    runner.invoke(args=["pki", "init"])
    unknown = runner.invoke(args=["pki", "enroll", "--username", "nobody", "--pin", PIN])
    assert unknown.exit_code != 0 and "No prescriber" in unknown.output
    assert (
        runner.invoke(args=["pki", "enroll", "--username", USERNAME, "--pin", PIN]).exit_code == 0
    )

    twice = runner.invoke(args=["pki", "enroll", "--username", USERNAME, "--pin", PIN])

    assert twice.exit_code != 0 and "revoke it first" in twice.output


def test_three_wrong_pins_in_a_row_block_the_key_until_an_admin_unblocks_it(
    app, db_session, prescriber
):
    with pytest.raises(WrongPin, match="2 tries left"):
        sign(db_session, prescriber, "0000")
    with pytest.raises(WrongPin, match="1 try left"):
        sign(db_session, prescriber, "0000")
    with pytest.raises(SigningKeyBlocked):
        sign(db_session, prescriber, "0000")
    with pytest.raises(SigningKeyBlocked):
        sign(db_session, prescriber, PIN)
    assert credential_row(app).blocked_at is not None

    result = invoke(app, "pki", "unblock", USERNAME)

    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert sign(db_session, prescriber, PIN)
    assert credential_row(app).failed_pin_attempts == 0


def test_a_wrong_pin_is_counted_even_when_the_callers_transaction_rolls_back(
    app, db_session, prescriber
):
    with pytest.raises(WrongPin) as refused, operator(db_session) as uow:
        pki.sign_as_prescriber(uow, prescriber, "9999", payload())

    assert credential_row(app).failed_pin_attempts == 1
    assert refused.value.code == "wrong_pin" and "pin" in refused.value.errors


def test_the_right_pin_resets_the_count_of_wrong_ones(app, db_session, prescriber):
    for _ in range(2):
        with pytest.raises(WrongPin):
            sign(db_session, prescriber, "0000")
    sign(db_session, prescriber, PIN)

    for _ in range(2):
        with pytest.raises(WrongPin):
            sign(db_session, prescriber, "0000")

    assert credential_row(app).blocked_at is None
    assert sign(db_session, prescriber, PIN)


def test_signatures_made_at_the_same_time_with_the_right_pin_never_block_the_key(
    app, db_session, prescriber
):
    prescriber_id = prescriber.id
    db_session.commit()
    signatures, failures = [], []

    def sign() -> None:
        with app.app_context():
            try:
                with operator(get_session()) as uow:
                    signer = uow.session.get(type(prescriber), prescriber_id)
                    signatures.append(pki.sign_as_prescriber(uow, signer, PIN, payload()))
                    time.sleep(0.1)  # the rest of a use case (storing, auditing) before it commits
            except Exception as error:  # any refusal is the failure this test looks for
                failures.append(repr(error))

    threads = [threading.Thread(target=sign) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(signatures) == 8
    row = credential_row(app)
    assert row.failed_pin_attempts == 0 and row.blocked_at is None


def test_a_malformed_pin_counts_as_a_wrong_one(app, db_session, prescriber):
    with pytest.raises(WrongPin):
        sign(db_session, prescriber, "12")

    assert credential_row(app).failed_pin_attempts == 1


def test_the_signature_made_with_the_right_pin_verifies(db_session, prescriber):
    with operator(db_session) as uow:
        token = pki.sign_as_prescriber(uow, prescriber, PIN, payload())

        report = jws.verify_compact(token, trust_anchors=pki.trust_anchors(uow))

    assert report.valid, report.checks


def test_pki_revoke_stops_the_key_from_signing(app, db_session, prescriber):
    result = invoke(app, "pki", "revoke", USERNAME, "--reason", "left the practice")

    assert result.exit_code == 0, result.output
    db_session.expire_all()
    with pytest.raises(CertificateRevoked) as refused:
        sign(db_session, prescriber, PIN)
    assert refused.value.code == "certificate_revoked"
    row = credential_row(app)
    assert row.revoked_at is not None and row.revocation_reason == "left the practice"
    assert not row.key_compromise
    again = invoke(app, "pki", "revoke", USERNAME, "--reason", "twice")
    assert again.exit_code != 0 and "already revoked" in again.output


def test_after_a_revocation_the_prescriber_can_be_enrolled_again(app, db_session, prescriber):
    invoke(app, "pki", "revoke", USERNAME, "--reason", "forgot the PIN", "--key-compromise")

    result = invoke(app, "pki", "enroll", "--username", USERNAME, "--pin", "87654321")

    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert sign(db_session, prescriber, "87654321")


def test_an_expired_certificate_cannot_sign(db_session, prescriber):
    later = _now() + timedelta(days=4 * 365)

    with pytest.raises(CertificateExpired) as refused:
        sign(db_session, prescriber, PIN, now=later)

    assert refused.value.code == "certificate_expired"


def test_a_prescriber_without_a_key_cannot_sign(db_session):
    add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        prescriber = pki.prescriber_for_username(uow, USERNAME)

    with pytest.raises(NoSigningCredential):
        sign(db_session, prescriber, PIN)


def test_the_trust_list_publishes_the_ca_the_prescriber_certificates_and_revocations(
    app, client, db_session, prescriber
):
    invoke(app, "pki", "revoke", USERNAME, "--reason", "left the practice")
    invoke(app, "pki", "enroll", "--username", USERNAME, "--pin", PIN)

    response = client.get("/api/v1/trust/certificates")

    assert response.status_code == 200
    body = response.get_json()
    (authority,) = body["authorities"]
    ca_certificate = certificates.from_pem(authority["pem"])
    assert authority["kind"] == "ca" and certificates.is_ca(ca_certificate)
    assert [c["status"] for c in body["certificates"]] == ["revoked", "valid"]
    for published in body["certificates"]:
        leaf = certificates.from_pem(published["pem"])
        assert certificates.issued_by(leaf, ca_certificate)
        assert published["rpps"] == "10001234565"
        assert published["serial"] == certificates.serial_hex(leaf)
    (revocation,) = body["revocations"]
    assert revocation["serial"] == body["certificates"][0]["serial"]
    assert revocation["reason"] == "left the practice"
    assert revocation["revoked_at"]


def test_the_trust_list_needs_no_login_and_is_empty_before_pki_init(client):
    response = client.get("/api/v1/trust/certificates")

    assert response.status_code == 200
    assert response.get_json() == {"authorities": [], "certificates": [], "revocations": []}


def _now() -> datetime:
    return datetime.now(UTC)
