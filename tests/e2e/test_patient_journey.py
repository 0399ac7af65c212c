"""The patient's journey on a phone (390×844): log in, open the active prescription, the QR
code is on screen and decodes to the prescription's code, and it prints on one A4 page."""

import io
import re

import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from eprescription import qr
from eprescription.db import get_session
from eprescription.models import Prescription
from eprescription.services import prescriptions
from eprescription.services.demo import DEMO_USERS
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_prescriber_journey import pdf_pages

PATIENT = next(user for user in DEMO_USERS if user.username == "demo-patient")
PHONE = {"width": 390, "height": 844}


def stored_qr_text(app, number: str) -> str:
    """What the QR code must say, read from the database (the sealed access code)."""
    with app.app_context():
        prescription = get_session().scalar(
            select(Prescription).where(Prescription.number == number.replace("-", ""))
        )
        return prescriptions.open_qr_text(prescription, app.config["KEY_ENCRYPTION_KEY"])


def test_a_patient_opens_a_prescription_on_a_phone_and_shows_a_readable_qr_code(
    browser, live_server, live_app
):
    context = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=2)
    page = context.new_page()
    try:
        log_in_with_the_keyboard(page, PATIENT.username, PATIENT.password)
        expect(page.get_by_role("heading", name="My health space")).to_be_visible()
        # The demo prescription (other journeys may add newer ones to the same patient).
        link = page.locator(".card", has_text="AMLODIPINE").get_by_role(
            "link", name=re.compile(r"^Prescription [0-9A-Z]{4}-")
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
    expect(issued.locator("time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
