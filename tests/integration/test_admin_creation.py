"""The administrator creates accounts of every role and pharmacies from the browser, with the
CLI's rules (services/registration.py): a refusal says why on the form and writes nothing;
every creation is audited and listed."""

import pytest
from sqlalchemy import func, select

from eprescription.models import Account, AuditEvent, Person, Pharmacist, Pharmacy, Prescriber, Role
from tests.integration.people import PASSWORD, add_account

NEW_PASSWORD = "another-long-passphrase"
PHARMACY = {"finess": "330004565", "name": "Pharmacie des Quais", "address": "Bordeaux"}
PEOPLE = {
    "prescriber": {
        "username": "dr.martin",
        "national_id": "1 72 11 69 123 045 21",
        "given_name": "Claire",
        "family_name": "Martin",
        "birth_date": "1972-11-05",
        "rpps": "10001234565",
        "specialty": "CARDIOLOGIE",
        "setting": "hospital",
    },
    "pharmacist": {
        "username": "ph.bernard",
        "national_id": "190063306320126",
        "given_name": "Julien",
        "family_name": "Bernard",
        "birth_date": "1990-06-18",
        "pharmacy_finess": PHARMACY["finess"],
    },
    "patient": {
        "username": "camille",
        "national_id": "285037505612306",
        "given_name": "Camille",
        "family_name": "Dubois",
        "birth_date": "1985-03-12",
    },
    "admin": {"username": "second.admin"},
}


@pytest.fixture
def admin(client, db_session):
    account = add_account(db_session, Role.ADMIN)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def new_account(client, kind: str, **changes):
    form = {"role": kind, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    return client.post("/admin/accounts/new", data=form | PEOPLE[kind] | changes)


def created_events(db_session, action: str) -> list[str]:
    return db_session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == action)).all()


def test_the_forms_are_reached_from_the_accounts_page(client, admin):
    listing = client.get("/admin/accounts").get_data(as_text=True)
    assert 'href="/admin/accounts/new"' in listing and 'href="/admin/pharmacies/new"' in listing
    assert client.get("/admin/accounts/new").status_code == 200
    assert client.get("/admin/pharmacies/new").status_code == 200


def test_a_pharmacy_then_an_account_of_every_role_is_created_and_can_log_in(
    app, client, db_session, admin
):
    created = client.post("/admin/pharmacies/new", data=PHARMACY)
    assert created.status_code == 302
    assert "pharmacy_finess=330004565" in created.location  # its pharmacist's form, prefilled
    assert 'value="330004565"' in client.get(created.location).get_data(as_text=True)

    for role in PEOPLE:
        response = new_account(client, role)
        assert response.status_code == 303, (role, response.get_data(as_text=True))
        assert response.location.endswith(f"q={PEOPLE[role]['username']}")
        login = {"username": PEOPLE[role]["username"], "password": NEW_PASSWORD}
        assert app.test_client().post("/login", data=login).status_code == 302, role

    prescriber = db_session.scalar(select(Prescriber).where(Prescriber.rpps == "10001234565"))
    assert (prescriber.specialty, prescriber.setting) == ("CARDIOLOGIE", "hospital")
    pharmacist = db_session.scalar(select(Pharmacist))
    assert pharmacist.pharmacy.finess == "330004565"
    assert (
        db_session.scalar(select(Account.person_id).where(Account.username == "second.admin"))
        is None
    )
    assert created_events(db_session, "admin_create_pharmacy") == ["330004565"]
    assert sorted(created_events(db_session, "admin_create_account")) == sorted(
        person["username"] for person in PEOPLE.values()
    )
    history = client.get("/admin/accounts").get_data(as_text=True).split('id="history"')[1]
    assert "Create the pharmacy" in history and "330004565" in history
    assert history.count("Create the account") == len(PEOPLE)


@pytest.mark.parametrize(
    ("role", "changes", "field", "said"),
    [
        ("prescriber", {"rpps": "10001234566"}, "rpps", "RPPS"),
        ("pharmacist", {"pharmacy_finess": "330004565"}, "pharmacy_finess", "no pharmacy has"),
        ("patient", {"birth_date": "1986-03-12"}, "birth_date", "does not agree"),
        ("patient", {"birth_date": "13/03/1985"}, "birth_date", "YYYY-MM-DD"),
        ("patient", {"repeat": "not the same"}, "repeat", "the two entries differ"),
        ("patient", {"username": "x"}, "username", "3 to 64 characters"),
        ("patient", {"password": "short", "repeat": "short"}, "password", "at least 10"),
        ("patient", {"role": "root"}, "role", "one of"),
        ("patient", {"given_name": "x" * 300}, "given_name", ""),
    ],
)
def test_bad_input_is_refused_on_the_form_and_writes_nothing(
    client, db_session, admin, role, changes, field, said
):
    response = new_account(client, role, **changes)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and said in page.split(f'id="{field}-error"')[1]
    assert 'id="refusal"' in page
    assert 'value="' + NEW_PASSWORD not in page  # a password is never typed back
    assert count(db_session, Account) == 1 and count(db_session, Person) == 0
    assert created_events(db_session, "admin_create_account") == []


def test_a_duplicate_username_or_rpps_is_refused_with_a_conflict(client, db_session, admin):
    assert new_account(client, "prescriber").status_code == 303
    again = new_account(
        client,
        "prescriber",
        national_id="285037505612306",
        given_name="Camille",
        family_name="Dubois",
        birth_date="1985-03-12",
    )
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "this username is taken" in page and "another prescriber has this RPPS number" in page
    assert count(db_session, Account) == 2 and count(db_session, Person) == 1


def test_a_refusal_is_worded_in_french(client, db_session, admin):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    response = new_account(client, "pharmacist", username="ab")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "aucune pharmacie" in page.lower() or "Aucune pharmacie" in page
    assert "no pharmacy has" not in page


def test_a_pharmacy_is_refused_when_its_finess_is_wrong_or_taken(client, db_session, admin):
    wrong = client.post("/admin/pharmacies/new", data=PHARMACY | {"finess": "330004566"})
    assert wrong.status_code == 422 and 'id="finess-error"' in wrong.get_data(as_text=True)
    nameless = client.post("/admin/pharmacies/new", data=PHARMACY | {"name": " "})
    assert nameless.status_code == 422 and 'id="name-error"' in nameless.get_data(as_text=True)
    assert count(db_session, Pharmacy) == 0
    assert client.post("/admin/pharmacies/new", data=PHARMACY).status_code == 302
    taken = client.post("/admin/pharmacies/new", data=PHARMACY)
    assert taken.status_code == 409 and "already recorded" in taken.get_data(as_text=True)
    assert count(db_session, Pharmacy) == 1
    assert created_events(db_session, "admin_create_pharmacy") == ["330004565"]


def test_only_an_administrator_creates(client, db_session):
    account = add_account(db_session, Role.PHARMACIST)
    client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert client.get("/admin/accounts/new").status_code == 403
    assert new_account(client, "patient").status_code == 403
    assert (
        client.post("/admin/pharmacies/new", data=PHARMACY | {"finess": "750000549"}).status_code
        == 403
    )
    assert count(db_session, Account) == 1 and count(db_session, Pharmacy) == 1
