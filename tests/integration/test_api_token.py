"""Bearer tokens for API clients: issued for a password, stored hashed, expiring."""

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from eprescription.api import security
from eprescription.models import ApiToken, Role
from eprescription.services import accounts
from tests.conftest import make_test_app
from tests.integration.people import PASSWORD, add_account, operator

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_issued_for_the_right_password(client, db_session, app):
    add_account(db_session, Role.PRESCRIBER)

    response = client.post(
        "/api/v1/auth/token", json={"username": "dr.martin", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["TOKEN_LIFETIME_SECONDS"]
    assert len(body["access_token"]) >= 43
    assert response.headers["Cache-Control"] == "no-store"


def test_the_token_identifies_the_caller(client, db_session):
    add_account(db_session, Role.PHARMACIST)
    token = client.post(
        "/api/v1/auth/token", json={"username": "ph.bernard", "password": PASSWORD}
    ).get_json()

    response = client.get("/api/v1/auth/me", headers=bearer(token["access_token"]))

    assert response.status_code == 200
    assert response.get_json() == {
        "username": "ph.bernard",
        "role": "pharmacist",
        "name": "Julien Bernard",
        "rpps": None,
        "specialty": None,
        "pharmacy_name": "Pharmacie des Quais",
        "pharmacy_finess": "330004565",
    }


def test_bad_credentials_are_a_401_problem(client, db_session):
    add_account(db_session, Role.PATIENT)

    response = client.post(
        "/api/v1/auth/token", json={"username": "camille", "password": "not-the-password"}
    )

    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == "authentication_failed"


def test_only_the_tokens_hash_is_stored(client, db_session):
    add_account(db_session, Role.PATIENT)

    token = client.post(
        "/api/v1/auth/token", json={"username": "camille", "password": PASSWORD}
    ).get_json()["access_token"]

    stored = db_session.scalars(select(ApiToken)).one()
    assert token not in (stored.token_hash, str(stored.id))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_an_expired_token_is_refused(client, db_session):
    account = add_account(db_session, Role.PATIENT)
    with operator(db_session) as uow:
        token, _ = accounts.issue_token(uow, account, lifetime_seconds=-1)

    response = client.get("/api/v1/auth/me", headers=bearer(token))

    assert response.status_code == 401
    assert response.get_json()["code"] == "authentication_required"
    assert response.get_json()["detail"] == "token expired or invalid"


def _token_last_used(db_session, token: str, minutes_ago: int) -> None:
    """Move the token's last use back, as if its client had been away that long."""
    row = db_session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
    ).one()
    row.last_used_at = row.created_at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    db_session.commit()


def _login(client, username: str) -> str:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    ).get_json()["access_token"]


@pytest.mark.parametrize(
    ("role", "username", "idle_minutes"),
    [(Role.PRESCRIBER, "dr.martin", 15), (Role.PATIENT, "camille", 30)],
)
def test_a_token_left_unused_longer_than_the_idle_timeout_ends(
    client, db_session, role, username, idle_minutes
):
    add_account(db_session, role)
    token = _login(client, username)

    _token_last_used(db_session, token, minutes_ago=idle_minutes - 1)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    # That call counted as a use: the client may stay away a whole idle timeout again.
    db_session.expire_all()
    stored = db_session.scalars(select(ApiToken)).one()
    assert datetime.now(UTC) - stored.last_used_at < timedelta(minutes=1)

    _token_last_used(db_session, token, minutes_ago=idle_minutes)
    response = client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == "authentication_required"


def test_api_logout_ends_that_token_only(client, db_session):
    add_account(db_session, Role.PHARMACIST)
    ended, other = _login(client, "ph.bernard"), _login(client, "ph.bernard")

    response = client.post("/api/v1/auth/logout", headers=bearer(ended))

    assert response.status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(ended)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(ended)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(other)).status_code == 200


def test_api_logout_needs_a_caller(client):
    response = client.post("/api/v1/auth/logout")

    assert response.status_code == 401
    assert response.get_json()["code"] == "authentication_required"


def test_an_unknown_token_or_scheme_is_refused(client, db_session):
    assert client.get("/api/v1/auth/me", headers=bearer("made-up")).status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_disabled_accounts_token_stops_working(client, db_session):
    account = add_account(db_session, Role.PATIENT)
    with operator(db_session) as uow:
        token, _ = accounts.issue_token(uow, account, lifetime_seconds=60)
    account.is_active = False
    db_session.commit()

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_a_session_caller_must_send_the_csrf_token_on_unsafe_methods(database_url, db_session):
    account = add_account(db_session, Role.PATIENT)
    probe_app = make_test_app(database_url)

    @probe_app.route("/api/v1/probe", methods=["GET", "POST"])
    def probe():
        caller = security.current_account()
        return {"username": caller.username, "csrf_token": generate_csrf()}

    client = probe_app.test_client()
    with client.session_transaction() as session:
        # A session as login writes it (login_sessions.open_session): account, version, times.
        now = int(time.time())
        session.update(
            account_id=account.id, version=account.session_version, started=now, seen=now
        )
    try:
        csrf_token = client.get("/api/v1/probe").get_json()["csrf_token"]
        missing = client.post("/api/v1/probe")
        wrong = client.post("/api/v1/probe", headers={"X-CSRFToken": "forged"})
        right = client.post("/api/v1/probe", headers={"X-CSRFToken": csrf_token})
    finally:
        probe_app.extensions["db_engine"].dispose()

    for refused in (missing, wrong):
        assert refused.status_code == 403
        assert refused.mimetype == PROBLEM
        assert refused.get_json()["detail"] == "A valid X-CSRFToken header is required."
    assert right.status_code == 200
    assert right.get_json()["username"] == account.username


def test_the_token_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    assert "post" in paths["/api/v1/auth/token"]
    assert "get" in paths["/api/v1/auth/me"]
    assert "204" in paths["/api/v1/auth/logout"]["post"]["responses"]
