"""Documents verified once per process (services/verified_cache.py): the same bytes under the
same trust list are not checked again; other bytes, or a trust list read again, are."""

import pytest
from sqlalchemy import select

from eprescription.models import Prescription
from eprescription.services import trust_cache, verified_cache
from eprescription.signing import jws
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import operator
from tests.integration.test_statement_counts import issued

people = prescribing.people
products = prescribing.products


@pytest.fixture
def checks(monkeypatch) -> list[str]:
    """Every JWS verify_compact checks, in order."""
    seen: list[str] = []
    real = jws.verify_compact

    def counted(token, **options):
        seen.append(token)
        return real(token, **options)

    monkeypatch.setattr(jws, "verify_compact", counted)
    monkeypatch.setattr(trust_cache, "TTL_SECONDS", 3600.0)
    return seen


def test_a_document_is_verified_once_for_the_same_bytes_and_trust_list(
    app, client, db_session, people, products, checks
):
    number = issued(client, people, products, 1)["id"]
    row = db_session.scalars(select(Prescription).where(Prescription.number == number)).one()
    token, payload = row.jws, row.payload

    with operator(db_session) as uow:
        first = verified_cache.document(uow, token, payload)
        again = verified_cache.document(uow, token, payload)
    assert first.content is not None and again.content == first.content
    assert again.content is not first.content  # decoded again: no caller shares it
    assert checks == [token]

    edited = payload.replace(b'"quantity":1', b'"quantity":9')
    with operator(db_session) as uow:
        changed = verified_cache.document(uow, token, edited)
    # other bytes: checked (again against the trust list read now, as any refusal is), refused
    assert changed.content is None
    assert len(checks) > 1
    checked = len(checks)

    # That refusal read the trust list again: the first document under the new copy is
    # checked once more, then kept.
    with operator(db_session) as uow:
        assert verified_cache.document(uow, token, payload).content is not None
        assert verified_cache.document(uow, token, payload).content is not None
    assert len(checks) == checked + 1
    trust_cache.forget()  # a trust list read again (a revocation, a CA) checks it again
    with operator(db_session) as uow:
        assert verified_cache.document(uow, token, payload).content is not None
    assert len(checks) == checked + 2 and checks[-1] == token
