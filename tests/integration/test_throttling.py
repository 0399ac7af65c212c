"""Throttles on every guessable secret, on both engines: per client and per target, 429 with
Retry-After and an audit event, in Redis when REDIS_URL is set; guessing against one
prescription never blocks its patient; NIRs out of URLs and the lookups that named anyone."""

import uuid

import pytest
from sqlalchemy import func, select
from stdnum.fr import nir

from eprescription import qr, throttling
from eprescription.domain import prescription_codes as codes
from eprescription.models import AuditEvent, Role
from tests.conftest import make_test_app
from tests.databases import skip_or_fail
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriber_pages as pages
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, PEOPLE
from tests.integration.test_prescriptions_api import PATIENT_NIR, assert_problem, issue

people = prescribing.people
products = prescribing.products
pharmacist = dispensing.pharmacist

SCAN = "/api/v1/pharmacy/scan"
CARD_LOOKUP = "/api/v1/pharmacy/card-lookup"
LOOKUP = "/prescriber/patients/lookup"
PER_CLIENT = 10  # the first window of THROTTLE_GUESSES: 10 per minute
PER_TARGET = 5  # THROTTLE_TARGET_GUESSES: 5 per 10 minutes


def wrong_code(issued: dict) -> str:
    """The prescription's QR text with another access code of the same shape."""
    return qr.encode(issued["number"], codes.new_access_code())


def some_nir(n: int) -> str:
    body = f"2850375{n:06d}"
    return body + nir.calc_check_digits(body)


def throttled_events(session) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "throttled")
    )


def test_a_thousand_wrong_access_codes_from_one_client_meet_429_well_before_the_end(
    client, db_session, people, products, pharmacist
):
    issued = issue(client, people, products)

    statuses = [
        client.post(SCAN, json={"code": wrong_code(issued)}, headers=pharmacist).status_code
        for _ in range(1000)
    ]
    refused = client.post(SCAN, json={"code": wrong_code(issued)}, headers=pharmacist)
    elsewhere = client.post(
        SCAN,
        json={"code": issued["qr_text"]},
        headers=pharmacist,
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )

    assert statuses[:PER_CLIENT] == [404] * PER_CLIENT
    assert set(statuses[PER_CLIENT:]) == {429}
    problem = assert_problem(refused, 429, "too_many_attempts")
    assert "try again in 1 min" in problem["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert throttled_events(db_session) == 1000 - PER_CLIENT + 1
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "throttled")).first()
    assert (event.object_id, event.outcome) == ("prescription_code", "too_many_attempts")
    assert elsewhere.status_code == 200  # another client is not slowed down


def test_nir_guesses_against_one_prescription_stop_there_and_never_block_its_patient(
    client, db_session, people, products, pharmacist
):
    target, other = issue(client, people, products), issue(client, people, products)

    def typed(issued, patient_nir, address):
        return client.post(
            SCAN,
            json={"number": issued["number"], "patient_nir": patient_nir},
            headers=pharmacist,
            environ_base={"REMOTE_ADDR": address},
        )

    # From a different address each time (a botnet): only the per-target count binds.
    guesses = [typed(target, some_nir(n), f"203.0.113.{n + 1}").status_code for n in range(8)]

    assert guesses[:PER_TARGET] == [404] * PER_TARGET
    assert set(guesses[PER_TARGET:]) == {429}
    # The right NIR typed by hand waits too (the number is the target)...
    assert typed(target, PATIENT_NIR, "203.0.113.200").status_code == 429
    # ... but the patient and every other way to their prescription are untouched.
    own = client.get(f"/api/v1/prescriptions/{target['id']}", headers=people["patient"])
    scanned = client.post(SCAN, json={"code": target["qr_text"]}, headers=pharmacist)
    card = client.post(
        CARD_LOOKUP, json={"nir": PATIENT_NIR, "identity_confirmed": True}, headers=pharmacist
    )
    assert own.status_code == 200 and scanned.status_code == 200
    assert target["id"] in {p["id"] for p in card.get_json()["prescriptions"]}
    assert typed(other, PATIENT_NIR, "203.0.113.201").status_code == 200


def test_the_scan_page_says_when_to_try_again(client, db_session, people, products):
    issued = issue(client, people, products)
    dispensing.add_pharmacist(db_session, "ph.bernard")
    client.post("/login", data={"username": "ph.bernard", "password": PASSWORD})
    for _ in range(PER_CLIENT):
        assert client.post("/pharmacy/scan", data={"code": wrong_code(issued)}).status_code == 404

    english = client.post("/pharmacy/scan", data={"code": wrong_code(issued)})
    french = client.post(
        "/pharmacy/scan", data={"code": wrong_code(issued)}, headers={"Accept-Language": "fr"}
    )

    assert english.status_code == 429 and int(english.headers["Retry-After"]) <= 60
    assert "Too many attempts from here: try again in 1 min." in english.get_data(as_text=True)
    assert "Trop de tentatives depuis ce poste" in french.get_data(as_text=True)


def test_card_lookups_that_show_nothing_count_as_guesses(client, db_session, pharmacist):
    answers = [
        client.post(CARD_LOOKUP, json={"nir": some_nir(n)}, headers=pharmacist)
        for n in range(PER_CLIENT + 1)
    ]

    assert [a.status_code for a in answers[:PER_CLIENT]] == [200] * PER_CLIENT
    assert all(a.get_json()["prescriptions"] == [] for a in answers[:PER_CLIENT])
    assert_problem(answers[PER_CLIENT], 429, "too_many_attempts")


def test_the_old_card_lookup_address_answers_410_with_a_pointer(client, db_session, pharmacist):
    response = client.get(f"/api/v1/pharmacy/patients/{PATIENT_NIR}/prescriptions")

    problem = assert_problem(response, 410, "gone")
    assert CARD_LOOKUP in problem["detail"]
    assert response.headers["Link"] == f'<{CARD_LOOKUP}>; rel="successor-version"'
    assert PATIENT_NIR not in response.get_data(as_text=True)


def test_the_card_lookup_answers_a_page_at_a_time(client, db_session, people, products, pharmacist):
    issued = [issue(client, people, products)["id"] for _ in range(3)]
    before = db_session.scalar(select(func.count()).select_from(AuditEvent))

    def page(number: int) -> dict:
        response = client.post(
            CARD_LOOKUP,
            json={"nir": PATIENT_NIR, "page": number, "page_size": 2, "identity_confirmed": True},
            headers=pharmacist,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    first, second = page(1), page(2)
    too_big = client.post(
        CARD_LOOKUP, json={"nir": PATIENT_NIR, "page_size": 51}, headers=pharmacist
    )

    assert [p["id"] for p in first["prescriptions"]] == issued[::-1][:2]
    assert [p["id"] for p in second["prescriptions"]] == issued[::-1][2:]
    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    # Only the prescriptions shown are audited as looked up.
    looked_up = db_session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "lookup_by_card", AuditEvent.object_type == "prescription")
    )
    assert looked_up == 3
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) > before
    assert_problem(too_big, 422, "validation_failed")


# -- the prescriber's patient lookup ------------------------------------------------------------


@pytest.fixture
def doctor_page(client, db_session, people):
    """The prescriber of `people`, logged in on the web pages."""
    login = {"username": PEOPLE[Role.PRESCRIBER][0], "password": PASSWORD}
    assert client.post("/login", data=login).status_code == 302
    client.environ_base["HTTP_ACCEPT"] = "application/json"  # as the form's script asks
    return client


def test_the_patient_lookup_names_only_patients_prescribed_for_before(
    doctor_page, db_session, people, products
):
    client = doctor_page
    nobody = some_nir(1)
    stranger, unknown = (
        client.post(LOOKUP, json={"nir": people["other_patient_nir"]}),
        client.post(LOOKUP, json={"nir": nobody}),
    )
    issue(client, people, products)  # now the doctor prescribed for Camille
    known = client.post(LOOKUP, json={"nir": PATIENT_NIR})

    assert stranger.status_code == unknown.status_code == 403
    assert stranger.get_json()["code"] == "patient_confirmation_required"
    assert {k: v for k, v in stranger.get_json().items() if k != "instance"} == {
        k: v for k, v in unknown.get_json().items() if k != "instance"
    }
    assert known.get_json() == {"name": "Camille Dubois", "birth_date": "1985-03-12"}


def test_a_confirmed_lookup_names_the_patient_is_audited_and_throttled(
    doctor_page, db_session, people
):
    client = doctor_page
    lea = people["other_patient_nir"]

    confirmed = client.post(LOOKUP, json={"nir": lea, "confirmed": True})
    guesses = [
        client.post(LOOKUP, json={"nir": some_nir(n), "confirmed": True}).status_code
        for n in range(PER_CLIENT)
    ]

    assert confirmed.get_json()["name"] == "Léa Roux"
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "lookup", AuditEvent.outcome != "not_found")
    ).one()
    assert event.outcome == "confirmed_by_prescriber"
    assert guesses[: PER_CLIENT - 1] == [404] * (PER_CLIENT - 1)
    assert guesses[-1] == 429


def test_reviews_naming_nirs_nobody_has_are_throttled_like_lookups(
    doctor_page, db_session, people, products
):
    client = doctor_page
    client.environ_base.pop("HTTP_ACCEPT")  # the form's pages, as a browser asks for them

    def review(patient_nir: str):
        return client.post(
            "/prescriber/prescriptions/new",
            data=pages.form(products["doliprane"], patient_nir=patient_nir),
        )

    misses = [review(some_nir(n)) for n in range(PER_CLIENT)]
    refused = review(PATIENT_NIR)

    assert all("no patient is recorded" in m.get_data(as_text=True) for m in misses)
    assert refused.status_code == 429
    assert "Too many attempts from here" in refused.get_data(as_text=True)


# -- a shared store --------------------------------------------------------------------------


def test_with_redis_two_hosts_share_their_counts(database_url, db_session):
    redis_url = "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(redis_url).ping()
    except Exception as error:  # any failure to reach it
        skip_or_fail(f"Redis is not reachable at {redis_url}: {error.__class__.__name__}")
    prefix = f"eprescription-test-{uuid.uuid4().hex[:8]}"
    hosts = [
        make_test_app(database_url, REDIS_URL=redis_url, THROTTLE_KEY_PREFIX=prefix)
        for _ in range(2)
    ]
    try:
        answers = [
            hosts[n % 2]
            .test_client()
            .post("/api/v1/auth/token", json={"username": f"nobody{n}", "password": "x" * 10})
            .status_code
            for n in range(PER_CLIENT + 1)
        ]
        storage = hosts[0].extensions[throttling.EXTENSION].storage
    finally:
        for host in hosts:
            host.extensions["db_engine"].dispose()

    assert answers == [401] * PER_CLIENT + [429]
    assert type(storage).__name__ == "RedisStorage"


def test_the_openapi_document_has_the_card_lookup_in_a_body_and_the_old_path_deprecated(
    client, db_session
):
    document = client.get("/api/openapi.json").get_json()
    paths = document["paths"]

    lookup = paths["/api/v1/pharmacy/card-lookup"]["post"]
    old = paths["/api/v1/pharmacy/patients/{nir}/prescriptions"]["get"]
    reference = lookup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][reference.rsplit("/", 1)[1]]

    assert "nir" in body["required"] and {"page", "page_size"} <= set(body["properties"])
    assert old["deprecated"] is True and "410" in old["responses"]
    assert "get" not in paths["/api/v1/pharmacy/card-lookup"]
