"""Each role logs in with the keyboard alone, lands on its own page, and logs out."""

import pytest
from playwright.sync_api import expect

from eprescription.services.demo import DEMO_USERS

LANDING = {
    "prescriber": ("/prescriber/", "Prescriber"),
    "pharmacist": ("/pharmacy/", "Pharmacy"),
    "patient": ("/me", "My health space"),
    "admin": ("/admin/", "Administration"),
}


def log_in_with_the_keyboard(page, username: str, password: str) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda user: user.role.value)
def test_each_role_logs_in_lands_on_its_page_and_logs_out(page, live_server, user):
    path, heading = LANDING[user.role.value]

    log_in_with_the_keyboard(page, user.username, user.password)

    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert page.url == live_server + path
    if user.given_name:
        expect(page.get_by_text(f"{user.given_name} {user.family_name}")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(path)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_wrong_password_shows_a_readable_message_and_keeps_the_username(page):
    log_in_with_the_keyboard(page, "demo-prescriber", "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text("username or password")
    expect(page.get_by_label("Username")).to_have_value("demo-prescriber")


def test_a_patient_cannot_open_the_prescriber_page(page):
    patient = next(user for user in DEMO_USERS if user.role.value == "patient")
    log_in_with_the_keyboard(page, patient.username, patient.password)
    expect(page.get_by_role("heading", name="My health space")).to_be_visible()

    response = page.goto("/prescriber/")

    assert response.status == 403
    expect(page.get_by_role("heading")).to_contain_text("not allowed")
