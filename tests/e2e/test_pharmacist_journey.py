"""The pharmacist's journey: log in, scan the demo prescription with a keyboard-wedge scanner
(the QR text typed into the focused field, then Enter), dispense one pack, see the receipt."""

import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.domain import prescription_codes as codes
from eprescription.models import Prescription, Presentation
from eprescription.services import prescription_qr
from eprescription.services.demo import DEMO_LINES, DEMO_USERS
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_prescriber_journey import pdf_pages

PHARMACIST = next(user for user in DEMO_USERS if user.username == "demo-pharmacist")
PATIENT = next(user for user in DEMO_USERS if user.username == "demo-patient")
AMLODIPINE = DEMO_LINES[0][0]


def demo_prescription(app) -> tuple[str, str, str]:
    """The demo patient's amlodipine prescription: its QR text, grouped number, and a CIP13
    of the prescribed product, read from the live app's database."""
    with app.app_context():
        session = get_session()
        prescription = session.scalars(
            select(Prescription)
            .where(Prescription.status == "active")
            .where(Prescription.items.any(cis=AMLODIPINE))
            .order_by(Prescription.id)
        ).first()
        assert prescription is not None, "the demo seed should issue the amlodipine prescription"
        cip13 = session.scalars(
            select(Presentation.cip13)
            .where(Presentation.cis == AMLODIPINE)
            .where(Presentation.price_cents.is_not(None))
            .order_by(Presentation.cip13)
        ).first()
        text = prescription_qr.open_qr_text(prescription, app.config["KEY_ENCRYPTION_KEYS"])
        return text, codes.display_number(prescription.number), cip13


def test_a_pharmacist_scans_the_demo_prescription_dispenses_a_pack_and_prints_the_receipt(
    page, live_app
):
    qr_text, number, cip13 = demo_prescription(live_app)
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    expect(page.get_by_role("heading", name="Pharmacy")).to_be_visible()

    page.get_by_role("link", name="Scan a prescription").click()
    expect(page.get_by_role("heading", name="Scan a prescription")).to_be_visible()
    scan_field = page.get_by_label(re.compile("^QR code"))
    expect(scan_field).to_be_focused()

    page.keyboard.type(qr_text)  # what a keyboard-wedge 2D scanner does
    page.keyboard.press("Enter")

    expect(page.locator("#prescription-number")).to_have_text(number)
    expect(page.get_by_role("heading", name="Signature verified")).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text(
        f"{PATIENT.given_name} {PATIENT.family_name}"
    )
    line = page.locator("#line-1")
    expect(line).to_contain_text("AMLODIPINE")
    expect(line).to_contain_text("1 × 3 periods = 3")
    expect(line).to_contain_text("period 1 of 3: 1 left now")
    expect(line).to_contain_text("generic group")

    pack = page.get_by_label("Pack given: CIP13, or scan the box's DataMatrix")
    expect(pack).to_be_focused()
    page.keyboard.type(cip13)
    page.keyboard.press("Enter")  # a typed CIP13's Enter moves on to its batch, no dispensing
    expect(page.get_by_label("Batch (lot)")).to_be_focused()
    expect(page.get_by_label("Quantity (packs)")).to_have_value("1")
    page.get_by_label("Batch (lot)").fill("LOT2026A")
    page.get_by_label(re.compile("^Expiry")).fill(f"06/{date.today().year + 2}")
    expect(page.get_by_label("The patient", exact=True)).to_be_checked()
    page.get_by_role("button", name="Dispense and sign the receipt").dblclick()

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    lines = page.locator("#receipt-lines")
    expect(lines).to_contain_text("AMLODIPINE")
    expect(lines).to_contain_text(f"CIP13 {cip13}")
    expect(lines).to_contain_text("period 1 of 3")
    expect(page.locator("#total")).to_have_text(re.compile(r"^€\d+\.\d\d$"))
    expect(page.locator("#patient-share")).to_have_text(re.compile(r"^€\d+\.\d\d$"))
    expect(page.locator("#receipt-signature")).to_contain_text("signature verified")
    expect(page.locator("#receipt")).to_contain_text("now partially dispensed")

    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(lines).to_be_visible()
    assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1
    page.emulate_media(media="screen")

    # Scanned again: one pack given, the next period is open.
    page.get_by_role("link", name="Scan another prescription").click()
    expect(scan_field).to_be_focused()
    page.keyboard.type(qr_text)
    page.keyboard.press("Enter")
    expect(page.locator("#line-1")).to_contain_text("period 2 of 3: 1 left now")
    expect(page.locator("#line-1")).to_contain_text("2 of 3 (1 given)")
