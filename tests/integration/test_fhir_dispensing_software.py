"""FHIR dispensing through a pharmacy's software client: its token's scopes decide, and every
audit event the dispensation writes names the software (real BDPM, real signatures)."""

from sqlalchemy import select

from eprescription.models import AuditEvent, Dispensation
from eprescription.services import audit, software_clients
from tests.integration.people import PASSWORD, PHARMACY_FINESS, operator
from tests.integration.test_dispensing_api import count, item_quantities
from tests.integration.test_fhir_dispensing import (
    answered,
    line_dispense,
    packs,
    people,
    pharmacist,
    post,
    products,
    refused,
    split,
)
from tests.integration.test_oauth import basic
from tests.integration.test_prescriptions_api import issue

__all__ = ["packs", "people", "pharmacist", "products"]  # fixtures


def software_token(client, session, scope: str) -> tuple[str, dict]:
    """A token of the pharmacist through their pharmacy's software, with `scope`."""
    with operator(session) as uow:
        registered = software_clients.register(
            uow,
            name="OffiLogic",
            vendor="Officine SA",
            version="7.1",
            scopes=["dispense", "read"],
            pharmacy_finess=PHARMACY_FINESS,
        )
    client_id, secret = registered.client.client_id, registered.secret
    response = client.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "password",
            "username": "ph.bernard",
            "password": PASSWORD,
            "scope": scope,
        },
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return client_id, {"Authorization": "Bearer " + response.get_json()["access_token"]}


def test_dispensing_through_software_names_it_in_every_event_and_reads_back(
    client, db_session, people, products, packs, pharmacist
):
    client_id, headers = software_token(client, db_session, "dispense read")
    issued = issue(client, people, products)
    before = db_session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))

    created = post(client, headers, line_dispense(issued, 1, packs["doliprane"]))

    (dispensed,), _ = split(answered(created))
    written = db_session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
    assert [event.action for event in written] == ["dispense"]
    assert {event.software for event in written} == {f"OffiLogic 7.1 ({client_id})"}
    read = client.get(created.headers["Location"], headers=headers)
    assert read.status_code == 200 and read.get_json() == dispensed
    assert audit.verify_chains(db_session).ok


def test_a_token_without_the_dispense_scope_dispenses_nothing(
    client, db_session, people, products, packs, pharmacist
):
    _client_id, headers = software_token(client, db_session, "read")
    issued = issue(client, people, products)

    refused(
        post(client, headers, line_dispense(issued, 1, packs["doliprane"])),
        403,
        "insufficient_scope",
    )

    assert count(db_session, Dispensation) == 0
    assert item_quantities(db_session, issued) == [0, 0]
