"""The unit of work's account accessor: the acting account a use case requires."""

import pytest
from sqlalchemy.orm import Session

from eprescription.domain.errors import AuthenticationRequired
from eprescription.models import Account, Role
from eprescription.services.uow import Settings, UnitOfWork

SETTINGS = Settings(country="FR", key_encryption_key=b"\x01" * 32)


def test_a_use_case_that_requires_an_account_is_refused_without_one():
    with Session() as session:
        uow = UnitOfWork(session, SETTINGS)

        with pytest.raises(AuthenticationRequired):
            uow.require_account()


def test_a_use_case_that_requires_an_account_gets_the_acting_one():
    account = Account(username="demo-patient", role=Role.PATIENT)
    with Session() as session:
        uow = UnitOfWork(session, SETTINGS, account)

        assert uow.require_account() is account
