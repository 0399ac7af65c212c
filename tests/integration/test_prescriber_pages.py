"""The prescriber's web pages through the Flask test client, on both databases."""

import re

import pytest
from sqlalchemy import func, select
from stdnum.fr import nir

from eprescription.models import (
    Allergy,
    CompositionLine,
    Prescriber,
    Prescription,
    Product,
    Role,
)
from eprescription.services import pki
from tests.integration.people import PASSWORD, PEOPLE, add_account, operator

PIN = "1234"
PATIENT_NIR = PEOPLE[Role.PATIENT][1].national_id
NUMBER = re.compile(r'id="prescription-number">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3})<')


@pytest.fixture
def doliprane(db_session, catalog) -> str:
    """The CIS of a prescribable Doliprane 1000 mg tablet of the real BDPM."""
    products = db_session.scalars(
        select(Product)
        .where(Product.name.like("DOLIPRANE 1000 mg, comprimé%"))
        .order_by(Product.cis)
    ).all()
    return next(product.cis for product in products if product.is_prescribable)


@pytest.fixture
def paracetamol_code(db_session, doliprane) -> str:
    return db_session.scalar(
        select(CompositionLine.substance_code).where(
            CompositionLine.cis == doliprane, CompositionLine.nature == "SA"
        )
    )


@pytest.fixture
def doctor(client, db_session, doliprane):
    """A logged-in prescriber with a signing key (PIN 1234), and a patient."""
    with operator(db_session) as uow:
        pki.init_ca(uow)
    account = add_account(db_session, Role.PRESCRIBER)
    add_account(db_session, Role.PATIENT)
    prescriber = db_session.scalar(
        select(Prescriber).where(Prescriber.person_id == account.person_id)
    )
    with operator(db_session) as uow:
        pki.enroll_prescriber(uow, prescriber, PIN)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def form(cis: str, **overrides) -> dict:
    data = {
        "patient_nir": PATIENT_NIR,
        "items-0-cis": cis,
        "items-0-medication_label": "DOLIPRANE 1000 mg, comprimé",
        "items-0-dosage_text": "1 comprimé 3 fois par jour pendant 5 jours",
        "items-0-dose": "1",
        "items-0-dose_unit": "comprimé",
        "items-0-frequency_per_day": "3",
        "items-0-duration_days": "5",
        "items-0-quantity": "2",
        "renewals": "0",
        "pickup_mode": "public",
    }
    data.update(overrides)
    return data


def count(session, model=Prescription) -> int:
    return session.scalar(select(func.count()).select_from(model))


def sign(client, cis: str, pin: str = PIN, **overrides):
    return client.post(
        "/prescriber/prescriptions/sign", data={**form(cis, **overrides), "pin": pin}
    )


def issue(client, cis: str, **overrides) -> str:
    """The compact number of a prescription signed through the pages."""
    response = sign(client, cis, **overrides)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def test_the_landing_page_leads_to_the_new_prescription_form_and_the_list(client, doctor):
    landing = client.get("/prescriber/").get_data(as_text=True)
    assert 'href="/prescriber/prescriptions/new"' in landing
    assert 'href="/prescriber/prescriptions"' in landing

    page = client.get("/prescriber/prescriptions/new").get_data(as_text=True)
    assert page.count("<h1>") == 1
    assert 'role="combobox"' in page and 'role="listbox"' in page
    assert 'for="patient_nir"' in page and 'aria-live="polite"' in page


def test_the_review_shows_what_will_be_signed_and_stores_nothing(
    client, db_session, doctor, doliprane
):
    response = client.post("/prescriber/prescriptions/new", data=form(doliprane))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Review and sign</h1>" in page
    assert "Camille Dubois" in page and PATIENT_NIR in page
    assert f"CIS {doliprane}" in page
    assert "1 comprimé 3 fois par jour pendant 5 jours" in page
    assert 'name="items-0-cis" value="' + doliprane + '"' in page  # carried to the signature
    assert 'id="pin"' in page
    assert count(db_session) == 0


def test_invalid_fields_are_shown_next_to_them_and_the_form_keeps_what_was_typed(
    client, db_session, doctor, doliprane
):
    bad_nir = PATIENT_NIR[:-2] + "00"
    response = client.post(
        "/prescriber/prescriptions/new",
        data=form(doliprane, patient_nir=bad_nir, **{"items-0-quantity": "0", "renewals": "x"}),
    )

    page = response.get_data(as_text=True)
    assert "<h1>New prescription</h1>" in page
    assert 'role="alert"' in page
    assert 'id="patient_nir-error"' in page and "key should be" in page
    assert 'id="items-0-quantity-error"' in page and "between 1 and 20" in page
    assert 'id="renewals-error"' in page and "a whole number" in page
    assert f'value="{bad_nir}"' in page
    assert "1 comprimé 3 fois par jour pendant 5 jours</textarea>" in page
    assert count(db_session) == 0


def test_signing_with_the_pin_shows_the_number_qr_code_and_access_code_once(
    client, db_session, doctor, doliprane
):
    response = sign(client, doliprane)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert NUMBER.search(page)
    assert "<svg" in page and 'aria-label="QR code of prescription' in page
    assert 'id="access-code"' in page
    assert "data-print" in page
    assert count(db_session) == 1
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="access-code"' not in again and "<svg" in again


def test_a_wrong_pin_keeps_the_review_and_tells_the_tries_left(
    client, db_session, doctor, doliprane
):
    response = sign(client, doliprane, pin="9999")

    page = response.get_data(as_text=True)
    assert "<h1>Review and sign</h1>" in page
    assert "2 tries left" in page and 'id="pin-error"' in page
    assert 'name="items-0-cis" value="' + doliprane + '"' in page
    assert count(db_session) == 0


def test_a_blocked_key_is_explained_and_the_pin_field_is_gone(
    client, db_session, doctor, doliprane
):
    for _ in range(3):
        page = sign(client, doliprane, pin="9999").get_data(as_text=True)

    assert "blocked" in page and 'id="sign-error"' in page
    assert 'id="pin"' not in page
    assert count(db_session) == 0


def test_the_list_shows_the_prescriptions_issued_filtered_by_patient_and_status(
    client, doctor, doliprane
):
    number = issue(client, doliprane)

    listed = client.get("/prescriber/prescriptions").get_data(as_text=True)
    assert f"/prescriber/prescriptions/{number}" in listed
    by_patient = client.post("/prescriber/prescriptions", data={"patient": PATIENT_NIR})
    assert f"/prescriber/prescriptions/{number}" in by_patient.get_data(as_text=True)
    cancelled = client.post("/prescriber/prescriptions", data={"status": "cancelled"})
    assert f"/prescriber/prescriptions/{number}" not in cancelled.get_data(as_text=True)
    bad = client.post("/prescriber/prescriptions", data={"patient": "123"})
    assert 'id="patient-error"' in bad.get_data(as_text=True)


def test_renewing_prefills_the_form_from_a_past_prescription(client, db_session, doctor, doliprane):
    number = issue(client, doliprane)

    page = client.get(f"/prescriber/prescriptions/{number}/renew").get_data(as_text=True)

    assert "Renewal of prescription" in page
    assert f'value="{PATIENT_NIR}"' in page and f'value="{doliprane}"' in page
    assert "1 comprimé 3 fois par jour pendant 5 jours</textarea>" in page
    renewing = re.search(r'name="renewing" value="([0-9A-Z-]+)"', page).group(1)
    assert renewing.replace("-", "") == number  # its lines are no duplicate therapy
    renewed = issue(client, doliprane, renewing=renewing)
    assert renewed != number and count(db_session) == 2


def test_cancelling_needs_a_reason_and_the_pin_then_cancels(client, db_session, doctor, doliprane):
    number = issue(client, doliprane)
    url = f"/prescriber/prescriptions/{number}/cancel"

    refused = client.post(url, data={"scope": "whole", "reason": "", "pin": PIN})
    assert 'id="reason-error"' in refused.get_data(as_text=True)
    wrong = client.post(url, data={"scope": "whole", "reason": "Wrong patient", "pin": "9999"})
    assert "tries left" in wrong.get_data(as_text=True)

    done = client.post(
        url, data={"scope": "lines", "lines": "1", "reason": "Wrong patient", "pin": PIN}
    )

    assert done.status_code == 302
    assert db_session.scalar(select(Prescription.status)) == "cancelled"
    assert "Cancelled" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_the_review_warns_of_duplicate_therapy_and_of_a_recorded_allergy(
    client, db_session, runner, doctor, doliprane, paracetamol_code
):
    issue(client, doliprane)
    result = runner.invoke(
        args=["users", "add-allergy", "--nir", PATIENT_NIR, "--substance-code", paracetamol_code]
    )
    assert result.exit_code == 0, result.output
    assert count(db_session, Allergy) == 1

    page = client.post("/prescriber/prescriptions/new", data=form(doliprane)).get_data(as_text=True)

    assert "Check before signing" in page
    assert "already prescribed for this patient" in page
    assert "recorded as allergic to PARACÉTAMOL" in page


def test_the_patient_lookup_answers_with_the_name_or_a_problem(client, doctor):
    url = "/prescriber/patients/lookup"
    headers = {"Accept": "application/json"}

    # Never prescribed for: named only once the prescriber confirms (docs/security.md).
    unconfirmed = client.post(url, json={"nir": PATIENT_NIR}, headers=headers)
    assert unconfirmed.status_code == 403
    assert unconfirmed.get_json()["code"] == "patient_confirmation_required"
    found = client.post(url, json={"nir": PATIENT_NIR, "confirmed": True}, headers=headers)
    assert found.get_json() == {"name": "Camille Dubois", "birth_date": "1985-03-12"}
    mistyped = client.post(url, json={"nir": PATIENT_NIR[:-2] + "00"}, headers=headers)
    assert mistyped.status_code == 422 and "key" in mistyped.get_json()["detail"]
    nobody = "1800175056123" + nir.calc_check_digits("1800175056123")
    unknown = client.post(url, json={"nir": nobody, "confirmed": True}, headers=headers)
    assert unknown.status_code == 404 and "No patient is recorded" in unknown.get_json()["detail"]


def test_a_patient_cannot_open_the_prescriber_pages(client, db_session):
    account = add_account(db_session, Role.PATIENT)
    client.post("/login", data={"username": account.username, "password": PASSWORD})

    assert client.get("/prescriber/prescriptions/new").status_code == 403
    assert client.get("/prescriber/prescriptions").status_code == 403


def test_an_allergy_to_an_unknown_substance_or_person_is_refused(runner, db_session, catalog):
    result = runner.invoke(
        args=["users", "add-allergy", "--nir", PATIENT_NIR, "--substance-code", "99999999"]
    )
    assert result.exit_code == 1
    assert "no person is recorded" in result.output and "no substance" in result.output
    assert count(db_session, Allergy) == 0
