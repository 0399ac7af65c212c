"""POST /api/v1/oauth/token and /revoke: software clients' tokens, client authentication by
secret and by RFC 7523 assertion (made with PyJWT, an independent implementation), scopes,
revocation and the per-client rate limit, on both engines."""

import base64
import time
import uuid
from urllib.parse import quote_plus

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from eprescription.api import scopes
from eprescription.models import ApiToken, AuditEvent, Role
from eprescription.services import audit, practices, software_clients, software_demo
from tests.integration.people import PASSWORD, add_account, operator

TOKEN_URL = "http://localhost/api/v1/oauth/token"
PRESCRIBER_RPPS = "10001234565"  # people.add_account's prescriber
PHARMACY_FINESS = "330004565"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def practice_client(session, scope_list=("issue", "read", "events"), public_key_pem=None):
    """The prescriber dr.martin in a practice, and a program registered for that practice."""
    add_account(session, Role.PRESCRIBER)
    with operator(session) as uow:
        practice = practices.add(uow, name="Cabinet des Quais", identifier="330012345")
        practices.assign(uow, PRESCRIBER_RPPS, practice.id)
        registered = software_clients.register(
            uow,
            name="MedLogic",
            vendor="Acme Santé",
            version="4.2",
            scopes=list(scope_list),
            practice_id=practice.id,
            public_key_pem=public_key_pem,
        )
    return registered.client.client_id, registered.secret


def pharmacy_client(session, scope_list=("dispense", "read")):
    add_account(session, Role.PHARMACIST)
    with operator(session) as uow:
        registered = software_clients.register(
            uow,
            name="OffiPlus",
            vendor="Pharma Soft",
            version="11",
            scopes=list(scope_list),
            pharmacy_finess=PHARMACY_FINESS,
        )
    return registered.client.client_id, registered.secret


def oauth_error(response, status: int, error: str, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert (body["error"], body["code"]) == (error, code)
    assert body["error_description"]
    return body


def test_client_credentials_with_a_basic_secret_give_a_token_for_the_software_alone(
    client, db_session
):
    client_id, secret = practice_client(db_session)

    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "events read"  # alone it neither issues nor dispenses
    assert response.headers["Cache-Control"] == "no-store"
    token = body["access_token"]
    stored = db_session.scalar(select(ApiToken).where(ApiToken.scopes == "events read"))
    assert stored.account_id is None and stored.token_hash != token
    # The catalog may be searched by the software alone; a prescriber's list needs a person.
    assert client.get("/api/v1/medications?q=doliprane", headers=bearer(token)).status_code == 200
    refused = client.get("/api/v1/prescriptions", headers=bearer(token))
    assert (refused.status_code, refused.get_json()["code"]) == (403, "permission_denied")


def test_client_secret_post_works_and_a_wrong_secret_is_invalid_client(client, db_session):
    client_id, secret = practice_client(db_session)
    form = {"grant_type": "client_credentials", "client_id": client_id}

    assert (
        client.post("/api/v1/oauth/token", data={**form, "client_secret": secret}).status_code
        == 200
    )
    wrong = client.post("/api/v1/oauth/token", data={**form, "client_secret": secret + "x"})
    oauth_error(wrong, 401, "invalid_client", "client_authentication_failed")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    unknown = client.post(
        "/api/v1/oauth/token", data={**form, "client_id": "sw_nobody", "client_secret": secret}
    )
    oauth_error(unknown, 401, "invalid_client", "client_authentication_failed")
    none = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"})
    oauth_error(none, 401, "invalid_client", "client_authentication_failed")
    both = client.post(
        "/api/v1/oauth/token",
        data={**form, "client_secret": secret},
        headers=basic(client_id, secret),
    )
    oauth_error(both, 400, "invalid_request", "oauth_request_invalid")


def test_the_secret_is_stored_only_as_its_hash(db_session):
    client_id, secret = practice_client(db_session)
    row = software_clients.client_named(operator(db_session), client_id)
    assert secret not in (row.secret_hash or "") and len(row.secret_hash) == 64
    assert row.secret_hash == software_clients.secret_hash(secret)


def test_a_professional_of_the_practice_gets_a_token_that_carries_person_and_software(
    client, db_session
):
    client_id, secret = practice_client(db_session, ("issue", "read"))

    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "password", "username": "dr.martin", "password": PASSWORD},
        headers=basic(client_id, secret),
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["scope"] == "issue read"
    token = response.get_json()["access_token"]
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.get_json()["username"] == "dr.martin"
    assert client.get("/api/v1/prescriptions", headers=bearer(token)).status_code == 200
    stored = db_session.scalar(select(ApiToken).where(ApiToken.scopes == "issue read"))
    assert stored.account_id is not None and stored.software_client_id is not None
    granted = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "software_token"))
    assert granted.actor_account_id == stored.account_id
    assert granted.software == f"MedLogic 4.2 ({client_id})"


def test_scopes_are_the_asked_ones_the_client_and_the_role_allow(client, db_session):
    client_id, secret = practice_client(db_session, ("issue", "read"))
    form = {"grant_type": "password", "username": "dr.martin", "password": PASSWORD}

    only_issue = client.post(
        "/api/v1/oauth/token",
        data={**form, "scope": "issue dispense"},
        headers=basic(client_id, secret),
    )
    assert only_issue.get_json()["scope"] == "issue"
    token = only_issue.get_json()["access_token"]
    refused = client.get("/api/v1/prescriptions", headers=bearer(token))
    assert (refused.status_code, refused.get_json()["code"]) == (403, "insufficient_scope")
    none_left = client.post(
        "/api/v1/oauth/token", data={**form, "scope": "dispense"}, headers=basic(client_id, secret)
    )
    oauth_error(none_left, 400, "invalid_scope", "oauth_scope_refused")
    unknown = client.post(
        "/api/v1/oauth/token",
        data={**form, "scope": "read admin"},
        headers=basic(client_id, secret),
    )
    oauth_error(unknown, 400, "invalid_scope", "oauth_scope_refused")


def test_a_pharmacist_of_the_pharmacy_gets_a_dispensing_token(client, db_session):
    client_id, secret = pharmacy_client(db_session)
    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "password", "username": "ph.bernard", "password": PASSWORD},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "dispense read"
    token = response.get_json()["access_token"]
    # A prescriber's operation stays a prescriber's: the role still decides.
    refused = client.get("/api/v1/prescriptions", headers=bearer(token))
    assert refused.status_code == 403


def test_a_professional_elsewhere_and_a_wrong_password_are_invalid_grant(client, db_session):
    client_id, secret = pharmacy_client(db_session)
    add_account(db_session, Role.PRESCRIBER)  # not of the pharmacy
    add_account(db_session, Role.PATIENT)
    form = {"grant_type": "password", "password": PASSWORD}
    for username in ("dr.martin", "camille"):
        elsewhere = client.post(
            "/api/v1/oauth/token",
            data={**form, "username": username},
            headers=basic(client_id, secret),
        )
        oauth_error(elsewhere, 400, "invalid_grant", "professional_not_of_client")
    wrong = client.post(
        "/api/v1/oauth/token",
        data={**form, "username": "ph.bernard", "password": "not-the-password"},
        headers=basic(client_id, secret),
    )
    oauth_error(wrong, 400, "invalid_grant", "oauth_grant_refused")
    other = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "authorization_code"},
        headers=basic(client_id, secret),
    )
    oauth_error(other, 400, "unsupported_grant_type", "oauth_grant_type_unsupported")


def _keys(kind: str):
    if kind == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def assertion(private, alg: str, client_id: str, **changes) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        **changes,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, private, algorithm=alg)


def assertion_form(token: str, **more) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token,
        **more,
    }


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_private_key_jwt_is_accepted_once(client, db_session, alg):
    private, public_pem = _keys(alg)
    client_id, secret = practice_client(db_session, public_key_pem=public_pem)
    assert secret is None
    token = assertion(private, alg, client_id)

    response = client.post("/api/v1/oauth/token", data=assertion_form(token))

    assert response.status_code == 200, response.get_data(as_text=True)
    again = client.post("/api/v1/oauth/token", data=assertion_form(token))
    oauth_error(again, 401, "invalid_client", "client_assertion_replayed")


# Each the claims it changes, from the time the test runs (not the time it was collected: the
# suite runs for many minutes).
@pytest.mark.parametrize(
    "changes",
    [
        lambda now: {"aud": "https://elsewhere.example/token"},
        lambda now: {"exp": now + 3600},
        lambda now: {"exp": now - 10},
        lambda now: {"sub": "sw_someone_else"},
        lambda now: {"jti": None},
        lambda now: {"iat": now + 600},
    ],
    ids=["audience", "too-long", "expired", "subject", "no-jti", "issued-later"],
)
def test_a_bad_client_assertion_is_refused(client, db_session, changes):
    private, public_pem = _keys("ES256")
    client_id, _ = practice_client(db_session, public_key_pem=public_pem)
    claims = changes(int(time.time()))
    response = client.post(
        "/api/v1/oauth/token",
        data=assertion_form(assertion(private, "ES256", client_id, **claims)),
    )
    oauth_error(response, 401, "invalid_client", "client_assertion_invalid")


def test_an_assertion_signed_by_another_key_or_mislabelled_is_refused(client, db_session):
    _private, public_pem = _keys("ES256")
    client_id, _ = practice_client(db_session, public_key_pem=public_pem)
    stranger, _ = _keys("ES256")
    forged = client.post(
        "/api/v1/oauth/token", data=assertion_form(assertion(stranger, "ES256", client_id))
    )
    oauth_error(forged, 401, "invalid_client", "client_assertion_invalid")
    wrong_type = client.post(
        "/api/v1/oauth/token",
        data=assertion_form(assertion(stranger, "ES256", client_id), client_assertion_type="jwt"),
    )
    oauth_error(wrong_type, 400, "invalid_request", "oauth_request_invalid")
    garbage = client.post("/api/v1/oauth/token", data=assertion_form("a.b.c"))
    oauth_error(garbage, 401, "invalid_client", "client_assertion_invalid")


def test_rfc7009_revocation_ends_the_token(client, db_session):
    client_id, secret = practice_client(db_session)
    token = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    ).get_json()["access_token"]

    response = client.post(
        "/api/v1/oauth/revoke", data={"token": token}, headers=basic(client_id, secret)
    )

    assert response.status_code == 200
    after = client.get("/api/v1/medications?q=doliprane", headers=bearer(token))
    assert after.status_code == 401
    unknown = client.post(
        "/api/v1/oauth/revoke", data={"token": "nope"}, headers=basic(client_id, secret)
    )
    assert unknown.status_code == 200  # RFC 7009 §2.2
    stranger = client.post(
        "/api/v1/oauth/revoke", data={"token": token}, headers=basic(client_id, "x")
    )
    oauth_error(stranger, 401, "invalid_client", "client_authentication_failed")


def test_a_revoked_client_loses_its_tokens_and_gets_no_new_one(client, db_session):
    client_id, secret = practice_client(db_session)
    token = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "password", "username": "dr.martin", "password": PASSWORD},
        headers=basic(client_id, secret),
    ).get_json()["access_token"]

    with operator(db_session) as uow:
        software_clients.revoke(uow, client_id)

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    again = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )
    oauth_error(again, 401, "invalid_client", "client_revoked")


def test_each_client_is_rate_limited_with_retry_after(app, client, db_session):
    client_id, secret = practice_client(db_session)
    token = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    ).get_json()["access_token"]
    saved = app.config["SOFTWARE_RATE_LIMIT"]
    app.config["SOFTWARE_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [
            client.get("/api/v1/medications?q=doliprane", headers=bearer(token)) for _ in range(4)
        ]
    finally:
        app.config["SOFTWARE_RATE_LIMIT"] = saved
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[-1].get_json()["code"] == "client_rate_limited"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    refused = db_session.scalar(select(AuditEvent).where(AuditEvent.outcome == "rate_limited"))
    assert refused.software == f"MedLogic 4.2 ({client_id})"


def test_every_api_operation_declares_what_a_software_token_needs(app):
    """The one table (api/scopes.py) names every operation under /api and /fhir, and nothing
    else: a new operation is refused to software until it is given a scope there."""
    endpoints = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/", "/fhir/"))
    }
    assert endpoints - set(scopes.BY_ENDPOINT) == set()
    assert set(scopes.BY_ENDPOINT) - endpoints == set()


def test_an_event_without_software_keeps_its_old_hash(db_session):
    row = {
        "chain_key": "account:1",
        "chain_seq": 1,
        "occurred_at": __import__("datetime").datetime(2026, 1, 1),
        "actor_account_id": 1,
        "actor_role": "prescriber",
        "organisation": "RPPS 10001234565",
        "action": "read",
        "object_type": "prescription",
        "object_id": "1",
        "patient_person_id": None,
        "outcome": "success",
        "previous_hash": audit.GENESIS_HASH,
    }
    without = audit.canonical_event({**row, "software": ""})
    assert b"software" not in without
    assert audit.canonical_event({**row, "software": "MedLogic 4.2 (sw_1)"}) != without


def test_the_demo_software_clients_work_with_their_published_secrets(client, db_session):
    add_account(db_session, Role.PRESCRIBER)
    add_account(db_session, Role.PHARMACIST)
    with operator(db_session) as uow:
        software_demo.ensure(uow, PHARMACY_FINESS, [PRESCRIBER_RPPS])
        software_demo.ensure(uow, PHARMACY_FINESS, [PRESCRIBER_RPPS])  # twice: nothing more

    for demo, username in zip(
        software_demo.DEMO_SOFTWARE, ("dr.martin", "ph.bernard"), strict=True
    ):
        response = client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
            headers=basic(demo.client_id, demo.secret),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["scope"] == demo.scopes


def test_an_assertion_is_spent_even_when_the_password_was_wrong(client, db_session):
    private, public_pem = _keys("ES256")
    client_id, _ = practice_client(db_session, public_key_pem=public_pem)
    token = assertion(private, "ES256", client_id)
    login = {"grant_type": "password", "username": "dr.martin"}

    wrong = client.post(
        "/api/v1/oauth/token", data={**assertion_form(token), **login, "password": "wrong-one!"}
    )
    oauth_error(wrong, 400, "invalid_grant", "oauth_grant_refused")
    again = client.post(
        "/api/v1/oauth/token", data={**assertion_form(token), **login, "password": PASSWORD}
    )
    oauth_error(again, 401, "invalid_client", "client_assertion_replayed")


def test_guessed_secrets_and_passwords_are_throttled_per_address(client, db_session):
    client_id, secret = practice_client(db_session)
    bad_secret = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
    bad_password = {"grant_type": "password", "username": "dr.martin", "password": "wrong-one!"}

    answers = [client.post("/api/v1/oauth/token", data=bad_secret) for _ in range(5)] + [
        client.post("/api/v1/oauth/token", data=bad_password, headers=basic(client_id, secret))
        for _ in range(6)
    ]

    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [401] * 5 and 400 in statuses[5:]
    assert statuses[-1] == 429 and answers[-1].headers["Retry-After"]


def test_fhir_and_the_health_space_follow_the_same_table(client, db_session):
    client_id, secret = pharmacy_client(db_session, ("dispense",))
    token = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "password", "username": "ph.bernard", "password": PASSWORD},
        headers=basic(client_id, secret),
    ).get_json()["access_token"]

    fhir = client.get(f"/fhir/r4/Organization/{PHARMACY_FINESS}", headers=bearer(token))
    health_space = client.get("/api/v1/me/prescriptions", headers=bearer(token))

    assert fhir.status_code == 403 and fhir.mimetype == "application/fhir+json"
    assert "insufficient_scope" in fhir.get_data(as_text=True)
    assert (health_space.status_code, health_space.get_json()["code"]) == (403, "permission_denied")
