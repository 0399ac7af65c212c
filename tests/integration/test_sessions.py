"""Sessions end for real: logout, a new password and disabling end every session cookie (even
a copied one) and every API token of the account at once; idle and absolute timeouts; the
`__Host-` cookie outside development."""

import time
from datetime import timedelta

import pytest

from eprescription.models import Role
from tests.conftest import make_test_app
from tests.integration.people import PASSWORD, PEOPLE, add_account

TOKEN = "/api/v1/auth/token"
LANDING = {Role.PATIENT: "/me", Role.PRESCRIBER: "/prescriber/", Role.PHARMACIST: "/pharmacy/"}


def logged_in(app, role: Role = Role.PATIENT):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/login", data={"username": PEOPLE[role][0], "password": PASSWORD})
    assert response.status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def bearer(client, role: Role = Role.PATIENT) -> dict:
    answer = client.post(TOKEN, json={"username": PEOPLE[role][0], "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def reads(client, headers: dict | None = None) -> tuple[int, int]:
    """The health-space page and the API's /auth/me, as this client sees them."""
    return client.get("/me").status_code, client.get("/api/v1/auth/me", headers=headers).status_code


def test_logout_ends_a_copied_session_cookie_and_the_accounts_api_tokens(app, db_session):
    add_account(db_session, Role.PATIENT)
    browser = logged_in(app)
    thief = copy_of(app, browser)
    other_device = logged_in(app)
    token = bearer(app.test_client())
    assert reads(thief) == (200, 200) and reads(app.test_client(), token)[1] == 200

    browser.post("/logout")

    assert reads(thief) == (302, 401)
    assert reads(other_device) == (302, 401)
    assert reads(app.test_client(), token)[1] == 401
    assert reads(logged_in(app)) == (200, 200)  # logging in again works


@pytest.mark.parametrize(
    "command",
    [
        ["users", "set-password", "camille", "--password", "a-new-long-password"],
        ["users", "disable", "camille"],
    ],
)
def test_a_new_password_or_disabling_ends_every_session_and_token(app, db_session, runner, command):
    add_account(db_session, Role.PATIENT)
    thief = copy_of(app, logged_in(app))
    token = bearer(app.test_client())

    result = runner.invoke(args=command)
    if command[1] == "disable":
        runner.invoke(args=["users", "enable", "camille"])  # enabling does not revive them

    assert result.exit_code == 0, result.output
    assert reads(thief) == (302, 401)
    assert reads(app.test_client(), token)[1] == 401


def test_a_professional_session_ends_after_fifteen_idle_minutes(app, db_session):
    add_account(db_session, Role.PHARMACIST)
    active, idle = logged_in(app, Role.PHARMACIST), logged_in(app, Role.PHARMACIST)
    _shift(active, seen=timedelta(minutes=14))
    _shift(idle, seen=timedelta(minutes=15, seconds=1))

    assert active.get("/pharmacy/").status_code == 200
    assert idle.get("/pharmacy/").status_code == 302
    assert idle.get("/pharmacy/").location.startswith("/login")


def test_a_patient_session_has_its_own_idle_timeout_and_each_request_renews_it(app, db_session):
    add_account(db_session, Role.PATIENT)
    patient = logged_in(app)
    _shift(patient, seen=timedelta(minutes=20))
    assert patient.get("/me").status_code == 200  # 30 minutes by default for patients
    _shift(patient, seen=timedelta(minutes=20))  # 20 minutes after that request
    assert patient.get("/me").status_code == 200
    _shift(patient, seen=timedelta(minutes=31))
    assert patient.get("/me").status_code == 302


def test_the_idle_timeout_is_configurable(database_url, db_session):
    add_account(db_session, Role.PHARMACIST)
    app = make_test_app(database_url, SESSION_IDLE_MINUTES=5)
    try:
        client = logged_in(app, Role.PHARMACIST)
        _shift(client, seen=timedelta(minutes=5, seconds=1))
        assert client.get("/pharmacy/").status_code == 302
    finally:
        app.extensions["db_engine"].dispose()


def test_a_session_ends_twelve_hours_after_login_however_active(app, db_session):
    add_account(db_session, Role.PATIENT)
    client = logged_in(app)
    _shift(client, started=timedelta(hours=11, minutes=59))
    assert client.get("/me").status_code == 200
    _shift(client, started=timedelta(hours=12, seconds=1))

    assert reads(client) == (302, 401)


def test_the_session_cookie_is_host_prefixed_outside_development(database_url, db_session):
    add_account(db_session, Role.PATIENT)
    app = make_test_app(
        database_url, ENVIRONMENT="production", SECRET_KEY="s" * 32, KEY_ENCRYPTION_KEY="ab" * 32
    )
    try:
        response = app.test_client().post(
            "/login", data={"username": "camille", "password": PASSWORD}
        )
    finally:
        app.extensions["db_engine"].dispose()

    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("__Host-session="))
    device = next(c for c in cookies if c.startswith("__Host-device="))
    for cookie in (session, device):
        attributes = [part.strip() for part in cookie.split(";")]
        assert "Secure" in attributes and "Path=/" in attributes and "HttpOnly" in attributes
        assert not any(part.lower().startswith("domain=") for part in attributes)


def _shift(client, *, seen: timedelta | None = None, started: timedelta | None = None) -> None:
    """Move the session's last use (or its start) that far into the past."""
    now = int(time.time())
    with client.session_transaction() as session:
        if seen is not None:
            session["seen"] = now - int(seen.total_seconds())
            session["started"] = min(session["started"], session["seen"])
        if started is not None:
            session["started"] = now - int(started.total_seconds())
