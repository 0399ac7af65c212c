"""The counter at the speed of the scanner, counted: from the pharmacist's home, a keyboard-wedge
scanner types the QR text then each box's GS1 DataMatrix; one action per scan, key or click."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account, Presentation, Product
from eprescription.services import issuing, prescription_drafts
from eprescription.use_cases import unit_of_work
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_pharmacist_journey import AMLODIPINE, PHARMACIST

GS = "<GS>"  # what a wedge scanner set up for French pharmacies types for the FNC1 separator
PARACETAMOL = "PARACETAMOL"


class Counter:
    """The pharmacist's hands: every scan (the scanner types a text and Enter), key and click
    is one action."""

    def __init__(self, page):
        self.page, self.actions = page, 0

    def scan(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        self.actions += 1

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.actions += 1


def priced_pack(app, cis: str | None = None, name: str | None = None) -> tuple[str, str]:
    """A priced, prescribable product's CIS and the CIP13 of one of its packs."""
    with app.app_context():
        query = (
            select(Product, Presentation.cip13)
            .join(Presentation.product)
            .where(Presentation.price_cents.is_not(None))
            .order_by(Product.cis, Presentation.cip13)
        )
        if cis:
            query = query.where(Product.cis == cis)
        if name:
            query = query.where(Product.name.like(f"{name}%"))
        for product, cip13 in get_session().execute(query):
            if product.is_prescribable:
                return product.cis, cip13
    pytest.fail("the catalog should have a priced pack")


def issue(app, products: list[str]) -> str:
    """A public prescription of one pack of each product for the demo patient: its QR text."""
    with app.app_context():
        session = get_session()
        doctor, patient = (
            session.scalar(select(Account).where(Account.username == name))
            for name in ("demo-prescriber", "demo-patient")
        )
        request = prescription_drafts.IssueRequest(
            patient_nir=patient.person.national_id,
            pin="1234",
            items=[ItemDraft(cis=cis, dosage_text="1 par jour", quantity=1) for cis in products],
            pickup_mode="public",
        )
        with unit_of_work(doctor) as uow:
            return issuing.issue(uow, request).qr_text


def datamatrix(cip13: str, batch: str, serial: str) -> str:
    """A French box's DataMatrix as the scanner types it, with a national reimbursement number
    (AI 710) as real boxes carry."""
    year = (date.today().year + 2) % 100
    return f"010{cip13}17{year:02d}0600" + f"10{batch}{GS}21{serial}{GS}710{cip13}"


def start_at_home(page) -> Counter:
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    expect(page.get_by_role("heading", name="Pharmacy")).to_be_visible()
    expect(page.get_by_label(re.compile("^QR code"))).to_be_focused()
    return Counter(page)


def test_a_one_line_prescription_is_dispensed_in_at_most_four_actions_from_home(page, live_app):
    _, cip13 = priced_pack(live_app, AMLODIPINE)
    qr_text = issue(live_app, [AMLODIPINE])
    counter = start_at_home(page)

    counter.scan(qr_text)
    pack = page.get_by_label("Pack given: CIP13, or scan the box's DataMatrix")
    expect(pack).to_be_focused()
    counter.scan(datamatrix(cip13, "LOTONE1", "SERONE1"))
    expect(page.get_by_role("button", name="Dispense and sign the receipt")).to_be_focused()
    expect(page.locator("#lines-1-read")).to_contain_text("batch LOTONE1")
    expect(page.locator("#lines-1-read")).to_contain_text(f"June 30, {date.today().year + 2}")
    counter.press("Enter")

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    expect(page.locator("#receipt-lines")).to_contain_text("LOTONE1")
    expect(page.locator("#receipt")).to_contain_text("now completed")
    assert counter.actions <= 4, counter.actions


def test_each_extra_line_costs_at_most_two_more_actions(page, live_app):
    _, first = priced_pack(live_app, AMLODIPINE)
    other, second = priced_pack(live_app, name=PARACETAMOL)
    qr_text = issue(live_app, [AMLODIPINE, other])
    counter = start_at_home(page)

    counter.scan(qr_text)
    expect(page.locator("#lines-1-pack")).to_be_focused()
    counter.scan(datamatrix(first, "LOTA1", "SERA1"))
    expect(page.locator("#lines-2-pack")).to_be_focused()  # Enter goes to the next line's pack
    counter.scan(datamatrix(second, "LOTB2", "SERB2"))
    expect(page.locator("#lines-2-read")).to_contain_text("batch LOTB2")
    expect(page.get_by_role("button", name="Dispense and sign the receipt")).to_be_focused()
    counter.press("Enter")

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    expect(page.locator("#receipt-lines")).to_contain_text("LOTA1")
    expect(page.locator("#receipt-lines")).to_contain_text("LOTB2")
    assert counter.actions <= 4 + 2, counter.actions


def test_a_pack_typed_by_hand_is_picked_among_the_prescribed_products_packs(page, live_app):
    _, cip13 = priced_pack(live_app, AMLODIPINE)
    counter = start_at_home(page)
    counter.scan(issue(live_app, [AMLODIPINE]))

    options = page.locator("#lines-1-packs option")
    expect(options.first).to_be_attached()
    assert cip13 in options.evaluate_all("options => options.map(o => o.value)")
    expect(page.locator(f"#lines-1-packs option[value='{cip13}']")).to_contain_text("AMLODIPINE")


def test_a_box_of_another_medicine_is_refused_in_the_pharmacists_words(page, live_app):
    _, other = priced_pack(live_app, name=PARACETAMOL)
    counter = start_at_home(page)
    counter.scan(issue(live_app, [AMLODIPINE]))
    expect(page.locator("#lines-1-pack")).to_be_focused()  # the scanner waits for the page

    counter.scan(datamatrix(other, "LOTX", "SERX"))
    counter.press("Enter")

    expect(page.locator("#dispense-form")).to_contain_text(
        "this code does not match a box of this medicine"
    )
    expect(page.locator("#dispense-form")).not_to_contain_text("AI ")
