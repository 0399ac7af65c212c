"""Never a 500 from outside input (issue 10, item 5): each input that answered 500 now gets its
documented refusal, on both engines, and a corrupted stored document takes no page down."""

import base64
import json
import re
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

import eprescription
from eprescription.db import get_session
from eprescription.models import Prescriber, Prescription, Role
from eprescription.services import accounts, pki
from eprescription.services.accounts import PersonDetails
from eprescription.signing.canonical import canonical_json
from eprescription.signing.jws import b64url_encode
from tests.integration.people import PASSWORD, operator
from tests.integration.seeded_app import LOGINS, PATIENT_NIR, dispose, seeded_app
from tests.integration.test_security_headers import url_of

PROBLEM = "application/problem+json"
DEEP = "[" * 5000 + "]" * 5000
DEMO_PIN = "1234"


@pytest.fixture(scope="module")
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("robustness"))
    yield seeded
    dispose(seeded, url)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == code
    return response.get_json()


@pytest.fixture(scope="module")
def pages(seeded) -> dict:
    """A browser-like client per role, logged in once."""
    found = {}
    for role, (username, password) in LOGINS.items():
        client = seeded.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        login = client.post("/login", data={"username": username, "password": password})
        assert login.status_code in (302, 303), login.get_data(as_text=True)[:300]
        found[role] = client
    return found


@contextmanager
def stored(seeded, number: str, **values):
    """The prescription row `number` with `values` stored in place of its own, for a while."""
    with seeded.app.app_context():
        session = get_session()
        row = session.scalar(select(Prescription).where(Prescription.number == number))
        kept = {name: getattr(row, name) for name in values}
        session.execute(update(Prescription).where(Prescription.id == row.id).values(**values))
        session.commit()
    try:
        yield
    finally:
        with seeded.app.app_context():
            session = get_session()
            session.execute(
                update(Prescription).where(Prescription.number == number).values(**kept)
            )
            session.commit()


def stored_row(seeded, number: str) -> tuple[str, bytes]:
    with seeded.app.app_context():
        row = get_session().scalar(select(Prescription).where(Prescription.number == number))
        return row.jws, row.payload


def with_bad_certificate_version(token: str) -> str:
    """The JWS with its leaf certificate's version byte set to 7 (X.509 knows 0 to 2); the
    signature no longer matters: reading the certificate is what failed."""
    header_part, payload_part, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=="))
    der = bytearray(base64.b64decode(header["x5c"][0]))
    version = der.find(bytes([0xA0, 0x03, 0x02, 0x01, 0x02]))
    assert version > 0
    der[version + 4] = 0x07
    header["x5c"][0] = base64.b64encode(bytes(der)).decode()
    return f"{b64url_encode(canonical_json(header))}.{payload_part}.{signature}"


def qr_text(seeded, number: str) -> str:
    client = seeded.app.test_client()
    detail = client.get(f"/api/v1/me/prescriptions/{number}", headers=seeded.bearer("patient"))
    return detail.get_json()["qr_text"]


# -- certificates that do not parse -----------------------------------------------------------


def test_an_x5c_certificate_with_an_invalid_version_is_reported_not_valid(seeded):
    token, _payload = stored_row(seeded, seeded.values["number"])

    response = seeded.app.test_client().post(
        "/api/v1/verify", json={"jws": with_bad_certificate_version(token)}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is False
    assert "not a readable DER certificate" in body["checks"][0]["detail"]


def test_a_stored_row_whose_certificate_does_not_parse_is_refused_at_the_counter(seeded, pages):
    number = seeded.values["number"]
    code = qr_text(seeded, number)
    token, _payload = stored_row(seeded, number)

    with stored(seeded, number, jws=with_bad_certificate_version(token)):
        api = seeded.app.test_client().post(
            "/api/v1/pharmacy/scan", json={"code": code}, headers=seeded.bearer("pharmacist")
        )
        page = pages["pharmacist"].post("/pharmacy/scan", data={"code": code})

    assert_problem(api, 409, "prescription_signature_invalid")
    assert page.status_code == 409
    assert "cannot be verified" in page.get_data(as_text=True)


# -- JSON nested too deep ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/pharmacy/scan", "/pharmacy/scan"])
def test_json_nested_5000_deep_is_refused_before_parsing(seeded, pages, path):
    client = pages["pharmacist"]

    response = client.post(
        path, data=DEEP, content_type="application/json", headers=seeded.bearer("pharmacist")
    )

    if path.startswith("/api/"):
        assert_problem(response, 400, "json_too_deep")
    else:  # a page answers with a page
        assert response.status_code == 400
        assert "nested too deeply" in response.get_data(as_text=True)


def test_a_jws_whose_payload_nests_5000_deep_is_reported_not_valid(seeded):
    token, _payload = stored_row(seeded, seeded.values["number"])
    header, _, signature = token.split(".")
    deep_payload = b64url_encode(DEEP.encode())

    response = seeded.app.test_client().post(
        "/api/v1/verify", json={"jws": f"{header}.{deep_payload}.{signature}"}
    )

    assert response.status_code == 200
    assert response.get_json()["valid"] is False


# -- NUL characters and bytes that are not UTF-8 ----------------------------------------------


def test_a_nul_byte_in_the_username_is_a_validation_error(seeded):
    response = seeded.app.test_client().post(
        "/api/v1/auth/token", json={"username": "demo-\x00patient", "password": "x"}
    )

    problem = assert_problem(response, 422, "invalid_characters")
    assert set(problem["errors"]) == {"username"}


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("POST", "/login", {"username": "demo\x00", "password": "x"}),
        ("GET", "/me/prescriptions/AB%00CD", None),
        ("GET", "/api/v1/medications?q=amlo%00dipine", None),
        ("POST", "/pharmacy/scan", {"number": "K7QM\x00", "patient_nir": PATIENT_NIR}),
    ],
)
def test_a_nul_byte_in_a_form_a_path_or_a_query_is_refused(seeded, pages, method, path, fields):
    client = pages["pharmacist"]

    response = client.open(path, method=method, data=fields, headers=seeded.bearer("pharmacist"))

    assert response.status_code == 422, response.get_data(as_text=True)[:300]


def test_a_json_body_that_is_not_utf8_is_refused(seeded):
    response = seeded.app.test_client().post(
        "/api/v1/auth/token",
        data=b'{"username": "demo-\xff\xfe", "password": "x"}',
        content_type="application/json",
    )

    assert_problem(response, 422, "invalid_characters")


def test_a_form_that_is_not_utf8_is_refused(seeded):
    response = seeded.app.test_client().post(
        "/login",
        data=b"username=demo%FF%FE&password=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 422


# -- page numbers past any list ----------------------------------------------------------------

HUGE = "99999999999999999999"  # past a 64-bit OFFSET (PostgreSQL's DataError, found by the fuzz)


@pytest.mark.parametrize(
    ("role", "method", "path", "form"),
    [
        ("prescriber", "POST", "/prescriber/prescriptions", {"page": HUGE}),
        ("prescriber", "GET", f"/prescriber/prescriptions?page={HUGE}", None),
        ("patient", "GET", f"/me/access-log?page={HUGE}", None),
        ("pharmacist", "GET", f"/pharmacy/dispensations?page={HUGE}", None),
    ],
)
def test_a_page_number_past_any_list_is_refused_or_empty_never_a_5xx(
    seeded, pages, role, method, path, form
):
    response = pages[role].open(path, method=method, data=form)

    assert response.status_code in (200, 422), response.get_data(as_text=True)[:300]


# -- a corrupted stored document --------------------------------------------------------------


def test_a_validly_signed_document_of_another_shape_shows_on_its_own_card(seeded, pages):
    """A new prescription's signed content lacks the patient's given name (no column repeats
    it): that card cannot be verified, the demo one shows as usual, nothing answers 500."""
    other = seeded.app.test_client().post(
        "/api/v1/prescriptions",
        json={
            "patient_nir": PATIENT_NIR,
            "pin": DEMO_PIN,
            "items": [{"cis": "68634000", "dosage_text": "1 comprimé si douleur", "quantity": 1}],
        },
        headers=seeded.bearer("prescriber"),
    )
    assert other.status_code == 201, other.get_json()
    number = other.get_json()["id"]
    _token, payload = stored_row(seeded, number)
    content = json.loads(payload)
    del content["patient"]["given_name"]
    corrupted = canonical_json(content)
    with seeded.app.app_context():
        session = get_session()
        row = session.scalar(select(Prescription).where(Prescription.number == number))
        with operator(session) as uow:
            prescriber = uow.session.get(Prescriber, row.prescriber_id)
            resigned = pki.sign_as_prescriber(uow, prescriber, DEMO_PIN, corrupted)

    with stored(seeded, number, payload=corrupted, jws=resigned):
        page = pages["patient"].get("/me")
        history = pages["patient"].get("/me/history")
        api = seeded.app.test_client().get(
            "/api/v1/me/prescriptions", headers=seeded.bearer("patient")
        )

    assert page.status_code == 200 and history.status_code == 200
    text = page.get_data(as_text=True) + history.get_data(as_text=True)
    assert "This prescription cannot be verified" in text
    assert "AMLODIPINE BIOGARAN 5 mg" in text
    assert api.status_code == 200
    cards = {card["id"]: card for card in api.get_json()["items"]}
    assert cards[seeded.values["number"]]["verified"] is True
    assert cards[number]["verified"] is False
    assert cards[number]["verification_problems"] == [
        "the signed content is not a prescription as this service signs them"
    ]


# -- over-long names --------------------------------------------------------------------------


def test_pki_enroll_shortens_a_prescriber_name_longer_than_x509_allows(app, db_session, runner):
    given, family = "Marie-Élisabeth Anne-Charlotte Bernadette", "de La Tour d'Auvergne-Lauragais"
    with operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="dr.longname",
            password=PASSWORD,
            role=Role.PRESCRIBER,
            person=PersonDetails("172116912304521", given, family, date(1972, 11, 5)),
            rpps="10001234565",
            specialty="General practice",
        )
    assert runner.invoke(args=["pki", "init"]).exit_code == 0

    result = runner.invoke(args=["pki", "enroll", "--username", "dr.longname", "--pin", "1234"])

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    with operator(db_session) as uow:
        prescriber = pki.prescriber_for_username(uow, "dr.longname")
        pem = pki.current_credential(uow, prescriber).certificate_pem
        token = pki.sign_as_prescriber(uow, prescriber, "1234", b'{"issued_at": null}')
    subject = x509.load_pem_x509_certificate(pem.encode()).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "M.-É. A.-C. B. de La Tour d'Auvergne-Lauragais"
    )
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == given
    assert subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == family
    assert token.count(".") == 2


def test_pki_init_refuses_a_ca_name_longer_than_x509_allows_without_a_traceback(runner):
    result = runner.invoke(args=["pki", "init", "--common-name", "C" * 65])

    assert result.exit_code != 0
    assert "1 to 64 characters" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- any form field ---------------------------------------------------------------------------

TEMPLATES = Path(eprescription.__file__).parent / "web" / "templates"
FORM_FIELDS = sorted(
    {
        name
        for template in TEMPLATES.rglob("*.html")
        for name in re.findall(r'\bname="([a-z_0-9\[\]-]+)"', template.read_text(encoding="utf-8"))
    }
)
form_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["1234", PATIENT_NIR, "0", "-1", "99999999999999999999", "2026-02-30", "on", ""]
)


def post_any_forms(clients: dict, path: str) -> list[str]:
    """The 5xx answers of `path` to forms hypothesis makes, sent by each of `clients`."""
    failures = []

    @settings(max_examples=10, deadline=None, database=None)
    @given(
        form=st.dictionaries(st.sampled_from(FORM_FIELDS), form_values, max_size=8),
        role=st.sampled_from(sorted(clients)),
    )
    def post(form, role):
        response = clients[role].post(path, data=form)
        if response.status_code >= 500:
            failures.append(f"{role} POST {path} {form} → {response.status_code}")

    post()
    return failures


def test_any_form_sent_to_any_page_is_answered_without_a_5xx(seeded, pages):
    """Every page that takes a POST, given forms made of the pages' own field names with any
    text, by each role and by nobody: refusals, never a 5xx."""
    assert len(FORM_FIELDS) > 20
    clients = {**pages, "anonymous": seeded.app.test_client()}
    rules = [
        rule
        for rule in seeded.app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith(("/api/", "/fhir/", "/logout"))
    ]

    failures = [f for rule in rules for f in post_any_forms(clients, url_of(rule, seeded.values))]

    assert len(rules) >= 10
    assert not failures, "\n".join(failures)
