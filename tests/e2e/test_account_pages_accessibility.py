"""The administrator's pages (the list, the new account and new pharmacy forms, refused
included, the software page and its forms) and the own-account pages (password, signing PIN)
pass axe-core with no serious or critical violation, in French and in English."""

import pytest
from playwright.sync_api import expect

from eprescription.services.demo import DEMO_USERS
from tests.e2e.axe import walk_failures

LOCALES = {"fr": "fr-FR", "en": "en-US"}
USERS = {user.username: user for user in DEMO_USERS}


def log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(USERS[username].password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#username")).to_have_count(0)


def admin_pages(page):
    """Each administrator's page in turn, then the prescriber's PIN page (named as yielded)."""
    log_in(page, "demo-admin")
    for path in ("/admin/accounts", "/admin/accounts/new", "/admin/pharmacies/new"):
        page.goto(path)
        yield path
    page.goto("/admin/accounts/new")
    page.locator("#username").fill("x")
    page.locator("#password").fill("short")
    page.locator("#repeat").fill("short")
    page.locator("#national_id").fill("123")
    page.locator("#new-account-form button[type=submit]").click()
    expect(page.locator("#refusal")).to_be_visible()
    yield "/admin/accounts/new refused"
    yield from software_pages(page)
    page.goto("/account/password")
    yield "/account/password"
    page.context.clear_cookies()
    log_in(page, "demo-prescriber")
    page.goto("/account/pin")
    yield "/account/pin"
    page.locator("#pin").fill("0000")
    page.locator("#new_pin").fill("123456")
    page.locator("#repeat").fill("654321")  # refused before the key is tried: nothing counted
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#repeat-error")).to_be_visible()
    yield "/account/pin refused"


def software_pages(page):
    """The software page, its form (refused, then done: the secret shown once) and the
    confirmation of a revocation (not sent)."""
    for path in ("/admin/software", "/admin/software/new"):
        page.goto(path)
        yield path
    for field, value in (("name", "Axe"), ("vendor", "Test"), ("version", "1")):
        page.locator(f"#{field}").fill(value)
    page.locator("#new-software-form button[type=submit]").click()
    expect(page.locator("#refusal")).to_be_visible()
    yield "/admin/software/new refused"
    page.locator("#pharmacy_finess").fill("750001232")  # the demo pharmacy's
    page.locator("#scope-read").check()
    page.locator("#new-software-form button[type=submit]").click()
    expect(page.locator("#client-secret")).to_be_visible()
    yield "/admin/software/new registered"
    page.goto("/admin/software/demo-pharmacy-software/revoke")
    expect(page.locator("#confirm-form")).to_be_visible()
    yield "/admin/software/demo-pharmacy-software/revoke"


@pytest.mark.parametrize("lang", LOCALES)
def test_no_account_page_has_a_serious_accessibility_violation(browser, live_server, lang):
    context = browser.new_context(base_url=live_server, locale=LOCALES[lang])
    page = context.new_page()
    try:
        failures = walk_failures(page, admin_pages(page), lang)
        assert not failures, "\n\n".join(failures)
    finally:
        context.close()
