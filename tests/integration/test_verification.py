"""Verifying signed documents: POST /api/v1/verify, `flask verify FILE`, and independent
verifiers (PyJWT, jwcrypto, the openssl command line) fed only the published certificates."""

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws

from eprescription.models import Role
from eprescription.services import pki
from eprescription.services.verification import verify_document
from eprescription.signing.canonical import canonical_json
from tests.databases import skip_or_fail
from tests.integration.people import add_account, operator

PIN = "1234"
CONTENT = {
    "number": "K7QM-2XW9-PL4D-8",
    "patient": {"identifier": "285037505612306", "name": "Camille Dubois"},
    "prescriber": {"rpps": "10001234565", "name": "Claire Martin"},
    "items": [{"substance": "paracétamol", "strength": "1 g", "quantity": 2}],
}


@pytest.fixture
def signed(db_session):
    """(jws, payload) signed by an enrolled prescriber under a development CA."""
    add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        pki.init_ca(uow)
    with operator(db_session) as uow:
        prescriber = pki.prescriber_for_username(uow, "dr.martin")
        pki.enroll_prescriber(uow, prescriber, PIN)
    payload = canonical_json({**CONTENT, "issued_at": datetime.now(UTC).isoformat()})
    with operator(db_session) as uow:
        token = pki.sign_as_prescriber(uow, prescriber, PIN, payload)
    return token, payload


def verified(session, token, payload=None):
    """verify_document in a unit of work of its own, as the API and the CLI call it."""
    with operator(session) as uow:
        return verify_document(uow, token, payload)


def published_ca(client) -> x509.Certificate:
    (authority,) = client.get("/api/v1/trust/certificates").get_json()["authorities"]
    return x509.load_pem_x509_certificate(authority["pem"].encode())


def leaf_from_x5c(token: str) -> x509.Certificate:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    return x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))


def test_verify_document_passes_every_check_including_the_stored_payload(db_session, signed):
    token, payload = signed

    report = verified(db_session, token, payload)

    assert report.valid, report.checks
    assert [c.name for c in report.checks] == [
        "signature",
        "chain",
        "validity",
        "revocation",
        "payload",
    ]


def test_verify_document_reports_a_payload_that_differs_from_the_stored_one(db_session, signed):
    token, payload = signed

    report = verified(db_session, token, payload.replace(b"1 g", b"2 g"))

    assert not report.valid
    assert [c.name for c in report.checks if not c.ok] == ["payload"]


def test_a_signature_made_before_its_certificate_was_revoked_stays_valid(db_session, signed):
    token, _payload = signed
    with operator(db_session) as uow:
        pki.revoke(uow, pki.prescriber_for_username(uow, "dr.martin"), "retired")

    report = verified(db_session, token)

    assert report.valid, report.checks
    assert "stays valid" in report.checks[-1].detail


def test_after_a_key_compromise_its_earlier_signatures_fail(db_session, signed):
    token, _payload = signed
    with operator(db_session) as uow:
        prescriber = pki.prescriber_for_username(uow, "dr.martin")
        pki.revoke(uow, prescriber, "stolen", key_compromise=True)

    report = verified(db_session, token)

    assert [c.name for c in report.checks if not c.ok] == ["revocation"]


def test_post_verify_reports_each_check_without_a_login(client, signed):
    token, payload = signed

    response = client.post("/api/v1/verify", json={"jws": token, "payload": payload.decode()})

    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is True
    assert {check["name"]: check["ok"] for check in body["checks"]} == {
        "signature": True,
        "chain": True,
        "validity": True,
        "revocation": True,
        "payload": True,
    }
    assert body["signer"]["rpps"] == "10001234565"


def test_post_verify_says_not_valid_for_a_tampered_jws(client, signed):
    token, _payload = signed
    header, payload_part, signature = token.split(".")
    tampered_payload = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload_part + "==").replace(b"1 g", b"9 g")
    ).rstrip(b"=")

    response = client.post(
        "/api/v1/verify", json={"jws": f"{header}.{tampered_payload.decode()}.{signature}"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is False
    assert [c["name"] for c in body["checks"] if not c["ok"]] == ["signature"]


def test_post_verify_refuses_a_body_without_a_jws(client):
    response = client.post("/api/v1/verify", json={"payload": "{}"})

    assert response.status_code == 422
    assert "jws" in response.get_json()["errors"]


def test_flask_verify_file_prints_each_check(app, signed, tmp_path):
    token, _payload = signed
    (tmp_path / "good.jws").write_text(token + "\n")
    (tmp_path / "bad.jws").write_text(token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"))
    runner = app.test_cli_runner()

    good = runner.invoke(args=["verify", str(tmp_path / "good.jws")])
    bad = runner.invoke(args=["verify", str(tmp_path / "bad.jws")])

    assert good.exit_code == 0, good.output
    for name in ("signature", "chain", "validity", "revocation"):
        assert f"ok   {name}:" in good.output
    assert "The signature is valid." in good.output
    assert bad.exit_code == 1
    assert "FAIL signature:" in bad.output and "NOT valid" in bad.output


def test_pyjwt_verifies_the_signature_with_the_certificate_from_x5c(client, signed):
    token, payload = signed
    leaf = leaf_from_x5c(token)

    decoded = jwt.api_jws.PyJWS().decode_complete(
        token, key=leaf.public_key(), algorithms=["ES256"]
    )

    assert decoded["payload"] == payload
    leaf.verify_directly_issued_by(published_ca(client))  # raises unless our CA signed it


def test_jwcrypto_verifies_the_signature_with_the_certificate_from_x5c(client, signed):
    token, payload = signed
    leaf = leaf_from_x5c(token)
    key = jwk.JWK.from_pem(
        leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    document = jwcrypto_jws.JWS()
    document.deserialize(token)

    document.verify(key, alg="ES256")

    assert document.payload == payload
    assert leaf.issuer == published_ca(client).subject


def test_openssl_verifies_the_signature_and_the_chain(client, signed, tmp_path):
    if shutil.which("openssl") is None:
        skip_or_fail("the openssl command is not installed (Debian: apt-get install openssl)")
    token, _payload = signed
    header, payload_part, signature = token.split(".")
    leaf = leaf_from_x5c(token)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    (tmp_path / "input").write_bytes(f"{header}.{payload_part}".encode())
    (tmp_path / "sig.der").write_bytes(der)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "pubkey.pem").write_bytes(
        leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "ca.pem").write_bytes(published_ca(client).public_bytes(serialization.Encoding.PEM))

    def openssl(*args):
        return subprocess.run(
            ["openssl", *args], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    signature_check = openssl(
        "dgst", "-sha256", "-verify", "pubkey.pem", "-signature", "sig.der", "input"
    )
    chain_check = openssl("verify", "-CAfile", "ca.pem", "leaf.pem")

    assert signature_check.returncode == 0, signature_check.stderr
    assert "Verified OK" in signature_check.stdout
    assert chain_check.returncode == 0, chain_check.stderr
    assert "leaf.pem: OK" in chain_check.stdout
    (tmp_path / "input").write_bytes(f"{header}.{payload_part}x".encode())
    assert (
        openssl(
            "dgst", "-sha256", "-verify", "pubkey.pem", "-signature", "sig.der", "input"
        ).returncode
        != 0
    )
