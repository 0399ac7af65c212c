"""The administrator's pages: find an account, disable and enable it, unlock it, set a new
password, unblock and revoke a prescriber's signing key; every act audited and listed."""

import pytest
from sqlalchemy import select

from eprescription.models import Account, AuditEvent, Role
from eprescription.services import pki
from tests.integration.people import PASSWORD, add_account, operator

NEW_PASSWORD = "another-long-passphrase"


@pytest.fixture
def admin(client, db_session):
    account = add_account(db_session, Role.ADMIN)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def page(client, query="") -> str:
    response = client.get("/admin/accounts", query_string={"q": query})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_an_administrator_finds_accounts_by_name_or_username(client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    found = page(client, "bernard")
    assert 'id="account-ph.bernard"' in found
    assert 'id="account-admin"' not in found
    assert 'id="account-admin"' in page(client)


def test_a_disabled_account_cannot_log_in_until_enabled_and_both_acts_are_listed(
    app, client, db_session, admin
):
    add_account(db_session, Role.PHARMACIST)
    response = client.post("/admin/accounts/ph.bernard/disable", data={"q": "bernard"})
    assert response.status_code == 303
    other = app.test_client()
    login = {"username": "ph.bernard", "password": PASSWORD}
    assert other.post("/login", data=login).status_code != 302
    assert client.post("/admin/accounts/ph.bernard/enable").status_code == 303
    assert other.post("/login", data=login).status_code == 302

    history = page(client).split('id="history"')[1]
    assert history.count("ph.bernard") == 2
    assert "Disable" in history and "Enable" in history
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == "ph.bernard")
    ).all()
    assert {"admin_disable", "admin_enable"} <= set(actions)


def test_a_new_password_ends_the_old_one_and_a_short_one_is_refused(app, client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    refused = client.post("/admin/accounts/ph.bernard/reset_password", data={"password": "x"})
    assert refused.status_code == 422
    assert "at least" in refused.get_data(as_text=True)
    done = client.post("/admin/accounts/ph.bernard/reset_password", data={"password": NEW_PASSWORD})
    assert done.status_code == 303
    other = app.test_client()
    assert (
        other.post("/login", data={"username": "ph.bernard", "password": PASSWORD}).status_code
        != 302
    )
    new = {"username": "ph.bernard", "password": NEW_PASSWORD}
    assert other.post("/login", data=new).status_code == 302


def test_a_blocked_signing_key_is_unblocked_then_revoked_with_a_reason(client, db_session, admin):
    doctor = add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        pki.init_ca(uow)
        prescriber = pki.prescriber_for_username(uow, doctor.username)
        credential = pki.enroll_prescriber(uow, prescriber, "1234")
        credential.blocked_at = uow.now
    assert "signing key: blocked" in page(client, "martin")

    assert client.post("/admin/accounts/dr.martin/unblock_key").status_code == 303
    assert "signing key: usable" in page(client, "martin")
    refused = client.post("/admin/accounts/dr.martin/revoke_key", data={"reason": ""})
    assert refused.status_code == 422
    assert (
        client.post(
            "/admin/accounts/dr.martin/revoke_key", data={"reason": "Lost laptop"}
        ).status_code
        == 303
    )
    assert "signing key: revoked" in page(client, "martin")


def test_only_an_administrator_reaches_the_pages(client, db_session):
    account = add_account(db_session, Role.PHARMACIST)
    client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert client.get("/admin/accounts").status_code == 403
    assert client.post(f"/admin/accounts/{account.username}/disable").status_code == 403
    assert db_session.scalar(select(Account.is_active).where(Account.id == account.id))


def test_an_administrator_cannot_disable_themselves(client, db_session, admin):
    response = client.post("/admin/accounts/admin/disable")
    assert response.status_code == 403
    assert 'id="refusal"' in response.get_data(as_text=True)


def test_a_user_changes_their_own_password_with_the_current_one(app, client, db_session):
    account = add_account(db_session, Role.PHARMACIST)
    client.post("/login", data={"username": account.username, "password": PASSWORD})
    wrong = {"current": "not-the-password", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    assert client.post("/account/password", data=wrong).status_code == 401
    differ = {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD + "x"}
    assert client.post("/account/password", data=differ).status_code == 422

    right = {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    response = client.post("/account/password", data=right)
    assert response.status_code == 303 and response.location.startswith("/login")
    assert client.get("/pharmacy/").status_code == 302  # this session ended too
    other = app.test_client()
    old = {"username": account.username, "password": PASSWORD}
    assert other.post("/login", data=old).status_code != 302
    new = {"username": account.username, "password": NEW_PASSWORD}
    assert other.post("/login", data=new).status_code == 302
    assert db_session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "own_password_changed")
    )


def test_a_form_field_longer_than_the_schema_allows_is_refused_and_changes_nothing(
    client, db_session, admin
):
    add_account(db_session, Role.PHARMACIST)
    response = client.post(
        "/admin/accounts/ph.bernard/reset_password", data={"password": "x" * 2000}
    )
    assert response.status_code == 422
    assert 'id="refusal"' in response.get_data(as_text=True)
    other = {"username": "ph.bernard", "password": PASSWORD}
    assert client.application.test_client().post("/login", data=other).status_code == 302
