"""The patient's browser witnesses the audit log: it keeps the last signed head it saw and
checks each new one with the RFC 9162 consistency proof, warning in words on a fork."""

import base64
import re

from playwright.sync_api import expect

from eprescription.services.demo import DEMO_USERS
from tests.e2e.test_login_journeys import log_in_with_the_keyboard

PATIENT = next(user for user in DEMO_USERS if user.username == "demo-patient")
STORED = "eprescription.audit-head"


def seal(live_app) -> None:
    result = live_app.test_cli_runner().invoke(args=["audit", "seal"])
    assert result.exit_code == 0, result.output


def witness_state(page) -> str:
    box = page.locator("#audit-witness")
    expect(box).to_be_visible()
    return box.get_attribute("data-state")


def test_the_access_log_page_checks_each_new_head_against_the_one_it_kept(
    page, live_server, live_app
):
    log_in_with_the_keyboard(page, PATIENT.username, PATIENT.password)
    expect(page).to_have_url(re.compile(r"/me$"))
    seal(live_app)

    page.goto("/me/access-log")
    assert witness_state(page) == "first"
    kept = page.evaluate(f"JSON.parse(localStorage.getItem('{STORED}'))")
    assert kept["tree_size"] >= 1

    page.goto("/me")  # more audited reads, then a new seal: the log grows
    seal(live_app)
    page.goto("/me/access-log")
    assert witness_state(page) == "consistent"
    grown = page.evaluate(f"JSON.parse(localStorage.getItem('{STORED}'))")
    assert grown["tree_size"] > kept["tree_size"]

    # A head this browser saw that the service's log does not extend: a rewritten history.
    forged = {**grown, "root_hash": base64.b64encode(bytes(32)).decode()}
    page.evaluate(
        "([key, head]) => localStorage.setItem(key, JSON.stringify(head))", [STORED, forged]
    )
    page.goto("/me")
    seal(live_app)
    page.goto("/me/access-log")

    assert witness_state(page) == "fork"
    expect(page.locator("#audit-witness")).to_contain_text("Warning")
