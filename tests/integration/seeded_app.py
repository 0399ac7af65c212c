"""An app as after `make run` (the demo seeded) with something behind every URL parameter: a
prescription, a dispensation, a representative, a FHIR subscription, a sealed audit log, and a
token per role."""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from eprescription import migrate
from eprescription.db import get_session
from eprescription.models import Presentation
from tests.conftest import make_test_app
from tests.databases import create_database, drop_database

LOGINS = {
    "patient": ("demo-patient", "demo-patient-2026"),
    "prescriber": ("demo-prescriber", "demo-prescriber-2026"),
    "pharmacist": ("demo-pharmacist", "demo-pharmacist-2026"),
    "admin": ("demo-admin", "demo-admin-2026"),
}
PATIENT_NIR = "285037505612306"  # the demo patient's
REPRESENTATIVE = {"nir": "190063306320126", "family_name": "Bernard"}  # the demo pharmacist


@dataclass
class Seeded:
    app: object
    tokens: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)  # URL parameter → a real value

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}


def seeded_app(engine_name: str, directory) -> tuple[Seeded, str]:
    """The seeded app on a new database of `engine_name`, and that database's URL (to drop)."""
    url = create_database(engine_name, directory)
    migrate.upgrade(url)
    app = make_test_app(url)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    tokens = {}
    for role, (username, password) in LOGINS.items():
        answer = client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.get_json()
        tokens[role] = answer.get_json()["access_token"]
    seeded = Seeded(app, tokens)
    (mine,) = client.get("/api/v1/me/prescriptions", headers=seeded.bearer("patient")).json["items"]
    number = mine["id"]
    detail = client.get(f"/api/v1/me/prescriptions/{number}", headers=seeded.bearer("patient"))
    dispensation_id = _dispense(seeded, number, detail.get_json(), mine["lines"][0])
    representative = client.post(
        "/api/v1/me/representatives", json=REPRESENTATIVE, headers=seeded.bearer("patient")
    )
    assert representative.status_code == 201, representative.get_json()
    subscription = client.post(  # the demo practice's FHIR rest-hook, at a public address
        "/fhir/r4/Subscription",
        data=json.dumps(
            {
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "The practice software",
                "criteria": "MedicationRequest",
                "channel": {"type": "rest-hook", "endpoint": "https://192.0.32.10/hooks/fhir"},
            }
        ),
        headers={**seeded.bearer("prescriber"), "Content-Type": "application/fhir+json"},
    )
    assert subscription.status_code == 201, subscription.get_data(as_text=True)
    assert app.test_cli_runner().invoke(args=["audit", "seal"]).exit_code == 0
    size = client.get("/api/v1/audit/checkpoint").get_json()["tree_size"]
    dispensed = client.get(  # the FHIR Patient id of the patient (our person id)
        "/fhir/r4/MedicationDispense",
        query_string={"prescription": number},
        headers=seeded.bearer("patient"),
    ).get_json()
    patient_reference = dispensed["entry"][0]["resource"]["subject"]["reference"]
    seeded.values = {
        "number": number,
        "prescription_id": number,
        "resource_id": number,
        "dispensation_id": dispensation_id,
        "representative_id": str(representative.get_json()["id"]),
        "request_id": "1",
        "nir": PATIENT_NIR,
        "patient_id": patient_reference.removeprefix("Patient/"),
        "rpps": "10001234565",  # the demo prescriber's (FHIR Practitioner/{rpps})
        "finess": "750001232",  # the demo pharmacy's (FHIR Organization/{finess})
        "size": str(size),
        "code": "en",
        "filename": "css/app.css",
        "document": "receipt",
        # The admin page's account actions: an account that does not exist (so walking every
        # route as every role changes no account) and the harmless action.
        "username": "no-such-account",
        "action": "unlock",
        # The software page's acts: a client that does not exist (walking changes no client).
        "client_id": "no-such-client",
        "subscription_id": json.loads(subscription.get_data())["id"],
        "dispense_id": f"{dispensation_id}-1",  # FHIR MedicationDispense/{dispensation}-{line}
        # A delivery that does not exist (walking replays none).
        "delivery_id": "999999",
    }
    return seeded, url


def dispose(seeded: Seeded, url: str) -> None:
    seeded.app.extensions["db_engine"].dispose()
    drop_database(url)


def _dispense(seeded: Seeded, number: str, detail: dict, line: dict) -> str:
    """One pack of the first line given to the patient: the id of that dispensation."""
    with seeded.app.app_context():
        scan = seeded.app.test_client().post(
            "/api/v1/pharmacy/scan",
            json={"code": detail["qr_text"]},
            headers=seeded.bearer("pharmacist"),
        )
        assert scan.status_code == 200, scan.get_json()
        cis = scan.get_json()["items"][0]["medication"]["cis"]
        cip13 = get_session().scalar(select(Presentation.cip13).where(Presentation.cis == cis))
    body = {
        "code": detail["qr_text"],
        "lines": [
            {
                "line": line["line"],
                "cip13": cip13,
                "quantity": 1,
                "batch": "B1",
                "expiry": (date.today() + timedelta(days=400)).isoformat(),
            }
        ],
        "collected_by": {"kind": "patient"},
    }
    answer = seeded.app.test_client().post(
        f"/api/v1/prescriptions/{number}/dispensations",
        json=body,
        headers=seeded.bearer("pharmacist"),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]
