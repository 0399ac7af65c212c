"""Choosing a substance line in the medication search prescribes by DCI (active substance)."""

import re

from playwright.sync_api import expect

from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_prescriber_journey import PATIENT_NIR, PRESCRIBER, tab_to

# In the demo catalog, as in the BDPM: amoxicilline (FT 05248) 500 mg capsules.
AMOXICILLINE = "05248"


def test_enter_on_the_first_result_of_a_substance_prescribes_it_by_dci(page):
    log_in_with_the_keyboard(page, PRESCRIBER.username, PRESCRIBER.password)
    page.wait_for_url(re.compile("/prescriber"))
    page.goto("/prescriber/prescriptions/new")
    page.locator("#patient_nir").fill(PATIENT_NIR)

    search = page.locator(".medication-search").first
    tab_to(page, search)
    page.keyboard.type("amoxicilline 500")
    first = page.get_by_role("listbox").get_by_role("option").first
    expect(first).to_contain_text(re.compile(r"^amoxicilline 500 mg, gélule .*DCI"))
    page.keyboard.press("Enter")

    expect(search).to_have_value("amoxicilline 500 mg, gélule")
    expect(page.locator("[name=items-0-cis]")).to_have_value("")
    expect(page.locator("[name=items-0-substance_code]")).to_have_value(AMOXICILLINE)
    expect(page.locator("[name=items-0-strength]")).to_have_value("500 mg")
    expect(page.locator("[name=items-0-form]")).to_have_value("gélule")
    expect(page.locator("#items-0-search-status")).to_contain_text("DCI")

    page.locator("[name=items-0-dosage_text]").fill("1 gélule 3 fois par jour pendant 6 jours")
    tab_to(page, page.locator("#prescription-form button[type=submit]"))
    page.keyboard.press("Enter")

    line = page.locator("table.lines tbody tr").first
    expect(line).to_contain_text(re.compile(r"500 mg, gélule.*" + AMOXICILLINE))
    expect(line).not_to_contain_text("CIS")
