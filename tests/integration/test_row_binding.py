"""The signature is the truth (docs/signing.md): an insider who changes a prescription's rows with
SQL (a quantity, another prescription's signature, the patient, the payload, the dates, the
pickup mode, a receipt) gets a prescription that every face shows as "cannot be verified" and
from which nothing can be dispensed: the scan and dispense API, the pharmacy's scan page, the
prescriber's API and page, the patient's health space (list and one, API and pages), FHIR and
`flask verify NUMBER`. On both engines, with real signatures and the real BDPM."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from eprescription.models import (
    Dispensation,
    DispensationLine,
    Person,
    Prescription,
    PrescriptionItem,
)
from tests.integration import test_dispensing_api as dispensing
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD
from tests.integration.test_dispensing_api import SCAN, dispense, pack_line
from tests.integration.test_prescriptions_api import assert_problem, body, issue

people = prescribing.people
products = prescribing.products
packs = dispensing.packs
pharmacist = dispensing.pharmacist

CODE = "prescription_signature_invalid"
ME = "/api/v1/me/prescriptions"
WORDS = "cannot be verified"


@dataclass
class World:
    app: object
    client: object
    session: object
    people: dict
    products: dict
    packs: dict
    pharmacist: dict

    def row(self, issued) -> Prescription:
        return self.session.scalar(
            select(Prescription)
            .where(Prescription.number == issued["id"])
            .execution_options(populate_existing=True)
        )

    def change(self, statement) -> None:
        """The insider's SQL UPDATE, committed; then nothing this session read before is kept
        (the requests of these tests share it, where each request of the service has its own)."""
        self.session.execute(statement)
        self.session.commit()
        self.session.expire_all()

    def web(self, username: str):
        """A browser logged in as `username`, in English."""
        browser = self.app.test_client()
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        response = browser.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser


@dataclass
class Case:
    issued: dict
    reader: str = "patient"  # the people fixture's key of the patient it is now stored for
    reader_username: str = "camille"


@pytest.fixture
def world(app, client, db_session, people, products, packs, pharmacist):
    return World(app, client, db_session, people, products, packs, pharmacist)


# -- the insider's changes ----------------------------------------------------------------------


def quantity_raised(world: World) -> Case:
    issued = issue(world.client, world.people, world.products)
    world.change(
        update(PrescriptionItem)
        .where(PrescriptionItem.prescription_id == world.row(issued).id)
        .where(PrescriptionItem.line == 1)
        .values(quantity=20, quantity_total=20)
    )
    return Case(issued)


def signature_copied(world: World) -> Case:
    """Another patient's prescription, by another prescriber: its JWS and payload copied in."""
    issued = issue(world.client, world.people, world.products)
    other_nir = world.people["other_patient_nir"]
    response = world.client.post(
        "/api/v1/prescriptions",
        json=body(world.products, patient_nir=other_nir),
        headers=world.people["other_doctor"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    source = world.row(response.get_json())
    world.change(
        update(Prescription)
        .where(Prescription.number == issued["id"])
        .values(jws=source.jws, payload=source.payload)
    )
    return Case(issued)


def patient_moved(world: World) -> Case:
    issued = issue(world.client, world.people, world.products)
    other = world.session.scalar(
        select(Person.id).where(Person.national_id == world.people["other_patient_nir"])
    )
    world.change(
        update(Prescription)
        .where(Prescription.number == issued["id"])
        .values(patient_person_id=other)
    )
    return Case(issued, reader="other_patient", reader_username="lea")


def payload_edited(world: World) -> Case:
    issued = issue(world.client, world.people, world.products)
    edited = world.row(issued).payload.replace(b'"quantity":1', b'"quantity":9')
    world.change(
        update(Prescription).where(Prescription.number == issued["id"]).values(payload=edited)
    )
    return Case(issued)


def validity_extended(world: World) -> Case:
    issued = issue(world.client, world.people, world.products)
    world.change(
        update(Prescription)
        .where(Prescription.number == issued["id"])
        .values(valid_until=date.today() + timedelta(days=360))
    )
    return Case(issued)


def pickup_mode_opened(world: World) -> Case:
    """A private prescription made public in the column (no choice of the patient's signed)."""
    issued = issue(world.client, world.people, world.products, pickup_mode="private")
    world.change(
        update(Prescription).where(Prescription.number == issued["id"]).values(pickup_mode="public")
    )
    return Case(issued)


def pickup_choice_overridden(world: World) -> Case:
    """The patient chose private (a document the service signs); the column set back to public."""
    issued = issue(world.client, world.people, world.products)
    chosen = world.client.put(
        f"{ME}/{issued['id']}/pickup-mode",
        json={"pickup_mode": "private"},
        headers=world.people["patient"],
    )
    assert chosen.status_code == 200, chosen.get_data(as_text=True)
    world.change(
        update(Prescription).where(Prescription.number == issued["id"]).values(pickup_mode="public")
    )
    return Case(issued)


def receipt_quantity_lowered(world: World) -> Case:
    """Line 2 (2 packs) given in full; the receipt's stored line and the counter say 1."""
    issued = issue(world.client, world.people, world.products)
    given = dispense(
        world.client, world.pharmacist, issued, [pack_line(2, world.packs["amoxicilline"], 2)]
    )
    assert given.status_code == 201, given.get_data(as_text=True)
    world.change(
        update(DispensationLine)
        .where(DispensationLine.dispensation_id == given.get_json()["id"])
        .values(quantity=1)
    )
    world.change(
        update(PrescriptionItem)
        .where(PrescriptionItem.prescription_id == world.row(issued).id)
        .where(PrescriptionItem.line == 2)
        .values(dispensed_quantity=1)
    )
    return Case(issued)


CHANGES = [
    quantity_raised,
    signature_copied,
    patient_moved,
    payload_edited,
    validity_extended,
    pickup_mode_opened,
    pickup_choice_overridden,
    receipt_quantity_lowered,
]


# -- what every face answers ----------------------------------------------------------------------


def count_dispensations(world: World) -> int:
    return world.session.scalar(select(func.count()).select_from(Dispensation))


def listed(world: World, path: str, headers: dict, number: str, **query) -> dict:
    response = world.client.get(path, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    found = [entry for entry in response.get_json()["items"] if entry["id"] == number]
    assert len(found) == 1, response.get_json()
    return found[0]


def assert_flagged(entry: dict) -> None:
    """Listed as it must be: its number, why, and none of the content nothing vouches for."""
    assert entry["verified"] is False
    assert entry["verification_problems"], entry
    assert not {"patient", "prescriber", "lines"} & set(entry) and not entry.get("items")


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__)
def test_an_insider_change_to_the_rows_is_refused_or_flagged_on_every_face(world, change):
    case = change(world)
    issued, client = case.issued, world.client
    number, doctor, reader = issued["id"], world.people["doctor"], world.people[case.reader]

    # The pharmacy: scan and dispense (API), the scan page; nothing is dispensed.
    scanned = client.post(SCAN, json={"code": issued["qr_text"]}, headers=world.pharmacist)
    assert WORDS in assert_problem(scanned, 409, CODE)["detail"]
    before = count_dispensations(world)
    refused = dispense(client, world.pharmacist, issued, [pack_line(1, world.packs["doliprane"])])
    assert_problem(refused, 409, CODE)
    assert count_dispensations(world) == before
    page = world.web("ph.bernard").post("/pharmacy/scan", data={"code": issued["qr_text"]})
    assert page.status_code == 409
    assert f'data-code="{CODE}"' in page.get_data(as_text=True)
    assert WORDS in page.get_data(as_text=True) and 'id="dispense-form"' not in page.get_data(
        as_text=True
    )

    # The prescriber: the API and the page refuse it, the list flags it.
    assert_problem(client.get(f"/api/v1/prescriptions/{number}", headers=doctor), 409, CODE)
    assert_flagged(listed(world, "/api/v1/prescriptions", doctor, number))
    prescriber = world.web("dr.martin")
    shown = prescriber.get(f"/prescriber/prescriptions/{number}")
    assert shown.status_code == 409 and WORDS in shown.get_data(as_text=True)
    assert f'id="unverified-{number}"' in prescriber.get("/prescriber/prescriptions").get_data(
        as_text=True
    )

    # The patient it is stored for: the list flags it, reading it is refused (API and pages).
    assert_flagged(listed(world, ME, reader, number))
    assert_problem(client.get(f"{ME}/{number}", headers=reader), 409, CODE)
    patient = world.web(case.reader_username)
    assert f'id="unverified-{number}"' in patient.get("/me").get_data(as_text=True)
    one = patient.get(f"/me/prescriptions/{number}")
    assert one.status_code == 409 and WORDS in one.get_data(as_text=True)

    # FHIR: an OperationOutcome naming the code.
    fhir = client.get(f"/fhir/r4/MedicationRequest/{number}", headers=doctor)
    assert fhir.status_code == 409
    assert fhir.get_json()["resourceType"] == "OperationOutcome"
    assert fhir.get_json()["issue"][0]["details"]["coding"][0]["code"] == CODE

    # The operator: `flask verify NUMBER` exits 1 and says why.
    result = world.app.test_cli_runner().invoke(args=["verify", issued["number"]])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "NOT" in result.output


def test_an_untouched_prescription_with_a_receipt_and_a_pickup_choice_verifies_on_every_face(
    world,
):
    issued = issue(world.client, world.people, world.products, renewals=1)
    client, number = world.client, issued["id"]
    chosen = client.put(
        f"{ME}/{number}/pickup-mode",
        json={"pickup_mode": "authorised"},
        headers=world.people["patient"],
    )
    assert chosen.status_code == 200, chosen.get_data(as_text=True)
    lines = [pack_line(2, world.packs["amoxicilline"])]
    given = dispense(client, world.pharmacist, issued, lines, identity_confirmed=True)
    assert given.status_code == 201, given.get_data(as_text=True)
    doctor, patient = world.people["doctor"], world.people["patient"]

    scanned = client.post(SCAN, json={"code": issued["qr_text"]}, headers=world.pharmacist)
    assert scanned.status_code == 200, scanned.get_data(as_text=True)
    view = scanned.get_json()
    assert view["verified"] is True and view["pickup_mode"] == "authorised"
    assert [line["dispensed"] for line in view["items"]] == [0, 1]
    binding = [check for check in view["signature"]["checks"] if check["name"] == "binding"]
    assert binding and binding[0]["ok"] is True
    read = client.get(f"/api/v1/prescriptions/{number}", headers=doctor)
    assert read.status_code == 200 and read.get_json()["verified"] is True
    assert listed(world, "/api/v1/prescriptions", doctor, number)["verified"] is True
    card = listed(world, ME, patient, number)
    assert card["verified"] is True and card["pickup_mode"] == "authorised"
    assert client.get(f"{ME}/{number}", headers=patient).status_code == 200
    assert world.web("camille").get(f"/me/prescriptions/{number}").status_code == 200
    assert world.web("dr.martin").get(f"/prescriber/prescriptions/{number}").status_code == 200
    fhir = client.get(f"/fhir/r4/MedicationRequest/{number}-2", headers=doctor)
    assert fhir.status_code == 200 and fhir.get_json()["resourceType"] == "MedicationRequest"
    result = world.app.test_cli_runner().invoke(args=["verify", issued["number"]])
    assert result.exit_code == 0, result.output
    assert "ok   binding:" in result.output


def test_a_reversal_gives_back_only_what_the_signed_receipt_gave(world):
    """A receipt's stored line raised after the fact: reversing it would hand back more than was
    given, so the reversal is refused and the quantities stay."""
    issued = issue(world.client, world.people, world.products, renewals=2)
    given = dispense(
        world.client, world.pharmacist, issued, [pack_line(2, world.packs["amoxicilline"])]
    )
    assert given.status_code == 201, given.get_data(as_text=True)
    world.change(
        update(DispensationLine)
        .where(DispensationLine.dispensation_id == given.get_json()["id"])
        .values(quantity=2)
    )

    reversed_ = world.client.post(
        f"/api/v1/dispensations/{given.get_json()['id']}/reversal",
        json={"reason": "wrong pack"},
        headers=world.pharmacist,
    )

    assert_problem(reversed_, 409, CODE)
    assert dispensing.item_quantities(world.session, issued) == [0, 1]
