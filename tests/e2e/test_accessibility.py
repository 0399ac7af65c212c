"""Every patient page, in French and in English, passes axe-core with no serious or critical
violation; on a 390 px phone in French the header and the tabs wrap instead of scrolling
sideways; the language switch keeps the visitor on the same page."""

import re

import pytest
from playwright.sync_api import expect

from eprescription.services.demo import DEMO_USERS
from tests.e2e.axe import violations, walk_failures

PATIENT = next(user for user in DEMO_USERS if user.username == "demo-patient")
PHONE = {"width": 390, "height": 844}
LOCALES = {"fr": "fr-FR", "en": "en-US"}


def log_in(page, lang: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(PATIENT.username)
    page.locator("#password").fill(PATIENT.password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page).to_have_url(re.compile(r"/me$"))


def patient_pages(page):
    """Visit each patient page in turn (the login page first), yielding a name for each."""
    yield "login"
    log_in(page, page.evaluate("document.documentElement.lang"))
    yield "/me"
    page.locator(".card-title a").first.click()
    expect(page.locator("#prescription-number")).to_be_visible()
    yield "a prescription"
    for path in ("/me/history", "/me/access-log", "/me/representatives"):
        page.goto(path)
        yield path
    page.locator("#nir").fill("123")
    page.locator("form button.primary").click()
    expect(page.locator("#nir-error")).to_be_visible()
    yield "/me/representatives with an error"


@pytest.mark.parametrize("lang", LOCALES)
def test_no_patient_page_has_a_serious_accessibility_violation(browser, live_server, lang):
    context = browser.new_context(base_url=live_server, locale=LOCALES[lang])
    page = context.new_page()
    try:
        page.goto("/login")
        failures = walk_failures(page, patient_pages(page), lang)
        assert not failures, "\n\n".join(failures)
    finally:
        context.close()


def test_the_header_and_the_tabs_wrap_on_a_phone_in_french(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR", viewport=PHONE)
    page = context.new_page()
    try:
        page.goto("/login")
        for name in patient_pages(page):
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} scrolls sideways: {width} px"
            for part in page.locator(".site-header > *, .tabs a").all():
                box = part.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
    finally:
        context.close()


def test_the_language_switch_keeps_the_page_and_is_remembered(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto("/login")
        log_in(page, "fr")
        page.goto("/me/access-log")
        expect(page.get_by_role("heading", level=1)).to_have_text("Qui a consulté mes ordonnances")
        switch = page.get_by_role("form", name="Langue")
        expect(switch.get_by_role("button", name="Français")).to_have_attribute(
            "aria-current", "true"
        )

        switch.get_by_role("button", name="English").click()

        expect(page).to_have_url(re.compile(r"/me/access-log$"))
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Who looked at my prescriptions")
        page.goto("/me")
        expect(page.get_by_role("heading", level=1)).to_have_text("My health space")
    finally:
        context.close()


def test_the_checker_finds_a_planted_violation(page):
    page.goto("/login")
    # The faint colour is set through the CSSOM: the CSP refuses style attributes in markup.
    page.evaluate(
        """document.querySelector('main').insertAdjacentHTML('beforeend',
           '<img src="x.png"><p id="faint">faint</p><input type="text">');
           document.getElementById('faint').style.color = '#bbb';"""
    )

    found = {rule["id"] for rule in violations(page)}

    assert found >= {"image-alt", "color-contrast", "label"}, found
