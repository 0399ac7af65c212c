"""PS256 and RS256 (prescribers' own keys, external signing): verified with the key type that
fits, an outside CA's revocations apply to what it issued, and signing.crl reads CRLs."""

import base64
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from eprescription.signing import certificates, crl, jws
from eprescription.signing.canonical import canonical_json

NOW = datetime.now(UTC).replace(microsecond=0)
PAYLOAD = canonical_json({"issued_at": NOW.isoformat(), "number": "X"})
NON_REPUDIATION = x509.KeyUsage(
    digital_signature=False,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _name(cn: str, rpps: str | None = None) -> x509.Name:
    extra = [x509.NameAttribute(NameOID.SERIAL_NUMBER, rpps)] if rpps else []
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), *extra])


@pytest.fixture(scope="module")
def outside():
    """An RSA CA and an RSA card certificate (nonRepudiation only, RPPS 8 + 11 digits)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("AC TEST"))
        .issuer_name(_name("AC TEST"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Claire Martin", "810001234565"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(hours=1))
        .not_valid_after(NOW + timedelta(days=3))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(NON_REPUDIATION, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, ca_key, key, leaf


def token(alg, key, leaf) -> str:
    """Signed by PyJWT, as a prescriber's software would."""
    x5c = [base64.b64encode(certificates.to_der(leaf)).decode()]
    return jwt.api_jws.PyJWS().encode(PAYLOAD, key, algorithm=alg, headers={"x5c": x5c})


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_an_rsa_signature_verifies_against_the_outside_ca(outside, alg):
    ca, _, key, leaf = outside

    report = jws.verify_compact(token(alg, key, leaf), trust_anchors=[ca], now=NOW)

    assert report.valid, report.checks
    assert report.anchor == ca
    assert certificates.rpps_of(leaf) == "10001234565"  # the card's idNat: 8 + RPPS


def test_the_header_algorithm_must_be_the_one_that_signed_and_fit_the_key(outside):
    ca, _, key, leaf = outside
    _, payload, pss_signature = token("PS256", key, leaf).split(".")
    rs256_header = token("RS256", key, leaf).split(".")[0]
    relabelled = f"{rs256_header}.{payload}.{pss_signature}"  # RS256 said, PSS made
    x5c = jws.parse_compact(token("PS256", key, leaf)).header["x5c"]
    ec_key = ec.generate_private_key(ec.SECP256R1())
    es256 = jwt.api_jws.PyJWS().encode(PAYLOAD, ec_key, algorithm="ES256", headers={"x5c": x5c})

    report = jws.verify_compact(relabelled, trust_anchors=[ca], now=NOW)

    assert [c.name for c in report.checks if not c.ok] == ["signature"]
    assert jws.signature_matches(jws.parse_compact(es256), leaf) == (
        "the signer's certificate does not hold a P-256 key (ES256)"
    )


def test_an_outside_cas_crl_revokes_what_it_issued_and_ours_does_not(outside):
    ca, ca_key, key, leaf = outside
    revoked = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(NOW - timedelta(hours=2))
        .next_update(NOW + timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(leaf.serial_number)
            .revocation_date(NOW - timedelta(hours=1))
            .build()
        )
        .sign(ca_key, hashes.SHA256())
    )
    listed = crl.load(crl.to_pem(revoked).encode())
    crl.check_issued_by(listed, ca, NOW)
    entries = crl.revocations(listed)
    ours = {certificates.serial_hex(leaf): jws.Revocation(NOW - timedelta(days=9), "ours")}

    by_crl = jws.verify_compact(
        token("PS256", key, leaf),
        trust_anchors=[ca],
        now=NOW,
        anchor_revocations={jws.fingerprint(ca): entries},
    )
    clean = jws.verify_compact(
        token("PS256", key, leaf),
        trust_anchors=[ca],
        revocations=ours,
        now=NOW,
        anchor_revocations={jws.fingerprint(ca): {}},
    )

    assert [c.name for c in by_crl.checks if not c.ok] == ["revocation"]
    assert clean.valid, clean.checks  # our revocation list does not speak for an outside CA


def test_a_crl_another_key_signed_or_past_its_next_update_is_refused(outside):
    ca, _, _, _ = outside
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(NOW - timedelta(days=2))
    )
    forged = builder.next_update(NOW + timedelta(days=1)).sign(other, hashes.SHA256())
    with pytest.raises(certificates.CertificateRefused, match="not signed by this CA"):
        crl.check_issued_by(forged, ca, NOW)
    with pytest.raises(certificates.CertificateRefused, match="not a readable CRL"):
        crl.load(b"not a CRL")
