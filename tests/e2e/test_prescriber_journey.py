"""The prescriber's journey with the keyboard alone: log in, compose, review, sign, print."""

import re

from playwright.sync_api import expect

from eprescription import qr
from eprescription.services.demo import DEMO_USERS
from tests.e2e.test_login_journeys import log_in_with_the_keyboard

PRESCRIBER = next(user for user in DEMO_USERS if user.username == "demo-prescriber")
PATIENT = next(user for user in DEMO_USERS if user.username == "demo-patient")
PATIENT_NIR = PATIENT.national_ids["FR"]
TAB_LIMIT = 60


def tab_to(page, locator) -> None:
    """Press Tab until `locator` has the focus, as a keyboard user would."""
    for _ in range(TAB_LIMIT):
        if locator.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_a_prescriber_issues_and_prints_a_prescription_with_the_keyboard_alone(page):
    log_in_with_the_keyboard(page, PRESCRIBER.username, PRESCRIBER.password)
    expect(page.get_by_role("heading", name="Prescriber")).to_be_visible()

    tab_to(page, page.get_by_role("link", name="New prescription"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New prescription")).to_be_visible()

    nir = page.get_by_label("Patient's NIR")
    expect(nir).to_be_focused()
    page.keyboard.type(PATIENT_NIR[:-2] + "00")  # a wrong key is caught as typed
    expect(page.locator("#patient_nir-status")).to_contain_text("key should be")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type(PATIENT_NIR[-2:])
    expect(page.locator("#patient_nir-status")).to_contain_text(
        f"{PATIENT.given_name} {PATIENT.family_name}"
    )

    search = page.get_by_role("combobox", name=re.compile("Medication"))
    tab_to(page, search)
    page.keyboard.type("doliprane 1000 comprime")
    listbox = page.get_by_role("listbox")
    expect(listbox.get_by_role("option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(search).to_have_attribute("aria-activedescendant", re.compile("option-0"))
    chosen = listbox.get_by_role("option").first.text_content()
    page.keyboard.press("Enter")
    expect(search).to_have_value(chosen)
    expect(page.locator("#items-0-search-status")).to_contain_text("Chosen")

    # Enter on the chosen medication went on to its dosage templates.
    expect(page.get_by_label("Dosage template")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Dosage instructions")).to_have_value(re.compile("3 fois par jour"))
    expect(page.get_by_label("Quantity (packs)")).not_to_have_value("")

    tab_to(page, page.get_by_role("button", name="Review"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Review and sign")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("DOLIPRANE"))).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text(PATIENT_NIR)
    pin = page.get_by_label("Your signing PIN")
    expect(pin).to_be_focused()
    page.keyboard.type("9999")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("2 tries left")
    expect(page.get_by_label("Your signing PIN")).to_be_focused()
    page.keyboard.type(PRESCRIBER.pin)
    page.keyboard.press("Enter")

    number = page.locator("#prescription-number")
    expect(number).to_have_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}$"))
    qr_code = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr_code).to_be_visible()
    access_code = page.locator("#access-code").text_content().strip()
    expected_text = qr.encode(number.text_content().replace("-", ""), access_code)

    tab_to(page, page.get_by_role("button", name="Print"))
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(qr_code).to_be_visible()
    assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1

    zxingcpp = __import__("pytest").importorskip("zxingcpp")
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(qr_code.screenshot()))
    decoded = zxingcpp.read_barcodes(image)
    assert [barcode.text for barcode in decoded] == [expected_text]
