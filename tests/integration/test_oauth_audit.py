"""A professional issuing through a software client: the scope decides, and every audit event
the call writes names the software; the chains still verify (real BDPM, real signatures)."""

from sqlalchemy import select

from eprescription.models import AuditEvent
from eprescription.services import audit, practices, software_clients
from tests.integration.people import PASSWORD, operator
from tests.integration.test_oauth import PRESCRIBER_RPPS, basic
from tests.integration.test_prescriptions_api import body, people, products

__all__ = ["people", "products"]  # fixtures


def software_token(client, session, scope: str) -> tuple[str, dict]:
    with operator(session) as uow:
        practice = practices.add(uow, name="Cabinet des Quais")
        practices.assign(uow, PRESCRIBER_RPPS, practice.id)
        registered = software_clients.register(
            uow,
            name="MedLogic",
            vendor="Acme Santé",
            version="4.2",
            scopes=["issue", "read"],
            practice_id=practice.id,
        )
    client_id, secret = registered.client.client_id, registered.secret
    response = client.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "password",
            "username": "dr.martin",
            "password": PASSWORD,
            "scope": scope,
        },
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return client_id, {"Authorization": "Bearer " + response.get_json()["access_token"]}


def test_issuing_through_software_names_it_in_every_event(client, db_session, people, products):
    client_id, headers = software_token(client, db_session, "issue read")
    before = db_session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))

    response = client.post("/api/v1/prescriptions", json=body(products), headers=headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    written = db_session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
    assert written
    assert {event.software for event in written} == {f"MedLogic 4.2 ({client_id})"}
    assert {event.actor_role for event in written} == {"prescriber"}
    read = client.get(f"/api/v1/prescriptions/{response.get_json()['id']}", headers=headers)
    assert read.status_code == 200
    assert audit.verify_chains(db_session).ok
    log = client.get("/api/v1/me/access-log", headers=people["patient"]).get_json()["items"]
    assert {entry["software"] for entry in log} == {"MedLogic 4.2"}


def test_a_token_without_the_issue_scope_cannot_issue(client, db_session, people, products):
    _client_id, headers = software_token(client, db_session, "read")

    response = client.post("/api/v1/prescriptions", json=body(products), headers=headers)

    assert (response.status_code, response.get_json()["code"]) == (403, "insufficient_scope")
    # The same prescriber's own token (no software) has every scope of the role, as before.
    assert (
        client.post(
            "/api/v1/prescriptions", json=body(products), headers=people["doctor"]
        ).status_code
        == 201
    )
