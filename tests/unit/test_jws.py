"""JWS ES256 signatures: a round trip verifies; any tampering, a foreign CA, an expired or
revoked certificate does not."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from eprescription.signing import certificates, jws
from eprescription.signing.canonical import canonical_json

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
IDENTITY = certificates.PrescriberIdentity("Claire", "Martin", "10001234565")
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def make_signer(ca=None, *, issued=NOW, validity=certificates.PRESCRIBER_VALIDITY):
    if ca is None:
        ca = certificates.create_ca("Test prescriber CA", issued - timedelta(days=1))
    ca_certificate, ca_key = ca
    key = certificates.generate_key()
    leaf = certificates.issue_prescriber_certificate(
        ca_certificate, ca_key, key.public_key(), IDENTITY, issued, validity
    )
    return key, leaf, ca_certificate


@pytest.fixture(scope="module")
def signer():
    return make_signer()


def content(issued_at=NOW):
    return canonical_json(
        {"number": "ABCD-1234-EFGH-X", "issued_at": issued_at.isoformat(), "items": ["é€"]}
    )


def sign(signer, payload=None):
    key, leaf, ca_certificate = signer
    return jws.sign_compact(payload or content(), key, [leaf, ca_certificate])


def verify(token, anchor, **options):
    return jws.verify_compact(
        token, trust_anchors=[anchor], now=NOW + timedelta(hours=1), **options
    )


def failed(report) -> set[str]:
    return {check.name for check in report.checks if not check.ok}


def test_a_signed_payload_verifies_with_every_check_passed(signer):
    report = verify(sign(signer), signer[2])

    assert report.valid, report.checks
    assert [check.name for check in report.checks] == [
        "signature",
        "chain",
        "validity",
        "revocation",
    ]
    assert report.payload == content()
    assert report.signed_at == NOW


def test_the_jws_carries_es256_the_x5c_chain_and_the_exact_payload_bytes(signer):
    _key, leaf, ca_certificate = signer
    header_part, payload_part, signature_part = sign(signer).split(".")

    header = json.loads(jws.b64url_decode(header_part))
    assert header["alg"] == "ES256"
    assert [base64.b64decode(entry) for entry in header["x5c"]] == [
        certificates.to_der(leaf),
        certificates.to_der(ca_certificate),
    ]
    assert jws.b64url_decode(payload_part) == content()
    assert len(jws.b64url_decode(signature_part)) == 64  # r‖s, not DER (RFC 7518 §3.4)


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_changing_any_character_of_any_part_breaks_the_signature(signer, part):
    token = sign(signer)
    parts = token.split(".")
    for position, character in enumerate(parts[part]):
        replacement = "A" if character != "A" else "B"
        tampered = list(parts)
        tampered[part] = parts[part][:position] + replacement + parts[part][position + 1 :]

        report = verify(".".join(tampered), signer[2])

        assert not report.valid, (part, position)
        assert "signature" in failed(report), (part, position)


def test_changing_any_byte_of_the_payload_breaks_the_signature(signer):
    header_part, payload_part, signature_part = sign(signer).split(".")
    payload = jws.b64url_decode(payload_part)
    for position in range(len(payload)):
        tampered = bytearray(payload)
        tampered[position] ^= 0x01
        token = f"{header_part}.{jws.b64url_encode(bytes(tampered))}.{signature_part}"

        assert "signature" in failed(verify(token, signer[2])), position


def test_a_non_canonical_base64url_spelling_of_the_signature_is_refused(signer):
    header_part, payload_part, signature_part = sign(signer).split(".")
    # 64 bytes take 86 characters: the last one carries 4 unused bits.
    last = B64URL_ALPHABET.index(signature_part[-1])
    twin = signature_part[:-1] + B64URL_ALPHABET[last ^ 0b0001]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(signature_part + "==")

    assert not verify(f"{header_part}.{payload_part}.{twin}", signer[2]).valid


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "not base64!.e30.e30", "é.é.é"],
)
def test_text_that_is_not_a_compact_jws_is_reported_not_valid(signer, token):
    report = verify(token, signer[2])

    assert not report.valid
    assert failed(report) == {"signature", "chain", "validity", "revocation"}


def test_another_algorithm_in_the_header_is_refused(signer):
    _header, payload_part, signature_part = sign(signer).split(".")
    header = jws.b64url_encode(json.dumps({"alg": "none", "x5c": []}).encode())

    assert "signature" in failed(verify(f"{header}.{payload_part}.{signature_part}", signer[2]))


def test_a_certificate_from_another_ca_does_not_chain_to_the_trusted_one(signer):
    # Same CA name, different key: only the signature on the certificate tells them apart.
    impostor = make_signer(certificates.create_ca("Test prescriber CA", NOW - timedelta(days=1)))
    token = sign(impostor)

    report = verify(token, signer[2])

    assert failed(report) == {"chain"}
    assert verify(token, impostor[2]).valid


def test_a_foreign_leaf_with_our_ca_in_x5c_does_not_chain(signer):
    key, leaf, _foreign_ca = make_signer()
    token = jws.sign_compact(content(), key, [leaf, signer[2]])

    assert failed(verify(token, signer[2])) == {"chain"}


def test_a_certificate_expired_at_signing_time_fails_the_validity_check():
    expired = make_signer(issued=NOW - timedelta(days=30), validity=timedelta(days=10))

    report = verify(sign(expired), expired[2])

    assert failed(report) == {"validity"}


def test_a_signing_time_before_the_certificate_fails_the_validity_check(signer):
    report = verify(sign(signer, content(issued_at=NOW - timedelta(days=2))), signer[2])

    assert failed(report) == {"validity"}


def test_a_signing_time_in_the_future_fails_the_validity_check(signer):
    report = verify(sign(signer, content(issued_at=NOW + timedelta(days=2))), signer[2])

    assert failed(report) == {"validity"}


def test_a_certificate_revoked_before_signing_fails(signer):
    serial = certificates.serial_hex(signer[1])
    revoked = {serial: jws.Revocation(NOW - timedelta(minutes=1), "left the practice")}

    report = verify(sign(signer), signer[2], revocations=revoked)

    assert failed(report) == {"revocation"}


def test_a_signature_made_before_the_revocation_stays_valid(signer):
    serial = certificates.serial_hex(signer[1])
    revoked = {serial: jws.Revocation(NOW + timedelta(minutes=1), "left the practice")}

    report = verify(sign(signer), signer[2], revocations=revoked)

    assert report.valid
    assert "after the signing time" in report.checks[-1].detail


def test_after_a_key_compromise_no_signature_of_that_key_is_trusted(signer):
    serial = certificates.serial_hex(signer[1])
    revoked = {serial: jws.Revocation(NOW + timedelta(days=1), "stolen laptop", True)}

    assert failed(verify(sign(signer), signer[2], revocations=revoked)) == {"revocation"}


def test_raw_signatures_convert_to_der_and_back(signer):
    raw = jws.b64url_decode(sign(signer).split(".")[2])

    assert jws.der_to_raw(jws.raw_to_der(raw)) == raw
