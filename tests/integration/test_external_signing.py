"""External signing on both engines: prepare, sign outside with the prescriber's own key (a CA
and certificates made here with `cryptography`, signed by PyJWT), submit; every refusal has its
code and stores nothing; an accepted one scans, verifies on every face and with PyJWT."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from sqlalchemy import func, select, update

from eprescription.models import AuditEvent, PrescriberCrl, Prescription, ServiceKey
from eprescription.services import pki, verification
from eprescription.signing.canonical import canonical_json
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import operator
from tests.integration.test_prescriptions_api import PATIENT_NIR, assert_problem

people = prescribing.people
products = prescribing.products
pharmacist = dispensing.pharmacist

RPPS = "10001234565"  # dr.martin's, the caller's (tests/integration/people.py)
PREPARE = "/api/v1/prescriptions/prepare"
SIGNED = "/api/v1/prescriptions/signed"
HOUR = timedelta(hours=1)


def now() -> datetime:
    return datetime.now(UTC)


def new_key(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str, rpps: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if rpps is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, rpps))
    return x509.Name(attributes)


def _usage(**enabled) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: enabled.get(name, False) for name in names})


class OutsideCa:
    """A CA of health professional cards, as an outside authority runs it."""

    def __init__(
        self,
        common_name="AC TEST IGC-SANTE PERSONNES",
        alg="ES256",
        issuer: "OutsideCa | None" = None,
        path_length: int | None = 0,
        ca=True,
        usage=None,
        not_after=None,
    ):
        """A root; or, with `issuer`, an intermediate CA it issued (IGC-Santé: root →
        "AC IGC-SANTE FORTE PERSONNES" → cards)."""
        self.key = new_key(alg)
        self.name = _name(common_name)
        self.serial = x509.random_serial_number()
        signer = issuer or self
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(signer.name)
            .public_key(self.key.public_key())
            .serial_number(self.serial)
            .not_valid_before(now() - 24 * HOUR)
            .not_valid_after(not_after or now() + 24 * 365 * HOUR)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(usage or _usage(key_cert_sign=True, crl_sign=True), critical=True)
            .sign(signer.key, hashes.SHA256())
        )

    def intermediate(self, common_name="AC TEST IGC-SANTE FORTE PERSONNES", **options):
        return OutsideCa(common_name, issuer=self, **options)

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def card(
        self,
        alg="ES256",
        rpps=RPPS,
        not_before=None,
        not_after=None,
        usage=None,
        serial=None,
        ocsp_url=None,
    ) -> tuple[object, x509.Certificate]:
        """A prescriber's key and certificate (subject serialNumber = the RPPS); `ocsp_url`:
        the responder it names (authorityInfoAccess)."""
        key = new_key(alg)
        builder = x509.CertificateBuilder()
        if ocsp_url is not None:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
        certificate = (
            builder.subject_name(_name("Claire Martin", rpps))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before or now() - HOUR)
            .not_valid_after(not_after or now() + 24 * 365 * HOUR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage or _usage(content_commitment=True), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return key, certificate

    def crl(self, revoked=(), next_update=None) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.name)
            .last_update(now() - HOUR)
            .next_update(next_update or now() + 24 * HOUR)
        )
        for certificate in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(certificate.serial_number)
                .revocation_date(now() - HOUR)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def x5c(*chain: x509.Certificate) -> list[str]:
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain]


def sign(payload: bytes, key, chain: list[str], alg: str) -> str:
    """What the prescriber's software does: PyJWT, not this service's code."""
    return jwt.api_jws.PyJWS().encode(payload, key, algorithm=alg, headers={"x5c": chain})


def request_body(products) -> dict:
    body = prescribing.body(products)
    del body["pin"]
    return body


@pytest.fixture
def outside(tmp_path, runner, people):
    """An outside CA the operator trusted (`flask pki trust add`) with its CRL loaded."""
    ca = OutsideCa()
    trust(runner, tmp_path, ca)
    load_crl(runner, tmp_path, ca.crl())
    return ca


def trust(runner, tmp_path, ca: OutsideCa) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.pem())
    result = runner.invoke(args=["pki", "trust", "add", str(path)])
    assert result.exit_code == 0, result.output


def load_crl(runner, tmp_path, crl: bytes):
    path = tmp_path / "ca.crl"
    path.write_bytes(crl)
    return runner.invoke(args=["pki", "crl", "load", str(path)])


def prepare(client, people, products, **extra) -> dict:
    response = client.post(
        PREPARE, json={**request_body(products), **extra}, headers=people["doctor"]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def submit(client, people, products, token: str):
    return client.post(
        SIGNED, json={**request_body(products), "jws": token}, headers=people["doctor"]
    )


def prescriptions(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Prescription))


def refused(client, db_session, people, products, token: str, code: str) -> dict:
    """The submission is refused with `code`, nothing stored, the refusal audited."""
    problem = assert_problem(submit(client, people, products, token), 422, code)
    assert prescriptions(db_session) == 0
    outcomes = db_session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "issue"))
    assert code in list(outcomes)
    return problem


# -- prepare ----------------------------------------------------------------------------------


def test_prepare_gives_the_canonical_payload_and_stores_nothing(
    client, db_session, people, products
):
    prepared = prepare(client, people, products)

    payload = prepared["payload"].encode()
    content = json.loads(payload)
    assert canonical_json(content) == payload
    assert base64.urlsafe_b64decode(prepared["payload_b64url"] + "==") == payload
    assert content["number"] == prepared["number"]
    assert content["prescriber"]["rpps"] == RPPS
    assert content["patient"]["identifier"]["value"] == PATIENT_NIR
    assert [item["quantity"] for item in content["items"]] == [1, 2]
    assert prepared["protected_header"] == {"alg": "ES256", "typ": "JOSE"}
    assert prepared["signing_input"] is None
    assert prescriptions(db_session) == 0


def test_prepare_with_x5c_gives_the_exact_signing_input(client, people, products, outside):
    _, certificate = outside.card()
    chain = x5c(certificate)

    prepared = prepare(client, people, products, alg="PS256", x5c=chain)

    header = {"alg": "PS256", "typ": "JOSE", "x5c": chain}
    assert prepared["protected_header"] == header
    encoded = base64.urlsafe_b64encode(canonical_json(header)).rstrip(b"=").decode()
    assert prepared["signing_input"] == f"{encoded}.{prepared['payload_b64url']}"


def test_prepare_runs_the_checks_of_issuing(client, people, products):
    body = {**request_body(products), "patient_nir": "not a nir"}
    response = client.post(PREPARE, json=body, headers=people["doctor"])
    assert response.status_code == 422


# -- accepted ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256"])
def test_a_prescription_signed_with_the_prescribers_own_key_is_issued_and_verifies_everywhere(
    client, db_session, runner, people, products, outside, pharmacist, alg
):
    key, certificate = outside.card(alg)
    prepared = prepare(client, people, products, alg=alg)
    token = sign(prepared["payload"].encode(), key, x5c(certificate), alg)

    response = submit(client, people, products, token)

    assert response.status_code == 201, response.get_data(as_text=True)
    issued = response.get_json()
    assert issued["id"] == prepared["number"] and issued["status"] == "active"
    assert issued["jws"] == token  # the doctor's signature is the one stored
    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    assert stored.payload == prepared["payload"].encode()
    # The patient's health space and the prescriber's read verify it.
    mine = client.get("/api/v1/me/prescriptions", headers=people["patient"]).get_json()
    assert [(p["id"], p["verified"]) for p in mine["items"]] == [(issued["id"], True)]
    read = client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])
    assert read.status_code == 200 and read.get_json()["verified"] is True
    # The pharmacist scans it.
    scan = client.post(dispensing.SCAN, json={"code": issued["qr_text"]}, headers=pharmacist)
    assert scan.status_code == 200, scan.get_data(as_text=True)
    assert scan.get_json()["signature"]["valid"] is True
    # `flask verify NUMBER`, and POST /api/v1/verify.
    result = runner.invoke(args=["verify", issued["id"]])
    assert result.exit_code == 0, result.output
    assert "ok   binding" in result.output
    verified = client.post("/api/v1/verify", json={"jws": token}).get_json()
    assert verified["valid"] is True and verified["signer"]["rpps"] == RPPS
    # An independent verifier with the published trust list.
    trust_list = client.get("/api/v1/trust/certificates").get_json()
    (published,) = [a for a in trust_list["authorities"] if a["kind"] == "prescriber_ca"]
    assert published["status"] == "trusted" and published["crl"]["status"] == "current"
    ca = x509.load_pem_x509_certificate(published["pem"].encode())
    header = jwt.get_unverified_header(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    decoded = jwt.api_jws.PyJWS().decode_complete(token, key=leaf.public_key(), algorithms=[alg])
    assert decoded["payload"] == stored.payload
    leaf.verify_directly_issued_by(ca)


def test_a_card_certificate_with_the_national_identifier_8_rpps_is_the_prescribers(
    client, people, products, outside
):
    key, certificate = outside.card(rpps="8" + RPPS)
    prepared = prepare(client, people, products)

    response = submit(
        client, people, products, sign(prepared["payload"].encode(), key, x5c(certificate), "ES256")
    )

    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(
    client, db_session, people, products, outside
):
    key, certificate = outside.card()
    prepared = prepare(client, people, products)
    token = sign(prepared["payload"].encode(), key, x5c(certificate), "ES256")
    body = {**request_body(products), "jws": token}
    headers = {**people["doctor"], "Idempotency-Key": "submit-1"}

    first = client.post(SIGNED, json=body, headers=headers)
    again = client.post(SIGNED, json=body, headers=headers)

    assert first.status_code == again.status_code == 201, first.get_data(as_text=True)
    assert again.get_data() == first.get_data()
    assert prescriptions(db_session) == 1


def test_the_same_signed_prescription_sent_twice_is_stored_once(
    client, db_session, people, products, outside
):
    key, certificate = outside.card()
    prepared = prepare(client, people, products)
    token = sign(prepared["payload"].encode(), key, x5c(certificate), "ES256")
    assert submit(client, people, products, token).status_code == 201

    assert_problem(submit(client, people, products, token), 409, "prescription_number_taken")
    assert prescriptions(db_session) == 1


# -- refused ----------------------------------------------------------------------------------


def signed_by(client, people, products, key, certificate, alg="ES256", chain=None) -> str:
    prepared = prepare(client, people, products)
    return sign(prepared["payload"].encode(), key, chain or x5c(certificate), alg)


def test_a_certificate_from_a_ca_nobody_trusted_is_refused(
    client, db_session, people, products, outside
):
    key, certificate = OutsideCa("AC INCONNUE").card()
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_certificate_untrusted")


def test_an_expired_certificate_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card(not_before=now() - 48 * HOUR, not_after=now() - 24 * HOUR)
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_certificate_expired")


def test_a_certificate_not_yet_valid_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card(not_before=now() + 24 * HOUR)
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_certificate_not_yet_valid")


def test_a_certificate_the_crl_lists_is_refused(
    client, db_session, runner, tmp_path, people, products, outside
):
    key, certificate = outside.card()
    result = load_crl(runner, tmp_path, outside.crl(revoked=[certificate]))
    assert result.exit_code == 0, result.output
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_certificate_revoked")


def test_without_a_crl_nobody_can_tell_and_it_is_refused(
    client, db_session, runner, tmp_path, people, products
):
    ca = OutsideCa()
    trust(runner, tmp_path, ca)
    key, certificate = ca.card()
    token = signed_by(client, people, products, key, certificate)

    problem = refused(client, db_session, people, products, token, "signer_revocation_unknown")
    assert "no CRL" in problem["detail"]


def test_a_crl_past_its_next_update_cannot_tell_either(
    client, db_session, people, products, outside
):
    db_session.execute(update(PrescriberCrl).values(next_update=now() - HOUR))
    db_session.commit()
    key, certificate = outside.card()
    token = signed_by(client, people, products, key, certificate)

    problem = refused(client, db_session, people, products, token, "signer_revocation_unknown")
    assert "out of date" in problem["detail"]


def test_a_certificate_that_is_not_for_signatures_is_refused(
    client, db_session, people, products, outside
):
    key, certificate = outside.card(usage=_usage(key_encipherment=True))
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_key_usage_refused")


def test_another_prescribers_certificate_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card(rpps=prescribing.make_rpps("1000999999"))
    token = signed_by(client, people, products, key, certificate)

    refused(client, db_session, people, products, token, "signer_rpps_mismatch")


def test_a_payload_changed_after_prepare_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card()
    content = json.loads(prepare(client, people, products)["payload"])
    content["items"][0]["quantity"] = 9
    token = sign(canonical_json(content), key, x5c(certificate), "ES256")

    problem = refused(client, db_session, people, products, token, "signed_payload_mismatch")
    assert problem["detail"].endswith("in: items")


def test_a_body_other_than_the_prepared_one_is_refused(
    client, db_session, people, products, outside
):
    key, certificate = outside.card()
    token = signed_by(client, people, products, key, certificate)
    body = {**request_body(products), "renewals": 1, "jws": token}

    response = client.post(SIGNED, json=body, headers=people["doctor"])

    assert_problem(response, 422, "signed_payload_mismatch")
    assert prescriptions(db_session) == 0


def test_a_signing_time_too_far_from_now_is_refused(client, db_session, people, products, outside):
    key, certificate = outside.card()
    content = json.loads(prepare(client, people, products)["payload"])
    content["issued_at"] = (now() - timedelta(minutes=10)).replace(microsecond=0).isoformat()
    token = sign(canonical_json(content), key, x5c(certificate), "ES256")

    refused(client, db_session, people, products, token, "signing_time_out_of_window")


def test_a_signature_that_does_not_match_is_refused(client, db_session, people, products, outside):
    _, certificate = outside.card()
    other_key, _ = outside.card()
    token = signed_by(client, people, products, other_key, certificate)

    refused(client, db_session, people, products, token, "external_signature_mismatch")


def test_what_is_not_a_jws_is_refused(client, db_session, people, products, outside):
    refused(client, db_session, people, products, "a.b", "external_signature_malformed")


def test_the_cli_refuses_a_crl_that_no_trusted_ca_signed(runner, tmp_path, outside):
    result = load_crl(runner, tmp_path, OutsideCa("AC INCONNUE").crl())

    assert result.exit_code == 1
    assert "no CA trusted for prescribers signed this CRL" in result.output


def test_an_outside_certificate_never_counts_as_the_services_own(db_session, outside):
    """Serials are unique per issuer only: one equal to a service key's proves nothing."""
    with operator(db_session) as uow:
        pki.sign_as_service(uow, b"{}")  # the service's first key
    serial = int(db_session.scalar(select(ServiceKey.serial)), 16)
    payload = canonical_json({"issued_at": now().replace(microsecond=0).isoformat()})
    documents = []
    for rpps in (RPPS, None):
        key, certificate = outside.card(rpps=rpps, serial=serial)
        with operator(db_session) as uow:
            token = sign(payload, key, x5c(certificate), "ES256")
            documents.append(verification.document(uow, token, payload))
    with_rpps, without = documents

    assert with_rpps.content is not None and with_rpps.by_service is False
    assert without.content is None  # an outside CA speaks for prescribers only
    assert any("names no RPPS" in problem for problem in without.problems)


def test_the_cli_lists_the_trusted_cas_and_refuses_a_certificate_that_is_no_ca(
    runner, tmp_path, outside
):
    listed = runner.invoke(args=["pki", "trust", "list"])
    _, certificate = outside.card()
    path = tmp_path / "leaf.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    refused_leaf = runner.invoke(args=["pki", "trust", "add", str(path)])

    assert listed.exit_code == 0 and "AC TEST IGC-SANTE PERSONNES" in listed.output
    assert "CRL of" in listed.output and "OUT OF DATE" not in listed.output
    assert refused_leaf.exit_code == 1 and "not a CA" in refused_leaf.output
