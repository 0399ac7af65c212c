"""Web login and logout, each role's landing page, and the session cookie."""

import re

import pytest

from eprescription.models import Role
from tests.conftest import make_test_app
from tests.integration.people import PASSWORD, PEOPLE, add_account

LANDING = {
    Role.PRESCRIBER: "/prescriber/",
    Role.PHARMACIST: "/pharmacy/",
    Role.PATIENT: "/me",
    Role.ADMIN: "/admin/",
}


def log_in(client, role: Role, password: str = PASSWORD, **extra):
    return client.post("/login", data={"username": PEOPLE[role][0], "password": password}, **extra)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_page_after_login(client, db_session, role):
    add_account(db_session, role)

    response = log_in(client, role)
    assert response.status_code == 302
    assert response.location == LANDING[role]

    page = client.get(LANDING[role]).get_data(as_text=True)
    # The prescriber's home is their work (issue 11), not a profile: its heading names the role.
    own_page_mark = "<h1>Prescriber</h1>" if role is Role.PRESCRIBER else f"<dd>{role}</dd>"
    assert own_page_mark in page
    assert page.count("<h1>") == 1


def test_the_landing_page_shows_the_name_and_for_a_pharmacist_the_pharmacy(client, db_session):
    add_account(db_session, Role.PHARMACIST)
    log_in(client, Role.PHARMACIST)

    page = client.get("/pharmacy/").get_data(as_text=True)

    assert "Julien Bernard" in page
    assert "Pharmacie des Quais" in page


def test_the_start_page_sends_visitors_to_login_and_accounts_to_their_page(client, db_session):
    assert client.get("/").location == "/login"

    add_account(db_session, Role.PATIENT)
    log_in(client, Role.PATIENT)

    assert client.get("/").location == "/me"


def test_a_wrong_password_is_explained_and_the_username_kept(client, db_session):
    add_account(db_session, Role.PATIENT)

    response = log_in(client, Role.PATIENT, password="not-the-password")

    page = response.get_data(as_text=True)
    assert "Wrong username or password." in page
    assert 'value="camille"' in page
    assert "account_id" not in _session(client)


def test_the_login_page_is_accessible(client):
    page = client.get("/login").get_data(as_text=True)

    assert '<html lang="en">' in page
    assert page.count("<h1>") == 1
    assert re.search(r'<label for="username">', page)
    assert re.search(r'<label for="password">', page)


def test_logout_ends_the_session(client, db_session):
    add_account(db_session, Role.PATIENT)
    log_in(client, Role.PATIENT)

    response = client.post("/logout")

    assert response.location == "/login"
    assert client.get("/me").location.startswith("/login")


@pytest.mark.parametrize(
    ("role", "page"),
    [
        (Role.PATIENT, "/prescriber/"),
        (Role.PATIENT, "/admin/"),
        (Role.PRESCRIBER, "/pharmacy/"),
        (Role.PHARMACIST, "/me"),
        (Role.ADMIN, "/prescriber/"),
    ],
)
def test_a_role_page_refuses_other_roles(client, db_session, role, page):
    add_account(db_session, role)
    log_in(client, role)

    response = client.get(page)

    assert response.status_code == 403
    assert "You are not allowed to do this" in response.get_data(as_text=True)


def test_a_visitor_is_sent_to_login_and_back_to_the_page_asked_for(client, db_session):
    add_account(db_session, Role.PRESCRIBER)

    assert client.get("/prescriber/").location == "/login?next=/prescriber/"
    form = client.get("/login?next=/prescriber/").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/prescriber/"' in form

    response = client.post(
        "/login", data={"username": "dr.martin", "password": PASSWORD, "next": "/prescriber/"}
    )

    assert response.location == "/prescriber/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_login_never_redirects_to_another_site(client, db_session, target):
    add_account(db_session, Role.PATIENT)

    response = client.post(
        "/login", data={"username": "camille", "password": PASSWORD, "next": target}
    )

    assert response.location == "/me"


def test_login_starts_a_fresh_session(client, db_session):
    add_account(db_session, Role.PATIENT)
    with client.session_transaction() as planted:
        planted["planted"] = "by an attacker"

    log_in(client, Role.PATIENT)

    session = _session(client)
    assert "planted" not in session
    assert "account_id" in session


def test_the_session_cookie_is_httponly_and_samesite_lax(client, db_session):
    add_account(db_session, Role.PATIENT)

    cookie = log_in(client, Role.PATIENT).headers["Set-Cookie"]

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_secure_in_production(database_url, db_session):
    add_account(db_session, Role.PATIENT)
    app = make_test_app(
        database_url, ENVIRONMENT="production", SECRET_KEY="s" * 32, KEY_ENCRYPTION_KEY="ab" * 32
    )
    try:
        cookie = log_in(app.test_client(), Role.PATIENT).headers["Set-Cookie"]
    finally:
        app.extensions["db_engine"].dispose()

    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_login_without_the_csrf_token_is_refused(database_url, db_session):
    add_account(db_session, Role.PATIENT)
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    try:
        refused = log_in(client, Role.PATIENT)
        form = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        accepted = client.post(
            "/login", data={"username": "camille", "password": PASSWORD, "csrf_token": token}
        )
    finally:
        app.extensions["db_engine"].dispose()

    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    assert accepted.location == "/me"


def _session(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)
