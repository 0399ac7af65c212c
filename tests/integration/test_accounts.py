"""Creating people and accounts, and checking passwords, through the accounts service."""

from datetime import date

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from eprescription.domain.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ValidationFailed,
)
from eprescription.models import Account, Person, Pharmacist, Prescriber, Role
from eprescription.services import accounts
from eprescription.services.accounts import PersonDetails
from tests.integration.people import (
    PASSWORD,
    PHARMACY_FINESS,
    acting,
    add_account,
    add_pharmacy,
    operator,
)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("role", list(Role))
def test_an_account_of_each_role_is_created_with_its_records(db_session, role):
    account = add_account(db_session, role)

    assert account.role is role
    assert (account.person is None) == (role is Role.ADMIN)
    assert count(db_session, Prescriber) == (1 if role is Role.PRESCRIBER else 0)
    assert count(db_session, Pharmacist) == (1 if role is Role.PHARMACIST else 0)


def test_a_pharmacist_belongs_to_the_pharmacy_of_its_finess(db_session):
    account = add_account(db_session, Role.PHARMACIST)

    with acting(db_session, account) as uow:
        profile = accounts.profile(uow)
    assert (profile.pharmacy_name, profile.pharmacy_finess) == (
        "Pharmacie des Quais",
        PHARMACY_FINESS,
    )


def test_every_problem_is_reported_at_once(db_session):
    with pytest.raises(ValidationFailed) as raised, operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="x",
            password="short",
            role=Role.PRESCRIBER,
            person=PersonDetails("285037505612312", "", "Dubois", date(1985, 3, 12)),
            rpps="10001234560",
        )

    assert set(raised.value.errors) == {"username", "password", "national_id", "given_name", "rpps"}
    assert raised.value.errors["national_id"] == ["the NIR's key should be 06, not 12"]
    assert count(db_session, Account) == 0 and count(db_session, Person) == 0


def test_a_pharmacist_needs_a_recorded_pharmacy(db_session):
    with pytest.raises(ValidationFailed) as raised, operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="ph.julien",
            password=PASSWORD,
            role=Role.PHARMACIST,
            person=PersonDetails("190063306320126", "Julien", "Bernard", date(1990, 6, 18)),
            pharmacy_finess=PHARMACY_FINESS,
        )

    assert raised.value.errors == {
        "pharmacy_finess": [f"no pharmacy has the FINESS number {PHARMACY_FINESS}"]
    }


def test_the_birth_date_must_agree_with_the_nir(db_session):
    with pytest.raises(ValidationFailed) as raised, operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="camille",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails("285037505612306", "Camille", "Dubois", date(1985, 4, 12)),
        )

    assert "birth_date" in raised.value.errors


def test_a_taken_username_is_refused_as_already_existing(db_session):
    add_account(db_session, Role.ADMIN)

    with pytest.raises(AlreadyExists) as raised, operator(db_session) as uow:
        accounts.create_account(uow, username=" ADMIN ", password=PASSWORD, role=Role.ADMIN)

    assert raised.value.errors == {"username": ["this username is taken"]}


def test_a_prescriber_who_is_also_a_patient_is_one_person(db_session):
    prescriber = add_account(db_session, Role.PRESCRIBER)
    person = prescriber.person

    with operator(db_session) as uow:
        patient = accounts.create_account(
            uow,
            username="claire",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails(person.national_id, "claire", "MARTIN", person.birth_date),
        )

    assert patient.person_id == prescriber.person_id
    assert count(db_session, Person) == 1


def test_a_second_account_of_the_same_role_for_a_person_is_refused(db_session):
    add_account(db_session, Role.PATIENT)

    with pytest.raises(AlreadyExists) as raised, operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="camille2",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails("285037505612306", "Camille", "Dubois", date(1985, 3, 12)),
        )

    assert "national_id" in raised.value.errors


def test_a_recorded_nir_under_another_name_is_refused(db_session):
    add_account(db_session, Role.PATIENT)

    with pytest.raises(ValidationFailed) as raised, operator(db_session) as uow:
        accounts.create_account(
            uow,
            username="someone",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails("285037505612306", "Marie", "Curie", date(1985, 3, 12)),
        )

    assert "national_id" in raised.value.errors


def test_an_estonian_person_is_identified_by_the_isikukood(db_session):
    with operator(db_session, country="EE") as uow:
        account = accounts.create_account(
            uow,
            username="mari",
            password=PASSWORD,
            role=Role.PATIENT,
            person=PersonDetails("48503120124", "Mari", "Tamm", date(1985, 3, 12)),
        )

    assert (account.person.national_id, account.person.country) == ("48503120124", "EE")


def test_a_person_without_an_account_can_be_recorded(db_session):
    with operator(db_session, country="FR") as uow:
        person = accounts.create_person(
            uow,
            details=PersonDetails("2 85 03 75 056 123 06", "Camille", "Dubois", date(1985, 3, 12)),
        )

    assert person.national_id == "285037505612306"


def test_a_pharmacy_is_refused_twice_and_with_an_invalid_finess(db_session):
    add_pharmacy(db_session)

    with pytest.raises(AlreadyExists):
        add_pharmacy(db_session)
    with pytest.raises(ValidationFailed) as raised, operator(db_session) as uow:
        accounts.create_pharmacy(uow, finess="330004566", name="Elsewhere")
    assert raised.value.errors == {"finess": ["the FINESS number's key should be 5, not 6"]}


def test_the_password_is_stored_as_an_argon2id_hash(db_session):
    account = add_account(db_session, Role.PATIENT)

    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


def test_the_right_password_authenticates_and_notes_the_login(db_session):
    add_account(db_session, Role.PATIENT)

    with operator(db_session) as uow:
        account = accounts.authenticate(uow, "Camille", PASSWORD)

    assert account.username == "camille"
    assert account.last_login_at is not None


def test_a_wrong_password_and_an_unknown_user_get_the_same_error(db_session):
    add_account(db_session, Role.PATIENT)

    with pytest.raises(AuthenticationFailed) as wrong_password, operator(db_session) as uow:
        accounts.authenticate(uow, "camille", "not-the-password")
    with pytest.raises(AuthenticationFailed) as unknown_user, operator(db_session) as uow:
        accounts.authenticate(uow, "nobody", PASSWORD)

    assert wrong_password.value.detail == unknown_user.value.detail


def test_a_disabled_account_cannot_log_in(db_session):
    account = add_account(db_session, Role.PATIENT)
    account.is_active = False
    db_session.commit()

    with pytest.raises(AuthenticationFailed), operator(db_session) as uow:
        accounts.authenticate(uow, "camille", PASSWORD)
    with operator(db_session) as uow:
        assert accounts.active_account(uow, account.id) is None


def test_a_password_hashed_with_older_parameters_is_rehashed_at_login(db_session):
    account = add_account(db_session, Role.PATIENT)
    account.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    db_session.commit()

    with operator(db_session) as uow:
        account = accounts.authenticate(uow, "camille", PASSWORD)

    assert not accounts.password_hasher.check_needs_rehash(account.password_hash)
