"""A renewal request in the browser: the patient asks, the prescriber renews it with the PIN,
and the patient opens the new prescription."""

import re
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select
from stdnum.fr import nir

from eprescription.db import get_session
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account, Role
from eprescription.services import accounts, audit, issuing, prescription_drafts
from eprescription.services.accounts import PersonDetails
from eprescription.services.demo import DEMO_USERS
from eprescription.use_cases import unit_of_work
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_patient_journey import MOPRAL

PRESCRIBER = next(user for user in DEMO_USERS if user.username == "demo-prescriber")
PATIENT = ("renewal-patient", "renewal-patient-2026")
NIR_BODY = "1620775056124"


def long_term_treatment_running_out(app) -> str:
    """A patient of their own (other journeys use the demo patient) with a one-renewal
    prescription in its last 20 days, signed by the demo prescriber: its number."""
    with app.app_context():
        with unit_of_work(actor=audit.OPERATOR) as uow:
            patient = accounts.create_account(
                uow,
                username=PATIENT[0],
                password=PATIENT[1],
                role=Role.PATIENT,
                person=PersonDetails(
                    NIR_BODY + nir.calc_check_digits(NIR_BODY), "Jean", "Renouvel", date(1962, 7, 1)
                ),
            )
        doctor = get_session().scalar(
            select(Account).where(Account.username == PRESCRIBER.username)
        )
        with unit_of_work(doctor) as uow:
            issued = issuing.issue(
                uow,
                prescription_drafts.IssueRequest(
                    patient_nir=patient.person.national_id,
                    pin=PRESCRIBER.pin,
                    items=[ItemDraft(cis=MOPRAL, dosage_text="1 gélule le matin", quantity=1)],
                    renewals=1,
                    valid_until=date.today() + timedelta(days=20),
                ),
            )
        return issued.prescription.number


def test_the_patient_asks_the_prescriber_renews_with_the_pin_the_patient_opens_the_new_one(
    browser, live_server, live_app
):
    number = long_term_treatment_running_out(live_app)
    patient = browser.new_context(base_url=live_server, locale="en-GB").new_page()
    doctor = browser.new_context(base_url=live_server, locale="en-GB").new_page()
    try:
        log_in_with_the_keyboard(patient, *PATIENT)
        expect(patient.get_by_role("heading", name="My health space")).to_be_visible()
        patient.locator(".card").get_by_role("link", name=re.compile("^Prescription")).click()
        patient.get_by_label("A message for your doctor (optional)").fill("Two weeks left")
        patient.get_by_role("button", name="Ask my doctor to renew").click()
        expect(patient.locator("#renewal-state")).to_contain_text("waiting for your doctor")
        expect(patient.get_by_role("button", name="Ask my doctor to renew")).to_have_count(0)

        log_in_with_the_keyboard(doctor, PRESCRIBER.username, PRESCRIBER.password)
        expect(doctor.get_by_role("heading", name="Prescriber")).to_be_visible()
        doctor.goto("/prescriber/prescriptions")
        requests = doctor.locator("#renewal-requests")
        expect(requests).to_contain_text("Jean Renouvel")
        expect(requests).to_contain_text("Two weeks left")
        requests.get_by_role(
            "link", name=re.compile("^Renew prescription .* Jean Renouvel")
        ).click()
        # Renew from the list opens the prefilled review at once (issue 11 item 2), as the home.
        expect(doctor.get_by_role("heading", name="Review and sign")).to_be_visible()
        expect(doctor.locator("main")).to_contain_text("1 gélule le matin")
        doctor.get_by_label("Your signing PIN").fill(PRESCRIBER.pin)
        doctor.get_by_role("button", name="Sign").click()
        expect(doctor.get_by_text("Renewed: the patient sees the new prescription")).to_be_visible()
        new_number = doctor.locator("#prescription-number").text_content().strip()
        assert new_number.replace("-", "") != number
        doctor.goto("/prescriber/prescriptions")
        expect(doctor.locator("#renewal-requests")).to_have_count(0)

        patient.reload()
        expect(patient.locator("#renewal-state")).to_contain_text("Renewed on")
        patient.get_by_role("link", name=f"new prescription {new_number}").click()
        expect(patient.locator("#prescription-number")).to_have_text(new_number)
        expect(
            patient.get_by_role("img", name=re.compile("QR code of prescription"))
        ).to_be_visible()
    finally:
        patient.context.close()
        doctor.context.close()
