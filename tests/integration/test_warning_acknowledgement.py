"""Warnings before signing: one per substance and line, and acknowledged (ticked or given a
reason) before the prescriber's signature; the acknowledgement is stored and audited."""

import re

import pytest
from sqlalchemy import func, select

from eprescription.models import Allergy, AuditEvent, CompositionLine, Prescription, Product
from eprescription.services import allergies
from tests.integration import test_prescriber_pages as pages
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import operator
from tests.integration.test_prescriber_pages import PATIENT_NIR, count, form, sign

doctor = pages.doctor
doliprane = pages.doliprane

ACKNOWLEDGED = re.compile(r'name="acknowledged" value="([^"]+)"')
CLAVULANIC_ACID = "ACIDE CLAVULANIQUE"


@pytest.fixture
def augmentin(db_session, catalog) -> str:
    """A prescribable amoxicilline / acide clavulanique product: four composition lines (two
    salts, SA, and their active fractions, FT) for two substances."""
    products = db_session.scalars(
        select(Product).where(Product.name.like("AUGMENTIN 1 g/125 mg%")).order_by(Product.cis)
    ).all()
    return next(product.cis for product in products if product.is_prescribable)


def augmentin_form(cis: str) -> dict:
    return form(cis, **{"items-0-medication_label": "AUGMENTIN 1 g/125 mg"})


def review(client, cis: str) -> str:
    response = client.post("/prescriber/prescriptions/new", data=augmentin_form(cis))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def warnings_of(page: str) -> list[str]:
    return re.findall(r'<li class="warning-([a-z_]+)">', page)


def test_a_combination_line_gives_one_allergy_warning_and_one_duplicate_warning(
    client, db_session, doctor, augmentin
):
    code = db_session.scalar(
        select(CompositionLine.substance_code).where(
            CompositionLine.cis == augmentin, CompositionLine.substance_name == CLAVULANIC_ACID
        )
    )
    with operator(db_session) as uow:
        allergies.record_allergy(uow, PATIENT_NIR, code)
    first = review(client, augmentin)
    assert warnings_of(first) == ["allergy"]
    assert f"recorded as allergic to {CLAVULANIC_ACID}." in first
    keys = ACKNOWLEDGED.findall(first)
    done = client.post(
        "/prescriber/prescriptions/sign",
        data={**augmentin_form(augmentin), "pin": "1234", "acknowledged": keys},
    )
    assert done.status_code == 302, done.get_data(as_text=True)

    again = review(client, augmentin)

    assert warnings_of(again) == ["allergy", "duplicate_therapy"]  # not one per BDPM line
    assert re.search(r"AMOXICILLINE[^<]*, ACIDE CLAVULANIQUE already prescribed", again)


def test_signing_with_an_open_warning_needs_it_ticked_and_stores_and_audits_it(
    client, db_session, doctor, doliprane
):
    assert sign(client, doliprane).status_code == 302
    before = count(db_session)
    page = client.post("/prescriber/prescriptions/new", data=form(doliprane)).get_data(as_text=True)
    keys = ACKNOWLEDGED.findall(page)
    assert len(keys) == 1 and keys[0].startswith("duplicate_therapy:1:")

    refused = sign(client, doliprane)

    assert "Tick each warning you have checked, or give a reason" in refused.get_data(as_text=True)
    assert count(db_session) == before
    ticked = client.post(
        "/prescriber/prescriptions/sign",
        data={**form(doliprane), "pin": "1234", "acknowledged": keys},
    )
    assert ticked.status_code == 302
    db_session.expire_all()
    newest = db_session.scalars(select(Prescription).order_by(Prescription.id.desc())).first()
    assert [record["key"] for record in newest.acknowledged_warnings] == keys
    assert newest.acknowledged_warnings[0]["reason"] == ""
    assert db_session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "acknowledge_warnings", AuditEvent.object_id == newest.number
        )
    )


def test_a_reason_covers_every_warning_and_is_stored(client, db_session, doctor, doliprane):
    assert sign(client, doliprane).status_code == 302

    done = sign(client, doliprane, acknowledgement_reason="dose adjusted, same treatment")

    assert done.status_code == 302
    db_session.expire_all()
    newest = db_session.scalars(select(Prescription).order_by(Prescription.id.desc())).first()
    assert newest.acknowledged_warnings[0]["reason"] == "dose adjusted, same treatment"
    assert newest.acknowledged_warnings[0]["kind"] == "duplicate_therapy"


# -- the API ----------------------------------------------------------------------------------

people = prescribing.people
products = prescribing.products


def test_the_api_review_shows_the_warnings_and_an_acknowledging_issue_needs_each_one(
    client, db_session, people, products
):
    prescribing.issue(client, people, products)
    doctor = people["doctor"]
    without_pin = {k: v for k, v in prescribing.body(products).items() if k != "pin"}

    reviewed = client.post("/api/v1/prescriptions/review", json=without_pin, headers=doctor)

    assert reviewed.status_code == 200, reviewed.get_data(as_text=True)
    warnings = reviewed.get_json()["warnings"]
    assert [(w["kind"], w["line"]) for w in warnings] == [
        ("duplicate_therapy", 1),
        ("duplicate_therapy", 2),
    ]
    assert all(w["needs_acknowledgement"] for w in warnings)
    before = count(db_session)
    # Without the tests' blanket reason: a client that acknowledges nothing, then one warning.
    unacknowledged = {
        k: v for k, v in prescribing.body(products).items() if k != "acknowledgement_reason"
    }
    neither = client.post("/api/v1/prescriptions", json=unacknowledged, headers=doctor)
    assert neither.status_code == 422 and neither.get_json()["code"] == "warnings_not_acknowledged"
    one = client.post(
        "/api/v1/prescriptions",
        json={**unacknowledged, "acknowledged_warnings": [warnings[0]["key"]]},
        headers=doctor,
    )
    assert one.status_code == 422 and one.get_json()["code"] == "warnings_not_acknowledged"
    assert count(db_session) == before
    both = client.post(
        "/api/v1/prescriptions",
        json={**unacknowledged, "acknowledged_warnings": [w["key"] for w in warnings]},
        headers=doctor,
    )
    assert both.status_code == 201, both.get_data(as_text=True)
    stored = db_session.scalar(
        select(Prescription).where(Prescription.number == both.get_json()["id"])
    )
    assert [w["key"] for w in stored.acknowledged_warnings] == [w["key"] for w in warnings]


def test_the_prescriber_records_an_allergy_from_the_review_and_it_is_warned_of_at_once(
    client, db_session, doctor, doliprane
):
    unknown = client.post(
        "/prescriber/allergies", data={**form(doliprane), "allergy_substance": "NO SUCH THING"}
    )
    assert 'id="allergy-error"' in unknown.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Allergy)) == 0

    page = client.post(
        "/prescriber/allergies", data={**form(doliprane), "allergy_substance": "paracétamol"}
    ).get_data(as_text=True)

    assert warnings_of(page) == ["allergy"]
    assert "recorded as allergic to PARACÉTAMOL" in page
    recorded = db_session.scalars(select(Allergy)).all()
    assert [a.substance_name for a in recorded] == ["PARACÉTAMOL"]
    assert recorded[0].recorded_by_account_id == doctor.id
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "record_allergy"))
