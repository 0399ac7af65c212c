"""The mentions a product's conditions ask for appear on its line once it is chosen, and only
then (docs/rules.md): a narcotic shows its fractionation and "chevauchement autorisé"."""

import re

from playwright.sync_api import expect

from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_prescriber_journey import PRESCRIBER


def test_choosing_a_narcotic_shows_its_mentions_and_another_product_hides_them(page, live_app):
    log_in_with_the_keyboard(page, PRESCRIBER.username, PRESCRIBER.password)
    expect(page.get_by_role("link", name="New prescription")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New prescription")).to_be_visible()
    fractionation = page.locator("#items-0-fractionation_days")
    overlap = page.locator("#items-0-overlap_allowed")
    renewal = page.locator("#items-0-renewal_authorised")
    expect(fractionation).to_be_hidden()
    expect(overlap).to_be_hidden()

    search = page.locator("#items-0-medication_label")
    search.fill("skenan")
    expect(page.locator("#items-0-listbox [role=option]").first).to_contain_text("SKENAN")
    search.press("Enter")
    expect(page.locator("[name=items-0-cis]")).not_to_have_value("")

    expect(fractionation).to_be_visible()
    expect(overlap).to_be_visible()
    expect(renewal).to_be_hidden()  # a narcotic is never renewed
    expect(page.locator("[name=items-0-condition_kinds]")).to_have_value(
        re.compile(r"\bnarcotic\b")
    )

    search.fill("doliprane 1000 comprime")
    expect(fractionation).to_be_hidden()
    expect(page.locator("#items-0-listbox [role=option]").first).to_be_visible()
    search.press("Enter")
    expect(page.locator("[name=items-0-cis]")).not_to_have_value("")
    expect(fractionation).to_be_hidden()
    expect(overlap).to_be_hidden()
