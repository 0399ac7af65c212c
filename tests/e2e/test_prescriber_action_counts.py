"""The prescriber is faster than paper: a two-line prescription in at most 25 keyboard actions
and a renewal in at most 5, counted from the prescriber's home on the real pages.

Counting rule: every key pressed is one action (Tab, Enter, an arrow, Ctrl+Enter as one
chord); typing a value into a field (a name, a search, the PIN) is one action, as a person
types a word without looking away. Logging in is not counted: the journey starts on the home
page the prescriber lands on. Nothing is clicked and no field is filled by the test itself.
"""

import re
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select
from stdnum.fr import nir

from eprescription.db import get_session
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account, Product, Role
from eprescription.services import accounts, audit, issuing, prescription_drafts, renewal_requests
from eprescription.services.accounts import PersonDetails
from eprescription.use_cases import unit_of_work
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_patient_journey import MOPRAL
from tests.e2e.test_prescriber_journey import PRESCRIBER, pdf_pages

PRESCRIPTION_LIMIT = 25
RENEWAL_LIMIT = 5
# Two patients of the demo prescriber's own (the other journeys use the demo patient).
NEW_PATIENT = ("count-patient", "count-patient-2026", "2851299350412", "Alice", "Compteur")
RENEWING_PATIENT = ("renew-count", "renew-count-2026", "1701299350413", "Paul", "Renouveau")
# window.print() would open the browser's dialog: the page's call is recorded instead.
RECORD_PRINT = "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"


class Keyboard:
    """The page's keyboard, counting actions by the rule above."""

    def __init__(self, page):
        self.page, self.actions = page, []

    def press(self, key: str) -> None:
        self.actions.append(key)
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.actions.append(f"type {text!r}")
        self.page.keyboard.type(text)


def patient_of_the_demo_prescriber(app, details, items, **request) -> str:
    """A patient account, and a prescription for them signed by the demo prescriber: its
    number (so that the patient is one of the prescriber's, found by name)."""
    username, password, body, given, family = details
    with app.app_context():
        with unit_of_work(actor=audit.OPERATOR) as uow:
            patient = accounts.create_account(
                uow,
                username=username,
                password=password,
                role=Role.PATIENT,
                person=PersonDetails(
                    body + nir.calc_check_digits(body),
                    given,
                    family,
                    date(1900 + int(body[1:3]), 12, 1),
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
                    items=items,
                    **request,
                ),
            )
        return issued.prescription.number


def doliprane(app) -> str:
    with app.app_context():
        products = (
            get_session()
            .scalars(
                select(Product)
                .where(Product.name.like("DOLIPRANE 1000 mg, comprimé%"))
                .order_by(Product.cis)
            )
            .all()
        )
        return next(product.cis for product in products if product.is_prescribable)


def test_a_two_line_prescription_takes_at_most_25_keyboard_actions(page, live_app):
    patient_of_the_demo_prescriber(
        live_app, NEW_PATIENT, [ItemDraft(cis=MOPRAL, dosage_text="1 gélule le matin", quantity=1)]
    )
    page.add_init_script(RECORD_PRINT)
    log_in_with_the_keyboard(page, PRESCRIBER.username, PRESCRIBER.password)
    expect(page.get_by_role("heading", name="Prescriber")).to_be_visible()
    expect(page.get_by_role("link", name="New prescription")).to_be_focused()
    keys = Keyboard(page)

    keys.press("Enter")
    expect(page.get_by_role("heading", name="New prescription")).to_be_visible()
    keys.type("Compteur")  # the patient by name, among the prescriber's patients
    expect(page.locator("#patient-listbox [role=option]").first).to_contain_text("Alice Compteur")
    keys.press("Enter")
    expect(page.locator("#patient_nir-status")).to_contain_text("Alice Compteur")
    first = page.locator("#items-0-medication_label")
    expect(first).to_be_focused()

    keys.type("amoxicilline 500")  # line 1 by substance (DCI)
    expect(page.locator("#items-0-listbox [role=option]").first).to_contain_text("DCI")
    keys.press("Enter")
    expect(page.locator("[name=items-0-substance_code]")).not_to_have_value("")
    expect(page.locator("#items-0-template")).to_be_focused()
    keys.press("ArrowDown")  # a dosage template
    expect(page.locator("#items-0-dosage_text")).not_to_have_value("")
    keys.press("Enter")  # the next line
    second = page.locator("[data-line]").nth(1).locator(".medication-search")
    expect(second).to_be_focused()

    keys.type("doliprane 1000 comprime")  # line 2 by brand
    expect(page.get_by_role("listbox").get_by_role("option").first).to_be_visible()
    keys.press("Enter")
    line = page.locator("[data-line]").nth(1)
    expect(line.locator(".medication-cis")).not_to_have_value("")
    expect(line.locator(".dosage-template")).to_be_focused()
    keys.press("ArrowDown")
    expect(line.locator(".dosage-text")).to_have_value(re.compile("3 fois par jour"))
    expect(line.locator(".quantity")).to_have_value(re.compile(r"^[1-9]\d*$"))  # from the packs

    keys.press("Control+Enter")  # the review
    expect(page.get_by_role("heading", name="Review and sign")).to_be_visible()
    rows = page.locator("table.lines tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("05248")
    expect(rows.nth(1)).to_contain_text("DOLIPRANE")
    expect(page.locator("dl.summary")).to_contain_text("Alice Compteur")
    expect(page.get_by_label("Your signing PIN")).to_be_focused()
    keys.type(PRESCRIBER.pin)
    keys.press("Enter")
    expect(page.locator("#prescription-number")).to_have_text(re.compile(r"^[0-9A-Z-]{13}$"))
    expect(page.get_by_role("button", name="Print")).to_be_focused()
    keys.press("Enter")  # the printed copy

    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1
    assert len(keys.actions) <= PRESCRIPTION_LIMIT, keys.actions
    print(f"two-line prescription: {len(keys.actions)} actions: {keys.actions}")


def test_a_renewal_asked_for_takes_at_most_5_keyboard_actions(page, live_app):
    number = patient_of_the_demo_prescriber(
        live_app,
        RENEWING_PATIENT,
        [ItemDraft(cis=doliprane(live_app), dosage_text="1 comprimé si douleur", quantity=1)],
        renewals=1,
        valid_until=date.today() + timedelta(days=20),
    )
    with live_app.app_context():
        patient = get_session().scalar(
            select(Account).where(Account.username == RENEWING_PATIENT[0])
        )
        with unit_of_work(patient) as uow:
            renewal_requests.request_renewal(uow, number, message="Presque fini")
    log_in_with_the_keyboard(page, PRESCRIBER.username, PRESCRIBER.password)
    expect(page.get_by_role("heading", name="Prescriber")).to_be_visible()
    requests = page.locator("#renewal-requests")
    expect(requests).to_contain_text("Paul Renouveau")
    keys = Keyboard(page)

    renew = requests.get_by_role("link", name=re.compile("^Renew prescription .* Paul Renouveau"))
    while not renew.evaluate("element => element === document.activeElement"):
        keys.press("Tab")
        assert len(keys.actions) < RENEWAL_LIMIT, keys.actions
    keys.press("Enter")  # the prefilled review, at once
    expect(page.get_by_role("heading", name="Review and sign")).to_be_visible()
    expect(page.get_by_role("heading", name="Answering a renewal request")).to_be_visible()
    expect(page.locator("table.lines")).to_contain_text("DOLIPRANE")
    expect(page.get_by_label("Your signing PIN")).to_be_focused()
    keys.type(PRESCRIBER.pin)
    keys.press("Enter")

    expect(page.get_by_text("Renewed: the patient sees the new prescription")).to_be_visible()
    new_number = page.locator("#prescription-number").text_content().strip()
    assert new_number.replace("-", "") != number
    assert len(keys.actions) <= RENEWAL_LIMIT, keys.actions
    print(f"renewal: {len(keys.actions)} actions: {keys.actions}")
