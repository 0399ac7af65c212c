"""A prescriber changes their signing PIN beside their password: the current PIN opens the key
(a wrong one counts toward the block, as when signing), the key is wrapped under the new one."""

import pytest
from sqlalchemy import select

from eprescription.domain.errors import SigningKeyBlocked, WrongPin
from eprescription.models import AuditEvent, PrescriberCredential, Role
from eprescription.services import pki
from tests.integration.people import PASSWORD, add_account, operator

PIN, NEW_PIN = "1234", "567890"


@pytest.fixture
def doctor(client, db_session):
    account = add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        pki.init_ca(uow)
        pki.enroll_prescriber(uow, pki.prescriber_for_username(uow, account.username), PIN)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def sign(db_session, pin: str) -> str:
    with operator(db_session) as uow:
        return pki.sign_as_prescriber(
            uow, pki.prescriber_for_username(uow, "dr.martin"), pin, b"{}"
        )


def credential(db_session) -> PrescriberCredential:
    db_session.expire_all()
    return db_session.scalar(select(PrescriberCredential))


def change(client, pin: str, new: str = NEW_PIN, repeat: str | None = None):
    data = {"pin": pin, "new_pin": new, "repeat": new if repeat is None else repeat}
    return client.post("/account/pin", data=data)


def events(db_session) -> list[str]:
    rows = db_session.execute(
        select(AuditEvent.outcome).where(AuditEvent.action == "own_pin_changed")
    )
    return [outcome for (outcome,) in rows]


def test_the_page_is_linked_from_the_prescriber_home(client, doctor):
    assert 'href="/account/pin"' in client.get("/prescriber/").get_data(as_text=True)
    assert 'id="pin-form"' in client.get("/account/pin").get_data(as_text=True)


def test_the_right_pin_changes_it_signing_takes_the_new_one_not_the_old(client, db_session, doctor):
    response = change(client, PIN)

    assert response.status_code == 303
    assert sign(db_session, NEW_PIN).count(".") == 2
    with pytest.raises(WrongPin):
        sign(db_session, PIN)
    assert events(db_session) == ["success"]


def test_new_pins_that_differ_or_break_the_rule_are_refused_and_nothing_is_counted(
    client, db_session, doctor
):
    differ = change(client, PIN, repeat="567891")
    assert differ.status_code == 422
    assert 'id="repeat-error"' in differ.get_data(as_text=True)
    short = change(client, PIN, new="12")
    assert short.status_code == 422
    assert "4 to 8 digits" in short.get_data(as_text=True).split('id="new_pin-error"')[1]

    assert credential(db_session).failed_pin_attempts == 0
    assert sign(db_session, PIN)  # the key is still under the old PIN


def test_a_wrong_current_pin_counts_toward_the_block_as_when_signing(client, db_session, doctor):
    first = change(client, "9999")
    assert first.status_code == 422
    assert "2 tries left" in first.get_data(as_text=True)
    assert credential(db_session).failed_pin_attempts == 1
    with pytest.raises(WrongPin):
        sign(db_session, "9999")  # the second wrong PIN, at a signature
    third = change(client, "9999")
    assert third.status_code != 303
    assert 'id="pin-error"' in third.get_data(as_text=True)

    assert credential(db_session).blocked_at is not None
    with pytest.raises(SigningKeyBlocked):
        sign(db_session, PIN)
    assert change(client, PIN).status_code != 303  # blocked: the right PIN opens nothing
    assert "success" not in events(db_session) and len(events(db_session)) == 3


def test_only_a_prescriber_has_the_page(client, db_session):
    account = add_account(db_session, Role.PHARMACIST)
    client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert client.get("/account/pin").status_code == 403
