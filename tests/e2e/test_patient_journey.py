"""The patient's journey on a phone (390×844): log in, open the active prescription, the QR
code is on screen and decodes to the prescription's code, and it prints on one A4 page."""

import io
import re
from datetime import date

import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from eprescription import qr
from eprescription.db import get_session
from eprescription.domain import prescription_codes as codes
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account, Prescription, Presentation, Product
from eprescription.services import issuing, prescription_drafts, prescription_qr
from eprescription.services.demo import DEMO_USERS
from eprescription.use_cases import unit_of_work
from tests.e2e import axe
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_prescriber_journey import pdf_pages

PRESCRIBER, PHARMACIST, PATIENT = (
    next(user for user in DEMO_USERS if user.username == name)
    for name in ("demo-prescriber", "demo-pharmacist", "demo-patient")
)
PHONE = {"width": 390, "height": 844}
# In the demo catalog's omeprazole generic group (CIS_GENER 14): the princeps and a generic.
MOPRAL, OMEPRAZOLE_ALMUS = "64103828", "60806188"


def demo_prescription_number(app) -> str:
    """The number of the prescription `flask demo seed` issued for the demo patient (the first)."""
    with app.app_context():
        session = get_session()
        patient = session.scalar(select(Account).where(Account.username == PATIENT.username))
        return session.scalar(
            select(Prescription.number)
            .where(Prescription.patient_person_id == patient.person_id)
            .order_by(Prescription.id)
            .limit(1)
        )


def stored_qr_text(app, number: str) -> str:
    """What the QR code must say, read from the database (the sealed access code)."""
    with app.app_context():
        prescription = get_session().scalar(
            select(Prescription).where(Prescription.number == number.replace("-", ""))
        )
        return prescription_qr.open_qr_text(prescription, app.config["KEY_ENCRYPTION_KEYS"])


def test_a_patient_opens_a_prescription_on_a_phone_and_shows_a_readable_qr_code(
    browser, live_server, live_app
):
    context = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=2)
    page = context.new_page()
    try:
        log_in_with_the_keyboard(page, PATIENT.username, PATIENT.password)
        expect(page.get_by_role("heading", name="My health space")).to_be_visible()
        # The demo prescription, by its number: other journeys add newer AMLODIPINE
        # prescriptions to the same patient (and dispense them in full).
        demo_number = codes.display_number(demo_prescription_number(live_app))
        link = page.locator(".card", has_text="AMLODIPINE").get_by_role(
            "link", name=f"Prescription {demo_number}"
        )
        expect(link).to_be_visible()
        link.click()

        qr_code = page.get_by_role("img", name=re.compile("QR code of prescription"))
        expect(qr_code).to_be_visible()
        box = qr_code.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["width"] >= 250  # large enough to scan from a phone held out
        number = page.locator("#prescription-number")
        expect(number).to_be_in_viewport()
        number_text = number.text_content().strip()

        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_code.screenshot())))
        expected = stored_qr_text(live_app, number_text)
        assert [barcode.text for barcode in decoded] == [expected]
        assert qr.decode(expected).number == number_text.replace("-", "")

        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Print")).to_be_hidden()
        expect(page.get_by_role("navigation", name="Health space")).to_be_hidden()
        expect(qr_code).to_be_visible()
        expect(page.get_by_role("cell", name=re.compile("AMLODIPINE"))).to_be_visible()
        assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1
    finally:
        context.close()


def test_the_patient_sees_who_looked_at_their_prescriptions(page):
    log_in_with_the_keyboard(page, PATIENT.username, PATIENT.password)

    page.get_by_role("link", name="Who looked").click()

    expect(page.get_by_role("heading", name="Who looked at my prescriptions")).to_be_visible()
    issued = page.locator(".log-entry", has_text="issued prescription").first
    expect(issued).to_contain_text("Dr Claire Martin, prescriber — RPPS 10001234565")
    # In words, in the display time zone (Europe/Paris): "Dec 1, 2026 8:40 AM".
    expect(issued.locator("time")).to_have_text(
        re.compile(r"^[A-Z][a-z]{2} \d{1,2}, 20\d\d \d{1,2}:\d\d\s[AP]M$")
    )


def issue_mopral(app) -> tuple[str, str, str, str]:
    """A substitutable MOPRAL prescription (one renewal) signed by the demo prescriber for the
    demo patient through the service: its QR text, grouped number, a generic's CIP13 and name."""
    with app.app_context():
        session = get_session()
        doctor, patient = (
            session.scalar(select(Account).where(Account.username == user.username))
            for user in (PRESCRIBER, PATIENT)
        )
        request = prescription_drafts.IssueRequest(
            patient_nir=patient.person.national_id,
            pin=PRESCRIBER.pin,
            items=[ItemDraft(cis=MOPRAL, dosage_text="1 gélule le matin", quantity=1)],
            renewals=1,
        )
        with unit_of_work(doctor) as uow:
            issued = issuing.issue(uow, request)
        generic = session.scalars(
            select(Presentation.cip13)
            .where(Presentation.cis == OMEPRAZOLE_ALMUS)
            .where(Presentation.price_cents.is_not(None))
            .order_by(Presentation.cip13)
        ).first()
        name = session.get(Product, OMEPRAZOLE_ALMUS).name
        return issued.qr_text, codes.display_number(issued.prescription.number), generic, name


def test_the_patient_sees_what_the_demo_pharmacist_gave_with_the_qr_still_on_screen(
    browser, live_server, live_app
):
    qr_text, number, generic_cip13, generic_name = issue_mopral(live_app)
    counter = browser.new_context(base_url=live_server)
    phone = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=2)
    try:
        pharmacy = counter.new_page()
        log_in_with_the_keyboard(pharmacy, PHARMACIST.username, PHARMACIST.password)
        pharmacy.get_by_role("link", name="Scan a prescription").click()
        expect(pharmacy.get_by_label(re.compile("^QR code"))).to_be_focused()
        pharmacy.keyboard.type(qr_text)
        pharmacy.keyboard.press("Enter")
        expect(pharmacy.locator("#prescription-number")).to_have_text(number)
        pharmacy.get_by_label("Pack given: CIP13, or scan the box's DataMatrix").fill(generic_cip13)
        pharmacy.get_by_label("Batch (lot)").fill("OME2026")
        pharmacy.get_by_label(re.compile("^Expiry")).fill(f"09/{date.today().year + 2}")
        pharmacy.get_by_role("button", name="Dispense and sign the receipt").click()
        expect(pharmacy.get_by_role("heading", name="Dispensing receipt")).to_be_visible()

        page = phone.new_page()
        log_in_with_the_keyboard(page, PATIENT.username, PATIENT.password)
        page.locator(".card", has_text="MOPRAL").get_by_role(
            "link", name=f"Prescription {number}"
        ).click()

        qr_code = page.get_by_role("img", name=re.compile("QR code of prescription"))
        expect(qr_code).to_be_visible()
        box = qr_code.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        expect(page.locator("#prescription-number")).to_be_in_viewport()
        assert page.evaluate("window.scrollY") == 0

        history = page.get_by_role("region", name="Collected at the pharmacy")
        given = history.locator("#dispensation-1")
        expect(given).to_contain_text("Pharmacie de la Gare (demo), Paris")
        expect(given).to_contain_text(generic_name)
        expect(given).to_contain_text(f"CIP13 {generic_cip13}")
        expect(given).to_contain_text("batch OME2026")
        expect(given).to_contain_text("Substituted for MOPRAL 20 mg")
        expect(given).to_contain_text("same generic group")
        expect(given.locator("dl.amounts")).to_contain_text(re.compile(r"You paid\s*€\d+\.\d\d"))
        given.scroll_into_view_if_needed()
        expect(given).to_be_in_viewport()
        found = axe.violations(page)
        assert not found, axe.report(found)
    finally:
        counter.close()
        phone.close()
