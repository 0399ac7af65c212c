"""A dispensation whose stored receipt was changed with SQL (its payload no longer JSON, its JSON
edited, another dispensation's receipt copied in) is shown as "cannot be verified" on its own
entry and never takes a page down: the pharmacy's list (page and API), the receipt (page, API,
the JWS file), the reversal (refused, nothing changed), the patient's prescription (list and one,
API and pages). On both engines, with real signatures and the real BDPM."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from eprescription.models import AuditEvent, Dispensation
from tests.integration import test_row_binding as binding
from tests.integration.test_dispensing_api import SCAN, dispense, item_quantities, pack_line
from tests.integration.test_prescriptions_api import assert_problem, issue

people = binding.people
products = binding.products
packs = binding.packs
pharmacist = binding.pharmacist
world = binding.world

CODE = "receipt_signature_invalid"
WORDS = "cannot be verified"
LIST = "/api/v1/dispensations"


@dataclass
class Given:
    """Two prescriptions of the same patient, line 1 of each dispensed: `good` untouched,
    `bad` whose dispensation's stored receipt the insider changed."""

    good: dict
    bad: dict
    good_id: str
    bad_id: str


def dispensed(world) -> tuple[dict, str]:
    issued = issue(world.client, world.people, world.products)
    given = dispense(
        world.client, world.pharmacist, issued, [pack_line(1, world.packs["doliprane"])]
    )
    assert given.status_code == 201, given.get_data(as_text=True)
    return issued, given.get_json()["id"]


def stored(world, dispensation_id: str) -> Dispensation:
    return world.session.scalar(
        select(Dispensation)
        .where(Dispensation.id == dispensation_id)
        .execution_options(populate_existing=True)
    )


def not_json(world, good: Dispensation, bad: Dispensation) -> dict:
    return {"payload": b'{"type": "eprescription.dispensation", "lines": [{'}


def json_edited(world, good: Dispensation, bad: Dispensation) -> dict:
    edited = bad.payload.replace(b'"quantity":1', b'"quantity":9')
    assert edited != bad.payload
    return {"payload": edited}


def receipt_of_another(world, good: Dispensation, bad: Dispensation) -> dict:
    """The other dispensation's receipt, its JWS and payload both (the signature holds)."""
    return {"payload": good.payload, "jws": good.jws}


def signature_of_another(world, good: Dispensation, bad: Dispensation) -> dict:
    return {"jws": good.jws}


CHANGES = [not_json, json_edited, receipt_of_another, signature_of_another]


@pytest.fixture(params=CHANGES, ids=lambda change: change.__name__)
def given(request, world) -> Given:
    good, good_id = dispensed(world)
    bad, bad_id = dispensed(world)
    values = request.param(world, stored(world, good_id), stored(world, bad_id))
    world.change(update(Dispensation).where(Dispensation.id == bad_id).values(**values))
    return Given(good, bad, good_id, bad_id)


def page(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'")


def test_a_changed_receipt_shows_as_cannot_be_verified_on_the_pharmacys_faces(world, given):
    client, headers = world.client, world.pharmacist

    listed = client.get(LIST, headers=headers)
    assert listed.status_code == 200, listed.get_data(as_text=True)
    entries = {entry["id"]: entry for entry in listed.get_json()["dispensations"]}
    bad, good = entries[given.bad_id], entries[given.good_id]
    assert bad["verified"] is False and bad["verification_problems"], bad
    assert bad["prescription_number"] == given.bad["id"]
    assert bad["products"] == [] and bad["pharmacist"] is None and bad["total_cents"] is None
    assert good["verified"] is True and good["verification_problems"] == []
    assert good["products"] and good["pharmacist"]["family_name"]

    detail = assert_problem(client.get(f"{LIST}/{given.bad_id}", headers=headers), 409, CODE)
    assert WORDS in detail["detail"]
    assert client.get(f"{LIST}/{given.good_id}", headers=headers).status_code == 200

    browser = world.web("ph.bernard")
    recent = browser.get("/pharmacy/dispensations")
    assert recent.status_code == 200
    text = page(recent)
    assert f'<tr id="dispensation-{given.bad_id}" class="unverified">' in text
    assert "Cannot be verified" in text
    assert f'href="/pharmacy/dispensations/{given.good_id}"' in text
    receipt = browser.get(f"/pharmacy/dispensations/{given.bad_id}")
    assert receipt.status_code == 409 and WORDS in page(receipt)
    assert 'id="reversal-form"' not in page(receipt)
    assert browser.get(f"/pharmacy/dispensations/{given.bad_id}/receipt.jws").status_code == 409
    assert browser.get(f"/pharmacy/dispensations/{given.good_id}").status_code == 200

    french = world.web("ph.bernard")
    french.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert "Invérifiable" in page(french.get("/pharmacy/dispensations"))
    assert "ne peut pas être vérifié" in page(french.get(f"/pharmacy/dispensations/{given.bad_id}"))

    refused = world.session.scalars(
        select(AuditEvent.object_id)
        .where(AuditEvent.action == "read", AuditEvent.object_type == "dispensation")
        .where(AuditEvent.outcome == CODE)
    ).all()
    assert refused and set(refused) == {given.bad_id}
    listed_as = dict(
        world.session.execute(
            select(AuditEvent.object_id, AuditEvent.outcome).where(AuditEvent.action == "list")
        ).all()
    )
    assert listed_as == {given.bad_id: CODE, given.good_id: "success"}


def test_the_reversal_of_a_changed_receipt_is_refused_and_changes_nothing(world, given):
    client, headers = world.client, world.pharmacist
    before = stored(world, given.bad_id)
    payload, jws = before.payload, before.jws

    api = client.post(
        f"{LIST}/{given.bad_id}/reversal", json={"reason": "erreur"}, headers=world.pharmacist
    )
    assert WORDS in assert_problem(api, 409, CODE)["detail"]
    browser = world.web("ph.bernard")
    web = browser.post(f"/pharmacy/dispensations/{given.bad_id}/reversal", data={"reason": "x"})
    assert web.status_code == 409 and WORDS in page(web)

    after = stored(world, given.bad_id)
    assert after.reversed_at is None and after.reversal_payload is None
    assert (after.payload, after.jws) == (payload, jws)
    assert item_quantities(world.session, given.bad) == [1, 0]
    outcomes = world.session.scalars(
        select(AuditEvent.outcome).where(AuditEvent.action == "reverse")
    ).all()
    assert CODE in outcomes and "success" not in outcomes
    assert client.get(f"{LIST}/{given.good_id}", headers=headers).get_json()["reversible"]


def test_the_patient_sees_the_prescription_of_a_changed_receipt_as_cannot_be_verified(world, given):
    client, patient = world.client, world.people["patient"]
    number = given.bad["id"]

    binding.assert_flagged(binding.listed(world, binding.ME, patient, number))
    assert binding.listed(world, binding.ME, patient, given.good["id"])["verified"] is True
    assert_problem(client.get(f"{binding.ME}/{number}", headers=patient), 409, binding.CODE)
    assert client.get(f"{binding.ME}/{given.good['id']}", headers=patient).status_code == 200
    browser = world.web("camille")
    home = browser.get("/me")
    assert home.status_code == 200 and f'id="unverified-{number}"' in page(home)
    one = browser.get(f"/me/prescriptions/{number}")
    assert one.status_code == 409 and WORDS in page(one)
    assert browser.get(f"/me/prescriptions/{given.good['id']}").status_code == 200

    # FHIR: the dispensations of it are refused as its reading is (an OperationOutcome).
    fhir = client.get(
        "/fhir/r4/MedicationDispense",
        query_string={"prescription": number},
        headers=world.people["doctor"],
    )
    assert fhir.status_code == 409 and fhir.get_json()["resourceType"] == "OperationOutcome"

    # Nothing more can be given from it: what was given counts only by verified receipts.
    scanned = client.post(SCAN, json={"code": given.bad["qr_text"]}, headers=world.pharmacist)
    assert_problem(scanned, 409, binding.CODE)
