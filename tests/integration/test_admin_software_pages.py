"""The administrator's software page (issue 13 item 3): the registered programs listed with
their organisation, scopes and state; one registered from the form, its secret shown this once
and good for a token; revoked or given a new secret after a confirmation; bad input refused in
words with nothing written; every act audited; nobody else let in; on both engines."""

import base64
import re
from urllib.parse import quote_plus

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from eprescription.models import AuditEvent, Role, SoftwareClient
from eprescription.services import practices, software_clients
from tests.integration.people import PASSWORD, PHARMACY_FINESS, add_account, operator

FORM = {"name": "OffiPlus", "vendor": "Pharma Soft", "version": "11"}
TOKEN = {"grant_type": "client_credentials"}


@pytest.fixture
def admin(client, db_session):
    account = add_account(db_session, Role.ADMIN)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def basic(client_id: str, secret: str) -> dict:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def token_answer(app, client_id: str, secret: str):
    """POST /api/v1/oauth/token from another browser than the administrator's."""
    return app.test_client().post(
        "/api/v1/oauth/token", data=TOKEN, headers=basic(client_id, secret)
    )


def registered(db_session, **changes) -> tuple[str, str]:
    """A pharmacy's program registered by the operator: its client_id and secret."""
    with operator(db_session) as uow:
        done = software_clients.register(
            uow, scopes=["dispense", "read"], pharmacy_finess=PHARMACY_FINESS, **FORM | changes
        )
    return done.client.client_id, done.secret


def shown(response, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]+)<', response.get_data(as_text=True)).group(1)


def audited(db_session, action: str, client_id: str) -> list[AuditEvent]:
    db_session.expire_all()
    return db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_id == client_id)
    ).all()


def clients(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(SoftwareClient))


def test_the_list_shows_each_program_its_organisation_scopes_and_state(client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    kept, _ = registered(db_session)
    with operator(db_session) as uow:
        practice = practices.add(uow, name="Cabinet des Quais")
        gone = software_clients.register(
            uow,
            name="MedLogic",
            vendor="Acme",
            version="4.2",
            scopes=["issue"],
            practice_id=practice.id,
        ).client.client_id
        software_clients.revoke(uow, gone)

    page = client.get("/admin/software")

    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    rows = dict(re.findall(r'<tr id="software-(\w+)">(.*?)</tr>', page.get_data(True), re.S))
    assert {kept, gone} <= set(rows)
    assert "OffiPlus" in rows[kept] and "Pharmacie" in rows[kept] and PHARMACY_FINESS in rows[kept]
    assert "read" in rows[kept] and "dispense" in rows[kept] and "active" in rows[kept]
    assert f"/admin/software/{kept}/revoke" in rows[kept]
    assert "Cabinet des Quais" in rows[gone] and "prescribe" in rows[gone]
    assert "revoked on" in rows[gone] and "/revoke" not in rows[gone]
    assert 'href="/admin/software"' in client.get("/admin/").get_data(True)
    assert 'href="/admin/software"' in client.get("/admin/accounts").get_data(True)


def test_a_program_registered_on_the_page_gets_its_secret_once_and_a_token_with_it(
    app, client, db_session, admin
):
    add_account(db_session, Role.PHARMACIST)
    form = FORM | {"pharmacy_finess": PHARMACY_FINESS, "dispense": "on", "read": "on"}

    response = client.post("/admin/software/new", data=form)

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    client_id, secret = shown(response, "client-id"), shown(response, "client-secret")
    assert "it will not be shown again" in response.get_data(True)
    row = db_session.scalar(select(SoftwareClient).where(SoftwareClient.client_id == client_id))
    assert row.scopes == "dispense read" and secret not in (row.secret_hash or "")
    assert secret not in client.get("/admin/software").get_data(True)
    (event,) = audited(db_session, "software_registered", client_id)
    assert event.actor_account_id == admin.id
    answer = token_answer(app, client_id, secret)
    assert answer.status_code == 200, answer.get_data(True)
    assert answer.get_json()["scope"] == "read"  # alone it does not dispense


def test_a_program_given_a_public_key_has_no_secret(client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    form = FORM | {"pharmacy_finess": PHARMACY_FINESS, "read": "on", "public_key": pem}

    response = client.post("/admin/software/new", data=form)

    assert response.status_code == 200
    assert 'id="by-key"' in response.get_data(True) and "client-secret" not in response.text
    listed = client.get("/admin/software").get_data(True)
    assert "by key" in listed and "/rotate" not in listed


def test_revoking_after_the_confirmation_refuses_its_tokens(app, client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    client_id, secret = registered(db_session)
    token = token_answer(app, client_id, secret).get_json()["access_token"]

    confirm = client.get(f"/admin/software/{client_id}/revoke")
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.get_data(True)
    assert token_answer(app, client_id, secret).status_code == 200  # the GET changed nothing
    done = client.post(f"/admin/software/{client_id}/revoke")

    assert done.status_code == 303 and done.location.endswith("/admin/software")
    assert "is revoked" in client.get("/admin/software").get_data(True)
    refused = token_answer(app, client_id, secret)
    assert (refused.status_code, refused.get_json()["code"]) == (401, "client_revoked")
    api = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    (event,) = audited(db_session, "software_revoked", client_id)
    assert event.actor_account_id == admin.id


def test_a_new_secret_replaces_the_old_one_and_is_shown_once(app, client, db_session, admin):
    add_account(db_session, Role.PHARMACIST)
    client_id, old = registered(db_session)

    assert 'id="confirm-form"' in client.get(f"/admin/software/{client_id}/rotate").text
    response = client.post(f"/admin/software/{client_id}/rotate")

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new = shown(response, "client-secret")
    assert new != old and "it will not be shown again" in response.text
    assert token_answer(app, client_id, old).status_code == 401
    assert token_answer(app, client_id, new).status_code == 200
    assert audited(db_session, "software_secret_rotated", client_id)


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"name": ""}, "name", "1 to 128 characters"),
        ({"pharmacy_finess": ""}, "organisation", "one pharmacy (FINESS) or one practice"),
        ({"pharmacy_finess": "123"}, "pharmacy_finess", "FINESS"),
        ({"pharmacy_finess": "750001232"}, "pharmacy_finess", "no pharmacy has the FINESS"),
        ({"dispense": "", "issue": "on"}, "scopes", "one or more of dispense, events, read"),
        ({"public_key": "not a key"}, "public_key", "not a PEM public key"),
        ({"practice_id": "99999999999999999999"}, "practice_id", ""),
    ],
)
def test_bad_input_is_refused_in_words_next_to_its_field_and_writes_nothing(
    client, db_session, admin, changes, field, words
):
    add_account(db_session, Role.PHARMACIST)
    form = FORM | {"pharmacy_finess": PHARMACY_FINESS, "dispense": "on"} | changes

    response = client.post("/admin/software/new", data=form)

    assert response.status_code == 422, response.status_code
    page = response.get_data(as_text=True)
    message = re.search(rf'id="{field}-error">([^<]+)<', page)
    assert message and words in message.group(1).replace("&#39;", "'"), page
    assert 'id="refusal"' in page and "client-secret" not in page
    assert clients(db_session) == 0


def test_an_unknown_client_is_not_found_and_a_revoked_one_gets_no_new_secret(
    client, db_session, admin
):
    add_account(db_session, Role.PHARMACIST)
    client_id, _ = registered(db_session)
    with operator(db_session) as uow:
        software_clients.revoke(uow, client_id)

    assert client.get("/admin/software/sw_nobody/revoke").status_code == 404
    assert client.post("/admin/software/sw_nobody/rotate").status_code == 404
    refused = client.post(f"/admin/software/{client_id}/rotate")
    assert 400 <= refused.status_code < 500 and 'id="refusal"' in refused.text
    assert "client-secret" not in refused.text


def test_only_an_administrator_reaches_the_pages(app, client, db_session):
    pharmacist = add_account(db_session, Role.PHARMACIST)
    client_id, secret = registered(db_session)
    client.post("/login", data={"username": pharmacist.username, "password": PASSWORD})
    form = FORM | {"pharmacy_finess": PHARMACY_FINESS, "dispense": "on"}

    assert client.get("/admin/software").status_code == 403
    assert client.post("/admin/software/new", data=form).status_code == 403
    assert client.post(f"/admin/software/{client_id}/revoke").status_code == 403
    assert client.post(f"/admin/software/{client_id}/rotate").status_code == 403
    assert app.test_client().get("/admin/software").status_code == 302  # to the login page
    assert clients(db_session) == 1
    assert token_answer(app, client_id, secret).status_code == 200


def test_the_pages_are_in_french_by_default(app, db_session):
    add_account(db_session, Role.ADMIN)
    add_account(db_session, Role.PHARMACIST)
    client_id, _ = registered(db_session)
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    browser.post("/login", data={"username": "admin", "password": PASSWORD})

    listed = browser.get("/admin/software").text
    confirm = browser.get(f"/admin/software/{client_id}/revoke").text
    rotated = browser.post(f"/admin/software/{client_id}/rotate").text

    assert "<h1>Logiciels</h1>" in listed and "délivrer, lire" in listed
    assert "Révoquer" in confirm
    assert "ne sera plus affiché" in rotated
